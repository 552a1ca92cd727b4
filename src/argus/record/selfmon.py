"""Self-monitoring: ``cycle.json`` keeps how the last cycles ended.

A watchdog that silently stops working is worse than none, so every cycle records
its status, and three failed cycles in a row raise an alert (again at 6, 9, ...),
sent by whatever part of Argus still works.
"""

from __future__ import annotations

from argus.record import state
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

ALERT_EVERY = 3


class CycleStatus:
    def __init__(self, path: str) -> None:
        self.path = path
        self.data: dict[str, Any]
        self.data, self.problem = state.read_json(path, {})

    @property
    def consecutive_failures(self) -> int:
        value = self.data.get("consecutive_failures", 0)
        return value if isinstance(value, int) and value >= 0 else 0

    def record(self, cycle: str, ts: str, status: str, duration_ms: float,
               error: str | None = None) -> int:
        """Note how a cycle ended; returns the consecutive failure count."""
        failures = self.consecutive_failures + 1 if status == "failed" else 0
        self.data.update(
            last_cycle=cycle,
            last_ts=ts,
            last_status=status,
            last_duration_ms=round(duration_ms, 1),
            consecutive_failures=failures,
            last_error=error,
        )
        if status != "failed":
            self.data["last_ok_ts"] = ts
        self.data["cycles"] = int(self.data.get("cycles", 0) or 0) + 1
        return failures

    def save(self) -> None:
        # Rewritten every cycle and cheap to lose in a power cut (the failure count
        # restarts at 0): atomic, but without the fsync.
        state.write_json(self.path, self.data, durable=False)


def should_alert(failures: int) -> bool:
    return failures > 0 and failures % ALERT_EVERY == 0
