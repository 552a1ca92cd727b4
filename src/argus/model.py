"""The typed records that flow through one cycle.

NamedTuples rather than dataclasses: they are immutable, typed and serialise with
``_asdict()``, and they cost a fraction of the import time (``dataclasses`` pulls in
``inspect``), which matters for a one-shot cycle started by a timer every 5 minutes;
for the same reason they come from ``argus.typing_lite`` (see there).
Units are in the field names: ``_bytes``, ``_s`` (seconds), ``_ms``, ``_pct`` (0-100).
"""

from __future__ import annotations

from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Any

    from argus.model_diagnostics import MemoryDiagnostics, PagingInfo

SEVERITIES = ("info", "warning", "critical")
PROBLEM_TYPES = ("disk", "memory", "service", "process", "swap", "cpu", "self")
ACTION_TYPES = ("restart_service", "kill_pid", "kill_tmux", "clean_disk", "alert", "log")
ACTION_RESULTS = ("success", "failure", "skipped", "suppressed", "dry_run", "resolved")


class MemoryInfo(NamedTuple):
    """Host memory, and the cgroup limit Argus runs under when there is one.

    ``pct`` is what the thresholds compare: percent of the cgroup limit when a limit
    applies (``basis == "cgroup"``), else percent of RAM (``basis == "host"``).
    """

    total_bytes: int
    available_bytes: int
    used_bytes: int
    used_pct: float  # of RAM
    swap_total_bytes: int
    swap_free_bytes: int
    swap_used_pct: float
    cgroup_version: int | None  # 1 or 2 when a memory limit applies
    cgroup_limit_bytes: int | None
    cgroup_usage_bytes: int | None
    cgroup_pct: float | None  # of the cgroup limit
    pct: float
    basis: str  # "host" or "cgroup"


class CpuInfo(NamedTuple):
    load1: float
    load5: float
    load15: float
    cores: int
    uptime_s: float


class DiskInfo(NamedTuple):
    mount: str
    device: str
    fstype: str
    total_bytes: int
    used_bytes: int
    free_bytes: int  # available to unprivileged users, as df shows it
    used_pct: float  # used / (used + available), as df computes it
    inodes_total: int
    inodes_used: int
    inodes_pct: float | None  # None for filesystems without a fixed inode table


class ProcessInfo(NamedTuple):
    pid: int
    name: str  # the kernel's comm, at most 15 characters
    cmdline: str  # truncated, control characters escaped
    user: str
    rss_bytes: int
    mem_pct: float  # of RAM
    cpu_pct: float  # of one core, since the previous sample (or over its lifetime)
    start_time: float  # epoch seconds
    age_s: float
    ppid: int
    state: str
    unit: str | None  # the systemd unit from /proc/PID/cgroup
    # proc(5) /proc/PID/stat field 22, clock ticks after boot: with pid, the identity
    # that survives pid reuse (a new process on the same pid starts later). Last and
    # defaulted so constructors that predate it keep working.
    start_ticks: int = 0


class ProcessSummary(NamedTuple):
    total: int  # processes, kernel threads excluded
    zombies: int
    zombie_pids: tuple[int, ...]
    top_rss: tuple[ProcessInfo, ...]
    top_cpu: tuple[ProcessInfo, ...]
    cpu_basis: str  # "interval" (since the previous sample) or "lifetime"
    # Every live process whose comm matches processes.kill_allowed (re.search): the
    # only pids kill_pid may target.
    killable: tuple[ProcessInfo, ...] = ()
    # Live orphans (parent is PID 1 of the namespace or a "systemd" process; DESIGN.md)
    # whose command line matches a processes.orphans pattern; not yet confirmed.
    orphans: tuple[ProcessInfo, ...] = ()


class ServiceInfo(NamedTuple):
    unit: str
    scope: str  # "system" or "user"
    load_state: str
    active_state: str
    sub_state: str
    result: str
    n_restarts: int
    since: str | None  # ISO 8601, when it entered its current active state
    main_pid: int
    exec_status: int | None


class ProbeResult(NamedTuple):
    name: str
    kind: str  # "http" or "tcp"
    target: str
    ok: bool
    status: int | None  # HTTP status
    latency_ms: float
    error: str | None


class TmuxSession(NamedTuple):
    socket: str
    name: str
    windows: int
    created: float  # epoch seconds
    attached: bool
    # tmux's "$N" id: the only reliable -t target, since tmux parses a name that
    # starts with '$' as an id ("-t '=$(x)'" finds nothing); valid while the server lives.
    session_id: str | None = None


class CollectorError(NamedTuple):
    collector: str
    error: str


class Snapshot(NamedTuple):
    ts: str
    host: str
    memory: MemoryInfo | None
    cpu: CpuInfo | None
    disks: tuple[DiskInfo, ...]
    processes: ProcessSummary | None
    services: tuple[ServiceInfo, ...]
    probes: tuple[ProbeResult, ...]
    tmux: tuple[TmuxSession, ...]
    pressure: dict[str, dict[str, float]] | None  # /proc/pressure/{cpu,memory,io}
    errors: tuple[CollectorError, ...]
    durations_ms: dict[str, float]
    # Issue 6 (collect/memdiag.py): swap and fault rates since the previous sample, and
    # who holds the memory. Last and defaulted so older constructors keep working.
    paging: PagingInfo | None = None
    diagnostics: MemoryDiagnostics | None = None

    def failed(self, collector: str) -> bool:
        return any(e.collector == collector for e in self.errors)


def problem_key(ptype: str, subject: str) -> str:
    """``<type>:`` + the first 16 hex digits of sha256(subject): stable across figures."""
    import hashlib  # lazily: loading OpenSSL costs ~2 ms, and a quiet cycle has no keys

    return f"{ptype}:{hashlib.sha256(subject.encode()).hexdigest()[:16]}"


class Problem(NamedTuple):
    type: str
    severity: str
    subject: str
    key: str
    description: str
    details: dict[str, Any]
    source: str = "rules"

    @classmethod
    def make(
        cls,
        ptype: str,
        severity: str,
        subject: str,
        description: str,
        details: dict[str, Any] | None = None,
    ) -> Problem:
        return cls(ptype, severity, subject, problem_key(ptype, subject), description,
                   details or {})


class Action(NamedTuple):
    type: str  # one of ACTION_TYPES
    target: str | None
    reason: str
    source: str  # "rules", "llm" or "deterministic"
    problem_key: str | None = None
    message: str | None = None


class ActionOutcome(NamedTuple):
    action: Action
    result: str  # one of ACTION_RESULTS
    detail: str
    details: dict[str, Any]


class CycleReport(NamedTuple):
    cycle: str
    ts: str
    host: str
    mode: str  # rules | llm | fallback | shadow
    status: str  # ok | failed
    duration_ms: float
    snapshot: Snapshot
    problems: tuple[Problem, ...]
    actions: tuple[ActionOutcome, ...]
    llm: dict[str, Any]
    resolved: tuple[str, ...]  # keys that cleared this cycle


def to_jsonable(obj: Any) -> Any:
    """NamedTuples (recursively) to dicts, tuples to lists: what json.dumps takes."""
    if isinstance(obj, tuple) and hasattr(obj, "_asdict"):
        return {k: to_jsonable(v) for k, v in obj._asdict().items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    return obj


def report_to_json(report: CycleReport) -> dict[str, Any]:
    """The cycle report in the shape DESIGN.md gives for ``argus run --once --json``."""
    return {
        "cycle": report.cycle,
        "ts": report.ts,
        "host": report.host,
        "mode": report.mode,
        "status": report.status,
        "duration_ms": round(report.duration_ms, 1),
        "snapshot": to_jsonable(report.snapshot),
        "problems": [to_jsonable(p) for p in report.problems],
        "actions": [
            {
                "type": o.action.type,
                "target": o.action.target,
                "reason": o.action.reason,
                "source": o.action.source,
                "result": o.result,
                "detail": o.detail,
            }
            for o in report.actions
        ],
        "llm": report.llm,
        "resolved": list(report.resolved),
    }
