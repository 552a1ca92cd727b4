"""deliver(): what the user sees in Telegram, in the outbox file and in the log."""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from standins.telegram_server import TelegramServer

from argus.config import Telegram
from argus.notify.alerts import Outcome, deliver
from argus.notify.outbox import Outbox, make_item

HOST = "web-1"


def msg(text: str, key: str | None = None, kind: str = "alert") -> dict[str, Any]:
    return {"text": text, "key": key, "kind": kind}


def outbox_texts(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["text"] for line in path.read_text().splitlines()]


def delayed(text: str, ts: str) -> str:
    return f"{text}\n(delayed: queued at {ts})"


def test_no_credentials_logs_every_alert_and_queues_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    outbox = tmp_path / "outbox.jsonl"
    caplog.set_level(logging.DEBUG)
    report = deliver(Telegram(chat_id="42"), HOST, str(outbox),
                     [msg("Disk / at 93%"), msg("nginx failed")], now_iso="2026-02-19T23:30:00Z")
    assert report.channel == "log"
    assert report.queued == 0 and report.dropped == [] and report.sent == []
    assert report.per_message == [Outcome("logged", None, 0)] * 2
    alerts = [r.getMessage() for r in caplog.records if r.name == "argus.alerts"]
    assert alerts == ["ALERT [web-1] Disk / at 93%", "ALERT [web-1] nginx failed"]
    assert not outbox.exists()


@pytest.mark.parametrize("token", ["", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"])
def test_nothing_to_send_does_not_import_httpx(tmp_path: Path, token: str) -> None:
    code = (
        "import sys\n"
        "from argus.config import Telegram\n"
        "from argus.notify import alerts\n"
        f"cfg = Telegram(chat_id='42', token={token!r}, api_base='http://127.0.0.1:9')\n"
        "messages = [] if cfg.token else [{'text': 'x', 'key': None, 'kind': 'alert'}]\n"
        "report = alerts.deliver(cfg, 'h', sys.argv[1], messages, now_iso='t')\n"
        "print(report.channel, 'httpx' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "outbox.jsonl")],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.split() == ["telegram" if token else "log", "False"]


def test_messages_are_delivered_in_order_with_the_host_name(
        telegram_server: TelegramServer, tg_config: Telegram, tmp_path: Path,
        sleeps: Any) -> None:
    outbox = tmp_path / "outbox.jsonl"
    report = deliver(tg_config, HOST, str(outbox),
                     [msg("Disk / at 93%", "disk:1"), msg("web-1: nginx failed", "service:2"),
                      msg("Disk / back to 70%", "disk:1", "resolved")],
                     now_iso="2026-02-19T23:30:00Z", sleep=sleeps)
    assert telegram_server.texts() == ["[web-1] Disk / at 93%", "web-1: nginx failed",
                                       "[web-1] Disk / back to 70%"]
    assert report.channel == "telegram" and report.sent == [0, 1, 2]
    assert [o.status for o in report.per_message] == ["sent"] * 3
    assert all(o.ok and not o.retryable for o in report.per_message)
    assert report.queued == 0 and report.flushed == 0 and report.error is None
    assert not outbox.exists()


def test_hours_of_outage_accumulate_in_order_then_flush_first_on_recovery(
        telegram_server: TelegramServer, tg_config: Telegram, tmp_path: Path,
        sleeps: Any) -> None:
    outbox = tmp_path / "outbox.jsonl"
    telegram_server.always(("500",))
    stamps = ["2026-02-19T20:00:00Z", "2026-02-19T21:00:00Z", "2026-02-19T22:00:00Z"]
    for n, ts in enumerate(stamps, 1):
        before = len(telegram_server.requests)
        report = deliver(tg_config, HOST, str(outbox), [msg(f"alert {n}a"), msg(f"alert {n}b")],
                         now_iso=ts, sleep=sleeps)
        assert [o.status for o in report.per_message] == ["queued", "queued"]
        assert all(o.retryable and not o.ok for o in report.per_message)
        assert report.queued == 2 * n and report.error == "HTTP 500: Internal Server Error"
        # Only the first message is tried (1 + retries attempts); the rest wait behind it.
        assert len(telegram_server.requests) - before == 1 + tg_config.retries
    assert telegram_server.received == []
    expected = [f"[web-1] alert {n}{x}" for n in (1, 2, 3) for x in "ab"]
    assert outbox_texts(outbox) == expected
    first = json.loads(outbox.read_text().splitlines()[0])
    assert first["ts"] == stamps[0] and first["attempts"] == 3 * (1 + tg_config.retries)
    assert first["last_error"] == "HTTP 500: Internal Server Error"

    telegram_server.always(None)  # Telegram is back
    report = deliver(tg_config, HOST, str(outbox), [msg("alert 4")],
                     now_iso="2026-02-19T23:00:00Z", sleep=sleeps)
    ts_of = dict(zip(expected, [s for s in stamps for _ in "ab"], strict=True))
    assert telegram_server.texts() == [delayed(t, ts_of[t]) for t in expected] + ["[web-1] alert 4"]
    assert report.flushed == 6 and report.sent == [0] and report.queued == 0
    assert outbox_texts(outbox) == []


def test_a_hanging_telegram_costs_one_timeout_and_queues_everything(
        telegram_server: TelegramServer, tmp_path: Path, sleeps: Any) -> None:
    outbox = tmp_path / "outbox.jsonl"
    cfg = Telegram(chat_id=telegram_server.chat_id, api_base=telegram_server.url,
                   token=telegram_server.token, timeout=0.5, retries=3)
    telegram_server.always(("hang", 30))
    started = time.monotonic()
    report = deliver(cfg, HOST, str(outbox), [msg(f"alert {n}") for n in range(10)],
                     now_iso="2026-02-19T23:30:00Z", sleep=sleeps)
    assert time.monotonic() - started < 2.0  # not 10 x timeout
    assert len(telegram_server.requests) == 1  # the circuit breaker: one try per run
    assert [o.status for o in report.per_message] == ["queued"] * 10
    assert report.per_message[0].error == "timed out after 0.5s (ReadTimeout)"
    assert report.per_message[1].error == "not tried: timed out after 0.5s (ReadTimeout)"
    assert outbox_texts(outbox) == [f"[web-1] alert {n}" for n in range(10)]

    telegram_server.always(None)
    deliver(cfg, HOST, str(outbox), [], now_iso="2026-02-19T23:35:00Z", sleep=sleeps)
    assert telegram_server.texts() == [delayed(f"[web-1] alert {n}", "2026-02-19T23:30:00Z")
                                       for n in range(10)]
    assert outbox_texts(outbox) == []


def test_a_flush_stops_at_the_first_failure_and_keeps_the_rest_in_order(
        telegram_server: TelegramServer, tmp_path: Path, sleeps: Any) -> None:
    outbox = tmp_path / "outbox.jsonl"
    Outbox(str(outbox)).add([make_item(t, None, "alert", "T0") for t in ("a", "b", "c")])
    cfg = Telegram(chat_id=telegram_server.chat_id, api_base=telegram_server.url,
                   token=telegram_server.token, timeout=2.0, retries=0)
    telegram_server.script(("pass",), ("503", "Service Unavailable"))
    report = deliver(cfg, HOST, str(outbox), [msg("d")], now_iso="T1", sleep=sleeps)
    assert telegram_server.texts() == [delayed("a", "T0")]
    assert report.flushed == 1 and report.per_message[0].status == "queued"
    assert outbox_texts(outbox) == ["b", "c", "[web-1] d"]
    assert report.queued == 3


def test_chat_not_found_drops_the_message_reports_it_and_never_retries(
        telegram_server: TelegramServer, tmp_path: Path, sleeps: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    outbox = tmp_path / "outbox.jsonl"
    Outbox(str(outbox)).add([make_item("[web-1] old one", "k0", "alert", "T0")])
    cfg = Telegram(chat_id="999", api_base=telegram_server.url, token=telegram_server.token)
    with caplog.at_level(logging.ERROR, logger="argus.alerts"):
        report = deliver(cfg, HOST, str(outbox), [msg("Disk / at 93%", "disk:1")],
                         now_iso="T1", sleep=sleeps)
    error = "HTTP 400: Bad Request: chat not found"
    assert report.per_message == [Outcome("dropped", error, 1)]
    assert not report.per_message[0].ok and not report.per_message[0].retryable
    assert [(d["text"], d["key"], d["last_error"]) for d in report.dropped] == [
        ("[web-1] old one", "k0", error), ("[web-1] Disk / at 93%", "disk:1", error)]
    assert report.queued == 0 and report.sent == [] and report.error is None
    assert sleeps.calls == []
    assert outbox_texts(outbox) == []
    assert "dropped: [web-1] Disk / at 93%" in caplog.text  # the text survives in the log
    requests = len(telegram_server.requests)
    assert requests == 2
    deliver(cfg, HOST, str(outbox), [], now_iso="T2", sleep=sleeps)
    assert len(telegram_server.requests) == requests  # nothing left to retry


def test_the_token_never_appears_in_errors_logs_or_the_outbox(
        telegram_server: TelegramServer, tg_config: Telegram, tmp_path: Path, sleeps: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    token = telegram_server.token
    outbox = tmp_path / "outbox.jsonl"
    cfg = tg_config._replace(timeout=0.3)
    reports = []
    # Every failure path: 5xx, 429, dropped connection, garbage, then a hang ...
    telegram_server.script(("500",), ("429", 1), ("drop",), ("garbage",))
    reports.append(deliver(cfg, HOST, str(outbox), [msg("first"), msg("second")],
                           now_iso="T1", sleep=sleeps))
    telegram_server.always(("hang", 30))
    reports.append(deliver(cfg, HOST, str(outbox), [msg("third")], now_iso="T2", sleep=sleeps))
    assert outbox_texts(outbox) == ["[web-1] first", "[web-1] second", "[web-1] third"]
    queued = outbox.read_text()
    # ... and a wrong token (401), which keeps everything queued.
    telegram_server.always(None)
    reports.append(deliver(cfg._replace(token=token + "x"), HOST, str(outbox), [msg("fourth")],
                           now_iso="T3", sleep=sleeps))
    assert reports[-1].per_message[0].error.endswith("HTTP 401: Unauthorized")
    assert any(r.name == "httpx" for r in caplog.records)  # httpx logged its request URLs
    for record in caplog.records:
        assert token not in record.getMessage()
    assert token not in caplog.text
    assert token not in repr(reports)
    assert token not in queued


def test_the_token_in_a_queued_alert_is_masked_in_the_outbox_file(
        telegram_server: TelegramServer, tg_config: Telegram, tmp_path: Path,
        sleeps: Any) -> None:
    outbox = tmp_path / "outbox.jsonl"
    telegram_server.always(("500",))
    deliver(tg_config, HOST, str(outbox), [msg(f"env has TELEGRAM_BOT_TOKEN={tg_config.token}")],
            now_iso="T1", sleep=sleeps)
    text = outbox.read_text()
    assert "TELEGRAM_BOT_TOKEN=<redacted>" in text
    assert tg_config.token not in text


def test_the_time_budget_stops_a_long_flush(
        telegram_server: TelegramServer, tg_config: Telegram, tmp_path: Path,
        sleeps: Any) -> None:
    outbox = tmp_path / "outbox.jsonl"
    # The clock: the run starts at 0, the first send happens at 0, then it is 100 s later.
    clock = itertools.chain([0.0, 0.0], itertools.repeat(100.0)).__next__
    report = deliver(tg_config, HOST, str(outbox), [msg("one"), msg("two"), msg("three")],
                     now_iso="T1", sleep=sleeps, clock=clock, budget_s=60.0)
    assert telegram_server.texts() == ["[web-1] one"]
    assert [o.status for o in report.per_message] == ["sent", "queued", "queued"]
    assert report.error is not None and "time budget" in report.error
    assert outbox_texts(outbox) == ["[web-1] two", "[web-1] three"]


def test_a_crash_mid_run_keeps_every_unsent_message(
        telegram_server: TelegramServer, tg_config: Telegram, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    telegram_server.script(("pass",), ("500",))

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt  # SIGINT while waiting out the backoff

    with pytest.raises(KeyboardInterrupt):
        deliver(tg_config, HOST, str(outbox), [msg("one"), msg("two"), msg("three")],
                now_iso="T1", sleep=interrupted)
    assert telegram_server.texts() == ["[web-1] one"]
    assert outbox_texts(outbox) == ["[web-1] two", "[web-1] three"]


def test_the_outbox_file_is_private(telegram_server: TelegramServer, tg_config: Telegram,
                                    tmp_path: Path, sleeps: Any) -> None:
    outbox = tmp_path / "outbox.jsonl"
    telegram_server.always(("500",))
    deliver(tg_config, HOST, str(outbox), [msg("one")], now_iso="T1", sleep=sleeps)
    assert os.stat(outbox).st_mode & 0o077 == 0


def test_a_revoked_token_keeps_the_backlog_until_it_is_fixed(
        telegram_server: TelegramServer, tg_config: Telegram, tmp_path: Path,
        sleeps: Any) -> None:
    outbox = tmp_path / "outbox.jsonl"
    bad = tg_config._replace(token=tg_config.token + "x")
    report = deliver(bad, HOST, str(outbox), [msg("one"), msg("two")], now_iso="T1",
                     sleep=sleeps)
    assert [o.status for o in report.per_message] == ["queued", "queued"]
    assert outbox_texts(outbox) == ["[web-1] one", "[web-1] two"]
    assert telegram_server.texts() == []
    deliver(tg_config, HOST, str(outbox), [msg("three")], now_iso="T2", sleep=sleeps)
    assert [t.split("\n")[0] for t in telegram_server.texts()] == [
        "[web-1] one", "[web-1] two", "[web-1] three"]
    assert outbox_texts(outbox) == []
