"""Human-readable output: the cycle report, registry listings, the config as TOML.

Everything that came from the host (process names, command lines, unit names,
descriptions) goes through ``safe_text`` before it reaches a terminal.
"""

from __future__ import annotations

from argus.context import Paths
from argus.model import CycleReport, Snapshot
from argus.sanitize import safe_text
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

GB = 1024**3
MB = 1024**2


def _size(n: int) -> str:
    return f"{n / GB:.1f} GB" if n >= GB else f"{n // MB} MB"


def _age(seconds: float) -> str:
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d {s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60}m"
    if s >= 60:
        return f"{s // 60}m"
    return f"{s}s"


def render_report(report: CycleReport, paths: Paths) -> str:
    snap = report.snapshot
    lines = [f"argus · {safe_text(report.host, 64)} · cycle {report.cycle} · "
             f"{report.duration_ms:.0f} ms · mode {report.mode} · {report.status}", ""]
    lines += _render_snapshot(snap)
    lines.append("")
    if report.problems:
        lines.append(f"problems ({len(report.problems)}):")
        for p in report.problems:
            lines.append(f"  {p.severity:<8} {p.type:<7} {safe_text(p.description, 160)}")
    else:
        lines.append("problems: none")
    if report.resolved:
        lines.append(f"resolved: {len(report.resolved)} problem(s) cleared since last cycle")
    if report.actions:
        lines.append(f"decided ({len(report.actions)}):")
        for o in report.actions:
            target = f" {safe_text(o.action.target, 60)}" if o.action.target else ""
            lines.append(f"  {o.action.type}{target} -> {o.result}"
                         + (f" ({safe_text(o.detail, 120)})" if o.detail else ""))
    else:
        lines.append("decided: nothing to do")
    lines += ["", f"state: {paths.state_dir} (registry {paths.problems})", ""]
    return "\n".join(lines)


def _render_snapshot(snap: Snapshot) -> list[str]:
    out = []
    mem = snap.memory
    if mem is not None:
        text = (f"memory   {mem.used_pct:.0f}% used ({_size(mem.used_bytes)} of "
                f"{_size(mem.total_bytes)}, {_size(mem.available_bytes)} available)")
        if mem.basis == "cgroup" and mem.cgroup_limit_bytes:
            text += (f"; cgroup v{mem.cgroup_version} limit {_size(mem.cgroup_limit_bytes)}, "
                     f"{mem.cgroup_pct or 0:.0f}% used")
        if mem.swap_total_bytes:
            text += f"; swap {mem.swap_used_pct:.0f}% of {_size(mem.swap_total_bytes)}"
        else:
            text += "; no swap"
        out.append(text)
    if snap.cpu is not None:
        c = snap.cpu
        out.append(f"cpu      load {c.load1:.2f} {c.load5:.2f} {c.load15:.2f} on {c.cores} "
                   f"cores; up {_age(c.uptime_s)}")
    if snap.pressure:
        parts = [f"{res} {vals.get('some_avg60', 0):.1f}%"
                 for res, vals in sorted(snap.pressure.items())]
        out.append("pressure " + ", ".join(parts) + " (some, avg60)")
    for i, d in enumerate(snap.disks):
        head = "disks    " if i == 0 else "         "
        inodes = f", inodes {d.inodes_pct:.0f}%" if d.inodes_pct is not None else ""
        out.append(f"{head}{safe_text(d.mount, 40)} {d.used_pct:.0f}% "
                   f"({_size(d.free_bytes)} free of {_size(d.total_bytes)}{inodes})")
    procs = snap.processes
    if procs is not None:
        out.append(f"procs    {procs.total} processes, {procs.zombies} zombies")
        for p in procs.top_rss[:3]:
            unit = f" [{safe_text(p.unit, 40)}]" if p.unit else ""
            out.append(f"         {safe_text(p.name, 15)} pid {p.pid} {_size(p.rss_bytes)} "
                       f"({p.mem_pct:.1f}%) up {_age(p.age_s)}{unit}")
    if snap.services:
        for i, s in enumerate(snap.services):
            head = "units    " if i == 0 else "         "
            out.append(f"{head}{safe_text(s.unit, 60)} {s.active_state}/{s.sub_state}"
                       + (f" restarts {s.n_restarts}" if s.n_restarts else ""))
    for i, probe in enumerate(snap.probes):
        head = "probes   " if i == 0 else "         "
        state = ("ok" if probe.ok
                 else f"FAILED ({safe_text(probe.error or str(probe.status), 60)})")
        out.append(f"{head}{safe_text(probe.name, 40)} {probe.kind} {state} "
                   f"{probe.latency_ms:.0f} ms")
    if snap.tmux:
        names = ", ".join(safe_text(t.name, 30) for t in snap.tmux[:8])
        out.append(f"tmux     {len(snap.tmux)} sessions: {names}")
    for err in snap.errors:
        out.append(f"error    collector {err.collector}: {safe_text(err.error, 120)}")
    return out


def render_problems(records: list[dict[str, Any]], path: str, since: str) -> str:
    if not records:
        return f"no problems recorded in the last {since} ({path})\n"
    lines = []
    for r in records:
        action = r.get("action_taken") or "-"
        result = r.get("action_result") or "-"
        bead = f" bead {r['bead_id']}" if r.get("bead_id") else ""
        lines.append(f"{r.get('ts', '?')}  {r.get('severity', '?')!s:<8} "
                     f"{r.get('type', '?')!s:<7} {safe_text(str(r.get('description', '')), 110)}"
                     f"  [{safe_text(str(action), 60)} -> {result}]{bead}")
    lines.append(f"{len(records)} record(s) in the last {since}")
    return "\n".join(lines) + "\n"


def render_toml(data: dict[str, Any]) -> str:
    """A small TOML writer for ``config show`` (strings, numbers, lists, tables)."""
    top = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    out = [*top]
    for name, table in data.items():
        if not isinstance(table, dict):
            continue
        out += ["", f"[{name}]"]
        arrays = {}
        for key, value in table.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                arrays[key] = value
            else:
                out.append(f"{key} = {_toml_value(value)}")
        for key, items in arrays.items():
            for item in items:
                out += ["", f"[[{name}.{key}]]"]
                out += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    return "\n".join(out) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return "[" + ", ".join(
                "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in item.items()) + " }"
                for item in value) + "]"
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    import json  # only `config show` renders TOML; a cycle's report never does

    return json.dumps(str(value))
