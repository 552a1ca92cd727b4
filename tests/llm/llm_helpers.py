"""Helpers shared by the LLM advisor tests (imported by name: tests/ is not a package)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proc_helpers import alive, comm, wait_for  # noqa: F401 - re-exported
from standins.telegram_server import TelegramServer

from argus.config import Config, Thresholds, build_config
from argus.context import Context, make_context
from argus.record.registry import iter_records

ANTHROPIC_KEY = "sk-ant-standin-0123456789"
OPENAI_KEY = "sk-local-standin"

# Out of reach for every threshold this host could trip (new *_warn fields included:
# percentages top out at 100), so the only problems are those a test makes.
_NOT_PERCENT = {"load_per_core_warn": 10_000.0, "swap_io_thrash_mb_s": 1e9,
                "zombies_warn": 10**6}
QUIET = {name: _NOT_PERCENT.get(name, 100) for name in Thresholds._fields}
MEMORY_WARN = {**QUIET, "memory_warn": 0.1}  # one warning: memory:host (or :cgroup)
MEMORY_CRIT = {**QUIET, "memory_warn": 0.1, "memory_crit": 0.1}


def llm_config(url: str, *, provider: str = "anthropic", llm: dict[str, Any] | None = None,
               thresholds: dict[str, Any] | None = None,
               telegram: TelegramServer | None = None, **top: Any) -> Config:
    """A config for a cycle on this host: dry run, no orphan rules, tmux off."""
    env = {"ANTHROPIC_API_KEY": ANTHROPIC_KEY}
    if telegram is not None:
        env.update(TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_CHAT_ID=telegram.chat_id,
                   ARGUS_TELEGRAM_API_BASE=telegram.url)
    base_url = url + "/v1" if provider == "openai" else url
    data: dict[str, Any] = {
        "dry_run": True, "tmux": {"sockets": []}, "processes": {"orphans": []},
        "thresholds": thresholds or QUIET,
        "llm": {"provider": provider, "base_url": base_url, "timeout": 5, **(llm or {})}}
    for key, value in top.items():
        data[key] = {**data[key], **value} if isinstance(data.get(key), dict) else value
    assert data["dry_run"] is True and data["processes"]["orphans"] == []
    config = build_config(data, "test", env)
    return config._replace(telegram=config.telegram._replace(timeout=2.0, retries=0))


def llm_context(tmp_path: Path, config: Config, **kw: Any) -> Context:
    return make_context(config, str(tmp_path / "state"), env={}, host="web-1", **kw)


def records(ctx: Context) -> list[dict[str, Any]]:
    return list(iter_records(ctx.paths.problems))


def llm_records(ctx: Context) -> list[dict[str, Any]]:
    return [r for r in records(ctx) if r["source"] == "llm"]


def last_decision(ctx: Context) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(ctx.paths.last_decision).read_text())
    return data


def data_block(body: dict[str, Any]) -> tuple[str, Any]:
    """The user message of a request, and the JSON document of its data block."""
    messages = body["messages"]
    user = next(m for m in messages if m["role"] == "user")["content"]
    start = user.index("<argus-data>\n") + len("<argus-data>\n")
    end = user.index("\n</argus-data>")
    return user, json.loads(user[start:end])


def decision(*actions: dict[str, Any], assessment: str = "looked at it") -> tuple[str, Any]:
    """A scripted good answer for the stand-ins."""
    return ("decision", {"assessment": assessment, "actions": list(actions),
                         "observations": ["noted"]})
