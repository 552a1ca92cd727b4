"""Processes: counts, zombies, and the top consumers of memory and CPU.

Performance is the design constraint: at 2,000 processes psutil.process_iter costs
~700 ms of CPU, far too much for a watchdog that must stay out of the way. So the
scan reads exactly one file per process, /proc/PID/stat (one open, one read), and
only the few processes that make a top list get their cmdline, status and cgroup
read. See bench/bench_proc_scan.py for the figures.

Two more lists come out of the same scan, for the kill actions: ``killable`` (comm
matches ``processes.kill_allowed``; the name is already in the stat line) and
``orphans`` (adopted by PID 1 or a systemd manager, and the command line matches an
orphan rule). Only orphaned candidates get their cmdline read, so a host full of
processes that are nobody's orphans pays nothing for the orphan rules.
"""

from __future__ import annotations

import os
import pwd
import time

from argus.collect.procfs import read_file
from argus.logs import get_logger
from argus.model import ProcessInfo, ProcessSummary
from argus.regex_lite import compile_search
from argus.sanitize import safe_text
from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

log = get_logger(__name__)
CMDLINE_LIMIT = 300  # characters kept of a command line
# Orphans keep more of theirs: the orphan rules are matched against exactly this text
# (here and again in detect/orphans.py), so an argument far down a long command line
# still counts. A match that needs more than this is missed: the safe direction.
ORPHAN_CMDLINE_LIMIT = 4096
# include/linux/sched.h: set on kernel threads; field 9 ("flags") of /proc/PID/stat.
PF_KTHREAD = 0x00200000
_GONE = (FileNotFoundError, ProcessLookupError, PermissionError)
# uid -> user name. Only successful look-ups are cached, so a user created after a
# miss is found next cycle; names of existing uids don't change in practice.
_USERS: dict[int, str] = {}


class ProcStat(NamedTuple):
    """The fields of /proc/PID/stat the scan needs (proc(5) numbers in comments)."""

    pid: int
    comm: bytes  # (2), raw: may hold spaces, ')' and newlines
    state: str  # (3)
    ppid: int  # (4)
    flags: int  # (9)
    ticks: int  # (14) utime + (15) stime, in clock ticks
    starttime: int  # (22) clock ticks after boot
    rss_pages: int  # (24)



def _parse_stat(pid: int, data: bytes) -> ProcStat:
    # proc(5): comm is "(name)" but the name itself may contain ") (" and spaces
    # (prctl(PR_SET_NAME) or a write to /proc/PID/comm takes any bytes), so it runs
    # from the first '(' to the LAST ')'. Everything after is space-separated.
    close = data.rindex(b")")
    comm = data[data.index(b"(") + 1:close]
    f = data[close + 2:].split(None, 22)
    return ProcStat(pid, comm, f[0].decode("ascii", "replace"), int(f[1]), int(f[6]),
                    int(f[11]) + int(f[12]), int(f[19]), int(f[21]))


def is_kernel_thread(st: ProcStat) -> bool:
    """True for kernel threads, which no action may ever target."""
    # kthreadd is pid 2 and parents every kernel thread; PF_KTHREAD also catches
    # them where the pid numbering differs.
    return st.pid == 2 or st.ppid == 2 or bool(st.flags & PF_KTHREAD)


def _btime(proc_root: str) -> float:
    """Boot time, epoch seconds: the ``btime`` line of proc(5) /proc/stat."""
    for line in read_file(f"{proc_root}/stat").splitlines():
        if line.startswith(b"btime "):
            return float(line.split()[1])
    raise ValueError(f"{proc_root}/stat: no btime line")


def _mem_total(proc_root: str) -> int:
    """MemTotal in bytes (proc(5): kB in meminfo means KiB)."""
    for line in read_file(f"{proc_root}/meminfo").splitlines():
        if line.startswith(b"MemTotal:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"{proc_root}/meminfo: no MemTotal line")


def _uptime(proc_root: str) -> float | None:
    try:
        return float(read_file(f"{proc_root}/uptime").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _user(uid: int) -> str:
    name = _USERS.get(uid)
    if name is None:
        try:
            name = _USERS[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:  # no passwd entry (a container's uid): show the number
            return str(uid)
    return name


def _uid(status: bytes) -> int | None:
    """The real uid from proc(5) /proc/PID/status (``Uid: real effective saved fs``).

    Real rather than effective, as psutil's username() does: it is who started it.
    """
    for line in status.splitlines():
        if line.startswith(b"Uid:"):
            return int(line.split()[1])
    return None


def unit_from_cgroup(data: bytes) -> str | None:
    """The systemd unit of a process, from its /proc/PID/cgroup.

    The v2 line (``0::/system.slice/nginx.service``) or, on a v1/hybrid host, the
    ``name=systemd`` one; the innermost ``.service`` or ``.scope`` wins, so a user
    service (``.../user@1000.service/app.slice/foo.service``) is ``foo.service``.
    """
    v2 = v1 = b""
    for line in data.splitlines():
        hid, _, rest = line.partition(b":")
        controllers, _, path = rest.partition(b":")
        if hid == b"0" and controllers == b"":
            v2 = path
        elif controllers == b"name=systemd":
            v1 = path
    # On a legacy (v1-only) systemd host the v2 line, if any, just says "/".
    for path in (v2, v1):
        for part in reversed(path.split(b"/")):
            if part.endswith((b".service", b".scope")):
                return part.decode("utf-8", "replace")
    return None


def cmdline_text(raw: bytes, limit: int) -> str:
    """The /proc/PID/cmdline bytes as one line of safe text, at most ``limit`` chars.

    proc(5): arguments are NUL-terminated; a process may rewrite its own
    (setproctitle), so strip the trailing NULs rather than trusting the count.
    """
    return safe_text(raw.rstrip(b"\0").replace(b"\0", b" "), limit)


def _details(proc_root: str, st: ProcStat, cpu_pct: float, btime: float, clk: int,
             mem_total: int, page: int, now: float, *, cmdline: bytes | None = None,
             limit: int = CMDLINE_LIMIT) -> ProcessInfo:
    """Fill a ProcessInfo; raises one of _GONE when the process went away meanwhile.

    ``cmdline``: the raw /proc/PID/cmdline when the caller has read it already.
    """
    base = f"{proc_root}/{st.pid}"
    if cmdline is None:
        cmdline = read_file(f"{base}/cmdline")
    uid = _uid(read_file(f"{base}/status"))
    try:
        unit = unit_from_cgroup(read_file(f"{base}/cgroup"))
    except FileNotFoundError:  # a kernel without cgroups
        unit = None
    start = btime + st.starttime / clk
    rss = st.rss_pages * page
    return ProcessInfo(
        pid=st.pid,
        name=st.comm.decode("utf-8", "replace"),
        cmdline=cmdline_text(cmdline, limit),
        user=_user(uid) if uid is not None else "?",
        rss_bytes=rss,
        mem_pct=rss / mem_total * 100 if mem_total else 0.0,
        cpu_pct=cpu_pct,
        start_time=start,
        age_s=max(0.0, now - start),
        ppid=st.ppid,
        state=st.state,
        unit=unit,
        start_ticks=st.starttime,
    )


def _scan(proc_root: str) -> list[ProcStat]:
    out: list[ProcStat] = []
    append = out.append
    for entry in os.scandir(proc_root):
        name = entry.name
        if not name.isdigit():
            continue
        try:
            append(_parse_stat(int(name), read_file(f"{proc_root}/{name}/stat")))
        except _GONE:  # exited between readdir and open (or hidepid=1)
            continue
        except (ValueError, IndexError):  # empty or truncated: it died mid-read
            log.debug("processes: unparsable %s/%s/stat", proc_root, name)
    return out


def _name_matches(stats: Iterable[ProcStat], patterns: tuple[str, ...]) -> list[ProcStat]:
    """Live processes whose comm matches any pattern (re.search), DESIGN.md's rule.

    Zombies are left out: they have exited, a signal does nothing to them. Many
    processes share a comm (2,000 "sleep"), so each distinct name is tested once.
    """
    if not patterns:
        return []
    matchers = [compile_search(p) for p in patterns]
    verdicts: dict[bytes, bool] = {}
    out = []
    for st in stats:
        if st.state == "Z":
            continue
        ok = verdicts.get(st.comm)
        if ok is None:
            name = st.comm.decode("utf-8", "replace")
            ok = verdicts[st.comm] = any(match(name) for match in matchers)
        if ok:
            out.append(st)
    return out


def _orphans(proc_root: str, stats: list[ProcStat],
             patterns: tuple[str, ...]) -> list[tuple[ProcStat, bytes]]:
    """Orphans whose command line matches a pattern, with their raw cmdline.

    DESIGN.md: an orphan's parent is PID 1 of its PID namespace (the namespace of
    ``proc_root``'s procfs, whose pids this scan sees) or a process whose comm is
    ``systemd``: a user manager is a child subreaper (PR_SET_CHILD_SUBREAPER,
    prctl(2)) and adopts what its services leave behind. A child of the shell that
    started it is not an orphan. Zombies are never candidates: already dead, and on
    a host whose PID 1 does not reap (this CI's ``process_api``) they linger.
    """
    if not patterns:
        return []
    matchers = [compile_search(p) for p in patterns]
    managers = {st.pid for st in stats if st.comm == b"systemd"}
    out = []
    for st in stats:
        if st.pid <= 1 or st.state == "Z" or (st.ppid != 1 and st.ppid not in managers):
            continue
        try:
            raw = read_file(f"{proc_root}/{st.pid}/cmdline")
        except _GONE:
            continue
        text = cmdline_text(raw, ORPHAN_CMDLINE_LIMIT)
        if any(match(text) for match in matchers):
            out.append((st, raw))
    return out


def _lifetime_pct(st: ProcStat, clk: int, uptime: float) -> float:
    age = uptime - st.starttime / clk
    return st.ticks / clk / age * 100 if age > 0 else 0.0


def collect_processes(
    proc_root: str,
    *,
    top_n: int,
    now: float,
    previous: dict[str, Any] | None,
    kill_allowed: tuple[str, ...] = (),
    orphan_patterns: tuple[str, ...] = (),
) -> tuple[ProcessSummary, dict[str, Any]]:
    """Count processes, pick the top ``top_n`` by RSS and by CPU, list kill targets.

    ``killable``: every live process whose comm matches a ``kill_allowed`` regex.
    ``orphans``: every live orphan whose command line (NULs as spaces, as shown in
    ``ProcessInfo.cmdline``) matches an ``orphan_patterns`` regex.

    CPU% is of one core: over the interval since ``previous`` (the sample this
    function returned last cycle) when there is one, else averaged over each
    process's lifetime (``cpu_basis`` says which). Kernel threads are left out of
    everything. Returns the summary and the sample to pass as ``previous`` next time:
    ``{"t": now, "ticks": {pid: (starttime_ticks, utime+stime ticks)}}``.
    """
    clk = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    btime = _btime(proc_root)
    mem_total = _mem_total(proc_root)
    stats = [st for st in _scan(proc_root) if not is_kernel_thread(st)]
    ticks = {st.pid: (st.starttime, st.ticks) for st in stats}

    prev_ticks: dict[int, tuple[int, int]] = {}
    dt = 0.0
    if previous:
        prev_ticks = previous.get("ticks") or {}
        dt = now - float(previous.get("t", now))
    cpu: dict[int, float] = {}
    if dt > 0:
        basis = "interval"
        for st in stats:
            before = prev_ticks.get(st.pid)
            # A pid that is new, or reused by another process (start time differs),
            # used all its ticks within the interval.
            base = before[1] if before is not None and before[0] == st.starttime else 0
            cpu[st.pid] = max(0, st.ticks - base) / clk / dt * 100
    else:
        basis = "lifetime"
        uptime = _uptime(proc_root)
        if uptime is None:
            uptime = now - btime
        for st in stats:
            cpu[st.pid] = _lifetime_pct(st, clk, uptime)

    zombies = tuple(sorted(st.pid for st in stats if st.state == "Z"))
    # sorted(...)[:n] is what heapq.nlargest is documented to equal; heapq would load
    # a C extension (~0.3 ms per one-shot start) to save microseconds at 2,000 procs.
    top_rss = sorted((s for s in stats if s.rss_pages > 0), key=lambda s: s.rss_pages,
                     reverse=True)[:top_n]
    top_cpu = sorted((s for s in stats if cpu[s.pid] > 0), key=lambda s: cpu[s.pid],
                     reverse=True)[:top_n]
    killable = _name_matches(stats, kill_allowed)
    infos: dict[int, ProcessInfo | None] = {}
    for st in (*top_rss, *top_cpu, *killable):
        if st.pid not in infos:
            try:
                infos[st.pid] = _details(proc_root, st, cpu[st.pid], btime, clk,
                                         mem_total, page, now)
            except _GONE:
                infos[st.pid] = None
    orphans = []
    for st, raw in _orphans(proc_root, stats, orphan_patterns):
        try:
            orphans.append(_details(proc_root, st, cpu[st.pid], btime, clk, mem_total,
                                    page, now, cmdline=raw, limit=ORPHAN_CMDLINE_LIMIT))
        except _GONE:
            continue
    summary = ProcessSummary(
        total=len(stats),
        zombies=len(zombies),
        zombie_pids=zombies,
        top_rss=tuple(i for s in top_rss if (i := infos[s.pid]) is not None),
        top_cpu=tuple(i for s in top_cpu if (i := infos[s.pid]) is not None),
        cpu_basis=basis,
        killable=tuple(i for s in killable if (i := infos[s.pid]) is not None),
        orphans=tuple(orphans),
    )
    return summary, {"t": now, "ticks": ticks}


def read_stat(proc_root: str, pid: int) -> ProcStat | None:
    """The parsed /proc/PID/stat of ``pid`` (one read); None if it is gone."""
    try:
        return _parse_stat(pid, read_file(f"{proc_root}/{pid}/stat"))
    except (*_GONE, ValueError, IndexError):
        return None


def proc_stat_identity(proc_root: str, pid: int) -> tuple[int, str] | None:
    """(start time in clock ticks after boot, comm) of ``pid``; None if it is gone.

    The pair identifies a process across pid reuse: a new process with the same pid
    has a later start time.
    """
    st = read_stat(proc_root, pid)
    if st is None:
        return None
    return st.starttime, st.comm.decode("utf-8", "replace")


def read_process(
    proc_root: str, pid: int, btime: float | None = None, *, now: float | None = None
) -> ProcessInfo | None:
    """Everything about one process, read fresh; None if it is gone or a kernel thread.

    Meant for re-checking a target just before acting on it, so kernel threads
    (never a valid target) read as None too. CPU% is the lifetime average; ``now``
    (epoch seconds) defaults to the current time.
    """
    clk = os.sysconf("SC_CLK_TCK")
    try:
        st = _parse_stat(pid, read_file(f"{proc_root}/{pid}/stat"))
        if is_kernel_thread(st):
            return None
        if btime is None:
            btime = _btime(proc_root)
        now = time.time() if now is None else now
        uptime = _uptime(proc_root)
        cpu_pct = _lifetime_pct(st, clk, now - btime if uptime is None else uptime)
        return _details(proc_root, st, cpu_pct, btime, clk, _mem_total(proc_root),
                        os.sysconf("SC_PAGE_SIZE"), now)
    except (*_GONE, ValueError, IndexError):
        return None
