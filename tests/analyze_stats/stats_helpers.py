"""A planted registry whose every count is known, and the state files around it.

``planted(now)`` writes the records listed in ``PLAN`` (times relative to ``now``'s
hour, so the same expectations hold for a fixed test clock and for the real one a
subprocess uses), plus the odd lines a real registry can hold: a torn line healed
by the next write, garbage, a blank line, a record another writer formatted (compact
separators, a ``+01:00`` offset), escapes where the fast pattern expects none, and a
last line without its newline. ``EXPECTED`` is what ``argus stats`` must say about
the 7-day window, worked out by hand in the comments.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from argus.record.registry import encode, make_record

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

H = 3600
DAY = 86400


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def base_for(now: float) -> float:
    """The start of ``now``'s hour: the offsets below are from there. The hourly
    expectations hold for a clock at base + 30 min (``clock_at``); the others for
    any clock within a day of the planting, with ``--since 6d`` or ``all``."""
    return now - now % H


def clock_at(ts: float) -> float:
    """A test clock: half past the hour of ``ts``."""
    return base_for(ts) + 1800


def rec(ts: float, severity: str, ptype: str, action: str | None, result: str, *,
        bead: str | None = None, source: str = "rules", details: dict[str, Any] | None = None,
        host: str = "web-1", description: str | None = None) -> dict[str, Any]:
    subject = f"{ptype}:thing"
    return make_record(ts=iso(ts), severity=severity, type=ptype,
                       description=description or f"{severity} {ptype} problem",
                       action_taken=action, action_result=result, bead_id=bead, host=host,
                       key=f"{ptype}:0123456789abcdef", subject=subject, source=source,
                       cycle="20260301T000000Z-1", details=details or {})


def planted(path: Path, now: float) -> None:
    """Write the planted registry for a clock at ``now`` (see the module docstring)."""
    b = base_for(now)
    cut = now - 7 * DAY  # the 7-day window starts here (now is b + 30 min)
    lines: list[bytes] = [
        # before the window
        encode(rec(b - 9 * DAY, "critical", "service", "restart_service:nginx.service",
                   "success", bead="ops-old")),
        encode(rec(cut - 1, "warning", "disk", "alert", "success", bead="ops-early")),
        # in the window (W1..W12)
        encode(rec(cut, "critical", "disk", "alert", "success", bead="ops-early")),  # at the cut
        encode(rec(cut + 600, "critical", "service", "restart_service:nginx.service",
                   "failure", bead="ops-new1")),
        encode(rec(b - 5 * DAY + 900, "critical", "service", "alert", "suppressed",
                   bead="ops-new1", description='Service "nginx" is failed \u2014 exit 1')),
        encode(rec(b - 5 * DAY + 900, "warning", "memory", "alert", "failure")),
        encode(rec(b - 5 * DAY + 1200, "warning", "memory", "log", "success")),
        encode(rec(b - 4 * DAY, "info", "memory", "alert", "resolved",
                   details={"duration_s": 600, "last_severity": "warning"})),
        encode(rec(b - 4 * DAY + 300, "info", "service", "log", "resolved", bead="ops-new1",
                   details={"duration_s": 1800, "last_severity": "critical"})),
        encode(rec(b - 3 * DAY, "critical", "service", "restart_service:worker.service",
                   "success", source="llm", details={"llm_reason": "it keeps failing"})),
        encode(rec(b - 3 * DAY, "critical", "process", "kill_pid:4242", "success")),
        encode(rec(b - 2 * DAY + 7 * H, "warning", "cpu", "alert", "skipped")),
        encode(rec(b - DAY - 5 * H, "critical", "disk", "clean_disk:/var", "dry_run")),
        encode(rec(b - DAY - 5 * H, "info", "disk", "alert", "resolved",
                   details={"duration_s": 3000, "last_severity": "critical"})),
        # W13: an escaped quote in the host: not for the fast pattern, the exact path
        encode(rec(b - DAY - 5 * H + 1800, "warning", "swap", "alert", "success",
                   host='we"b-1')),
        # a torn line (a writer killed mid-write), healed by the next write's newline
        encode(rec(b - DAY, "critical", "disk", "alert", "success"))[:90] + b"\n",
        b"this is not json\n",
        b"\n",
        # W14: another writer: compact separators, keys in another order, +01:00
        json.dumps({"type": "self", "ts": time.strftime(
            "%Y-%m-%dT%H:%M:%S+01:00", time.gmtime(b - DAY + 2 * H)),
            "severity": "warning", "action_taken": "log", "action_result": "success",
            "description": "other writer", "details": {}}, separators=(",", ":")).encode()
        + b"\n",
        # W15: the last line, whole but for its newline
        encode(rec(b - H, "critical", "memory", "alert", "success")).rstrip(b"\n"),
    ]
    path.write_bytes(b"".join(lines))


def hours(now: float) -> list[dict[str, Any]]:
    """The expected hourly buckets of the 7-day window."""
    b = base_for(now)
    cut = now - 7 * DAY
    counts = [(cut, 2), (b - 5 * DAY, 3), (b - 4 * DAY, 2), (b - 3 * DAY, 2),
              (b - 2 * DAY + 7 * H, 1), (b - DAY - 5 * H, 3), (b - DAY + H, 1), (b - H, 1)]
    return [{"bucket": iso(t - t % H), "count": n} for t, n in counts]


def days(now: float) -> list[dict[str, Any]]:
    out: dict[str, int] = {}
    for h in hours(now):
        out[h["bucket"][:10]] = out.get(h["bucket"][:10], 0) + h["count"]
    return [{"bucket": d, "count": n} for d, n in sorted(out.items())]


# What the 7-day window holds (15 records; 2 lines skipped: the torn one, the garbage).
EXPECTED: dict[str, Any] = {
    "total_problems": 15,
    "by_type": {"disk": 3, "memory": 4, "service": 4, "process": 1, "swap": 1, "cpu": 1,
                "self": 1},
    "by_severity": {"critical": 7, "warning": 5, "info": 3},
    "action_results": {"success": 7, "failure": 2, "skipped": 1, "suppressed": 1,
                       "dry_run": 1, "resolved": 3},
    # host actions and alerts: success W1 W8 W9 W13 W15, failure W2 W4 (logs are not)
    "action_success_rate": 0.7143,
    "action_success": {"success": 5, "failure": 2},
    "alerts": {"sent": 3, "suppressed": 1, "failed": 1, "skipped": 1, "dry_run": 0},
    "actions": {"restart_service": {"failure": 1, "success": 1}, "kill_pid": {"success": 1},
                "clean_disk": {"dry_run": 1},
                "alert": {"failure": 1, "resolved": 2, "skipped": 1, "success": 3,
                          "suppressed": 1},
                "log": {"resolved": 1, "success": 2}},
    "mean_time_to_resolve_s": {"disk": 3000.0, "memory": 600.0, "service": 1800.0},
    "beads_created": 1,  # ops-new1; ops-early was on a record before the window
    "skipped_lines": 2,
}


def seed_llm(state: Path, now: float) -> None:
    """The advisor's files: three calls (two today), the last call's tokens."""
    (state / "llm-memory.json").write_text(json.dumps(
        {"version": 1, "calls": [[now - 30 * H, 999], [now - 2 * H, 800], [now - H, 1200]]}))
    (state / "last_decision.json").write_text(json.dumps(
        {"cycle": "x", "ts": iso(now - H), "mode": "llm", "provider": "anthropic",
         "model": "claude-haiku-4-5", "llm": {"called": True, "tokens_in": 900,
                                              "tokens_out": 300, "error": None}}))


def argus_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of an ``argus`` subprocess: nothing from this host's Argus."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ARGUS_", "TELEGRAM_", "ANTHROPIC_", "RELAY_"))}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               ARGUS_STATE_DIR=str(tmp_path / "state"), **extra)
    return env
