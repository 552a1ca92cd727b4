"""One detected pattern (analyze/patterns.py, patterns_history.py find them)."""

from __future__ import annotations

from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Any

KINDS = ("restart_loop_daily", "recurring_key", "disk_fill", "memory_creep", "time_of_day",
         "day_of_week")
SEVERITY_RANK = {"critical": 2, "warning": 1, "info": 0}
DAY_S = 86400


class Pattern(NamedTuple):
    """One detected pattern, with its evidence and what to do about it."""

    kind: str  # one of KINDS
    signature: str  # stable: "<kind>:<what>", never reported twice in the same day
    severity: str  # info | warning | critical
    title: str  # one line
    evidence: dict[str, Any]  # figures, JSON values
    recommendation: str
    subject: str = ""  # what it is about, as in the registry: disk:/var, service:x.service
