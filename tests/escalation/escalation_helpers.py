"""Helpers for the escalation tests (imported by name: tests/ is not a package).

The bd and relay stand-ins (tests/standins/bd, tests/standins/relay) run as real
executables found on PATH, as Argus would find the real ones; what the tests read
is what a user would: the tracker's issues through ``bd`` itself, the Relay inbox,
the fallback file and the registry.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from argus.config import Thresholds, build_config
from argus.context import Context, make_context
from argus.record.registry import iter_records

STANDINS = Path(__file__).resolve().parent.parent / "standins"
BD = STANDINS / "bd"
RELAY = STANDINS / "relay"

# Thresholds no real figure of this host reaches: these cycles run on the CI machine
# itself, so the only problems are those a test makes on purpose (and dry_run).
QUIET = {"memory_warn": 100, "memory_crit": 100, "disk_warn": 100, "disk_crit": 100,
         "swap_warn": 100, "load_per_core_warn": 10_000.0, "zombies_warn": 10_000_000,
         # pressure stall thresholds (% of wall time), when this build has them
         **{name: 100 for name in Thresholds._fields if name.startswith("psi_")}}
# Memory is always above 0.2 % used: a real critical (or warning) memory problem,
# which has no automatic remedy (kill_hog_at is off), so it is only alerted.
MEMORY_CRIT = {"memory_warn": 0.1, "memory_crit": 0.2}
MEMORY_WARN = {"memory_warn": 0.1, "memory_crit": 100}
HOOKS = ("BD_STANDIN_HANG", "BD_STANDIN_GARBAGE", "BD_STANDIN_ODD_ID", "BD_STANDIN_FAIL",
         "BD_JSON_ENVELOPE", "RELAY_STANDIN_HANG")


class Tracker:
    """A beads database (``<root>/.beads``) driven through the bd stand-in."""

    def __init__(self, root: Path, env: Mapping[str, str]) -> None:
        self.root = root
        self.env = {k: v for k, v in env.items() if k not in HOOKS and k != "BD_STANDIN_LOG"}

    def bd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(BD), "-C", str(self.root), *args], capture_output=True,
                              text=True, env=self.env, timeout=30, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"bd {' '.join(args)}: {proc.stderr}")
        return proc

    def issues(self, status: str = "all") -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = json.loads(
            self.bd("list", "--status", status, "--limit", "0", "--json").stdout)
        return data

    def about(self, key: str, status: str = "all") -> list[dict[str, Any]]:
        """Issues whose description ends with this problem key's line."""
        return [i for i in self.issues(status)
                if i["description"].splitlines()[-1] == f"Problem key: {key}"]

    def show(self, bead_id: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.bd("show", bead_id, "--json").stdout)[0]
        return data

    def comments(self, bead_id: str) -> list[str]:
        return [c["text"] for c in self.show(bead_id)["comments"]]

    def seed(self, n: int, label: str = "argus") -> None:
        """``n`` open beads about other problems, created through bd itself."""
        for i in range(n):
            self.bd("create", f"--title=[argus] other problem {i}",
                    f"--description=something else\nProblem key: other:{i:016x}",
                    "--type=bug", "--priority=2", f"--labels={label},disk", "--silent")


class Relay:
    """A Relay state dir with ``athena`` registered."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "agents" / "athena").mkdir(parents=True)

    def inbox(self, agent: str = "athena") -> list[dict[str, Any]]:
        path = self.root / "agents" / agent / "inbox.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def events(self, agent: str = "athena") -> list[dict[str, Any]]:
        return [json.loads(m["body"]) for m in self.inbox(agent)]


class Env:
    """What one test has: a tracker, a Relay dir, the log of bd calls."""

    def __init__(self, tmp_path: Path, tracker: Tracker, relay: Relay, calls: Path) -> None:
        self.tmp_path = tmp_path
        self.tracker = tracker
        self.relay = relay
        self.calls = calls

    def bd_calls(self, command: str | None = None, key: str | None = None) -> list[list[str]]:
        """Every bd invocation so far (argv after the program), optionally only one
        command, and only those whose arguments mention a problem key."""
        if not self.calls.exists():
            return []
        argvs = [json.loads(line) for line in self.calls.read_text().splitlines()]
        known = ("create", "list", "close", "comments", "comment", "show", "init")
        return [a for a in argvs
                if (command is None or next((w for w in a if w in known), None) == command)
                and (key is None or any(key in w for w in a))]


def host_context(env: Env, thresholds: Mapping[str, Any] | None = None,
                 **sections: Any) -> Context:
    """A dry-run cycle on this host, bd pointed at the test's tracker."""
    data: dict[str, Any] = {
        "tmux": {"sockets": []}, "dry_run": True, "processes": {"orphans": []},
        "thresholds": {**QUIET, **(thresholds or {})},
        "beads": {"workdir": str(env.tracker.root)},
    }
    for name, value in sections.items():
        data[name] = {**data.get(name, {}), **value} if isinstance(value, dict) else value
    assert data["processes"]["orphans"] == [] and data["dry_run"] is True
    config = build_config(data, "test", {})
    return make_context(config, str(env.tmp_path / "state"), env={}, host="web-1")


def with_thresholds(ctx: Context, thresholds: Mapping[str, Any]) -> Context:
    t = ctx.config.thresholds._replace(**{**QUIET, **thresholds})
    return ctx._replace(config=ctx.config._replace(thresholds=t))


def records(ctx: Context, subject: str | None = None) -> list[dict[str, Any]]:
    rows = list(iter_records(ctx.paths.problems))
    return [r for r in rows if subject is None or r["subject"] == subject]


def start_time() -> float:
    """A whole-second 'now' for cycles whose clock the test advances by hand."""
    return float(int(time.time()))


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in HOOKS}
