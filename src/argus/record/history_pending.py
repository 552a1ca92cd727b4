"""History rows waiting for the database: what a one-shot cycle writes instead of SQLite.

Why: loading the SQLite library, then opening, writing and checkpointing
``history.sqlite3`` costs a one-shot cycle about 5 ms of CPU, a sixth of what the
whole cycle may cost, for one row. So a cycle started by the timer appends its row
to ``history.pending.jsonl`` as one JSON line (one ``write`` under ``flock``, as
the registry appends), and the rows move into the database, in one transaction, when:

- a one-shot cycle finds the oldest pending row ``FOLD_AFTER_S`` old (so the timer
  pays for SQLite about once an hour, for a dozen rows at once);
- the daemon writes its row (a host that switched from the timer to the daemon);
- anyone reads the history (``argus patterns``, ``summary``, ``serve``): they see
  every row, however recent.

Folding holds the pending file's lock from reading it until it is emptied after the
COMMIT, so a row appended meanwhile waits for the next fold instead of being lost.
A crash between the COMMIT and the emptying leaves rows that are folded again next
time: a sample's timestamp is its primary key, and the write replaces it, so a row
is never counted twice. A torn line (a writer killed mid-append) is skipped.
"""

from __future__ import annotations

import fcntl
import os

from argus import jsonfast
from argus.logs import get_logger
from argus.record.registry import append_lines
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    # (ts, headline row, [(kind, name, value), ...]), as history.figures() makes them
    PendingRow = tuple[int, dict[str, Any], list[tuple[str, str, float]]]

log = get_logger("argus.history")

FOLD_AFTER_S = 3600
# A backlog this large (~6,000 rows: weeks of cycles whose folds all failed) is
# folded by the next one-shot cycle whatever its age.
FOLD_ABOVE_BYTES = 4 << 20


def pending_path(db_path: str) -> str:
    return os.path.join(os.path.dirname(db_path) or ".", "history.pending.jsonl")


def append(db_path: str, ts: int, row: dict[str, Any],
           series: list[tuple[str, str, float]]) -> None:
    """Add one row; raises OSError when it cannot be written (the caller reports it)."""
    line = jsonfast.dumps({"ts": ts, "row": row, "series": series}).encode() + b"\n"
    append_lines(pending_path(db_path), [line])


def due(db_path: str, now: float) -> bool:
    """Should this one-shot cycle fold the pending rows (and write its own) now?"""
    try:
        with open(pending_path(db_path), "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            first = fh.readline(4096)
    except FileNotFoundError:
        return False
    if not first.strip():
        return False
    if size > FOLD_ABOVE_BYTES:
        return True
    try:
        return bool(now - jsonfast.loads(first)["ts"] >= FOLD_AFTER_S)
    except (ValueError, KeyError, TypeError):  # a damaged first line: fold to clear it
        return True


class PendingRows:
    """The pending rows, locked from ``__enter__`` until ``__exit__``.

    ``rows`` holds what parsed; ``clear()`` empties the file (call it after the
    rows are committed). No file means no rows, and nothing is created.
    """

    def __init__(self, db_path: str) -> None:
        self.path = pending_path(db_path)
        self.rows: list[PendingRow] = []
        self._fd: int | None = None

    def __enter__(self) -> PendingRows:
        try:
            self._fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return self
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        data = b""
        while chunk := os.read(self._fd, 1 << 20):
            data += chunk
        for n, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = jsonfast.loads(line)
                row = (int(item["ts"]), dict(item["row"]),
                       [(str(k), str(name), float(v)) for k, name, v in item["series"]])
            except (ValueError, KeyError, TypeError):
                log.warning("%s line %d: not a history row (torn by a crash?); skipped",
                            os.path.basename(self.path), n)
                continue
            self.rows.append(row)
        return self

    def clear(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None
