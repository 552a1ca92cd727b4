"""Deterministic rules: a Snapshot in, Problems out. Pure functions, no I/O.

Each problem has a stable ``subject`` (``disk:/var``, ``service:nginx.service``) that
gives its key, and a description that cites the figures, so a person reading the
alert knows how bad it is without logging in.
"""

from __future__ import annotations

from argus.config import Config
from argus.model import DiskInfo, MemoryInfo, Problem, Snapshot

MB = 1024 * 1024
GB = 1024 * MB

# Which collector vouches for which subjects: a problem may only be declared
# resolved when the collector that would see it ran fine this cycle (a timed-out
# systemctl says nothing about whether nginx recovered).
SUBJECT_COLLECTOR = {
    "memory": "memory",
    "swap": "memory",
    "cpu": "cpu",
    "disk": "disks",
    "inodes": "disks",
    "service": "services",
    "probe": "probes",
    "process": "processes",
    "orphan": "processes",
    "self": "",  # self problems clear when the failure stops
    "thrashing": "diagnostics",  # detect/swap.py: needs the paging rates
    "pressure": "pressure",  # detect/pressure.py
}


def collector_for(subject: str) -> str:
    return SUBJECT_COLLECTOR.get(subject.split(":", 1)[0], "")


def detect(snapshot: Snapshot, config: Config) -> list[Problem]:
    problems: list[Problem] = []
    if snapshot.memory is not None:
        problems += memory_rules(snapshot.memory, config)
    # Issue 6: who holds the memory (detect/hogs.py); swap thrashing and sustained
    # CPU/IO pressure, which compare with the previous sample (swap.py, pressure.py).
    if snapshot.diagnostics is not None and any(p.type == "memory" for p in problems):
        from argus.detect.hogs import with_hogs

        problems = with_hogs(problems, snapshot, config)
    if snapshot.diagnostics is not None and snapshot.diagnostics.signals:
        from argus.detect.pressure import pressure_rules
        from argus.detect.swap import thrashing_rules

        problems += thrashing_rules(snapshot, config) + pressure_rules(snapshot, config)
    if snapshot.cpu is not None:
        cpu = snapshot.cpu
        per_core = cpu.load5 / max(cpu.cores, 1)
        if per_core >= config.thresholds.load_per_core_warn:
            problems.append(Problem.make(
                "cpu", "warning", "cpu:load",
                f"load {cpu.load5:.2f} on {cpu.cores} cores ({per_core:.2f} per core, "
                f"5-minute average; warn at {config.thresholds.load_per_core_warn:g})",
                {"load1": cpu.load1, "load5": cpu.load5, "load15": cpu.load15,
                 "cores": cpu.cores, "per_core": round(per_core, 2)}))
    for disk in snapshot.disks:
        problems += disk_rules(disk, config)
    problems += service_rules(snapshot)
    if snapshot.processes is not None:
        zombies = snapshot.processes.zombies
        if zombies >= config.thresholds.zombies_warn:
            problems.append(Problem.make(
                "process", "warning", "process:zombies",
                f"{zombies} zombie processes (warn at {config.thresholds.zombies_warn}); "
                "their parents are not reaping them",
                {"zombies": zombies, "pids": list(snapshot.processes.zombie_pids[:20])}))
    for err in snapshot.errors:
        problems.append(Problem.make(
            "self", "warning", f"self:collector:{err.collector}",
            f"Argus collector {err.collector} failed: {err.error}",
            {"collector": err.collector, "error": err.error}))
    return problems


def memory_rules(mem: MemoryInfo, config: Config) -> list[Problem]:
    t = config.thresholds
    problems: list[Problem] = []
    severity = _level(mem.pct, t.memory_warn, t.memory_crit)
    if severity:
        if mem.basis == "cgroup" and mem.cgroup_limit_bytes and mem.cgroup_usage_bytes is not None:
            figures = (f"memory at {mem.pct:.0f}% of the cgroup limit "
                       f"({mem.cgroup_usage_bytes // MB}/{mem.cgroup_limit_bytes // MB} MB)")
        else:
            figures = (f"memory at {mem.pct:.0f}% "
                       f"({mem.used_bytes // MB}/{mem.total_bytes // MB} MB)")
        problems.append(Problem.make(
            "memory", severity, f"memory:{mem.basis}", figures,
            {"pct": round(mem.pct, 1), "basis": mem.basis, "used_bytes": mem.used_bytes,
             "total_bytes": mem.total_bytes, "available_bytes": mem.available_bytes,
             "cgroup_limit_bytes": mem.cgroup_limit_bytes,
             "cgroup_usage_bytes": mem.cgroup_usage_bytes}))
    if mem.swap_total_bytes > 0 and mem.swap_used_pct >= t.swap_warn:
        used = mem.swap_total_bytes - mem.swap_free_bytes
        problems.append(Problem.make(
            "swap", "warning", "swap:host",
            f"swap at {mem.swap_used_pct:.0f}% ({used // MB}/{mem.swap_total_bytes // MB} MB)",
            {"pct": round(mem.swap_used_pct, 1), "used_bytes": used,
             "total_bytes": mem.swap_total_bytes}))
    return problems


def disk_rules(disk: DiskInfo, config: Config) -> list[Problem]:
    t = config.thresholds
    problems: list[Problem] = []
    details = {"mount": disk.mount, "device": disk.device, "fstype": disk.fstype,
               "used_pct": round(disk.used_pct, 1), "free_bytes": disk.free_bytes,
               "total_bytes": disk.total_bytes}
    severity = _level(disk.used_pct, t.disk_warn, t.disk_crit)
    if severity:
        problems.append(Problem.make(
            "disk", severity, f"disk:{disk.mount}",
            f"disk {disk.mount} at {disk.used_pct:.0f}% "
            f"({_size(disk.used_bytes)} used, {_size(disk.free_bytes)} free of "
            f"{_size(disk.total_bytes)})", details))
    if disk.inodes_pct is not None:
        severity = _level(disk.inodes_pct, t.disk_warn, t.disk_crit)
        if severity:
            problems.append(Problem.make(
                "disk", severity, f"inodes:{disk.mount}",
                f"inodes on {disk.mount} at {disk.inodes_pct:.0f}% "
                f"({disk.inodes_used}/{disk.inodes_total})",
                {**details, "inodes_pct": round(disk.inodes_pct, 1),
                 "inodes_used": disk.inodes_used, "inodes_total": disk.inodes_total}))
    return problems


def service_rules(snapshot: Snapshot) -> list[Problem]:
    problems: list[Problem] = []
    for svc in snapshot.services:
        details = {"unit": svc.unit, "scope": svc.scope, "active_state": svc.active_state,
                   "sub_state": svc.sub_state, "result": svc.result,
                   "n_restarts": svc.n_restarts, "since": svc.since}
        if svc.load_state == "not-found":
            severity, what = "warning", "not found (no such unit is loaded)"
        elif svc.active_state == "failed":
            severity, what = "critical", f"failed ({_result(svc.result, svc.exec_status)})"
        elif svc.active_state in ("inactive", "deactivating"):
            severity, what = "critical", f"{svc.active_state} (not running)"
        elif svc.active_state == "activating" and svc.sub_state == "auto-restart":
            severity, what = "warning", f"restarting (auto-restart, {svc.n_restarts} restarts)"
        else:
            continue
        problems.append(Problem.make(
            "service", severity, f"service:{svc.unit}", f"Service {svc.unit} is {what}", details))
    for probe in snapshot.probes:
        if probe.ok:
            continue
        status = f"HTTP {probe.status}" if probe.status is not None else (probe.error or "failed")
        problems.append(Problem.make(
            "service", "critical", f"probe:{probe.name}",
            f"{probe.kind.upper()} probe {probe.name} ({probe.target}) failed: {status}",
            {"probe": probe.name, "kind": probe.kind, "target": probe.target,
             "status": probe.status, "error": probe.error,
             "latency_ms": round(probe.latency_ms, 1)}))
    return problems


def _level(value: float, warn: float, crit: float) -> str | None:
    if value >= crit:
        return "critical"
    if value >= warn:
        return "warning"
    return None


def _result(result: str, exec_status: int | None) -> str:
    if result == "exit-code" and exec_status is not None:
        return f"exit code {exec_status}"
    if result in ("signal", "core-dump") and exec_status:
        import signal  # lazily: only for a unit killed by a signal

        try:
            name = signal.Signals(exec_status).name
        except ValueError:
            name = f"signal {exec_status}"
        return f"killed by {name}" + (", core dumped" if result == "core-dump" else "")
    return result or "unknown result"


def _size(n: int) -> str:
    if n >= GB:
        return f"{n / GB:.1f} GB"
    return f"{n // MB} MB"
