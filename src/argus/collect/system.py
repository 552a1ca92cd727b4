"""Host-wide figures: memory (and the cgroup limit Argus lives under), CPU load, PSI.

Every reader takes the /proc (and /sys) root as a parameter so committed fixture
trees under ``tests/fixtures`` can stand in for Linux states this host can't produce.
"""

from __future__ import annotations

import os

from argus.collect.procfs import read_text
from argus.errors import CollectError
from argus.logs import get_logger
from argus.model import CpuInfo, MemoryInfo

log = get_logger(__name__)

# cgroup v1 reports "no limit" as PAGE_COUNTER_MAX in bytes, rounded down to a page:
# 9223372036854771712 on x86-64 with 4 KiB pages. Anything this large is "unlimited".
_V1_UNLIMITED = 2**62


def read_meminfo(proc_root: str) -> dict[str, int]:
    """``{proc_root}/meminfo`` as ``{field: bytes}``.

    proc(5): values are in kibibytes although the file says "kB"; the few fields
    without a unit (HugePages_Total and friends) are counts and are kept as-is.
    """
    out: dict[str, int] = {}
    for line in read_text(f"{proc_root}/meminfo").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if not parts:
            continue
        try:
            value = int(parts[0])
        except ValueError:
            continue
        out[key.strip()] = value * 1024 if len(parts) > 1 and parts[1] == "kB" else value
    return out


def _read_int(path: str) -> int | None:
    """An integer file such as memory.max; None when missing or "max" (no limit)."""
    try:
        raw = read_text(path).strip()
    except OSError:
        return None
    if raw == "max":
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _inactive_file(stat_path: str, key: str) -> int:
    """Reclaimable page cache in a cgroup's memory.stat (0 when unreadable)."""
    try:
        text = read_text(stat_path)
    except OSError:
        return 0
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _ancestors(root: str, path: str) -> list[str]:
    """``root/a/b``, ``root/a``, ``root``: the cgroup dir and each parent, existing only.

    Without a cgroup namespace, /proc/self/cgroup can name a path (``/docker/abc``)
    that the container's own /sys/fs/cgroup mount shows as its root; the missing
    directories are skipped and the mount root is always tried, which is where
    Docker and Kubernetes put the container's limit.
    """
    parts = [p for p in path.split("/") if p and p not in (".", "..")]
    dirs = [os.path.join(root, *parts[:i]) for i in range(len(parts), 0, -1)]
    return [d for d in dirs if os.path.isdir(d)] + [root]


def _self_cgroups(proc_root: str) -> tuple[str | None, str | None]:
    """(v1 memory controller path, v2 unified path) from ``{proc_root}/self/cgroup``.

    cgroups(7): each line is ``hierarchy-ID:controller-list:path``; the v2 line is
    ``0::path``. A hybrid host has both; the memory controller is then on v1.
    """
    v1 = v2 = None
    try:
        text = read_text(f"{proc_root}/self/cgroup")
    except OSError:
        return None, None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, path = parts
        if hid == "0" and controllers == "":
            v2 = path
        elif "memory" in controllers.split(","):
            v1 = path
    return v1, v2


# Per cgroup version: the limit file, the usage file, the inactive-cache key of memory.stat.
MEMORY_FILES = {1: ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
                2: ("memory.max", "memory.current", "inactive_file")}


def memory_cgroup(proc_root: str, sys_root: str) -> tuple[int, str, str] | None:
    """(version, hierarchy mount dir, Argus's cgroup path) for the memory controller.

    The v1 memory hierarchy when there is one (a hybrid host keeps memory on v1),
    else the unified v2 one; None on a kernel without cgroups.
    """
    v1_path, v2_path = _self_cgroups(proc_root)
    if v1_path is not None:
        return 1, f"{sys_root}/fs/cgroup/memory", v1_path
    if v2_path is not None:
        return 2, f"{sys_root}/fs/cgroup", v2_path
    return None


def limiting_cgroup(proc_root: str, sys_root: str,
                    host_total: int) -> tuple[int, str, int] | None:
    """(version, directory, limit bytes) of the tightest memory limit over Argus.

    Walks from Argus's own cgroup up to the root, because a limit on a parent
    (``system.slice``, a pod) binds the children too even when their own file says
    "max". None when no limit below host RAM (``host_total`` bytes) applies.
    """
    found = memory_cgroup(proc_root, sys_root)
    if found is None:
        return None
    version, base, path = found
    limit_f = MEMORY_FILES[version][0]
    best: tuple[int, str] | None = None
    for d in _ancestors(base, path):
        limit = _read_int(f"{d}/{limit_f}")
        if limit is None or limit >= _V1_UNLIMITED or limit >= host_total:
            continue
        if best is None or limit < best[0]:
            best = (limit, d)
    return None if best is None else (version, best[1], best[0])


def _cgroup_limit(
    proc_root: str, sys_root: str, host_total: int
) -> tuple[int, int, int] | None:
    """(version, limit bytes, usage bytes) of the tightest memory limit over Argus.

    See ``limiting_cgroup``. Usage is the limiting cgroup's, minus its inactive page
    cache, the "working set" cAdvisor and ``docker stats`` report: the kernel
    reclaims that cache before it OOM-kills, so counting it would cry wolf after a
    big file read. None when no limit below host RAM applies.
    """
    found = limiting_cgroup(proc_root, sys_root, host_total)
    if found is None:
        return None
    version, d, limit = found
    _, usage_f, inactive_key = MEMORY_FILES[version]
    usage = _read_int(f"{d}/{usage_f}")
    if usage is None:
        return None
    usage = max(0, usage - _inactive_file(f"{d}/memory.stat", inactive_key))
    return version, limit, usage


def collect_memory(proc_root: str, sys_root: str) -> MemoryInfo:
    """RAM and swap in bytes from meminfo, plus the cgroup memory limit if one binds.

    ``used_bytes`` is ``MemTotal - MemAvailable`` (what ``free`` calls used, minus
    reclaimable cache). Kernels before 3.14 have no MemAvailable; there
    ``MemFree + Buffers + Cached`` stands in, as ``free`` did then.
    """
    info = read_meminfo(proc_root)
    total = info.get("MemTotal")
    if not total:
        raise CollectError(f"{proc_root}/meminfo: no MemTotal")
    available = info.get("MemAvailable")
    if available is None:
        available = info.get("MemFree", 0) + info.get("Buffers", 0) + info.get("Cached", 0)
    available = min(available, total)
    used = total - available
    used_pct = used / total * 100
    swap_total = info.get("SwapTotal", 0)
    swap_free = min(info.get("SwapFree", 0), swap_total)
    swap_pct = (swap_total - swap_free) / swap_total * 100 if swap_total else 0.0

    cg = _cgroup_limit(proc_root, sys_root, total)
    if cg is None:
        version = limit = usage = None
        cg_pct = None
        pct, basis = used_pct, "host"
    else:
        version, limit, usage = cg
        cg_pct = usage / limit * 100 if limit else 100.0
        pct, basis = cg_pct, "cgroup"
    return MemoryInfo(
        total_bytes=total,
        available_bytes=available,
        used_bytes=used,
        used_pct=used_pct,
        swap_total_bytes=swap_total,
        swap_free_bytes=swap_free,
        swap_used_pct=swap_pct,
        cgroup_version=version,
        cgroup_limit_bytes=limit,
        cgroup_usage_bytes=usage,
        cgroup_pct=cg_pct,
        pct=pct,
        basis=basis,
    )


def _count_cpus(proc_root: str) -> int:
    """CPUs usable by Argus: its affinity mask on the real /proc, else ``cpuN`` lines.

    proc(5): /proc/stat has one ``cpuN`` line per online CPU after the ``cpu`` total.
    The affinity mask is what a ``taskset``/cpuset-confined Argus can actually use,
    and it is what load should be divided by.
    """
    if os.path.realpath(proc_root) == "/proc":
        return len(os.sched_getaffinity(0)) or os.cpu_count() or 1
    n = sum(
        1 for line in read_text(f"{proc_root}/stat").splitlines()
        if line.startswith("cpu") and line[3:4].isdigit()
    )
    return n or 1


def collect_cpu(proc_root: str) -> CpuInfo:
    """Load averages (runnable + uninterruptible tasks), usable cores, uptime in seconds."""
    load = read_text(f"{proc_root}/loadavg").split()
    uptime = float(read_text(f"{proc_root}/uptime").split()[0])
    return CpuInfo(
        load1=float(load[0]),
        load5=float(load[1]),
        load15=float(load[2]),
        cores=_count_cpus(proc_root),
        uptime_s=uptime,
    )


def collect_pressure(proc_root: str) -> dict[str, dict[str, float]] | None:
    """Pressure stall information from ``{proc_root}/pressure/{cpu,memory,io}``.

    Documentation/accounting/psi.rst: lines ``some avg10=.. avg60=.. avg300=..
    total=..``, and ``full`` likewise; avgN are percentages of wall time over the
    last N seconds, total is cumulative stall time in microseconds. Returns e.g.
    ``{"memory": {"some_avg10": 1.5, ..., "full_total_us": 123.0}}``; None when the
    kernel has no PSI (no directory: CONFIG_PSI off or booted with psi=0). A file
    that is missing or unreadable (EOPNOTSUPP) just leaves its resource out.
    """
    base = f"{proc_root}/pressure"
    if not os.path.isdir(base):
        return None
    out: dict[str, dict[str, float]] = {}
    for resource in ("cpu", "memory", "io"):
        try:
            text = read_text(f"{base}/{resource}")
        except OSError as err:
            log.debug("pressure: %s/%s unreadable: %s", base, resource, err)
            continue
        values: dict[str, float] = {}
        for line in text.splitlines():
            kind, *pairs = line.split() or [""]
            for pair in pairs:
                name, _, raw = pair.partition("=")
                try:
                    value = float(raw)
                except ValueError:
                    continue
                key = f"{kind}_{name}_us" if name == "total" else f"{kind}_{name}"
                values[key] = value
        if values:
            out[resource] = values
    return out
