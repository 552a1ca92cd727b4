"""kill_pid: refuse what must never be signalled, then kill through a pidfd.

Two steps, both called by the guard:

- ``refusal`` says why a pid must not be killed (PID 1, Argus and its parent, kernel
  threads, the init/systemd/sshd/dbus family, ``oom_score_adj`` -1000, anything not
  in this cycle's snapshot or not allowlisted). It reads two small /proc files and
  spawns nothing: microseconds.
- ``kill_process`` re-checks the identity (pid + start time + name) right before
  acting, pins the process with a pidfd, checks again, then sends SIGTERM and, after
  the grace period, SIGKILL through that pidfd.

Why a pidfd (pidfd_open(2), pidfd_send_signal(2)): a plain kill(2) names a pid, and
between our check and the signal the process may exit and its pid go to an
unrelated process. A pidfd refers to one process for its whole life: once it is
open and the identity checked *after* opening, every signal sent through it reaches
that process or fails with ESRCH, never a newcomer on the same pid.
"""

from __future__ import annotations

import os
import re
import select
import signal
import time
from collections.abc import Mapping
from typing import NamedTuple

from argus.collect.processes import is_kernel_thread, read_stat
from argus.model import ProcessInfo

# Comm names (at most 15 characters: longer names arrive truncated) that are never
# killed, whatever the config or the LLM says. Matched against the whole name.
PROTECTED_NAMES: tuple[str, ...] = (
    r"init",  # SysV init, and what many containers run as PID 1
    r"systemd",  # the system manager and every user manager (systemd --user)
    r"systemd-.*",  # journald ("systemd-journal"), logind, udevd, resolved, networkd...
    r"\(sd-pam\)",  # a user manager's PAM session helper: killing it ends the session
    r"sshd(-.*)?",  # sshd, sshd-session, sshd-auth: the way in to fix this host
    r"dbus-.*",  # dbus-daemon, dbus-broker, dbus-broker-launch: the system bus
    r"(a|min)?getty",  # console logins
    r"login",
    r"journald|rsyslogd|syslog-ng|auditd",  # where the evidence goes
    r"udevd|polkitd",  # non-systemd builds of the same infrastructure
    r"kthreadd",  # parent of all kernel threads (also caught as a kernel thread)
)
_PROTECTED = re.compile("|".join(f"(?:{p})" for p in PROTECTED_NAMES))

# After SIGKILL a process still tears down its memory before it becomes a zombie
# (exit_mm runs before exit_notify): well under a second even for tens of GB, but a
# process in uninterruptible sleep (D, e.g. stuck on NFS) won't die at all, so the
# wait is bounded and that case reported as a failure.
KILL_WAIT_S = 5.0


class KillResult(NamedTuple):
    result: str  # "success", "failure", "skipped" or "dry_run"
    detail: str  # one line for the record: what was sent, how it ended
    signal: str | None  # the last signal sent ("SIGTERM" or "SIGKILL"); None if none


def is_protected(name: str) -> bool:
    """True when ``name`` (a comm) belongs to the families that are never killed."""
    return _PROTECTED.fullmatch(name) is not None


def name_allowed(name: str, kill_allowed: tuple[str, ...]) -> bool:
    """DESIGN.md: the comm matches a ``kill_allowed`` regex (re.search)."""
    return any(re.search(p, name) for p in kill_allowed)


def _oom_score_adj(proc_root: str, pid: int) -> int | None:
    """proc(5) /proc/PID/oom_score_adj; None when unreadable (the process is gone)."""
    try:
        with open(f"{proc_root}/{pid}/oom_score_adj", "rb") as fh:
            return int(fh.read().strip() or b"0")
    except (OSError, ValueError):
        return None


def refusal(
    proc_root: str,
    pid: int,
    *,
    snapshot_procs: Mapping[int, ProcessInfo],
    kill_allowed: tuple[str, ...],
    self_pid: int,
    parent_pid: int,
) -> str | None:
    """Why ``pid`` must not be killed, or None when it may be.

    The never-rules come first, so the recorded reason is the most telling one.
    Both the snapshot's name and the name read now are checked: a process that
    renamed itself since (prctl(PR_SET_NAME)) is judged by both.
    """
    if pid < 1:
        return f"pid {pid} is not a process (kill(2) reads 0 and below as process groups)"
    if pid == 1:
        return "PID 1 is never signalled"
    if pid == self_pid:
        return f"pid {pid} is Argus itself"
    if pid == parent_pid:
        return f"pid {pid} is Argus's parent"
    st = read_stat(proc_root, pid)
    if st is not None and is_kernel_thread(st):
        return f"pid {pid} is a kernel thread"
    snap = snapshot_procs.get(pid)
    names = [snap.name] if snap else []  # as the snapshot saw it, then as it is now
    if st is not None and (now := st.comm.decode("utf-8", "replace")) not in names:
        names.append(now)
    for name in names:
        if is_protected(name):
            return f"pid {pid} ({name!r}) is a protected system process"
    if snap is None:
        return f"pid {pid} is not a process in this cycle's snapshot"
    for name in names:
        if not name_allowed(name, kill_allowed):
            return f"pid {pid} ({name!r}) does not match processes.kill_allowed"
    if st is None or st.state == "Z":
        return f"process {pid} has exited"
    # earlyoom's rule: -1000 is how an admin says "the OOM killer must never take
    # this one" (proc(5)); Argus honours it too.
    if _oom_score_adj(proc_root, pid) == -1000:
        return f"pid {pid} ({snap.name!r}) has oom_score_adj -1000"
    return None


def _identity_problem(proc_root: str, expected: ProcessInfo) -> str | None:
    """None when ``expected.pid`` is still the same live process; else what changed.

    A zombie has exited already (it only waits for its parent to reap it).
    """
    pid = expected.pid
    st = read_stat(proc_root, pid)
    if st is None or st.state == "Z":
        return f"process {pid} exited before the kill"
    if st.starttime != expected.start_ticks:
        return f"pid {pid} now belongs to another process (start time changed)"
    name = st.comm.decode("utf-8", "replace")
    if name != expected.name:
        return f"pid {pid} changed its name ({expected.name!r} -> {name!r})"
    return None


def _wait_gone(fd: int, proc_root: str, expected: ProcessInfo, timeout: float) -> bool:
    """Wait up to ``timeout`` s for the process to exit; True once it has.

    pidfd_open(2): a pidfd polls readable (POLLIN) once the process has terminated,
    whether or not we are its parent (Linux >= 5.3), and not before its last thread
    is gone; a zombie is readable, so one its parent never reaps counts as gone. No
    sleep loop: the poll returns the moment it exits. /proc having no such process
    any more (reaped, or the pid reused) means the same.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    ms = max(0, int(timeout * 1000))
    if poller.poll(ms):
        return True
    st = read_stat(proc_root, expected.pid)
    return st is None or st.starttime != expected.start_ticks


def _same_pid_namespace(proc_root: str) -> bool:
    """Whether ``proc_root`` is the procfs of our own PID namespace.

    pidfd_open(2) takes a pid of the caller's namespace; checking identity in another
    procfs (a fixture tree, a container's /proc) and then signalling that number here
    could hit an unrelated process. proc(5): /proc/self links to the reader's pid as
    that procfs numbers it.
    """
    try:
        return os.readlink(f"{proc_root}/self") == str(os.getpid())
    except OSError:
        return False


def kill_process(
    proc_root: str, expected: ProcessInfo, *, grace_s: float = 5.0, dry_run: bool = False
) -> KillResult:
    """SIGTERM ``expected``, SIGKILL it after ``grace_s`` seconds, confirm it is gone.

    ``expected`` comes from this cycle's snapshot; its pid, ``start_ticks`` and name
    must still describe the live process, or nothing is sent ("skipped"). With
    ``dry_run`` every check runs and nothing is sent. The caller runs ``refusal``
    first; this function does not judge whether the target is allowed.
    """
    pid = expected.pid
    if pid <= 1:  # defence in depth: kill_process must never reach PID 1 or a group
        return KillResult("skipped", f"pid {pid} is never signalled", None)
    if not _same_pid_namespace(proc_root):
        return KillResult("failure", f"{proc_root} is not this PID namespace's /proc; "
                          "pids there cannot be signalled from here", None)
    problem = _identity_problem(proc_root, expected)
    if problem:
        return KillResult("skipped", problem, None)
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return KillResult("skipped", f"process {pid} exited before the kill", None)
    except OSError as err:  # ENOSYS before Linux 5.3: no safe way to signal
        return KillResult("failure", f"pidfd_open({pid}) failed: {err.strerror}", None)
    try:
        # The pid might have been reused between the check above and pidfd_open:
        # the pidfd then pins the newcomer. Checking again now closes that race.
        problem = _identity_problem(proc_root, expected)
        if problem:
            return KillResult("skipped", problem, None)
        if dry_run:
            return KillResult("dry_run", f"would send SIGTERM to pid {pid} "
                              f"({expected.name!r}), SIGKILL after {grace_s:g}s", None)
        return _terminate(fd, proc_root, expected, grace_s)
    finally:
        os.close(fd)


def _terminate(fd: int, proc_root: str, expected: ProcessInfo, grace_s: float) -> KillResult:
    pid = expected.pid
    start = time.monotonic()
    try:
        signal.pidfd_send_signal(fd, signal.SIGTERM)
    except ProcessLookupError:  # ESRCH: it exited after the check; nothing was sent
        return KillResult("skipped", f"process {pid} exited before the kill", None)
    except PermissionError:
        return KillResult("failure", f"not permitted to signal pid {pid}", None)
    if _wait_gone(fd, proc_root, expected, grace_s):
        return KillResult("success", f"SIGTERM, exited after {time.monotonic() - start:.1f}s",
                          "SIGTERM")
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
    except ProcessLookupError:  # it exited right at the end of the grace period
        return KillResult("success", f"SIGTERM, exited after {time.monotonic() - start:.1f}s",
                          "SIGTERM")
    if _wait_gone(fd, proc_root, expected, KILL_WAIT_S):
        return KillResult("success", f"SIGKILL after {grace_s:g}s grace", "SIGKILL")
    return KillResult("failure", f"still alive {KILL_WAIT_S:g}s after SIGKILL "
                      "(uninterruptible sleep?)", "SIGKILL")
