"""Registry records built from what a cycle found and did."""

from __future__ import annotations

from argus.model import ActionOutcome, Problem
from argus.record import registry
from argus.record.dedup import Resolution
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any


def action_record(problem: Problem | None, outcome: ActionOutcome, host: str, cycle_id: str,
                  ts: str) -> dict[str, Any]:
    """One record per action: the problem it was about, what was done, how it went."""
    target = outcome.action.target
    details: dict[str, Any] = dict(problem.details) if problem else {}
    if outcome.detail:
        details["action_detail"] = outcome.detail
    if outcome.action.source == "llm" and outcome.action.reason:
        details["llm_reason"] = outcome.action.reason
    details.update(outcome.details)
    fields: dict[str, Any] = {"severity": "info", "type": "self",
                              "description": outcome.action.message or outcome.action.reason,
                              "key": outcome.action.problem_key, "subject": None}
    if problem is not None:
        fields = {"severity": problem.severity, "type": problem.type,
                  "description": problem.description, "key": problem.key,
                  "subject": problem.subject}
    return registry.make_record(
        ts=ts, action_taken=outcome.action.type + (f":{target}" if target else ""),
        action_result=outcome.result, bead_id=None, host=host,
        source=problem.source if problem and outcome.action.source == "rules"
        else outcome.action.source,
        cycle=cycle_id, details=details, **fields)


def resolved_record(res: Resolution, host: str, cycle_id: str, ts: str) -> dict[str, Any]:
    entry = res.entry
    told = entry.get("alerted_at") is not None
    first = float(entry.get("first_seen", 0) or 0)
    resolved_at = float(entry.get("resolved_at", 0) or 0)
    return registry.make_record(
        ts=ts, severity="info", type=entry.get("type", "self"),
        description=f"resolved: {entry.get('description', '')}",
        action_taken="alert" if told else "log", action_result="resolved", bead_id=None,
        host=host, key=res.key, subject=entry.get("subject"), source="rules", cycle=cycle_id,
        details={"duration_s": round(resolved_at - first),
                 "last_severity": entry.get("severity")})
