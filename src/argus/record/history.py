"""Metrics history: one row of headline figures per cycle in ``history.sqlite3``.

What patterns, trends and the dashboard need to look back: memory, swap, paging,
load, PSI, process count as columns, and the per-mount disk use, per-unit memory
and RSS of the top processes (keyed by name + unit, so a leak shows as one rising
series across restarts) packed into one blob per row. One row per cycle, not one
per figure: a year of 5-minute rows is ~105,000 rows and stays far under 50 MB,
where a row per figure (~40 per cycle) would be four million rows and ~150 MB.
See bench/bench_history.py for the figures.

- stdlib sqlite3, WAL (readers never block the writer, nor the writer them),
  ``synchronous=NORMAL`` (a commit does not fsync; a power cut may lose the last
  few rows, never corrupt the file), one ``BEGIN IMMEDIATE`` transaction per cycle.
- Rows older than ``history.retention_days`` are averaged into one row per hour
  (table ``hourly``; record/history_hourly.py), at most once an hour and a bounded
  batch at a time, so a cycle never pays for a long backlog at once.
- ``schema_version`` records every migration applied; ``MIGRATIONS`` is the path
  from any older file to this code's schema. A file from a newer Argus is left alone.
- A locked database (another writer held it past ``BUSY_TIMEOUT_S``) or a corrupted
  one (moved aside as ``history.sqlite3.corrupt``, and a fresh one started) is a
  ``self`` warning; the cycle goes on, its row left pending when it was not written.
- A one-shot cycle appends its row to ``history.pending.jsonl`` instead, folded in
  here about once an hour or before anyone reads (record/history_pending.py).

The read API is in record/history_read.py.
"""

from __future__ import annotations

import os

from argus.errors import StateError
from argus.logs import get_logger
from argus.model import Problem
from argus.record.history_pending import PendingRows, append, due, pending_path
from argus.record.history_schema import HEADLINE, MIGRATIONS, SCHEMA_VERSION, pack
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from argus.context import Context
    from argus.model import Snapshot
    from argus.record.history_pending import PendingRow

log = get_logger("argus.history")

BUSY_TIMEOUT_S = 0.5  # how long a cycle waits for another writer, then leaves its row pending

# Built once from the constant column names; every value is a bound parameter.
_INSERT_SAMPLE = (f"INSERT OR REPLACE INTO sample (ts, {', '.join(HEADLINE)}, series) "  # noqa: S608
                  f"VALUES ({', '.join('?' * (len(HEADLINE) + 2))})")


class HistoryError(StateError):
    """The history could not be written this cycle; ``what`` says why in one word."""

    def __init__(self, what: str, message: str) -> None:
        self.what = what
        super().__init__(message)


def driver() -> Any:
    """The sqlite3 module, loaded on first use.

    ``_sqlite3`` is the C module that ``sqlite3`` re-exports (``sqlite3/dbapi2.py``
    does ``from _sqlite3 import *``, so the classes and errors are the very same
    objects). Importing it directly costs ~1 ms; the ``sqlite3`` package also imports
    ``datetime`` to register adapters Argus never uses, another ~2.5 ms, more than
    the write itself, paid by every one-shot cycle. Falls back to ``sqlite3`` where a
    build has no separate ``_sqlite3``.
    """
    try:
        import _sqlite3

        return _sqlite3
    except ImportError:  # pragma: no cover - every CPython build has it
        import sqlite3

        return sqlite3


def figures(snapshot: Snapshot) -> tuple[dict[str, float | None], list[tuple[str, str, float]]]:
    """The headline columns and the (kind, name, value) series of one snapshot."""
    row: dict[str, float | None] = dict.fromkeys(HEADLINE)
    mem = snapshot.memory
    if mem is not None:
        row.update(mem_pct=round(mem.pct, 2), mem_used_bytes=mem.used_bytes,
                   swap_pct=round(mem.swap_used_pct, 2),
                   swap_used_bytes=mem.swap_total_bytes - mem.swap_free_bytes)
    paging = snapshot.paging
    if paging is not None:
        row.update(swap_in_mb_s=_round(paging.swap_in_mb_s),
                   swap_out_mb_s=_round(paging.swap_out_mb_s),
                   majfault_per_s=_round(paging.majfault_per_s))
    if snapshot.cpu is not None:
        row.update(load1=snapshot.cpu.load1, load5=snapshot.cpu.load5,
                   load15=snapshot.cpu.load15)
    for resource, values in (snapshot.pressure or {}).items():
        for kind in ("some", "full"):
            col = f"psi_{resource}_{kind}_avg60"
            if col in row and f"{kind}_avg60" in values:
                row[col] = values[f"{kind}_avg60"]
    if snapshot.processes is not None:
        row.update(procs=snapshot.processes.total, zombies=snapshot.processes.zombies)
    series: dict[tuple[str, str], float] = {}
    for d in snapshot.disks:
        series["disk_pct", d.mount] = round(d.used_pct, 2)
        series["disk_free_bytes", d.mount] = d.free_bytes
    for u in (snapshot.diagnostics.units if snapshot.diagnostics else ()):
        series["unit_mem_bytes", u.unit] = u.memory_bytes
    for p in (snapshot.processes.top_rss if snapshot.processes else ()):
        key = ("proc_rss_bytes", f"{p.unit or ''}/{p.name}")
        series[key] = series.get(key, 0) + p.rss_bytes
    return row, [(k, n, v) for (k, n), v in series.items()]


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def write_cycle(path: str, snapshot: Snapshot, now: float, retention_days: int,
                carry: dict[str, Any] | None = None) -> None:
    """Write this cycle's row (and downsample what is due), in one transaction.

    Raises HistoryError when the row could not be written; a corrupted file has
    been moved aside by then and the row written to a fresh one (``what`` is
    "corrupt"), otherwise nothing was written ("locked", "newer", "unavailable").
    """
    row, series = figures(snapshot)
    current = (int(now), row, series)
    db = driver()
    try:
        _write(db, path, now, retention_days, carry, current)
    except db.OperationalError as err:
        _forget(carry)  # locked, read-only, disk I/O, cannot open
        what = "locked" if "locked" in str(err) or "busy" in str(err) else "unavailable"
        raise HistoryError(what, f"history.sqlite3: {err}; the row waits in "
                                 "history.pending.jsonl for the next write") from None
    except db.DatabaseError as err:  # SQLITE_CORRUPT, SQLITE_NOTADB: the file is damaged
        _forget(carry)
        aside = _move_aside(path)
        try:
            _write(db, path, now, retention_days, current=current)
        except db.Error as again:
            raise HistoryError("corrupt", f"history.sqlite3 was corrupted ({err}); moved "
                               f"aside as {aside}, and a fresh one failed too: {again}"
                               ) from None
        raise HistoryError("corrupt", f"history.sqlite3 was corrupted ({err}); moved aside "
                           f"as {aside} and started afresh") from None


def _forget(carry: dict[str, Any] | None) -> None:
    """Close and drop a kept connection (after an error, or when the file moved)."""
    if carry is not None and carry.get("daemon"):
        kept = carry.pop("history_conn", None)
        if kept is not None:
            try:
                kept[1].close()
            except Exception as err:  # closing a broken connection may raise; it is gone
                log.debug("history: closing the kept connection: %s", err)


def _connect(db: Any, path: str, carry: dict[str, Any] | None) -> tuple[Any, bool]:
    """(connection, keep): the daemon keeps one open across cycles, saving the
    open, the WAL set-up and the checkpoint at close that a fresh one costs."""
    kept = carry.get("history_conn") if carry is not None else None
    if kept is not None and kept[0] == path and os.path.exists(path):
        return kept[1], True
    _forget(carry)
    conn = db.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                      check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")  # persistent; a no-op once set
    conn.execute("PRAGMA synchronous=NORMAL")
    keep = carry is not None and bool(carry.get("daemon"))
    if keep and carry is not None:
        carry["history_conn"] = (path, conn)
    return conn, keep


def _write(db: Any, path: str, now: float, retention_days: int,
           carry: dict[str, Any] | None = None, current: PendingRow | None = None) -> None:
    """Fold the pending rows, and write ``current`` if given, in one transaction."""
    conn, keep = _connect(db, path, carry)
    try:
        with PendingRows(path) as waiting:
            conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not halfway through
            try:
                migrate(conn, now)
                for ts, row, series in waiting.rows:
                    _insert(conn, ts, row, series)
                if current is not None:
                    from argus.record.history_hourly import maintain

                    _insert(conn, *current)
                    maintain(conn, now, retention_days)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except db.Error:
                        pass
                raise
            waiting.clear()
    finally:
        if not keep:
            conn.close()


def _insert(conn: Any, ts: int, row: dict[str, Any],
            series: list[tuple[str, str, float]]) -> None:
    ids = series_ids(conn, [(k, n) for k, n, _ in series])
    blob = pack([(ids[k, n], v) for k, n, v in series]) or None
    conn.execute(_INSERT_SAMPLE, (ts, *(row.get(c) for c in HEADLINE), blob))


def fold_pending(path: str, now: float) -> None:
    """Move the rows one-shot cycles left pending into the database, best effort.

    Readers call this first, so they see every row however recent; when it cannot
    (the database is locked or read-only here), they read what the database has.
    """
    try:
        if os.path.getsize(pending_path(path)) == 0:
            return
    except OSError:
        return
    db = driver()
    try:
        _write(db, path, now, 0)
    except (db.Error, OSError) as err:
        log.debug("history: pending rows not folded yet: %s", err)


def migrate(conn: Any, now: float) -> None:
    """Bring the schema to SCHEMA_VERSION inside the caller's transaction."""
    try:
        current = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
    except driver().OperationalError as err:
        if "no such table" not in str(err):
            raise
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                     "applied_at INTEGER NOT NULL)")
        current = 0
    if current > SCHEMA_VERSION:
        raise HistoryError("newer", f"history.sqlite3 has schema version {current}, newer "
                           f"than this Argus knows ({SCHEMA_VERSION}); not writing to it")
    for version in range(current + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, int(now)))
        log.info("history.sqlite3: migrated to schema version %d", version)


def series_ids(conn: Any, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids for (kind, name) keys, creating the missing ones.

    One SELECT in the usual cycle, where every key exists already; new names (a new
    process in the top list) cost an INSERT and a second SELECT.
    """
    ids = _select_ids(conn, keys)
    missing = [k for k in keys if k not in ids]
    if missing:
        conn.executemany("INSERT OR IGNORE INTO series (kind, name) VALUES (?, ?)", missing)
        ids.update(_select_ids(conn, missing))
    return ids


def _select_ids(conn: Any, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    if not keys:
        return {}
    values = ", ".join("(?, ?)" for _ in keys)  # placeholders only: values are bound
    rows = conn.execute("SELECT kind, name, id FROM series WHERE (kind, name) IN "  # noqa: S608
                        f"(VALUES {values})", [x for k in keys for x in k]).fetchall()
    return {(k, n): i for k, n, i in rows}


def _move_aside(path: str) -> str:
    """Keep a damaged file for a post-mortem; its -wal/-shm belong to it and go too."""
    aside = path + ".corrupt"
    try:
        os.replace(path, aside)
    except OSError as err:
        log.error("cannot move %s aside: %s", path, err.strerror or err)
    for suffix in ("-wal", "-shm"):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass
        except OSError as err:
            log.error("cannot remove %s%s: %s", path, suffix, err.strerror or err)
    return os.path.basename(aside)


def record_cycle(ctx: Context, snapshot: Snapshot, now: float) -> list[Problem]:
    """The cycle's step: write the row; a failure is a ``self`` warning, never a raise.

    A one-shot cycle leaves its row pending (record/history_pending.py) unless the
    pending rows are due to be folded; the daemon writes straight to the database.
    A row the database refused (locked, unavailable) is left pending too.
    """
    path = ctx.paths.history
    try:
        if not ctx.carry.get("daemon") and not due(path, now):
            append(path, int(now), *figures(snapshot))
            return []
        write_cycle(path, snapshot, now, ctx.config.history.retention_days, ctx.carry)
    except HistoryError as err:
        log.warning("%s", err)
        if err.what in ("locked", "unavailable"):
            try:
                append(path, int(now), *figures(snapshot))
            except OSError as again:
                log.warning("history.pending.jsonl: cannot keep the row either: %s",
                            again.strerror or again)
        return [Problem.make("self", "warning", "self:history", str(err),
                             {"file": "history.sqlite3", "error": err.what})]
    except OSError as err:  # the pending file could not be written
        log.warning("history.pending.jsonl: %s", err.strerror or err)
        return [Problem.make("self", "warning", "self:history",
                             f"history row not kept: history.pending.jsonl: "
                             f"{err.strerror or err}",
                             {"file": "history.pending.jsonl", "error": "unavailable"})]
    except Exception as err:  # an unexpected bug here must not cost the cycle
        log.exception("history write failed")
        return [Problem.make("self", "warning", "self:history",
                             f"history.sqlite3 not written: {type(err).__name__}: {err}",
                             {"file": "history.sqlite3", "error": "bug"})]
    return []
