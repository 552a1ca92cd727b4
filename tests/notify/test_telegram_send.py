"""send_message() against the stand-in Bot API server: what the server received."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest
from standins.telegram_server import TelegramServer

from argus.notify.telegram import MAX_CHARS, TRUNCATED, Delivery, format_alert, send_message

RecordingSleep = Any  # the `sleeps` fixture, see conftest.py


def send(server: TelegramServer, text: str, sleeps: RecordingSleep, *, token: str | None = None,
         chat_id: str | None = None, timeout: float = 2.0, retries: int = 3,
         api_base: str | None = None) -> Delivery:
    return send_message(api_base or server.url, server.token if token is None else token,
                        server.chat_id if chat_id is None else chat_id, text,
                        timeout=timeout, retries=retries, sleep=sleeps)


def test_success_first_try(telegram_server: TelegramServer, sleeps: RecordingSleep) -> None:
    result = send(telegram_server, "disk / at 93%", sleeps)
    assert result.ok and result.attempts == 1 and result.status == 200 and result.error is None
    [message] = telegram_server.received
    assert message.chat_id == telegram_server.chat_id
    assert message.text == "disk / at 93%"
    # Plain text: no parse_mode, so nothing needs HTML escaping.
    assert message.body == {"chat_id": telegram_server.chat_id, "text": "disk / at 93%",
                            "disable_web_page_preview": True}
    assert sleeps.calls == []


def test_text_needing_no_escaping_arrives_verbatim(telegram_server: TelegramServer,
                                                   sleeps: RecordingSleep) -> None:
    text = "<b>nginx</b> & co: 5 < 7 > 3\nline two \u00e9\u2603"
    assert send(telegram_server, text, sleeps).ok
    assert telegram_server.texts() == [text]


def test_two_500s_then_success_is_delivered_on_the_third_attempt(
        telegram_server: TelegramServer, sleeps: RecordingSleep) -> None:
    telegram_server.script(("500",), ("500",))
    result = send(telegram_server, "hello", sleeps)
    assert result.ok and result.attempts == 3
    assert sleeps.calls == [1.0, 2.0]  # exponential backoff
    assert telegram_server.texts() == ["hello"]


def test_5xx_forever_gives_up_after_the_retries_and_stays_retryable(
        telegram_server: TelegramServer, sleeps: RecordingSleep) -> None:
    telegram_server.always(("502", "Bad Gateway"))
    result = send(telegram_server, "hello", sleeps, retries=2)
    assert not result.ok and result.retryable
    assert result.attempts == 3 and result.status == 502
    assert result.error == "HTTP 502: Bad Gateway"
    assert sleeps.calls == [1.0, 2.0]
    assert telegram_server.received == []


def test_429_honours_retry_after(telegram_server: TelegramServer, sleeps: RecordingSleep) -> None:
    telegram_server.script(("429", 1))
    result = send(telegram_server, "hello", sleeps)
    assert result.ok and result.attempts == 2
    assert sleeps.calls == [1.0]
    assert telegram_server.texts() == ["hello"]


def test_429_with_real_sleep_waits_the_second(telegram_server: TelegramServer) -> None:
    telegram_server.script(("429", 1))
    started = time.monotonic()
    result = send_message(telegram_server.url, telegram_server.token, telegram_server.chat_id,
                          "hello", timeout=2.0, retries=1)
    elapsed = time.monotonic() - started
    assert result.ok and result.attempts == 2
    assert 1.0 <= elapsed < 3.0
    assert telegram_server.texts() == ["hello"]


def test_429_asking_for_longer_than_the_cap_stops_and_keeps_it_retryable(
        telegram_server: TelegramServer, sleeps: RecordingSleep) -> None:
    telegram_server.script(("429", 3600))
    result = send(telegram_server, "hello", sleeps)
    assert not result.ok and result.retryable and result.attempts == 1 and result.status == 429
    assert "retry_after 3600s" in (result.error or "")
    assert sleeps.calls == []
    assert telegram_server.received == []


def test_401_is_not_retried_and_the_error_hides_the_token(
        telegram_server: TelegramServer, sleeps: RecordingSleep) -> None:
    wrong = "111111111:BBBdqTcvCH1vGWJxfSeofSAs0K5PALDsaw2"
    result = send(telegram_server, "hello", sleeps, token=wrong)
    assert not result.ok and not result.retryable
    assert result.attempts == 1 and result.status == 401
    assert result.error == "HTTP 401: Unauthorized"
    assert wrong not in repr(result) and telegram_server.token not in repr(result)
    assert sleeps.calls == []
    assert telegram_server.requests == ["401 /bot<token>/sendMessage"]


def test_chat_not_found_is_not_retried(telegram_server: TelegramServer,
                                       sleeps: RecordingSleep) -> None:
    result = send(telegram_server, "hello", sleeps, chat_id="999")
    assert not result.ok and not result.retryable and result.attempts == 1
    assert result.error == "HTTP 400: Bad Request: chat not found"
    assert telegram_server.received == []


def test_a_hang_longer_than_the_timeout_fails_fast_and_retryable(
        telegram_server: TelegramServer, sleeps: RecordingSleep) -> None:
    telegram_server.script(("hang", 30))
    started = time.monotonic()
    result = send(telegram_server, "hello", sleeps, timeout=0.5, retries=3)
    elapsed = time.monotonic() - started
    assert not result.ok and result.retryable
    assert result.attempts == 1 and result.status is None  # no second 0.5 s spent
    assert "timed out" in (result.error or "")
    assert elapsed < 2.0
    assert sleeps.calls == []
    assert telegram_server.received == []


def test_garbage_200_is_a_failure_then_retried(telegram_server: TelegramServer,
                                               sleeps: RecordingSleep) -> None:
    telegram_server.script(("garbage",))
    result = send(telegram_server, "hello", sleeps)
    assert result.ok and result.attempts == 2
    telegram_server.always(("garbage",))
    result = send(telegram_server, "again", sleeps, retries=0)
    assert not result.ok and result.retryable and result.status == 200
    assert result.error == "HTTP 200: answer is not Bot API JSON"


def test_a_dropped_connection_is_a_network_error_and_retried(
        telegram_server: TelegramServer, sleeps: RecordingSleep) -> None:
    telegram_server.script(("drop",))
    result = send(telegram_server, "hello", sleeps)
    assert result.ok and result.attempts == 2 and sleeps.calls == [1.0]


def test_connection_refused_is_retryable_and_names_the_reason(
        telegram_server: TelegramServer, sleeps: RecordingSleep) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = send(telegram_server, "hello", sleeps, retries=1, api_base=f"http://127.0.0.1:{port}")
    assert not result.ok and result.retryable and result.attempts == 2 and result.status is None
    assert result.error is not None and result.error.startswith("network error: ConnectError")
    assert "Connection refused" in result.error
    assert telegram_server.token not in result.error


def test_the_token_never_reaches_any_log_record(
        telegram_server: TelegramServer, sleeps: RecordingSleep,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    telegram_server.script(("500",), ("429", 1), ("drop",), ("garbage",))
    assert send(telegram_server, "one", sleeps, retries=5).ok
    send(telegram_server, "two", sleeps, chat_id="999")
    telegram_server.script(("hang", 30))
    send(telegram_server, "three", sleeps, timeout=0.3)
    send(telegram_server, "four", sleeps, token=telegram_server.token + "x")
    assert any(r.name.startswith("httpx") for r in caplog.records)  # httpx did log its URLs
    encoded = telegram_server.token.replace(":", "%3A")
    for record in caplog.records:
        message = record.getMessage()
        assert telegram_server.token not in message and encoded not in message, message
    assert telegram_server.token not in caplog.text


def test_long_text_is_cut_to_4096_characters_with_a_marker(
        telegram_server: TelegramServer, sleeps: RecordingSleep) -> None:
    assert send(telegram_server, "x" * 5000, sleeps).ok
    assert send(telegram_server, "\u00e9" * 5000, sleeps).ok  # 2 bytes each: chars count
    assert send(telegram_server, "y" * MAX_CHARS, sleeps).ok  # exactly at the limit: untouched
    ascii_text, accented, exact = telegram_server.texts()
    assert len(ascii_text) == MAX_CHARS and ascii_text.endswith(TRUNCATED)
    assert len(accented) == MAX_CHARS and accented.endswith(TRUNCATED)
    assert exact == "y" * MAX_CHARS


def test_emoji_count_double_so_telegram_never_sees_too_long(
        telegram_server: TelegramServer, sleeps: RecordingSleep) -> None:
    assert send(telegram_server, "\U0001f525" * 3000, sleeps).ok
    [text] = telegram_server.texts()
    assert text.endswith(TRUNCATED)
    assert len(text.encode("utf-16-le")) // 2 <= MAX_CHARS


def test_empty_text_is_not_sent(telegram_server: TelegramServer, sleeps: RecordingSleep) -> None:
    result = send(telegram_server, "  \n", sleeps)
    assert not result.ok and not result.retryable and result.attempts == 0
    assert telegram_server.requests == []


@pytest.mark.parametrize(("text", "expected"), [
    ("Disk / at 93%", "[web-1] Disk / at 93%"),
    ("web-1: disk / at 93%", "web-1: disk / at 93%"),
    ("[web-1] disk / at 93%", "[web-1] disk / at 93%"),
    ("web-10 is down", "[web-1] web-10 is down"),
    ("disk full on web-1", "[web-1] disk full on web-1"),
])
def test_host_prefix_is_added_unless_already_there(text: str, expected: str) -> None:
    assert format_alert("web-1", text) == expected


def test_no_host_means_no_prefix() -> None:
    assert format_alert("", "hello") == "hello"
