"""``argus patterns`` as a user and the timer run it, the day's bead through the bd
stand-in (tests/standins/bd) found on PATH, ``patterns.jsonl``, and the daemon's
daily run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from patterns_helpers import DAY, NOW, episode, planted_history, planted_registry, write_registry

from argus import daemon
from argus.analyze import patterns_emit
from argus.analyze.patterns import detect_patterns
from argus.config import Thresholds, build_config
from argus.context import Context, make_context
from argus.model import problem_key
from argus.record.registry import iter_records

ARGUS = [sys.executable, "-m", "argus"]
STANDINS = Path(__file__).resolve().parent.parent / "standins"
WEEK = 7 * DAY
# Thresholds nothing on this host reaches: the daemon test runs real cycles here.
QUIET = {"memory_warn": 100, "memory_crit": 100, "disk_warn": 100, "disk_crit": 100,
         "swap_warn": 100, "load_per_core_warn": 10_000.0, "zombies_warn": 10_000_000,
         **{name: 100 for name in Thresholds._fields if name.startswith("psi_")}}
SAFE: dict[str, Any] = {"dry_run": True, "tmux": {"sockets": []},
                        "processes": {"orphans": []}, "thresholds": QUIET}


class Tracker:
    """A beads database driven through the bd stand-in, as a person would read it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.beads_dir = root / ".beads"
        self.calls = root.parent / "bd-calls.jsonl"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BD_")}
        self.env["BEADS_DIR"] = str(self.beads_dir)
        subprocess.run([str(STANDINS / "bd"), "init", "--prefix", "ops"], cwd=root,
                       env=self.env, check=True, capture_output=True, timeout=30)

    def issues(self) -> list[dict[str, Any]]:
        out = subprocess.run([str(STANDINS / "bd"), "list", "--status=all", "--limit=0",
                              "--json"], env=self.env, check=True, capture_output=True,
                             text=True, timeout=30).stdout
        data: list[dict[str, Any]] = json.loads(out)
        return data

    def comments(self, bead_id: str) -> list[str]:
        out = subprocess.run([str(STANDINS / "bd"), "show", bead_id, "--json"], env=self.env,
                             check=True, capture_output=True, text=True, timeout=30).stdout
        return [c["text"] for c in json.loads(out)[0]["comments"]]

    def creates(self) -> int:
        if not self.calls.exists():
            return 0
        return sum("create" in json.loads(line) for line in self.calls.read_text().splitlines())


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tracker:
    root = tmp_path / "tracker"
    root.mkdir()
    for name in ("BD_STANDIN_HANG", "BD_STANDIN_GARBAGE", "BD_STANDIN_ODD_ID",
                 "BD_STANDIN_FAIL", "BD_JSON_ENVELOPE", "BEADS_ACTOR"):
        monkeypatch.delenv(name, raising=False)
    tracker = Tracker(root)
    # The stand-in is `#!/usr/bin/env python3`: this interpreter's directory comes next.
    monkeypatch.setenv("PATH", os.pathsep.join([str(STANDINS), os.path.dirname(sys.executable),
                                                os.environ.get("PATH", "")]))
    monkeypatch.setenv("BEADS_DIR", str(tracker.beads_dir))
    monkeypatch.setenv("BD_STANDIN_LOG", str(tracker.calls))
    return tracker


def emissions(state: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    lines = list(iter_records(str(state / "patterns.jsonl")))
    return ([x for x in lines if x["event"] == "emit"], [x for x in lines if x["event"] == "run"])


# --- the command, on the real clock -----------------------------------------------------

@pytest.fixture(scope="module")
def real_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The planted history moved to the real clock, and a key back on three days."""
    state = tmp_path_factory.mktemp("cli") / "state"
    state.mkdir()
    now = time.time()
    planted_history(str(state / "history.sqlite3"), shift=now - NOW)
    records = []
    for hours_ago in (31, 67, 131):  # three days, at hours far apart
        records += episode(now - hours_ago * 3600, 10, "probe:api", "service", "warning")
    write_registry(str(state / "problems.jsonl"), records)
    return state


def argus(state: Path, *args: str, path: str | None = None,
          **env: str) -> subprocess.CompletedProcess[str]:
    run_env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ARGUS_", "TELEGRAM_", "ANTHROPIC_"))}
    run_env.update(HOME=str(state.parent), XDG_CONFIG_HOME=str(state.parent / "cfg"),
                   ARGUS_STATE_DIR=str(state), TZ="UTC", **env)
    if path is not None:
        run_env["PATH"] = path
    return subprocess.run([*ARGUS, *args], capture_output=True, text=True, env=run_env,
                          timeout=120, check=False)


def fresh(real_state: Path, tmp_path: Path) -> Path:
    """A copy of the module's state dir, so each test writes its own patterns.jsonl."""
    import shutil

    state = tmp_path / "state"
    shutil.copytree(real_state, state)
    return state


EXPECTED = {"disk_fill:/data", "disk_fill:/var",
            "memory_creep:proc_rss_bytes:worker.service/worker",
            "memory_creep:proc_rss_bytes:batch.service/python3",
            f"recurring_key:{problem_key('service', 'probe:api')}"}


def test_patterns_json_lists_each_pattern_with_its_evidence(real_state: Path,
                                                            tmp_path: Path) -> None:
    state = fresh(real_state, tmp_path)
    result = argus(state, "patterns", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["window"] == "7d" and out["window_s"] == WEEK and out["notes"] == []
    assert {p["signature"] for p in out["patterns"]} == EXPECTED
    disk = next(p for p in out["patterns"] if p["signature"] == "disk_fill:/data")
    assert disk["severity"] == "critical" and disk["kind"] == "disk_fill"
    assert {"mount", "slope_bytes_per_s", "predicted_full_ts"} <= set(disk["evidence"])
    assert disk["evidence"]["predicted_full_ts"] > time.time()
    assert set(disk) == {"kind", "signature", "severity", "title", "subject", "evidence",
                         "recommendation"}
    assert "beads" not in out
    assert not (state / "patterns.jsonl").exists()  # a query writes nothing


def test_patterns_prints_each_with_evidence_and_what_to_do(real_state: Path,
                                                          tmp_path: Path) -> None:
    result = argus(fresh(real_state, tmp_path), "patterns")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("5 pattern(s) in the last 7d:")
    assert "[critical] disk /data full in ~" in out
    assert "[warning] possible leak in worker.service (worker): +38 MB/day over 6 days" in out
    assert out.count("what to do: ") == 5
    assert "  disk_fill: used_pct=" in out


def test_a_bad_window_is_a_usage_error(real_state: Path, tmp_path: Path) -> None:
    state = fresh(real_state, tmp_path)
    short = argus(state, "patterns", "--window", "12h")
    assert short.returncode == 2 and "--window: at least 1d" in short.stderr
    bogus = argus(state, "patterns", "--window", "soon")
    assert bogus.returncode == 2 and "not a duration" in bogus.stderr
    wide = argus(state, "patterns", "--window", "30d", "--json")
    assert wide.returncode == 0 and json.loads(wide.stdout)["window_s"] == 30 * DAY


def test_create_beads_files_one_bead_a_day_and_records_it(real_state: Path, tmp_path: Path,
                                                          tracker: Tracker) -> None:
    state = fresh(real_state, tmp_path)
    first = argus(state, "patterns", "--create-beads", "--json")
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["beads"]["outcome"] == "created" and set(out["beads"]["emitted"]) == EXPECTED
    [bead] = tracker.issues()
    assert bead["id"] == out["beads"]["bead_id"]
    assert bead["labels"] == ["argus", "patterns"] and bead["issue_type"] == "task"
    assert bead["priority"] == 1  # a critical pattern among them
    assert bead["title"].startswith(f"[argus] 5 pattern(s) on {out['host']}, ")
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time()))
    assert bead["description"].splitlines()[-1] == f"Argus patterns: {out['host']} {day}"
    for signature in EXPECTED:
        assert f"signature: {signature}" in bead["description"]
    emits, runs = emissions(state)
    assert {e["signature"] for e in emits} == EXPECTED
    assert all(e["bead_id"] == bead["id"] and e["day"] == day for e in emits)
    assert all({"kind", "title", "evidence", "recommendation"} <= set(e) for e in emits)
    assert [(r["trigger"], r["found"], r["emitted"], r["beads"]) for r in runs] == [
        ("cli", 5, 5, "created")]

    # the timer fires again the same day: nothing new, no bead, no create call
    second = argus(state, "patterns", "--create-beads")
    assert second.returncode == 0, second.stderr
    assert f"beads: nothing new {bead['id']}" in second.stdout
    assert len(tracker.issues()) == 1 and tracker.creates() == 1
    emits, runs = emissions(state)
    assert len(emits) == 5 and [r["beads"] for r in runs] == ["created", "nothing new"]


def test_without_bd_beads_are_skipped_quietly(real_state: Path, tmp_path: Path) -> None:
    state = fresh(real_state, tmp_path)
    result = argus(state, "patterns", "--create-beads", "--json",
                   path=os.path.dirname(sys.executable))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["beads"] == {
        "outcome": "skipped", "bead_id": None, "emitted": [], "detail": "bd is not on PATH"}
    assert "Traceback" not in result.stderr and "warning" not in result.stderr.lower()
    emits, runs = emissions(state)
    assert emits == [] and [r["beads"] for r in runs] == ["skipped"]


def test_a_failing_bd_exits_1_and_nothing_counts_as_reported(
        real_state: Path, tmp_path: Path, tracker: Tracker) -> None:
    state = fresh(real_state, tmp_path)
    failed = argus(state, "patterns", "--create-beads", BD_STANDIN_FAIL="create")
    assert failed.returncode == 1
    assert "beads: failed" in failed.stdout and "database is locked" in failed.stdout
    assert tracker.issues() == [] and emissions(state)[0] == []
    retried = argus(state, "patterns", "--create-beads")
    assert retried.returncode == 0 and len(tracker.issues()) == 1


# --- the day's bead, on a controlled clock ---------------------------------------------

def clock_context(state: Path, at: list[float], **config: Any) -> Context:
    return make_context(build_config(config, "test", {}), str(state), env={}, host="web-1",
                        clock=lambda: at[0])


@pytest.fixture
def registry_state(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    planted_registry(str(state / "problems.jsonl"))
    return state


def test_the_next_day_gets_its_own_bead(registry_state: Path, tracker: Tracker) -> None:
    at = [float(NOW)]
    ctx = clock_context(registry_state, at)
    found = detect_patterns(ctx, WEEK, NOW)
    assert len(found) == 4
    assert patterns_emit.file_patterns(ctx, found, WEEK, NOW, "cli").outcome == "created"
    assert patterns_emit.file_patterns(ctx, found, WEEK, NOW + 3600, "cli").outcome == \
        "nothing new"
    at[0] = NOW + DAY
    tomorrow = patterns_emit.file_patterns(ctx, found, WEEK, NOW + DAY, "cli")
    assert tomorrow.outcome == "created"
    issues = tracker.issues()
    assert len(issues) == 2
    assert sorted(i["description"].splitlines()[-1] for i in issues) == [
        "Argus patterns: web-1 2026-05-28", "Argus patterns: web-1 2026-05-29"]
    emits, _ = emissions(registry_state)
    assert sorted((e["day"], e["signature"]) for e in emits) == sorted(
        (day, p.signature) for day in ("2026-05-28", "2026-05-29") for p in found)


def test_a_pattern_new_later_in_the_day_is_added_to_the_days_bead(
        registry_state: Path, tracker: Tracker) -> None:
    ctx = clock_context(registry_state, [float(NOW)])
    found = detect_patterns(ctx, WEEK, NOW)
    first = patterns_emit.file_patterns(ctx, found[:2], WEEK, NOW, "cli")
    later = patterns_emit.file_patterns(ctx, found, WEEK, NOW + 4 * 3600, "daemon")
    assert later.outcome == "commented" and later.bead_id == first.bead_id
    assert [p.signature for p in later.emitted] == [p.signature for p in found[2:]]
    assert len(tracker.issues()) == 1
    [comment] = tracker.comments(str(first.bead_id))
    assert all(f"signature: {p.signature}" in comment for p in found[2:])
    assert not any(f"signature: {p.signature}" in comment for p in found[:2])


def test_a_lost_patterns_file_does_not_mean_a_second_bead(registry_state: Path,
                                                          tracker: Tracker) -> None:
    ctx = clock_context(registry_state, [float(NOW)])
    found = detect_patterns(ctx, WEEK, NOW)
    first = patterns_emit.file_patterns(ctx, found, WEEK, NOW, "cli")
    (registry_state / "patterns.jsonl").unlink()
    again = patterns_emit.file_patterns(ctx, found, WEEK, NOW + 60, "cli")
    assert again.outcome == "commented" and again.bead_id == first.bead_id
    assert len(tracker.issues()) == 1 and tracker.creates() == 1


def test_beads_disabled_in_the_config_are_skipped(registry_state: Path,
                                                  tracker: Tracker) -> None:
    ctx = clock_context(registry_state, [float(NOW)], beads={"enabled": False})
    found = detect_patterns(ctx, WEEK, NOW)
    filing = patterns_emit.file_patterns(ctx, found, WEEK, NOW, "cli")
    assert (filing.outcome, filing.detail) == ("skipped", "beads.enabled = false")
    assert tracker.issues() == [] and tracker.creates() == 0


# --- the daemon -------------------------------------------------------------------------

@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_the_daemon_runs_the_analysis_once_a_day(
        tmp_path: Path, tracker: Tracker, monkeypatch: pytest.MonkeyPatch,
        restore_signals: None) -> None:
    state = tmp_path / "state"
    state.mkdir()
    now = time.time()
    records = []
    for hours_ago in (31, 67, 131):  # three days, at hours far apart
        records += episode(now - hours_ago * 3600, 10, "probe:api", "service", "warning")
    write_registry(str(state / "problems.jsonl"), records)
    ctx = make_context(build_config(SAFE, "test", {}), str(state), env={}, host="web-1")
    monkeypatch.setattr(daemon, "PATTERNS_FIRST_DELAY_S", 0.0)
    assert daemon.run_daemon(ctx, max_cycles=1) == 0
    emits, runs = emissions(state)
    assert [(r["trigger"], r["beads"]) for r in runs] == [("daemon", "created")]
    assert [e["kind"] for e in emits] == ["recurring_key"]
    assert len(tracker.issues()) == 1
    # within the day: not due, and it says when to look again
    wait = patterns_emit.run_if_due(ctx, now + 3600)
    assert 22 * 3600 < wait <= DAY and len(emissions(state)[1]) == 1
    # a day after the last run it is due again
    assert patterns_emit.run_if_due(ctx, now + DAY + 60) == DAY
    assert len(emissions(state)[1]) == 2


def test_a_failing_analysis_never_stops_the_daemon(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = make_context(build_config(SAFE, "test", {}), str(tmp_path / "state"), env={},
                       host="web-1")

    def broken(ctx: Context, now: float) -> float:
        raise RuntimeError("a bug in the analysis")

    monkeypatch.setattr(patterns_emit, "run_if_due", broken)
    assert daemon._daily_patterns(ctx) == daemon.PATTERNS_RETRY_S
