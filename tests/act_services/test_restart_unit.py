"""restart_unit and journal_tail against a real systemd user manager (tests/systemd_env.py)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from systemd_env import SystemdUserManager

from argus.act import services
from argus.runner import CommandResult, Runner

SLEEPER = "[Service]\nExecStart=/bin/sleep infinity\n"


class Spy:
    """Wraps a real runner; keeps every argv and result (the command still runs)."""

    def __init__(self, run: Runner) -> None:
        self.run = run
        self.calls: list[tuple[str, ...]] = []
        self.results: list[CommandResult] = []

    def __call__(self, argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        self.calls.append(tuple(argv))
        result = self.run(argv, timeout, **kw)
        self.results.append(result)
        return result


def _prop(m: SystemdUserManager, unit: str, prop: str) -> str:
    return m.systemctl("show", "-p", prop, "--value", "--", unit).stdout.strip()


def _cmdline(pid: int) -> list[bytes]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")[:2]


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.root
@pytest.mark.parametrize(("sig", "dead_state"), [("KILL", "failed"), ("TERM", "inactive")])
def test_unit_that_died_is_restarted_and_active_again(
        user_manager: SystemdUserManager, sig: str, dead_state: str) -> None:
    m = user_manager
    unit = f"argus-r-died-{sig.lower()}.service"
    m.write_unit(unit, SLEEPER)
    m.systemctl("start", unit)
    old_pid = int(_prop(m, unit, "MainPID"))
    m.systemctl("kill", "-s", sig, "--", unit)
    m.wait_for(unit, "ActiveState", [dead_state])

    spy = Spy(m.runner())
    result = services.restart_unit(unit, "user", spy, settle_s=0.4)

    assert result == services.RestartResult(True, "active (running) after restart",
                                            "active", "running")
    assert spy.calls[0] == ("systemctl", "--user", "restart", "--", unit)
    # Every later call is a re-check, never a second restart.
    assert all(call[2] == "show" for call in spy.calls[1:]) and len(spy.calls) >= 2
    new_pid = int(_prop(m, unit, "MainPID"))
    assert new_pid not in (0, old_pid)
    assert _cmdline(new_pid) == [b"/bin/sleep", b"infinity"]
    assert _gone(old_pid)
    assert _prop(m, unit, "ActiveState") == "active"


@pytest.mark.root
@pytest.mark.parametrize("exec_start", [
    "/bin/false",
    "/bin/sh -c 'sleep 0.2; exit 1'",  # dies after systemctl restart has already said 0
])
def test_unit_that_fails_on_every_start_is_a_failed_restart(
        user_manager: SystemdUserManager, exec_start: str) -> None:
    m = user_manager
    unit = f"argus-r-fails-{len(exec_start)}.service"
    m.write_unit(unit, f"[Service]\nExecStart={exec_start}\n")
    m.systemctl("start", unit, check=False)
    m.wait_for(unit, "ActiveState", ["failed"])

    spy = Spy(m.runner())
    result = services.restart_unit(unit, "user", spy, settle_s=2.0)

    # systemctl itself was happy: only the re-check shows the restart did not work.
    assert spy.results[0].ok
    assert result == services.RestartResult(
        False, "still failed after restart (exit-code)", "failed", "failed")
    assert _prop(m, unit, "ExecMainStatus") == "1"


@pytest.mark.root
def test_unit_crashing_into_systemds_own_restart_loop_is_a_failed_restart(
        user_manager: SystemdUserManager) -> None:
    m = user_manager
    unit = "argus-r-autorestart.service"
    m.write_unit(unit, "[Service]\nExecStart=/bin/sh -c 'sleep 0.2; exit 3'\n"
                       "Restart=always\nRestartSec=150ms\n")
    m.systemctl("start", unit)

    result = services.restart_unit(unit, "user", m.runner(), settle_s=1.5)

    assert not result.ok
    assert result.detail.startswith("crashed after restart: "), result.detail
    assert result.active_state in ("activating", "active")
    m.systemctl("stop", unit)


@pytest.mark.root
def test_missing_unit_reports_systemctls_reason(user_manager: SystemdUserManager) -> None:
    result = services.restart_unit("argus-r-missing.service", "user",
                                   user_manager.runner(), settle_s=0.2)
    assert not result.ok
    assert result.detail.startswith("systemctl restart failed: systemctl: exit 5: ")
    assert "argus-r-missing.service not found" in result.detail
    assert (result.active_state, result.sub_state) == ("inactive", "dead")


class NeverRun:
    """A runner that must not be called: refusals happen before any program runs."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        self.calls.append(tuple(argv))
        raise AssertionError(f"ran {argv!r}")


HOSTILE = ["../x", "../x.service", ";rm", "x.service;rm -rf /", "-x", "-x.service",
           "--help.service", "a/b.service", "x..service", "$(id).service", "x.service\n",
           "", "nginx", "a" * 300 + ".service"]


@pytest.mark.parametrize("unit", HOSTILE)
def test_hostile_unit_names_are_refused_without_running_anything(unit: str) -> None:
    run = NeverRun()
    result = services.restart_unit(unit, "user", run, settle_s=0)
    assert not result.ok
    assert result.detail.startswith("refused: not a valid systemd unit name"), result.detail
    assert (result.active_state, result.sub_state) == (None, None)
    assert services.journal_tail(unit, "system", run) == []
    assert run.calls == []


def test_unknown_scope_is_refused() -> None:
    run = NeverRun()
    result = services.restart_unit("nginx.service", "--system", run)
    assert (result.ok, result.detail) == (
        False, "refused: unknown scope '--system' (expected system or user)")
    assert run.calls == []


def test_valid_names_pass_the_check() -> None:
    for unit in ("nginx.service", "getty@tty1.service", "sys-devices-x\\x2dy.mount",
                 "app_2:web.socket"):
        assert services.refusal(unit, "system") is None


@pytest.fixture
def journald(user_manager: SystemdUserManager) -> Iterator[None]:
    """A real systemd-journald inside the manager's namespace, so units' output lands
    in a journal on the namespace's /run tmpfs (never the host's journal)."""
    m = user_manager
    if m.exec(["test", "-d", "/var/log/journal"]).returncode == 0:
        # Persistent storage would be the host's /var/log/journal: hide it.
        assert m.exec(["mount", "-t", "tmpfs", "argus-test-journal",
                       "/var/log/journal"]).returncode == 0
    if not os.access("/lib/systemd/systemd-journald", os.X_OK):
        pytest.skip("systemd-journald is not installed")
    proc = subprocess.Popen([*m.prefix(), "/lib/systemd/systemd-journald"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while m.exec(["test", "-S", "/run/systemd/journal/stdout"]).returncode != 0:
        assert time.monotonic() < deadline, "journald did not start"
        time.sleep(0.05)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.root
def test_journal_tail_returns_the_units_last_lines(
        user_manager: SystemdUserManager, journald: None) -> None:
    m = user_manager
    unit = "argus-r-journal.service"
    m.write_unit(unit, "[Service]\nExecStart=/bin/sh -c "
                       "'for i in 1 2 3 4 5; do echo line $$i; done; "
                       "printf \"evil \\\\033]0;title\\\\007end\\\\n\"; sleep 1; exit 2'\n")
    m.systemctl("start", unit, check=False)
    # The unit lingers a second after printing: journald tags a line with its unit
    # from the sender's cgroup, which it cannot read once a process has exited.
    m.wait_for(unit, "ActiveState", ["failed"], timeout=15)
    # In this namespace the manager runs in the root cgroup, so journald files its
    # units' output as system units: the system-scope query is the one that sees it.
    deadline = time.monotonic() + 5
    lines: list[str] = []
    while time.monotonic() < deadline and "evil end" not in lines:
        lines = services.journal_tail(unit, "system", m.runner(), lines=3)
        time.sleep(0.05)
    assert lines == ["line 4", "line 5", "evil end"]  # the OSC title escape is gone
    assert services.journal_tail("argus-r-none.service", "system", m.runner()) == []


@pytest.mark.root
def test_journal_tail_failure_is_an_empty_list(user_manager: SystemdUserManager) -> None:
    def missing(argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        return user_manager.runner()(["argus-no-such-journalctl", *argv[1:]], timeout)

    assert services.journal_tail("x.service", "user", missing) == []
