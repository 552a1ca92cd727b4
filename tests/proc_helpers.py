"""What the tests ask of /proc about the processes they spawn (proc(5))."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def comm(pid: int) -> str | None:
    """The comm of ``pid``, None when gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().rstrip("\n")
    except OSError:
        return None


def alive(pid: int) -> bool:
    """Running: neither gone nor a zombie. What "still alive afterwards" means."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return data[data.rindex(b")") + 2:].split()[0] != b"Z"


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``cond`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)
