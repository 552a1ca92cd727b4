"""Processes: real children (a memory hog, a zombie, a CPU burner, a hostile name) and a fixture."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from collect_helpers import proc_fixture, proc_state, wait_for

from argus.collect.processes import (
    collect_processes,
    proc_stat_identity,
    read_process,
    unit_from_cgroup,
)

MiB = 1024 * 1024
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")

HOG = """
import time
ballast = b"x" * (200 * 1024 * 1024)  # bytes * n writes every page: all resident
print("ready", flush=True)
time.sleep(600)
"""
ZOMBIE_PARENT = """
import os, time
pid = os.fork()
if pid == 0:
    os._exit(0)
print(pid, flush=True)  # never waited for: stays a zombie while we live
time.sleep(600)
"""
BURNER = """
print("ready", flush=True)
while True:
    pass
"""
HOSTILE = """
import time
with open("/proc/self/comm", "wb") as f:
    f.write(b"x) (y\\nz) q")
print("ready", flush=True)
time.sleep(600)
"""


def _vmrss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_memory_hog_is_top_rss_with_its_real_rss(spawn) -> None:  # type: ignore[no-untyped-def]
    proc, _ = spawn(HOG)
    summary, _ = collect_processes("/proc", top_n=20, now=time.time(), previous=None)
    hog = next((p for p in summary.top_rss if p.pid == proc.pid), None)
    assert hog is not None, "the 200 MB child is not in top_rss"
    assert hog.rss_bytes == pytest.approx(_vmrss(proc.pid), rel=0.05)
    assert hog.rss_bytes > 200 * MiB
    assert hog.mem_pct == pytest.approx(hog.rss_bytes / psutil.virtual_memory().total * 100)
    # Identity details agree with psutil, which reads the same files its own way.
    ps = psutil.Process(proc.pid)
    assert hog.start_time == pytest.approx(ps.create_time(), abs=1.0)
    assert hog.user == ps.username()
    assert hog.name == ps.name() and hog.ppid == os.getpid()
    assert hog.cmdline.startswith(sys.executable + " -c ")
    assert 0 <= hog.age_s < 120
    assert summary.total >= 2 and summary.cpu_basis == "lifetime"
    # The list is biggest first.
    assert [p.rss_bytes for p in summary.top_rss] == sorted(
        (p.rss_bytes for p in summary.top_rss), reverse=True)


def test_real_zombie_is_counted(spawn) -> None:  # type: ignore[no-untyped-def]
    _, line = spawn(ZOMBIE_PARENT)
    zpid = int(line)
    wait_for(lambda: proc_state(zpid) == "Z")
    summary, _ = collect_processes("/proc", top_n=5, now=time.time(), previous=None)
    assert summary.zombies >= 1 and zpid in summary.zombie_pids
    assert summary.zombies == len(summary.zombie_pids)


def test_cpu_burner_tops_the_interval_cpu_list(spawn) -> None:  # type: ignore[no-untyped-def]
    proc, _ = spawn(BURNER)
    first, sample = collect_processes("/proc", top_n=5, now=time.time(), previous=None)
    assert first.cpu_basis == "lifetime"
    assert proc.pid in sample["ticks"]
    time.sleep(1.0)
    second, _ = collect_processes("/proc", top_n=5, now=time.time(), previous=sample)
    assert second.cpu_basis == "interval"
    burner = next((p for p in second.top_cpu if p.pid == proc.pid), None)
    assert burner is not None, [(p.pid, p.name, p.cpu_pct) for p in second.top_cpu]
    assert 30 < burner.cpu_pct <= 110  # one core, give or take scheduling noise
    assert [p.cpu_pct for p in second.top_cpu] == sorted(
        (p.cpu_pct for p in second.top_cpu), reverse=True)


def test_hostile_comm_and_cmdline(spawn) -> None:  # type: ignore[no-untyped-def]
    args = [b"line\nbreak", b"\x1b[31mred\x1b[0m", b"\xff\xfe-bad", b"\x1b]0;title\x07",
            b"A" * 10240]
    proc, _ = spawn(HOSTILE, *args)
    summary, _ = collect_processes("/proc", top_n=100_000, now=time.time(), previous=None)
    info = next(p for p in summary.top_rss if p.pid == proc.pid)
    for got in (info, read_process("/proc", proc.pid)):
        assert got is not None
        assert got.name == "x) (y\nz) q"  # comm kept exactly; display code escapes it
        assert got.state in ("R", "S") and got.ppid == os.getpid()
        assert not CONTROL.search(got.cmdline), repr(got.cmdline[:80])
        assert "\x1b" not in got.cmdline and "title" not in got.cmdline
        assert "line?break" in got.cmdline and "red" in got.cmdline
        assert "\ufffd\ufffd-bad" in got.cmdline
        assert len(got.cmdline) == 300 and got.cmdline.endswith("…")
    ident = proc_stat_identity("/proc", proc.pid)
    assert ident is not None and ident[1] == "x) (y\nz) q"
    stat = Path(f"/proc/{proc.pid}/stat").read_bytes()
    assert ident[0] == int(stat.rsplit(b")", 1)[1].split()[19])


def test_gone_processes_read_as_none() -> None:
    child = subprocess.Popen(["/bin/true"])
    child.wait()
    assert read_process("/proc", child.pid) is None
    assert proc_stat_identity("/proc", child.pid) is None


def test_scan_cost_per_process(spawn) -> None:  # type: ignore[no-untyped-def]
    """A lean scan: a few tens of microseconds of CPU per process (psutil: ~350)."""
    sleepers = [subprocess.Popen(["/bin/sleep", "600"]) for _ in range(300)]
    try:
        summary, sample = collect_processes("/proc", top_n=10, now=time.time(), previous=None)
        costs = []
        for _ in range(5):
            t0 = time.process_time()
            summary, sample = collect_processes("/proc", top_n=10, now=time.time(),
                                                previous=sample)
            costs.append(time.process_time() - t0)
        assert summary.total >= 300
        per_process_us = sorted(costs)[2] / summary.total * 1e6
        assert per_process_us < 100, f"{per_process_us:.1f} µs per process"
    finally:
        for s in sleepers:
            s.kill()
        for s in sleepers:
            s.wait()


# --- the fixture tree --------------------------------------------------------------

FIX = proc_fixture("processes-odd-comm")
BTIME = 1_700_000_000


def test_fixture_scan_lifetime() -> None:
    now = BTIME + 10_000.0
    summary, sample = collect_processes(FIX, top_n=5, now=now, previous=None)
    # 1, 300, 301, 302: kthreadd (pid 2), its child 15 and a PF_KTHREAD-flagged 77 are
    # left out, and 303 (no stat: exited mid-scan) is skipped.
    assert summary.total == 4
    assert set(sample["ticks"]) == {1, 300, 301, 302}
    assert summary.zombies == 1 and summary.zombie_pids == (301,)
    assert [p.pid for p in summary.top_rss] == [302, 300, 1]
    assert [p.pid for p in summary.top_cpu] == [302, 300, 1, 301]
    assert summary.cpu_basis == "lifetime"

    odd = summary.top_rss[1]
    assert odd.name == "a) (b\nc) d" and odd.state == "S" and odd.ppid == 1
    assert odd.cmdline == "/usr/bin/odd --name=a) (b "  # the ESC[2J is gone
    assert odd.rss_bytes == 50_000 * PAGE and odd.unit == "odd.service"
    assert odd.user == "root"
    assert odd.start_time == pytest.approx(BTIME + 1000 / CLK)

    hog = summary.top_rss[0]
    assert hog.user == "4242424"  # no passwd entry: the number
    assert hog.unit == "foo.service"
    assert hog.mem_pct == pytest.approx(250_000 * PAGE / (8 * 1024 * MiB) * 100)
    assert hog.age_s == pytest.approx(now - (BTIME + 200_000 / CLK))
    # Lifetime CPU: 700,000 ticks over its age on the /proc/uptime clock.
    assert hog.cpu_pct == pytest.approx(700_000 / CLK / (10_000 - 200_000 / CLK) * 100)


def test_fixture_scan_interval() -> None:
    now = BTIME + 10_000.0
    previous = {"t": now - 10, "ticks": {
        1: (10, 800), 300: (1000, 3000),
        302: (200_000, 700_000 - 5 * CLK),  # 5 s of CPU in 10 s: 50%
        301: (4000, 0),  # pid reused since: its start time differs, all ticks are new
    }}
    summary, _ = collect_processes(FIX, top_n=5, now=now, previous=previous)
    assert summary.cpu_basis == "interval"
    got = {p.pid: p.cpu_pct for p in summary.top_cpu}
    assert got == pytest.approx({302: 50.0, 301: 10 / CLK / 10 * 100})


def test_fixture_read_process_and_kernel_threads() -> None:
    hog = read_process(FIX, 302, now=BTIME + 10_000.0)
    assert hog is not None and hog.name == "python3" and hog.state == "R"
    for kthread in (2, 15, 77):
        assert read_process(FIX, kthread) is None
    assert read_process(FIX, 303) is None and read_process(FIX, 999) is None
    assert proc_stat_identity(FIX, 300) == (1000, "a) (b\nc) d")
    assert proc_stat_identity(FIX, 15) == (20, "kworker/0:1-events")


@pytest.mark.parametrize(("cgroup", "unit"), [
    (b"0::/system.slice/nginx.service\n", "nginx.service"),
    (b"0::/user.slice/user-0.slice/user@0.service/app.slice/foo.service\n", "foo.service"),
    (b"0::/user.slice/user-1000.slice/session-4.scope\n", "session-4.scope"),
    (b"0::/\n", None),
    (b"0::/process_api/15eb632f\n", None),
    # Legacy v1 systemd: the v2 line (if any) says "/", name=systemd has the unit.
    (b"5:memory:/system.slice/cron.service\n1:name=systemd:/system.slice/cron.service\n"
     b"0::/\n", "cron.service"),
])
def test_unit_from_cgroup(cgroup: bytes, unit: str | None) -> None:
    assert unit_from_cgroup(cgroup) == unit
