"""``argus summary --send``: Relay first, then Telegram, then the fallback file; a
channel being down is never an error. Real processes: the argus command, the relay
stand-in on PATH, the Telegram stand-in server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from standins.telegram_server import TelegramServer
from stats_helpers import argus_env
from summary_helpers import inbox, relay_path_env, seed_day

from argus.analyze.summary_send import EVENT

ARGUS = [sys.executable, "-m", "argus"]
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"  # the conftest's stand-in token


def run(tmp_path: Path, config: str, *args: str, telegram: TelegramServer | None = None,
        **env: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "argus.toml"
    cfg.write_text(config)
    extra = {**relay_path_env(tmp_path), **env}
    if telegram is not None:
        extra.update(TELEGRAM_BOT_TOKEN=TOKEN, ARGUS_TELEGRAM_API_BASE=telegram.url)
    seed_day(tmp_path / "state", time.time())
    return subprocess.run([*ARGUS, "--config", str(cfg), "summary", "--send", *args],
                          capture_output=True, text=True, env=argus_env(tmp_path, **extra),
                          timeout=60)


RELAY_ON = '[relay]\nenabled = true\ntimeout = 3\n[telegram]\nchat_id = "4242"\nretries = 0\n'
RELAY_OFF = '[telegram]\nchat_id = "4242"\nretries = 0\ntimeout = 2\n'


def fallback(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "state" / "summary-fallback.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def text_of(stdout: str) -> str:
    """The message: everything before the delivery line."""
    return stdout.rstrip("\n").rsplit("\n", 1)[0]


def test_relay_takes_the_summary(tmp_path: Path, telegram_server: TelegramServer) -> None:
    result = run(tmp_path, RELAY_ON, telegram=telegram_server)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "summary sent via Relay to athena"
    [message] = inbox(tmp_path)
    assert message["from"] == "argus" and message["to"] == "athena"
    assert message["priority"] == "medium" and message["type"] == "status"
    assert message["tags"] == ["argus", "summary", "daily"]
    assert message["subject"].startswith("Argus daily summary: ")
    body = json.loads(message["body"])
    assert body["event"] == EVENT == "argus.daily_summary"
    assert body["health"] == "critical" and body["text"] == text_of(result.stdout)
    assert body["summary"]["problems"]["records"] == 9
    assert body["summary"]["beads"]["open"][0]["id"] == "ops-7"
    assert telegram_server.received == []  # one channel only
    assert not (tmp_path / "state" / "summary-fallback.jsonl").exists()


def test_relay_refusing_falls_back_to_telegram(tmp_path: Path,
                                               telegram_server: TelegramServer) -> None:
    # relay.to names an agent the Relay dir does not have: `relay send` exits 1
    result = run(tmp_path, RELAY_ON, telegram=telegram_server, ARGUS_RELAY_TO="hermes")
    assert result.returncode == 0, result.stderr
    [sent] = telegram_server.received
    assert sent.chat_id == "4242" and sent.text == text_of(result.stdout)
    assert sent.text.startswith("Argus daily summary for ")
    last = result.stdout.splitlines()[-1]
    assert last.startswith("summary sent via Telegram (relay: ")
    assert 'recipient "hermes" not registered' in last
    assert inbox(tmp_path, "hermes") == []


def test_relay_disabled_and_telegram_down_go_to_the_file(
        tmp_path: Path, telegram_server: TelegramServer) -> None:
    telegram_server.always(("500",))
    result = run(tmp_path, RELAY_OFF, telegram=telegram_server)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "state" / "summary-fallback.jsonl"
    assert result.stdout.splitlines()[-1].startswith(f"summary written to {path} (")
    [line] = fallback(tmp_path)
    assert line["event"] == EVENT and line["text"] == text_of(result.stdout)
    assert line["relay_error"] == "relay disabled (relay.enabled = false)"
    assert line["telegram_error"].startswith("HTTP 500")
    assert TOKEN not in path.read_text() and TOKEN not in result.stdout + result.stderr
    assert telegram_server.received == [] and len(telegram_server.requests) == 1


def test_a_hung_relay_and_no_telegram_go_to_the_file(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run(tmp_path, '[relay]\nenabled = true\ntimeout = 1\n', RELAY_STANDIN_HANG="1")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    [line] = fallback(tmp_path)
    assert line["relay_error"] == "relay: timed out"
    assert line["telegram_error"].startswith("Telegram is not configured")


def test_json_says_which_channel_took_it(tmp_path: Path,
                                         telegram_server: TelegramServer) -> None:
    result = run(tmp_path, RELAY_OFF, "--json", telegram=telegram_server)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["delivery"] == {"channel": "telegram", "tried": [
        {"channel": "relay", "error": "relay disabled (relay.enabled = false)"}]}
    assert telegram_server.texts() == [doc["text"]]


def test_nowhere_to_go_is_the_only_failure(tmp_path: Path) -> None:
    (tmp_path / "state" / "summary-fallback.jsonl").mkdir(parents=True)  # not a file
    result = run(tmp_path, "")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1].startswith("summary NOT delivered (relay: ")
    assert "could not be delivered" in result.stderr and "Traceback" not in result.stderr
    assert "Argus daily summary for " in result.stdout  # still printed for the journal
