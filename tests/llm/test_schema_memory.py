"""The decision schema's verdicts, and the advisor's memory of what it already judged."""

from __future__ import annotations

import typing
from pathlib import Path

from argus.config import Llm
from argus.decide import schema
from argus.decide.advisor import Memory
from argus.model import ACTION_TYPES, Action, ActionOutcome, Problem

MEM = Problem.make("memory", "warning", "memory:host", "memory at 85%", {"pct": 85.0})
SVC = Problem.make("service", "critical", "service:web.service", "web.service failed", {})
CANDIDATES = schema.Candidates({
    "restart_service": {"web.service": SVC.key}, "kill_pid": {"4242": MEM.key},
    "kill_tmux": {"default:build": None}, "clean_disk": {},
    "alert": {MEM.key: MEM.key, SVC.key: SVC.key}, "log": {MEM.key: MEM.key, SVC.key: SVC.key}})


def review(*actions: object) -> schema.Review:
    return schema.review({"assessment": "a", "actions": list(actions)}, CANDIDATES)


def test_the_six_action_types_are_the_models_and_the_schemas() -> None:
    assert typing.get_args(schema.ActionType) == ACTION_TYPES
    item = schema.DECISION_SCHEMA["properties"]["actions"]["items"]
    assert tuple(item["properties"]["type"]["enum"]) == ACTION_TYPES


def test_each_proposal_stands_or_falls_on_its_own() -> None:
    result = review(
        {"type": "kill_pid", "target": 4242, "reason": "leak"},  # a pid as a number
        {"type": "kill_pid", "target": "4243", "reason": "not listed"},
        {"type": "restart_service", "target": "web.service"},  # no reason
        {"type": "format_disk", "target": "/", "reason": "x"},
        {"type": "alert", "target": None, "reason": "no key"},
        {"type": "alert", "target": SVC.key, "reason": "down", "message": "\x1b[31mred\x1b[0m"},
        {"type": "clean_disk", "target": None, "reason": "no disk problem"},
        {"type": "kill_pid", "target": "4242", "reason": "again"},
        "not an object")
    assert [(a.type, a.target, a.problem_key) for a in result.accepted] == [
        ("kill_pid", "4242", MEM.key), ("alert", None, SVC.key)]
    assert result.accepted[1].message == "red"  # escapes from the model are stripped too
    assert all(a.source == "llm" for a in result.accepted)
    whys = [r.why for r in result.refused]
    assert whys[0] == "target '4243' is not a candidate for kill_pid"
    assert whys[1].startswith("invalid proposal: reason")
    assert whys[2].startswith("invalid proposal: type")
    assert whys[3].startswith("alert needs the key of a current problem")
    assert whys[4].startswith("clean_disk is not a candidate")
    assert whys[5].startswith("duplicate")
    assert whys[6].startswith("invalid proposal")
    # a refused proposal keeps its problem key when it named one: its record says which
    assert result.refused[1].action.problem_key == SVC.key


def test_beyond_max_proposals_the_rest_is_refused_in_one() -> None:
    many = [{"type": "log", "target": None, "reason": f"n{n}"} for n in range(25)]
    result = review(*many)
    assert len(result.accepted) == 1  # the same (log, None) after the first is a duplicate
    assert result.refused[-1].n == 5 and result.refused[-1].why.startswith("too many")


def outcome(kind: str, result: str, key: str, **details: object) -> ActionOutcome:
    return ActionOutcome(Action(kind, "web.service", "r", "rules", key), result, "", details)


def test_a_failed_fix_is_judged_once_per_episode(tmp_path: Path) -> None:
    memory = Memory(str(tmp_path / "llm-memory.json"))
    entries = {SVC.key: {"streak": 2, "first_seen": 100.0}}
    failed = [outcome("restart_service", "failure", SVC.key)]
    cfg = Llm()
    assert memory.triggers([SVC], entries, failed, cfg, 200.0) == [
        f"unfixed {SVC.key}: restart_service failure"]
    memory.save()
    memory = Memory(str(tmp_path / "llm-memory.json"))
    assert memory.triggers([SVC], entries, failed, cfg, 500.0) == []  # already judged
    loop = [outcome("restart_service", "skipped", SVC.key, restart_loop=True)]
    entries = {SVC.key: {"streak": 2, "first_seen": 900.0}}  # a new episode
    assert memory.triggers([SVC], entries, loop, cfg, 1000.0) == [
        f"unfixed {SVC.key}: restart_service restart loop"]


def test_a_garbled_memory_file_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "llm-memory.json"
    path.write_text("{not json")
    memory = Memory(str(path))
    assert memory.cycles == [] and memory.over_budget(Llm(), 0.0) is None
    assert (tmp_path / "llm-memory.json.corrupt").exists()
