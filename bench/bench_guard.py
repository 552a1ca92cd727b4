"""Per-action cost of a guard decision (issue 3: "microseconds, not a subprocess").

Measures, per action type, the wall time of

- ``Guard.review(action)``: the allowlist and snapshot checks. Pure for
  restart_service, kill_tmux, clean_disk, alert and log; kill_pid reads
  /proc/PID/stat and /proc/PID/oom_score_adj of the target;
- ``Guard.carry_out(action)`` with ``dry_run``: review, the dedup/rate-limit
  bookkeeping, restart backoff, and the act module up to the point where it would
  act (kill_pid: identity re-read, pidfd_open, identity re-read again; kill_tmux:
  the fresh ``list-sessions`` look-up; clean_disk: one statvfs).

The snapshot's processes come from a real scan of /proc, with a ``node`` child
(a copy of /bin/sleep) as the allowlisted kill target; nothing is ever signalled
(dry run, and the only kill target is our own child). Services and tmux sessions
are fixed records: their review is pure. kill_tmux's dry run asks tmux whether the
session still exists; it is measured twice: with a canned runner (the guard's own
cost) and, when tmux is installed, against a real tmux server on a private socket
(what a dry run costs on a host: one subprocess). A plain ``/bin/true`` run is
timed too, as the yardstick for "a subprocess".

Each case runs ``--n`` times (10,000 by default) after a warm-up; the rate limits
and the per-cycle dedup are reset between iterations, so every call does the full
work. Logging goes to a NullHandler at INFO, so log records are built as in
production but not written.

    .venv/bin/python bench/bench_guard.py [--n 10000]
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from argus.act.guard import Guard
from argus.collect.processes import collect_processes
from argus.collect.tmux import FORMAT, socket_path, tmux_argv
from argus.config import build_config
from argus.context import make_context
from argus.model import Action, ServiceInfo, Snapshot, TmuxSession
from argus.runner import CommandResult, run_command

UNIT = "app.service"
SESSION = "worker-1"
SOCKET = "argus-bench"


def timings_us(fn: Callable[[], object], n: int, reset: Callable[[], None]) -> list[float]:
    for _ in range(min(200, n)):  # warm-up: imports, caches
        reset()
        fn()
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        reset()
        t0 = clock()
        fn()
        out.append((clock() - t0) / 1000)
    return out


def bind(fn: Callable[[Action], object], action: Action) -> Callable[[], object]:
    return lambda: fn(action)


def line(label: str, samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return (f"  {label:<58} median {statistics.median(samples):9.1f} µs   "
            f"p99 {q[98]:9.1f} µs   (n={len(samples)})")


def canned_tmux(session: TmuxSession) -> Callable[..., CommandResult]:
    """A runner that answers ``list-sessions`` as tmux would, without a subprocess."""
    out = f"{session.session_id}\t{session.name}\t1\t{int(session.created)}\t0\n"

    def run(argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        if "list-sessions" not in argv:
            raise AssertionError(f"the benchmark runs nothing else: {list(argv)}")
        return CommandResult(tuple(argv), 0, out, "")

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="iterations per case")
    args = ap.parse_args()
    n = args.n

    root = logging.getLogger("argus")
    root.handlers[:] = [logging.NullHandler()]
    root.setLevel(logging.INFO)
    root.propagate = False

    tmp = tempfile.mkdtemp(prefix="argus-bench-guard-")
    node_bin = os.path.join(tmp, "node")
    shutil.copy2("/bin/sleep", node_bin)
    child = subprocess.Popen([node_bin, "600"], stdin=subprocess.DEVNULL)
    server: str | None = None
    try:
        deadline = time.monotonic() + 5
        while Path(f"/proc/{child.pid}/comm").read_text().strip() != "node":
            if time.monotonic() > deadline:
                raise SystemExit("the node child did not start")
            time.sleep(0.005)

        config = build_config({
            "services": {"systemd": [UNIT], "restart_allowed": [UNIT]},
            "tmux": {"sockets": [SOCKET], "kill_allowed": ["^worker-"]},
        }, "bench", {})
        summary, _ = collect_processes("/proc", top_n=10, now=time.time(), previous=None,
                                       kill_allowed=config.processes.kill_allowed)
        # Only our own child may be an allowlisted target, whatever else runs here.
        summary = summary._replace(
            killable=tuple(p for p in summary.killable if p.pid == child.pid))
        assert [p.pid for p in summary.killable] == [child.pid], "node child not collected"
        session = TmuxSession(SOCKET, SESSION, 1, time.time(), False, "$0")
        service = ServiceInfo(UNIT, "system", "loaded", "failed", "failed", "exit-code", 0,
                              None, 0, 1)
        snapshot = Snapshot(ts="", host="bench", memory=None, cpu=None, disks=(),
                            processes=summary, services=(service,), probes=(),
                            tmux=(session,), pressure=None, errors=(), durations_ms={})
        ctx = make_context(config, os.path.join(tmp, "state"), env={}, dry_run=True,
                           runner=canned_tmux(session), host="bench")
        guard = Guard(ctx, snapshot, time.time())

        def reset() -> None:
            guard.used.clear()
            guard.done.clear()

        def act(kind: str, target: str | None) -> Action:
            return Action(kind, target, "bench", "rules", message="bench")

        node = str(child.pid)
        reviews = [
            ("restart_service (allowlisted unit)", act("restart_service", UNIT)),
            ("restart_service (refused: '../etc/passwd')", act("restart_service",
                                                               "../etc/passwd")),
            ("kill_pid (allowlisted child: 2 /proc reads)", act("kill_pid", node)),
            ("kill_pid (refused: PID 1)", act("kill_pid", "1")),
            ("kill_pid (refused: not numeric)", act("kill_pid", "1;rm -rf /")),
            ("kill_tmux (allowlisted session)", act("kill_tmux", SESSION)),
            ("kill_tmux (refused: 'a;b')", act("kill_tmux", "a;b")),
            ("clean_disk (no target)", act("clean_disk", None)),
            ("clean_disk (refused: '/etc')", act("clean_disk", "/etc")),
            ("alert", act("alert", None)),
            ("log", act("log", None)),
        ]
        print(f"Guard decision cost, {n} iterations per case "
              f"({summary.total} processes on the host)\n")
        print("Guard.review(action):")
        for label, action in reviews:
            assert (guard.review(action) is None) == ("refused" not in label), label
            print(line(label, timings_us(bind(guard.review, action), n, reset)))

        print("\nGuard.carry_out(action), dry run:")
        expect = {"restart_service": "dry_run", "kill_pid": "dry_run", "kill_tmux": "dry_run",
                  "clean_disk": "dry_run", "alert": "success", "log": "success"}
        for label, action in reviews:
            result = guard.carry_out(action).result
            want = "skipped" if "refused" in label else expect[action.type]
            assert result == want, (label, result)
            note = " [canned tmux reply]" if action.type == "kill_tmux" and result == "dry_run" \
                else ""
            print(line(label + note, timings_us(bind(guard.carry_out, action), n, reset)))
        assert child.poll() is None, "the node child must still be alive"

        print("\nFor comparison (subprocesses):")
        few = max(50, n // 50)
        if shutil.which("tmux"):
            server = f"argus-bench-guard-{secrets.token_hex(4)}"
            env = {k: v for k, v in os.environ.items() if k != "TMUX"}
            subprocess.run(tmux_argv(server, "new-session", "-d", "-s", SESSION, "sleep", "600"),
                           check=True, env=env, timeout=10)
            listed = run_command(tmux_argv(server, "list-sessions", "-F", FORMAT), 5)
            sid = listed.stdout.split("\t", 1)[0]
            real = TmuxSession(server, SESSION, 1, time.time(), False, sid)
            tctx = make_context(build_config({"tmux": {"sockets": [server],
                                                       "kill_allowed": ["^worker-"]}},
                                             "bench", {}),
                                os.path.join(tmp, "state-tmux"), env={}, dry_run=True,
                                host="bench")
            tguard = Guard(tctx, snapshot._replace(tmux=(real,)), time.time())
            action = act("kill_tmux", SESSION)
            assert tguard.carry_out(action).result == "dry_run"

            def treset() -> None:
                tguard.used.clear()
                tguard.done.clear()

            print(line("kill_tmux carry_out, dry run, real tmux", timings_us(
                lambda: tguard.carry_out(action), few, treset)))
        print(line("one subprocess: /bin/true via run_command", timings_us(
            lambda: run_command(["/bin/true"], 5), few, lambda: None)))
        print(line("Guard(ctx, snapshot, now) construction", timings_us(
            lambda: Guard(ctx, snapshot, time.time()), n, lambda: None)))
    finally:
        if server is not None:
            subprocess.run(tmux_argv(server, "kill-server"), check=False, timeout=10,
                           capture_output=True)
            Path(socket_path(server)).unlink(missing_ok=True)  # tmux may leave it
        child.kill()
        child.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
