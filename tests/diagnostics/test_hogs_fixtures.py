"""Memory hogs on committed trees: units that hold memory, hogs ranked inside a limit.

hogs-unit: 24 nginx workers of ~270 MB, none large on its own; their unit holds
6.1 GB. hogs-cgroup-v1/-v2: Argus in app.service under a 2 GB limit, a 3 GB process
in another unit; the hogs must be ranked within the limit, in % of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from diag_helpers import config, fixture_context, problem, records

from argus.cycle import run_once
from argus.decide.policy import decide
from argus.model import Problem, Snapshot

GiB = 2**30


def test_a_unit_that_holds_memory_is_named_when_no_process_is_large(tmp_path: Path) -> None:
    report = run_once(fixture_context(tmp_path, "hogs-unit", sys_scenario="hogs-unit"))
    mem = problem(report, "memory:host")
    assert mem is not None and mem.severity == "critical"
    assert "nginx.service holds 6.1 GB across 24 processes" in mem.description
    units = mem.details["units"]
    assert units[0]["unit"] == "nginx.service" and units[0]["processes"] == 24
    assert units[0]["memory_bytes"] == int(6.1 * GiB)
    # The per-process view still lists the biggest single processes, redis first.
    assert [h["name"] for h in mem.details["hogs"]] == ["redis-server", "nginx", "nginx"]
    assert mem.details["hogs"][0]["pss_bytes"] is not None  # smaps_rollup of the top one
    assert "kill_candidate" not in mem.details  # nothing here matches kill_allowed


@pytest.mark.parametrize("version", [1, 2])
def test_inside_a_cgroup_limit_hogs_are_ranked_within_it(tmp_path: Path, version: int) -> None:
    scenario = f"hogs-cgroup-v{version}"
    report = run_once(fixture_context(tmp_path, scenario, sys_scenario=scenario))
    mem = problem(report, "memory:cgroup")
    assert mem is not None
    hogs = mem.details["hogs"]
    # bigdb (3 GB, in db.service) is bigger, but outside the limit that is under pressure.
    assert [h["pid"] for h in hogs] == [501, 502, 503]
    assert hogs[0]["limit_pct"] == 60.0  # 1.2 GB of the 2 GB limit
    assert hogs[0]["mem_pct"] == 7.5  # of the host's 16 GB
    assert "top in /system.slice/app.service: worker pid 501" in mem.description
    assert "60% of the limit" in mem.description
    assert report.snapshot.diagnostics is not None
    assert report.snapshot.diagnostics.cgroup == "/system.slice/app.service"


def test_the_hog_text_reaches_the_registry_line(tmp_path: Path) -> None:
    ctx = fixture_context(tmp_path, "hogs-unit", sys_scenario="hogs-unit")
    run_once(ctx)
    row = next(r for r in records(ctx) if r["subject"] == "memory:host")
    assert row["action_taken"] == "alert"
    assert "redis-server pid 810" in row["description"]
    assert row["details"]["hogs"][0]["unit"] == "redis.service"


def _memory_problem(pct: float, candidate: bool = True) -> Problem:
    details = {"pct": pct, "basis": "host"}
    if candidate:
        details["kill_candidate"] = {"pid": 4242, "name": "node", "rss_bytes": 6 * GiB,
                                     "start_ticks": 100}
    return Problem.make("memory", "critical", "memory:host", f"memory at {pct}%", details)


@pytest.mark.parametrize(("kill_hog_at", "pct", "candidate", "killed"), [
    (0, 97.0, True, False),  # the default: the policy never kills a hog on its own
    (95, 97.0, True, True),
    (95, 93.0, True, False),  # not yet at the mark
    (95, 97.0, False, False),  # the top hog is not in processes.kill_allowed
])
def test_the_policy_kills_a_hog_only_past_kill_hog_at(
        kill_hog_at: float, pct: float, candidate: bool, killed: bool) -> None:
    cfg = config({"memory": {"kill_hog_at": kill_hog_at}})
    empty = Snapshot("", "h", None, None, (), None, (), (), (), None, (), {})
    actions = decide([_memory_problem(pct, candidate)], {}, empty, cfg)
    kills = [a for a in actions if a.type == "kill_pid"]
    assert bool(kills) is killed
    if killed:
        assert kills[0].target == "4242" and kills[0].source == "deterministic"
        assert "memory.kill_hog_at (95%)" in kills[0].reason
        # A person is told about a hog kill, with its result, whatever its severity.
        assert [a.type for a in actions] == ["kill_pid", "alert"]
