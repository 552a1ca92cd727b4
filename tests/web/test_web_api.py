"""The JSON endpoints of a real ``argus serve`` on a seeded state directory."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from web_helpers import DAY, STEP, WORKER_FAILED, Seeded, Serve, get

from argus.timefmt import iso, parse_iso


def test_healthz_is_200_while_the_last_cycle_is_recent(server: Serve, seeded: Seeded) -> None:
    reply = get(server.url + "/healthz")
    body = reply.json()
    cycle = json.loads((seeded.state_dir / "cycle.json").read_text())
    assert reply.status == 200
    assert body["status"] == "ok" and body["last_status"] == "ok"
    assert body["last_cycle_ts"] == cycle["last_ts"] == iso(seeded.now)
    assert body["max_age_s"] == 2 * 300 + 60
    assert "last cycle" in body["message"] and "ok" in body["message"]


def test_healthz_is_503_when_argus_has_stalled_and_says_when_it_last_ran(
        seeded: Seeded, tmp_path: Path) -> None:
    state = tmp_path / "state"
    shutil.copytree(seeded.state_dir, state)
    cycle_file = state / "cycle.json"
    cycle = json.loads(cycle_file.read_text())
    old = time.time() - 2 * 3600  # two hours: far past 2 x 300 + 60 s
    cycle_file.write_text(json.dumps({**cycle, "last_ts": iso(old), "last_status": "failed",
                                      "consecutive_failures": 4}))
    serve = Serve(state)
    try:
        reply = get(serve.url + "/healthz")
        body = reply.json()
        assert reply.status == 503
        assert body["status"] == "stalled"
        assert body["last_cycle_ts"] == iso(old) and body["last_status"] == "failed"
        assert "stalled" in body["message"] and iso(old) in body["message"]
        assert "4 failed in a row" in body["message"]
        metrics = get(serve.url + "/metrics").body.decode()
        assert "\nargus_healthy 0.0\n" in metrics
        overview = get(serve.url + "/api/overview").json()
        assert overview["overall"] == "stalled"
        assert next(s for s in overview["signals"] if s["id"] == "argus")["level"] == "critical"
        # The server reads cycle.json on every request: a fresh cycle heals it at once.
        cycle_file.write_text(json.dumps({**cycle, "last_ts": iso(time.time())}))
        assert get(serve.url + "/healthz").status == 200
        cycle_file.unlink()
        reply = get(serve.url + "/healthz")
        assert reply.status == 503 and reply.json()["status"] == "never"
    finally:
        assert serve.stop() == 0


def test_snapshot_is_the_last_snapshot_the_cycle_wrote(server: Serve, seeded: Seeded) -> None:
    body = get(server.url + "/api/snapshot").json()
    for key in ("ts", "host", "memory", "cpu", "disks", "pressure", "services"):
        assert body[key] == seeded.snapshot[key]
    assert body["host"] == "web-1"
    assert any(d["mount"] == "/" for d in body["disks"])


def test_problems_are_newest_first_and_filtered(server: Serve, seeded: Seeded) -> None:
    records = get(server.url + "/api/problems").json()  # default: the last 24 h
    stamps = [r["ts"] for r in records]
    assert stamps == sorted(stamps, reverse=True)
    assert all(parse_iso(s) >= seeded.now - DAY - 5 for s in stamps)  # type: ignore[operator]
    worker = [r for r in records if r["description"] == WORKER_FAILED]
    assert [r["action_taken"] for r in worker] == [
        "alert", "restart_service:worker.service", "restart_service:worker.service",
        "restart_service:worker.service"]
    assert [r["action_result"] for r in worker] == ["success", "failure", "success", "success"]
    assert records[0]["subject"] in ("disk:/", "inodes:/")  # the real cycle, just now
    week = get(server.url + "/api/problems?since=7d").json()
    nightly = [r for r in week if r["subject"] == "pressure:io"]
    assert len(nightly) == 7 and all(r["ts"][11:13] == "03" for r in nightly)
    services = get(server.url + "/api/problems?since=7d&type=service").json()
    assert services and {r["type"] for r in services} == {"service"}
    critical = get(server.url + "/api/problems?since=7d&severity=critical").json()
    assert {r["severity"] for r in critical} == {"critical"}
    assert len([r for r in critical if r["type"] == "memory"]) == 2
    two = get(server.url + "/api/problems?since=7d&limit=2").json()
    assert two == week[:2]


@pytest.mark.parametrize(("query", "why"), [
    ("since=yesterday", "not a duration"), ("type=network", "type must be one of"),
    ("severity=high", "severity must be one of"), ("limit=-1", "limit must be")])
def test_problems_reject_bad_parameters(server: Serve, query: str, why: str) -> None:
    reply = get(server.url + "/api/problems?" + query)
    assert reply.status == 400 and why in reply.json()["error"]


def test_history_returns_the_planted_week(server: Serve, seeded: Seeded) -> None:
    week = get(server.url + "/api/history?metric=mem_pct&since=7d&points=5000").json()
    points = week["series"][0]["points"]
    assert week["series"][0]["metric"] == "mem_pct"
    assert len(points) == 7 * DAY // STEP  # every planted row, plus the real cycle's
    assert points[-1] == [pytest.approx(seeded.now, abs=1),
                          pytest.approx(seeded.snapshot["memory"]["pct"], abs=0.01)]
    day = get(server.url + "/api/history?metric=mem_pct&since=24h").json()
    assert len(day["series"][0]["points"]) == DAY // STEP
    assert day["series"][0]["points"][0][0] >= seeded.now - DAY - 1
    thin = get(server.url + "/api/history?metric=mem_pct&since=7d&points=100").json()
    assert 90 <= len(thin["series"][0]["points"]) <= 100  # averaged into time buckets
    disks = get(server.url + "/api/history?metric=disk_pct:*&since=7d").json()
    by_mount = {s["metric"]: s["points"] for s in disks["series"]}
    assert {"disk_pct:/", "disk_pct:/data"} <= set(by_mount)
    assert by_mount["disk_pct:/data"][-1][1] == pytest.approx(86, abs=0.5)
    assert by_mount["disk_pct:/data"][0][1] == pytest.approx(62, abs=0.5)
    several = get(server.url + "/api/history?metric=load5&metric=psi_io_some_avg60").json()
    assert [s["metric"] for s in several["series"]] == ["load5", "psi_io_some_avg60"]
    assert max(v for _, v in several["series"][1]["points"]) == 40.0  # the 03:00 spike
    bad = get(server.url + "/api/history?metric=mem_pcnt")
    assert bad.status == 400 and "unknown metric" in bad.json()["error"]
    assert get(server.url + "/api/history").status == 400


def test_beads_lists_the_open_beads_with_what_they_are_about(server: Serve) -> None:
    beads = get(server.url + "/api/beads").json()
    assert [b["id"] for b in beads] == ["ops-81c2", "ops-7f3a"]  # newest first
    worker = beads[1]
    assert worker["description"] == WORKER_FAILED and worker["severity"] == "critical"
    assert worker["resolved_at"] is not None
    assert beads[0]["subject"] == "disk:/" and beads[0]["active"] is True


def test_overview_judges_each_signal_by_the_thresholds(server: Serve, seeded: Seeded) -> None:
    body = get(server.url + "/api/overview").json()
    signals = {s["id"]: s for s in body["signals"]}
    assert {"memory", "swap", "load", "pressure", "disk:/", "processes", "argus"} <= set(signals)
    memory = signals["memory"]
    assert memory["value"] == round(seeded.snapshot["memory"]["pct"], 2)
    assert memory["level"] == ("ok" if memory["value"] < 80 else
                               "warning" if memory["value"] < 90 else "critical")
    assert signals["argus"]["level"] == "ok"
    assert body["host"] == "web-1" and body["thresholds"]["disk_crit"] == 90
    # dedup.json's active problems: the real cycle's disk warnings on "/".
    assert {p["subject"] for p in body["active"]} >= {"disk:/"}


def test_patterns_panel_follows_the_analysis_module(server: Serve) -> None:
    body = get(server.url + "/api/patterns").json()
    try:
        import argus.analyze.patterns  # noqa: F401
    except ImportError:
        assert body["available"] is False and body["patterns"] == []
        return
    assert body["available"] is True
    fills = [p for p in body["patterns"] if p["kind"] == "disk_fill"]
    data = [p for p in fills if p["evidence"]["mount"] == "/data"]
    assert data, body  # 62% -> 86% in a week: full in about four days
    assert data[0]["evidence"]["predicted_full_ts"] > time.time()


def test_static_page_and_unknown_paths(server: Serve) -> None:
    page = get(server.url + "/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert b'src="/static/app.js"' in page.body and b"http" not in page.body.split(b"<body>")[0]
    js = get(server.url + "/static/app.js")
    assert js.status == 200 and "javascript" in js.headers["Content-Type"]
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for path in ("/static/../server.py", "/static/%2e%2e/api.py", "/static/.hidden",
                 "/nope", "/api/nope"):
        assert get(server.url + path).status == 404, path
    assert get(server.url + "/api/problems", method="POST").status == 405
