"""CPU cost of the process collector at N processes, against psutil.process_iter.

Spawns N ``/bin/sleep 600`` children (2,000 by default), then measures CPU time
(time.process_time: user + system of this process, so it counts the kernel's work
generating /proc files) for 10 runs of each scanner and prints the medians.

    .venv/bin/python bench/bench_proc_scan.py [N] [--reps 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections.abc import Callable

import psutil

from argus.collect.processes import collect_processes
from argus.config import Processes

# What production passes by default: kill_allowed names and the orphan rules' patterns.
DEFAULTS = Processes()
TARGETS = {"kill_allowed": DEFAULTS.kill_allowed,
           "orphan_patterns": tuple(r.pattern for r in DEFAULTS.orphans)}

PSUTIL_ATTRS = ["pid", "name", "ppid", "status", "memory_info", "cpu_times", "create_time",
                "username", "cmdline"]


def cpu_ms(fn: Callable[[], object], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.process_time()
        fn()
        out.append((time.process_time() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("n", type=int, nargs="?", default=2000, help="sleep processes to spawn")
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()

    children: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(args.n):
            children.append(subprocess.Popen(["/bin/sleep", "600"],
                                             stdin=subprocess.DEVNULL))
        time.sleep(0.5)  # let every child exec, so /proc shows sleep, not python

        sample: dict[str, object] | None = None

        def lean() -> None:
            nonlocal sample
            _, sample = collect_processes("/proc", top_n=10, now=time.time(),
                                          previous=sample, **TARGETS)

        def first_lean() -> None:
            collect_processes("/proc", top_n=10, now=time.time(), previous=None, **TARGETS)

        def ps() -> None:
            list(psutil.process_iter(PSUTIL_ATTRS))

        lean()  # warm-up: imports, pwd cache, the first sample
        total = collect_processes("/proc", top_n=10, now=time.time(), previous=None)[0].total
        lean_ms = cpu_ms(lean, args.reps)
        first_ms = cpu_ms(first_lean, args.reps)
        ps()
        ps_ms = cpu_ms(ps, args.reps)

        lean_med = statistics.median(lean_ms)
        first_med = statistics.median(first_ms)
        ps_med = statistics.median(ps_ms)
        print(f"processes on the host:  {total} ({args.n} sleep children)")
        print(f"lean scan (interval):   median {lean_med:7.1f} ms CPU "
              f"= {lean_med / total * 1000:5.1f} µs/process  "
              f"(min {min(lean_ms):.1f}, max {max(lean_ms):.1f})")
        print(f"lean scan (lifetime):   median {first_med:7.1f} ms CPU "
              f"= {first_med / total * 1000:5.1f} µs/process")
        print(f"psutil.process_iter:    median {ps_med:7.1f} ms CPU "
              f"= {ps_med / total * 1000:5.1f} µs/process  "
              f"(min {min(ps_ms):.1f}, max {max(ps_ms):.1f})")
        print(f"speed-up:               {ps_med / lean_med:5.1f}x")
    finally:
        for child in children:
            child.kill()
        for child in children:
            child.wait()


if __name__ == "__main__":
    main()
