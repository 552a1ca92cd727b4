"""clean_disk's walk against real files, with roots under pytest's tmp_path only."""

from __future__ import annotations

import logging
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from disk_helpers import MAX_AGE_DAYS, NOW, OLD, Victim, age, make_file

from argus.act import disk
from argus.act.disk import CleanResult, CleanRoot, clean_disk
from argus.errors import ActionError


def clean(*roots: CleanRoot, **kw: object) -> CleanResult:
    return clean_disk(MAX_AGE_DAYS, NOW, roots=roots, **kw)  # type: ignore[arg-type]


def test_old_files_removed_fresh_kept(root_dir: Path) -> None:
    old = [make_file(root_dir / "a.old"), make_file(root_dir / "d1" / "d2" / "b.old")]
    fresh = [make_file(root_dir / "c.new", mtime=NOW - 3600),
             make_file(root_dir / "d1" / "e.new", mtime=NOW - 6.9 * 86400)]
    result = clean(CleanRoot(str(root_dir)))
    assert not any(p.exists() for p in old)
    assert all(p.exists() for p in fresh)
    assert result.files_removed == 2 and result.errors == () and not result.timed_out


def test_bytes_reclaimed_is_the_sum_of_removed_sizes(root_dir: Path, tmp_path: Path) -> None:
    sizes = [0, 1, 4096, 123_457]
    for i, n in enumerate(sizes):
        make_file(root_dir / f"d{i}" / f"f{i}", b"z" * n)
    make_file(root_dir / "fresh", b"z" * 999, mtime=NOW)
    other = tmp_path / "other"
    make_file(other / "g", b"q" * 77)
    result = clean(CleanRoot(str(root_dir)), CleanRoot(str(other)))
    assert result.bytes_reclaimed == sum(sizes) + 77
    assert result.by_root == {str(root_dir): sum(sizes), str(other): 77}
    assert result.files_removed == 5


def test_hard_link_to_a_victim_frees_nothing_and_spares_it(root_dir: Path,
                                                           victim: Victim) -> None:
    os.link(victim.files[0], root_dir / "hardlink")
    result = clean(CleanRoot(str(root_dir)))
    victim.assert_intact()
    assert not (root_dir / "hardlink").exists()  # the name in the root goes...
    assert result.files_removed == 1 and result.bytes_reclaimed == 0  # ...but frees nothing


@pytest.mark.parametrize("link_age", ["old", "fresh"])
def test_symlinks_to_a_victim_never_touch_it(root_dir: Path, victim: Victim,
                                             link_age: str) -> None:
    """Pins the incident in the brief: a cleaner that followed a symlink out of /tmp
    deleted the Python it ran on."""
    links = {
        "to-file": victim.files[0],
        "to-dir": victim.dir,
        "to-subdir": victim.dir / "sub",
        "dangling": victim.dir / "nothing-here",
    }
    (root_dir / "nested").mkdir()
    for name, target in links.items():
        for where in (root_dir / name, root_dir / "nested" / name):
            where.symlink_to(target)
            age(where, OLD if link_age == "old" else NOW)
    age(root_dir / "nested")
    result = clean(CleanRoot(str(root_dir)))
    victim.assert_intact()
    if link_age == "old":  # the old links themselves may go, never what they point at
        assert not any(root_dir.iterdir())
        assert result.files_removed == 8 and result.dirs_removed == 1
    else:
        assert all((root_dir / n).is_symlink() for n in links) and result.files_removed == 0
    assert result.bytes_reclaimed == 0 and result.errors == ()


def test_links_kept_where_the_root_says_so(root_dir: Path, victim: Victim) -> None:
    (root_dir / "app.log.1.gz").symlink_to(victim.files[0])
    age(root_dir / "app.log.1.gz")
    result = clean(CleanRoot(str(root_dir), name_re=disk.ROTATED_LOG_RE, remove_links=False))
    assert (root_dir / "app.log.1.gz").is_symlink() and result.files_removed == 0
    victim.assert_intact()


def test_a_root_reached_through_a_symlink_is_refused(tmp_path: Path, victim: Victim) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".cache").symlink_to(victim.dir)  # a user's ~/.cache -> elsewhere
    (tmp_path / "rootlink").symlink_to(victim.dir)
    result = clean(CleanRoot(str(tmp_path / "home" / ".cache" / "sub")),
                   CleanRoot(str(tmp_path / "rootlink")))
    victim.assert_intact()
    assert result.skipped == 2 and result.files_removed == 0 and result.errors == ()


def test_missing_roots_are_skipped_silently(tmp_path: Path) -> None:
    result = clean(CleanRoot(str(tmp_path / "no" / "such")))
    assert result == CleanResult(0, 0, 0, 0, (), {str(tmp_path / "no" / "such"): 0}, False)


def test_sockets_fifos_and_devices_are_skipped(root_dir: Path) -> None:
    os.mkfifo(root_dir / "fifo")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(root_dir / "sock"))
        specials = ["fifo", "sock"]
        if os.geteuid() == 0:
            os.mknod(root_dir / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
            specials.append("null")
        for name in specials:
            age(root_dir / name)
        result = clean(CleanRoot(str(root_dir)))
        modes = {name: os.lstat(root_dir / name).st_mode for name in specials}
    finally:
        sock.close()
    assert stat.S_ISFIFO(modes["fifo"]) and stat.S_ISSOCK(modes["sock"])
    if "null" in modes:
        assert stat.S_ISCHR(modes["null"])
    assert result.skipped == len(specials) and result.files_removed == 0


def test_directories_go_only_when_empty_and_old(root_dir: Path) -> None:
    (root_dir / "empty-old" / "nested-empty-old").mkdir(parents=True)
    age(root_dir / "empty-old" / "nested-empty-old")
    age(root_dir / "empty-old")
    make_file(root_dir / "only-old-files" / "f")  # emptied by the walk: its mtime is now
    age(root_dir / "only-old-files")  # fresh, but it was old before the walk began
    (root_dir / "empty-fresh").mkdir()
    make_file(root_dir / "keeps-a-fresh-file" / "new", mtime=NOW)
    make_file(root_dir / "keeps-a-fresh-file" / "old")
    age(root_dir / "keeps-a-fresh-file")
    make_file(root_dir / "fresh-dir-old-file" / "old")
    result = clean(CleanRoot(str(root_dir)))
    assert sorted(p.name for p in root_dir.iterdir()) == [
        "empty-fresh", "fresh-dir-old-file", "keeps-a-fresh-file"]
    assert list((root_dir / "fresh-dir-old-file").iterdir()) == []
    assert result.dirs_removed == 3 and result.files_removed == 3


def test_the_root_itself_is_never_removed(root_dir: Path) -> None:
    make_file(root_dir / "d" / "f")
    age(root_dir / "d")
    age(root_dir)
    result = clean(CleanRoot(str(root_dir)))
    assert root_dir.is_dir() and list(root_dir.iterdir()) == []
    assert result.dirs_removed == 1


def test_var_log_root_removes_only_rotated_archives(root_dir: Path) -> None:
    gone = ["app.log.1.gz", "x.log.1.gz", "app.log.12.gz", "nginx/access.log.3.gz"]
    kept = ["app.log", "app.log.1", "syslog", "x.gz", "syslog.2.gz", "app.log.gz",
            "app.log.1.gz.tmp", "app.log.x.gz", "kern.log.1.bz2", "nginx/error.log"]
    for name in gone + kept:
        make_file(root_dir / name)
    (root_dir / "empty-old").mkdir()
    age(root_dir / "empty-old")
    make_file(root_dir / "fresh.log.2.gz", mtime=NOW)
    result = clean(disk.SAFE_ROOTS[2]._replace(path=str(root_dir)))
    assert [n for n in gone if (root_dir / n).exists()] == []
    assert [n for n in kept if not (root_dir / n).exists()] == []
    assert (root_dir / "empty-old").is_dir() and (root_dir / "fresh.log.2.gz").exists()
    assert result.files_removed == len(gone) and result.dirs_removed == 0


def test_live_names_in_tmp_are_left_alone(root_dir: Path) -> None:
    live = ["tmux-0/default", ".X11-unix/X0", ".ICE-unix/42", "systemd-private-abc/tmp/f",
            "snap-private-tmp/snap.x/tmp/f"]
    for name in live:
        make_file(root_dir / name)
    make_file(root_dir / "plain" / "tmux-0")  # the names are only special at the top
    age(root_dir / "plain")
    result = clean(disk.SAFE_ROOTS[0]._replace(path=str(root_dir)))
    assert all((root_dir / n).exists() for n in live)
    assert not (root_dir / "plain").exists()
    assert result.skipped == len(live) and result.files_removed == 1


def test_safe_list_is_the_documented_one() -> None:
    assert [r.path for r in disk.SAFE_ROOTS] == ["/tmp", "/var/tmp", "/var/log"]
    homes = disk.home_cache_roots(["/root", "/home/ann"])
    assert [r.path for r in homes][:6] == [
        "/root/.cache/pip", "/root/.npm/_cacache", "/root/.cache/yarn",
        "/root/.cache/go-build", "/root/.cache/pypoetry/cache", "/root/.cache/uv"]
    assert len(homes) == 12 and all(r.ctime_guard for r in homes)


class FakePw:
    def __init__(self, pw_dir: str) -> None:
        self.pw_dir = pw_dir


def test_user_homes_keeps_home_and_root_deduplicated() -> None:
    entries = [FakePw(d) for d in ("/root", "/root/", "/home/ann", "/home/ann/", "/home/bob",
                                   "/", "/nonexistent", "/var/lib/postgres", "", "/home",
                                   "/homework/x", "/home/../etc")]
    assert disk.user_homes(entries) == ("/home/ann", "/home/bob", "/root")  # type: ignore[arg-type]


def test_cache_roots_clean_only_the_listed_subdirs(tmp_path: Path) -> None:
    home = tmp_path / "home" / "ann"
    listed = [".cache/pip/http/a", ".npm/_cacache/content-v2/b", ".cache/yarn/v6/c",
              ".cache/go-build/00/d", ".cache/pypoetry/cache/repositories/e", ".cache/uv/f"]
    unlisted = [".cache/other/x", ".cache/pypoetry/virtualenvs/v/y", ".npm/_logs/z",
                ".cache/top", "Documents/thesis.tex", ".local/share/uv/python/p"]
    for name in listed + unlisted:
        make_file(home / name)
    # Without the ctime guard: these files' ctimes are fresh (utime just set the mtime).
    roots = tuple(r._replace(ctime_guard=False) for r in disk.home_cache_roots([str(home)]))
    result = clean(*roots)
    assert [n for n in listed if (home / n).exists()] == []
    assert [n for n in unlisted if not (home / n).exists()] == []
    assert all((home / sub).is_dir() for sub in disk.HOME_CACHES)  # roots themselves stay
    assert result.files_removed == len(listed)


def test_cache_files_with_archive_mtimes_wait_for_an_old_ctime(tmp_path: Path) -> None:
    home = tmp_path / "home" / "ann"
    # An npm tarball's entries say 1985; yarn unpacked this one a minute ago.
    pkg = home / ".cache/yarn/v6/npm-left-pad-1.3.0/node_modules/left-pad"
    files = [make_file(pkg / "index.js", mtime=499_162_500.0),
             make_file(pkg / ".yarn-metadata.json", mtime=NOW - 60)]
    result = clean(*disk.home_cache_roots([str(home)]))
    assert all(p.exists() for p in files) and result.files_removed == 0


def test_subdirectory_swapped_for_a_symlink_after_listing(
        root_dir: Path, victim: Victim, monkeypatch: pytest.MonkeyPatch) -> None:
    make_file(root_dir / "sub" / "f")
    real_open = disk._open_dir
    swapped = []

    def swap_then_open(name: str, dir_fd: int) -> int:
        # The attacker's move, between scandir (which saw a directory) and the open.
        if name == "sub" and not swapped:
            os.rename(root_dir / "sub", root_dir / "moved")
            (root_dir / "sub").symlink_to(victim.dir)
            swapped.append(name)
        return real_open(name, dir_fd)

    monkeypatch.setattr(disk, "_open_dir", swap_then_open)
    result = clean(CleanRoot(str(root_dir)))
    victim.assert_intact()
    # O_DIRECTORY|O_NOFOLLOW on a symlink: ELOOP, or ENOTDIR on some kernels.
    assert swapped and result.errors in ((f"{root_dir}/sub: ELOOP Too many levels of "
                                          "symbolic links",),
                                         (f"{root_dir}/sub: ENOTDIR Not a directory",))
    assert (root_dir / "moved" / "f").exists()  # not reached this run: fine


def test_file_replaced_between_listing_and_unlink(
        root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_file(root_dir / "f", b"old")
    make_file(root_dir / "gone", b"old")
    real_lstat = disk._lstat_at

    def replace_then_lstat(name: str, dir_fd: int) -> os.stat_result:
        if name == "f":  # someone writes a new file over the old name (rename(2))
            make_file(root_dir / "f.tmp", b"important new data", mtime=OLD)
            os.replace(root_dir / "f.tmp", root_dir / "f")
        if name == "gone":  # someone else cleaned it first
            os.unlink(root_dir / "gone")
        return real_lstat(name, dir_fd)

    monkeypatch.setattr(disk, "_lstat_at", replace_then_lstat)
    result = clean(CleanRoot(str(root_dir)))
    assert (root_dir / "f").read_bytes() == b"important new data"
    assert result.files_removed == 0 and result.skipped == 1
    assert result.errors == (f"{root_dir}/gone: ENOENT No such file or directory",)


ATTACKER = """
import os, sys
sub, parked, victim = sys.argv[1:]
print("ready", flush=True)
while True:
    try:
        os.rename(sub, parked)
        os.symlink(victim, sub)
        os.unlink(sub)
        os.rename(parked, sub)
    except OSError:
        pass
"""


def test_hammering_renames_never_redirect_the_walk(root_dir: Path, victim: Victim) -> None:
    """Another process keeps swapping a subdirectory for a symlink to the victim (whose
    files are all old) while the cleaner walks the root over and over."""
    sub = root_dir / "sub"
    make_file(sub / "deeper" / "f")
    attacker = subprocess.Popen(
        [sys.executable, "-c", ATTACKER, str(sub), str(root_dir / "parked"), str(victim.dir)],
        stdout=subprocess.PIPE)
    seen: dict[str, int] = {}
    try:
        assert attacker.stdout is not None and attacker.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            for err in clean(CleanRoot(str(root_dir))).errors:
                code = err.split(": ")[1].split()[0]
                seen[code] = seen.get(code, 0) + 1
    finally:
        attacker.kill()
        attacker.wait()
    victim.assert_intact()
    assert set(seen) <= {"ENOENT", "ENOTDIR", "ELOOP"}, seen  # lost races, nothing else


def test_deadline_stops_the_walk(root_dir: Path) -> None:
    make_file(root_dir / "f")
    result = clean(CleanRoot(str(root_dir)), deadline_s=0)
    assert result.timed_out and (root_dir / "f").exists()


def test_progress_logged_every_10000_files(root_dir: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    for d in range(11):
        (root_dir / f"d{d}").mkdir()
        for i in range(1000):
            (root_dir / f"d{d}" / f"f{i}").touch()  # fresh: examined, not removed
    make_file(root_dir / "old", b"x" * 2048)
    calls: list[tuple[int, int]] = []
    with caplog.at_level(logging.INFO, logger="argus.act.disk"):
        result = clean(CleanRoot(str(root_dir)), progress=lambda e, r: calls.append((e, r)))
    lines = [r.getMessage() for r in caplog.records if r.name == "argus.act.disk"]
    assert lines[0].startswith("clean_disk: 10000 files examined, ")
    assert lines[-1] == "clean_disk: 11001 files examined, 1 removed, 0.0 MB reclaimed"
    assert calls[0][0] == 10000 and calls[-1] == (11001, 1)
    assert result.files_removed == 1


def test_errors_are_collected_and_capped(root_dir: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        make_file(root_dir / f"f{i}")
    monkeypatch.setattr(disk, "MAX_ERRORS", 2)
    monkeypatch.setattr(disk, "_lstat_at", lambda name, dir_fd: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied")))
    result = clean(CleanRoot(str(root_dir)))
    assert len(result.errors) == 3 and result.errors[-1] == "... and 3 more errors"
    assert result.errors[0].endswith(": EACCES Permission denied")


def test_bad_arguments_are_refused(root_dir: Path) -> None:
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ActionError):
            clean_disk(bad, NOW, roots=(CleanRoot(str(root_dir)),))
    with pytest.raises(ActionError):
        clean(CleanRoot("relative/path"))
    with pytest.raises(ActionError):
        clean(CleanRoot(str(root_dir / ".." / "root")))
