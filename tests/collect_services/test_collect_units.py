"""collect_units against a real systemd user manager (tests/systemd_env.py)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from systemd_env import SystemdUserManager

from argus.collect import services
from argus.errors import CollectError
from argus.runner import CommandResult, Runner, run_command

SLEEPER = "[Service]\nExecStart=/bin/sleep infinity\n"


class Spy:
    """Wraps a real runner and keeps the argv of every call (the command still runs)."""

    def __init__(self, run: Runner) -> None:
        self.run = run
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        self.calls.append(tuple(argv))
        return self.run(argv, timeout, **kw)


def _age_s(iso: str | None) -> float:
    assert iso is not None
    return (datetime.now(UTC) - datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")
            .replace(tzinfo=UTC)).total_seconds()


@pytest.mark.root
def test_running_failed_stopped_and_missing_units_in_one_call(
        user_manager: SystemdUserManager) -> None:
    m = user_manager
    m.write_unit("argus-t-run.service", SLEEPER, reload=False)
    m.write_unit("argus-t-fail.service",
                 "[Service]\nType=oneshot\nExecStart=/bin/false\n", reload=False)
    m.write_unit("argus-t-stopped.service", SLEEPER)
    m.systemctl("start", "argus-t-run.service", "argus-t-stopped.service")
    m.systemctl("stop", "argus-t-stopped.service")
    assert m.systemctl("start", "argus-t-fail.service", check=False).returncode != 0

    units = ("argus-t-run.service", "argus-t-fail.service", "argus-t-stopped.service",
             "argus-t-missing.service")
    spy = Spy(m.runner())
    run, failed, stopped, missing = services.collect_units(units, "user", spy, 10)

    assert spy.calls == [(
        "systemctl", "--user", "show", "--no-pager", "-p",
        "Id,LoadState,ActiveState,SubState,Result,NRestarts,ActiveEnterTimestamp,"
        "InactiveEnterTimestamp,StateChangeTimestamp,MainPID,ExecMainStatus",
        "--", *units)]

    assert (run.unit, run.scope, run.load_state) == ("argus-t-run.service", "user", "loaded")
    assert (run.active_state, run.sub_state, run.result) == ("active", "running", "success")
    assert run.main_pid > 0
    # Only the mount namespace is private: the unit's PID is a PID on this host.
    with open(f"/proc/{run.main_pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[:2] == [b"/bin/sleep", b"infinity"]
    assert 0 <= _age_s(run.since) < 120

    assert (failed.active_state, failed.sub_state) == ("failed", "failed")
    assert failed.result == "exit-code"
    assert failed.exec_status == 1
    assert failed.main_pid == 0
    assert 0 <= _age_s(failed.since) < 120

    assert (stopped.load_state, stopped.active_state, stopped.sub_state) == (
        "loaded", "inactive", "dead")
    assert stopped.main_pid == 0

    assert missing.load_state == "not-found"
    assert missing.active_state == "inactive"
    assert missing.exec_status is None
    assert missing.since is None  # never changed state: systemd prints an empty value


@pytest.mark.root
def test_manual_restart_changes_pid_but_not_nrestarts(user_manager: SystemdUserManager) -> None:
    """NRestarts counts the manager's automatic restarts (Restart=), not `systemctl restart`:
    whoever reads n_restarts for backoff must know a manual restart leaves it at 0."""
    m = user_manager
    m.write_unit("argus-t-manual.service", SLEEPER)
    m.systemctl("start", "argus-t-manual.service")
    (before,) = services.collect_units(("argus-t-manual.service",), "user", m.runner(), 10)
    m.systemctl("restart", "argus-t-manual.service")
    (after,) = services.collect_units(("argus-t-manual.service",), "user", m.runner(), 10)
    assert after.active_state == "active"
    assert after.main_pid not in (0, before.main_pid)
    assert after.n_restarts == before.n_restarts == 0


@pytest.mark.root
def test_automatic_restarts_are_counted(user_manager: SystemdUserManager) -> None:
    m = user_manager
    m.write_unit("argus-t-crashloop.service",
                 "[Service]\nExecStart=/bin/sh -c 'sleep 0.1; exit 3'\n"
                 "Restart=on-failure\nRestartSec=100ms\n")
    m.systemctl("start", "argus-t-crashloop.service")
    deadline = time.monotonic() + 10
    info = None
    while time.monotonic() < deadline:
        (info,) = services.collect_units(("argus-t-crashloop.service",), "user", m.runner(), 10)
        if info.n_restarts >= 2:
            break
        time.sleep(0.1)
    assert info is not None and info.n_restarts >= 2
    m.systemctl("stop", "argus-t-crashloop.service")


@pytest.mark.root
def test_local_time_zone_timestamps_convert_to_utc(
        user_manager: SystemdUserManager, monkeypatch: pytest.MonkeyPatch) -> None:
    """systemctl prints timestamps in the zone it inherits from Argus; both must agree."""
    m = user_manager
    m.write_unit("argus-t-tz.service", SLEEPER)
    m.systemctl("start", "argus-t-tz.service")
    unit = ("argus-t-tz.service",)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    (utc,) = services.collect_units(unit, "user", m.runner(), 10)
    try:
        for zone in ("America/New_York", "Asia/Kolkata"):
            monkeypatch.setenv("TZ", zone)
            time.tzset()
            raw = m.systemctl("show", "-p", "StateChangeTimestamp", "--value", *unit).stdout
            assert raw.split()[-1] in time.tzname  # really printed in local time
            (local,) = services.collect_units(unit, "user", m.runner(), 10)
            assert local.since == utc.since is not None
    finally:
        monkeypatch.undo()
        time.tzset()


def test_user_and_system_scope_argv() -> None:
    assert services.systemctl_argv(("a.service",), "user")[:3] == ["systemctl", "--user", "show"]
    system = services.systemctl_argv(("a.service", "b.service"), "system")
    assert system[:2] == ["systemctl", "show"] and "--user" not in system
    assert system[-3:] == ["--", "a.service", "b.service"]


def test_no_units_runs_nothing() -> None:
    def boom(*a: Any, **k: Any) -> CommandResult:
        raise AssertionError("must not run systemctl for no units")

    assert services.collect_units((), "system", boom, 10) == ()


# --- errors: each a CollectError with one clear line ---------------------------


@pytest.fixture
def systemctl_here() -> None:
    if shutil.which("systemctl") is None:
        pytest.skip("systemctl is not installed")


def test_no_user_manager_is_a_clear_collect_error(tmp_path: Any, systemctl_here: None) -> None:
    """XDG_RUNTIME_DIR pointing at an empty dir: no manager, no bus to connect to."""
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env["XDG_RUNTIME_DIR"] = str(tmp_path)

    def run(argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        return run_command(argv, timeout, env=env)

    with pytest.raises(CollectError) as exc:
        services.collect_units(("argus-t-x.service",), "user", run, 10)
    msg = str(exc.value)
    assert msg.startswith("systemctl --user show: exit 1: ")
    assert "Failed to connect to bus" in msg
    assert "\n" not in msg


def test_missing_systemctl_is_a_collect_error(tmp_path: Any) -> None:
    def run(argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        return run_command(argv, timeout, env={"PATH": str(tmp_path)})

    with pytest.raises(CollectError, match=r"^systemctl: systemctl not found"):
        services.collect_units(("a.service",), "system", run, 10)


@pytest.mark.root
def test_timeout_is_a_collect_error(user_manager: SystemdUserManager) -> None:
    with pytest.raises(CollectError, match=r"^systemctl --user show: timed out after 0.001s$"):
        services.collect_units(("a.service",), "user", user_manager.runner(), 0.001)


# --- parsing -------------------------------------------------------------------

# What systemd 252 printed for a missing service and a target, verbatim: the
# service-specific properties come before the unit ones.
SHOW_252 = """\
MainPID=0
Result=success
NRestarts=0
ExecMainStatus=0
Id=nope.service
LoadState=not-found
ActiveState=inactive
SubState=dead
StateChangeTimestamp=
ActiveEnterTimestamp=
InactiveEnterTimestamp=

Id=default.target
LoadState=loaded
ActiveState=active
SubState=active
StateChangeTimestamp=Mon 2026-11-30 10:20:10 UTC
ActiveEnterTimestamp=Mon 2026-11-30 10:20:10 UTC
InactiveEnterTimestamp=
"""


def test_parse_show_output_blocks_are_mappings() -> None:
    nope, target = services.parse_show_output(SHOW_252)
    assert nope["Id"] == "nope.service" and nope["MainPID"] == "0"
    assert target["StateChangeTimestamp"] == "Mon 2026-11-30 10:20:10 UTC"
    assert "MainPID" not in target


def test_block_count_mismatch_is_a_collect_error() -> None:
    def run(argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        return CommandResult(tuple(argv), 0, SHOW_252, "")

    with pytest.raises(CollectError, match="expected 3 unit blocks, got 2"):
        services.collect_units(("a.service", "b.service", "c.service"), "system", run, 10)


@pytest.mark.parametrize(("text", "iso"), [
    ("Mon 2026-11-30 10:16:09 UTC", "2026-11-30T10:16:09Z"),
    ("Mon 2026-11-30 10:16:09.123456 UTC", "2026-11-30T10:16:09Z"),
    ("2026-11-30 10:16:09 GMT", "2026-11-30T10:16:09Z"),
    ("", None),
    ("n/a", None),
    ("Mon 2026-13-45 10:16:09 UTC", None),
    ("Mon 2026-11-30 10:16:09 XYZT", None),  # a zone that is neither UTC nor ours
])
def test_parse_timestamp(text: str, iso: str | None) -> None:
    assert services.parse_timestamp(text) == iso


def test_parse_timestamp_in_a_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert services.parse_timestamp("Mon 2026-11-30 11:16:09 CET") == "2026-11-30T10:16:09Z"
        assert services.parse_timestamp("Sat 2026-07-04 12:00:00 CEST") == "2026-07-04T10:00:00Z"
    finally:
        monkeypatch.undo()
        time.tzset()
