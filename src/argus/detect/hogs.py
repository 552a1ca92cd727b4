"""Memory hogs (ARG-005): a memory problem that names who holds the memory.

"memory 92%" makes a person log in to find out why; the problem should say who,
how much, since when and in which unit. ``with_hogs`` takes the memory problem the
core rule made and adds, from the snapshot's diagnostics (collect/memdiag.py):

- the top 3 processes by RSS: pid, name, RSS, % of RAM (and of the cgroup limit
  when memory is judged against one), runtime, user and unit; PSS and swap for the
  top one (``details["hogs"]``, DESIGN.md's shape);
- the units whose cgroups hold the most memory, which finds "nginx.service holds
  6.1 GB across 24 processes" when no single worker is large (``details["units"]``);
- the top hog as a kill candidate when its name matches ``processes.kill_allowed``
  (``details["kill_candidate"]``). Only the policy decides whether to use it, and
  only when ``memory.kill_hog_at`` is set (decide/policy.py, act/hogs.py).

Pure: no I/O here, like every rule.
"""

from __future__ import annotations

import re

from argus.config import Config
from argus.model import Problem, Snapshot
from argus.model_diagnostics import HogInfo, MemoryDiagnostics, UnitMemory
from argus.sanitize import safe_text
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

MB = 1024 * 1024
GB = 1024 * MB
UNIT_SHOWN_PCT = 5.0  # units holding less than this % of RAM are not worth a mention
UNITS_SHOWN = 2


def size(n: int | float) -> str:
    """Bytes as people read them: ``6.1 GB``, ``512 MB`` (binary units)."""
    if n >= GB:
        return f"{n / GB:.1f} GB"
    if n >= MB:
        return f"{n / MB:.0f} MB"
    return f"{n / 1024:.0f} KB"


def duration(seconds: float) -> str:
    """``3d 4h``, ``5h 12m``, ``7m``, ``40s``: the two largest units."""
    s = int(max(0, seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{s}s"


def name(text: str | None) -> str:
    """A comm or unit name as alert text: whoever started the process chose it, so
    escapes, controls and bidi overrides are removed (argus.sanitize)."""
    return safe_text(text or "", 80)


def where(unit: str | None) -> str:
    return f" [{name(unit)}]" if unit else ""


def hog_text(h: HogInfo) -> str:
    """One process in a line: ``node pid 4242 1.0 GB (13% of RAM), up 5m, user app [x.service]``."""
    share = f"{h.mem_pct:.0f}% of RAM"
    if h.limit_pct is not None:
        share += f", {h.limit_pct:.0f}% of the limit"
    return (f"{name(h.name)} pid {h.pid} {size(h.rss_bytes)} ({share}), "
            f"up {duration(h.runtime_s)}, user {name(h.user)}{where(h.unit)}")


def unit_text(u: UnitMemory) -> str:
    """``nginx.service holds 6.1 GB across 24 processes``."""
    count = "" if u.processes is None else (
        f" across {u.processes} process{'es' if u.processes != 1 else ''}")
    return f"{name(u.unit)} holds {size(u.memory_bytes)}{count}"


def kill_candidate(hogs: tuple[HogInfo, ...], kill_allowed: tuple[str, ...]) -> HogInfo | None:
    """The top hog when its comm matches ``kill_allowed`` (re.search, DESIGN.md's rule)."""
    if hogs and any(re.search(p, hogs[0].name) for p in kill_allowed):
        return hogs[0]
    return None


def notable_units(diag: MemoryDiagnostics) -> list[UnitMemory]:
    """The ranked units worth naming: the biggest few holding a real share of RAM."""
    if not diag.ranked_units:
        return []
    return [u for u in diag.units if u.mem_pct >= UNIT_SHOWN_PCT][:UNITS_SHOWN]


def with_hogs(problems: list[Problem], snapshot: Snapshot, config: Config) -> list[Problem]:
    """``problems`` with every memory problem carrying its hogs, units and kill candidate."""
    diag = snapshot.diagnostics
    if diag is None:
        return problems
    return [_enrich(p, diag, config) if p.type == "memory" else p for p in problems]


def _enrich(problem: Problem, diag: MemoryDiagnostics, config: Config) -> Problem:
    details: dict[str, Any] = dict(problem.details)
    parts = [problem.description]
    if diag.hogs:
        details["hogs"] = [h.to_details() for h in diag.hogs]
        inside = f" in {name(diag.cgroup)}" if diag.basis == "cgroup" and diag.cgroup else ""
        parts.append(f"top{inside}: " + "; ".join(hog_text(h) for h in diag.hogs))
        top = diag.hogs[0]
        if top.pss_bytes is not None or top.swap_bytes:
            extra = []
            if top.pss_bytes is not None:
                extra.append(f"PSS {size(top.pss_bytes)}")
            if top.swap_bytes:
                extra.append(f"{size(top.swap_bytes)} in swap")
            parts.append(f"{name(top.name)} {', '.join(extra)}")
    units = notable_units(diag)
    if units:
        details["units"] = [u._asdict() for u in units]
        parts.append("; ".join(unit_text(u) for u in units))
    candidate = kill_candidate(diag.hogs, config.processes.kill_allowed)
    if candidate is not None:
        details["kill_candidate"] = {
            "pid": candidate.pid, "name": candidate.name, "rss_bytes": candidate.rss_bytes,
            "start_ticks": candidate.start_ticks}
        parts.append(f"kill candidate: {name(candidate.name)} pid {candidate.pid} "
                     "(matches processes.kill_allowed)")
    if diag.notes:
        details["diagnostic_notes"] = list(diag.notes)
    return problem._replace(description="; ".join(parts), details=details)
