"""Fixtures for the escalation tests: bd and relay stand-ins on PATH, a tracker, a
Relay dir, and nothing from the host's environment that would point bd or relay
elsewhere."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from escalation_helpers import BD, HOOKS, STANDINS, Env, Relay, Tracker


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    for name in (*HOOKS, "BEADS_DIR", "BEADS_ACTOR", "RELAY_DIR"):
        monkeypatch.delenv(name, raising=False)
    # The stand-ins are `#!/usr/bin/env python3` scripts: this interpreter's directory
    # comes next, so a version manager's shim (pyenv: ~0.1 s a call) is not in the way.
    path = [str(STANDINS), os.path.dirname(sys.executable), os.environ.get("PATH", "")]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    calls = tmp_path / "bd-calls.jsonl"
    monkeypatch.setenv("BD_STANDIN_LOG", str(calls))
    relay = Relay(tmp_path / "relay")
    monkeypatch.setenv("RELAY_DIR", str(relay.root))
    root = tmp_path / "tracker"
    root.mkdir()
    tracker = Tracker(root, os.environ)
    tracker.bd("init", "--prefix", "ops")
    assert (root / ".beads").is_dir() and os.access(BD, os.X_OK)
    return Env(tmp_path, tracker, relay, calls)
