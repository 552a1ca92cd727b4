"""The problem registry: append-only JSONL, one ``write`` per record under ``flock``.

Every record is serialised first and written with a single ``os.write`` on an
``O_APPEND`` descriptor while holding an exclusive ``flock``, so concurrent writers
(the daemon, a one-shot run, a second host sharing the file) never interleave.
A writer killed mid-write can leave at most a torn last line; every reader skips
a line that does not parse and says so.
"""

from __future__ import annotations

import fcntl
import os

from argus import jsonfast
from argus.logs import get_logger
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

log = get_logger("argus.registry")

# The roadmap's eight fields come first and always appear, in this order.
FIELDS = ("ts", "severity", "type", "description", "action_taken", "action_result",
          "bead_id", "host", "key", "subject", "source", "cycle", "details")


def make_record(**fields: Any) -> dict[str, Any]:
    """A record with every schema field, in schema order (missing ones null/empty)."""
    record: dict[str, Any] = {}
    for name in FIELDS:
        record[name] = fields.pop(name, {} if name == "details" else None)
    if fields:
        raise TypeError(f"unknown registry fields: {sorted(fields)}")
    return record


def encode(record: dict[str, Any]) -> bytes:
    # ensure_ascii (jsonfast always escapes non-ASCII, as json.dumps by default) keeps
    # hostile text (newlines, escapes, invalid UTF-8 surrogates) on one line and valid
    # for jq; separators are json's defaults, (", ", ": ").
    return (jsonfast.dumps(record) + "\n").encode()


def append(path: str, records: list[dict[str, Any]]) -> None:
    """Append records; each is one write, all under one lock hold."""
    append_lines(path, [encode(record) for record in records])


def append_lines(path: str, lines: list[bytes]) -> None:
    """Append newline-terminated lines to a JSONL file: each one write, all under one
    ``flock`` hold (the registry, and history.pending.jsonl)."""
    if not lines:
        return
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # A writer killed mid-write may have left a torn last line with no newline;
        # start on a fresh line so the damage stays confined to that one line.
        size = os.fstat(fd).st_size
        heal = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
        for line in lines:
            data = (b"\n" if heal else b"") + line
            heal = False
            written = os.write(fd, data)
            if written != len(data):  # a full disk: say so rather than tear silently
                raise OSError(28, f"short write to {path} ({written}/{len(data)} bytes)")
    finally:
        os.close(fd)  # closing releases the lock


def iter_records(path: str, warn: bool = True) -> Iterator[dict[str, Any]]:
    """Yield each parseable record, streaming; skip torn or garbage lines with a warning."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in finally, generator
    except FileNotFoundError:
        return
    bad = 0
    try:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = jsonfast.loads(line)
            except ValueError:  # JSONDecodeError, UnicodeDecodeError
                record = None
            if not isinstance(record, dict):
                bad += 1
                if warn and bad <= 3:
                    log.warning("%s: line %d is not a valid record (torn write?); skipped",
                                path, lineno)
                continue
            yield record
    finally:
        fh.close()
        if warn and bad > 3:
            log.warning("%s: %d invalid lines skipped in all", path, bad)
