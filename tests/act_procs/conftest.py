"""Fixtures for the kill tests: real children this test started, and nothing else.

This machine is also the CI machine: every process a test signals is one it
spawned itself, found by its pid, never by name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from act_helpers import PythonChild, Spawn, comm, wait_for


@pytest.fixture
def renamed_sleep(tmp_path: Path) -> Callable[[str], str]:
    """A copy of /bin/sleep called ``name``: its comm is ``name`` once it runs."""

    def _make(name: str) -> str:
        path = tmp_path / name
        if not path.exists():
            shutil.copy2("/bin/sleep", path)
        return str(path)

    return _make


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start a real child from ``argv``; returned once it has exec'd (comm settled).

    ``expect_comm`` is the comm to wait for (default: basename of argv[0]; "" not
    to wait). Every child is killed by its own Popen handle and reaped at teardown.
    """
    children: list[subprocess.Popen[bytes]] = []

    def _spawn(argv: list[str], expect_comm: str | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        children.append(proc)
        want = (os.path.basename(argv[0]) if expect_comm is None else expect_comm)[:15]
        if want:  # the kernel sets comm at execve(2), from the basename of the path
            wait_for(lambda: comm(proc.pid) == want)
        return proc

    yield _spawn
    for proc in children:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


@pytest.fixture
def python_child(spawn: Spawn) -> PythonChild:
    """A Python child running ``script``; returned after it printed its ready line."""

    def _start(script: str) -> subprocess.Popen[bytes]:
        proc = spawn([sys.executable, "-c", script], expect_comm="")
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        return proc

    return _start


@pytest.fixture
def root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")

