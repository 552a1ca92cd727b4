"""kill_pid against real children: SIGTERM, SIGKILL after the grace, pid reuse, dry run.

Every process signalled here is a child this test spawned, picked by its pid.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

from act_helpers import PythonChild, Spawn, alive

from argus.act.processes import kill_process
from argus.collect.processes import collect_processes, read_process
from argus.model import ProcessInfo

IGNORES_TERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(600)
"""


def snapshot_entry(pid: int, kill_allowed: tuple[str, ...]) -> ProcessInfo:
    """``pid`` as this cycle's snapshot lists it among the killable processes."""
    summary, _ = collect_processes("/proc", top_n=5, now=time.time(), previous=None,
                                   kill_allowed=kill_allowed)
    found = [p for p in summary.killable if p.pid == pid]
    assert found, f"pid {pid} not in killable"
    return found[0]


def test_node_child_is_killed_with_sigterm(
        spawn: Spawn, renamed_sleep: Callable[[str], str]) -> None:
    child = spawn([renamed_sleep("node"), "600"])
    info = snapshot_entry(child.pid, ("node",))
    assert info.name == "node" and info.start_ticks > 0

    result = kill_process("/proc", info, grace_s=5.0)

    assert result.result == "success", result
    assert result.signal == "SIGTERM"
    assert result.detail.startswith("SIGTERM, exited after ")
    assert child.wait(timeout=5) == -signal.SIGTERM
    assert read_process("/proc", child.pid) is None


def test_child_ignoring_sigterm_gets_sigkill_after_the_grace(
        python_child: PythonChild) -> None:
    child = python_child(IGNORES_TERM)
    info = read_process("/proc", child.pid)
    assert info is not None

    start = time.monotonic()
    result = kill_process("/proc", info, grace_s=0.5)
    took = time.monotonic() - start

    assert result.result == "success", result
    assert result.signal == "SIGKILL"
    assert result.detail == "SIGKILL after 0.5s grace"
    assert 0.5 <= took < 5
    assert child.wait(timeout=5) == -signal.SIGKILL


def test_pid_reuse_is_detected_and_nothing_is_sent(
        spawn: Spawn, renamed_sleep: Callable[[str], str]) -> None:
    child = spawn([renamed_sleep("node"), "600"])
    info = snapshot_entry(child.pid, ("node",))
    # The snapshot's process started at another time: the pid now belongs to a
    # different process, as after pid reuse.
    stale = info._replace(start_ticks=info.start_ticks - 1)

    result = kill_process("/proc", stale, grace_s=0.5)

    assert result == ("skipped",
                      f"pid {child.pid} now belongs to another process (start time changed)",
                      None)
    assert alive(child.pid) and child.poll() is None


def test_renamed_process_is_skipped(spawn: Spawn, renamed_sleep: Callable[[str], str]) -> None:
    child = spawn([renamed_sleep("node"), "600"])
    info = snapshot_entry(child.pid, ("node",))
    result = kill_process("/proc", info._replace(name="claude"), grace_s=0.5)
    assert result.result == "skipped"
    assert result.detail == f"pid {child.pid} changed its name ('claude' -> 'node')"
    assert alive(child.pid)


def test_exited_and_zombie_targets_are_skipped(
        spawn: Spawn, renamed_sleep: Callable[[str], str]) -> None:
    child = spawn([renamed_sleep("node"), "600"])
    info = snapshot_entry(child.pid, ("node",))
    child.kill()  # our own child, by its Popen handle
    # Not reaped yet: a zombie has exited already and counts as gone.
    deadline = time.monotonic() + 5
    while alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    zombie = kill_process("/proc", info, grace_s=0.5)
    assert zombie == ("skipped", f"process {child.pid} exited before the kill", None)
    child.wait(timeout=5)
    gone = kill_process("/proc", info, grace_s=0.5)
    assert gone == ("skipped", f"process {child.pid} exited before the kill", None)


def test_dry_run_checks_everything_and_sends_nothing(
        spawn: Spawn, renamed_sleep: Callable[[str], str]) -> None:
    child = spawn([renamed_sleep("node"), "600"])
    info = snapshot_entry(child.pid, ("node",))

    result = kill_process("/proc", info, grace_s=5.0, dry_run=True)

    assert result.result == "dry_run" and result.signal is None
    assert f"pid {child.pid}" in result.detail
    time.sleep(0.1)
    assert alive(child.pid) and child.poll() is None
    # A dry run still notices a stale identity.
    stale = kill_process("/proc", info._replace(start_ticks=1), dry_run=True)
    assert stale.result == "skipped"


def test_pid_1_is_never_signalled_even_without_the_guard() -> None:
    fake = ProcessInfo(1, "node", "", "root", 0, 0.0, 0.0, 0.0, 0.0, 0, "S", None, 1)
    assert kill_process("/proc", fake, dry_run=False) == (
        "skipped", "pid 1 is never signalled", None)


def test_a_proc_tree_of_another_namespace_cannot_direct_a_signal(
        spawn: Spawn, renamed_sleep: Callable[[str], str], tmp_path: Path) -> None:
    # A fake /proc (a fixture, or a container's procfs) whose entry matches the
    # target's identity: its pids are not ours to signal, so nothing is sent.
    child = spawn([renamed_sleep("node"), "600"])
    info = snapshot_entry(child.pid, ("node",))
    (tmp_path / str(child.pid)).mkdir()
    (tmp_path / str(child.pid) / "stat").write_bytes(Path(f"/proc/{child.pid}/stat").read_bytes())

    result = kill_process(str(tmp_path), info, grace_s=0.5)

    assert result.result == "failure" and "not this PID namespace's /proc" in result.detail
    assert alive(child.pid)
