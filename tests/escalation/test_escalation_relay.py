"""Relay events from whole cycles: what lands in the agent's inbox, and in the
fallback file when Relay is disabled, missing, refusing or hung."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from escalation_helpers import (
    MEMORY_CRIT,
    MEMORY_WARN,
    QUIET,
    Env,
    host_context,
    records,
    start_time,
    with_thresholds,
)

from argus.context import Context
from argus.cycle import run_once
from argus.model import problem_key

MEMORY = "memory:host"
BODY_FIELDS = ["event", "severity", "type", "description", "action_taken", "action_result",
               "bead_id", "host", "ts", "key"]


def cycle(ctx: Context, now: float) -> None:
    assert run_once(ctx, now).status == "ok"


def test_a_new_critical_problem_and_its_resolution_are_published_once_each(env: Env) -> None:
    crit = host_context(env, MEMORY_CRIT, relay={"enabled": True})
    t0 = start_time()
    cycle(crit, t0)
    cycle(crit, t0 + 300)  # the same episode: nothing new to publish
    cycle(with_thresholds(crit, QUIET), t0 + 600)
    key = problem_key("memory", MEMORY)
    [problem, resolved] = [m for m in env.relay.inbox() if json.loads(m["body"])["key"] == key]
    assert problem["from"] == "argus" and problem["to"] == "athena"
    assert problem["priority"] == "high" and problem["type"] == "alert"
    assert problem["tags"] == ["argus", "problem", "memory"]
    body = json.loads(problem["body"])
    assert list(body) == BODY_FIELDS
    [bead] = env.tracker.about(key)
    first = records(crit, MEMORY)[0]
    assert body == {"event": "argus.problem", "severity": "critical", "type": "memory",
                    "description": first["description"], "action_taken": "alert",
                    "action_result": "success", "bead_id": bead["id"], "host": "web-1",
                    "ts": first["ts"], "key": first["key"]}
    after = json.loads(resolved["body"])
    assert after["event"] == "argus.resolved" and after["key"] == body["key"]
    assert after["bead_id"] == bead["id"] and after["action_result"] == "resolved"
    assert not Path(crit.paths.state_dir, "relay-fallback.jsonl").exists()


def test_a_warning_is_published_when_it_becomes_critical(env: Env) -> None:
    warn = host_context(env, MEMORY_WARN, relay={"enabled": True})
    t0 = start_time()
    cycle(warn, t0)
    key = problem_key("memory", MEMORY)
    assert [e for e in env.relay.events() if e["key"] == key] == []  # only logged
    crit = with_thresholds(warn, MEMORY_CRIT)
    cycle(crit, t0 + 300)
    cycle(crit, t0 + 600)
    assert [(e["event"], e["severity"]) for e in env.relay.events() if e["key"] == key] == [
        ("argus.problem", "critical")]


def fallback_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("down", ["not registered", "missing", "disabled", "hung"])
def test_relay_down_puts_every_event_in_the_fallback_file_in_order(
        env: Env, monkeypatch: pytest.MonkeyPatch, down: str) -> None:
    relay: dict[str, Any] = {"enabled": True, "timeout": 1}
    if down == "not registered":
        relay["to"] = "hermes"
    elif down == "missing":
        relay["bin"] = str(env.tmp_path / "no-such-relay")
    elif down == "disabled":
        relay["enabled"] = False
    else:
        monkeypatch.setenv("RELAY_STANDIN_HANG", "1")
    fallback = env.tmp_path / "spool" / "relay.jsonl"
    if down != "disabled":  # disabled: the default file in the state dir
        relay["fallback_file"] = str(fallback)
    crit = host_context(env, MEMORY_CRIT, relay=relay)
    calm = with_thresholds(crit, QUIET)
    t0 = start_time()
    cycle(crit, t0)
    cycle(calm, t0 + 300)
    cycle(crit, t0 + 600)  # back: a new episode, published again
    cycle(crit, t0 + 900)
    path = Path(crit.paths.state_dir, "relay-fallback.jsonl") if down == "disabled" else fallback
    rows = records(crit, MEMORY)
    lines = [e for e in fallback_lines(path) if e["key"] == rows[0]["key"]]
    assert [e["event"] for e in lines] == ["argus.problem", "argus.resolved", "argus.problem"]
    assert [e["ts"] for e in lines] == [rows[0]["ts"], rows[1]["ts"], rows[2]["ts"]]
    [bead] = env.tracker.about(rows[0]["key"])
    assert all(e["bead_id"] == bead["id"] and e["host"] == "web-1" for e in lines)
    expected = {"not registered": 'recipient "hermes" not registered',
                "missing": "not found", "disabled": "relay disabled",
                "hung": "timed out"}[down]
    assert all(expected in e["relay_error"] for e in lines)
    assert env.relay.inbox() == [] and env.relay.inbox("hermes") == []
