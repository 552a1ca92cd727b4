"""Downsampling: raw history rows older than the retention become one row per hour.

Part of the history writer (record/history.py), in one transaction with the cycle's
row: at most once an hour, and a bounded batch at a time, so a cycle never pays for
a long backlog at once.
"""

from __future__ import annotations

from argus.record.history_schema import HEADLINE, pack, unpack
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

HOURLY_KEEP_DAYS = 400  # hourly rows: a year and a bit, for year-over-year patterns
MAX_HOURS_PER_RUN = 168  # downsampling batch: one week of raw rows (~2,000 at 5 minutes)
HOUR = 3600

_COLS = ", ".join(HEADLINE)
# Built once from the constant column names; every value is a bound parameter.
_INSERT_HOURLY = (f"INSERT OR IGNORE INTO hourly (ts, n, {_COLS}, series) "  # noqa: S608
                  f"VALUES ({', '.join('?' * (len(HEADLINE) + 3))})")
_SELECT_RAW = f"SELECT ts, {_COLS}, series FROM sample WHERE ts < ? ORDER BY ts"  # noqa: S608


def maintain(conn: Any, now: float, retention_days: int) -> None:
    """Average raw rows older than the retention into hourly rows; prune old hours.

    Only whole hours before the cutoff are folded, so the check below is true at
    most once an hour; ``min(ts)`` on the rowid is a single B-tree lookup.
    """
    cutoff = int(now - retention_days * 86400) // HOUR * HOUR
    oldest = conn.execute("SELECT min(ts) FROM sample").fetchone()[0]
    if oldest is None or oldest >= cutoff:
        return
    end = min(cutoff, oldest // HOUR * HOUR + MAX_HOURS_PER_RUN * HOUR)
    hours: dict[int, list[tuple[Any, ...]]] = {}
    for r in conn.execute(_SELECT_RAW, (end,)):
        hours.setdefault(r[0] // HOUR * HOUR, []).append(r)
    for hour, rows in hours.items():
        averages = [_mean([r[i] for r in rows]) for i in range(1, len(HEADLINE) + 1)]
        sums: dict[int, list[float]] = {}
        for r in rows:
            for sid, value in unpack(r[-1]):
                acc = sums.setdefault(sid, [0.0, 0.0])
                acc[0] += value
                acc[1] += 1
        blob = pack([(sid, total / n) for sid, (total, n) in sums.items()]) or None
        # A late row for an hour already folded (the clock stepped back) is dropped.
        conn.execute(_INSERT_HOURLY, (hour, len(rows), *averages, blob))
    conn.execute("DELETE FROM sample WHERE ts < ?", (end,))
    conn.execute("DELETE FROM hourly WHERE ts < ?", (int(now) - HOURLY_KEEP_DAYS * 86400,))


def _mean(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
