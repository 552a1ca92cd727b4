"""What the LLM advisor costs: calls, input tokens, and import time on a quiet cycle.

Three figures, against the stand-in Anthropic API of tests/standins (the real SDK
talks to it over HTTP on 127.0.0.1):

1. calls per day on a quiet host: 288 cycles (one day at the default 5-minute
   interval, on a simulated clock) with ``provider = "anthropic"``; upstream Argus
   made 288;
2. input tokens per call for a typical incident: memory climbing from warning to
   critical over four cycles, with a few kill candidates, each cycle judged (a
   periodic review forces a call every cycle, so the memory of earlier cycles is in
   the prompt). Method, stated plainly: no Claude tokenizer is available offline,
   so tokens are estimated as characters / 4 (the stand-in's ``usage`` uses the
   same rule); characters / 3 is printed as a pessimistic bound for JSON-heavy text;
3. the import cost of a quiet cycle: ``run_once`` in a fresh interpreter with
   ``provider = "none"`` and with ``"anthropic"`` (median wall ms), the modules the
   latter loads in addition, and what ``import anthropic`` alone would cost.

    python bench/bench_llm.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))  # the stand-ins

from standins.llm_servers import AnthropicServer  # noqa: E402

from argus.config import Config, Thresholds, build_config  # noqa: E402
from argus.context import make_context  # noqa: E402
from argus.cycle import run_once  # noqa: E402

KEY = "sk-ant-bench"
_NOT_PERCENT = {"load_per_core_warn": 10_000.0, "swap_io_thrash_mb_s": 1e9,
                "zombies_warn": 10**6}
QUIET = {name: _NOT_PERCENT.get(name, 100) for name in Thresholds._fields}
T0 = 1_800_000_000.0


def config(url: str, thresholds: dict[str, Any], **llm: Any) -> Config:
    return build_config({
        "dry_run": True, "tmux": {"sockets": []}, "processes": {"orphans": []},
        "thresholds": thresholds,
        "llm": {"provider": "anthropic", "base_url": url, "timeout": 10, **llm}},
        "bench", {"ANTHROPIC_API_KEY": KEY})


class CountingServer(AnthropicServer):
    """The stand-in, keeping the ``usage.input_tokens`` it reported for each call."""

    def __init__(self, api_key: str) -> None:
        super().__init__(api_key)
        self.usage_in: list[int] = []

    def respond(self, request: Any, answer: tuple[Any, ...]) -> tuple[int, dict[str, str],
                                                                      bytes]:
        status, headers, data = super().respond(request, answer)
        self.usage_in.append(json.loads(data).get("usage", {}).get("input_tokens", 0))
        return status, headers, data


def quiet_day(url: str, server: CountingServer) -> None:
    with tempfile.TemporaryDirectory() as state:
        ctx = make_context(config(url, QUIET), state, env={}, host="bench")
        started = time.perf_counter()
        modes = [run_once(ctx, now=T0 + 300 * n).mode for n in range(288)]
        took = time.perf_counter() - started
    print(f"1. quiet host, 288 cycles: {len(server.requests)} calls "
          f"(modes: {sorted(set(modes))}; {took:.1f} s for the day's cycles); upstream: 288")


def incident(url: str, server: CountingServer) -> None:
    # Four kill candidates of our own (unique name: this machine runs other things).
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "benchworker")
    shutil.copy2("/bin/sleep", path)
    procs = [subprocess.Popen([path, "3600"]) for _ in range(4)]
    time.sleep(0.2)
    try:
        # memory at ~3 % on this machine: thresholds placed so that it reads as a
        # warning that turns critical, the way a leak does
        steps = [{"memory_warn": 0.1, "memory_crit": 100}] * 2 + \
                [{"memory_warn": 0.1, "memory_crit": 0.1}] * 2
        with tempfile.TemporaryDirectory() as state:
            for n, step in enumerate(steps):
                cfg = config(url, {**QUIET, **step}, review_every=1)
                cfg = cfg._replace(processes=cfg.processes._replace(
                    kill_allowed=("^benchworker$",)))
                ctx = make_context(cfg, state, env={}, host="web-1")
                run_once(ctx, now=T0 + 300 * n)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp)
    print("2. typical incident (memory warning -> critical, 4 kill candidates), per call:")
    print("   call  system  user  tools  total chars  ~tokens(c/4)  c/3 bound  "
          "stand-in usage.input_tokens  history")
    for n, request in enumerate(server.requests, 1):
        body = request.body
        system = len(body["system"])
        user = len(body["messages"][0]["content"])
        tools = len(json.dumps(body["tools"]))
        total = system + user + tools
        history = len(json.loads(body["messages"][0]["content"].split("\n")[2])["history"])
        print(f"   {n:>4}  {system:>6}  {user:>4}  {tools:>5}  {total:>11}  "
              f"{total // 4:>12}  {total // 3:>9}  {server.usage_in[n - 1]:>27}  {history:>7}")
    print("   (estimates: no Claude tokenizer offline. The real API also bills its own "
          "tool-use system prompt, a few hundred tokens per its pricing docs, which no "
          "offline count includes; usage.input_tokens in last_decision.json is the truth.)")


def import_cost(runs: int) -> None:
    script = """
import json, sys, time, tempfile
from argus.config import build_config
from argus.context import make_context
from argus.cycle import run_once
before = set(sys.modules)
started = time.perf_counter()
cfg = build_config({"dry_run": True, "tmux": {"sockets": []}, "processes": {"orphans": []},
                    "thresholds": json.loads(sys.argv[1]),
                    "llm": {"provider": sys.argv[2], "base_url": "http://127.0.0.1:9"}},
                   "bench", {})
with tempfile.TemporaryDirectory() as state:
    run_once(make_context(cfg, state, env={}, host="bench"))
print(json.dumps({"ms": (time.perf_counter() - started) * 1000,
                  "modules": sorted(set(sys.modules) - before)}))
"""
    results: dict[str, list[float]] = {"none": [], "anthropic": []}
    modules: dict[str, set[str]] = {}
    for _ in range(runs):
        for provider in results:
            out = subprocess.run([sys.executable, "-c", script, json.dumps(QUIET), provider],
                                 capture_output=True, text=True, check=True)
            data = json.loads(out.stdout)
            results[provider].append(data["ms"])
            modules[provider] = set(data["modules"])
    sdk = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); "
                              "import anthropic; print((time.perf_counter() - t) * 1000)"],
                             capture_output=True, text=True, check=True)
        sdk.append(float(out.stdout))
    none, anth = (statistics.median(results[p]) for p in ("none", "anthropic"))
    extra = sorted(modules["anthropic"] - modules["none"])
    print(f"3. quiet cycle in a fresh interpreter (median of {runs}): provider=none "
          f"{none:.1f} ms, provider=anthropic {anth:.1f} ms (difference {anth - none:+.1f} ms, "
          f"noise); modules loaded in addition: {extra or 'none'}; "
          f"`import anthropic` alone would cost {statistics.median(sdk):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with CountingServer(KEY) as server:
        quiet_day(server.url, server)
    with CountingServer(KEY) as server:
        incident(server.url, server)
    import_cost(args.runs)


if __name__ == "__main__":
    main()
