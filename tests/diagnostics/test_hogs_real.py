"""Memory hogs on this very host: a real child that allocates and touches 1 GiB.

memory_warn is set far below this host's real use so the memory rule fires; every
cycle is a dry run with no orphan rules, so nothing here is ever killed for real
(the kill path runs up to the pidfd and stops, as ``--dry-run`` does).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import Spawn
from diag_helpers import host_context, problem, records
from standins.telegram_server import TelegramServer

from argus.act.guard import Guard
from argus.collect import collect_snapshot
from argus.cycle import run_once
from argus.model import Action, Problem
from argus.timefmt import iso

HOG = """
import time
with open("/proc/self/comm", "w") as f:
    f.write("arghog")
ballast = b"x" * (1 << 30)  # bytes * n writes every byte: all 1 GiB resident
print("ready", flush=True)
time.sleep(600)
"""
LOW = {"thresholds": {"memory_warn": 0.1, "memory_crit": 99.9}}


def vmrss(pid: int) -> int:
    """What the kernel says right now: VmRSS from /proc/PID/status (kB = KiB)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_argus_names_a_1gb_process_with_its_pid_and_rss(tmp_path: Path, spawn: Spawn) -> None:
    child = spawn(HOG)
    report = run_once(host_context(tmp_path, LOW))
    mem = problem(report, "memory:host") or problem(report, "memory:cgroup")
    assert mem is not None
    hogs = mem.details["hogs"]
    ours = next(h for h in hogs if h["pid"] == child.pid)
    rss = vmrss(child.pid)
    assert rss > 1 << 30
    assert abs(ours["rss_bytes"] - rss) <= 0.05 * rss
    assert ours["name"] == "arghog" and ours["user"] == "root"
    assert 0 <= ours["runtime_s"] < 120
    assert ours["mem_pct"] == pytest.approx(ours["rss_bytes"] / _mem_total() * 100, abs=0.1)
    # Biggest first: whatever is ahead of it on a shared machine is bigger still.
    sizes = [h["rss_bytes"] for h in hogs]
    assert sizes == sorted(sizes, reverse=True)
    if hogs[0]["pid"] == child.pid:
        assert hogs[0]["pss_bytes"] is not None and hogs[0]["pss_bytes"] > 0.9 * rss
    assert f"arghog pid {child.pid} 1.0 GB" in mem.description
    assert "kill_candidate" not in mem.details  # arghog is not in the default kill_allowed


def test_the_alert_names_the_hog(tmp_path: Path, spawn: Spawn,
                                 telegram_server: TelegramServer) -> None:
    child = spawn(HOG)
    env = {"TELEGRAM_BOT_TOKEN": telegram_server.token,
           "TELEGRAM_CHAT_ID": telegram_server.chat_id,
           "ARGUS_TELEGRAM_API_BASE": telegram_server.url}
    data = {"thresholds": {"memory_warn": 0.1, "memory_crit": 0.2}}  # critical: alerted
    run_once(host_context(tmp_path, data, env))
    texts = [t for t in telegram_server.texts() if "CRITICAL memory" in t]
    assert len(texts) == 1
    assert f"arghog pid {child.pid}" in texts[0] and texts[0].startswith("[web-1] ")


def test_a_hog_kill_goes_through_the_guard_and_stops_at_the_dry_run(
        tmp_path: Path, spawn: Spawn) -> None:
    child = spawn(HOG)
    data = {**LOW, "memory": {"kill_hog_at": 0.1},
            "processes": {"kill_allowed": ["^arghog$"]}}
    ctx = host_context(tmp_path, data)
    report = run_once(ctx)
    mem = problem(report, "memory:host") or problem(report, "memory:cgroup")
    assert mem is not None
    if mem.details["hogs"][0]["pid"] != child.pid:
        pytest.skip("something on this machine holds more memory than the 1 GiB child")
    assert mem.details["kill_candidate"]["pid"] == child.pid
    kill = next(o for o in report.actions if o.action.type == "kill_pid")
    assert kill.action.target == str(child.pid) and kill.result == "dry_run"
    assert "would send SIGTERM" in kill.detail
    assert child.poll() is None  # alive: a dry run sends nothing
    rows = [r for r in records(ctx) if r["key"] == mem.key]
    assert (rows[0]["action_taken"], rows[0]["action_result"]) == (
        f"kill_pid:{child.pid}", "dry_run")
    assert any(r["action_taken"] == "alert" for r in rows)  # and a person is told


def test_memory_that_recovered_before_the_kill_saves_the_hog(tmp_path: Path,
                                                            spawn: Spawn) -> None:
    """earlyoom's rule: the guard re-reads memory right before a kill made for memory."""
    child = spawn(HOG)
    ctx = host_context(tmp_path, {"memory": {"kill_hog_at": 99},
                                  "processes": {"kill_allowed": ["^arghog$"]}})
    now = ctx.clock()
    snapshot = collect_snapshot(ctx, iso(now))
    # As the snapshot had seen 99.5%: by now memory is what this host really uses.
    hog = Problem.make("memory", "critical", "memory:host", "memory at 99.5%",
                       {"pct": 99.5, "kill_candidate": {"pid": child.pid, "name": "arghog"}})
    guard = Guard(ctx, snapshot, now, {hog.key: hog})
    outcome = guard.carry_out(Action("kill_pid", str(child.pid), "test", "deterministic",
                                     hog.key))
    assert outcome.result == "skipped"
    assert outcome.detail.startswith("memory recovered to ")
    assert "(below 99%)" in outcome.detail and "not killing" in outcome.detail
    assert child.poll() is None


def test_on_a_memory_problem_every_unit_is_ranked(tmp_path: Path) -> None:
    report = run_once(host_context(tmp_path, LOW))
    diag = report.snapshot.diagnostics
    assert diag is not None and diag.ranked_units
    from argus.collect.system import memory_cgroup

    found = memory_cgroup("/proc", "/sys")
    if found is None:
        pytest.skip("no cgroup memory hierarchy on this host")
    version, base, _ = found
    usage = "memory.usage_in_bytes" if version == 1 else "memory.current"
    assert [u.memory_bytes for u in diag.units] == sorted(
        (u.memory_bytes for u in diag.units), reverse=True)
    for unit in diag.units:
        now = int(Path(base, unit.cgroup.lstrip("/"), usage).read_text())
        assert abs(now - unit.memory_bytes) < max(64 << 20, 0.2 * now)  # it moves a bit
        assert unit.processes is not None and unit.processes >= 0


def _mem_total() -> int:
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) * 1024


def test_a_quiet_cycle_reads_only_the_units_of_its_top_processes(tmp_path: Path) -> None:
    report = run_once(host_context(tmp_path))
    diag = report.snapshot.diagnostics
    assert diag is not None
    assert not diag.ranked_units and diag.hogs == () and diag.culprits == ()
    assert report.snapshot.paging is not None
    assert os.path.exists(os.path.join(str(tmp_path / "state"), "vmstat-sample.json"))
