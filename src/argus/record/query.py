"""Reading the registry back: filter by time, type and severity, streaming."""

from __future__ import annotations

from collections import deque

from argus.record.registry import iter_records
from argus.timefmt import parse_iso
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any


def query(path: str, *, since_s: float, now: float, ptype: str | None = None,
          severity: str | None = None, limit: int = 0) -> list[dict[str, Any]]:
    """Matching records, oldest first; with ``limit``, only the newest ``limit``."""
    cutoff = now - since_s
    out: deque[dict[str, Any]] | list[dict[str, Any]] = deque(maxlen=limit) if limit else []
    for record in iter_records(path):
        if ptype and record.get("type") != ptype:
            continue
        if severity and record.get("severity") != severity:
            continue
        ts = parse_iso(str(record.get("ts", "")))
        if ts is None or ts < cutoff:
            continue
        out.append(record)
    return list(out)
