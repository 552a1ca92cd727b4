"""The collector's kill targets: ``killable`` and ``orphans`` in the ProcessSummary."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from act_helpers import Spawn, wait_for

from argus.collect.processes import collect_processes, proc_stat_identity
from argus.config import OrphanRule
from argus.detect.orphans import matching_rule

SLEEPER = "import time; time.sleep(600)"


def test_killable_lists_matching_live_processes_with_identity(
        spawn: Spawn, renamed_sleep: Callable[[str], str]) -> None:
    node = spawn([renamed_sleep("node"), "600"])
    zombie = spawn([renamed_sleep("node"), "600"])
    other = spawn([renamed_sleep("worker"), "600"])
    zombie.kill()  # our own child; not reaped yet, so it stays a zombie
    wait_for(lambda: (Path(f"/proc/{zombie.pid}/stat").read_bytes()
                      .rsplit(b")", 1)[1].split()[0] == b"Z"))

    summary, _ = collect_processes("/proc", top_n=3, now=time.time(), previous=None,
                                   kill_allowed=("^node$",))

    pids = {p.pid: p for p in summary.killable}
    assert node.pid in pids
    assert zombie.pid not in pids  # already exited: nothing to kill
    assert other.pid not in pids
    info = pids[node.pid]
    assert (info.start_ticks, info.name) == proc_stat_identity("/proc", node.pid)
    assert info.cmdline.endswith("node 600") and info.ppid == os.getpid()
    assert all(p.name == "node" for p in summary.killable)


def test_no_patterns_no_targets(spawn: Spawn, renamed_sleep: Callable[[str], str]) -> None:
    spawn([renamed_sleep("node"), "600"])
    summary, _ = collect_processes("/proc", top_n=3, now=time.time(), previous=None)
    assert summary.killable == () and summary.orphans == ()


def test_a_child_of_ours_is_never_an_orphan(spawn: Spawn, tmp_path: Path) -> None:
    node = tmp_path / "node"
    node.symlink_to(os.path.realpath(sys.executable))
    child = spawn([str(node), "-c", SLEEPER, "--test", "x"])
    summary, _ = collect_processes("/proc", top_n=3, now=time.time(), previous=None,
                                   kill_allowed=("^node$",), orphan_patterns=("node.*--test",))
    assert child.pid in {p.pid for p in summary.killable}
    assert child.pid not in {p.pid for p in summary.orphans}


def _fake_proc(root: Path, procs: list[tuple[int, str, str, int, int, bytes]]) -> None:
    """A /proc tree: (pid, comm, state, ppid, flags, cmdline) per process."""
    (root / "stat").write_text("cpu 0 0 0 0\nbtime 1700000000\n")
    (root / "meminfo").write_text("MemTotal: 1000000 kB\n")
    (root / "uptime").write_text("5000.00 9000.00\n")
    for pid, comm, state, ppid, flags, cmdline in procs:
        d = root / str(pid)
        d.mkdir()
        fields = [state, str(ppid), "1", "1", "0", "-1", str(flags)] + ["0"] * 12
        fields += [str(100 + pid), "0", "10"] + ["0"] * 28
        (d / "stat").write_text(f"{pid} ({comm}) {' '.join(fields)}\n")
        (d / "cmdline").write_bytes(cmdline)
        (d / "status").write_text("Name:\tx\nUid:\t0\t0\t0\t0\n")
        (d / "cgroup").write_text("0::/user.slice\n")


def test_orphans_on_a_proc_tree(tmp_path: Path) -> None:
    long_test = b"node\0" + b"--require=x\0" * 60 + b"--test\0a.js\0"  # --test past 700 chars
    _fake_proc(tmp_path, [
        (1, "init", "S", 0, 0, b"/sbin/init\0"),
        (2, "kthreadd", "S", 0, 0x00200000, b""),
        (50, "systemd", "S", 1, 0, b"/lib/systemd/systemd\0--user\0"),
        (76, "bash", "S", 1, 0, b"bash\0-c\0$BIN; true\0"),  # adopted, matches no rule
        (77, "bash", "S", 1, 0, b"bash\0-c\0node --test b.js; true\0"),  # adopted, matches
        (100, "node", "S", 1, 0, long_test),  # adopted by PID 1
        (101, "node", "S", 50, 0, b"node\0--test\0c.js\0"),  # adopted by a user manager
        (102, "node", "S", 77, 0, b"node\0--test\0b.js\0"),  # its shell's child
        (103, "node", "Z", 1, 0, b""),  # a zombie: never a candidate
        (104, "node", "S", 1, 0, b"node\0server.js\0"),  # an orphan that matches no rule
        (105, "kworker", "I", 2, 0x00200000, b""),
    ])
    summary, _ = collect_processes(str(tmp_path), top_n=3, now=1700005000.0, previous=None,
                                   kill_allowed=("node",), orphan_patterns=("node.*--test",))

    # The orphaned shell matches the rule on its command line too; it is not killable
    # (comm "bash"), so the guard's kill_allowed check keeps it alive.
    assert sorted(p.pid for p in summary.orphans) == [77, 100, 101]
    assert sorted(p.pid for p in summary.killable) == [100, 101, 102, 104]
    by_pid = {p.pid: p for p in summary.orphans}
    assert by_pid[100].start_ticks == 200
    assert len(by_pid[100].cmdline) > 700 and by_pid[100].cmdline.endswith("--test a.js")
    # The tracker matches the very text the collector matched, however long.
    rule = OrphanRule("node.*--test", 3)
    assert matching_rule(by_pid[100], (rule,)) == rule
