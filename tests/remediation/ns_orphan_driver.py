"""Orphans reaped by real ``argus run --once`` cycles, as PID 1 of a private PID namespace.

Not a test module: test_orphan_cycle.py and test_dry_run.py run it as

    unshare --pid --fork --mount-proc python ns_orphan_driver.py

with ``ARGUS_NS_WORK`` (a directory holding ``argus.toml``; the state goes to
``state/`` there), ``ARGUS_NS_RUNS`` (how many cycles) and ``ARGUS_NS_RUN_ARGS`` (a
JSON list of extra ``argus run`` arguments, e.g. ``["--dry-run"]``).

Inside, this script is PID 1, so a double-forked process is adopted by it: an orphan
by DESIGN.md's definition, with no host process involved. It starts:

- ``orphan``: a ``node --test x`` look-alike (this Python interpreter through a symlink
  named ``node``: the kernel takes comm from the basename of the path given to
  execve(2)), double-forked so that its parent is PID 1;
- ``kept``: another ``node --test y``, the child of a keeper process that stays
  alive: it matches the rule but is no orphan, so nothing may touch it. The keeper's
  own command line says neither "node" nor "--test" (they come from its environment).

then runs ``python -m argus --config ... --state-dir ... run --once --json [ARGS]`` the
given number of times, noting after each run whether both are still alive, and
prints one JSON object. Leaving PID 1 ends the namespace: the kernel SIGKILLs
everything left in it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

WORK = os.environ["ARGUS_NS_WORK"]
RUNS = int(os.environ.get("ARGUS_NS_RUNS", "3"))
RUN_ARGS = json.loads(os.environ.get("ARGUS_NS_RUN_ARGS", "[]"))
NODE = os.path.join(WORK, "node")
SLEEPER = "import time; time.sleep(600)"
KEEPER = ("import os, subprocess\n"
          "p = subprocess.Popen([os.environ['BIN'], '-c', os.environ['CODE'], "
          "os.environ['FLAG'], 'y'])\n"
          "print(p.pid, flush=True)\n"
          "p.wait()\n")


def stat_of(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of ``pid`` from /proc (this namespace's), None when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[1])


def comm(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().rstrip("\n")
    except OSError:
        return None


def alive(pid: int) -> bool:
    """Running: neither gone nor a zombie (a killed orphan stays one: we don't reap)."""
    st = stat_of(pid)
    return st is not None and st[0] != "Z"


def wait_comm(pid: int, name: str) -> None:
    deadline = time.monotonic() + 10
    while comm(pid) != name:
        if time.monotonic() > deadline:
            raise SystemExit(f"pid {pid} never became {name}")
        time.sleep(0.005)


def double_fork(argv: list[str]) -> int:
    """Start ``argv`` as a grandchild whose parent exits at once: PID 1 (us) adopts it."""
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


def main() -> None:
    if os.getpid() != 1:  # never on the host's PID namespace: orphan rules kill for real
        raise SystemExit("refusing: not PID 1 of a private PID namespace")
    out: dict[str, Any] = {"pid": os.getpid(), "runs": []}
    os.symlink(os.path.realpath(sys.executable), NODE)
    orphan = double_fork([NODE, "-c", SLEEPER, "--test", "x"])
    keeper = subprocess.Popen(
        [sys.executable, "-c", KEEPER], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "BIN": NODE, "CODE": SLEEPER, "FLAG": "--test"})
    assert keeper.stdout is not None
    kept = int(keeper.stdout.readline())
    wait_comm(kept, "node")
    out.update(orphan=orphan, orphan_ppid=stat_of(orphan)[1],  # type: ignore[index]
               keeper=keeper.pid, kept=kept, kept_ppid=stat_of(kept)[1])  # type: ignore[index]

    argv = [sys.executable, "-m", "argus", "--config", os.path.join(WORK, "argus.toml"),
            "--state-dir", os.path.join(WORK, "state"), "run", "--once", "--json", *RUN_ARGS]
    for _ in range(RUNS):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        try:
            report = json.loads(proc.stdout)
        except ValueError:
            report = None
        out["runs"].append({
            "rc": proc.returncode, "stderr": proc.stderr[-2000:],
            "actions": report["actions"] if report else None,
            "orphan_alive": alive(orphan), "orphan_state": (stat_of(orphan) or ("gone",))[0],
            "kept_alive": alive(kept), "keeper_alive": alive(keeper.pid),
        })
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
