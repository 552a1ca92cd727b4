"""The shipped argus-patterns.service and .timer, loaded by a real systemd (a user
manager in a private mount namespace, tests/systemd_env.py): the service runs the
analysis and files the day's bead under its own sandbox, and the timer is daily."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from patterns_helpers import episode, write_registry
from systemd_env import UNIT_DIR, SystemdUserManager, systemd_user_manager
from test_cli_beads import STANDINS, Tracker, emissions

pytestmark = [pytest.mark.root, pytest.mark.slow]

UNITS = Path(__file__).resolve().parents[2] / "packaging" / "systemd"


@pytest.fixture(scope="module")
def user_manager() -> Iterator[SystemdUserManager]:
    yield from systemd_user_manager()


def test_the_shipped_service_files_the_days_bead_under_its_sandbox(
        tmp_path: Path, user_manager: SystemdUserManager) -> None:
    m = user_manager
    state = tmp_path / "state"
    state.mkdir()
    now = time.time()
    records = []
    for hours_ago in (31, 67, 131):
        records += episode(now - hours_ago * 3600, 10, "probe:api", "service", "warning")
    write_registry(str(state / "problems.jsonl"), records)
    (tmp_path / "tracker").mkdir()
    tracker = Tracker(tmp_path / "tracker")

    service = (UNITS / "argus-patterns.service").read_text()
    assert "ExecStart=/opt/argus/bin/argus patterns --create-beads\n" in service
    off = unsupported_here(m, service)
    m.write_unit("argus-patterns.service", service, reload=False)
    # The test's own paths: this checkout's interpreter, state and tracker under /tmp
    # (hence no PrivateTmp), and no StateDirectory= (the user manager would put it in
    # the host's home). Every other line of the sandbox applies as shipped, but for
    # those this machine cannot set up even for /bin/true (``off``).
    dropin = Path(f"/proc/{m.shell_pid}/root{UNIT_DIR}/argus-patterns.service.d")
    dropin.mkdir(parents=True, exist_ok=True)
    path = f"{STANDINS}:{Path(sys.executable).parent}:/usr/bin:/bin"
    (dropin / "test.conf").write_text(
        "[Service]\nExecStart=\n"
        f"ExecStart={sys.executable} -m argus patterns --create-beads\n"
        f"Environment=ARGUS_STATE_DIR={state} PATH={path} BEADS_DIR={tracker.beads_dir} "
        f"TZ=UTC HOME={tmp_path}\n"
        f"StateDirectory=\nPrivateTmp=no\nReadWritePaths={state} {tracker.root}\n"
        + "".join(f"{name}={value}\n" for name, value in off.items()))
    m.systemctl("daemon-reload")
    started = m.systemctl("start", "argus-patterns.service", check=False)
    log = m.exec(["systemctl", "--user", "status", "--no-pager", "argus-patterns.service"])
    assert started.returncode == 0, started.stderr + log.stdout
    assert m.systemctl("show", "-p", "Result", "--value", "argus-patterns.service"
                       ).stdout.strip() == "success"
    emits, runs = emissions(state)
    assert [(r["beads"], r["emitted"]) for r in runs] == [("created", 1)]
    assert [e["kind"] for e in emits] == ["recurring_key"]
    [bead] = tracker.issues()
    assert json.dumps(bead["labels"]) == '["argus", "patterns"]'


def unsupported_here(m: SystemdUserManager, service: str) -> dict[str, str]:
    """Sandbox lines of ``service`` that fail here for any program (226/NAMESPACE in a
    container that cannot remount /proc/sys or has no /dev/kmsg), with the value that
    turns each off. argus-once.service has the same lines and the same limits here."""
    hardening = service.split("# --- hardening", 1)[1].splitlines()[1:]
    off: dict[str, str] = {}
    for line in hardening:
        name, eq, value = line.partition("=")
        if not eq or line.startswith(("#", "StateDirectory")):  # that one is in $HOME here
            continue
        m.write_unit("argus-probe.service",
                     f"[Service]\nType=oneshot\nExecStart=/bin/true\n{line}\n")
        if m.systemctl("start", "argus-probe.service", check=False).returncode != 0:
            assert value == "yes", f"{line}: fails here even for /bin/true"
            off[name] = "no"
    assert len(off) <= 3, off  # the rest of the sandbox must really be exercised
    return off


def test_the_shipped_timer_fires_daily(user_manager: SystemdUserManager) -> None:
    m = user_manager
    m.write_unit("argus-patterns.service", (UNITS / "argus-patterns.service").read_text(),
                 reload=False)
    m.write_unit("argus-patterns.timer", (UNITS / "argus-patterns.timer").read_text())
    # Loaded, not started: a started Persistent= timer writes its stamp file under the
    # home directory, which this namespace shares with the host.
    show = m.systemctl("show", "-p", "TimersCalendar", "-p", "Unit", "-p", "Persistent",
                       "-p", "LoadState", "argus-patterns.timer").stdout
    assert "LoadState=loaded" in show
    assert "OnCalendar=*-*-* 06:00:00" in show
    assert "Unit=argus-patterns.service" in show and "Persistent=yes" in show
    calendar = m.exec(["systemd-analyze", "calendar", "--iterations=2", "*-*-* 06:00:00"])
    assert calendar.returncode == 0 and "06:00:00" in calendar.stdout
