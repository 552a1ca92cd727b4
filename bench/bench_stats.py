"""What ``argus stats`` costs, side by side with the jq reference, in one run.

For each registry size (default 100,000 and 1,000,000 records, generated once with
``registry.make_record``/``encode`` by tests/analyze_stats/registry_gen.py and kept
in --dir), whole processes are timed alternately so a noisy machine moves every
side alike; medians are printed, with each jq variant's ratio to Argus:

- ``argus stats --since all``: the whole registry, as the reference reads it;
- ``argus stats``: the default 7-day window (older chunks are skipped cheaply);
- ``argus stats --format prometheus``: the whole registry, plus prometheus_client;
- ``reference_stats.sh FILE all slurp``: upstream's way (the whole file in one jq array);
- ``reference_stats.sh FILE all stream``: jq's fastest (``reduce inputs``).

Wall time is ``time.perf_counter`` around the process; CPU (user + sys, the forked
readers' included) and peak RSS come from ``wait4``'s rusage. On more than one CPU
Argus reads a large registry in parts, one forked process each (analyze/tally.py),
so its wall time is below its CPU time. The targets (issue 7): Argus at most 0.4 s at 100,000
records and 3 s at 1,000,000, with bounded memory. Before timing, the upstream
fields of Argus and jq are checked to agree.

    python bench/bench_stats.py [--sizes 100000,1000000] [--runs 5] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REFERENCE = os.path.join(HERE, "reference_stats.sh")
sys.path.insert(0, os.path.join(ROOT, "tests", "analyze_stats"))
TARGETS = {100_000: 0.4, 1_000_000: 3.0}
UPSTREAM = ("total_problems", "by_type", "by_severity", "action_results",
            "action_success_rate", "hourly", "daily")


def argus_bin() -> list[str]:
    candidate = os.path.join(os.path.dirname(sys.executable), "argus")
    return [candidate] if os.path.exists(candidate) else [sys.executable, "-m", "argus"]


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall s, CPU s, peak RSS KiB) of one whole process; its output is discarded."""
    with open(os.devnull, "wb") as null:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=null, stderr=null, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def registry_for(directory: str, n: int) -> str:
    """``<dir>/<n>/problems.jsonl``, generated on first use (30 days, ending now)."""
    state = os.path.join(directory, str(n))
    path = os.path.join(state, "problems.jsonl")
    if not os.path.exists(path):
        from registry_gen import write_registry

        os.makedirs(state, exist_ok=True)
        print(f"generating {n:,} records in {path} ...", flush=True)
        write_registry(path + ".tmp", n, end=time.time(), days=30)
        os.replace(path + ".tmp", path)
    return path


def agree(argus: list[str], env: dict[str, str], path: str) -> None:
    got = json.loads(subprocess.run([*argus, "stats", "--since", "all"], env=env, check=True,
                                    capture_output=True).stdout)
    want = json.loads(subprocess.run([REFERENCE, path, "all", "stream"], check=True,
                                     capture_output=True).stdout)
    for field in UPSTREAM:
        value = got[field]
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if v}
        if value != want[field]:
            raise SystemExit(f"argus and jq disagree on {field}")


def bench(n: int, runs: int, directory: str) -> bool:
    path = registry_for(directory, n)
    env = {**os.environ, "ARGUS_STATE_DIR": os.path.dirname(path)}
    env.pop("ARGUS_PROBLEMS_FILE", None)
    argus = argus_bin()
    agree(argus, env, path)
    sides = {
        "argus stats --since all": [*argus, "stats", "--since", "all"],
        "argus stats (7 days)": [*argus, "stats"],
        "argus stats --format prometheus": [*argus, "stats", "--format", "prometheus"],
        "jq reference, slurp (upstream)": [REFERENCE, path, "all", "slurp"],
        "jq reference, stream": [REFERENCE, path, "all", "stream"],
    }
    for argv in sides.values():  # warm the page cache and the bytecode
        measure(argv, env)
    figures: dict[str, list[tuple[float, float, int]]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, argv in sides.items():
            figures[name].append(measure(argv, env))
    size_mb = os.path.getsize(path) / 2**20
    print(f"\n{n:,} records ({size_mb:.0f} MB), median of {runs} runs:", flush=True)
    print(f"  {'':34} {'wall s':>8} {'CPU s':>8} {'RSS MB':>8} {'x argus':>8}")
    base = statistics.median(w for w, _, _ in figures["argus stats --since all"])
    for name, rows in figures.items():
        wall = statistics.median(w for w, _, _ in rows)
        cpu = statistics.median(c for _, c, _ in rows)
        rss = statistics.median(r for _, _, r in rows) / 1024
        print(f"  {name:34} {wall:8.3f} {cpu:8.3f} {rss:8.1f} {wall / base:8.1f}")
    target = TARGETS.get(n)
    if target is None:
        return True
    ok = base <= target
    print(f"  target: argus stats over the whole registry <= {target} s: "
          f"{'met' if ok else 'NOT met'} ({base:.3f} s)", flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", default=os.path.join("/tmp", "argus-bench-stats"))
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"{subprocess.run(['jq', '--version'], capture_output=True, text=True).stdout.strip()}")
    ok = True
    for n in (int(s) for s in args.sizes.split(",")):
        ok = bench(n, args.runs if n < 1_000_000 else max(3, args.runs // 2), args.dir) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
