"""What ``history.sqlite3`` holds: the headline columns, the series blob, the migrations.

Shared by the writer (record/history.py), the downsampling (record/history_hourly.py)
and the readers (record/history_read.py).
"""

from __future__ import annotations

import sys

SCHEMA_VERSION = 1

# Headline figures, one column each (REAL; NULL when not measured). Units in names:
# _pct 0-100 (mem_pct is of the cgroup limit when one binds, as the thresholds
# compare), _bytes, _mb_s MiB/s, psi_* % of the last 60 s (Documentation/accounting/psi.rst).
HEADLINE = (
    "mem_pct", "mem_used_bytes", "swap_pct", "swap_used_bytes",
    "swap_in_mb_s", "swap_out_mb_s", "majfault_per_s",
    "load1", "load5", "load15",
    "psi_cpu_some_avg60", "psi_memory_some_avg60", "psi_memory_full_avg60",
    "psi_io_some_avg60", "psi_io_full_avg60",
    "procs", "zombies",
)
# Per-name series, packed in the row's ``series`` blob as (uint32 series id, float32
# value) pairs; ``series`` maps ids to (kind, name). float32 keeps 7 significant
# digits: 1 MB in 10 TB, plenty for trends.
SERIES_KINDS = {
    "disk_pct": "used % of a mount (name: the mount point)",
    "disk_free_bytes": "bytes free to users on a mount (name: the mount point)",
    "unit_mem_bytes": "memory a unit's cgroup holds (name: the unit)",
    "proc_rss_bytes": "RSS of the top processes, summed by name+unit "
                      "(name: '<unit>/<comm>', unit empty when none)",
}
PAIR = "<If"
PAIR_SIZE = 8

_COLUMNS = ", ".join(f"{c} REAL" for c in HEADLINE)
_COLS = ", ".join(HEADLINE)
# version -> the statements that bring a file from version-1 to it. Add, never edit.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE series (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
        "name TEXT NOT NULL, UNIQUE (kind, name))",
        f"CREATE TABLE sample (ts INTEGER PRIMARY KEY, {_COLUMNS}, series BLOB)",
        f"CREATE TABLE hourly (ts INTEGER PRIMARY KEY, n INTEGER NOT NULL, {_COLUMNS}, "
        "series BLOB)",
    ),
}


def pack(pairs: list[tuple[int, float]]) -> bytes:
    """(id, value) pairs as little-endian (uint32, float32), 8 bytes each.

    Through memoryview casts on a little-endian host (all that Argus runs on in
    practice): importing ``struct`` would cost a one-shot cycle ~0.4 ms, a fifth of
    the write. Elsewhere ``struct`` with an explicit byte order does the same.
    """
    if sys.byteorder != "little":  # pragma: no cover - no big-endian CI host
        import struct

        return b"".join(struct.pack(PAIR, i, v) for i, v in pairs)
    buf = bytearray(PAIR_SIZE * len(pairs))
    ids, values = memoryview(buf).cast("I"), memoryview(buf).cast("f")
    for n, (sid, value) in enumerate(pairs):
        ids[2 * n] = sid
        values[2 * n + 1] = value
    return bytes(buf)


def unpack(blob: bytes | None) -> list[tuple[int, float]]:
    """The pairs ``pack`` made."""
    import struct  # readers and the hourly downsampling only: not every cycle

    return list(struct.iter_unpack(PAIR, blob)) if blob else []
