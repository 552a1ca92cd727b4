"""Reading the metrics history back: series of (epoch seconds, value), oldest first.

For patterns, trends and the dashboard. A metric is either a headline column
(``mem_pct``, ``load5``, ``psi_io_some_avg60``, ... see ``history_schema.HEADLINE``) or a
named series ``<kind>:<name>`` (``disk_pct:/var``, ``unit_mem_bytes:nginx.service``,
``proc_rss_bytes:gateway.service/node``; kinds in ``history_schema.SERIES_KINDS``).
Hourly averages (rows past the retention) and raw rows come back merged, so a
caller asking for 90 days gets hourly points first, then one per cycle.

Readers open the file read-only (``mode=ro``): they never create it, never take
the write lock, and under WAL never wait for the writer.
"""

from __future__ import annotations

from argus.record.history import HistoryError, driver, fold_pending
from argus.record.history_schema import HEADLINE, PAIR_SIZE
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

Point = tuple[float, float]
INF = float("inf")


def _connect(path: str) -> Any:
    import time
    from urllib.parse import quote

    fold_pending(path, time.time())  # the rows one-shot cycles left: read them too
    db = driver()
    try:
        return db.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=2.0)
    except db.Error as err:
        raise HistoryError("unavailable", f"{path}: {err}") from None


def read_metric(path: str, metric: str, since: float = 0.0, until: float = INF) -> list[Point]:
    """``metric`` between ``since`` and ``until`` (epoch seconds, inclusive).

    Unknown headline names and series kinds raise ValueError; a series name that
    was never recorded gives an empty list.
    """
    if metric in HEADLINE:
        return _read_column(path, metric, since, until)
    kind, sep, name = metric.partition(":")
    if not sep:
        raise ValueError(f"unknown metric {metric!r}: not a headline figure "
                         f"({', '.join(HEADLINE)}) nor <kind>:<name>")
    return read_series(path, kind, name, since, until)


def read_mount(path: str, mount: str, since: float = 0.0, until: float = INF,
               *, free_bytes: bool = False) -> list[Point]:
    """Used % of ``mount`` (or bytes free to users with ``free_bytes``)."""
    return read_series(path, "disk_free_bytes" if free_bytes else "disk_pct", mount,
                       since, until)


def read_process(path: str, name: str, unit: str | None, since: float = 0.0,
                 until: float = INF) -> list[Point]:
    """RSS in bytes of the processes named ``name`` (comm) in ``unit``, while in the top list."""
    return read_series(path, "proc_rss_bytes", f"{unit or ''}/{name}", since, until)


def read_unit(path: str, unit: str, since: float = 0.0, until: float = INF) -> list[Point]:
    """Bytes ``unit``'s cgroup held, on the cycles it was read."""
    return read_series(path, "unit_mem_bytes", unit, since, until)


def _check_kind(kind: str) -> None:
    from argus.record.history_schema import SERIES_KINDS

    if kind not in SERIES_KINDS:
        raise ValueError(f"unknown series kind {kind!r} (known: {', '.join(SERIES_KINDS)})")


def _read_column(path: str, column: str, since: float, until: float) -> list[Point]:
    conn = _connect(path)
    try:
        # ``column`` is one of the constant HEADLINE names (checked by the caller).
        query = " UNION ALL ".join(
            f"SELECT ts, {column} FROM {table} WHERE ts >= ? AND ts <= ? "  # noqa: S608
            f"AND {column} IS NOT NULL" for table in ("hourly", "sample"))
        rows = conn.execute(query + " ORDER BY ts", (since, until, since, until)).fetchall()
    except driver().Error as err:
        raise HistoryError("unavailable", f"{path}: {err}") from None
    finally:
        conn.close()
    return [(float(t), float(v)) for t, v in rows]


def read_series(path: str, kind: str, name: str, since: float = 0.0,
                until: float = INF) -> list[Point]:
    """One named series, hourly and raw points merged, oldest first."""
    import struct

    _check_kind(kind)
    conn = _connect(path)
    try:
        found = conn.execute("SELECT id FROM series WHERE kind = ? AND name = ?",
                             (kind, name)).fetchone()
        if found is None:
            return []
        rows = conn.execute(
            "SELECT ts, series FROM hourly WHERE ts >= ? AND ts <= ? UNION ALL "
            "SELECT ts, series FROM sample WHERE ts >= ? AND ts <= ? ORDER BY ts",
            (since, until, since, until)).fetchall()
    except driver().Error as err:
        raise HistoryError("unavailable", f"{path}: {err}") from None
    finally:
        conn.close()
    key = struct.pack("<I", found[0])
    value_at = struct.Struct("<f").unpack_from
    out: list[Point] = []
    for ts, blob in rows:
        if not blob:
            continue
        # Find the id among the (id, value) pairs: bytes.find runs in C; a hit off an
        # 8-byte boundary is a float that happens to hold those bytes, so look on.
        at = blob.find(key)
        while at >= 0 and at % PAIR_SIZE:
            at = blob.find(key, at + 1)
        if at >= 0:
            # float32 holds ~7 significant digits; show no more than it has.
            out.append((float(ts), float(f"{value_at(blob, at + 4)[0]:.7g}")))
    return out


def list_series(path: str, kind: str | None = None) -> list[str]:
    """Every recorded named series as ``<kind>:<name>``, optionally of one kind."""
    if kind is not None:
        _check_kind(kind)
    conn = _connect(path)
    try:
        if kind is None:
            rows = conn.execute("SELECT kind, name FROM series ORDER BY kind, name").fetchall()
        else:
            rows = conn.execute("SELECT kind, name FROM series WHERE kind = ? ORDER BY name",
                                (kind,)).fetchall()
    except driver().Error as err:
        raise HistoryError("unavailable", f"{path}: {err}") from None
    finally:
        conn.close()
    return [f"{k}:{n}" for k, n in rows]
