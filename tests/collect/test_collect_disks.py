"""Disks: this host's real mounts, a real tmpfs in a private mount namespace, a fixture table."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from collect_helpers import proc_fixture

from argus.collect.disks import collect_disks, parse_mountinfo

MiB = 1024 * 1024


def test_root_matches_statvfs_on_this_host() -> None:
    disks = {d.mount: d for d in collect_disks("/proc")}
    assert "/" in disks
    root = disks["/"]
    st = os.statvfs("/")
    assert root.total_bytes == st.f_blocks * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    # Other processes write meanwhile; 256 MiB is plenty of slack for a moment.
    assert abs(root.used_bytes - used) < 256 * MiB
    assert abs(root.free_bytes - avail) < 256 * MiB
    assert abs(root.used_pct - used / (used + avail) * 100) < 0.5
    assert root.inodes_total == st.f_files
    # Nothing pseudo leaks through.
    assert not any(d.fstype in {"proc", "sysfs", "cgroup", "cgroup2", "devpts"}
                   for d in disks.values())


NAMESPACE_CHILD = """
import json, os, subprocess, sys
# Imported before /tmp is covered: a checkout (and its venv) may live under /tmp.
from argus.collect.disks import collect_disks
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", "/tmp"], check=True)
with open("/tmp/fill", "wb") as f:
    f.write(b"\\0" * (4 * 1024 * 1024))
os.mkdir("/tmp/with space")
# A bind of / onto a path with a space: the same filesystem as /, listed once.
subprocess.run(["mount", "--bind", "/", "/tmp/with space"], check=True)
print(json.dumps([d._asdict() for d in collect_disks("/proc")]))
"""


def test_real_tmpfs_on_tmp_in_private_namespace(root_only: None) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) not installed")
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-c",
         NAMESPACE_CHILD], capture_output=True, timeout=60)
    if proc.returncode != 0 and b"unshare failed" in proc.stderr:
        pytest.skip(f"no mount namespaces here: {proc.stderr.decode()[:200]}")
    assert proc.returncode == 0, proc.stderr.decode()
    disks = {d["mount"]: d for d in json.loads(proc.stdout)}
    tmp = disks["/tmp"]
    assert tmp["fstype"] == "tmpfs" and tmp["total_bytes"] == 8 * MiB
    assert tmp["used_bytes"] == 4 * MiB and tmp["used_pct"] == pytest.approx(50.0)
    assert "/" in disks and "/tmp/with space" not in disks


class FakeStatvfs:
    """Stands in for os.statvfs on the fixture's mount points, which don't exist here."""

    # mount point -> (f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree)
    TABLE: dict[str, tuple[int, ...]] = {
        "/": (4096, 4096, 1000, 300, 250, 500, 100),
        "/home": (4096, 4096, 2000, 1000, 1000, 0, 0),  # xfs-like: inodes dynamic here
        "/var/lib/docker/volumes/home": (4096, 4096, 2000, 1000, 1000, 0, 0),
        "/mnt/logs": (4096, 4096, 1000, 300, 250, 500, 100),  # bind of /var/log: same fs
        "/etc/hostname": (4096, 4096, 1000, 300, 250, 500, 100),  # file bind: same fs
        "/mnt/My Drive": (4096, 4096, 100, 10, 5, 50, 40),
        "/srv/back\\slash\ttab": (4096, 4096, 100, 50, 50, 10, 5),
        "/dev/shm": (4096, 4096, 16, 8, 8, 10, 9),  # the top one of two mounts
        "/run": (4096, 4096, 200, 150, 150, 1000, 900),
        "/tmp": (4096, 4096, 100, 1, 1, 1000, 10),
        "/var/tmp": (4096, 4096, 100, 100, 100, 1000, 1000),
        "/var/lib/containers/overlay/merged": (4096, 4096, 50, 25, 25, 10, 5),
        "/mnt/nfs": (4096, 4096, 100, 0, 0, 10, 0),
    }

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, path: str) -> os.statvfs_result:
        self.calls.append(path)
        if path == "/mnt/denied":
            raise PermissionError(13, "Permission denied", path)
        bsize, frsize, blocks, bfree, bavail, files, ffree = self.TABLE[path]
        return os.statvfs_result(
            (bsize, frsize, blocks, bfree, bavail, files, ffree, ffree, 0, 255))


def test_fixture_mount_table() -> None:
    fake = FakeStatvfs()
    disks = {d.mount: d for d in collect_disks(proc_fixture("mounts-mixed"), statvfs=fake)}
    assert sorted(disks) == sorted([
        "/", "/home", "/mnt/My Drive", "/srv/back\\slash\ttab", "/dev/shm", "/run",
        "/tmp", "/var/tmp", "/var/lib/containers/overlay/merged", "/mnt/nfs",
    ])
    # Skipped: pseudo fs, snaps, tmpfs elsewhere (/sys/fs/cgroup, /run/user/1000,
    # /media/scratch), ramfs, and the statvfs that failed, without calling statvfs.
    for never in ("/proc", "/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/snap/core22/1234",
                  "/run/user/1000", "/dev", "/mnt/ram", "/media/scratch",
                  "/sys/firmware/efi/efivars", "/proc/sys/fs/binfmt_misc"):
        assert never not in fake.calls
    root = disks["/"]
    assert root.device == "/dev/sda1" and root.fstype == "ext4"
    assert root.total_bytes == 1000 * 4096
    assert root.used_bytes == 700 * 4096 and root.free_bytes == 250 * 4096
    assert root.used_pct == pytest.approx(700 / 950 * 100)  # df: used/(used+avail)
    assert root.inodes_used == 400 and root.inodes_pct == pytest.approx(80.0)
    assert disks["/home"].inodes_pct is None  # f_files == 0
    assert disks["/mnt/nfs"].used_pct == 100.0
    assert disks["/dev/shm"].total_bytes == 16 * 4096  # the later mount hides the first
    assert disks["/tmp"].used_pct == pytest.approx(99.0)


def test_mountinfo_escapes_and_optional_fields() -> None:
    line = (rb"99 22 8:3 /sub\040dir /mnt/a\040b\012c rw shared:1 master:2 - ext4 "
            rb"/dev/x\040y rw")
    (m,) = parse_mountinfo(line + b"\n" + b"garbage line\n")
    assert m.root == "/sub dir" and m.mount_point == "/mnt/a b\nc"
    assert m.fstype == "ext4" and m.source == "/dev/x y" and m.device == "8:3"
