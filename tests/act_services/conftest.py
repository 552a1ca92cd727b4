"""Fixtures for the restart tests: a real systemd user manager (tests/systemd_env.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

# The harness lives in tests/, shared with other test folders.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from systemd_env import SystemdUserManager, systemd_user_manager


@pytest.fixture(scope="module")
def user_manager() -> Iterator[SystemdUserManager]:
    """One real ``systemd --user`` per test module; tests use distinct unit names."""
    yield from systemd_user_manager()
