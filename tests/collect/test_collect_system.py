"""Memory, cgroup limits, CPU and PSI: against this host and committed fixture trees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest
from collect_helpers import proc_fixture, sys_fixture

from argus.collect.system import collect_cpu, collect_memory, collect_pressure

MiB = 1024 * 1024
GiB = 1024 * MiB


# --- the real host -------------------------------------------------------------

def test_memory_matches_psutil_on_this_host() -> None:
    mem = collect_memory("/proc", "/sys")
    vm = psutil.virtual_memory()
    sw = psutil.swap_memory()
    assert mem.total_bytes == vm.total
    # Both read MemAvailable; the two reads are a moment apart.
    assert abs(mem.available_bytes - vm.available) < max(64 * MiB, vm.total // 100)
    assert abs(mem.used_pct - vm.percent) < 1.0
    assert mem.used_bytes == mem.total_bytes - mem.available_bytes
    assert mem.swap_total_bytes == sw.total
    assert abs(mem.swap_used_pct - sw.percent) < 1.0
    if mem.basis == "host":
        assert mem.pct == mem.used_pct and mem.cgroup_limit_bytes is None
    else:
        assert mem.cgroup_limit_bytes is not None and mem.cgroup_limit_bytes < mem.total_bytes


def test_cpu_on_this_host() -> None:
    cpu = collect_cpu("/proc")
    load = os.getloadavg()
    assert cpu.cores == len(os.sched_getaffinity(0))
    assert abs(cpu.load1 - load[0]) < 1.0
    assert abs(cpu.uptime_s - float(Path("/proc/uptime").read_text().split()[0])) < 5


def test_pressure_on_this_host() -> None:
    psi = collect_pressure("/proc")
    if not os.path.isdir("/proc/pressure"):
        assert psi is None
        return
    assert psi is not None
    assert set(psi) <= {"cpu", "memory", "io"} and psi
    for values in psi.values():
        assert 0.0 <= values["some_avg10"] <= 100.0
        assert values["some_total_us"] >= 0


V1_CHILD = """
import json, os, sys
cg = sys.argv[1]
with open(os.path.join(cg, "cgroup.procs"), "w") as f:
    f.write(str(os.getpid()))
ballast = b"x" * (64 * 1024 * 1024)  # touched: counted in the cgroup's usage
from argus.collect.system import collect_memory
print(json.dumps(collect_memory("/proc", "/sys")._asdict()))
"""


def test_real_cgroup_v1_limit(root_only: None) -> None:
    """A real v1 memory cgroup with a 256 MiB limit, joined by a real child process."""
    base = "/sys/fs/cgroup/memory"
    with open("/proc/self/cgroup") as f:
        own = next((ln.split(":", 2)[2].strip() for ln in f
                    if "memory" in ln.split(":")[1].split(",")), None)
    if own is None or not os.path.isdir(base):
        pytest.skip("no cgroup v1 memory controller on this host")
    parent = os.path.join(base, own.lstrip("/"))
    if not os.path.isdir(parent):
        parent = base
    cg = os.path.join(parent, f"argus-test-{uuid.uuid4().hex[:8]}")
    try:
        os.mkdir(cg)
    except OSError as err:
        pytest.skip(f"cannot create a memory cgroup: {err}")
    try:
        with open(os.path.join(cg, "memory.limit_in_bytes"), "w") as f:
            f.write(str(256 * MiB))
        out = subprocess.run([sys.executable, "-c", V1_CHILD, cg], capture_output=True,
                             check=True, timeout=60).stdout
        mem = json.loads(out)
        assert mem["basis"] == "cgroup" and mem["cgroup_version"] == 1
        assert mem["cgroup_limit_bytes"] == 256 * MiB
        assert 64 * MiB <= mem["cgroup_usage_bytes"] <= 256 * MiB
        assert mem["pct"] == mem["cgroup_pct"]
        assert mem["pct"] == pytest.approx(mem["cgroup_usage_bytes"] / (256 * MiB) * 100)
    finally:
        os.rmdir(cg)  # the child has exited, so the cgroup is empty


# --- fixtures --------------------------------------------------------------------

def _mem(scenario: str):  # type: ignore[no-untyped-def]
    return collect_memory(proc_fixture(scenario), sys_fixture(scenario))


def test_cgroup_v2_limit_on_parent_slice() -> None:
    """argus.service says "max", but system.slice has 512 MiB with 460 MiB in use."""
    mem = _mem("cgroup-v2-limit")
    assert mem.cgroup_version == 2
    assert mem.cgroup_limit_bytes == 512 * MiB
    assert mem.cgroup_usage_bytes == 460 * MiB
    assert mem.cgroup_pct == pytest.approx(89.84375)
    assert mem.pct == mem.cgroup_pct and mem.basis == "cgroup"
    # The host figures are still reported alongside.
    assert mem.total_bytes == 8 * GiB and mem.used_pct == pytest.approx(50.0)


def test_cgroup_v2_max_means_no_limit() -> None:
    mem = _mem("cgroup-v2-max")
    assert mem.basis == "host" and mem.pct == pytest.approx(50.0)
    assert mem.cgroup_version is None and mem.cgroup_limit_bytes is None
    assert mem.cgroup_usage_bytes is None and mem.cgroup_pct is None


def test_cgroup_v2_container_root_limit_excludes_inactive_cache() -> None:
    """/proc/self/cgroup says "0::/"; the limit is on the cgroup mount root."""
    mem = _mem("cgroup-v2-container")
    assert mem.cgroup_limit_bytes == GiB
    assert mem.cgroup_usage_bytes == 966367641 - 322122547
    assert mem.pct == pytest.approx(60.0, abs=0.01)


def test_cgroup_v2_path_missing_from_sys_falls_back_to_mount_root() -> None:
    mem = _mem("cgroup-v2-no-ns")
    assert mem.cgroup_limit_bytes == 256 * MiB and mem.pct == pytest.approx(50.0)


def test_cgroup_v1_limit_on_hybrid_host() -> None:
    mem = _mem("cgroup-v1-limit")
    assert mem.cgroup_version == 1
    assert mem.cgroup_limit_bytes == 2 * GiB and mem.cgroup_usage_bytes == int(1.5 * GiB)
    assert mem.pct == pytest.approx(75.0) and mem.basis == "cgroup"


def test_cgroup_v1_unlimited() -> None:
    mem = _mem("cgroup-v1-unlimited")
    assert mem.basis == "host" and mem.cgroup_limit_bytes is None
    assert mem.pct == mem.used_pct


def test_cgroup_v1_limit_above_host_ram_is_no_limit() -> None:
    mem = _mem("cgroup-v1-above-ram")
    assert mem.basis == "host" and mem.cgroup_version is None


def test_old_kernel_without_memavailable() -> None:
    mem = collect_memory(proc_fixture("old-kernel"), "/nonexistent-sys")
    # MemFree + Buffers + Cached = 256 + 64 + 192 MiB = 512 MiB of 2 GiB.
    assert mem.total_bytes == 2 * GiB
    assert mem.available_bytes == 512 * MiB
    assert mem.used_pct == pytest.approx(75.0)
    assert mem.swap_used_pct == 0.0 and mem.swap_total_bytes == GiB
    # Its v1 memory cgroup is "/" and /sys has no such files: host basis.
    assert mem.basis == "host"


def test_odd_meminfo_without_swap_and_with_unknown_lines() -> None:
    mem = collect_memory(proc_fixture("odd-meminfo"), "/nonexistent-sys")
    assert mem.total_bytes == 4 * GiB and mem.available_bytes == 3 * GiB
    assert mem.used_pct == pytest.approx(25.0)
    assert mem.swap_total_bytes == 0 and mem.swap_free_bytes == 0 and mem.swap_used_pct == 0.0
    assert mem.basis == "host"  # no self/cgroup file at all


def test_cpu_from_fixture_counts_cpu_lines() -> None:
    cpu = collect_cpu(proc_fixture("psi-partial"))
    assert (cpu.load1, cpu.load5, cpu.load15) == (7.91, 5.02, 2.5)
    assert cpu.cores == 4 and cpu.uptime_s == 1234.56


def test_pressure_fixture_with_a_missing_file() -> None:
    psi = collect_pressure(proc_fixture("psi-partial"))
    assert psi is not None
    assert set(psi) == {"cpu", "memory"}  # io is missing: left out, not an error
    assert psi["memory"]["some_avg10"] == 40.10
    assert psi["memory"]["full_avg60"] == 15.50
    assert psi["memory"]["full_total_us"] == 4440000
    assert psi["cpu"]["some_avg300"] == 3.0


def test_pressure_absent_on_kernel_without_psi() -> None:
    assert collect_pressure(proc_fixture("old-kernel")) is None
