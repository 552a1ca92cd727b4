"""OrphanTracker: consecutive sightings per identity, persisted in orphans.json."""

from __future__ import annotations

import json
from pathlib import Path

from argus.config import OrphanRule
from argus.detect.orphans import OrphanTracker
from argus.model import ProcessInfo

RULES = (OrphanRule("node.*--test", 3),)


def orphan(pid: int, start_ticks: int, cmdline: str = "/usr/bin/node --test a.js"
           ) -> ProcessInfo:
    return ProcessInfo(pid, "node", cmdline, "u", 0, 0.0, 0.0, 0.0, 0.0, 1, "S", None,
                       start_ticks)


def cycles(path: Path, *sightings: tuple[ProcessInfo, ...]) -> list[list[int]]:
    """One tracker per cycle, loaded from and saved to ``path``: as one-shot runs do."""
    out = []
    for i, seen in enumerate(sightings):
        tracker = OrphanTracker(str(path))
        assert tracker.problem is None
        out.append([p.pid for p, _, _ in tracker.observe(seen, RULES, 1000.0 + i)])
        tracker.save()
    return out


def test_confirmed_on_the_after_th_consecutive_cycle(tmp_path: Path) -> None:
    o = orphan(500, 1234)
    got = cycles(tmp_path / "orphans.json", (o,), (o,), (o,), (o,))
    assert got == [[], [], [500], [500]]  # still there after a failed kill: again
    tracker = OrphanTracker(str(tmp_path / "orphans.json"))
    assert tracker.entries["500"]["count"] == 4
    assert tracker.entries["500"]["first_seen"] == 1000.0


def test_confirmed_tuple_carries_rule_and_count(tmp_path: Path) -> None:
    tracker = OrphanTracker(str(tmp_path / "orphans.json"))
    rules = (OrphanRule("claude", 1), OrphanRule("node.*--test", 2))
    o = orphan(7, 70)
    assert tracker.observe((o,), rules, 1.0) == []
    assert tracker.observe((o,), rules, 2.0) == [(o, rules[1], 2)]


def test_pid_reuse_starts_over(tmp_path: Path) -> None:
    got = cycles(tmp_path / "orphans.json",
                 (orphan(500, 1234),), (orphan(500, 1234),),
                 (orphan(500, 9999),), (orphan(500, 9999),), (orphan(500, 9999),))
    assert got == [[], [], [], [], [500]]


def test_missing_for_one_cycle_starts_over(tmp_path: Path) -> None:
    o, other = orphan(500, 1234), orphan(600, 1)
    got = cycles(tmp_path / "orphans.json", (o,), (o,), (other,), (o,), (o,), (o, other))
    assert got == [[], [], [], [], [], [500]]


def test_non_matching_and_changed_rule(tmp_path: Path) -> None:
    tracker = OrphanTracker(str(tmp_path / "orphans.json"))
    quiet = orphan(1, 1, "/usr/bin/node server.js")
    rules = (OrphanRule("node.*--test", 1),)
    assert tracker.observe((quiet,), rules, 1.0) == []
    assert tracker.entries == {}
    o = orphan(2, 2)
    tracker.observe((o,), (OrphanRule("--test", 9),), 1.0)
    # Another rule matches it now (an edited config): counting starts over.
    assert tracker.observe((o,), (OrphanRule("node", 2),), 2.0) == []


def test_corrupted_file_is_rebuilt_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "orphans.json"
    path.write_text("{not json")
    tracker = OrphanTracker(str(path))
    assert tracker.problem is not None and "corrupted" in tracker.problem
    assert (tmp_path / "orphans.json.corrupt").exists()
    assert tracker.observe((orphan(5, 5),), RULES, 1.0) == []
    tracker.save()
    assert json.loads(path.read_text())["orphans"]["5"]["count"] == 1


def test_malformed_entries_are_dropped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "orphans.json"
    path.write_text(json.dumps({"version": 1, "orphans": {
        "5": {"start_ticks": 5, "count": 2, "pattern": "node.*--test"},
        "6": {"start_ticks": "x", "count": 2, "pattern": "p"},
        "abc": {"start_ticks": 1, "count": 1, "pattern": "p"},
    }}))
    tracker = OrphanTracker(str(path))
    assert tracker.problem is not None and "2 malformed" in tracker.problem
    assert list(tracker.entries) == ["5"]
    assert [p.pid for p, _, _ in tracker.observe((orphan(5, 5),), RULES, 1.0)] == [5]
    path.write_text(json.dumps({"version": 1, "orphans": []}))
    assert OrphanTracker(str(path)).problem is not None
