"""What a bead says: its title, its description and the lines of its comments.

A person opening the bead should not need to log in to know how bad it is: the
body carries the host, severity, figures, what Argus tried and how it went, how
often the problem came back, the hogs or the unit's state from ``details``, and
the last journal lines of a unit. Its last line is ``Problem key: <key>``, which
is how Argus finds the bead again (escalate.marker).
"""

from __future__ import annotations

import json

from argus.act.guard import HOST_ACTIONS
from argus.context import Context
from argus.model import Problem
from argus.sanitize import safe_text
from argus.timefmt import iso
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

JOURNAL_LINES = 10
JOURNAL_TIMEOUT_S = 5.0
PROCESS_LISTS = ("hogs", "culprits")  # details that are lists of processes (DESIGN.md)
SKIP_DETAILS = {"action_detail", "bead_error"}  # shown elsewhere, or about Argus itself
VALUE_MAX = 300  # characters of one detail value


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def bead_title(problem: Problem) -> str:
    return f"[argus] {problem.type}: {problem.description}"


def action_lines(recs: list[dict[str, Any]]) -> list[str]:
    """One line per failed host action or restart loop in ``recs``: the news."""
    lines = []
    for record in recs:
        taken = str(record.get("action_taken") or "")
        details = record.get("details") or {}
        if taken.split(":")[0] in HOST_ACTIONS and record.get("action_result") == "failure":
            lines.append(f"- {taken} failed at {record.get('ts')}: "
                         f"{safe_text(str(details.get('action_detail', '')), VALUE_MAX)}")
        if details.get("restart_loop"):
            lines.append(f"- restart loop: backoff exhausted, next attempt not before "
                         f"{details.get('next_attempt_at') or 'the end of the cooldown'}")
    return lines


def bead_body(ctx: Context, problem: Problem, recs: list[dict[str, Any]],
              reasons: list[str], episodes: int, started: float | None) -> str:
    """The description of a new bead; ``episodes``: in the last 24 h."""
    beads = ctx.config.beads
    lines = [
        f"Argus found a problem on {ctx.host} that needs a person.",
        "",
        f"Host: {ctx.host}",
        f"Severity: {problem.severity}",
        f"Type: {problem.type}",
        f"Subject: {safe_text(problem.subject, VALUE_MAX)}",
        f"Description: {problem.description}",
        f"First seen: {iso(started) if started is not None else 'this cycle'}",
        f"Occurrences in 24 h: {episodes}",
        "Why a bead: " + "; ".join(reasons),
        "",
    ]
    details: dict[str, Any] = dict(problem.details)
    for record in recs:
        detail = (record.get("details") or {}).get("action_detail")
        lines.append(f"Action: {record.get('action_taken')} -> {record.get('action_result')}"
                     + (f" ({safe_text(str(detail), VALUE_MAX)})" if detail else ""))
        details.update(record.get("details") or {})
    lines += ["", "Details:", *_detail_lines(details)]
    journal = _journal(ctx, problem, details)
    if journal:
        lines += ["", f"Last {len(journal)} journal lines of {details.get('unit')}:",
                  *(f"    {line}" for line in journal)]
    if beads.auto_close:
        lines += ["", f"Argus closes this bead when the problem has stayed resolved for "
                      f"{beads.close_after} s."]
    lines += ["", f"Problem key: {problem.key}"]
    return "\n".join(lines)


def _detail_lines(details: dict[str, Any]) -> list[str]:
    lines = []
    for name, value in details.items():
        if name in SKIP_DETAILS:
            continue
        if name in PROCESS_LISTS and isinstance(value, list):
            lines.append(f"- {name}:")
            lines += [f"    {_process(p)}" for p in value[:5] if isinstance(p, dict)]
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        lines.append(f"- {name}: {safe_text(text, VALUE_MAX)}")
    return lines


def _process(p: dict[str, Any]) -> str:
    """A hog or culprit: pid, name, RSS (MB), % of RAM, runtime (s), user, unit."""
    rss_mb = int(p.get("rss_bytes") or 0) // 2**20
    text = (f"pid {p.get('pid')} {p.get('name')}: {rss_mb} MB RSS, {p.get('mem_pct')}% of RAM, "
            f"running {p.get('runtime_s')} s, user {p.get('user')}, unit {p.get('unit')}")
    return safe_text(text, VALUE_MAX)


def _journal(ctx: Context, problem: Problem, details: dict[str, Any]) -> list[str]:
    """The unit's last journal lines for a service problem; [] for anything else."""
    unit = details.get("unit")
    if not problem.subject.startswith("service:") or not isinstance(unit, str):
        return []
    from argus.act.services import journal_tail

    scope = str(details.get("scope") or ctx.config.services.scope)
    return journal_tail(unit, scope, ctx.run, JOURNAL_LINES, JOURNAL_TIMEOUT_S)
