"""The restart backoff honoured end to end, against a real systemd user manager.

Each ``_cycle`` does what the guard does for one watched unit in one cycle, with a
fresh RestartBackoff read from disk each time (as a one-shot cycle started by a
timer would): look at the unit, note healthy/unhealthy, check the backoff, restart
if allowed, record the attempt, save. Delays are shortened (1 s, 2 s, cooldown 4 s)
and time is real.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import pytest
from systemd_env import SystemdUserManager

from argus.act.backoff import RestartBackoff
from argus.act.services import restart_unit
from argus.collect.services import collect_units
from argus.config import Restart

TICK_S = 0.2  # time between cycles: far below the delays, so lateness is visible
SETTLE_S = 1.0  # the unit dies 0.1 s after start; early exit when seen failed


class Outcome(NamedTuple):
    result: str  # success | failure | skipped | healthy
    attempt: int
    at: float
    next_at: float | None
    loop: bool


def _cycle(m: SystemdUserManager, path: Path, cfg: Restart, unit: str) -> Outcome:
    now = time.time()
    backoff = RestartBackoff(str(path), cfg)
    assert backoff.problem is None
    run = m.runner()
    info = collect_units((unit,), "user", run, 10)[0]
    try:
        if info.active_state == "active":
            backoff.note_healthy(unit, now)
            return Outcome("healthy", 0, now, None, False)
        loop = backoff.note_unhealthy(unit, now) == "loop"
        decision = backoff.check(unit, now)
        if not decision.allowed:
            return Outcome("skipped", decision.attempt, now, decision.next_at, loop)
        result = restart_unit(unit, "user", run, settle_s=SETTLE_S)
        loop = backoff.record_attempt(unit, now, result.ok) == "loop" or loop
        return Outcome("success" if result.ok else "failure", decision.attempt, now, None, loop)
    finally:
        backoff.save()


def _starts(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.root
@pytest.mark.slow
def test_restart_loop_follows_the_schedule_and_reports_once(
        user_manager: SystemdUserManager, tmp_path: Path) -> None:
    m = user_manager
    cfg = Restart(second_delay=1, third_delay=2, cooldown=4)
    unit = "argus-b-loop.service"
    starts = tmp_path / "starts"  # the unit's own count of how often it was started
    m.write_unit(unit, f"[Service]\nExecStart=/bin/sh -c 'echo start >>{starts}; "
                       "sleep 0.1; exit 1'\n")
    m.systemctl("start", unit, check=False)
    m.wait_for(unit, "ActiveState", ["failed"])
    state = tmp_path / "restart-backoff.json"

    outcomes: list[Outcome] = []
    deadline = time.time() + 30
    # Until the first attempt of the series after the cooldown has been made.
    while sum(o.result == "failure" for o in outcomes) < 4:
        assert time.time() < deadline, outcomes
        outcomes.append(_cycle(m, state, cfg, unit))
        time.sleep(TICK_S)

    attempts = [o for o in outcomes if o.result != "skipped"]
    assert [(o.result, o.attempt) for o in attempts] == [
        ("failure", 1), ("failure", 2), ("failure", 3), ("failure", 1)]
    t1, t2, t3, t4 = (o.at for o in attempts)
    # Not before the delay, and not much after it either: a tick plus a restart,
    # with room for a loaded machine (other suites run systemd tests in parallel).
    slack = TICK_S + SETTLE_S + 2.5
    gaps = (t2 - t1, t3 - t2, t4 - t3)
    assert all(d <= gap <= d + slack for d, gap in zip((1, 2, 4), gaps, strict=True)), gaps

    # Held-back cycles say when the next attempt may happen.
    skipped = [o for o in outcomes if o.result == "skipped"]
    assert skipped and all(o.next_at is not None and o.next_at > o.at for o in skipped)
    before_2 = [o for o in skipped if t1 < o.at < t2]
    assert before_2 and all(o.next_at == pytest.approx(t1 + 1) for o in before_2)
    in_cooldown = [o for o in skipped if t3 < o.at < t4]
    assert len(in_cooldown) >= 5, outcomes  # 4 s of cycles every ~0.2 s, all held back
    assert all(o.next_at == pytest.approx(t3 + 4) for o in in_cooldown)

    # The loop was reported once: by the third attempt, not by the cycles after it.
    assert [o.at for o in outcomes if o.loop] == [t3]
    # systemd saw exactly the initial start plus the four attempts: nothing skipped
    # ever reached it.
    assert _starts(starts) == 1 + 4
    assert RestartBackoff(str(state), cfg).entry(unit)["attempts"] == 1


@pytest.mark.root
@pytest.mark.slow
def test_counter_resets_after_the_unit_stays_healthy_for_cooldown(
        user_manager: SystemdUserManager, tmp_path: Path) -> None:
    m = user_manager
    cfg = Restart(second_delay=1, third_delay=2, cooldown=3)
    unit = "argus-b-heals.service"
    m.write_unit(unit, "[Service]\nExecStart=/bin/sleep infinity\n")
    m.systemctl("start", unit)
    state = tmp_path / "restart-backoff.json"

    def kill() -> None:
        m.systemctl("kill", "-s", "KILL", "--", unit)
        m.wait_for(unit, "ActiveState", ["failed"])

    kill()
    first = _cycle(m, state, cfg, unit)
    assert (first.result, first.attempt) == ("success", 1)

    # Healthy for 1.5 s, less than the cooldown: dying again continues the series.
    while time.time() < first.at + 1.5:
        assert _cycle(m, state, cfg, unit).result == "healthy"
        time.sleep(TICK_S)
    kill()
    second = _cycle(m, state, cfg, unit)
    assert (second.result, second.attempt) == ("success", 2)

    # Healthy for the whole cooldown: the count is forgotten.
    while time.time() < second.at + cfg.cooldown + 0.5:
        assert _cycle(m, state, cfg, unit).result == "healthy"
        time.sleep(TICK_S)
    assert RestartBackoff(str(state), cfg).entry(unit)["attempts"] == 0
    kill()
    third = _cycle(m, state, cfg, unit)
    assert (third.result, third.attempt) == ("success", 1)  # not 3, and not held back
    m.systemctl("stop", unit)
