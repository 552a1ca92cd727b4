"""Per-unit restart backoff, remembered across Argus runs in ``restart-backoff.json``.

The schedule (roadmap ARG-006), for each unit:

- attempt 1 at once;
- attempt 2 not before ``restart.second_delay`` s after attempt 1;
- attempt 3 not before ``restart.third_delay`` s after attempt 2;
- after attempt 3 a ``restart.cooldown`` s pause, counted from attempt 3. If the
  unit is not healthy after attempt 3 that is a restart loop, reported ONCE (the
  caller records it and alerts); when the pause is over the schedule starts over
  at attempt 1.

A successful restart does not reset the count: a unit that comes back and dies
again (flapping) keeps climbing the schedule. Only staying healthy continuously
for ``cooldown`` s resets it. Without that, a unit that crashes a minute after
every start would be restarted every cycle forever, and never counted as a loop.

The clock is a parameter (``now``, epoch seconds) of every method, so the whole
schedule is tested with a fake clock. Nothing here touches systemd.

How a cycle uses it, for each watched unit (tests/act_services/test_backoff_systemd.py
drives exactly this): ``note_healthy`` when the unit is active, else
``note_unhealthy`` (which may report the loop, see there); for a restart action,
``check`` -> restart if allowed (else record ``skipped`` with ``next_at``) ->
``record_attempt`` (which may report the loop); ``save()`` once at the end.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from argus import config
from argus.record import state
from argus.timefmt import iso

MAX_ATTEMPTS = 3  # attempts per series; the third one ends it (cooldown)
KEEP_S = 7 * 86400  # entries without any event for this long are dropped by compact()
LOOP = "loop"


class BackoffDecision(NamedTuple):
    """Whether a restart of a unit may happen now.

    ``attempt``: the 1-based number this attempt would have in the current series
    (``MAX_ATTEMPTS + 1`` while in cooldown). ``next_at``: epoch seconds of the next
    allowed attempt when not allowed, else None.
    """

    allowed: bool
    attempt: int
    next_at: float | None
    in_cooldown: bool
    reason: str


def _fresh() -> dict[str, Any]:
    return {"attempts": 0, "last_attempt": None, "cooldown_until": None,
            "healthy_since": None, "loop_reported": False}


def _valid(entry: Any) -> bool:
    """An entry as save() writes it; anything else is dropped on load."""
    if not isinstance(entry, dict) or set(entry) != set(_fresh()):
        return False
    attempts = entry["attempts"]
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        return False
    times = (entry["last_attempt"], entry["cooldown_until"], entry["healthy_since"])
    if not all(t is None or (isinstance(t, (int, float)) and not isinstance(t, bool))
               for t in times):
        return False
    return isinstance(entry["loop_reported"], bool)


class RestartBackoff:
    """The backoff state of every unit Argus has restarted; load, mutate, ``save()``.

    ``problem`` is a one-line note when the file was unreadable or held entries
    Argus did not write, and was rebuilt (the bad file is kept as ``.corrupt``).
    """

    def __init__(self, path: str, cfg: config.Restart) -> None:
        self.path = path
        self.cfg = cfg
        data, self.problem = state.read_json(path, {"version": 1, "units": {}})
        units = data.get("units")
        if not isinstance(units, dict):
            units, self.problem = {}, f"{path}: no 'units' table; rebuilt"
        self.units: dict[str, dict[str, Any]] = {
            unit: entry for unit, entry in units.items() if _valid(entry)}
        if len(self.units) != len(units):
            dropped = sorted(set(units) - set(self.units))
            self.problem = f"{path}: dropped malformed entries for {', '.join(dropped)}"

    # --- questions ----------------------------------------------------------------

    def check(self, unit: str, now: float) -> BackoffDecision:
        """May ``unit`` be restarted at ``now``? Changes nothing."""
        e = self.units.get(unit)
        if e is None or e["attempts"] == 0:
            return BackoffDecision(True, 1, None, False, "attempt 1 of 3: immediately")
        until = self._cooldown_until(e, now)
        if until is not None:
            if now < until:
                return BackoffDecision(
                    False, e["attempts"] + 1, until, True,
                    f"restart loop: {e['attempts']} attempts; cooling down until "
                    f"{iso(until)} (cooldown {self.cfg.cooldown}s)")
            return BackoffDecision(True, 1, None, False,
                                   "attempt 1 of 3: cooldown over, schedule starts over")
        n = e["attempts"]
        delay = self.cfg.second_delay if n == 1 else self.cfg.third_delay
        # A clock stepped back must not hold a unit for longer than the schedule says.
        next_at = min(float(e["last_attempt"] or now), now) + delay
        what = f"attempt {n + 1} of 3"
        if now >= next_at:
            return BackoffDecision(True, n + 1, None, False,
                                   f"{what}: {delay}s after attempt {n} have passed")
        return BackoffDecision(False, n + 1, next_at, False,
                               f"{what} not before {iso(next_at)} ({delay}s after attempt {n})")

    def _cooldown_until(self, e: dict[str, Any], now: float) -> float | None:
        """End of the cooldown of entry ``e`` (perhaps already past), None outside one."""
        until = e["cooldown_until"]
        if until is None and e["attempts"] >= MAX_ATTEMPTS:
            # Only a hand-edited file gets here: record_attempt always sets it.
            until = float(e["last_attempt"] or now) + self.cfg.cooldown
        if until is None:
            return None
        return min(float(until), now + self.cfg.cooldown)  # the clock may have stepped back

    def entry(self, unit: str) -> dict[str, Any]:
        """A copy of the unit's state for diagnostics: attempts, last_attempt,
        cooldown_until, healthy_since (epoch seconds or None), loop_reported."""
        return dict(self.units.get(unit) or _fresh())

    # --- events -------------------------------------------------------------------

    def record_attempt(self, unit: str, now: float, success: bool) -> str | None:
        """Count a restart of ``unit`` made at ``now``; ``success``: active after it.

        Returns ``"loop"`` when this was the third attempt of the series and the unit
        is still not healthy: the restart loop, reported once per series.
        """
        e = self.units.setdefault(unit, _fresh())
        until = self._cooldown_until(e, now)
        if until is not None and now >= until:
            e.update(_fresh())  # the cooldown is over: a new series
        e["attempts"] += 1
        e["last_attempt"] = now
        # A verified restart starts the healthy period that may reset the count.
        e["healthy_since"] = now if success else None
        if e["attempts"] < MAX_ATTEMPTS:
            return None
        if e["cooldown_until"] is None or e["attempts"] == MAX_ATTEMPTS:
            e["cooldown_until"] = now + self.cfg.cooldown
        return None if success else self._report_loop(e)

    def note_healthy(self, unit: str, now: float) -> None:
        """The unit was seen active this cycle. Healthy for ``cooldown`` s in a row
        forgets its attempts (and ends a cooldown: it needs no more holding back)."""
        e = self.units.get(unit)
        if e is None:
            return  # never restarted: nothing to reset, and the file stays small
        since = e["healthy_since"]
        if since is None or since > now:
            e["healthy_since"] = since = now
        if now - since >= self.cfg.cooldown:
            del self.units[unit]

    def note_unhealthy(self, unit: str, now: float) -> str | None:
        """The unit was seen not active this cycle: its healthy period is over.

        Returns ``"loop"`` (once per series) when the third attempt had brought the
        unit back but it died again within the cooldown: that is a loop too, found
        here because no further attempt will be made to report it.
        """
        e = self.units.get(unit)
        if e is None:
            return None
        e["healthy_since"] = None
        until = self._cooldown_until(e, now)
        if until is not None and now < until:
            return self._report_loop(e)
        return None

    def _report_loop(self, e: dict[str, Any]) -> str | None:
        if e["loop_reported"]:
            return None
        e["loop_reported"] = True
        return LOOP

    # --- housekeeping -------------------------------------------------------------

    def compact(self, now: float) -> None:
        """Drop entries with no attempt for ``KEEP_S`` (or the cooldown, if longer)
        and no running cooldown: units since removed from the allowlist."""
        keep = max(KEEP_S, self.cfg.cooldown + self.cfg.third_delay)
        self.units = {
            unit: e for unit, e in self.units.items()
            if now - float(e["last_attempt"] or now) < keep
            or (e["cooldown_until"] is not None and now < e["cooldown_until"])
        }

    def save(self) -> None:
        """Write the file atomically (temporary file, fsync, rename)."""
        state.write_json(self.path, {"version": 1, "units": self.units})
