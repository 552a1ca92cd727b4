"""Each provider against a stand-in that speaks its real protocol, failures included.

What is asserted is what a user sees: the cycle's mode and ``llm`` report, the
registry, ``last_decision.json``, and what the stand-in received.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from llm_helpers import (
    ANTHROPIC_KEY,
    MEMORY_WARN,
    data_block,
    decision,
    last_decision,
    llm_config,
    llm_context,
    llm_records,
)
from standins.llm_servers import AnthropicServer, OpenAIServer

from argus.cycle import run_once
from argus.decide.schema import DECISION_SCHEMA
from argus.model import CycleReport


def policy_logged(report: CycleReport) -> bool:
    """The policy decided as without an LLM: the memory warning was logged."""
    return any(o.action.source == "rules" and o.action.type == "log" for o in report.actions)


# -- anthropic -------------------------------------------------------------------------


def test_a_good_decision_is_asked_for_through_a_forced_tool(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN))
    anthropic_server.script(decision({"type": "log", "target": None, "reason": "trend",
                                      "message": "memory creeping up"}))
    report = run_once(ctx)
    assert report.mode == "llm" and report.status == "ok"
    assert report.llm["called"] is True and report.llm["error"] is None
    assert report.llm["tokens_in"] > 0 and report.llm["tokens_out"] > 0
    (request,) = anthropic_server.requests
    body = request.body
    assert request.path == "/v1/messages"
    assert body["model"] == "claude-haiku-4-5"
    assert body["tool_choice"] == {"type": "tool", "name": "decide"}
    assert body["tools"][0]["name"] == "decide"
    assert body["tools"][0]["input_schema"] == DECISION_SCHEMA
    assert 'Linux host "web-1"' in body["system"]
    _, data = data_block(body)
    assert data["problems"][0]["key"].startswith("memory:")
    # the accepted log proposal was carried out, and recorded as the LLM's
    (row,) = llm_records(ctx)
    assert (row["action_taken"], row["action_result"]) == ("log", "success")
    saved = last_decision(ctx)
    assert saved["mode"] == "llm" and saved["assessment"] == "looked at it"
    assert saved["llm"]["tokens_in"] == report.llm["tokens_in"]
    assert saved["llm"]["latency_ms"] > 0
    assert saved["observations"] == ["noted"]


def test_the_sdk_finds_the_server_through_anthropic_base_url(
        tmp_path: Path, anthropic_server: AnthropicServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_server.url)
    config = llm_config("", thresholds=MEMORY_WARN)
    assert config.llm.base_url == ""
    report = run_once(llm_context(tmp_path, config))
    assert report.mode == "llm" and len(anthropic_server.requests) == 1


@pytest.mark.parametrize(("answer", "error"), [
    (("bad_json",), "invalid: response is not JSON"),
    (("wrong_tool", {"assessment": "x", "actions": []}), "called an unknown tool 'run_shell'"),
    (("text", "I think you should reboot."), "no decide tool call in the answer (text)"),
    (("decision", {"assessment": "x", "actions": "kill everything"}), "invalid: actions"),
    (("decision", {"actions": []}), "invalid: assessment: Field required"),
    (("status", 401, None), "auth 401"),
    (("status", 400, None), "http 400"),
])
def test_a_failed_or_nonsense_answer_falls_back_to_the_policy(
        tmp_path: Path, anthropic_server: AnthropicServer, answer: tuple[Any, ...],
        error: str) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN))
    anthropic_server.script(answer)
    report = run_once(ctx)
    assert report.mode == "fallback" and report.status == "ok"
    assert error in report.llm["error"]
    assert len(anthropic_server.requests) == 1  # none of these is retried
    assert policy_logged(report)
    assert llm_records(ctx) == []
    assert last_decision(ctx)["mode"] == "fallback"


def test_a_hanging_api_costs_at_most_llm_timeout(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN,
                                           llm={"timeout": 1}))
    anthropic_server.script(("hang", 30))
    started = time.monotonic()
    report = run_once(ctx)
    assert time.monotonic() - started < 5
    assert report.mode == "fallback" and report.llm["error"].startswith("timeout")
    assert policy_logged(report)


def test_429_is_retried_after_the_time_the_server_names(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN))
    anthropic_server.script(("status", 429, 1), decision())
    started = time.monotonic()
    report = run_once(ctx)
    assert report.mode == "llm" and len(anthropic_server.requests) == 2
    assert time.monotonic() - started >= 1.0


def test_529_overloaded_is_retried_a_bounded_number_of_times(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN))
    anthropic_server.always(("status", 529, 0))
    report = run_once(ctx)
    assert report.mode == "fallback" and "http 529" in report.llm["error"]
    assert len(anthropic_server.requests) == 3  # providers.ATTEMPTS


def test_a_retry_after_longer_than_llm_timeout_is_not_waited_for(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    ctx = llm_context(tmp_path, llm_config(anthropic_server.url, thresholds=MEMORY_WARN,
                                           llm={"timeout": 2}))
    anthropic_server.script(("status", 429, 120))
    started = time.monotonic()
    report = run_once(ctx)
    assert time.monotonic() - started < 2
    assert report.mode == "fallback" and len(anthropic_server.requests) == 1


def test_no_server_at_all_is_a_network_error(tmp_path: Path) -> None:
    ctx = llm_context(tmp_path, llm_config("http://127.0.0.1:9", thresholds=MEMORY_WARN))
    report = run_once(ctx)
    assert report.mode == "fallback" and report.llm["error"].startswith("network")


def test_the_wrong_key_is_a_401_and_the_key_is_sent_nowhere_else(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    config = llm_config(anthropic_server.url, thresholds=MEMORY_WARN)
    config = config._replace(llm=config.llm._replace(api_key="sk-ant-wrong"))
    report = run_once(llm_context(tmp_path, config))
    assert report.mode == "fallback" and report.llm["error"].startswith("auth 401")
    assert ANTHROPIC_KEY not in json.dumps(report.llm)


# -- openai-compatible -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["decision", "content"])
def test_an_openai_compatible_server_answers_by_tool_call_or_json_content(
        tmp_path: Path, openai_server: OpenAIServer, kind: str) -> None:
    ctx = llm_context(tmp_path, llm_config(openai_server.url, provider="openai",
                                           thresholds=MEMORY_WARN, llm={"model": "qwen3"}))
    openai_server.script((kind, {"assessment": "fine", "actions": []}))
    report = run_once(ctx)
    assert report.mode == "llm" and report.llm["tokens_in"] > 0
    (request,) = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "qwen3"
    assert request.body["tool_choice"] == {"type": "function", "function": {"name": "decide"}}
    assert request.body["tools"][0]["function"]["parameters"] == DECISION_SCHEMA
    # the Anthropic key is never sent to a third-party endpoint
    assert ANTHROPIC_KEY not in request.raw.decode() + json.dumps(request.headers)
    assert last_decision(ctx)["assessment"] == "fine"


@pytest.mark.parametrize(("answer", "error"), [
    (("bad_json",), "invalid"),
    (("wrong_tool", {"assessment": "x", "actions": []}), "unknown tool"),
    (("text", "no idea"), "no JSON object"),
    (("status", 401, None), "auth 401"),
])
def test_openai_failures_fall_back(tmp_path: Path, openai_server: OpenAIServer,
                                   answer: tuple[Any, ...], error: str) -> None:
    ctx = llm_context(tmp_path, llm_config(openai_server.url, provider="openai",
                                           thresholds=MEMORY_WARN))
    openai_server.script(answer)
    report = run_once(ctx)
    assert report.mode == "fallback" and error in report.llm["error"]


def test_openai_429_is_retried(tmp_path: Path, openai_server: OpenAIServer) -> None:
    ctx = llm_context(tmp_path, llm_config(openai_server.url, provider="openai",
                                           thresholds=MEMORY_WARN))
    openai_server.script(("status", 429, 0), decision())
    assert run_once(ctx).mode == "llm" and len(openai_server.requests) == 2


# -- claude-cli ------------------------------------------------------------------------

FAKE_CLAUDE = """#!{python}
import json, os, sys, time
log = os.environ["FAKE_CLAUDE_LOG"]
with open(log, "a") as fh:
    fh.write(json.dumps({{"argv": sys.argv[1:], "stdin": sys.stdin.read()}}) + "\\n")
mode = os.environ.get("FAKE_CLAUDE_MODE", "ok")
if mode == "hang":
    time.sleep(30)
answer = {{"assessment": "cli says hi", "actions": [], "observations": []}}
if mode == "error":
    print(json.dumps({{"type": "result", "is_error": True, "result": "Invalid API key"}}))
    sys.exit(1)
text = "```json\\n" + json.dumps(answer) + "\\n```" if mode == "ok" else "no json here"
print(json.dumps({{"type": "result", "subtype": "success", "is_error": False,
                  "result": text, "usage": {{"input_tokens": 900, "output_tokens": 40}}}}))
"""


@pytest.fixture
def fake_claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``claude`` on PATH that logs its argv and stdin, and answers as the CLI does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "claude"
    script.write_text(FAKE_CLAUDE.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "claude-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CLAUDE_LOG", str(log))
    return log


def test_the_claude_cli_gets_the_prompt_on_stdin_and_its_json_result_is_read(
        tmp_path: Path, fake_claude: Path) -> None:
    ctx = llm_context(tmp_path, llm_config("", provider="claude-cli", thresholds=MEMORY_WARN))
    report = run_once(ctx)
    assert report.mode == "llm", report.llm
    assert (report.llm["tokens_in"], report.llm["tokens_out"]) == (900, 40)
    (call,) = [json.loads(line) for line in fake_claude.read_text().splitlines()]
    assert call["argv"] == ["-p", "--model", "haiku", "--output-format", "json"]
    assert "<argus-data>" in call["stdin"] and '"enum"' in call["stdin"]
    assert last_decision(ctx)["assessment"] == "cli says hi"


@pytest.mark.parametrize(("mode", "error"), [("error", "http"), ("prose", "invalid"),
                                             ("hang", "timeout")])
def test_claude_cli_failures_fall_back(tmp_path: Path, fake_claude: Path,
                                       monkeypatch: pytest.MonkeyPatch, mode: str,
                                       error: str) -> None:
    monkeypatch.setenv("FAKE_CLAUDE_MODE", mode)
    ctx = llm_context(tmp_path, llm_config("", provider="claude-cli", thresholds=MEMORY_WARN,
                                           llm={"timeout": 1.5}))
    report = run_once(ctx)
    assert report.mode == "fallback" and report.llm["error"].startswith(error)


def test_a_host_without_the_claude_cli_falls_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing called claude there
    ctx = llm_context(tmp_path, llm_config("", provider="claude-cli", thresholds=MEMORY_WARN))
    report = run_once(ctx)
    assert report.mode == "fallback" and "not installed" in report.llm["error"]


def test_no_api_key_is_a_setup_error_and_a_fallback(
        tmp_path: Path, anthropic_server: AnthropicServer) -> None:
    config = llm_config(anthropic_server.url, thresholds=MEMORY_WARN)
    config = config._replace(llm=config.llm._replace(api_key=""))
    report = run_once(llm_context(tmp_path, config))
    assert report.mode == "fallback" and report.llm["error"].startswith("setup")
    assert anthropic_server.requests == []
