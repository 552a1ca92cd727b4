"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from standins.telegram_server import TelegramServer

# A token of the real shape ("<bot id>:<35 chars>"), so the redaction patterns are
# exercised exactly as in production. Not a real token.
TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
TELEGRAM_CHAT_ID = "4242"


@pytest.fixture
def telegram_server() -> Iterator[TelegramServer]:
    """A stand-in Bot API server on 127.0.0.1 (see tests/standins/telegram_server.py)."""
    with TelegramServer(token=TELEGRAM_TOKEN, chat_id=TELEGRAM_CHAT_ID) as server:
        yield server
