"""Orphan confirmation: the same orphan, seen in ``after`` consecutive cycles.

The collector lists this cycle's orphans whose command line matches an orphan rule
(``ProcessSummary.orphans``); this module counts sightings per identity (pid + start
time, ``ProcessInfo.start_ticks``) and says which are confirmed, i.e. due for a kill.

The counts live in ``<state_dir>/orphans.json``, written atomically, so a one-shot
run from a systemd timer counts across processes just as the daemon does. Counting
starts over when:

- the pid is missing from one cycle's orphans (it exited, or was adopted by
  something else, or stopped matching);
- the pid is back with another start time: pid reuse, a different process;
- the rule that matches it changed (an edited config).
"""

from __future__ import annotations

import re
from typing import Any

from argus.config import OrphanRule
from argus.model import Problem, ProcessInfo
from argus.record import state


def matching_rule(proc: ProcessInfo, rules: tuple[OrphanRule, ...]) -> OrphanRule | None:
    """The first rule whose pattern matches the command line (re.search), or None.

    ``proc.cmdline`` is the very text the collector matched (NULs as spaces, up to
    ORPHAN_CMDLINE_LIMIT characters), so the two agree on what matches.
    """
    return next((r for r in rules if re.search(r.pattern, proc.cmdline)), None)


def _valid(entry: Any) -> bool:
    return (isinstance(entry, dict)
            and all(isinstance(entry.get(k), int) for k in ("start_ticks", "count"))
            and isinstance(entry.get("pattern"), str))


class OrphanTracker:
    """Consecutive sightings of each orphan, persisted in ``path`` (orphans.json).

    ``problem`` holds a one-line description when the file was unreadable or
    corrupted and has been rebuilt (counting starts over: the safe direction).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        data, self.problem = state.read_json(path, {"version": 1, "orphans": {}})
        table = data.get("orphans")
        if not isinstance(table, dict):
            table, self.problem = {}, f"{path}: no 'orphans' table; rebuilt"
        self.entries: dict[str, dict[str, Any]] = {
            k: v for k, v in table.items() if k.isdigit() and _valid(v)}
        if len(self.entries) != len(table) and self.problem is None:
            self.problem = f"{path}: dropped {len(table) - len(self.entries)} malformed entries"

    def observe(
        self, orphans: tuple[ProcessInfo, ...], rules: tuple[OrphanRule, ...], now: float
    ) -> list[tuple[ProcessInfo, OrphanRule, int]]:
        """Count this cycle's sightings; return (process, rule, count) for the confirmed.

        Call it once per cycle, and only when the process collector succeeded: a
        cycle without a process list proves nothing, and calling with ``()`` would
        reset every count. ``now`` is epoch seconds. A confirmed orphan that is still
        there next cycle (its kill failed) is returned again.
        """
        entries: dict[str, dict[str, Any]] = {}
        confirmed = []
        for proc in orphans:
            rule = matching_rule(proc, rules)
            if rule is None:
                continue
            key = str(proc.pid)
            old = self.entries.get(key)
            if (old is None or old["start_ticks"] != proc.start_ticks
                    or old["pattern"] != rule.pattern):
                old = {"count": 0, "first_seen": now}  # new, or another process: start over
            count = old["count"] + 1
            entries[key] = {
                "start_ticks": proc.start_ticks,
                "name": proc.name,
                "pattern": rule.pattern,
                "count": count,
                "first_seen": old.get("first_seen", now),
                "last_seen": now,
            }
            if count >= rule.after:
                confirmed.append((proc, rule, count))
        # Whatever was not seen this cycle is dropped: "consecutive" means exactly that.
        self.entries = entries
        return confirmed

    def save(self) -> None:
        """Write the counts atomically (temporary file, then rename(2))."""
        state.write_json(self.path, {"version": 1, "orphans": self.entries})


def orphan_problem(proc: ProcessInfo, rule: OrphanRule, sightings: int) -> Problem:
    """The problem a confirmed orphan becomes: one key per process identity."""
    from argus.sanitize import safe_text

    return Problem.make(
        "process", "warning", f"orphan:{proc.pid}:{proc.start_ticks}",
        f"Orphaned process {safe_text(proc.name, 15)} (pid {proc.pid}, "
        f"{safe_text(proc.cmdline, 80)!r}) seen {sightings} cycles in a row",
        {"pid": proc.pid, "name": proc.name, "start_time": proc.start_time,
         "cmdline": safe_text(proc.cmdline, 300), "rss_bytes": proc.rss_bytes,
         "user": proc.user, "pattern": rule.pattern, "sightings": sightings})
