"""Fixtures for the guard tests: a real world (tests/guard/world.py) and a signal net."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from systemd_env import SystemdUserManager, unavailable_reason

from guard.world import DEFAULT_KILL_ALLOWED, World, install_signal_net


@pytest.fixture(autouse=True)
def only_our_children(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal to a process that is not a child we spawned raises (world.install_signal_net)."""
    install_signal_net(monkeypatch)


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world per test module: children, a private tmux server, a user manager.

    A module sets ``KILL_ALLOWED`` to change ``processes.kill_allowed``. Without tmux
    every test using the world is skipped; without a systemd user manager the world
    has no units (tests that need one skip with ``world.systemd_skip``).
    """
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    manager: SystemdUserManager | None = None
    reason = unavailable_reason() or ""
    if not reason:
        manager = SystemdUserManager()
        try:
            manager.start()
        except pytest.skip.Exception as err:  # could not unshare/start here
            manager, reason = None, str(err)
    kill_allowed = getattr(request.module, "KILL_ALLOWED", DEFAULT_KILL_ALLOWED)
    w = World(tmp_path_factory.mktemp("guard"), manager, reason, kill_allowed)
    try:
        w.start()
        yield w
    finally:
        w.stop()
        if manager is not None:
            manager.stop()
