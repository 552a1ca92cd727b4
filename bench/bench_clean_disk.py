"""Wall time of clean_disk over N old files (issue 3: 100,000 within 10 s), on a tmpfs.

It never works on a real directory: the script re-runs itself under
``unshare --mount --pid --fork --propagation private``; there it mounts a tmpfs on a
fresh, empty mkdtemp directory, checks that the mount is in place in its own mount
namespace, and points the cleaner at that directory only. When the namespace ends
the tmpfs goes with it, and the parent removes the empty directory. Needs root.

    sudo .venv/bin/python bench/bench_clean_disk.py [N] [--per-dir 1000]

Prints, for N old files (all removed) and N fresh ones (all examined, none removed):
files, seconds and files/s, with the progress lines clean_disk logs every 10,000 files.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time

from argus.act.disk import TMP_KEEP, CleanRoot, clean_disk

DAY_S = 86400


def host_mount_ns() -> str:
    return os.readlink("/proc/self/ns/mnt")


def parent(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("needs root (a mount namespace and a tmpfs)", file=sys.stderr)
        return 2
    scratch = tempfile.mkdtemp(prefix="argus-bench-disk-")
    try:
        return subprocess.run(
            ["unshare", "--mount", "--pid", "--fork", "--propagation", "private",
             sys.executable, os.path.abspath(__file__), str(args.n),
             "--per-dir", str(args.per_dir), "--scratch", scratch,
             "--host-ns", host_mount_ns()], check=False).returncode
    finally:
        os.rmdir(scratch)  # empty: the files only ever lived on the namespace's tmpfs


def tmpfs_mounted_at(path: str) -> bool:
    with open("/proc/self/mountinfo") as fh:
        last = None
        for line in fh:
            left, right = line.split(" - ")
            if left.split()[4] == path:
                last = right.split()[0]
    return last == "tmpfs"


def build(base: str, n: int, per_dir: int, mtime: float) -> None:
    os.mkdir(base)
    for i in range(n):
        if i % per_dir == 0:
            d = os.path.join(base, f"d{i // per_dir}")
            os.mkdir(d)
        path = os.path.join(d, f"f{i}.o")
        with open(path, "wb") as fh:
            fh.write(b"x" * 64)
        os.utime(path, (mtime, mtime))
    for name in os.listdir(base):
        os.utime(os.path.join(base, name), (mtime, mtime))
    os.utime(base, (mtime, mtime))


def run(label: str, root: str, n: int) -> None:
    t0 = time.perf_counter()
    result = clean_disk(7, time.time(), roots=(CleanRoot(root, keep=TMP_KEEP),))
    dt = time.perf_counter() - t0
    assert not result.timed_out and not result.errors, result
    print(f"{label}: {n} files, {dt:.2f} s, {n / dt:,.0f} files/s "
          f"(removed {result.files_removed} files, {result.dirs_removed} dirs)", flush=True)


def child(args: argparse.Namespace) -> int:
    scratch = os.path.realpath(args.scratch)
    if not args.host_ns or host_mount_ns() == args.host_ns:
        print("refusing: not in a private mount namespace", file=sys.stderr)
        return 2
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1g,nr_inodes=1m,mode=0700", "tmpfs",
                    scratch], check=True)
    if not tmpfs_mounted_at(scratch) or os.listdir(scratch):
        print(f"refusing: {scratch} is not a fresh tmpfs", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="  %(name)s: %(message)s")
    now = time.time()
    for label, mtime in (("old", now - 30 * DAY_S), ("fresh", now)):
        root = os.path.join(scratch, label)
        os.mkdir(root)
        build(os.path.join(root, "tree"), args.n, args.per_dir, mtime)
        run(label, root, args.n)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int, nargs="?", default=100_000, help="files per run")
    ap.add_argument("--per-dir", type=int, default=1000, help="files per directory")
    ap.add_argument("--scratch", help=argparse.SUPPRESS)
    ap.add_argument("--host-ns", help=argparse.SUPPRESS)
    args = ap.parse_args()
    return child(args) if args.scratch else parent(args)


if __name__ == "__main__":
    sys.exit(main())
