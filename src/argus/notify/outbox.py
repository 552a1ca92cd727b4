"""The outbox: messages Telegram has not taken yet, kept in order until it does.

``<state_dir>/outbox.jsonl`` holds one JSON object per line, oldest first::

    {"ts": "2026-02-19T23:30:00Z", "text": "[web-1] ...", "key": "disk:...",
     "kind": "alert", "attempts": 3, "last_error": "HTTP 502"}

``ts`` is when the message was first queued (it tells the reader how late a delayed
alert is), ``kind`` is ``alert``, ``resolved`` or ``self``.

Concurrency: every change happens under an exclusive ``flock`` on a sidecar file,
``outbox.jsonl.lock``, never on the data file itself. ``replace`` swaps the data
file's inode with ``os.replace``; a writer blocked on a lock of the *old* inode
would wake up and append to a file that no longer has a name, and its messages
would be lost. The sidecar's inode never changes. A delivery run holds the lock
across read, send and replace (:meth:`Outbox.locked`), so two runs never send the
same message twice and a message added meanwhile waits rather than vanishing.

A cap (1000 messages by default) bounds the file through a months-long outage:
the oldest are dropped first, with a warning, and reported to the caller.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from argus.logs import get_logger
from argus.record import registry, state

log = get_logger("argus.outbox")

DEFAULT_CAP = 1000  # at 1 alert every 5 minutes, three and a half days of outage
KINDS = ("alert", "resolved", "self")

Item = dict[str, Any]


def make_item(text: str, key: str | None, kind: str, ts: str) -> Item:
    """A new outbox item: not tried from the outbox yet."""
    return {"ts": ts, "text": text, "key": key, "kind": kind, "attempts": 0, "last_error": None}


class Outbox:
    """The outbox file at ``path``. One instance per thread: the lock is reentrant
    within an instance, so :meth:`add` and :meth:`replace` work inside :meth:`locked`.
    """

    def __init__(self, path: str, cap: int = DEFAULT_CAP) -> None:
        if cap < 1:
            raise ValueError(f"outbox cap must be at least 1, got {cap}")
        self.path = path
        self.cap = cap
        self._depth = 0  # how many nested locked() blocks this instance is in

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the outbox's exclusive lock (blocking until other holders are done)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._depth = 1
            yield
        finally:
            self._depth = 0
            os.close(fd)  # closing releases the lock

    def pending(self) -> list[Item]:
        """The waiting messages, oldest first. Torn or foreign lines are skipped, loudly."""
        try:
            with open(self.path, "rb") as fh:
                lines = fh.read().splitlines()
        except FileNotFoundError:
            return []
        items: list[Item] = []
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                item = None
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                # A writer killed mid-write leaves a torn last line; that one message
                # is lost, the others are not.
                log.warning("%s: line %d is not a valid outbox item (torn write?); skipped",
                            self.path, lineno)
                continue
            items.append(item)
        return items

    def add(self, items: list[Item]) -> list[Item]:
        """Append ``items`` after the waiting ones; return any dropped by the cap."""
        if not items:
            return []
        with self.locked():
            waiting = self.pending()
            if len(waiting) + len(items) > self.cap:
                return self._write(waiting + items)
            # One write per line; a torn last line is ended first, so the damage stays
            # confined to that line.
            registry.append(self.path, items)
            return []

    def replace(self, remaining: list[Item]) -> list[Item]:
        """Make ``remaining`` the whole outbox, atomically; return any dropped by the cap.

        Call it inside :meth:`locked`, holding the lock since :meth:`pending` was read,
        or a message added in between is lost.
        """
        with self.locked():
            if not remaining and not os.path.exists(self.path):
                return []  # nothing was ever queued: do not create an empty file
            return self._write(remaining)

    def _write(self, items: list[Item]) -> list[Item]:
        dropped = items[: max(0, len(items) - self.cap)]
        kept = items[len(dropped):]
        if dropped:
            log.warning("%s: over its cap of %d messages; dropped the %d oldest",
                        self.path, self.cap, len(dropped))
        state.write_text(self.path, "".join(registry.encode(item).decode() for item in kept))
        return dropped
