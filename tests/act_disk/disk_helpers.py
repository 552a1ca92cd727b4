"""Helpers for the clean_disk tests: files with a given age, and a victim to protect.

Every test points the cleaner at directories under pytest's ``tmp_path`` only;
symlinks are planted towards a "victim" directory that is also under ``tmp_path``,
never at real system files.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

NOW = time.time()
OLD = NOW - 30 * 86400  # well past the 7-day threshold the tests use
MAX_AGE_DAYS = 7.0

# run_in_namespace(setup_bash, python_code) -> the finished child (see conftest.py)
RunNs = Callable[[str, str], "subprocess.CompletedProcess[str]"]


def make_file(path: Path, data: bytes = b"x" * 100, *, mtime: float = OLD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def age(path: Path, mtime: float = OLD) -> None:
    """Set the mtime of ``path`` itself (a symlink's own, not its target's)."""
    os.utime(path, (mtime, mtime), follow_symlinks=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Victim:
    """A directory outside the cleaned root, full of old files a follower would delete."""

    def __init__(self, base: Path) -> None:
        self.dir = base / "victim"
        self.files = [make_file(self.dir / f"precious-{i}.dat", f"data {i}".encode() * 50)
                      for i in range(3)]
        self.files.append(make_file(self.dir / "sub" / "deep.dat", b"deep"))
        age(self.dir / "sub")
        age(self.dir)
        self.hashes = {p: digest(p) for p in self.files}
        self.listing = sorted(self.dir.rglob("*"))

    def assert_intact(self) -> None:
        assert sorted(self.dir.rglob("*")) == self.listing, "the victim directory changed"
        for path, sha in self.hashes.items():
            assert path.exists(), f"victim file {path} was removed"
            assert digest(path) == sha, f"victim file {path} was changed"
