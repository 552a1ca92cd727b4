"""Whole cycles restarting units of a real systemd user manager (issue 3, restart_service).

Each test watches units of its own in one module-wide ``systemd --user`` running in a
private mount namespace (tests/systemd_env.py), runs ``run_once`` with the real clock,
and checks what a user would see: the registry, the Telegram stand-in's messages,
and the unit's own state in systemd.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from remediation_helpers import about, host_config, host_context, records, story
from standins.telegram_server import TelegramServer
from systemd_env import SystemdUserManager

from argus.context import Context
from argus.cycle import run_once
from argus.model import CycleReport
from argus.timefmt import parse_iso

pytestmark = pytest.mark.root


def unit_context(tmp_path: Path, m: SystemdUserManager, units: list[str], allowed: list[str],
                 telegram: TelegramServer, **extra: Any) -> Context:
    """A real (not dry-run) cycle on this host, watching ``units`` in ``m``."""
    config = host_config({"services": {"scope": "user", "systemd": units,
                                       "restart_allowed": allowed},
                          "dry_run": False, **extra}, telegram)
    assert not config.dry_run and config.processes.orphans == ()
    return host_context(tmp_path, config, runner=m.runner())


def show(m: SystemdUserManager, unit: str, prop: str) -> str:
    return m.systemctl("show", "-p", prop, "--value", "--", unit).stdout.strip()


def texts_about(server: TelegramServer, unit: str) -> list[str]:
    return [t for t in server.texts() if unit in t]


def cycle(ctx: Context, now: float | None = None) -> CycleReport:
    report = run_once(ctx, now)
    assert report.status == "ok", report
    return report


def test_a_unit_that_died_is_restarted_without_bothering_anyone(
        tmp_path: Path, user_manager: SystemdUserManager,
        telegram_server: TelegramServer) -> None:
    m, unit = user_manager, "argus-r-dies.service"
    m.write_unit(unit, "[Service]\nType=simple\nRestart=no\nExecStart=/bin/sleep infinity\n")
    m.systemctl("start", unit)
    m.wait_for(unit, "ActiveState", ["active"])
    old_pid = show(m, unit, "MainPID")
    m.systemctl("kill", "-s", "KILL", "--", unit)
    m.wait_for(unit, "ActiveState", ["failed"])
    ctx = unit_context(tmp_path, m, [unit], [unit], telegram_server)

    report = cycle(ctx)

    rows = about(records(ctx.paths.problems), f"service:{unit}")
    assert story(rows) == [(f"restart_service:{unit}", "success")]
    row = rows[0]
    assert row["severity"] == "critical" and row["source"] == "rules"
    assert row["description"] == f"Service {unit} is failed (killed by SIGKILL)"
    assert row["details"]["unit"] == unit and row["details"]["attempt"] == 1
    assert row["details"]["active_state"] == "active"  # as re-checked after the restart
    assert row["details"]["action_detail"].startswith("attempt 1: active")
    # The unit really runs again, as a new process.
    assert show(m, unit, "ActiveState") == "active"
    assert show(m, unit, "MainPID") not in ("0", old_pid)
    # Fixed without a human: no alert, no Telegram message.
    assert [o.action.type for o in report.actions if o.action.problem_key == row["key"]] == [
        "restart_service"]
    assert texts_about(telegram_server, unit) == []

    # The next cycle sees it healthy and closes the problem, still quietly.
    report = cycle(ctx)
    assert row["key"] in report.resolved
    rows = about(records(ctx.paths.problems), f"service:{unit}")
    assert story(rows) == [(f"restart_service:{unit}", "success"), ("log", "resolved")]
    assert rows[1]["key"] == row["key"] and rows[1]["severity"] == "info"
    assert texts_about(telegram_server, unit) == []
    assert show(m, unit, "ActiveState") == "active"
    m.systemctl("stop", unit)


def test_a_unit_failing_on_every_start_walks_the_backoff_then_alerts_the_loop_once(
        tmp_path: Path, user_manager: SystemdUserManager,
        telegram_server: TelegramServer) -> None:
    m, unit = user_manager, "argus-r-loop.service"
    starts = tmp_path / "starts"  # the unit's own count of how often it was started
    m.write_unit(unit, "[Service]\nType=simple\nRestart=no\n"
                       f"ExecStart=/bin/sh -c 'echo start >>{starts}; exit 1'\n")
    m.systemctl("start", unit, check=False)
    m.wait_for(unit, "ActiveState", ["failed"])
    restart = {"second_delay": 1, "third_delay": 2, "cooldown": 30}
    ctx = unit_context(tmp_path, m, [unit], [unit], telegram_server, restart=restart)
    subject = f"service:{unit}"

    # (the cycle's clock reading, what it did about the unit)
    cycles: list[tuple[float, list[tuple[str, str, int | None]]]] = []
    after_loop = 0
    deadline = time.time() + 25
    while after_loop < 4:  # until four cycles into the cooldown
        assert time.time() < deadline, cycles
        start = time.time()  # the real clock, read once, as run_once itself would
        report = cycle(ctx, start)
        key = next((p.key for p in report.problems if p.subject == subject), None)
        cycles.append((start, [(o.action.type, o.result, o.details.get("attempt"))
                               for o in report.actions if o.action.problem_key == key]))
        if after_loop or any(o.details.get("restart_loop") for o in report.actions):
            after_loop += 1
        time.sleep(0.3)

    # Attempts came no earlier than the schedule allows, and not much later either
    # (a tick, a cycle and a restart, with room for a loaded machine).
    tried = [(at, n) for at, done in cycles for kind, result, n in done
             if kind == "restart_service" and result != "skipped"]
    assert [n for _, n in tried] == [1, 2, 3], cycles
    (t1, _), (t2, _), (t3, _) = tried
    assert 1 <= t2 - t1 <= 1 + 5 and 2 <= t3 - t2 <= 2 + 5, (t1, t2, t3)
    assert all(done for _, done in cycles), cycles  # every cycle did something about it

    rows = about(records(ctx.paths.problems), subject)
    restarts = [r for r in rows if r["action_taken"] == f"restart_service:{unit}"]
    attempts = [r for r in restarts if r["action_result"] != "skipped"]
    held = [r for r in restarts if r["action_result"] == "skipped"]

    # Three attempts, each one failed, and nothing else ever reached systemd.
    assert [(r["action_result"], r["details"]["attempt"]) for r in attempts] == [
        ("failure", 1), ("failure", 2), ("failure", 3)]
    assert len(starts.read_text().splitlines()) == 1 + 3
    assert show(m, unit, "ActiveState") == "failed"
    assert [r["details"].get("restart_loop") for r in attempts] == [None, None, True]
    loop_until = attempts[2]["details"]["next_attempt_at"]
    assert parse_iso(loop_until) == pytest.approx(t3 + 30, abs=1)

    # Held-back cycles are recorded "skipped" with the time of the next attempt.
    assert held, rows
    for r in held:
        next_at = parse_iso(r["details"]["next_attempt_at"])
        assert next_at is not None and next_at >= parse_iso(r["ts"]), r
        assert r["details"]["action_detail"].startswith("backoff: ")
    # Split the held-back records by the attempt they wait for (positions in the file).
    at = [i for i, r in enumerate(rows) if r["action_taken"] == f"restart_service:{unit}"
          and r["action_result"] != "skipped"]
    waits = [(i, r) for i, r in enumerate(rows) if r["action_result"] == "skipped"]
    assert [r for _, r in waits] == held
    before_2 = [r for i, r in waits if at[0] < i < at[1]]
    before_3 = [r for i, r in waits if at[1] < i < at[2]]
    cooling = [r for i, r in waits if i > at[2]]
    assert len(before_2) + len(before_3) + len(cooling) == len(held)
    assert before_2 and before_3 and len(cooling) >= 3
    assert {r["details"]["next_attempt_at"] for r in before_2} == {
        _iso_plus(attempts[0]["ts"], 1)}
    assert {r["details"]["next_attempt_at"] for r in before_3} == {
        _iso_plus(attempts[1]["ts"], 2)}
    assert {r["details"]["next_attempt_at"] for r in cooling} == {loop_until}
    assert all("cooling down" in r["details"]["action_detail"] for r in cooling)

    # The registry tells the story in order: attempt, alert, waits, attempt (alert
    # suppressed: the human already knows), waits, attempt 3 and the loop alert, waits.
    compact = _squeeze(story(rows))
    assert compact == [
        (f"restart_service:{unit}", "failure"), ("alert", "success"),
        (f"restart_service:{unit}", "skipped"),
        (f"restart_service:{unit}", "failure"), ("alert", "suppressed"),
        (f"restart_service:{unit}", "skipped"),
        (f"restart_service:{unit}", "failure"), ("alert", "success"),
        (f"restart_service:{unit}", "skipped"),
    ], story(rows)

    # Telegram: the first failure, then exactly one message about the loop, however
    # many cycles ran in the cooldown.
    sent = texts_about(telegram_server, unit)
    assert len(sent) == 2, sent
    assert sent[0].startswith(f"[web-1] CRITICAL service: Service {unit} is failed")
    assert "restart_service failure: attempt 1" in sent[0]
    assert "restart loop" not in sent[0]
    assert [t for t in sent if "restart loop" in t] == [sent[1]]
    assert "restart_service failure: attempt 3" in sent[1]
    assert f"restart loop: backoff exhausted, no restart before {loop_until}" in sent[1]


def _iso_plus(ts: str, seconds: float) -> str:
    from argus.timefmt import iso

    base = parse_iso(ts)
    assert base is not None
    return iso(base + seconds)


def _squeeze(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Runs of the same (action, result) as one entry."""
    out: list[tuple[str, str]] = []
    for pair in pairs:
        if not out or out[-1] != pair:
            out.append(pair)
    return out


def test_a_failed_unit_outside_the_allowlist_is_alerted_and_never_touched(
        tmp_path: Path, user_manager: SystemdUserManager,
        telegram_server: TelegramServer) -> None:
    m, unit = user_manager, "argus-r-foreign.service"
    starts = tmp_path / "starts"
    m.write_unit(unit, "[Service]\nType=simple\nRestart=no\n"
                       f"ExecStart=/bin/sh -c 'echo start >>{starts}; exit 2'\n")
    m.systemctl("start", unit, check=False)
    m.wait_for(unit, "ActiveState", ["failed"])
    # Something else is allowlisted, so the restart machinery is live this cycle.
    ctx = unit_context(tmp_path, m, [unit], ["argus-r-other.service"], telegram_server)

    cycle(ctx)
    cycle(ctx)

    rows = about(records(ctx.paths.problems), f"service:{unit}")
    assert not [r for r in rows if r["action_taken"].startswith("restart_service")]
    assert story(rows) == [("alert", "success"), ("alert", "suppressed")]
    assert rows[0]["severity"] == "critical"
    assert rows[0]["description"] == f"Service {unit} is failed (exit code 2)"
    assert show(m, unit, "ActiveState") == "failed"
    assert show(m, unit, "NRestarts") == "0"
    assert len(starts.read_text().splitlines()) == 1  # only the test's own start
    assert texts_about(telegram_server, unit) == [
        f"[web-1] CRITICAL service: Service {unit} is failed (exit code 2)"]
