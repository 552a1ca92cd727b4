"""Orphan reaping by real ``argus run --once`` cycles (issue 3, deterministic, no LLM).

ns_orphan_driver.py runs as PID 1 of a private PID namespace: there it double-forks a
``node --test`` look-alike (adopted by PID 1: an orphan), keeps a second one as the
child of a live keeper (it matches the rule but is no orphan), and runs three
one-shot cycles with ``orphans = [{pattern = "node.*--test", after = 3}]``.
Everything left in the namespace dies with the driver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from remediation_helpers import ORPHAN_PATTERN, pid_namespace_reason, records, run_orphan_driver

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    reason = pid_namespace_reason()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("orphan-cycle")
    return run_orphan_driver(work, after=3, runs=3), work


def kill_actions(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in run["actions"] if a["type"] == "kill_pid"]


def test_the_setup_is_what_the_test_claims(flow: tuple[dict[str, Any], Path]) -> None:
    out, _ = flow
    assert out["orphan_ppid"] == 1  # adopted by PID 1 of the namespace
    assert out["kept_ppid"] == out["keeper"] != 1  # still its starter's child
    assert all(run["rc"] == 0 for run in out["runs"]), out["runs"]


def test_an_orphan_is_killed_on_its_third_sighting_and_not_before(
        flow: tuple[dict[str, Any], Path]) -> None:
    out, _ = flow
    first, second, third = out["runs"]
    assert first["orphan_alive"] and second["orphan_alive"]
    assert kill_actions(first) == [] and kill_actions(second) == []
    assert not third["orphan_alive"], third  # gone (a zombie: PID 1 there does not reap)
    assert [(a["target"], a["result"], a["source"]) for a in kill_actions(third)] == [
        (str(out["orphan"]), "success", "deterministic")]


def test_the_kill_is_one_registry_record_with_the_evidence(
        flow: tuple[dict[str, Any], Path]) -> None:
    out, work = flow
    rows = records(work / "state" / "problems.jsonl")
    kills = [r for r in rows if r["action_taken"].startswith("kill_pid:")]
    assert len(kills) == 1, rows
    row = kills[0]
    pid = out["orphan"]
    assert row["action_taken"] == f"kill_pid:{pid}"
    assert row["action_result"] == "success"
    assert row["source"] == "deterministic"
    assert row["type"] == "process"
    assert row["subject"].startswith(f"orphan:{pid}:")
    details = row["details"]
    assert details["pid"] == pid and details["name"] == "node"
    assert isinstance(details["start_time"], (int, float)) and details["start_time"] > 0
    assert details["signal"] == "SIGTERM"  # it went quietly: no SIGKILL needed
    assert details["pattern"] == ORPHAN_PATTERN and details["sightings"] == 3
    assert "--test x" in details["cmdline"]
    # A fixed problem needs no human: nothing alerted about it.
    assert [r for r in rows if r["key"] == row["key"] and r["action_taken"] == "alert"] == []


def test_a_matching_process_that_is_no_orphan_is_left_alone(
        flow: tuple[dict[str, Any], Path]) -> None:
    out, work = flow
    assert all(run["kept_alive"] and run["keeper_alive"] for run in out["runs"])
    rows = records(work / "state" / "problems.jsonl")
    assert not [r for r in rows if str(out["kept"]) in r["action_taken"]]
    assert not [r for r in rows if r["subject"] and r["subject"].startswith(
        f"orphan:{out['kept']}:")]
