"""Fixtures for the collector tests: real child processes, root checks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

Spawn = Callable[..., "tuple[subprocess.Popen[bytes], str]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start a real Python child running ``script``; returns (proc, first stdout line).

    The script must print one line when it is ready. Every child is killed and
    reaped at teardown, whatever the test did.
    """
    children: list[subprocess.Popen[bytes]] = []

    def _spawn(script: str, *args: str | bytes) -> tuple[subprocess.Popen[bytes], str]:
        proc = subprocess.Popen([sys.executable, "-c", script, *args],
                                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        children.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        assert line, f"child {proc.pid} exited before saying it was ready"
        return proc, line

    yield _spawn
    for proc in children:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


@pytest.fixture
def root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
