"""Whole cycles on this host, with thresholds set so that real figures trip them.

What is asserted is what a user would see: registry lines, the messages the
Telegram stand-in received, the state files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from standins.telegram_server import TelegramServer

from argus.config import build_config
from argus.context import Context, make_context
from argus.cycle import run_cycle, run_once
from argus.model import report_to_json
from argus.record.registry import iter_records


def context(tmp_path: Path, data: dict[str, Any] | None = None,
            telegram: TelegramServer | None = None, **kw: Any) -> Context:
    env: dict[str, str] = {}
    if telegram is not None:
        env = {"TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_CHAT_ID": telegram.chat_id,
               "ARGUS_TELEGRAM_API_BASE": telegram.url}
    # dry_run and no orphan rules: these cycles run on this very host, whose disk they
    # push over disk_crit on purpose; nothing may be cleaned or killed for real.
    base: dict[str, Any] = {"tmux": {"sockets": []}, "dry_run": True,
                            "processes": {"orphans": []}}
    base.update(data or {})
    config = build_config(base, "test", env)
    config = config._replace(telegram=config.telegram._replace(timeout=2.0, retries=0))
    return make_context(config, str(tmp_path / "state"), env={}, host="web-1", **kw)


def records(ctx: Context) -> list[dict[str, Any]]:
    return list(iter_records(ctx.paths.problems))


# "/" on this host is well above 1% and below 99.9% used: a real disk problem.
DISK_CRIT = {"thresholds": {"disk_warn": 0.1, "disk_crit": 0.2}}
DISK_WARN = {"thresholds": {"disk_warn": 0.1, "disk_crit": 99.9}}


def root_disk(ctx_records: list[dict[str, Any]], actions: tuple[str, ...] = ("alert", "log")
              ) -> list[dict[str, Any]]:
    """Records about the bytes used on /, for the given actions (notifications)."""
    return [r for r in ctx_records
            if r["subject"] == "disk:/" and r["action_taken"].split(":")[0] in actions]


def root_texts(server: TelegramServer) -> list[str]:
    """Messages about the bytes used on / (inode and other mounts may trip too)."""
    return [t for t in server.texts() if "disk / at" in t]


def test_a_quiet_cycle_writes_the_snapshot_and_reports_the_design_shape(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    report = run_once(ctx)
    data = report_to_json(report)
    assert {"cycle", "ts", "host", "mode", "duration_ms", "snapshot", "problems", "actions",
            "llm"} <= set(data)
    assert data["mode"] == "rules" and data["host"] == "web-1"
    assert data["llm"] == {"called": False, "tokens_in": 0, "tokens_out": 0, "error": None}
    snapshot = json.loads(Path(ctx.paths.last_snapshot).read_text())
    assert snapshot["memory"]["total_bytes"] > 0
    assert any(d["mount"] == "/" for d in snapshot["disks"])
    assert snapshot["processes"]["total"] > 3
    assert report.status == "ok"


def test_critical_problem_alerts_once_then_is_suppressed(
        tmp_path: Path, telegram_server: TelegramServer) -> None:
    ctx = context(tmp_path, DISK_CRIT, telegram_server)
    first = run_once(ctx)
    assert first.status == "ok"
    texts = root_texts(telegram_server)
    assert len(texts) == 1
    assert texts[0].startswith("[web-1] CRITICAL disk: disk / at ")
    run_once(ctx)
    assert len(root_texts(telegram_server)) == 1  # no second message
    rows = root_disk(records(ctx))
    assert [r["action_result"] for r in rows] == ["success", "suppressed"]
    assert all(r["action_taken"] == "alert" for r in rows)
    assert rows[0]["key"] == rows[1]["key"] and rows[0]["key"].startswith("disk:")
    assert "dedup window 3600s" in rows[1]["details"]["action_detail"]
    # / holds /tmp: above disk_crit it is cleaned first (a dry run here), every cycle
    cleans = root_disk(records(ctx), ("clean_disk",))
    assert [r["action_result"] for r in cleans] == ["dry_run", "dry_run"]
    assert cleans[0]["details"]["mount"] == "/" and cleans[0]["details"]["before_pct"] > 0


def test_a_warning_is_logged_then_escalates_to_an_alert_on_the_third_cycle(
        tmp_path: Path, telegram_server: TelegramServer) -> None:
    ctx = context(tmp_path, DISK_WARN, telegram_server)
    for _ in range(3):
        run_once(ctx)
    rows = root_disk(records(ctx))
    assert [(r["action_taken"], r["action_result"]) for r in rows] == [
        ("log", "success"), ("log", "success"), ("alert", "success")]
    assert root_texts(telegram_server)[0].startswith("[web-1] WARNING disk: disk / at ")


def test_escalation_from_warning_to_critical_is_not_suppressed(
        tmp_path: Path, telegram_server: TelegramServer) -> None:
    ctx = context(tmp_path, DISK_WARN, telegram_server)
    for _ in range(3):
        run_once(ctx)  # third cycle alerts the warning
    ctx = ctx._replace(config=build_config({**DISK_CRIT, "tmux": {"sockets": []}, "dry_run": True,
                                      "processes": {"orphans": []}}, "t", {
        "TELEGRAM_BOT_TOKEN": telegram_server.token, "TELEGRAM_CHAT_ID": telegram_server.chat_id,
        "ARGUS_TELEGRAM_API_BASE": telegram_server.url}))
    run_once(ctx)
    texts = root_texts(telegram_server)
    assert len(texts) == 2 and "CRITICAL disk" in texts[1]
    assert root_disk(records(ctx))[-1]["action_result"] == "success"


def test_a_cleared_problem_is_resolved_once_with_one_message(
        tmp_path: Path, telegram_server: TelegramServer) -> None:
    ctx = context(tmp_path, DISK_CRIT, telegram_server)
    run_once(ctx)
    calm = ctx._replace(config=ctx.config._replace(thresholds=ctx.config.thresholds._replace(
        disk_warn=99.9, disk_crit=99.9)))
    report = run_once(calm)
    run_once(calm)
    texts = root_texts(telegram_server)
    assert len(texts) == 2 and texts[1].startswith("[web-1] RESOLVED disk: disk / at ")
    rows = root_disk(records(ctx))
    assert [r["action_result"] for r in rows] == ["success", "resolved"]
    assert rows[1]["severity"] == "info" and rows[1]["action_taken"] == "alert"
    assert rows[0]["key"] in report.resolved


def test_telegram_down_queues_alerts_and_the_next_cycle_delivers_them_first(
        tmp_path: Path, telegram_server: TelegramServer) -> None:
    ctx = context(tmp_path, DISK_CRIT, telegram_server)
    telegram_server.always(("500",))
    report = run_once(ctx)
    assert report.status == "ok"
    row = root_disk(records(ctx))[0]
    assert row["action_result"] == "failure"
    assert "queued in outbox" in row["details"]["action_detail"]
    assert "disk / at" in Path(ctx.paths.outbox).read_text()
    telegram_server.always(None)
    run_once(ctx)
    texts = root_texts(telegram_server)
    assert len(texts) == 1 and "(delayed: queued at" in texts[0]
    assert Path(ctx.paths.outbox).read_text().strip() == ""


def test_without_telegram_alerts_go_to_the_log_and_the_cycle_is_ok(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ctx = context(tmp_path, DISK_CRIT)
    with caplog.at_level("WARNING", logger="argus.alerts"):
        report = run_once(ctx)
    assert report.status == "ok"
    assert any("CRITICAL disk: disk / at" in m for m in caplog.messages)
    row = root_disk(records(ctx))[0]
    assert row["action_result"] == "success"
    assert "written to the log" in row["details"]["action_detail"]
    assert not os.path.exists(ctx.paths.outbox)


def test_three_failed_cycles_raise_a_self_alert_again_at_six(
        tmp_path: Path, telegram_server: TelegramServer) -> None:
    ctx = context(tmp_path, DISK_WARN, telegram_server)
    os.makedirs(ctx.paths.problems)  # the registry path is a directory: writes fail
    statuses = []
    for _ in range(6):
        report = run_cycle(ctx)
        assert report is not None
        statuses.append(report.status)
    assert statuses == ["failed"] * 6
    cycle = json.loads(Path(ctx.paths.cycle).read_text())
    assert cycle["consecutive_failures"] == 6 and cycle["last_status"] == "failed"
    texts = [t for t in telegram_server.texts() if "self:" in t]
    assert len(texts) == 2
    assert "Argus cycle failed 3 times in a row" in texts[0]
    assert "Argus cycle failed 6 times in a row" in texts[1]


def test_a_good_cycle_resets_the_failure_count(tmp_path: Path) -> None:
    ctx = context(tmp_path, DISK_WARN)
    os.makedirs(ctx.paths.problems)
    run_cycle(ctx)
    os.rmdir(ctx.paths.problems)
    run_cycle(ctx)
    cycle = json.loads(Path(ctx.paths.cycle).read_text())
    assert cycle["consecutive_failures"] == 0 and cycle["last_status"] == "ok"


@pytest.mark.parametrize("garbage", [b"{not json", b"\x00\xff\xfe", b"[1, 2, 3]", b""])
def test_corrupted_state_is_reported_and_rebuilt(tmp_path: Path, garbage: bytes) -> None:
    ctx = context(tmp_path, DISK_CRIT)
    Path(ctx.paths.dedup).write_bytes(garbage)
    Path(ctx.paths.cycle).write_bytes(garbage)
    report = run_cycle(ctx)
    assert report is not None and report.status == "ok"
    selfs = [p for p in report.problems if p.type == "self"]
    assert any("dedup.json" in p.description and "rebuilt" in p.description for p in selfs)
    assert json.loads(Path(ctx.paths.dedup).read_text())["version"] == 1
    assert json.loads(Path(ctx.paths.cycle).read_text())["last_status"] == "ok"
    assert Path(ctx.paths.dedup + ".corrupt").read_bytes() == garbage


def test_a_failed_collector_is_a_self_problem_and_resolves_nothing(tmp_path: Path) -> None:
    # A /proc root with no meminfo: the memory collector fails, the cycle does not.
    ctx = context(tmp_path, {"thresholds": {"memory_warn": 0.1, "memory_crit": 0.2}})
    first = run_once(ctx)
    assert any(p.subject == "memory:host" for p in first.problems)
    broken = tmp_path / "proc"
    broken.mkdir()
    report = run_once(ctx._replace(proc_root=str(broken)))
    assert report.status == "ok"
    failed = {p.subject for p in report.problems if p.type == "self"}
    assert "self:collector:memory" in failed
    assert "memory:host" not in {r.split(":")[0] for r in report.resolved}
    dedup = json.loads(Path(ctx.paths.dedup).read_text())["problems"]
    memory = [v for v in dedup.values() if v["subject"] == "memory:host"]
    assert memory and memory[0]["active"] is True  # still open: nobody saw it clear
