"""The daily summary: what it says about a seeded day (health, problems, actions,
success rate, beads, patterns, the dashboard link)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from stats_helpers import iso
from summary_helpers import DISK, NGINX, seed_day

from argus.analyze.summary import build_summary
from argus.config import build_config
from argus.context import Context, make_context

NOW = 1_772_000_000.0


def context(state: Path, now: float = NOW) -> Context:
    config = build_config({"interval": 300}, "test", {})
    return make_context(config, str(state), env={}, host="web-1", clock=lambda: now)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    seed_day(state, NOW)
    return state


def no_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    import argus.analyze.patterns as patterns

    monkeypatch.setattr(patterns, "detect_patterns", lambda ctx, window_s, now: [])


def test_the_day_in_numbers(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_patterns(monkeypatch)
    s = build_summary(context(state), NOW, {})
    assert s["host"] == "web-1" and s["since"] == iso(NOW - 86400)
    assert s["problems"]["records"] == 9 and s["problems"]["keys"] == 3
    assert s["problems"]["by_severity"] == {"critical": 4, "warning": 4, "info": 1}
    assert s["success_rate"] == 0.75
    assert s["actions"] == {"restart_service": {"failure": 1, "success": 2}}
    assert (s["alerts"]["sent"], s["alerts"]["suppressed"]) == (1, 3)
    assert s["resolved"] == 1 and s["mean_time_to_resolve_s"] == 1200.0
    top = s["problems"]["top"]
    assert [t["key"] for t in top][:2] == [NGINX, DISK]
    assert top[0]["actions"] == {"restart_service:nginx.service": {"success": 2, "failure": 1}}
    assert top[0]["records"] == 4 and top[0]["severity"] == "critical"
    assert s["beads"]["created"] == 1
    [bead] = s["beads"]["open"]
    assert bead["id"] == "ops-7" and bead["severity"] == "critical"
    assert bead["description"] == "Service nginx.service is failed (exit code 1)"
    assert s["dashboard_url"] is None and s["patterns"] == [] and s["patterns_note"] is None


def test_the_message(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_patterns(monkeypatch)
    s = build_summary(context(state), NOW, {"ARGUS_DASHBOARD_URL": "http://127.0.0.1:9847/"})
    lines = s["text"].splitlines()
    assert lines[0] == f"Argus daily summary for web-1: the 24 h to {iso(NOW)}"
    assert lines[1] == "Health: CRITICAL: 1 critical problem open; 1 warning problem open"
    assert lines[2] == ("  - critical service: Service nginx.service is failed (exit code 1) "
                        f"(since {iso(NOW - 5000)})")
    assert "Problems: 9 records about 3 problems (4 critical, 4 warning, 1 info)" in lines
    assert "Resolved: 1, mean time to resolve 20 min" in lines
    assert ("Actions: restart_service 3 (1 failure, 2 success); alerts: 1 sent, 3 suppressed, "
            "0 failed") in lines
    assert "Success rate: 75.0% (3 of 4 host actions and alerts)" in lines
    assert ("  - critical service: Service nginx.service is failed (exit code 1) (4 records; "
            "restart_service:nginx.service 2 success, 1 failure)") in lines
    assert "Open beads: 1; created today: 1" in lines
    assert "  - ops-7 critical: Service nginx.service is failed (exit code 1)" in lines
    assert "Patterns: none detected" in lines
    assert lines[-1] == "Dashboard: http://127.0.0.1:9847/"
    assert len(s["text"]) < 4096


@pytest.mark.parametrize(("cycle_age", "failures", "status", "reason"), [
    (120, 0, "critical", "1 critical problem open"),
    (3 * 300 + 60, 0, "critical", "Argus has stalled: its last cycle ran 16 min ago "
                                  "(expected every 300 s)"),
    (120, 1, "critical", "the last cycle failed: could not write state (see log)"),
    (120, 3, "critical", "the last 3 cycles failed: could not write state (see log)"),
])
def test_health(tmp_path: Path, cycle_age: float, failures: int, status: str, reason: str,
                monkeypatch: pytest.MonkeyPatch) -> None:
    no_patterns(monkeypatch)
    seed_day(tmp_path / "s", NOW, cycle_age=cycle_age, failures=failures)
    health = build_summary(context(tmp_path / "s"), NOW, {})["health"]
    assert health["status"] == status and reason in health["reasons"]
    assert [p["key"] for p in health["open_problems"]] == [NGINX, DISK]


def test_health_without_problems_or_cycles(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    no_patterns(monkeypatch)
    empty = tmp_path / "empty"
    empty.mkdir()
    s = build_summary(context(empty), NOW, {})
    assert s["health"]["status"] == "warning"
    assert s["health"]["reasons"] == ["no cycle has run yet (no cycle.json)"]
    assert s["problems"]["records"] == 0 and s["success_rate"] is None
    assert "Success rate: n/a (no host action or alert)" in s["text"]
    (empty / "cycle.json").write_text(json.dumps(
        {"last_ts": iso(NOW - 60), "last_status": "ok", "consecutive_failures": 0}))
    s = build_summary(context(empty), NOW, {})
    assert s["health"]["status"] == "ok" and s["health"]["reasons"] == []
    assert s["text"].splitlines()[1] == "Health: OK: nothing open, cycles running"


class FakePattern:
    """Shaped as the agreed interface (patterns.Pattern's fields)."""

    kind = "disk_fill"
    signature = "disk_fill:/var"
    severity = "warning"
    title = "disk /var fills in 5.2 days at 3.1 GB/day"
    evidence: dict[str, Any] = {"mount": "/var", "predicted_full_ts": NOW + 5.2 * 86400}
    recommendation = "find what writes to /var (du -xh /var | sort -h | tail)"
    subject = "disk:/var"


def test_patterns_are_in_the_summary(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argus.analyze.patterns as patterns

    seen: list[tuple[float, float]] = []

    def detect(ctx: Context, window_s: float, now: float) -> list[Any]:
        seen.append((window_s, now))
        return [FakePattern()]

    monkeypatch.setattr(patterns, "detect_patterns", detect)
    s = build_summary(context(state), NOW, {})
    assert seen == [(7 * 86400, NOW)]
    assert s["patterns"][0]["title"] == FakePattern.title
    assert s["patterns"][0]["evidence"]["mount"] == "/var"
    assert ("  - [warning] disk /var fills in 5.2 days at 3.1 GB/day. "
            "find what writes to /var (du -xh /var | sort -h | tail)") in s["text"]


def test_real_pattern_detection_runs_on_the_seeded_state(state: Path) -> None:
    s = build_summary(context(state), NOW, {})
    assert s["patterns_note"] is None and isinstance(s["patterns"], list)


def test_without_the_patterns_module_the_summary_says_so(
        state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "argus.analyze.patterns", None)
    monkeypatch.delattr("argus.analyze.patterns", raising=False)
    s = build_summary(context(state), NOW, {})
    assert s["patterns"] == [] and "not available" in s["patterns_note"]
    assert "Patterns: pattern detection is not available" in s["text"]
    assert s["problems"]["records"] == 9  # everything else is there


def test_a_failing_detector_does_not_stop_the_summary(
        state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argus.analyze.patterns as patterns

    def broken(ctx: Context, window_s: float, now: float) -> list[Any]:
        raise RuntimeError("history.sqlite3 is locked")

    monkeypatch.setattr(patterns, "detect_patterns", broken)
    s = build_summary(context(state), NOW, {})
    assert s["patterns_note"] == ("pattern detection failed (RuntimeError: "
                                  "history.sqlite3 is locked)")
