"""Helpers shared by the collector tests (imported by name: tests/ is not a package)."""

from __future__ import annotations

from pathlib import Path

from proc_helpers import wait_for  # noqa: F401 - re-exported

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def proc_fixture(scenario: str) -> str:
    """The committed fake /proc tree for ``scenario``."""
    return str(FIXTURES / "proc" / scenario)


def sys_fixture(scenario: str) -> str:
    """The committed fake /sys tree for ``scenario`` (cgroup files only)."""
    return str(FIXTURES / "sys" / scenario)


def proc_state(pid: int) -> str | None:
    """The state letter of ``pid`` from /proc/PID/stat, None when gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return None
    return data[data.rindex(b")") + 2:].split()[0].decode()
