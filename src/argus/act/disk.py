"""clean_disk: delete old files from a hard-coded list of safe places (roadmap ARG-004).

It runs as root on production hosts, so nothing it finds can steer it elsewhere:

- every directory, roots included, is opened one component at a time with
  ``O_NOFOLLOW | O_DIRECTORY`` relative to its parent's fd, and every stat, unlink and
  rmdir is relative to that fd: a directory swapped for a symlink after it was listed
  makes the open fail (ELOOP or ENOTDIR, openat(2)) instead of redirecting a delete;
- an entry on another device, or a directory on another mount (a bind mount of the
  same filesystem, told apart by ``mnt_id`` in /proc/self/fdinfo, proc(5)), is skipped;
- only regular files (and, where a root allows it, symlinks themselves) are unlinked;
- right before an unlink the entry is stat'ed again and must still be the same inode,
  of the same type, and still old. The window left, between that stat and unlink(2)
  in a directory held open, can only ever remove a name in that same directory.

Filesystem errors (EACCES, EBUSY, ENOENT races...) are collected in the result, never
raised. Progress goes to the ``argus.act.disk`` log every 10,000 files.
"""

from __future__ import annotations

import errno
import math
import os
import pwd
import re
import stat
import time
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from typing import NamedTuple

from argus.errors import ActionError
from argus.logs import get_logger

log = get_logger("argus.act.disk")

DAY_S = 86400.0
PROGRESS_EVERY = 10_000  # files examined between two progress lines (the issue asks for them)
MAX_DEPTH = 64  # one open fd per level: deeper trees are skipped rather than exhaust fds
MAX_ERRORS = 50  # a tree of 100,000 unreadable files must not make a 100,000-line report
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class CleanRoot(NamedTuple):
    """One directory the cleaner may work in (never removing it), and what qualifies."""

    # Absolute; a symlink in any component skips the root (a user can point ~/.cache at /etc).
    path: str
    name_re: re.Pattern[str] | None = None  # None: every old regular file; else full match
    keep: tuple[str, ...] = ()  # fnmatch patterns of top-level names left alone
    remove_dirs: bool = True  # empty directories whose own mtime was old
    remove_links: bool = True  # old symlinks themselves; their targets are never touched
    ctime_guard: bool = False  # a file must also have an old ctime (inode change time)


class CleanResult(NamedTuple):
    """What one clean_disk run did. Sizes are in bytes (st_size)."""

    bytes_reclaimed: int  # removed regular files that were their last link (nlink 1)
    files_removed: int  # regular files and symlinks
    dirs_removed: int
    # Left alone for safety: special files, other filesystems, live /tmp names, entries
    # that changed under the walk, roots with a symlink in their path. Not counted:
    # fresh files and names a root does not match.
    skipped: int
    errors: tuple[str, ...]  # "path: ERRNO message", at most MAX_ERRORS + a summary
    by_root: dict[str, int]  # bytes reclaimed per root path
    timed_out: bool


# -- the safe list ---------------------------------------------------------------------
# Hard-coded on purpose, never configurable (issue 3): a configurable path is one a bad
# config, or an LLM proposal passed through the config, could point at / or /home.

# Live things in /tmp and /var/tmp whose mtime says nothing about whether they are in use:
TMP_KEEP = (
    "tmux-*",  # tmux server sockets (tmux-UID/default): removing one orphans its sessions
    ".X11-unix", ".ICE-unix", ".XIM-unix", ".font-unix",  # X11/ICE/XIM display sockets
    "systemd-private-*",  # PrivateTmp= of running services, bind-mounted into them
    "snap-private-tmp",  # snapd's per-snap private /tmp
)

# Rotated, compressed archives only (app.log.1.gz, app.log.12.gz): the live app.log and
# the not-yet-compressed app.log.1 may still be written or read by the rotating daemon.
ROTATED_LOG_RE = re.compile(r".+\.log\.[0-9]+\.gz")

# Per-home content caches, each rebuilt by its tool on demand (a miss is a download):
HOME_CACHES = (
    ".cache/pip",  # wheels and HTTP responses; pip re-downloads on a miss
    ".npm/_cacache",  # npm's content-addressed store; cacache treats a missing blob as a miss
    ".cache/yarn",  # yarn v1 package cache; `yarn cache clean` is the supported equivalent
    ".cache/go-build",  # Go's build cache, which Go itself trims by mtime (go help cache)
    ".cache/pypoetry/cache",  # Poetry's repository metadata cache
    ".cache/uv",  # uv's cache; venvs hardlink or copy from it, so they keep their files
)

SAFE_ROOTS: tuple[CleanRoot, ...] = (
    CleanRoot("/tmp", keep=TMP_KEEP),
    CleanRoot("/var/tmp", keep=TMP_KEEP),
    CleanRoot("/var/log", name_re=ROTATED_LOG_RE, remove_dirs=False, remove_links=False),
)


def user_homes(entries: Iterable[pwd.struct_passwd] | None = None) -> tuple[str, ...]:
    """Home directories under /home, and /root, from the passwd database, deduplicated."""
    homes = set()
    for entry in pwd.getpwall() if entries is None else entries:
        home = os.path.normpath(entry.pw_dir) if entry.pw_dir else ""
        if home == "/root" or home.startswith("/home/"):
            homes.add(home)
    return tuple(sorted(homes))


def home_cache_roots(homes: Iterable[str]) -> tuple[CleanRoot, ...]:
    """The HOME_CACHES under each home.

    With ``ctime_guard``: archives extracted into a cache keep the archive's mtimes (npm
    tarballs say 1985), so by mtime alone a package unpacked yesterday looks ancient and
    would lose its files but keep the metadata that tells yarn it is cached. Extraction
    sets the ctime, so requiring both old keeps such a package whole.
    """
    return tuple(CleanRoot(os.path.join(home, sub), ctime_guard=True)
                 for home in homes for sub in HOME_CACHES)


def safe_roots() -> tuple[CleanRoot, ...]:
    """SAFE_ROOTS plus the caches of every user's home, read from passwd now."""
    return SAFE_ROOTS + home_cache_roots(user_homes())


# -- the walk ----------------------------------------------------------------------------

def _open_dir(name: str, dir_fd: int) -> int:
    """Open directory ``name`` in ``dir_fd``; ELOOP if it is (or became) a symlink."""
    return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def _lstat_at(name: str, dir_fd: int) -> os.stat_result:
    return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)


def _mnt_id(fd: int) -> int | None:
    """The mount id of an open fd (proc(5), /proc/PID/fdinfo), or None without /proc,
    in which case st_dev alone still stops the walk at other filesystems."""
    try:
        with open(f"/proc/self/fdinfo/{fd}", "rb") as fh:
            return next(int(ln.split()[1]) for ln in fh if ln.startswith(b"mnt_id:"))
    except (OSError, ValueError, StopIteration):
        return None


def _open_root(path: str) -> int:
    """Open ``path`` from / one component at a time, refusing a symlink anywhere."""
    if not os.path.isabs(path) or ".." in path.split("/"):
        raise ActionError(f"clean_disk root must be an absolute path without '..': {path!r}")
    fd = os.open("/", _DIR_FLAGS)
    try:
        for part in filter(None, path.split("/")):
            child = _open_dir(part, fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.1f} MB"


class _Walk:
    """Counters and limits of one run, shared by every root."""

    def __init__(self, cutoff: float, deadline: float,
                 progress: Callable[[int, int], None] | None) -> None:
        self.cutoff = cutoff  # epoch seconds: older than this is old
        self.deadline = deadline  # time.monotonic() value
        self.progress = progress
        self.examined = self.files = self.dirs = self.bytes = self.skipped = 0
        self.errors: list[str] = []
        self.errors_dropped = 0
        self.timed_out = False
        self.reported = -1  # files examined at the last progress line
        self.dev = self.mnt = 0
        self.root = CleanRoot("/")

    def error(self, path: str, err: OSError | str) -> None:
        if len(self.errors) >= MAX_ERRORS:
            self.errors_dropped += 1
        elif isinstance(err, OSError):
            code = errno.errorcode.get(err.errno or 0, "?")
            self.errors.append(f"{path}: {code} {err.strerror}")
        else:
            self.errors.append(f"{path}: {err}")

    def out_of_time(self) -> bool:
        if not self.timed_out and time.monotonic() >= self.deadline:
            self.timed_out = True
            log.warning("clean_disk: deadline reached, stopping")
        return self.timed_out

    def report(self) -> None:
        if self.reported == self.examined:
            return  # the last 10,000th file was the last file: said already
        self.reported = self.examined
        log.info("clean_disk: %d files examined, %d removed, %s reclaimed",
                 self.examined, self.files, _size(self.bytes))
        if self.progress is not None:
            self.progress(self.examined, self.files)

    def old(self, st: os.stat_result) -> bool:
        return st.st_mtime < self.cutoff and (
            not self.root.ctime_guard or st.st_ctime < self.cutoff)

    def clean_root(self, root: CleanRoot) -> int:
        """Clean one root; returns the bytes it reclaimed."""
        try:
            fd = _open_root(root.path)
        except FileNotFoundError:
            return 0  # not on this host: nothing to clean
        except OSError as err:
            if err.errno not in (errno.ELOOP, errno.ENOTDIR):
                self.error(root.path, err)
                return 0
            self.skipped += 1  # a symlink (or a file) in the path: not ours to follow
            log.warning("clean_disk: skipping %s: a component is not a directory", root.path)
            return 0
        before, self.root = self.bytes, root
        try:
            self.dev, self.mnt = os.fstat(fd).st_dev, _mnt_id(fd) or 0
            self.clean_dir(fd, root.path, 0)
        finally:
            os.close(fd)
        return self.bytes - before

    def clean_dir(self, fd: int, path: str, depth: int) -> bool:
        """Clean the directory open as ``fd``; True when everything in it was removed."""
        try:
            with os.scandir(fd) as it:
                entries = list(it)  # listed first: no fd held open across the recursion
        except OSError as err:
            self.error(path, err)
            return False
        left = len(entries)
        for entry in entries:
            if self.out_of_time():
                return False
            if depth == 0 and any(fnmatchcase(entry.name, p) for p in self.root.keep):
                self.skipped += 1
                continue
            left -= self.visit(fd, entry, os.path.join(path, entry.name), depth)
        return left == 0

    def visit(self, fd: int, entry: os.DirEntry[str], path: str, depth: int) -> int:
        """Deal with one entry of the directory ``fd``; returns 1 if it was removed."""
        try:
            st = entry.stat(follow_symlinks=False)  # fstatat(fd, name, AT_SYMLINK_NOFOLLOW)
        except OSError as err:
            self.error(path, err)
            return 0
        if st.st_dev != self.dev:  # a mount point of another filesystem
            self.skipped += 1
            return 0
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            return self.descend(fd, entry.name, st, path, depth)
        self.examined += 1
        if self.examined % PROGRESS_EVERY == 0:
            self.report()
        if stat.S_ISREG(mode):
            name_re = self.root.name_re
            if (name_re is None or name_re.fullmatch(entry.name)) and self.old(st):
                return self.remove(fd, entry.name, st, path)
        elif stat.S_ISLNK(mode):
            if self.root.remove_links and self.old(st):
                return self.remove(fd, entry.name, st, path)  # the link, never its target
        else:
            self.skipped += 1  # socket, FIFO or device: a live endpoint or a node, not data
        return 0

    def remove(self, fd: int, name: str, st: os.stat_result, path: str) -> int:
        """Unlink (rmdir, for a directory) ``name`` if it is still what was listed."""
        is_dir = stat.S_ISDIR(st.st_mode)
        try:
            now = _lstat_at(name, fd)
            # A directory's mtime moved when the walk emptied it: its age was checked before.
            if ((now.st_dev, now.st_ino) != (st.st_dev, st.st_ino)
                    or stat.S_IFMT(now.st_mode) != stat.S_IFMT(st.st_mode)
                    or not (is_dir or self.old(now))):
                self.skipped += 1  # replaced or touched since it was listed
                return 0
            (os.rmdir if is_dir else os.unlink)(name, dir_fd=fd)
        except OSError as err:
            if not (is_dir and err.errno in (errno.ENOTEMPTY, errno.EEXIST)):  # refilled: kept
                self.error(path, err)
            return 0
        if is_dir:
            self.dirs += 1
        else:
            self.files += 1
            if stat.S_ISREG(now.st_mode) and now.st_nlink == 1:
                self.bytes += now.st_size
        return 1

    def descend(self, fd: int, name: str, st: os.stat_result, path: str, depth: int) -> int:
        """Clean subdirectory ``name``, then remove it if it is empty and was old."""
        if depth + 1 > MAX_DEPTH:
            self.skipped += 1
            self.error(path, f"deeper than {MAX_DEPTH} levels; not descended")
            return 0
        try:
            sub = _open_dir(name, fd)
        except OSError as err:
            self.error(path, err)  # ELOOP/ENOTDIR: swapped for a symlink or file since listed
            return 0
        try:
            now = os.fstat(sub)
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or (
                    self.mnt and _mnt_id(sub) not in (None, self.mnt)):
                self.skipped += 1  # swapped for another directory, or a bind mount
                return 0
            emptied = self.clean_dir(sub, path, depth + 1)
        finally:
            os.close(sub)
        # ``st`` is from the listing, before the walk emptied it and bumped its mtime.
        if emptied and self.root.remove_dirs and self.old(st) and not self.timed_out:
            return self.remove(fd, name, st, path)
        return 0


def clean_disk(
    max_age_days: float,
    now: float,
    *,
    roots: tuple[CleanRoot, ...] | None = None,
    progress: Callable[[int, int], None] | None = None,
    deadline_s: float = 60,
) -> CleanResult:
    """Remove regular files (and empty directories) older than ``max_age_days``.

    ``now`` is the clock in epoch seconds: files whose mtime is before
    ``now - max_age_days * 86400`` are old. ``roots`` None means the hard-coded safe
    list (:func:`safe_roots`); tests pass their own. Roots that do not exist are
    skipped silently. ``progress(files_examined, files_removed)`` is called with each
    progress log line, every 10,000 files and at the end. The walk stops after
    ``deadline_s`` seconds (monotonic) with ``timed_out`` set.
    """
    if not (math.isfinite(max_age_days) and max_age_days > 0):
        raise ActionError(f"clean_disk: max_age_days must be a positive number, "
                          f"got {max_age_days!r}")
    walk = _Walk(now - max_age_days * DAY_S, time.monotonic() + deadline_s, progress)
    by_root: dict[str, int] = {}
    for root in safe_roots() if roots is None else roots:
        if walk.out_of_time():
            break
        by_root[root.path] = by_root.get(root.path, 0) + walk.clean_root(root)
    walk.report()
    errors = walk.errors
    if walk.errors_dropped:
        errors = [*errors, f"... and {walk.errors_dropped} more errors"]
    return CleanResult(walk.bytes, walk.files, walk.dirs, walk.skipped, tuple(errors),
                       by_root, walk.timed_out)
