"""Second collection phase: paging rates, units' memory, and who holds the memory.

It runs after the first-phase collectors, because what it reads depends on what
they found, and it reads per-process files only for a handful of candidates:

- every cycle: /proc/vmstat (one read) turned into rates against the previous
  sample (see vmstat.py), and the memory of the units the top processes and the
  watched units belong to (two small reads each), for the metrics history;
- memory at or above ``memory_warn``: the top 3 hogs, ranked inside the limiting
  cgroup when memory is judged against one, PSS and swap of the top one from
  /proc/PID/smaps_rollup, and every unit ranked by the memory its cgroup holds;
- swap busy now (swap I/O above ``swap_io_thrash_mb_s`` or PSI memory full avg60
  above ``psi_memory_full_warn``): one pass over /proc/PID/status for VmSwap, then
  major-fault rates for the few candidates, to name the likely culprit.
"""

from __future__ import annotations

import os

from argus.collect import system, units_memory, vmstat
from argus.collect.processes import read_process, read_stat
from argus.collect.procfs import read_file
from argus.model_diagnostics import HogInfo, MemoryDiagnostics, PagingInfo, UnitMemory
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from argus.config import Thresholds
    from argus.context import Context
    from argus.model import MemoryInfo, ProcessInfo, ProcessSummary, ServiceInfo

TOP_HOGS = 3
MIN_HOG_PCT = 1.0  # % of RAM (or of the cgroup limit) a hog past the first must hold
TOP_CULPRITS = 3
SWAP_CANDIDATES = 5  # from the VmSwap pass, beside the top processes by RSS and CPU
# A culprit holds at least this share of the candidates' swap plus their fault rate
# (the score runs 0-2): bystanders with a few MB in swap are not named.
MIN_CULPRIT_SHARE = 0.05
MAX_SWEEP = 20_000  # /proc/PID/status files read at most in one VmSwap pass
_GONE = (FileNotFoundError, ProcessLookupError, PermissionError)



def kib_field(data: bytes, name: bytes) -> int | None:
    """A ``Name:   1234 kB`` line of proc(5) status or smaps_rollup, in bytes (kB = KiB)."""
    prefix = name + b":"
    for line in data.splitlines():
        if line.startswith(prefix):
            try:
                return int(line.split()[1]) * 1024
            except (IndexError, ValueError):
                return None
    return None


def majflt(proc_root: str, pid: int) -> tuple[int, int] | None:
    """(start time in clock ticks, major faults) from /proc/PID/stat; None if gone.

    proc(5): field 12 is majflt ("major faults the process has made which have
    required loading a memory page from disk"), field 22 starttime; comm (field 2)
    may hold spaces and ')', so fields are counted after the last ')'.
    """
    try:
        data = read_file(f"{proc_root}/{pid}/stat")
        f = data[data.rindex(b")") + 2:].split()
        return int(f[19]), int(f[9])
    except (*_GONE, ValueError, IndexError):
        return None


def signals(paging: PagingInfo | None, pressure: dict[str, dict[str, float]] | None,
            t: Thresholds) -> tuple[str, ...]:
    """The paging and PSI signals over their thresholds in this sample alone."""
    io = vmstat.swap_io_mb_s(paging)
    psi = pressure or {}
    checks = (
        ("swap_io", io, t.swap_io_thrash_mb_s),
        ("psi_memory_full", psi.get("memory", {}).get("full_avg60"), t.psi_memory_full_warn),
        ("psi_cpu", psi.get("cpu", {}).get("some_avg60"), t.psi_cpu_warn),
        ("psi_io", psi.get("io", {}).get("some_avg60"), t.psi_io_warn),
    )
    return tuple(name for name, value, limit in checks if value is not None and value > limit)


def may_dig(memory: MemoryInfo | None, pressure: dict[str, dict[str, float]] | None,
            t: Thresholds) -> bool:
    """Whether this cycle may read per-process files (and so deserves a thread).

    On a thrashing host a read of smaps_rollup or cmdline waits for the target's
    mmap lock, which can take long; the quiet path only reads in-kernel counters,
    which never wait, and runs inline (a thread costs more than those reads).
    """
    if memory is None or memory.pct >= t.memory_warn or memory.swap_total_bytes > 0:
        return True
    full = (pressure or {}).get("memory", {}).get("full_avg60")
    return full is not None and full > t.psi_memory_full_warn


def collect_diagnostics(
    ctx: Context, memory: MemoryInfo | None, pressure: dict[str, dict[str, float]] | None,
    procs: ProcessSummary | None, services: tuple[ServiceInfo, ...], now: float,
) -> tuple[PagingInfo | None, MemoryDiagnostics]:
    """This cycle's PagingInfo (None when /proc/vmstat is unreadable) and diagnostics."""
    t = ctx.config.thresholds
    proc_root = ctx.proc_root
    notes: list[str] = []
    path = os.path.join(ctx.paths.state_dir, vmstat.SAMPLE_FILE)
    previous = vmstat.load_sample(path, ctx.carry)
    paging: PagingInfo | None = None
    sample: dict[str, Any] | None = None
    try:
        counters = vmstat.read_vmstat(proc_root)
    except OSError as err:
        notes.append(f"{proc_root}/vmstat unreadable: {err.strerror or err}")
    else:
        paging, sample = vmstat.advance(
            counters, previous, pressure, now=now, boot_id=vmstat.read_boot_id(proc_root),
            swappiness=vmstat.read_swappiness(proc_root),
            max_age_s=3 * ctx.config.interval + 60, page_size=os.sysconf("SC_PAGE_SIZE"))

    mem_total = memory.total_bytes if memory is not None else 0
    basis = memory.basis if memory is not None else "host"
    cg = system.memory_cgroup(proc_root, ctx.sys_root)
    high = memory is not None and memory.pct >= t.memory_warn
    hogs: tuple[HogInfo, ...] = ()
    # (directory, limit bytes) of the cgroup memory is judged against, if any.
    limiting: tuple[str, int] | None = None
    if memory is not None and memory.basis == "cgroup" and high:
        found = system.limiting_cgroup(proc_root, ctx.sys_root, memory.total_bytes)
        limiting = None if found is None else (found[1], found[2])
    if high and memory is not None and procs is not None:
        hogs = find_hogs(ctx, memory, procs, now, cg, limiting, notes)
    units: tuple[UnitMemory, ...] = ()
    if cg is not None:
        version, base, _ = cg
        if high:
            # Inside a limit, the units that count are those under it.
            start = limiting[0] if limiting is not None else base
            units = units_memory.rank_units(version, base, mem_total, start=start)
        else:
            # One process per unit is enough to find the unit's cgroup, and the scan
            # already named each top process's unit.
            by_unit = {p.unit: p.pid for p in (procs.top_rss if procs else ()) if p.unit}
            pids = [*by_unit.values(), *(s.main_pid for s in services if s.main_pid > 0)]
            units = units_memory.units_of_pids(proc_root, version, base, pids, mem_total)
    culprits: tuple[HogInfo, ...] = ()
    over = signals(paging, pressure, t)
    if sample is not None and paging is not None and (
            "swap_io" in over or "psi_memory_full" in over):
        prev = (previous or {}).get("majflt") if paging.interval_s else None
        culprits, sample["majflt"] = find_culprits(
            proc_root, procs, prev if isinstance(prev, dict) else {}, paging.interval_s,
            now, cg)
    if sample is not None:
        vmstat.save_sample(path, sample, ctx.carry)
    rel = None
    if limiting is not None and cg is not None:
        rp = os.path.relpath(limiting[0], cg[1])
        rel = "/" if rp == "." else "/" + rp
    return paging, MemoryDiagnostics(basis=basis, hogs=hogs, units=units, culprits=culprits,
                                     cgroup=rel, notes=tuple(notes),
                                     ranked_units=high, signals=over)


def find_hogs(ctx: Context, memory: MemoryInfo, procs: ProcessSummary, now: float,
              cg: tuple[int, str, str] | None, limiting: tuple[str, int] | None,
              notes: list[str]) -> tuple[HogInfo, ...]:
    """The top hogs by RSS, ranked inside ``limiting`` (directory, limit) when given.

    Host basis: the top of the scan's RSS list. Cgroup basis: the processes of the
    limiting cgroup and its descendants (``cgroup.procs``), unless that cgroup is the
    root of what this /proc and cgroup mount show (a container with its own
    namespaces), where the scan's list is already the right one.
    """
    infos: list[ProcessInfo] = list(procs.top_rss[:TOP_HOGS])
    limit = limiting[1] if limiting is not None else None
    if (limiting is not None and cg is not None
            and os.path.realpath(limiting[0]) != os.path.realpath(cg[1])):
        infos = _top_in_cgroup(ctx.proc_root, limiting[0], now)
    # Past the first, a hog holds a real share (a 5 MB shell is not news).
    base = limit or memory.total_bytes
    infos = [i for n, i in enumerate(infos)
             if n == 0 or not base or i.rss_bytes / base * 100 >= MIN_HOG_PCT]
    return tuple(_hog(ctx.proc_root, info, limit, cg, smaps=n == 0, notes=notes)
                 for n, info in enumerate(infos))


def _top_in_cgroup(proc_root: str, cgroup_dir: str, now: float) -> list[ProcessInfo]:
    ranked = []
    for pid in set(units_memory.pids_in(cgroup_dir)):
        st = read_stat(proc_root, pid)
        if st is not None and st.rss_pages > 0:
            ranked.append((st.rss_pages, pid))
    out = []
    for _, pid in sorted(ranked, reverse=True)[:TOP_HOGS]:  # as heapq.nlargest
        info = read_process(proc_root, pid, now=now)
        if info is not None:
            out.append(info)
    return out


def _label(proc_root: str, info: ProcessInfo, cg: tuple[int, str, str] | None) -> str | None:
    """The process's systemd unit, else the container its memory cgroup names."""
    if info.unit or cg is None:
        return info.unit
    path = units_memory.process_cgroup(proc_root, info.pid, cg[0])
    return units_memory.cgroup_label(path) if path else None


def _hog(proc_root: str, info: ProcessInfo, limit: int | None,
         cg: tuple[int, str, str] | None, *, smaps: bool, notes: list[str]) -> HogInfo:
    swap: int | None = None
    pss: int | None = None
    # A process that exited since the scan keeps the scan's figures.
    try:
        swap = kib_field(read_file(f"{proc_root}/{info.pid}/status"), b"VmSwap")
    except _GONE:
        pass
    if smaps:
        # proc(5) smaps_rollup (Linux 4.14+): the sums of /proc/PID/smaps. Pss shares
        # each shared page among its users; Swap counts shmem too, which VmSwap leaves
        # out. Reading it needs ptrace-read access (PTRACE_MODE_READ_FSCREDS).
        try:
            rollup = read_file(f"{proc_root}/{info.pid}/smaps_rollup")
            pss = kib_field(rollup, b"Pss")
            swap = kib_field(rollup, b"Swap") or swap
        except OSError as err:
            notes.append(f"smaps_rollup of pid {info.pid} unreadable: {err.strerror or err}")
    return HogInfo(
        pid=info.pid, name=info.name, rss_bytes=info.rss_bytes, mem_pct=info.mem_pct,
        runtime_s=info.age_s, user=info.user, unit=_label(proc_root, info, cg),
        limit_pct=info.rss_bytes / limit * 100 if limit else None,
        start_ticks=info.start_ticks, cmdline=info.cmdline, swap_bytes=swap, pss_bytes=pss)


def _swap_sweep(proc_root: str) -> list[int]:
    """The pids with the most swap (VmSwap), biggest first: one status read each.

    Kernel threads have no VmSwap line and drop out by themselves.
    """
    found: list[tuple[int, int]] = []
    for n, entry in enumerate(os.scandir(proc_root)):
        if n > MAX_SWEEP:
            break
        if not entry.name.isdigit():
            continue
        try:
            swap = kib_field(read_file(f"{proc_root}/{entry.name}/status"), b"VmSwap")
        except OSError:
            continue
        if swap:
            found.append((swap, int(entry.name)))
    return [pid for _, pid in sorted(found, reverse=True)[:SWAP_CANDIDATES]]


def find_culprits(proc_root: str, procs: ProcessSummary | None,
                  previous: dict[str, Any], interval_s: float | None, now: float,
                  cg: tuple[int, str, str] | None,
                  ) -> tuple[tuple[HogInfo, ...], dict[str, list[int]]]:
    """Likely causes of swap activity, and the major-fault counters to keep.

    Candidates: the processes with the most swap, the top by RSS and by CPU. Each
    gets its major-fault rate over the interval when it was a candidate last time
    too (same start time), else over its lifetime (``majflt_basis`` says which).
    Ranked by its share of the candidates' swap plus its share of their fault rate:
    the process that both sits in swap and keeps faulting pages back in comes first.
    """
    pids = _swap_sweep(proc_root)
    if procs is not None:
        pids += [p.pid for p in (*procs.top_rss[:5], *procs.top_cpu[:3])]
    counters: dict[str, list[int]] = {}
    rows: list[tuple[HogInfo, int, float]] = []
    for pid in dict.fromkeys(pids):
        fault = majflt(proc_root, pid)
        info = read_process(proc_root, pid, now=now) if fault is not None else None
        if fault is None or info is None:
            continue
        start, count = fault
        counters[str(pid)] = [start, count]
        before = previous.get(str(pid))
        if interval_s and isinstance(before, list) and len(before) == 2 and before[0] == start:
            rate, basis = max(0, count - int(before[1])) / interval_s, "interval"
        else:
            rate, basis = (count / info.age_s if info.age_s > 0 else 0.0), "lifetime"
        hog = _hog(proc_root, info, None, cg, smaps=False, notes=[])
        rows.append((hog._replace(majflt_per_s=rate, majflt_basis=basis),
                     hog.swap_bytes or 0, rate))
    total_swap = sum(r[1] for r in rows) or 1
    total_rate = sum(r[2] for r in rows) or 1.0
    scored = sorted(((r[1] / total_swap + r[2] / total_rate, r[0]) for r in rows),
                    key=lambda sr: sr[0], reverse=True)
    culprits = tuple(hog for score, hog in scored if score >= MIN_CULPRIT_SHARE)
    return culprits[:TOP_CULPRITS], counters
