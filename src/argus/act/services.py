"""Restarting a systemd unit, and proving it came back.

``systemctl restart`` exiting 0 proves little: for ``Type=simple`` it returns as
soon as the process is forked, so a service that crashes 200 ms after start still
"restarted fine". Success here means the unit is *active* when re-checked after a
short settle period; a unit that is ``failed``, ``inactive`` or in systemd's own
``auto-restart`` loop by then is a failed restart.

The guard (act/guard.py) checks the allowlist and the backoff before calling this;
the unit name is checked here again (defence in depth), so a name that could be
read as an option or a path never reaches systemctl.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

from argus.collect.services import collect_units
from argus.config_convert import unit_name_ok
from argus.errors import CollectError
from argus.model import ServiceInfo
from argus.runner import Runner
from argus.sanitize import safe_text

SCOPES = ("system", "user")
UNIT_NAME_MAX = 255  # systemd's UNIT_NAME_MAX is 256, NUL included
POLLS = 4  # re-checks within settle_s, after the one right after the restart
JOURNAL_LINE_MAX = 500  # characters per journal line kept (beads quote them)


class RestartResult(NamedTuple):
    """``ok``: the unit is active after the restart. ``detail``: one line for the
    record. ``active_state``/``sub_state``: as last seen (None if never read)."""

    ok: bool
    detail: str
    active_state: str | None
    sub_state: str | None


def refusal(unit: str, scope: str) -> str | None:
    """Why ``unit`` in ``scope`` must not be handed to systemctl, or None when fine.

    The same rule as config validation: systemd's unit-name characters and a known
    unit type; never a '/', a leading '-' (an option to systemctl) or '..'.
    """
    if scope not in SCOPES:
        return f"unknown scope {scope!r} (expected system or user)"
    if len(unit) > UNIT_NAME_MAX or not unit_name_ok(unit) or "/" in unit:
        return f"not a valid systemd unit name: {safe_text(unit, 80)!r}"
    return None


def _scope_flag(scope: str) -> list[str]:
    return ["--user"] if scope == "user" else []


def restart_unit(
    unit: str,
    scope: str,
    run: Runner,
    *,
    timeout: float = 30,
    settle_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> RestartResult:
    """``systemctl [--user] restart -- UNIT``, then check the unit stays active.

    ``timeout``: seconds for the restart (systemctl waits for the start job) and for
    each re-check. ``settle_s``: how long after the restart the unit must still be
    active; it is re-checked at once and ``POLLS`` more times within that period, so
    a crash right after start is caught, and failure is reported as soon as seen.
    """
    why = refusal(unit, scope)
    if why is not None:
        return RestartResult(False, f"refused: {why}", None, None)
    result = run(["systemctl", *_scope_flag(scope), "restart", "--", unit], timeout)
    if not result.ok:
        info, _ = _read_state(unit, scope, run, timeout)
        return RestartResult(False, f"systemctl restart failed: {result.describe()}",
                             info.active_state if info else None,
                             info.sub_state if info else None)
    return _settle(unit, scope, run, timeout, settle_s, sleep)


def _settle(unit: str, scope: str, run: Runner, timeout: float, settle_s: float,
            sleep: Callable[[float], None]) -> RestartResult:
    """Watch the unit for ``settle_s`` after a restart; the verdict of the last look."""
    step = max(settle_s, 0.0) / POLLS
    baseline: int | None = None
    info: ServiceInfo | None = None
    for i in range(POLLS + 1):
        if i:
            sleep(step)
        info, error = _read_state(unit, scope, run, timeout)
        if info is None:
            if i == POLLS:
                return RestartResult(False, f"restarted, but its state is unknown: {error}",
                                     None, None)
            continue  # one failed look is not a verdict; the next may work
        if baseline is None:
            # A manual restart sets NRestarts to 0; any rise after it means systemd
            # restarted the unit on its own (Restart=), i.e. it crashed meanwhile.
            baseline = info.n_restarts
        verdict = _verdict(info, baseline, final=i == POLLS, settle_s=settle_s)
        if verdict is not None:
            return verdict
    raise AssertionError("unreachable: the last poll always gives a verdict")


def _verdict(info: ServiceInfo, baseline: int, *, final: bool,
             settle_s: float) -> RestartResult | None:
    """The outcome from one look at the unit, or None to keep watching."""
    state, sub = info.active_state, info.sub_state

    def fail(detail: str) -> RestartResult:
        return RestartResult(False, detail, state, sub)

    if state == "failed":
        return fail(f"still failed after restart ({info.result or sub})")
    if state == "activating" and sub == "auto-restart":
        return fail(f"crashed after restart: activating (auto-restart), result {info.result}")
    if info.n_restarts > baseline:
        return fail(f"crashed after restart: systemd restarted it "
                    f"{info.n_restarts - baseline} time(s) within {settle_s:g}s")
    if state == "inactive":
        # Nothing will start it again by itself: no point in waiting.
        return fail(f"not active after restart: inactive ({sub}), result {info.result}")
    if not final:
        return None  # active, activating, deactivating, reloading: look again
    if state == "active":
        return RestartResult(True, f"active ({sub}) after restart", state, sub)
    return fail(f"not active {settle_s:g}s after restart: {state} ({sub})")


def _read_state(unit: str, scope: str, run: Runner,
                timeout: float) -> tuple[ServiceInfo | None, str | None]:
    """(the unit's state, None), or (None, why it could not be read)."""
    try:
        return collect_units((unit,), scope, run, timeout)[0], None
    except CollectError as err:
        return None, str(err)


def journal_tail(unit: str, scope: str, run: Runner, lines: int = 10,
                 timeout: float = 5) -> list[str]:
    """The last ``lines`` journal messages of ``unit`` (text only, oldest first).

    ``journalctl [--user] -u UNIT -n N --no-pager -o cat``. Any failure (journalctl
    missing, timed out, no access, a refused name) gives [] rather than an error:
    this is evidence for a report, never a reason to fail one. Control characters
    are replaced: a service writes what it likes to its log.

    Note that root's own user units log to the system journal, where
    ``journalctl --user`` does not look: for them this returns [].
    """
    if refusal(unit, scope) is not None or lines <= 0:
        return []
    argv = ["journalctl", *_scope_flag(scope), "-u", unit, "-n", str(lines),
            "--no-pager", "-o", "cat"]
    result = run(argv, timeout)
    if not result.ok:
        return []
    return [safe_text(line, JOURNAL_LINE_MAX) for line in result.stdout.splitlines()
            if line.strip()][-lines:]
