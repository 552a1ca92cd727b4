"""A state dir as a day of Argus leaves it: registry, cycle.json, dedup.json, beads.json.

The day (``seed_day``), worked out by hand:

- nginx.service failed (critical): restarted 3 times (2 success, 1 failure) and
  alerted once (sent); it has bead ops-7, created today; still open;
- disk /var at 85 % (warning): alerted 3 times, all suppressed, and logged once;
  still open;
- memory: resolved after 1200 s;
- 2 days ago, outside the day: a cpu warning with bead ops-3.

So: 9 records (4 critical, 4 warning, 1 info); host actions and alerts 3 success,
1 failure: 75.0 %; alerts 1 sent, 3 suppressed; 1 resolved, 20 min to resolve;
1 bead created; health critical (1 critical and 1 warning problem open).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from stats_helpers import ROOT, iso

from argus.model import problem_key
from argus.record import registry

STANDINS = ROOT / "tests" / "standins"
NGINX = problem_key("service", "service:nginx.service")
DISK = problem_key("disk", "disk:/var")
MEMORY = problem_key("memory", "memory:host")
CPU = problem_key("cpu", "cpu:load")


def _rec(ts: float, sev: str, ptype: str, subject: str, desc: str, action: str, result: str,
         bead: str | None = None, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return registry.make_record(
        ts=iso(ts), severity=sev, type=ptype, description=desc, action_taken=action,
        action_result=result, bead_id=bead, host="web-1", key=problem_key(ptype, subject),
        subject=subject, source="rules", cycle="c", details=details or {})


def seed_day(state: Path, now: float, *, cycle_age: float = 120, failures: int = 0) -> None:
    state.mkdir(parents=True, exist_ok=True)
    nginx = ("critical", "service", "service:nginx.service",
             "Service nginx.service is failed (exit code 1)")
    disk = ("warning", "disk", "disk:/var", "disk /var at 85% (21.2 GB used, 3.8 GB free)")
    records = [
        _rec(now - 2 * 86400, "warning", "cpu", "cpu:load", "load 3.1 per core", "log",
             "success", bead="ops-3"),
        _rec(now - 5000, *nginx, "restart_service:nginx.service", "success", bead="ops-7"),
        _rec(now - 4700, *nginx, "restart_service:nginx.service", "failure", bead="ops-7"),
        _rec(now - 4700, *nginx, "alert", "success", bead="ops-7"),
        _rec(now - 4400, *nginx, "restart_service:nginx.service", "success", bead="ops-7"),
        _rec(now - 4000, *disk, "alert", "suppressed"),
        _rec(now - 3700, *disk, "alert", "suppressed"),
        _rec(now - 3400, *disk, "alert", "suppressed"),
        _rec(now - 3100, *disk, "log", "success"),
        _rec(now - 600, "info", "memory", "memory:host", "resolved: memory at 91% of RAM",
             "alert", "resolved", details={"duration_s": 1200, "last_severity": "critical"}),
    ]
    registry.append(str(state / "problems.jsonl"), records)
    (state / "cycle.json").write_text(json.dumps({
        "last_cycle": "c", "last_ts": iso(now - cycle_age),
        "last_status": "failed" if failures else "ok", "consecutive_failures": failures,
        "last_error": "could not write state (see log)" if failures else None, "cycles": 40}))
    (state / "dedup.json").write_text(json.dumps({"version": 1, "problems": {
        NGINX: {"type": "service", "subject": "service:nginx.service", "first_seen": now - 5000,
                "active": True, "severity": "critical", "description": nginx[3]},
        DISK: {"type": "disk", "subject": "disk:/var", "first_seen": now - 4000,
               "active": True, "severity": "warning", "description": disk[3]},
        MEMORY: {"type": "memory", "subject": "memory:host", "first_seen": now - 1800,
                 "active": False, "severity": "critical", "description": "memory at 91%"},
    }}))
    (state / "beads.json").write_text(json.dumps({"version": 1, "beads": {
        NGINX: {"id": "ops-7", "created_at": now - 5000, "noted_at": now - 4700,
                "episode": now - 5000, "severity": "critical", "resolved_at": None},
    }, "published": {}}))


def relay_path_env(tmp_path: Path) -> dict[str, str]:
    """PATH with the relay stand-in first, and its state dir with ``athena`` registered."""
    relay = tmp_path / "relay"
    (relay / "agents" / "athena").mkdir(parents=True, exist_ok=True)
    path = [str(STANDINS), os.path.dirname(sys.executable), os.environ.get("PATH", "")]
    return {"PATH": os.pathsep.join(path), "RELAY_DIR": str(relay)}


def inbox(tmp_path: Path, agent: str = "athena") -> list[dict[str, Any]]:
    path = tmp_path / "relay" / "agents" / agent / "inbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
