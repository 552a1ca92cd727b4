"""A real systemd user manager in a private mount namespace, for tests.

PID 1 on these machines is not systemd, but ``systemd --user`` runs fine once it
sees ``/run/systemd/system`` (the check ``sd_booted()`` makes) and has an
``$XDG_RUNTIME_DIR``. We give it both inside a private mount namespace with a
tmpfs on ``/run``, so nothing leaks to the host's ``/run`` (see CONTRACTS.md,
"A real systemd for tests").

Layout inside the namespace::

    /run/systemd/system           exists: makes systemd accept to run as user instance
    /run/user/0                   $XDG_RUNTIME_DIR (mode 700), the manager's sockets
    /run/user/0/systemd/user      runtime unit dir, where ``write_unit`` puts files

HOME is shared with the host, so unit files never go to ``~/.config/systemd/user``:
``$XDG_RUNTIME_DIR/systemd/user`` is on the manager's unit search path
(``systemctl --user show -p UnitPath``) and lives on the namespace's tmpfs.

Usage::

    with SystemdUserManager() as mgr:
        mgr.write_unit("demo.service", "[Service]\\nExecStart=/bin/sleep infinity\\n")
        mgr.systemctl("start", "demo.service")
        services.collect_units(("demo.service",), "user", mgr.runner(), 10)

or through the ``systemd_user_manager`` fixture factory at the bottom. The
manager outlives the namespace's shell (and its units outlive the manager when it
is SIGKILLed), so teardown signals the manager by PID, then every process still
in the namespace, each identified by its mount-namespace inode before it is
signalled, through a pidfd so a recycled PID is never hit.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from argus.runner import CommandResult, Runner, run_command

SYSTEMD = "/lib/systemd/systemd"
RUNTIME_DIR = "/run/user/0"
UNIT_DIR = f"{RUNTIME_DIR}/systemd/user"
START_TIMEOUT_S = 20.0

# $1: file to write "<shell pid> <manager pid>" to once the manager is up;
# $2: file the manager logs to (it has no journal here, so it logs to stderr).
# The shell then waits on the manager, so it reaps it when teardown stops it.
_BOOTSTRAP = r"""
set -u
ready=$1 log=$2
mount -t tmpfs -o mode=755 argus-test-run /run || exit 90
mkdir -p /run/systemd/system /run/user/0 && chmod 700 /run/user/0 || exit 91
export XDG_RUNTIME_DIR=/run/user/0
unset DBUS_SESSION_BUS_ADDRESS
SYSTEMD_LOG_TARGET=console "$SYSTEMD_BIN" --user </dev/null >>"$log" 2>&1 &
manager=$!
state=
for _ in $(seq 400); do
    state=$(systemctl --user is-system-running 2>/dev/null)
    case "$state" in
    running|degraded)
        echo "$$ $manager" >"$ready.tmp" && mv "$ready.tmp" "$ready"
        wait "$manager"
        exit 0 ;;
    esac
    kill -0 "$manager" 2>/dev/null || { echo "systemd --user exited early" >&2; exit 92; }
    sleep 0.05
done
echo "systemd --user not running after 20s (state: ${state:-none})" >&2
kill "$manager"
wait "$manager"
exit 93
"""


def unavailable_reason() -> str | None:
    """Why a namespaced user manager cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (mount namespace and a tmpfs on /run)"
    for tool in ("unshare", "nsenter", "systemctl", "bash"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.access(SYSTEMD, os.X_OK):
        return f"{SYSTEMD} is missing"
    return None


def _mnt_ns(pid: int) -> str | None:
    """``mnt:[inode]`` of a process, None when it is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


class SystemdUserManager:
    """One ``systemd --user`` in its own mount namespace; a context manager."""

    def __init__(self, start_timeout: float = START_TIMEOUT_S) -> None:
        self.start_timeout = start_timeout
        self.shell: subprocess.Popen[bytes] | None = None
        self.shell_pid = 0
        self.manager_pid = 0
        self.mnt_ns: str | None = None
        self._tmp = Path(tempfile.mkdtemp(prefix="argus-systemd-"))
        self.log_path = self._tmp / "systemd.log"

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> SystemdUserManager:
        """Start the namespace and the manager; pytest.skip when it cannot run here."""
        reason = unavailable_reason()
        if reason is not None:
            self._cleanup_tmp()
            pytest.skip(f"real systemd user manager unavailable: {reason}")
        ready = self._tmp / "ready"
        self.shell = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--",
             "bash", "-c", _BOOTSTRAP, "argus-systemd-ns", str(ready), str(self.log_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "SYSTEMD_BIN": SYSTEMD},
            start_new_session=True,  # our own process group: a ^C in pytest doesn't hit it
        )
        deadline = time.monotonic() + self.start_timeout + 5
        while not ready.exists():
            if self.shell.poll() is not None or time.monotonic() > deadline:
                err = self._failed_start_message()
                self.stop()
                # Not being allowed to unshare (an unprivileged container) is an
                # environment limit, not an Argus bug: skip with the reason.
                pytest.skip(f"real systemd user manager did not start: {err}")
            time.sleep(0.02)
        shell_pid, manager_pid = ready.read_text().split()
        self.shell_pid, self.manager_pid = int(shell_pid), int(manager_pid)
        self.mnt_ns = _mnt_ns(self.shell_pid)
        return self

    def _failed_start_message(self) -> str:
        assert self.shell is not None
        if self.shell.poll() is None:
            return f"not ready after {self.start_timeout:g}s"
        stderr = self.shell.stderr.read().decode(errors="replace") if self.shell.stderr else ""
        log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        tail = (stderr.strip() or log.strip()).splitlines()[-3:]
        return f"exit {self.shell.returncode}: {' | '.join(tail)}"

    def stop(self) -> None:
        """Stop the manager (it stops its units), then kill whatever is left in the namespace.

        SIGTERM makes a user manager start exit.target, which stops every unit
        (systemd(1), "Signals"); SIGKILL after that would orphan the units'
        processes, hence the sweep of the namespace afterwards.
        """
        if self.manager_pid:
            self._signal_in_ns(self.manager_pid, signal.SIGTERM)
            self._wait_gone([self.manager_pid], 10.0)
        leftovers = self._pids_in_ns()
        for pid in leftovers:
            self._signal_in_ns(pid, signal.SIGKILL)
        self._wait_gone(leftovers, 5.0)
        if self.shell is not None:
            if self.shell.poll() is None:
                self.shell.kill()
            self.shell.wait(5)
            if self.shell.stderr:
                self.shell.stderr.close()
        self.manager_pid = 0
        self._cleanup_tmp()

    def _cleanup_tmp(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> SystemdUserManager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _pids_in_ns(self) -> list[int]:
        """Every live process whose mount namespace is ours (never the host's)."""
        if self.mnt_ns is None or self.mnt_ns == _mnt_ns(os.getpid()):
            return []
        return [int(d) for d in os.listdir("/proc")
                if d.isdigit() and _mnt_ns(int(d)) == self.mnt_ns]

    def _signal_in_ns(self, pid: int, sig: signal.Signals) -> None:
        """Signal ``pid`` through a pidfd, only if it still lives in our namespace."""
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return  # already gone
        try:
            # Checked after opening the pidfd: from here on the PID cannot be recycled.
            if self.mnt_ns is not None and _mnt_ns(pid) == self.mnt_ns:
                signal.pidfd_send_signal(fd, sig)
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)

    @staticmethod
    def _wait_gone(pids: Sequence[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for pid in pids:
            while time.monotonic() < deadline:
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        # A zombie has exited; its parent (outside our reach) reaps it.
                        if f.read().rpartition(")")[2].split()[0] == "Z":
                            break
                except OSError:
                    break
                time.sleep(0.02)

    # --- running things inside -------------------------------------------------

    def prefix(self) -> list[str]:
        """argv prefix that runs a command inside the namespace, talking to this manager.

        ``systemctl --user`` finds the manager through ``$XDG_RUNTIME_DIR``: it
        connects to ``$XDG_RUNTIME_DIR/systemd/private`` and falls back to the
        user bus at ``$XDG_RUNTIME_DIR/bus``; a host DBUS_SESSION_BUS_ADDRESS
        would point it elsewhere, so it is dropped.
        """
        if not self.shell_pid:
            raise RuntimeError("SystemdUserManager is not started")
        return ["nsenter", f"--target={self.shell_pid}", "--mount", "--",
                "env", "-u", "DBUS_SESSION_BUS_ADDRESS", f"XDG_RUNTIME_DIR={RUNTIME_DIR}"]

    def exec(self, argv: Sequence[str], timeout: float = 30.0,
             **kw: Any) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace; text output captured, never raises on exit."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("check", False)
        return subprocess.run([*self.prefix(), *argv], timeout=timeout, **kw)

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``systemctl --user ARGS`` inside the namespace; raises on failure by default."""
        proc = self.exec(["systemctl", "--user", *args])
        if check and proc.returncode != 0:
            raise AssertionError(f"systemctl --user {' '.join(args)}: exit {proc.returncode}: "
                                 f"{proc.stderr.strip()}")
        return proc

    def write_unit(self, name: str, text: str, reload: bool = True) -> Path:
        """Write a unit file to the runtime unit dir, then ``daemon-reload``.

        The file is written through ``/proc/<shell>/root``, the namespace's view of
        the filesystem, so it lands on the namespace's tmpfs and never on the host.
        """
        unit_dir = Path(f"/proc/{self.shell_pid}/root{UNIT_DIR}")
        unit_dir.mkdir(parents=True, exist_ok=True)
        path = unit_dir / name
        path.write_text(text)
        if reload:
            self.systemctl("daemon-reload")
        return Path(UNIT_DIR) / name

    def wait_for(self, unit: str, prop: str, values: Sequence[str],
                 timeout: float = 10.0) -> str:
        """Poll ``systemctl --user show -p PROP --value UNIT`` until it is one of ``values``."""
        deadline = time.monotonic() + timeout
        value = ""
        while time.monotonic() < deadline:
            value = self.systemctl("show", "-p", prop, "--value", "--", unit).stdout.strip()
            if value in values:
                return value
            time.sleep(0.05)
        raise AssertionError(f"{unit}: {prop}={value!r}, expected one of {list(values)}")

    def runner(self) -> Runner:
        """A callable shaped like ``argus.runner.run_command`` that runs inside the namespace.

        The returned CommandResult carries the caller's argv (not the nsenter
        prefix), so error messages read as Argus would write them on a real host;
        exit 127 from ``env`` (program not found inside) is reported as missing.
        """
        prefix = self.prefix()

        def run(argv: Sequence[str], timeout: float, *, input_text: str | None = None,
                env: Mapping[str, str] | None = None, cwd: str | None = None) -> CommandResult:
            res = run_command([*prefix, *argv], timeout, input_text=input_text, env=env, cwd=cwd)
            return res._replace(argv=tuple(argv), missing=res.missing or res.returncode == 127)

        return run


def systemd_user_manager() -> Iterator[SystemdUserManager]:
    """Generator for a pytest fixture: ``fixture(scope=...)(systemd_user_manager)``."""
    mgr = SystemdUserManager()
    mgr.start()
    try:
        yield mgr
    finally:
        mgr.stop()
