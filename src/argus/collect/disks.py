"""Watched filesystems: every real mount plus the tmpfs that back /tmp, /var/tmp, /dev/shm, /run.

The mount table comes from ``{proc_root}/self/mountinfo`` (not /proc/mounts: only
mountinfo has the device number and the mount's root, which bind-mount dedup needs).
"""

from __future__ import annotations

import os

from argus.collect.procfs import read_all
from argus.logs import get_logger
from argus.model import DiskInfo
from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeAlias

log = get_logger(__name__)

# Filesystems that hold no user data, so can't "fill up": kernel interfaces, and
# read-only images that are always 100% full by construction (snaps are squashfs,
# composefs uses erofs). devtmpfs is skipped: its size is a RAM cap, and /dev
# filling up is not something disk cleanup could help with.
PSEUDO_FSTYPES = frozenset({
    "proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "debugfs", "tracefs",
    "securityfs", "pstore", "bpf", "configfs", "fusectl", "autofs", "binfmt_misc",
    "hugetlbfs", "rpc_pipefs", "nsfs", "devtmpfs", "efivarfs", "ramfs", "selinuxfs",
    "nfsd", "sockfs", "pipefs", "squashfs", "erofs", "iso9660",
    # FUSE front ends for kernel-like data, not storage: LXCFS fakes /proc files,
    # gvfs and the Flatpak document portal are per-user views of other mounts.
    "fuse.lxcfs", "fuse.gvfsd-fuse", "fuse.portal",
})
# tmpfs lives in RAM+swap, but when one of these fills, programs fail just as they
# do on a full disk (DESIGN.md, "Watched filesystems").
TMPFS_WATCHED = frozenset({"/tmp", "/var/tmp", "/dev/shm", "/run"})

# proc(5), /proc/pid/mountinfo: space, tab, newline and backslash in paths are
# written as 3-digit octal escapes (\040, \011, \012, \134).
_OCTAL = rb"\\([0-7]{3})"


class Mount(NamedTuple):
    mount_id: int
    device: str  # "major:minor" of the superblock
    root: str  # the directory of the filesystem mounted here ("/" unless a bind mount)
    mount_point: str
    fstype: str
    source: str


def _unescape(raw: bytes) -> str:
    """Undo mountinfo's octal escapes; undecodable bytes survive as surrogates (PEP 383)."""
    if b"\\" not in raw:  # nearly every path: no need for re (~6 ms to import)
        return os.fsdecode(raw)
    import re

    return os.fsdecode(re.sub(_OCTAL, lambda m: bytes([int(m.group(1), 8) & 0xFF]), raw))


def parse_mountinfo(data: bytes) -> list[Mount]:
    """Parse mountinfo lines, in mount order.

    proc(5): ``36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw``;
    the optional fields before ``-`` vary in number, so the fixed fields after the
    separator are found from it, not by position.
    """
    mounts = []
    for line in data.splitlines():
        fields = line.split(b" ")
        try:
            sep = fields.index(b"-", 6)
            mounts.append(Mount(
                mount_id=int(fields[0]),
                device=fields[2].decode("ascii", "replace"),
                root=_unescape(fields[3]),
                mount_point=_unescape(fields[4]),
                fstype=_unescape(fields[sep + 1]),
                source=_unescape(fields[sep + 2]) if len(fields) > sep + 2 else "",
            ))
        except (ValueError, IndexError):
            log.debug("mountinfo: skipping malformed line %r", line[:200])
    return mounts


def is_watched(m: Mount) -> bool:
    """A real filesystem, or a tmpfs backing one of TMPFS_WATCHED."""
    if m.fstype == "tmpfs":
        return m.mount_point in TMPFS_WATCHED
    return m.fstype not in PSEUDO_FSTYPES


def watched_mounts(mounts: list[Mount]) -> list[Mount]:
    """The mounts worth a statvfs, without the ones hidden or duplicated.

    - A mount point mounted over again shows only the last mount (statvfs sees that
      one), so earlier entries for the same path are dropped.
    - Bind mounts of the same device and root are one filesystem; the shortest
      mount point names it (``/`` rather than ``/var/lib/docker/...``).
    """
    visible: dict[str, Mount] = {}
    for m in mounts:  # mountinfo lists mounts in the order they were mounted
        visible.pop(m.mount_point, None)
        visible[m.mount_point] = m
    by_source: dict[tuple[str, str], Mount] = {}
    for m in visible.values():
        if not is_watched(m):
            continue
        key = (m.device, m.root)
        kept = by_source.get(key)
        if kept is None or (len(m.mount_point), m.mount_point) < (
                len(kept.mount_point), kept.mount_point):
            by_source[key] = m
    # Shortest first, so the figure dedup in collect_disks keeps the shortest name.
    return sorted(by_source.values(), key=lambda m: (len(m.mount_point), m.mount_point))


StatVfs: TypeAlias = "Callable[[str], os.statvfs_result]"


def collect_disks(
    proc_root: str, *, statvfs: StatVfs = os.statvfs
) -> tuple[DiskInfo, ...]:
    """Usage of every watched filesystem, in bytes and inodes, sorted by mount point.

    Percentages are computed as df(1) does: ``used / (used + available)``, where
    available excludes the blocks reserved for root, so 100% means "users can't
    write", even if root still can. A mount whose statvfs fails (EACCES on a FUSE
    mount of another user, a stale NFS handle) is left out and logged; a mount that
    *hangs* is the orchestrator's timeout to catch. Mounts of the same device that
    report identical figures (a file bind-mounted into a container, such as
    /etc/hosts, or a subdirectory bind) are one filesystem and listed once; XFS
    project quotas make a subdirectory report its own figures and it stays listed.
    """
    mounts = watched_mounts(parse_mountinfo(read_all(f"{proc_root}/self/mountinfo")))
    out: list[DiskInfo] = []
    seen: set[tuple[str, tuple[int, ...]]] = set()
    for m in mounts:
        try:
            st = statvfs(m.mount_point)
        except OSError as err:  # PermissionError included
            log.debug("disks: statvfs(%r) failed: %s", m.mount_point, err)
            continue
        if st.f_blocks == 0:
            # A size-less filesystem (an unknown pseudo fs); df hides these too.
            continue
        figures = (st.f_blocks, st.f_bfree, st.f_bavail, st.f_files, st.f_ffree, st.f_frsize)
        if (m.device, figures) in seen:
            continue
        seen.add((m.device, figures))
        frsize = st.f_frsize or st.f_bsize
        total = st.f_blocks * frsize
        used = (st.f_blocks - st.f_bfree) * frsize
        avail = st.f_bavail * frsize
        used_pct = used / (used + avail) * 100 if used + avail else 0.0
        inodes_used = st.f_files - st.f_ffree
        out.append(DiskInfo(
            mount=m.mount_point,
            device=m.source,
            fstype=m.fstype,
            total_bytes=total,
            used_bytes=used,
            free_bytes=avail,
            used_pct=used_pct,
            inodes_total=st.f_files,
            inodes_used=inodes_used,
            inodes_pct=inodes_used / st.f_files * 100 if st.f_files else None,
        ))
    return tuple(sorted(out, key=lambda d: d.mount))
