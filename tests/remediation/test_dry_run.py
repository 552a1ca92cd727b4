"""``--dry-run`` and ``dry_run = true``: everything up to the guard, nothing on the host.

A failed allowlisted unit of a real systemd user manager, and a confirmed orphan in a
private PID namespace: each cycle decides to act, records ``dry_run``, and the unit
stays failed, the process stays alive. A dry run also leaves the restart backoff
alone: it made no attempt, so the next cycle would still make attempt 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from remediation_helpers import (
    QUIET_THRESHOLDS,
    about,
    argus_argv,
    clean_env,
    host_config,
    host_context,
    pid_namespace_reason,
    records,
    run_orphan_driver,
    story,
    toml,
)
from standins.telegram_server import TelegramServer
from systemd_env import SystemdUserManager

from argus.cycle import run_once

pytestmark = pytest.mark.root


def failed_unit(m: SystemdUserManager, unit: str, starts: Path) -> None:
    m.write_unit(unit, "[Service]\nType=simple\nRestart=no\n"
                       f"ExecStart=/bin/sh -c 'echo start >>{starts}; exit 4'\n")
    m.systemctl("start", unit, check=False)
    m.wait_for(unit, "ActiveState", ["failed"])


def show(m: SystemdUserManager, unit: str, prop: str) -> str:
    return m.systemctl("show", "-p", prop, "--value", "--", unit).stdout.strip()


def assert_untouched(m: SystemdUserManager, unit: str, starts: Path) -> None:
    assert show(m, unit, "ActiveState") == "failed"
    assert show(m, unit, "NRestarts") == "0"
    assert len(starts.read_text().splitlines()) == 1  # only the test's own start


def test_argus_run_once_dry_run_records_the_restart_it_would_make(
        tmp_path: Path, user_manager: SystemdUserManager,
        telegram_server: TelegramServer) -> None:
    m, unit = user_manager, "argus-d-cli.service"
    starts = tmp_path / "starts"
    failed_unit(m, unit, starts)
    config, state = tmp_path / "argus.toml", tmp_path / "state"
    config.write_text(toml({
        "dry_run": False,  # the flag alone must be enough
        "thresholds": dict(QUIET_THRESHOLDS),
        "services": {"scope": "user", "systemd": [unit], "restart_allowed": [unit]},
        "processes": {"orphans": []},
        "tmux": {"sockets": []},
    }))
    env = clean_env(TELEGRAM_BOT_TOKEN=telegram_server.token,
                    TELEGRAM_CHAT_ID=telegram_server.chat_id,
                    ARGUS_TELEGRAM_API_BASE=telegram_server.url)

    # The CLI runs in the manager's namespace, where `systemctl --user` reaches it.
    for _ in range(2):
        proc = m.exec(argus_argv(str(config), str(state), "run", "--once", "--dry-run",
                                 "--json"), env=env)
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        assert [(a["type"], a["target"], a["result"]) for a in report["actions"]
                if a["type"] == "restart_service"] == [("restart_service", unit, "dry_run")]

    rows = about(records(state / "problems.jsonl"), f"service:{unit}")
    restarts = [r for r in rows if r["action_taken"] == f"restart_service:{unit}"]
    # Both cycles would make attempt 1: a dry run is no attempt for the backoff.
    assert [(r["action_result"], r["details"]["attempt"]) for r in restarts] == [
        ("dry_run", 1), ("dry_run", 1)]
    assert restarts[0]["details"]["action_detail"] == "would restart (attempt 1)"
    assert restarts[0]["severity"] == "critical"
    assert_untouched(m, unit, starts)
    # Nothing was fixed, so a human hears of it, once (the second cycle is deduped),
    # with what Argus would have done.
    assert story(rows) == [(f"restart_service:{unit}", "dry_run"), ("alert", "success"),
                           (f"restart_service:{unit}", "dry_run"), ("alert", "suppressed")]
    host = report["host"]
    assert [t for t in telegram_server.texts() if unit in t] == [
        f"[{host}] CRITICAL service: Service {unit} is failed (exit code 4)\n"
        "restart_service dry_run: would restart (attempt 1)"]
    # No attempt was counted: a real cycle now would make attempt 1 at once.
    backoff = state / "restart-backoff.json"
    assert not backoff.exists() or unit not in json.loads(backoff.read_text())["units"]


def test_dry_run_in_the_config_records_the_restart_it_would_make(
        tmp_path: Path, user_manager: SystemdUserManager,
        telegram_server: TelegramServer) -> None:
    m, unit = user_manager, "argus-d-config.service"
    starts = tmp_path / "starts"
    failed_unit(m, unit, starts)
    config = host_config({"dry_run": True,
                          "services": {"scope": "user", "systemd": [unit],
                                       "restart_allowed": [unit]}}, telegram_server)
    ctx = host_context(tmp_path, config, runner=m.runner())
    assert ctx.dry_run

    report = run_once(ctx)

    assert [(o.action.type, o.result) for o in report.actions
            if o.action.target == unit] == [("restart_service", "dry_run")]
    rows = about(records(ctx.paths.problems), f"service:{unit}")
    assert [r["action_taken"] for r in rows if r["action_result"] == "dry_run"] == [
        f"restart_service:{unit}"]
    assert_untouched(m, unit, starts)
    assert story(rows) == [(f"restart_service:{unit}", "dry_run"), ("alert", "success")]
    assert [t for t in telegram_server.texts() if unit in t] == [
        f"[web-1] CRITICAL service: Service {unit} is failed (exit code 4)\n"
        "restart_service dry_run: would restart (attempt 1)"]


def test_a_confirmed_orphan_is_recorded_dry_run_and_left_alive(tmp_path: Path) -> None:
    reason = pid_namespace_reason()
    if reason:
        pytest.skip(reason)
    out = run_orphan_driver(tmp_path, after=1, runs=2, run_args=("--dry-run",))
    pid = out["orphan"]
    for run in out["runs"]:
        assert run["rc"] == 0, run["stderr"]
        assert [(a["type"], a["target"], a["result"]) for a in run["actions"]
                if a["type"] == "kill_pid"] == [("kill_pid", str(pid), "dry_run")]
        assert run["orphan_alive"] and run["kept_alive"]
    kills = [r for r in records(tmp_path / "state" / "problems.jsonl")
             if r["action_taken"].startswith("kill_pid")]
    assert [(r["action_taken"], r["action_result"]) for r in kills] == [
        (f"kill_pid:{pid}", "dry_run")] * 2
    assert kills[0]["details"]["pid"] == pid and kills[0]["details"]["signal"] is None
