"""Carry out one cycle's actions, in order, and tell a human what needs telling.

Host actions go through the guard. Alerts go through dedup (a repeat within the
window is ``suppressed``), then to notify/ in one delivery run together with the
"resolved" messages, so the outbox is flushed first and order is kept. A remedy
that fails, or a restart loop, is followed by an alert about that problem, which
carries what was tried.
"""

from __future__ import annotations

from argus.act.guard import Guard
from argus.context import Context
from argus.decide.policy import follow_up
from argus.logs import get_logger
from argus.model import Action, ActionOutcome, Problem
from argus.record.dedup import DedupState, Resolution
from argus.timefmt import iso
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

log = get_logger("argus.act")


def execute(ctx: Context, guard: Guard, actions: list[Action], problems: dict[str, Problem],
            resolutions: list[Resolution], dedup: DedupState, now: float) -> list[ActionOutcome]:
    outcomes: list[ActionOutcome] = []
    messages: list[dict[str, Any]] = []
    waiting: list[int] = []  # index in outcomes of each alert message, in order
    remedies: dict[str, ActionOutcome] = {}
    unsuppressable: set[int] = set()  # id() of follow-ups for restart loops: alerted once
    queue = list(actions)
    while queue:
        action = queue.pop(0)
        problem = problems.get(action.problem_key or "")
        if action.type == "log":
            log.info("observation [%s] %s", action.problem_key, action.message)
            outcomes.append(guard.carry_out(action)._replace(detail="logged"))
        elif action.type == "alert":
            gate = guard.carry_out(action)  # rate limit
            why = None
            if problem is not None and id(action) not in unsuppressable:
                why = dedup.alert_decision(problem, now, ctx.config.dedup.window)
            if gate.result != "success":
                outcomes.append(gate)
            elif why:
                outcomes.append(ActionOutcome(action, "suppressed", why, {}))
            else:
                messages.append({"text": alert_text(action, problem, remedies),
                                 "key": action.problem_key, "kind": "alert"})
                waiting.append(len(outcomes))
                outcomes.append(ActionOutcome(action, "failure", "not delivered", {}))
        else:
            outcome = guard.carry_out(action)
            outcomes.append(outcome)
            if problem is not None:
                remedies[problem.key] = outcome
                extra = follow_up(problem, outcome)
                if extra is not None:
                    if outcome.details.get("restart_loop"):
                        unsuppressable.add(id(extra))
                    queue.insert(0, extra)
    for res in resolutions:
        if res.entry.get("alerted_at") is not None:
            messages.append({"text": f"RESOLVED {res.entry.get('type')}: "
                                     f"{res.entry.get('description', res.key)}",
                             "key": res.key, "kind": "resolved"})
    if messages or _outbox_pending(ctx):
        _deliver(ctx, messages, waiting, outcomes, problems, dedup, now)
    return outcomes


def alert_text(action: Action, problem: Problem | None,
               remedies: dict[str, ActionOutcome]) -> str:
    if problem is None:
        return f"ALERT: {action.message or action.reason}"
    text = f"{problem.severity.upper()} {problem.type}: {problem.description}"
    remedy = remedies.get(problem.key)
    if remedy is not None:
        text += f"\n{remedy.action.type} {remedy.result}: {remedy.detail}"
        if remedy.details.get("restart_loop"):
            # The one message about the loop must say it is one, and that Argus
            # has stopped retrying: otherwise it reads like any failed attempt.
            text += ("\nrestart loop: backoff exhausted, no restart before "
                     f"{remedy.details.get('next_attempt_at')}")
    if action.source == "llm" and action.message:
        text += f"\n{action.message}"
    return text


def _deliver(ctx: Context, messages: list[dict[str, Any]], waiting: list[int],
             outcomes: list[ActionOutcome], problems: dict[str, Problem], dedup: DedupState,
             now: float) -> None:
    from argus.notify.alerts import deliver

    delivery = deliver(ctx.config.telegram, ctx.host, ctx.paths.outbox, messages,
                       now_iso=iso(now))
    for n, index in enumerate(waiting):
        result, detail = delivery_outcome(delivery, n)
        outcomes[index] = outcomes[index]._replace(result=result, detail=detail)
        key = outcomes[index].action.problem_key or ""
        if key in problems:
            dedup.mark_alerted(key, problems[key].severity, now)


def delivery_outcome(delivery: Any, n: int) -> tuple[str, str]:
    """The registry's (result, detail) for the n-th message of a delivery run."""
    if delivery.channel == "log":
        return "success", "no Telegram credentials: alert written to the log"
    entry = delivery.per_message[n]
    if entry.ok:
        return "success", "sent to Telegram"
    if entry.retryable:
        return "failure", f"queued in outbox for retry ({entry.error})"
    return "failure", f"not deliverable ({entry.error})"


def _outbox_pending(ctx: Context) -> bool:
    import os

    try:
        return os.path.getsize(ctx.paths.outbox) > 0
    except OSError:
        return False
