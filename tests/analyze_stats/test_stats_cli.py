"""``argus stats`` as a user runs it: JSON, Prometheus text checked by promtool, an
atomic ``--output`` file, and agreement with the jq reference (bench/reference_stats.sh)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from registry_gen import write_registry
from stats_helpers import DAY, EXPECTED, ROOT, argus_env, planted, seed_llm

from argus.analyze.exposition import StatsCollector, exposition_text, stats_registry
from argus.analyze.stats import compute

ARGUS = [sys.executable, "-m", "argus"]
REFERENCE = ROOT / "bench" / "reference_stats.sh"
UPSTREAM = ["total_problems", "by_type", "by_severity", "action_results",
            "action_success_rate", "hourly", "daily"]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    now = time.time()
    planted(state / "problems.jsonl", now)
    seed_llm(state, now)
    return state


def argus(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ARGUS, *args], capture_output=True, text=True,
                          env=argus_env(tmp_path), timeout=60)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by (name, sorted labels)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_json_by_default_over_the_days_asked(tmp_path: Path, state: Path) -> None:
    result = argus(tmp_path, "stats", "--since", "6d")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["window_days"] == 6 and doc["total_problems"] == 13
    assert {k: v for k, v in doc["by_severity"].items()} == {"critical": 5, "warning": 5,
                                                             "info": 3}
    assert doc["beads_created"] == 0 and doc["llm"]["calls"] == 3
    assert "2 line(s)" in result.stderr and "skipped" in result.stderr  # torn, garbage
    week = json.loads(argus(tmp_path, "stats").stdout)  # the default window: 7 days
    assert week["window_days"] == 7


def test_prometheus_output_file_is_atomic_readable_and_promtool_valid(
        tmp_path: Path, state: Path) -> None:
    out = tmp_path / "textfile" / "argus.prom"
    out.parent.mkdir()
    result = argus(tmp_path, "stats", "--format", "prometheus", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert os.listdir(out.parent) == ["argus.prom"]  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644 & ~umask  # node_exporter can read it
    got = samples(out.read_text())
    # the whole registry by default: 17 records, the two before the week included
    assert sum(v for (name, _), v in got.items() if name == "argus_problems_total") == 17
    assert got[("argus_problems_total", (("severity", "critical"), ("type", "service")))] == 4
    assert got[("argus_alerts_total", (("outcome", "sent"),))] == 4  # B2 too
    assert got[("argus_alerts_total", (("outcome", "suppressed"),))] == 1
    assert got[("argus_beads_created_total", ())] == 3
    assert got[("argus_time_to_resolve_seconds_count", (("type", "disk"),))] == 1
    assert got[("argus_time_to_resolve_seconds_sum", (("type", "disk"),))] == 3000
    assert got[("argus_mean_time_to_resolve_seconds", (("type", "service"),))] == 1800
    assert got[("argus_actions_total", (("action", "restart_service"),
                                        ("result", "success")))] == 2
    assert got[("argus_llm_calls", ())] == 3 and got[("argus_llm_tokens", ())] == 2999
    assert got[("argus_llm_last_call_tokens", (("direction", "in"),))] == 900
    assert got[("argus_llm_actions_total", (("result", "success"),))] == 1
    assert got[("argus_registry_skipped_lines", ())] == 2
    assert ("argus_stats_window_seconds", ()) not in got  # the whole registry
    # success: B1 W1 W8 W9 W13 W15 + B2 = 7, failure: W2 W4 = 2
    assert got[("argus_action_success_ratio", ())] == round(7 / 9, 4)
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    check = subprocess.run([promtool, "check", "metrics"], input=out.read_bytes(),
                           capture_output=True, timeout=30)
    assert check.returncode == 0, (check.stdout, check.stderr)
    assert check.stdout == b"" and check.stderr == b""  # not even a lint warning


def test_prometheus_with_a_window_says_so(tmp_path: Path, state: Path) -> None:
    result = argus(tmp_path, "stats", "--format", "prometheus", "--since", "6d")
    assert result.returncode == 0, result.stderr
    got = samples(result.stdout)
    assert got[("argus_stats_window_seconds", ())] == 6 * DAY
    assert sum(v for (name, _), v in got.items() if name == "argus_problems_total") == 13


def test_a_bad_window_is_a_usage_error(tmp_path: Path, state: Path) -> None:
    result = argus(tmp_path, "stats", "--since", "7x")
    assert result.returncode == 2
    assert "--since" in result.stderr and "7x" in result.stderr


def test_an_unwritable_output_fails_cleanly(tmp_path: Path, state: Path) -> None:
    result = argus(tmp_path, "stats", "--output", str(tmp_path / "no" / "such" / "dir.json"))
    assert result.returncode == 1
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_the_registry_api_for_the_dashboard(tmp_path: Path) -> None:
    planted(tmp_path / "problems.jsonl", time.time())
    doc = compute(str(tmp_path / "problems.jsonl"), since_s=None, now=time.time())
    calls: list[int] = []

    def source() -> dict[str, Any]:
        calls.append(1)
        return doc

    from prometheus_client import CollectorRegistry, generate_latest

    mine = CollectorRegistry()
    mine.register(StatsCollector(source))
    assert calls == []  # nothing is computed at registration
    text = generate_latest(mine)
    assert calls == [1] and text == exposition_text(doc) == generate_latest(stats_registry(doc))
    assert b"argus_problems_total{" in text


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
@pytest.mark.parametrize("mode", ["slurp", "stream"])
@pytest.mark.parametrize("days", ["7", "all"])
def test_upstream_fields_agree_with_the_jq_reference(tmp_path: Path, mode: str,
                                                     days: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    write_registry(str(state / "problems.jsonl"), 5000, end=time.time(), days=12)
    ref = subprocess.run([str(REFERENCE), str(state / "problems.jsonl"), days, mode],
                         capture_output=True, text=True, timeout=120, check=True)
    result = argus(tmp_path, "stats", "--since", "7d" if days == "7" else "all")
    assert result.returncode == 0, result.stderr
    want, got = json.loads(ref.stdout), json.loads(result.stdout)
    assert want["total_problems"] > 1000
    for field in UPSTREAM:
        value = got[field]
        if isinstance(value, dict):  # Argus lists every known name, 0 included
            value = {k: v for k, v in value.items() if v}
        assert value == want[field], field
    assert got["window_days"] == want["window_days"]


def test_expected_table_is_consistent() -> None:
    """The hand-worked expectations add up (a guard on the test data itself)."""
    total = EXPECTED["total_problems"]
    for field in ("by_type", "by_severity", "action_results"):
        assert sum(EXPECTED[field].values()) == total, field
