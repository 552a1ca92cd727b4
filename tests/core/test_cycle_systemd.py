"""A whole cycle against a real systemd user manager with a unit failed on purpose."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from standins.telegram_server import TelegramServer
from systemd_env import SystemdUserManager, systemd_user_manager

from argus.config import build_config
from argus.context import make_context
from argus.cycle import run_once
from argus.record.registry import iter_records

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def user_manager() -> Iterator[SystemdUserManager]:
    yield from systemd_user_manager()


def test_a_failed_unit_is_a_critical_problem_alerted_with_its_exit_code(
        tmp_path: Path, user_manager: SystemdUserManager,
        telegram_server: TelegramServer) -> None:
    user_manager.write_unit("argus-broken.service",
                            "[Service]\nType=simple\nExecStart=/bin/sh -c 'exit 3'\n")
    user_manager.write_unit("argus-fine.service",
                            "[Service]\nType=simple\nExecStart=/bin/sleep infinity\n")
    user_manager.systemctl("start", "argus-fine.service")
    user_manager.systemctl("start", "argus-broken.service", check=False)
    user_manager.wait_for("argus-broken.service", "ActiveState", ["failed"])
    config = build_config(
        {"services": {"scope": "user",
                      "systemd": ["argus-broken.service", "argus-fine.service",
                                  "argus-absent.service"]},
         "tmux": {"sockets": []}, "dry_run": True, "processes": {"orphans": []}},
        "test",
        {"TELEGRAM_BOT_TOKEN": telegram_server.token, "TELEGRAM_CHAT_ID": telegram_server.chat_id,
         "ARGUS_TELEGRAM_API_BASE": telegram_server.url})
    ctx = make_context(config, str(tmp_path / "state"), env={}, host="web-1",
                       runner=user_manager.runner())
    report = run_once(ctx)
    units = {s.unit: s for s in report.snapshot.services}
    assert units["argus-fine.service"].active_state == "active"
    assert units["argus-broken.service"].active_state == "failed"
    problems = {p.subject: p for p in report.problems}
    broken = problems["service:argus-broken.service"]
    assert broken.severity == "critical"
    assert broken.description == "Service argus-broken.service is failed (exit code 3)"
    assert "service:argus-fine.service" not in problems
    assert problems["service:argus-absent.service"].severity == "warning"
    assert any(t == "[web-1] CRITICAL service: Service argus-broken.service is failed "
                     "(exit code 3)" for t in telegram_server.texts())
    row = next(r for r in iter_records(ctx.paths.problems)
               if r["subject"] == "service:argus-broken.service")
    assert row["details"]["unit"] == "argus-broken.service"
    assert row["details"]["result"] == "exit-code"

    # The unit is fixed and started: the next cycle resolves it with one message.
    user_manager.write_unit("argus-broken.service",
                            "[Service]\nType=simple\nExecStart=/bin/sleep infinity\n")
    user_manager.systemctl("start", "argus-broken.service")
    user_manager.wait_for("argus-broken.service", "ActiveState", ["active"])
    report = run_once(ctx)
    assert broken.key in report.resolved
    assert telegram_server.texts()[-1].startswith(
        "[web-1] RESOLVED service: Service argus-broken.service is failed")
