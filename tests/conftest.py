"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from standins.telegram_server import TelegramServer

# A token of the real shape ("<bot id>:<35 chars>"), so the redaction patterns are
# exercised exactly as in production. Not a real token.
TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
TELEGRAM_CHAT_ID = "4242"


@pytest.fixture(autouse=True)
def never_clean_this_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """A safety net: no test may run the disk cleaner on this machine's real paths.

    Cleaning the hard-coded safe list (roots=None) is only ever exercised in a
    subprocess inside a private mount namespace with tmpfs over every path it
    touches (tests/act_disk); in the test process itself it is a bug, so it fails
    loudly instead of deleting files on the machine CI runs on.
    """
    import argus.act.disk as disk

    real = disk.clean_disk

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("roots") is None:
            raise AssertionError("a test tried to clean this host's real /tmp, /var/tmp, "
                                 "/var/log or home caches")
        return real(*args, **kwargs)

    monkeypatch.setattr(disk, "clean_disk", guarded)


@pytest.fixture
def telegram_server() -> Iterator[TelegramServer]:
    """A stand-in Bot API server on 127.0.0.1 (see tests/standins/telegram_server.py)."""
    with TelegramServer(token=TELEGRAM_TOKEN, chat_id=TELEGRAM_CHAT_ID) as server:
        yield server
