"""Memory per systemd unit (or container), from the cgroup each one owns.

No single process may be large while a unit is: 24 nginx workers of 250 MB each
are 6 GB that a per-process top list never shows. The kernel already adds them up
per cgroup: ``memory.current`` (cgroup v2, Documentation/admin-guide/cgroup-v2.rst)
or ``memory.usage_in_bytes`` (v1); both count the page cache the unit's processes
brought in, as ``systemctl status`` shows it.

Two ways in, by cost:

- ``rank_units`` walks the whole memory hierarchy (every unit and container),
  which on a host with a hundred units is a few ms: only when memory is in trouble;
- ``units_of_pids`` reads the cgroups of a few given processes (the top ones and
  the watched units' main pids): a few small reads per cycle, for the history.
"""

from __future__ import annotations

import os

from argus.model_diagnostics import UnitMemory

MAX_DEPTH = 8  # system.slice/x.service is 2; user@.service/app.slice/y.service is 5
MAX_PIDS = 100_000  # a bound on what one cgroup's process list may cost to read
_USAGE_FILE = {1: "memory.usage_in_bytes", 2: "memory.current"}
# Containers under a cgroupfs driver (/docker/<id>, /kubepods/.../<id>) are named
# by their id; under the systemd driver they are scopes (docker-<id>.scope), units.


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 1 << 20)
    finally:
        os.close(fd)


def cgroup_label(path: str) -> str | None:
    """The unit (innermost ``.service``/``.scope``) or container a cgroup path names.

    ``/system.slice/nginx.service`` -> ``nginx.service``;
    ``/docker/3f4e...`` -> ``container:3f4e5a6b7c8d`` (the short id ``docker ps`` shows);
    ``/kubepods/burstable/pod1234/0a1b...`` -> ``container:0a1b2c3d4e5f``. None otherwise.
    """
    parts = [p for p in path.split("/") if p]
    for part in reversed(parts):
        if part.endswith((".service", ".scope")):
            return part
    if len(parts) >= 2 and _is_container(parts[-2], parts[-1]):
        return f"container:{parts[-1][:12]}"
    return None


def _unit_dir(base: str, path: str) -> str | None:
    """The directory of the innermost unit or container along ``path``; None if none."""
    parts = [p for p in path.split("/") if p and p not in (".", "..")]
    for i in range(len(parts), 0, -1):
        # The unit's own directory, not a sub-cgroup it delegates (docker.service/x).
        last = parts[i - 1]
        if last.endswith((".service", ".scope")) or (
                i >= 2 and _is_container(parts[i - 2], last)):
            return os.path.join(base, *parts[:i])
    return None


def process_cgroup(proc_root: str, pid: int, version: int) -> str | None:
    """The cgroup path of ``pid`` in the memory hierarchy (cgroups(7) line format)."""
    try:
        data = _read(f"{proc_root}/{pid}/cgroup")
    except OSError:
        return None
    for line in data.decode("utf-8", "replace").splitlines():
        hid, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if version == 2 and hid == "0" and controllers == "":
            return path
        if version == 1 and "memory" in controllers.split(","):
            return path
    return None


def pids_in(cgroup_dir: str) -> list[int]:
    """Every pid in ``cgroup_dir`` and its descendants (``cgroup.procs`` of each)."""
    pids: list[int] = []
    for dirpath, dirnames, _ in os.walk(cgroup_dir):
        try:
            pids.extend(int(x) for x in _read(f"{dirpath}/cgroup.procs").split())
        except (OSError, ValueError):
            continue
        if len(pids) >= MAX_PIDS:
            dirnames.clear()
    return pids


def _usage(cgroup_dir: str, version: int) -> int | None:
    try:
        return int(_read(f"{cgroup_dir}/{_USAGE_FILE[version]}"))
    except (OSError, ValueError):
        return None


def _entry(base: str, d: str, version: int, mem_total: int,
           count: bool) -> UnitMemory | None:
    rel = "/" + os.path.relpath(d, base)
    usage = _usage(d, version)
    label = cgroup_label(rel)
    if usage is None or label is None:
        return None
    return UnitMemory(unit=label, cgroup=rel, memory_bytes=usage,
                      processes=len(pids_in(d)) if count else None,
                      mem_pct=usage / mem_total * 100 if mem_total else 0.0)


def rank_units(version: int, base: str, mem_total: int, top: int = 5,
               start: str | None = None) -> tuple[UnitMemory, ...]:
    """The ``top`` units and containers holding the most memory, biggest first.

    Walks the memory hierarchy mounted at ``base`` (``/sys/fs/cgroup`` on v2,
    ``/sys/fs/cgroup/memory`` on v1), or only the subtree at ``start``, reading the
    usage of every directory named like a unit or a container; process counts are
    read for the winners only. ``mem_total`` is host RAM in bytes, for ``mem_pct``.
    """
    found: list[tuple[int, str]] = []
    stack = [(start or base, 0)]
    while stack:
        d, depth = stack.pop()
        try:
            entries = [e for e in os.scandir(d) if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for e in entries:
            if cgroup_label("/" + e.name) is not None or _is_container(d, e.name):
                usage = _usage(e.path, version)
                if usage is not None:
                    found.append((usage, e.path))
            if depth + 1 < MAX_DEPTH:
                stack.append((e.path, depth + 1))
    found.sort(reverse=True)
    out = []
    for _, d in found[:top]:
        entry = _entry(base, d, version, mem_total, count=True)
        if entry is not None:
            out.append(entry)
    return tuple(out)


def _is_container(parent: str, name: str) -> bool:
    """A container's own cgroup: a long hex id (64 digits from Docker, containerd,
    CRI-O and Kubernetes; 32 from some sandboxes) or any child of the LXC/machined
    parents, which use names."""
    parent = os.path.basename(parent)
    if parent in ("lxc", "machine", "lxc.payload"):
        return True
    return len(name) >= 32 and all(c in "0123456789abcdef" for c in name)


def units_of_pids(proc_root: str, version: int, base: str, pids: list[int],
                  mem_total: int) -> tuple[UnitMemory, ...]:
    """The memory of the units ``pids`` belong to, biggest first, each unit once.

    Two small reads per pid and one per unit; process counts are not read here
    (``processes`` is None).
    """
    seen: set[str] = set()
    out: list[UnitMemory] = []
    for pid in pids:
        path = process_cgroup(proc_root, pid, version)
        d = _unit_dir(base, path) if path is not None else None
        if d is None or d in seen:
            continue
        seen.add(d)
        entry = _entry(base, d, version, mem_total, count=False)
        if entry is not None:
            out.append(entry)
    return tuple(sorted(out, key=lambda u: u.memory_bytes, reverse=True))
