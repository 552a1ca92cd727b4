"""Paging activity: /proc/vmstat counters turned into rates between two samples.

A rate needs two samples. The daemon keeps the previous one in ``ctx.carry``; a
one-shot run started by a timer has no memory, so the previous sample also lives
in the state dir (``vmstat-sample.json``, replaced atomically every cycle). The
same file carries what the "sustained over 2 samples" rules need from the cycle
before: its swap I/O rate and its PSI figures, and the major-fault counters of the
processes that were swap-culprit candidates then.
"""

from __future__ import annotations

from argus.collect.procfs import read_file
from argus.logs import get_logger
from argus.model_diagnostics import PagingInfo
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

log = get_logger(__name__)

SAMPLE_FILE = "vmstat-sample.json"
SAMPLE_VERSION = 1
MiB = 1024 * 1024
# proc(5) /proc/vmstat names: pages swapped in and out, and major faults, since boot.
FIELDS = (b"pswpin", b"pswpout", b"pgmajfault")



def read_vmstat(proc_root: str) -> dict[str, int]:
    """``pswpin``, ``pswpout`` (pages) and ``pgmajfault`` (faults) since boot.

    proc(5): one ``name value`` pair per line. A kernel built without swap
    (CONFIG_SWAP off) has no pswp* lines; those read as 0, like a host that never
    swapped. Raises OSError when the file itself is missing.
    """
    out = {"pswpin": 0, "pswpout": 0, "pgmajfault": 0}
    for line in read_file(f"{proc_root}/vmstat").splitlines():
        name, _, value = line.partition(b" ")
        if name in FIELDS:
            try:
                out[name.decode()] = int(value)
            except ValueError:
                continue
    return out


def read_swappiness(proc_root: str) -> int | None:
    """/proc/sys/vm/swappiness (0-200 since Linux 5.8, 0-100 before); None if unreadable."""
    try:
        return int(read_file(f"{proc_root}/sys/vm/swappiness").strip())
    except (OSError, ValueError):
        return None


def read_boot_id(proc_root: str) -> str | None:
    """proc(5) /proc/sys/kernel/random/boot_id: counters restart with every boot."""
    try:
        return read_file(f"{proc_root}/sys/kernel/random/boot_id").decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def load_sample(path: str, carry: dict[str, Any]) -> dict[str, Any] | None:
    """The previous sample: the daemon's in-memory one, else the state file's."""
    sample = carry.get("vmstat_sample")
    if isinstance(sample, dict):
        return sample
    from argus.record.state import read_json

    data, problem = read_json(path, {})
    if problem:
        log.warning("%s", problem)
    return data if data.get("v") == SAMPLE_VERSION else None


def save_sample(path: str, sample: dict[str, Any], carry: dict[str, Any]) -> None:
    """Keep ``sample`` for the next cycle: in ``carry`` and, atomically, on disk.

    No fsync: losing the file in a power cut costs one cycle's rates, and this is
    written every cycle. An unwritable state dir is logged, not raised: the rates are
    a nicety, the cycle must go on.
    """
    carry["vmstat_sample"] = sample
    if carry.get("daemon"):
        return  # the daemon keeps it in memory; only one-shot runs need the file
    from argus.record.state import write_json

    try:
        write_json(path, sample, durable=False)
    except OSError as err:
        log.error("cannot write %s: %s", path, err.strerror or err)


def usable_previous(previous: dict[str, Any] | None, counters: dict[str, int],
                    boot_id: str | None, now: float, max_age_s: float) -> bool:
    """Whether ``previous`` can serve as the start of a rate ending ``now``.

    Not when it is from another boot (counters restarted), from the future (clock
    stepped back), too old to call the two samples consecutive, or when a counter
    went down (a reboot on a kernel without boot_id).
    """
    if not previous:
        return False
    try:
        t = float(previous["t"])
        older = [int(previous[k]) for k in ("pswpin", "pswpout", "pgmajfault")]
    except (KeyError, TypeError, ValueError):
        return False
    if previous.get("boot_id") and boot_id and previous["boot_id"] != boot_id:
        return False
    if not 0 < now - t <= max_age_s:
        return False
    newer = [counters["pswpin"], counters["pswpout"], counters["pgmajfault"]]
    return all(n >= o for n, o in zip(newer, older, strict=True))


def advance(counters: dict[str, int], previous: dict[str, Any] | None,
            pressure: dict[str, dict[str, float]] | None, *, now: float,
            boot_id: str | None, swappiness: int | None, max_age_s: float,
            page_size: int) -> tuple[PagingInfo, dict[str, Any]]:
    """This sample's PagingInfo (rates since ``previous``) and the sample to keep.

    MiB/s = pages/s x ``page_size`` / 2**20 (proc(5): pswpin/pswpout count pages).
    """
    rates: tuple[float | None, float | None, float | None] = (None, None, None)
    interval: float | None = None
    prev_view: dict[str, Any] | None = None
    if previous is not None and usable_previous(previous, counters, boot_id, now, max_age_s):
        interval = now - float(previous["t"])
        rates = (
            (counters["pswpin"] - int(previous["pswpin"])) * page_size / MiB / interval,
            (counters["pswpout"] - int(previous["pswpout"])) * page_size / MiB / interval,
            (counters["pgmajfault"] - int(previous["pgmajfault"])) / interval,
        )
        prev_view = {"swap_io_mb_s": previous.get("swap_io_mb_s"),
                     "pressure": previous.get("pressure"), "age_s": interval}
    swap_in, swap_out, majf = rates
    info = PagingInfo(
        pswpin=counters["pswpin"], pswpout=counters["pswpout"],
        pgmajfault=counters["pgmajfault"], interval_s=interval,
        swap_in_mb_s=swap_in, swap_out_mb_s=swap_out, majfault_per_s=majf,
        swappiness=swappiness, previous=prev_view,
    )
    sample: dict[str, Any] = {
        "v": SAMPLE_VERSION, "t": now, "boot_id": boot_id, **counters,
        "swap_io_mb_s": None if swap_in is None or swap_out is None else swap_in + swap_out,
        # Only the averages: the "sustained" rules compare avg60 of two samples.
        "pressure": {res: {k: v for k, v in vals.items() if "_avg" in k}
                     for res, vals in (pressure or {}).items()} if pressure else None,
        "majflt": {},  # filled by the culprit search: {pid: [start_ticks, majflt]}
    }
    return info, sample


def swap_io_mb_s(paging: PagingInfo | None) -> float | None:
    """Swap-in + swap-out in MiB/s over the last interval, None without a rate."""
    if paging is None or paging.swap_in_mb_s is None or paging.swap_out_mb_s is None:
        return None
    return paging.swap_in_mb_s + paging.swap_out_mb_s
