"""Whole cycles with the advisor on: when it is asked, what happens to its answer.

Gating (quiet host, repeats, escalation, pending retries, periodic review), budget,
disk guard, act vs shadow, the policy's critical alert that no answer can remove,
the "LLM unavailable" alert, memory across cycles, and the prompt file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llm_helpers import (
    MEMORY_CRIT,
    MEMORY_WARN,
    QUIET,
    data_block,
    decision,
    last_decision,
    llm_config,
    llm_context,
    llm_records,
    records,
)
from standins.llm_servers import AnthropicServer
from standins.telegram_server import TelegramServer

import argus.cycle
from argus.cycle import run_once
from argus.decide.advisor import MEMORY_FILE
from argus.model import CycleReport

T0 = 1_800_000_000.0


def memory_key(report: CycleReport) -> str:
    return next(p.key for p in report.problems if p.type == "memory")


def test_a_quiet_host_costs_no_call_and_writes_nothing(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=QUIET,
                                           llm={"review_every": 1}))
    for n in range(5):
        report = run_once(ctx, now=T0 + 300 * n)
        assert report.mode == "rules" and report.llm["called"] is False
    assert anthropic_server.requests == []
    state = Path(ctx.paths.state_dir)
    assert not (state / MEMORY_FILE).exists() and not (state / "last_decision.json").exists()


def test_a_new_problem_is_judged_once_and_its_repeats_are_not(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN))
    modes = [run_once(ctx, now=T0 + 300 * n).mode for n in range(4)]
    assert modes == ["llm", "rules", "rules", "rules"]
    assert len(anthropic_server.requests) == 1
    _, data = data_block(anthropic_server.requests[0].body)
    assert data["why"][0].startswith("new warning memory:")


def test_an_escalation_is_judged_and_the_history_shows_the_trend(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    warn = llm_config(anthropic_server.url, thresholds=MEMORY_WARN)
    ctx = llm_context(tmp_path, warn)
    anthropic_server.script(decision(assessment="memory high, watching"))
    run_once(ctx, now=T0)
    run_once(ctx, now=T0 + 300)
    ctx = ctx._replace(config=llm_config(anthropic_server.url, thresholds=MEMORY_CRIT))
    report = run_once(ctx, now=T0 + 600)
    assert report.mode == "llm" and len(anthropic_server.requests) == 2
    _, data = data_block(anthropic_server.requests[1].body)
    key = memory_key(report)
    assert data["why"] == [f"escalated warning->critical {key}"]
    history = data["history"]
    assert [h["ago_s"] for h in history] == [600, 300]
    assert all(key in h["figures"] and "memory at" in h["figures"][key] for h in history)
    assert history[0]["assessment"] == "memory high, watching"
    # what the policy did this cycle is shown too: the critical alert
    assert any(d["type"] == "alert" and d["key"] == key for d in data["done"])


def test_act_mode_carries_out_an_llm_alert_with_its_message(
        tmp_path: Path, anthropic_server: AnthropicServer,
        telegram_server: TelegramServer) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN,
                                           telegram=telegram_server))
    first = run_once(ctx, now=T0)  # learn the key; judged with an empty answer
    key = memory_key(first)
    ctx = ctx._replace(config=llm_config(anthropic_server.url, thresholds=MEMORY_CRIT,
                                         telegram=telegram_server))
    anthropic_server.script(decision(
        {"type": "alert", "target": key, "reason": "climbing fast",
         "message": "memory went from warning to critical in 5 minutes; check node"}))
    report = run_once(ctx, now=T0 + 300)
    assert report.mode == "llm"
    texts = telegram_server.texts()
    # the policy's critical alert went out first; the LLM's on the same key is deduped
    assert len(texts) == 1 and "CRITICAL memory" in texts[0]
    (row,) = [r for r in llm_records(ctx) if r["action_taken"] == "alert"]
    assert row["action_result"] == "suppressed" and row["key"] == key
    assert row["details"]["llm_reason"] == "climbing fast"


def test_an_llm_alert_on_a_warning_reaches_a_person(
        tmp_path: Path, anthropic_server: AnthropicServer,
        telegram_server: TelegramServer) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN,
                                           telegram=telegram_server))
    anthropic_server.always(None)
    anthropic_server.script(("status", 401, None))  # first cycle: learn the key
    key = memory_key(run_once(ctx, now=T0))
    anthropic_server.script(decision({"type": "alert", "target": key, "reason": "leak",
                                      "message": "looks like a leak in node"}))
    report = run_once(ctx, now=T0 + 300)  # a retry: the last call failed
    assert report.mode == "llm"
    (text,) = telegram_server.texts()
    assert "WARNING memory" in text and "looks like a leak in node" in text
    rows = [r for r in llm_records(ctx) if r["action_taken"] == "alert"]
    assert [r["action_result"] for r in rows] == ["success"]


def test_shadow_mode_records_proposals_beside_the_policy_and_executes_nothing(
        tmp_path: Path, anthropic_server: AnthropicServer,
        telegram_server: TelegramServer) -> None:
    config = llm_config(anthropic_server.url, thresholds=MEMORY_WARN, llm={"mode": "shadow"},
                        telegram=telegram_server)
    ctx = llm_context(tmp_path, config)
    anthropic_server.always(("status", 401, None))
    key = memory_key(run_once(ctx, now=T0))
    anthropic_server.always(decision(
        {"type": "alert", "target": key, "reason": "leak", "message": "page someone"},
        {"type": "clean_disk", "target": None, "reason": "why not"}))
    report = run_once(ctx, now=T0 + 300)
    assert report.mode == "shadow"
    assert telegram_server.texts() == []  # nothing the LLM proposed was done
    rows = llm_records(ctx)
    assert [(r["action_taken"], r["action_result"]) for r in rows] == [
        ("alert", "skipped"), ("clean_disk", "skipped")]
    assert rows[0]["details"]["shadow"] is True and rows[0]["details"]["guard"] == "allow"
    assert rows[1]["details"]["refused"].startswith("clean_disk is not a candidate")
    saved = last_decision(ctx)
    assert saved["mode"] == "shadow"
    assert [p["result"] for p in saved["proposals"]] == ["skipped", "skipped"]
    assert [(p["type"], p["result"]) for p in saved["policy"]] == [("log", "success")]


@pytest.mark.parametrize("answer", [decision(), ("status", 401, None), ("hang", 30)])
def test_the_policys_critical_alert_goes_out_whatever_the_llm_says(
        tmp_path: Path, anthropic_server: AnthropicServer, telegram_server: TelegramServer,
        answer: tuple[object, ...]) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_CRIT,
                                           telegram=telegram_server, llm={"timeout": 1}))
    anthropic_server.script(answer)
    report = run_once(ctx, now=T0)
    assert report.status == "ok"
    assert [t for t in telegram_server.texts() if "CRITICAL memory" in t]


def test_over_budget_the_policy_decides_alone_and_it_is_recorded(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN,
                                           llm={"max_calls_per_hour": 1}))
    run_once(ctx, now=T0)
    ctx = ctx._replace(config=llm_config(anthropic_server.url, thresholds=MEMORY_CRIT,
                                         llm={"max_calls_per_hour": 1}))
    report = run_once(ctx, now=T0 + 300)
    assert report.mode == "fallback" and report.llm["called"] is False
    assert report.llm["skipped"].startswith("budget: 1 calls in the last hour")
    assert last_decision(ctx)["llm"]["skipped"] == report.llm["skipped"]
    assert len(anthropic_server.requests) == 1
    # an hour later the budget has room again
    ctx = ctx._replace(config=llm_config(anthropic_server.url, thresholds=MEMORY_WARN,
                                         llm={"max_calls_per_hour": 1, "review_every": 60}))
    assert run_once(ctx, now=T0 + 3900).mode == "llm"


def test_the_daily_token_budget(tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    llm = {"max_tokens_per_day": 10, "review_every": 60}
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN,
                                           llm=llm))
    assert run_once(ctx, now=T0).mode == "llm"
    report = run_once(ctx, now=T0 + 300)
    assert report.mode == "fallback" and "llm.max_tokens_per_day" in report.llm["skipped"]
    assert run_once(ctx, now=T0 + 86_400 + 300).mode == "llm"


def test_under_100_mb_free_there_is_no_call(
        tmp_path: Path, anthropic_server: AnthropicServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(argus.cycle, "_free_bytes", lambda path: 50 * 2**20)
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN))
    report = run_once(ctx, now=T0)
    assert report.mode == "fallback" and report.llm["skipped"].startswith("low disk: 50 MB")
    assert anthropic_server.requests == []
    assert not (Path(ctx.paths.state_dir) / MEMORY_FILE).exists()


def test_unavailable_for_alert_after_sends_one_alert(
        tmp_path: Path, anthropic_server: AnthropicServer,
        telegram_server: TelegramServer) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN,
                                           telegram=telegram_server))
    anthropic_server.always(("status", 401, None))
    for n in range(3):  # failures at 0 s and 1800 s: under an hour, no alert
        report = run_once(ctx, now=T0 + 1800 * n)
        assert report.mode == "fallback" and report.status == "ok"
    alerts = [t for t in telegram_server.texts() if "LLM advisor" in t]
    assert len(alerts) == 1  # the third failure, 3600 s after the first
    assert "unavailable for 60 min" in alerts[0] and "auth 401" in alerts[0]
    (row,) = [r for r in records(ctx) if r["subject"] == "self:llm"]
    assert (row["severity"], row["type"], row["action_result"]) == ("warning", "self", "success")
    run_once(ctx, now=T0 + 5400)
    assert len([t for t in telegram_server.texts() if "LLM advisor" in t]) == 1
    # back again: the clock restarts
    anthropic_server.always(None)
    assert run_once(ctx, now=T0 + 5700).mode == "llm"
    memory = json.loads((Path(ctx.paths.state_dir) / MEMORY_FILE).read_text())
    assert memory["unavailable_since"] is None and memory["pending"] == []


def test_a_periodic_review_is_due_only_with_problems_present(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN,
                                           llm={"review_every": 600}))
    modes = [run_once(ctx, now=T0 + t).mode for t in (0, 300, 600, 900)]
    assert modes == ["llm", "rules", "llm", "rules"]
    _, data = data_block(anthropic_server.requests[1].body)
    assert data["why"] == ["review due"]


def test_the_system_prompt_comes_from_llm_prompt_file(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    prompt = tmp_path / "prompt.md"
    prompt.write_text('Watch over {host}. Output JSON like {"assessment": "..."}.\n')
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN,
                                           llm={"prompt_file": str(prompt)}))
    assert run_once(ctx, now=T0).mode == "llm"
    assert anthropic_server.requests[0].body["system"] == \
        'Watch over web-1. Output JSON like {"assessment": "..."}.'


def test_an_unreadable_prompt_file_falls_back_without_a_call(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN,
                                           llm={"prompt_file": str(tmp_path / "missing.md")}))
    report = run_once(ctx, now=T0)
    assert report.mode == "fallback" and "cannot read llm.prompt_file" in report.llm["error"]
    assert anthropic_server.requests == []


def test_a_bug_in_the_advisor_costs_the_advice_not_the_cycle(
        tmp_path: Path, anthropic_server: AnthropicServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from argus.decide import prompt

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(prompt, "candidates", broken)
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN))
    report = run_once(ctx, now=T0)
    assert report.status == "ok" and report.mode == "fallback"
    assert report.llm["error"] == "internal: RuntimeError: boom"
    # the policy's record of this cycle is still written
    assert [(r["action_taken"], r["source"]) for r in records(ctx)] == [("log", "rules")]
