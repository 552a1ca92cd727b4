"""What an Argus cycle costs, side by side with the original bash collectors.

Three figures, each measured in one run against bench/reference_collect.sh so a
noisy machine moves both sides alike (quote the medians and the ratio):

1. one-shot: ``argus run --once`` as a whole process (what a systemd timer pays
   every 5 minutes) against the reference script, alternating, CPU from wait4();
2. daemon: the steady-state CPU of one cycle inside a long-running process (its
   own CPU plus its children's: systemctl, tmux) and the daemon's RSS, with a few
   watched units (a real systemd user manager when run as root), an HTTP probe and
   tmux sessions on a private socket;
3. the daemon cycle again with N idle processes spawned (default 2,000).

    python bench/bench_cycle.py [--runs 11] [--procs 70] [--many 2000]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REFERENCE = os.path.join(HERE, "reference_collect.sh")
sys.path.insert(0, os.path.join(ROOT, "tests"))  # the systemd harness


def argus_bin() -> list[str]:
    candidate = os.path.join(os.path.dirname(sys.executable), "argus")
    return [candidate] if os.path.exists(candidate) else [sys.executable, "-m", "argus"]


def cpu_of(argv: list[str], env: dict[str, str]) -> float:
    """CPU seconds (user + sys) of one whole process and the children it waited for."""
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(argv, stdout=null, stderr=null, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} exited {proc.returncode}")
    return usage.ru_utime + usage.ru_stime


@contextmanager
def idle_processes(n: int) -> Iterator[None]:
    procs = [subprocess.Popen(["/bin/sleep", "3600"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def process_count() -> int:
    return sum(1 for name in os.listdir("/proc") if name.isdigit())


def one_shot(runs: int) -> tuple[float, float]:
    # pip compiles a package's bytecode when it installs it; an editable install
    # under PYTHONDONTWRITEBYTECODE=1 never gets any, and would pay the compiler on
    # every run. Compile it the way pip does, so the figure is an installed Argus's.
    import argus

    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    os.path.dirname(argus.__file__)], check=True)
    state = tempfile.mkdtemp(prefix="argus-bench-")
    env = dict(os.environ, ARGUS_STATE_DIR=state)
    argus = [*argus_bin(), "run", "--once"]
    cpu_of(argus, env)  # warm-up: page cache, pyc files
    cpu_of([REFERENCE], env)
    a, b = [], []
    for _ in range(runs):
        a.append(cpu_of(argus, env))
        b.append(cpu_of([REFERENCE], env))
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    print(f"  argus run --once  cpu median {statistics.median(a) * 1000:7.1f} ms "
          f"(min {min(a) * 1000:.1f}, max {max(a) * 1000:.1f})")
    print(f"  reference script  cpu median {statistics.median(b) * 1000:7.1f} ms "
          f"(min {min(b) * 1000:.1f}, max {max(b) * 1000:.1f})")
    print(f"  ratio argus/reference, median of pairs: {statistics.median(ratios):.2f}x")
    folds = fold_cycles(argus, env, state, max(3, runs // 2))
    per_hour = 11 * statistics.median(a) + statistics.median(folds)
    print(f"  the hourly cycle that folds 12 pending history rows into SQLite: cpu median "
          f"{statistics.median(folds) * 1000:.1f} ms; averaged over the hour's 12 cycles "
          f"{per_hour / 12 * 1000:.1f} ms = {per_hour / 12 / statistics.median(b):.2f}x "
          f"the reference")
    return statistics.median(a), statistics.median(b)


def fold_cycles(argus: list[str], env: dict[str, str], state: str, runs: int) -> list[float]:
    """CPU of the one-shot cycle that finds an hour of pending rows and folds them.

    Eleven cycles an hour append their row to history.pending.jsonl; the twelfth
    writes them all to history.sqlite3 (record/history_pending.py).
    """
    import json

    pending = os.path.join(state, "history.pending.jsonl")
    with open(pending) as fh:
        template = json.loads(fh.readline())
    costs = []
    for _ in range(runs):
        now = int(time.time())
        with open(pending, "w") as fh:
            for k in range(12):
                fh.write(json.dumps({**template, "ts": now - 3900 + 300 * k}) + "\n")
        costs.append(cpu_of(argus, env))
        if os.path.getsize(pending):
            raise SystemExit("the fold cycle left rows pending")
    return costs


def http_server(stack: ExitStack) -> str:
    """A local HTTP server in its own process: its CPU is not Argus's."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                             "127.0.0.1", "--directory", tempfile.mkdtemp()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.callback(proc.wait)
    stack.callback(proc.kill)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"http://127.0.0.1:{port}/"


def tmux_socket(stack: ExitStack) -> str:
    name = f"argus-bench-{uuid.uuid4().hex[:8]}"
    for session in ("agents", "builds", "shell"):
        subprocess.run(["tmux", "-L", name, "new-session", "-d", "-s", session], check=True)
    stack.callback(subprocess.run, ["tmux", "-L", name, "kill-server"], check=False)
    return name


def systemd_units(stack: ExitStack) -> tuple[Any, list[str]] | None:
    try:
        from systemd_env import SystemdUserManager, unavailable_reason
    except ImportError:
        return None
    if unavailable_reason() is not None:
        return None
    mgr = stack.enter_context(SystemdUserManager())
    units = []
    for n in range(4):
        unit = f"bench-{n}.service"
        mgr.write_unit(unit, "[Service]\nExecStart=/bin/sleep infinity\n", reload=False)
        units.append(unit)
    mgr.systemctl("daemon-reload")
    for unit in units:
        mgr.systemctl("start", unit)
    return mgr, units


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def daemon_cycles(make_ctx: Callable[[], Any], cycles: int) -> list[float]:
    from argus.cycle import run_cycle

    ctx = make_ctx()
    ctx.carry["daemon"] = True  # as run_daemon sets it: cross-cycle state in memory
    for _ in range(3):  # warm-up: imports, first CPU sample, first alerts
        run_cycle(ctx)
    costs, polled = [], 0
    for _ in range(cycles):
        t0, c0 = time.process_time(), children_cpu()
        run_cycle(ctx)
        costs.append((time.process_time() - t0) + (children_cpu() - c0))
        watcher = ctx.carry.get("unit_events")
        polled += watcher is not None and watcher.last_source == "systemctl"
    if "unit_events" in ctx.carry:
        print(f"  cycles that ran systemctl show: {polled} of {cycles}")
    return costs


def daemon_part(args: argparse.Namespace) -> None:
    """The daemon figures, run where systemctl reaches the watched units directly."""
    from argus.config import build_config
    from argus.context import make_context
    from argus.logs import setup_logging

    with ExitStack() as stack:
        url = http_server(stack)
        sock = tmux_socket(stack)
        services: dict[str, Any] = {"http": [{"name": "local", "url": url, "timeout": 2}]}
        if args.units:
            services.update(scope="user", systemd=args.units.split(","))
        config = build_config({"services": services, "tmux": {"sockets": [sock]}}, "bench", {})
        state = tempfile.mkdtemp(prefix="argus-bench-")
        setup_logging(os.path.join(state, "logs"))

        def make_ctx() -> Any:
            return make_context(config, state, env={})

        label = f"{len(services.get('systemd', []))} user units" if args.units else "no units"
        print(f"\ndaemon steady state ({label}, 1 HTTP probe, tmux 3 sessions), "
              f"{args.cycles} cycles")
        with idle_processes(max(0, 100 - process_count())):
            costs = daemon_cycles(make_ctx, args.cycles)
            print(f"  processes on the host: {process_count()}")
        print(f"  cycle cpu median {statistics.median(costs) * 1000:.1f} ms "
              f"(min {min(costs) * 1000:.1f}, max {max(costs) * 1000:.1f}); "
              f"daemon RSS {rss_mb():.1f} MB")

        print(f"\nat {args.many} processes: daemon cycle vs reference script")
        with idle_processes(max(0, args.many - process_count())):
            print(f"  processes on the host: {process_count()}")
            costs = daemon_cycles(make_ctx, max(5, args.cycles // 3))
            refs = [cpu_of([REFERENCE], dict(os.environ)) for _ in range(5)]
            cycle, ref = statistics.median(costs), statistics.median(refs)
            print(f"  daemon cycle cpu median {cycle * 1000:.1f} ms; reference "
                  f"{ref * 1000:.1f} ms; ratio {cycle / ref:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daemon-part", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--units", default="", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--procs", type=int, default=70,
                        help="bring the host to about this many processes for the one-shot")
    parser.add_argument("--many", type=int, default=2000)
    parser.add_argument("--cycles", type=int, default=30)
    args = parser.parse_args()
    if args.daemon_part:
        daemon_part(args)
        return

    print(f"one-shot cycle vs reference, {args.runs} pairs")
    with idle_processes(max(0, args.procs - process_count())):
        print(f"  processes on the host: {process_count()}")
        one_shot(args.runs)

    rest = [sys.executable, os.path.abspath(__file__), "--daemon-part",
            "--cycles", str(args.cycles), "--many", str(args.many)]
    with ExitStack() as stack:
        systemd = systemd_units(stack)
        if systemd is None:
            subprocess.run(rest, check=True)
        else:
            # Inside the user manager's mount namespace, so Argus runs systemctl itself
            # (no nsenter in the measured path), as it would on a real host.
            mgr, units = systemd
            subprocess.run([*mgr.prefix(), "env", f"PYTHONPATH={os.path.join(ROOT, 'src')}",
                            *rest, "--units", ",".join(units)], check=True)


if __name__ == "__main__":
    main()
