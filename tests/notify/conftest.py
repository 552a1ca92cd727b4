"""Helpers for the notify tests: a recording sleep and a Telegram config."""

from __future__ import annotations

import pytest
from standins.telegram_server import TelegramServer

from argus.config import Telegram


class RecordingSleep:
    """Stands in for time.sleep: records each delay (seconds) and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def tg_config(telegram_server: TelegramServer) -> Telegram:
    """The [telegram] config pointed at the stand-in, with a short timeout."""
    return Telegram(chat_id=telegram_server.chat_id, api_base=telegram_server.url,
                    token=telegram_server.token, timeout=2.0, retries=3)
