"""Helpers shared by the act_procs tests (imported by name: tests/ is not a package)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

Spawn = Callable[..., "subprocess.Popen[bytes]"]
PythonChild = Callable[[str], "subprocess.Popen[bytes]"]


def comm(pid: int) -> str | None:
    """The comm of ``pid`` (proc(5) /proc/PID/comm), None when gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().rstrip("\n")
    except (FileNotFoundError, ProcessLookupError):
        return None


def alive(pid: int) -> bool:
    """Running: neither gone nor a zombie. What "still alive afterwards" means."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return False
    return data[data.rindex(b")") + 2:].split()[0] != b"Z"


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
