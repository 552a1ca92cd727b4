"""The records of the memory diagnostics (issue 6): paging rates, hogs, units.

Kept beside ``model.py`` rather than in it so the core records stay short; the
Snapshot carries them in two optional fields (``paging`` and ``diagnostics``).
NamedTuples from ``argus.typing_lite``, like every record on a quiet cycle's path.
Units are in the field names: ``_bytes``, ``_s`` (seconds), ``_pct`` (0-100),
``_mb_s`` (MiB per second), ``_per_s`` (events per second).
"""

from __future__ import annotations

from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Any


class PagingInfo(NamedTuple):
    """Swap and major-fault activity from /proc/vmstat, as rates between two samples.

    proc(5) /proc/vmstat: ``pswpin``/``pswpout`` count pages swapped in/out since
    boot, ``pgmajfault`` the major faults (a page had to be read from disk or swap).
    The rates are over ``interval_s`` since the previous sample (kept in the state
    dir, so a one-shot run from a timer has one too); all None on the first sample
    or when the previous one is stale (older than a few intervals, another boot).
    """

    pswpin: int  # pages since boot
    pswpout: int  # pages since boot
    pgmajfault: int  # faults since boot
    interval_s: float | None
    swap_in_mb_s: float | None
    swap_out_mb_s: float | None
    majfault_per_s: float | None
    swappiness: int | None  # /proc/sys/vm/swappiness, 0-200
    # The previous sample's figures, for the rules that want a condition "sustained
    # over 2 samples": {"swap_io_mb_s": float | None, "pressure": {...} | None}.
    previous: dict[str, Any] | None = None


class HogInfo(NamedTuple):
    """One big memory consumer (a hog) or swap culprit, in DESIGN.md's ``hogs`` shape.

    ``to_details()`` gives the dict that goes into a problem's details; the first
    seven keys are the design's ``{pid, name, rss_bytes, mem_pct, runtime_s, user,
    unit}``, the rest are None when not read (only the top hog gets smaps_rollup).
    """

    pid: int
    name: str  # the kernel's comm, at most 15 characters
    rss_bytes: int
    mem_pct: float  # of host RAM (MemTotal), as ps %MEM
    runtime_s: float  # since the process started
    user: str
    unit: str | None  # systemd unit, or "container:<id>" for a container's cgroup
    limit_pct: float | None = None  # of the cgroup limit, when memory is judged by one
    start_ticks: int = 0  # proc(5) stat field 22: pid + this survive pid reuse
    cmdline: str = ""
    swap_bytes: int | None = None  # VmSwap from /proc/PID/status
    pss_bytes: int | None = None  # Pss from /proc/PID/smaps_rollup (top hog only)
    majflt_per_s: float | None = None  # major faults per second
    majflt_basis: str | None = None  # "interval" (since the last sample) or "lifetime"

    def to_details(self) -> dict[str, Any]:
        return {
            "pid": self.pid, "name": self.name, "rss_bytes": self.rss_bytes,
            "mem_pct": round(self.mem_pct, 1), "runtime_s": round(self.runtime_s),
            "user": self.user, "unit": self.unit,
            "limit_pct": None if self.limit_pct is None else round(self.limit_pct, 1),
            "swap_bytes": self.swap_bytes, "pss_bytes": self.pss_bytes,
            "majflt_per_s": (None if self.majflt_per_s is None
                             else round(self.majflt_per_s, 1)),
            "cmdline": self.cmdline, "start_ticks": self.start_ticks,
        }


class UnitMemory(NamedTuple):
    """The memory a systemd unit (or container cgroup) holds, all its processes together."""

    unit: str
    cgroup: str  # the cgroup path, relative to the hierarchy's mount
    memory_bytes: int  # memory.current (v2) or memory.usage_in_bytes (v1)
    processes: int | None  # pids in the cgroup and its descendants; None: not counted
    mem_pct: float  # of host RAM


class MemoryDiagnostics(NamedTuple):
    """Who holds the memory, read only when memory or swap is in trouble.

    ``hogs``: the top consumers, biggest RSS first, ranked within the limiting cgroup
    when memory is judged against one (``basis == "cgroup"``). ``units``: units by
    the memory their cgroup holds (empty when the walk was not needed). ``culprits``:
    when swap is busy, the processes with the most swap and the fastest major faults,
    likeliest root cause first.
    """

    basis: str  # "host" or "cgroup", as MemoryInfo.basis
    hogs: tuple[HogInfo, ...] = ()
    units: tuple[UnitMemory, ...] = ()
    culprits: tuple[HogInfo, ...] = ()
    cgroup: str | None = None  # the limiting cgroup's path when basis is "cgroup"
    notes: tuple[str, ...] = ()  # what could not be read, for the record
    # True: ``units`` ranks every unit (memory was in trouble); False: only the units
    # of the top processes and the watched services, read cheaply for the history.
    ranked_units: bool = False
    # The signals over their thresholds in this sample alone ("swap_io",
    # "psi_memory_full", "psi_cpu", "psi_io"): the rules that want them sustained
    # over 2 samples are only loaded when one is (detect/swap.py, detect/pressure.py).
    signals: tuple[str, ...] = ()
