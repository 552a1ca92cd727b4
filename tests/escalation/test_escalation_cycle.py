"""Whole cycles on this host, escalating to the bd stand-in: what a person sees in
the tracker and in the registry.

Memory above a threshold of 0.2 % is a real critical problem here with no automatic
remedy (kill_hog_at is off), so it is alerted, and needs a person. Every cycle is a
dry run with orphan rules off; the clock is passed to ``run_once`` to step through
hours in a second.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

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
from argus.model import CycleReport, problem_key

MEMORY = "memory:host"
# Problems other than memory may show up on a busy host (a collector timing out):
# the assertions look at this key's beads only.
KEY = problem_key("memory", MEMORY)


def cycle(ctx: Context, now: float) -> CycleReport:
    report = run_once(ctx, now)
    assert report.status == "ok"
    return report


def key_of(report: CycleReport) -> str:
    return next(p.key for p in report.problems if p.subject == MEMORY)


def test_a_critical_problem_with_no_remedy_gets_one_bead_named_in_every_record(
        env: Env) -> None:
    ctx, t0 = host_context(env, MEMORY_CRIT), start_time()
    key = key_of(cycle(ctx, t0))
    for i in (1, 2):
        cycle(ctx, t0 + 300 * i)
    [bead] = env.tracker.about(KEY)
    assert bead["status"] == "open" and bead["priority"] == 1
    assert bead["labels"] == ["argus", "memory"] and bead["issue_type"] == "bug"
    assert bead["title"].startswith("[argus] memory: memory at ")
    body = bead["description"].splitlines()
    assert body[-1] == f"Problem key: {key}"
    assert "Host: web-1" in body and "Severity: critical" in body
    assert "Why a bead: no automatic remediation: a person was alerted" in body
    assert any(line.startswith("Action: alert -> success") for line in body)
    rows = records(ctx, MEMORY)
    assert len(rows) == 3 and {r["bead_id"] for r in rows} == {bead["id"]}
    # One lookup, one creation; then beads.json remembers: no bd call at all, and
    # nothing new happened, so no comment either.
    assert len(env.bd_calls("list", KEY)) == 1 and len(env.bd_calls("create", KEY)) == 1
    assert env.bd_calls("comments") == [] and env.tracker.comments(bead["id"]) == []
    assert json.loads(Path(ctx.paths.state_dir, "beads.json").read_text())["beads"][key][
        "id"] == bead["id"]


def test_a_logged_warning_gets_no_bead_until_it_is_alerted(env: Env) -> None:
    ctx, t0 = host_context(env, MEMORY_WARN), start_time()
    cycle(ctx, t0)
    cycle(ctx, t0 + 300)
    assert env.tracker.about(KEY) == [] and env.bd_calls(key=KEY) == []
    assert [r["action_taken"] for r in records(ctx, MEMORY)] == ["log", "log"]
    cycle(ctx, t0 + 600)  # third cycle in a row: the policy alerts, a person is told
    [bead] = env.tracker.about(KEY)
    assert "Severity: warning" in bead["description"] and bead["priority"] == 2
    assert [r["bead_id"] for r in records(ctx, MEMORY)] == [None, None, bead["id"]]


def test_a_warning_back_in_three_episodes_within_24h_gets_a_bead(env: Env) -> None:
    warn, t0 = host_context(env, MEMORY_WARN), start_time()
    calm = with_thresholds(warn, QUIET)
    for hour in range(3):
        cycle(warn, t0 + 3600 * hour)  # a one-cycle spike: logged only
        if hour < 2:
            cycle(calm, t0 + 3600 * hour + 300)
            assert env.tracker.about(KEY) == []
    [bead] = env.tracker.about(KEY)
    assert "Occurrences in 24 h: 3" in bead["description"]
    assert "seen 3 times in 24 h" in bead["description"]
    assert records(warn, MEMORY)[-1]["bead_id"] == bead["id"]


def test_a_recurrence_comments_on_the_open_bead_at_most_once_per_dedup_window(
        env: Env) -> None:
    crit, t0 = host_context(env, MEMORY_CRIT, dedup={"window": 3600}), start_time()
    calm = with_thresholds(crit, QUIET)
    cycle(crit, t0)
    cycle(calm, t0 + 300)  # resolved; the bead stays open (close_after 3600 s)
    cycle(crit, t0 + 3700)  # back: a second episode, an hour after the bead was made
    [bead] = env.tracker.about(KEY, "open")
    [first] = env.tracker.comments(bead["id"])
    assert first.startswith("seen again at ") and ", 2nd time in 24 h: memory at " in first
    cycle(calm, t0 + 3800)
    cycle(crit, t0 + 3900)  # flapping: a third episode within the window: no comment
    cycle(crit, t0 + 4200)
    assert len(env.tracker.comments(bead["id"])) == 1
    cycle(crit, t0 + 7400)  # the window is over: the episode is told, with its count
    comments = env.tracker.comments(bead["id"])
    assert len(comments) == 2 and ", 3rd time in 24 h" in comments[1]
    assert len(env.tracker.about(KEY)) == 1
    assert {r["bead_id"] for r in records(crit, MEMORY)} == {bead["id"]}


def test_the_bead_is_closed_once_resolved_for_close_after(env: Env) -> None:
    crit, t0 = host_context(env, MEMORY_CRIT, beads={"close_after": 600}), start_time()
    calm = with_thresholds(crit, QUIET)
    cycle(crit, t0)
    [bead] = env.tracker.about(KEY)
    cycle(calm, t0 + 300)
    resolved = records(crit, MEMORY)[-1]
    assert resolved["action_result"] == "resolved" and resolved["bead_id"] == bead["id"]
    cycle(calm, t0 + 600)
    cycle(calm, t0 + 899)  # resolved 599 s ago: still open
    assert env.tracker.show(bead["id"])["status"] == "open"
    cycle(calm, t0 + 900)
    closed = env.tracker.show(bead["id"])
    assert closed["status"] == "closed" and "Resolved: not seen since" in closed["close_reason"]
    assert not Path(crit.paths.state_dir, "beads.json").exists()  # nothing left to track


def test_without_auto_close_the_bead_stays_open(env: Env) -> None:
    crit = host_context(env, MEMORY_CRIT, beads={"auto_close": False, "close_after": 0})
    t0 = start_time()
    cycle(crit, t0)
    calm = with_thresholds(crit, QUIET)
    for hours in (1, 30):
        cycle(calm, t0 + 3600 * hours)
    assert [i["status"] for i in env.tracker.about(KEY)] == ["open"]
    assert env.bd_calls("close") == []


def test_60_open_beads_of_other_problems_do_not_hide_ours_upstream_duplicates(
        env: Env) -> None:
    """Upstream looked with ``bd list --status open --json``, which stops at 50, and
    created a duplicate for every problem whose bead was beyond them."""
    env.tracker.seed(60)
    crit, t0 = host_context(env, MEMORY_CRIT), start_time()
    key = key_of(cycle(crit, t0))
    [ours] = env.tracker.about(key)
    default_list = json.loads(env.tracker.bd("list", "--status", "open", "--json").stdout)
    assert ours["id"] not in {i["id"] for i in default_list}  # the trap is real
    os.unlink(Path(crit.paths.state_dir, "beads.json"))  # Argus forgets its beads
    cycle(crit, t0 + 300)
    assert [i["id"] for i in env.tracker.about(key, "open")] == [ours["id"]]
    others = [i for i in env.tracker.issues("open") if "Problem key: other:" in i["description"]]
    assert len(others) == 60  # untouched
    assert records(crit, MEMORY)[-1]["bead_id"] == ours["id"]
    assert len(env.tracker.comments(ours["id"])) == 1  # it recurred: a comment, not a bead


@pytest.mark.parametrize("how", ["bd missing", "beads disabled"])
def test_without_bd_cycles_stay_ok_with_one_log_line_each(
        env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        how: str) -> None:
    if how == "bd missing":
        monkeypatch.setenv("PATH", "/usr/bin:/bin")
        if shutil.which("bd"):
            pytest.skip("a real bd is installed in /usr/bin or /bin")
        ctx = host_context(env, MEMORY_CRIT)
    else:
        ctx = host_context(env, MEMORY_CRIT, beads={"enabled": False})
    t0 = start_time()
    with caplog.at_level(logging.INFO, logger="argus.tickets"):
        for i in range(2):
            cycle(ctx, t0 + 300 * i)
    skipped = [m for m in caplog.messages if "bead action(s) skipped" in m]
    assert len(skipped) == 2
    assert ("bd is not on PATH" if how == "bd missing" else "beads.enabled = false") in skipped[0]
    rows = records(ctx, MEMORY)
    assert rows and all(r["bead_id"] is None and "bead_error" not in r["details"] for r in rows)
    assert env.tracker.about(KEY) == []


@pytest.mark.parametrize("envelope", ["0", "1"])
def test_bd_output_in_either_shape_gives_the_same_story(
        env: Env, monkeypatch: pytest.MonkeyPatch, envelope: str) -> None:
    monkeypatch.setenv("BD_JSON_ENVELOPE", envelope)
    crit, t0 = host_context(env, MEMORY_CRIT, beads={"close_after": 0}), start_time()
    cycle(crit, t0)
    [bead] = env.tracker.about(KEY)
    assert records(crit, MEMORY)[-1]["bead_id"] == bead["id"]
    cycle(with_thresholds(crit, QUIET), t0 + 300)
    assert env.tracker.show(bead["id"])["status"] == "closed"


@pytest.mark.parametrize(("hook", "error"), [
    ("BD_STANDIN_GARBAGE", "create: bd printed something that is not JSON"),
    ("BD_STANDIN_ODD_ID", "create: bd create returned an invalid id"),
    ("BD_STANDIN_FAIL", "lookup: bd list: exit 1: database is locked"),
])
def test_a_misbehaving_bd_is_a_recorded_failure_and_never_a_duplicate(
        env: Env, monkeypatch: pytest.MonkeyPatch, hook: str, error: str) -> None:
    monkeypatch.setenv(hook, "create" if hook != "BD_STANDIN_FAIL" else "1")
    crit, t0 = host_context(env, MEMORY_CRIT), start_time()
    cycle(crit, t0)
    row = records(crit, MEMORY)[-1]
    assert row["bead_id"] is None and row["details"]["bead_error"].startswith(error)
    monkeypatch.delenv(hook)
    cycle(crit, t0 + 300)
    beads = env.tracker.about(KEY)
    row = records(crit, MEMORY)[-1]
    if hook == "BD_STANDIN_ODD_ID":
        # The bead exists, under an id Argus will not use: it says so, and makes no other.
        assert len(beads) == 1 and row["bead_id"] is None
        assert "invalid id" in row["details"]["bead_error"]
    else:
        # Garbage after the work (the bead exists: adopted) or a refusal (created now).
        assert len(beads) == 1 and row["bead_id"] == beads[0]["id"]
        assert "bead_error" not in row["details"]


def test_a_hung_bd_costs_one_timeout_and_the_cycle_goes_on(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BD_STANDIN_HANG", "1")
    # Two problems that need a bead: memory, and a TCP probe nobody answers.
    probe = {"tcp": [{"name": "db", "host": "127.0.0.1", "port": 1, "timeout": 1}]}
    crit = host_context(env, MEMORY_CRIT, beads={"timeout": 1}, services=probe)
    report = cycle(crit, start_time())
    assert report.duration_ms < 5000  # one timeout, not one per problem
    memory, db = records(crit, MEMORY)[-1], records(crit, "probe:db")[-1]
    assert {memory["details"]["bead_error"], db["details"]["bead_error"]} == {
        "lookup: bd list: timed out after 1s",
        "bd not called: bd list: timed out after 1s earlier this cycle"}
    assert memory["bead_id"] is None and db["bead_id"] is None
    assert len(env.bd_calls("list")) == 1
