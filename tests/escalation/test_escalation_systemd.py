"""A restart that fails, end to end: a real systemd user manager in a private mount
namespace (tests/systemd_env.py), the bd and relay stand-ins on PATH, and cycles
whose clock steps through the restart backoff.

The story a person sees: one bead whose body names the problem key, its id in the
registry; the same failure for three more cycles is still that one bead, with
comments; the unit recovers and the bead is closed after the hold time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from escalation_helpers import QUIET, Env, records, start_time
from systemd_env import SystemdUserManager, systemd_user_manager

from argus.config import build_config
from argus.context import Context, make_context
from argus.cycle import run_once

pytestmark = [pytest.mark.root, pytest.mark.slow]

UNIT = "argus-e-fails.service"
SUBJECT = f"service:{UNIT}"


@pytest.fixture(scope="module")
def user_manager() -> Iterator[SystemdUserManager]:
    yield from systemd_user_manager()


def unit_context(env: Env, m: SystemdUserManager) -> Context:
    data: dict[str, Any] = {
        "tmux": {"sockets": []}, "processes": {"orphans": []}, "thresholds": dict(QUIET),
        # The restart happens for real, inside the namespace's user manager.
        "dry_run": False,
        "services": {"scope": "user", "systemd": [UNIT], "restart_allowed": [UNIT]},
        "restart": {"second_delay": 60, "third_delay": 300, "cooldown": 3600},
        "dedup": {"window": 300},
        "beads": {"workdir": str(env.tracker.root), "close_after": 600},
        "relay": {"enabled": True},
    }
    config = build_config(data, "test", {})
    return make_context(config, str(env.tmp_path / "state"), env={}, host="web-1",
                        runner=m.runner())


def cycle(ctx: Context, now: float) -> None:
    assert run_once(ctx, now).status == "ok"


def test_a_failing_restart_is_one_bead_commented_then_closed_when_the_unit_recovers(
        env: Env, user_manager: SystemdUserManager) -> None:
    m = user_manager
    m.write_unit(UNIT, "[Service]\nType=simple\nExecStart=/bin/sh -c 'echo boom; exit 3'\n")
    m.systemctl("start", UNIT, check=False)
    m.wait_for(UNIT, "ActiveState", ["failed"])
    ctx, t0 = unit_context(env, m), start_time()

    cycle(ctx, t0)  # restart attempt 1 fails
    rows = records(ctx, SUBJECT)
    assert [(r["action_taken"], r["action_result"]) for r in rows] == [
        (f"restart_service:{UNIT}", "failure"), ("alert", "success")]
    key = rows[0]["key"]
    [bead] = env.tracker.about(key)
    body = bead["description"].splitlines()
    assert body[-1] == f"Problem key: {key}"
    assert bead["title"] == f"[argus] service: Service {UNIT} is failed (exit code 3)"
    assert f"Why a bead: restart_service:{UNIT} failed" in body
    assert any(line.startswith(f"Action: restart_service:{UNIT} -> failure (attempt 1")
               for line in body)
    assert f"- unit: {UNIT}" in body and "- result: exit-code" in body
    assert {r["bead_id"] for r in rows} == {bead["id"]}

    for step in (1, 2, 3):  # attempts 2 and 3 fail (a restart loop), then the cooldown
        cycle(ctx, t0 + 400 * step)
    assert [i["id"] for i in env.tracker.about(key)] == [bead["id"]]
    comments = env.tracker.comments(bead["id"])
    assert len(comments) == 2  # attempt 2; attempt 3 with the loop; nothing in cooldown
    assert f"restart_service:{UNIT} failed at" in comments[0] and "attempt 2" in comments[0]
    assert "restart loop" in comments[1]
    rows = records(ctx, SUBJECT)
    assert rows[-1]["action_result"] == "skipped" and "cooling down" in rows[-1]["details"][
        "action_detail"]
    assert {r["bead_id"] for r in rows} == {bead["id"]}

    # The unit is fixed: the next cycle resolves it; the bead waits out close_after.
    m.write_unit(UNIT, "[Service]\nType=simple\nExecStart=/bin/sleep infinity\n")
    m.systemctl("reset-failed", UNIT)
    m.systemctl("start", UNIT)
    m.wait_for(UNIT, "ActiveState", ["active"])
    fixed_at = t0 + 1300
    cycle(ctx, fixed_at)
    resolved = records(ctx, SUBJECT)[-1]
    assert resolved["action_result"] == "resolved" and resolved["bead_id"] == bead["id"]
    cycle(ctx, fixed_at + 599)
    assert env.tracker.show(bead["id"])["status"] == "open"
    cycle(ctx, fixed_at + 600)
    assert env.tracker.show(bead["id"])["status"] == "closed"
    assert len(env.tracker.about(key)) == 1

    events = env.relay.events()
    assert [(e["event"], e["action_result"]) for e in events] == [
        ("argus.problem", "failure"),  # a new critical problem; the restart had failed
        ("argus.problem", "failure"),  # the restart loop (attempt 3)
        ("argus.resolved", "resolved")]
    assert all(e["bead_id"] == bead["id"] and e["key"] == key for e in events)
    assert events[0]["action_taken"] == f"restart_service:{UNIT}"
