"""The orphan flow, run as PID 1 of a private PID namespace (not a test module).

    unshare --pid --fork --mount-proc python ns_orphan_flow.py   (env ARGUS_NS_WORK=DIR)

Inside the namespace this script is PID 1, so a double-forked process is adopted by
it: an orphan by DESIGN.md's definition, without touching anything on the host.
Like this CI host's own PID 1, it does not reap orphans on its own, so a killed
orphan stays a zombie. The ``node`` look-alikes are this Python interpreter started
through a symlink named ``node`` (the kernel takes comm from the basename of the
path given to execve(2)); /bin/sleep can't stand in, GNU sleep rejects ``--test``.
Prints one JSON object with what each step saw; test_act_orphans_ns.py asserts on it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from argus.act.processes import kill_process, refusal
from argus.collect.processes import collect_processes, proc_stat_identity, read_stat
from argus.config import OrphanRule
from argus.detect.orphans import OrphanTracker
from argus.model import ProcessInfo, ProcessSummary

WORK = os.environ["ARGUS_NS_WORK"]
NODE = os.path.join(WORK, "node")
SLEEPER = "import time; time.sleep(600)"
NODE_TEST = [NODE, "-c", SLEEPER, "--test", "x"]  # cmdline: ".../node -c ... --test x"
RULES = (OrphanRule("node.*--test", 3),)
STATE = os.path.join(WORK, "orphans.json")
out: dict[str, Any] = {"pid": os.getpid()}


def wait_comm(pid: int, name: str) -> None:
    deadline = time.monotonic() + 10
    while (ident := proc_stat_identity("/proc", pid)) is None or ident[1] != name:
        if time.monotonic() > deadline:
            raise SystemExit(f"pid {pid} never became {name}")
        time.sleep(0.005)


def double_fork(argv: list[str], want_pid: int | None = None) -> int:
    """Start ``argv`` as a grandchild whose parent exits: PID 1 (us) adopts it.

    With ``want_pid`` the grandchild gets exactly that pid, through ns_last_pid
    (pid_namespaces(7)): the middle process takes want_pid - 1, the grandchild the next.
    """
    if want_pid is not None:
        with open("/proc/sys/kernel/ns_last_pid", "w") as fh:
            fh.write(str(want_pid - 2))
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        grandchild = os.fork()
        if grandchild == 0:
            os.execv(argv[0], argv)
        os.write(w, str(grandchild).encode())
        os._exit(0)
    os.waitpid(middle, 0)
    pid = int(os.read(r, 32))
    os.close(r)
    os.close(w)
    wait_comm(pid, "node")
    return pid


def cycle(now: float) -> tuple[ProcessSummary, list[tuple[ProcessInfo, OrphanRule, int]]]:
    """One cycle's worth: scan, then count with a tracker loaded from disk (one-shot)."""
    summary, _ = collect_processes("/proc", top_n=3, now=now, previous=None,
                                   kill_allowed=("^node$",),
                                   orphan_patterns=tuple(r.pattern for r in RULES))
    tracker = OrphanTracker(STATE)
    confirmed = tracker.observe(summary.orphans, RULES, now)
    tracker.save()
    return summary, confirmed


def state(pid: int) -> str | None:
    st = read_stat("/proc", pid)
    return st.state if st else None


def main() -> None:
    os.symlink(os.path.realpath(sys.executable), NODE)
    o1 = double_fork(NODE_TEST)
    # A process still child of the shell that started it, itself a child of PID 1. The
    # shell's own command line doesn't say "node" (the path is in the environment), so
    # it is an orphan that matches no rule.
    shell = subprocess.Popen(["bash", "-c", '"$BIN" -c "$CODE" --test y; exit 0'],
                             env={"BIN": NODE, "CODE": SLEEPER, "PATH": os.defpath})
    deadline = time.monotonic() + 10
    kid = None
    while kid is None and time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            st = read_stat("/proc", int(entry)) if entry.isdigit() else None
            if st and st.ppid == shell.pid and st.comm == b"node":
                kid = st.pid
        time.sleep(0.005)
    # A user manager stand-in: a process whose comm is "systemd" whose child is a
    # node --test. DESIGN.md counts that child as an orphan (adopted by a subreaper).
    manager_bin = os.path.join(WORK, "systemd")
    os.symlink(os.path.realpath(sys.executable), manager_bin)
    manager = subprocess.Popen(
        [manager_bin, "-c", "import os, subprocess, time; subprocess.Popen("
         "[os.environ['BIN'], '-c', os.environ['CODE'], '--test', 'z']); time.sleep(600)"],
        env={"BIN": NODE, "CODE": SLEEPER})
    managed = None
    while managed is None and time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            st = read_stat("/proc", int(entry)) if entry.isdigit() else None
            if st and st.ppid == manager.pid and st.comm == b"node":
                managed = st.pid
        time.sleep(0.005)
    out.update(o1=o1, shell=shell.pid, shell_node=kid, manager=manager.pid, managed=managed)

    now = 1000.0
    for i in (1, 2):
        summary, confirmed = cycle(now + i)
        out[f"c{i}_orphans"] = sorted(p.pid for p in summary.orphans)
        out[f"c{i}_confirmed"] = sorted(p.pid for p, _, _ in confirmed)
        out[f"c{i}_killable"] = sorted(p.pid for p in summary.killable)
        out[f"c{i}_o1_ppid"] = next((p.ppid for p in summary.orphans if p.pid == o1), None)
    o1_info = next(p for p in summary.orphans if p.pid == o1)

    # o1 exits (our own process, by pid) and a new orphan takes the very same pid.
    os.kill(o1, signal.SIGKILL)
    os.waitpid(o1, 0)
    time.sleep(0.05)  # a later start time: starttime counts clock ticks (10 ms)
    o2 = double_fork(NODE_TEST, want_pid=o1)
    out.update(o2=o2, o1_start=o1_info.start_ticks)
    # The stale snapshot entry must not hit the newcomer.
    out["stale_kill"] = list(kill_process("/proc", o1_info, grace_s=0.5))
    out["o2_state_after_stale"] = state(o2)

    for i in (3, 4, 5):
        summary, confirmed = cycle(now + i)
        out[f"c{i}_orphans"] = sorted(p.pid for p in summary.orphans)
        out[f"c{i}_confirmed"] = sorted([p.pid, r.pattern, n] for p, r, n in confirmed)
    o2_info = next(p for p, _, _ in confirmed if p.pid == o2)
    out["o2_start"] = o2_info.start_ticks
    snap = {p.pid: p for p in summary.killable}

    def guard(pid: int) -> str | None:
        return refusal("/proc", pid, snapshot_procs=snap, kill_allowed=("node",),
                       self_pid=os.getpid(), parent_pid=os.getppid())

    out["refusal_o2"] = guard(o2)
    out["refusal_1"] = guard(1)
    out["refusal_shell_node"] = guard(kid or 0)
    out["kill_1"] = list(kill_process("/proc", o2_info._replace(pid=1)))
    out["kill_o2"] = list(kill_process("/proc", o2_info, grace_s=2.0))
    out["o2_state_after_kill"] = state(o2)  # a zombie: PID 1 (us) has not reaped it

    summary, confirmed = cycle(now + 6)
    out["c6_orphans"] = sorted(p.pid for p in summary.orphans)
    out["c6_confirmed"] = sorted(p.pid for p, _, _ in confirmed)
    out["c6_zombies"] = list(summary.zombie_pids)
    out["shell_node_state"] = state(kid or 0)
    out["shell_state"] = state(shell.pid)
    out["managed_state"] = state(managed or 0)
    with open(STATE) as fh:
        out["state_file"] = json.load(fh)
    print(json.dumps(out), flush=True)
    # Leaving PID 1 ends the namespace: the kernel SIGKILLs everything left in it.


if __name__ == "__main__":
    main()
