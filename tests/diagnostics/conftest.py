"""Fixtures for the diagnostics tests: real child processes that hold memory."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

Spawn = Callable[..., "subprocess.Popen[bytes]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start a real Python child running ``script``; returns once it printed a line.

    Every child is killed and reaped at teardown, whatever the test did. Tests never
    let Argus kill anything itself: their configs say dry_run.
    """
    children: list[subprocess.Popen[bytes]] = []

    def _spawn(script: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        children.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip(), f"child {proc.pid} exited before it was ready"
        return proc

    yield _spawn
    for proc in children:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
