"""RestartBackoff with a fake clock: the whole ARG-006 schedule, persistence, bad files."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from argus.act.backoff import RestartBackoff
from argus.config import Restart

CFG = Restart(second_delay=60, third_delay=300, cooldown=3600)
UNIT = "nginx.service"
T0 = 1_800_000_000.0  # a fixed epoch: the clock is ours


def _backoff(tmp_path: Path, cfg: Restart = CFG) -> RestartBackoff:
    return RestartBackoff(str(tmp_path / "restart-backoff.json"), cfg)


def test_schedule_1_then_60s_then_300s_then_cooldown_then_starts_over(tmp_path: Path) -> None:
    b = _backoff(tmp_path)
    d = b.check(UNIT, T0)
    assert (d.allowed, d.attempt, d.next_at, d.in_cooldown) == (True, 1, None, False)
    assert b.record_attempt(UNIT, T0, success=False) is None

    d = b.check(UNIT, T0 + 59)
    assert (d.allowed, d.attempt, d.next_at, d.in_cooldown) == (False, 2, T0 + 60, False)
    assert "attempt 2 of 3 not before" in d.reason and "60s after attempt 1" in d.reason
    assert b.check(UNIT, T0 + 60).allowed
    assert b.record_attempt(UNIT, T0 + 61, success=False) is None

    d = b.check(UNIT, T0 + 61 + 299)
    assert (d.allowed, d.attempt, d.next_at) == (False, 3, T0 + 61 + 300)
    d = b.check(UNIT, T0 + 61 + 300)
    assert (d.allowed, d.attempt) == (True, 3)
    t3 = T0 + 361
    assert b.record_attempt(UNIT, t3, success=False) == "loop"

    # The cooldown runs from the third attempt; the loop is not reported again.
    for t in (t3 + 1, t3 + 600, t3 + 3599):
        d = b.check(UNIT, t)
        assert (d.allowed, d.next_at, d.in_cooldown) == (False, t3 + 3600, True)
        assert "restart loop" in d.reason
        assert b.note_unhealthy(UNIT, t) is None
    assert b.entry(UNIT)["cooldown_until"] == t3 + 3600

    # After the cooldown, a new series: attempt 1 at once, then 60 s again.
    d = b.check(UNIT, t3 + 3600)
    assert (d.allowed, d.attempt, d.in_cooldown) == (True, 1, False)
    assert b.record_attempt(UNIT, t3 + 3600, success=False) is None
    assert b.entry(UNIT)["attempts"] == 1
    assert b.entry(UNIT)["cooldown_until"] is None
    d = b.check(UNIT, t3 + 3610)
    assert (d.allowed, d.attempt, d.next_at) == (False, 2, t3 + 3660)
    # ... and the next loop of that series is reported again, once.
    b.record_attempt(UNIT, t3 + 3660, success=False)
    assert b.record_attempt(UNIT, t3 + 3960, success=False) == "loop"


def test_counter_resets_after_healthy_for_cooldown(tmp_path: Path) -> None:
    b = _backoff(tmp_path)
    b.record_attempt(UNIT, T0, success=True)
    for t in range(60, 3600, 300):  # seen active every cycle, not yet for a full cooldown
        b.note_healthy(UNIT, T0 + t)
        assert b.entry(UNIT)["attempts"] == 1
    b.note_healthy(UNIT, T0 + 3600)
    assert b.entry(UNIT)["attempts"] == 0
    assert b.units == {}  # forgotten, not kept as an empty entry
    d = b.check(UNIT, T0 + 3601)
    assert (d.allowed, d.attempt) == (True, 1)


def test_healthy_period_must_be_continuous(tmp_path: Path) -> None:
    b = _backoff(tmp_path)
    b.record_attempt(UNIT, T0, success=True)
    b.note_healthy(UNIT, T0 + 3000)
    b.note_unhealthy(UNIT, T0 + 3100)  # it died: the healthy period is over
    assert b.entry(UNIT)["healthy_since"] is None
    b.note_healthy(UNIT, T0 + 3200)  # back (restarted by someone else)
    b.note_healthy(UNIT, T0 + 6700)
    assert b.entry(UNIT)["attempts"] == 1  # only 3500 s in a row
    b.note_healthy(UNIT, T0 + 6800)
    assert b.entry(UNIT)["attempts"] == 0


def test_flapping_unit_keeps_counting(tmp_path: Path) -> None:
    b = _backoff(tmp_path)
    b.record_attempt(UNIT, T0, success=True)  # came back...
    b.note_healthy(UNIT, T0 + 30)
    assert b.note_unhealthy(UNIT, T0 + 100) is None  # ...and died again
    d = b.check(UNIT, T0 + 100)
    assert (d.allowed, d.attempt) == (True, 2)  # not attempt 1 again
    b.record_attempt(UNIT, T0 + 100, success=True)
    b.note_unhealthy(UNIT, T0 + 200)
    d = b.check(UNIT, T0 + 200)
    assert (d.allowed, d.attempt, d.next_at) == (False, 3, T0 + 400)
    assert b.record_attempt(UNIT, T0 + 400, success=True) is None  # back once more
    b.note_healthy(UNIT, T0 + 500)
    # Dying within the cooldown after a successful third attempt is the loop: once.
    assert b.note_unhealthy(UNIT, T0 + 600) == "loop"
    assert b.note_unhealthy(UNIT, T0 + 900) is None
    d = b.check(UNIT, T0 + 900)
    assert (d.allowed, d.in_cooldown, d.next_at) == (False, True, T0 + 4000)


def test_successful_third_attempt_that_holds_is_no_loop(tmp_path: Path) -> None:
    b = _backoff(tmp_path)
    for t in (T0, T0 + 60, T0 + 360):
        assert b.record_attempt(UNIT, t, success=True) is None
    for t in range(400, 3960, 300):
        b.note_healthy(UNIT, T0 + t)
    b.note_healthy(UNIT, T0 + 3960)
    assert b.units == {}
    assert b.note_unhealthy(UNIT, T0 + 4000) is None
    assert b.check(UNIT, T0 + 4000).attempt == 1


def test_units_are_independent(tmp_path: Path) -> None:
    b = _backoff(tmp_path)
    b.record_attempt("a.service", T0, success=False)
    assert not b.check("a.service", T0 + 1).allowed
    assert b.check("b.service", T0 + 1).allowed
    b.note_healthy("b.service", T0)  # a unit never restarted adds no entry
    assert set(b.units) == {"a.service"}


def test_persisted_across_instances_atomically(tmp_path: Path) -> None:
    b = _backoff(tmp_path)
    b.record_attempt(UNIT, T0, success=False)
    b.record_attempt(UNIT, T0 + 60, success=False)
    b.save()
    path = tmp_path / "restart-backoff.json"
    assert json.loads(path.read_text())["units"][UNIT]["attempts"] == 2
    assert os.listdir(tmp_path) == ["restart-backoff.json"]  # no temporary file left
    assert oct(path.stat().st_mode & 0o777) == "0o600"

    again = _backoff(tmp_path)  # as the next one-shot cycle would
    assert again.problem is None
    d = again.check(UNIT, T0 + 100)
    assert (d.allowed, d.attempt, d.next_at) == (False, 3, T0 + 360)
    assert again.record_attempt(UNIT, T0 + 360, success=False) == "loop"
    again.save()
    third = _backoff(tmp_path)
    assert third.check(UNIT, T0 + 400).in_cooldown
    assert third.note_unhealthy(UNIT, T0 + 400) is None  # reported once, across runs too


def test_corrupted_file_is_kept_aside_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "restart-backoff.json"
    path.write_bytes(b'{"version": 1, "units": {"nginx.serv')  # torn by a crash elsewhere
    b = _backoff(tmp_path)
    assert b.problem is not None and "corrupted" in b.problem
    assert (tmp_path / "restart-backoff.json.corrupt").exists()
    assert b.check(UNIT, T0).allowed
    b.record_attempt(UNIT, T0, success=False)
    b.save()
    assert _backoff(tmp_path).entry(UNIT)["attempts"] == 1


def test_malformed_entries_are_dropped_with_a_note(tmp_path: Path) -> None:
    good = {"attempts": 1, "last_attempt": T0, "cooldown_until": None,
            "healthy_since": None, "loop_reported": False}
    (tmp_path / "restart-backoff.json").write_text(json.dumps({"version": 1, "units": {
        "ok.service": good,
        "bad.service": {**good, "attempts": "many"},
        "odd.service": {"attempts": 1},
    }}))
    b = _backoff(tmp_path)
    assert set(b.units) == {"ok.service"}
    assert b.problem is not None and "bad.service, odd.service" in b.problem

    (tmp_path / "restart-backoff.json").write_text('{"version": 1, "units": []}')
    b = _backoff(tmp_path)
    assert b.units == {} and b.problem is not None and "no 'units' table" in b.problem


def test_clock_stepped_back_does_not_hold_longer_than_the_schedule(tmp_path: Path) -> None:
    b = _backoff(tmp_path)
    b.record_attempt(UNIT, T0, success=False)
    d = b.check(UNIT, T0 - 86400)  # NTP stepped the clock back a day
    assert d.next_at == T0 - 86400 + 60
    for t in (T0, T0 + 60, T0 + 360):
        b.record_attempt(UNIT, t, success=False)
    d = b.check(UNIT, T0 - 86400)
    assert d.in_cooldown and d.next_at == T0 - 86400 + 3600


def test_zero_delays_and_zero_cooldown(tmp_path: Path) -> None:
    b = _backoff(tmp_path, Restart(second_delay=0, third_delay=0, cooldown=0))
    for attempt in (1, 2, 3):
        d = b.check(UNIT, T0)
        assert (d.allowed, d.attempt) == (True, attempt)
        result = b.record_attempt(UNIT, T0, success=False)
    assert result == "loop"
    assert b.check(UNIT, T0).attempt == 1  # a zero cooldown is over at once


def test_compact_drops_stale_units_only(tmp_path: Path) -> None:
    b = _backoff(tmp_path)
    b.record_attempt("old.service", T0, success=False)
    b.record_attempt("new.service", T0 + 8 * 86400, success=False)
    b.compact(T0 + 8 * 86400)
    assert set(b.units) == {"new.service"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4000), st.booleans(), st.booleans()), max_size=60))
def test_no_attempt_ever_breaks_the_schedule(events: list[tuple[int, bool, bool]]) -> None:
    """Whatever the unit does, a caller that obeys check() never restarts faster than
    the schedule, and every loop is reported once per series."""
    b = RestartBackoff("/nonexistent/restart-backoff.json", CFG)  # never saved
    now = T0
    attempts: list[tuple[float, int]] = []
    loops = 0
    for dt, healthy, success in events:
        now += dt
        if healthy:
            b.note_healthy(UNIT, now)
        else:
            loops += b.note_unhealthy(UNIT, now) == "loop"
            d = b.check(UNIT, now)
            if d.allowed:
                attempts.append((now, d.attempt))
                loops += b.record_attempt(UNIT, now, success) == "loop"
            else:
                assert d.next_at is not None and d.next_at > now
    for (t1, n1), (t2, n2) in itertools.pairwise(attempts):
        if n2 == n1 + 1:
            assert t2 - t1 >= (CFG.second_delay if n2 == 2 else CFG.third_delay)
        else:
            # A new series starts at 1, only after a cooldown or a healthy cooldown
            # period, both of which began no earlier than the previous attempt.
            assert n2 == 1
            assert t2 - t1 >= CFG.cooldown
    assert loops <= sum(1 for _, n in attempts if n == 3)
