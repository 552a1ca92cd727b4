"""Timestamps and durations as Argus writes and reads them."""

from __future__ import annotations

import time

_DURATION = r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def iso(ts: float) -> str:
    """UTC ISO 8601 with a Z, to the second: ``2026-02-19T23:30:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def compact(ts: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ts))


def parse_iso(text: str) -> float | None:
    """Seconds since the epoch for an ``iso()`` string (or with fractions/offset)."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


def parse_duration(text: str) -> float:
    """``30m``, ``24h``, ``7d``, ``90s``, ``2w`` -> seconds; ValueError otherwise."""
    import re  # here, not at the top: a quiet cycle never parses a duration

    match = re.match(_DURATION, text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 30m, 24h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]
