"""What Argus remembers about each problem key between cycles (``dedup.json``).

For each key: when it was first and last seen, how many cycles in a row, whether
and at what severity it was last alerted, and whether it is still active. From
that follow the three rules of alert deduplication:

- a repeat within ``dedup.window`` of the last alert is suppressed;
- an escalation (warning -> critical) is never suppressed;
- a key that stops appearing is resolved once, and gets a "resolved" message only
  if a person was told about it in the first place.

Entries not seen for 24 h are dropped, so the file stays small.
"""

from __future__ import annotations

from argus.model import Problem
from argus.record import state
from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Any

RANK = {"info": 0, "warning": 1, "critical": 2}
KEEP_S = 24 * 3600


class Resolution(NamedTuple):
    key: str
    entry: dict[str, Any]


class DedupState:
    def __init__(self, path: str) -> None:
        self.path = path
        data, self.problem = state.read_json(path, {"version": 1, "problems": {}})
        problems = data.get("problems")
        if not isinstance(problems, dict):
            problems, self.problem = {}, f"{path}: no 'problems' table; rebuilt"
        self.entries: dict[str, dict[str, Any]] = {
            k: v for k, v in problems.items() if isinstance(v, dict)}
        # Whether save() has anything to write: a quiet host writes nothing.
        self.changed = self.problem is not None

    def observe(self, problem: Problem, now: float) -> dict[str, Any]:
        """Note that ``problem`` was seen this cycle; returns its (updated) entry."""
        self.changed = True
        entry = self.entries.get(problem.key)
        if entry is None or not entry.get("active"):
            previous = entry or {}
            entry = {
                "type": problem.type,
                "subject": problem.subject,
                "first_seen": now,
                "streak": 0,
                "alerted_at": None,
                "alerted_severity": None,
                # Episodes in the last 24 h: what "seen 3 times in 24 h" counts.
                "episodes": [t for t in previous.get("episodes", []) if now - t < KEEP_S],
            }
            entry["episodes"].append(now)
            self.entries[problem.key] = entry
        entry.update(active=True, last_seen=now, severity=problem.severity,
                     description=problem.description)
        entry["streak"] = int(entry.get("streak", 0)) + 1
        return entry

    def alert_decision(self, problem: Problem, now: float, window: int) -> str | None:
        """None to alert; otherwise why the alert is suppressed."""
        entry = self.entries.get(problem.key, {})
        alerted_at = entry.get("alerted_at")
        if alerted_at is None:
            return None
        if RANK.get(problem.severity, 0) > RANK.get(entry.get("alerted_severity") or "", 0):
            return None  # escalation: always tell
        age = now - float(alerted_at)
        if age < window:
            return f"alerted {int(age)}s ago (dedup window {window}s)"
        return None

    def mark_alerted(self, key: str, severity: str, now: float) -> None:
        entry = self.entries.get(key)
        if entry is not None:
            self.changed = True
            entry["alerted_at"] = now
            entry["alerted_severity"] = severity

    def resolve_absent(self, present: set[str], can_judge: Any, now: float) -> list[Resolution]:
        """Mark active keys not seen this cycle as resolved.

        ``can_judge(subject) -> bool`` says whether the collector that would have
        seen the problem ran fine this cycle; when it did not, absence proves nothing.
        """
        resolved = []
        for key, entry in self.entries.items():
            if not entry.get("active") or key in present:
                continue
            if not can_judge(str(entry.get("subject", ""))):
                continue
            self.changed = True
            entry.update(active=False, resolved_at=now, streak=0)
            resolved.append(Resolution(key, dict(entry)))
        return resolved

    def active(self) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.entries.items() if v.get("active")}

    def compact(self, now: float) -> None:
        """Drop entries that are inactive and not seen for 24 h."""
        kept = {k: v for k, v in self.entries.items()
                if v.get("active") or now - float(v.get("last_seen", 0)) < KEEP_S}
        if len(kept) != len(self.entries):
            self.changed = True
        self.entries = kept

    def save(self) -> None:
        state.write_json(self.path, {"version": 1, "problems": self.entries})
