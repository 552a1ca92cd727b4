"""Fixtures for the remediation tests: whole cycles that act, end to end.

This machine is also the CI machine. What these tests act on is their own:

- units of a real systemd user manager in a private mount namespace
  (tests/systemd_env.py), each test with unit names of its own;
- processes in a private PID namespace, started by a driver that is PID 1 there;
- a /tmp that is a small tmpfs of a private mount namespace, with tmpfs over every
  other path the disk cleaner walks.

Cycles run in the pytest process itself only with orphan rules off and thresholds
out of reach (remediation_helpers.host_config); the autouse fixture of
tests/conftest.py makes the real cleaner raise here anyway.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from systemd_env import SystemdUserManager, systemd_user_manager


@pytest.fixture(scope="module")
def user_manager() -> Iterator[SystemdUserManager]:
    """One real ``systemd --user`` per test module; tests use distinct unit names."""
    yield from systemd_user_manager()
