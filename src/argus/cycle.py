"""One watchdog cycle: collect -> detect -> decide -> act -> record -> notify.

``run_once(ctx, now)`` is the unit the daemon, the one-shot command and the tests
drive. It never raises for a problem on the host; ``run_cycle`` wraps it with the
self-monitoring that notices when Argus itself keeps failing.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from argus.collect import collect_snapshot
from argus.context import Context
from argus.decide import policy
from argus.detect.rules import collector_for, detect
from argus.model import (
    Action,
    ActionOutcome,
    CycleReport,
    Problem,
    to_jsonable,
)
from argus.record import registry, selfmon, state
from argus.record.dedup import DedupState, Resolution
from argus.timefmt import compact, iso

log = logging.getLogger("argus.cycle")

LOW_DISK_BYTES = 100 * 1024 * 1024  # under this, skip what is expensive or large


def run_once(ctx: Context, now: float | None = None) -> CycleReport:
    now = ctx.clock() if now is None else now
    started = time.perf_counter()
    ts = iso(now)
    cycle_id = f"{compact(now)}-{os.getpid()}"
    write_errors: list[str] = []

    snapshot = collect_snapshot(ctx, ts)
    dedup = DedupState(ctx.paths.dedup)
    problems = detect(snapshot, ctx.config)
    problems += _state_problems(ctx, dedup)
    free = _free_bytes(ctx.paths.state_dir)
    if free is not None and free < LOW_DISK_BYTES:
        problems.append(Problem.make(
            "self", "critical", "self:state-disk",
            f"Argus state directory {ctx.paths.state_dir} has only {free // 2**20} MB free; "
            "skipping snapshots and history", {"free_bytes": free}))
    else:
        _guarded(write_errors, "last_snapshot.json",
                 lambda: state.write_json(ctx.paths.last_snapshot, to_jsonable(snapshot)))

    for problem in problems:
        dedup.observe(problem, now)
    actions = policy.decide(problems, dedup.entries)
    resolutions = dedup.resolve_absent(
        {p.key for p in problems},
        lambda subject: not snapshot.failed(collector_for(subject)),
        now)

    outcomes = _act(ctx, actions, problems, resolutions, dedup, now)

    by_key = {o.action.problem_key: o for o in outcomes}
    records = [_problem_record(p, by_key.get(p.key), ctx.host, cycle_id, ts) for p in problems]
    records += [_resolved_record(r, ctx.host, cycle_id, ts) for r in resolutions]
    _guarded(write_errors, "problems.jsonl", lambda: registry.append(ctx.paths.problems, records))
    dedup.compact(now)
    _guarded(write_errors, "dedup.json", dedup.save)

    status = "failed" if write_errors else "ok"
    return CycleReport(
        cycle=cycle_id,
        ts=ts,
        host=ctx.host,
        mode="rules",
        status=status,
        duration_ms=(time.perf_counter() - started) * 1000,
        snapshot=snapshot,
        problems=tuple(problems),
        actions=tuple(outcomes),
        llm={"called": False, "tokens_in": 0, "tokens_out": 0, "error": None},
        resolved=tuple(r.key for r in resolutions),
    )


def run_cycle(ctx: Context, now: float | None = None) -> CycleReport | None:
    """``run_once`` plus self-monitoring; None when the cycle crashed outright."""
    now = ctx.clock() if now is None else now
    status = selfmon.CycleStatus(ctx.paths.cycle)
    started = time.perf_counter()
    report: CycleReport | None = None
    error: str | None = None
    try:
        report = run_once(ctx, now)
        if report.status == "failed":
            error = "could not write state (see log)"
    except Exception as err:  # the watchdog must outlive its own bugs
        log.exception("cycle failed")
        error = f"{type(err).__name__}: {err}"[:500]
    cycle_id = report.cycle if report else f"{compact(now)}-{os.getpid()}"
    final = "failed" if error else "ok"
    failures = status.record(cycle_id, iso(now), final,
                             (time.perf_counter() - started) * 1000, error)
    try:
        status.save()
    except OSError as err:
        log.error("cannot write %s: %s", ctx.paths.cycle, err.strerror)
    if selfmon.should_alert(failures):
        _alert_self_failure(ctx, failures, error or "", cycle_id, now)
    return report


def _act(ctx: Context, actions: list[Action], problems: list[Problem],
         resolutions: list[Resolution], dedup: DedupState, now: float) -> list[ActionOutcome]:
    problem_by_key = {p.key: p for p in problems}
    outcomes: dict[int, ActionOutcome] = {}
    messages: list[dict[str, Any]] = []
    sent_for: list[int] = []  # index into actions for each alert message
    for i, action in enumerate(actions):
        problem = problem_by_key.get(action.problem_key or "")
        if action.type == "alert" and problem is not None:
            why = dedup.alert_decision(problem, now, ctx.config.dedup.window)
            if why:
                outcomes[i] = ActionOutcome(action, "suppressed", why, {})
                continue
            messages.append({"text": f"{problem.severity.upper()} {problem.type}: "
                                     f"{problem.description}",
                             "key": problem.key, "kind": "alert"})
            sent_for.append(i)
        elif action.type == "log":
            log.info("observation [%s] %s", action.problem_key, action.message)
            outcomes[i] = ActionOutcome(action, "success", "logged", {})
        else:
            outcomes[i] = ActionOutcome(action, "skipped", "no handler for this action", {})
    for res in resolutions:
        if res.entry.get("alerted_at") is not None:
            messages.append({"text": f"RESOLVED {res.entry.get('type')}: "
                                     f"{res.entry.get('description', res.key)}",
                             "key": res.key, "kind": "resolved"})
    if messages or _outbox_pending(ctx):
        from argus.notify.alerts import deliver

        delivery = deliver(ctx.config.telegram, ctx.host, ctx.paths.outbox, messages,
                           now_iso=iso(now))
        for n, i in enumerate(sent_for):
            result, detail = _delivery_outcome(delivery, n)
            action = actions[i]
            outcomes[i] = ActionOutcome(action, result, detail, {})
            problem = problem_by_key[action.problem_key or ""]
            dedup.mark_alerted(problem.key, problem.severity, now)
    return [outcomes[i] for i in sorted(outcomes)]


def _delivery_outcome(delivery: Any, n: int) -> tuple[str, str]:
    channel = delivery.channel
    entry = delivery.per_message[n]
    if channel == "log":
        return "success", "no Telegram credentials: alert written to the log"
    ok = getattr(entry, "ok", entry == "sent")
    if ok:
        return "success", "sent to Telegram"
    error = getattr(entry, "error", None) or str(entry)
    if getattr(entry, "retryable", True):
        return "failure", f"queued in outbox for retry ({error})"
    return "failure", f"not deliverable ({error})"


def _outbox_pending(ctx: Context) -> bool:
    try:
        return os.path.getsize(ctx.paths.outbox) > 0
    except OSError:
        return False


def _state_problems(ctx: Context, dedup: DedupState) -> list[Problem]:
    problems = []
    if dedup.problem:
        log.warning("%s", dedup.problem)
        problems.append(Problem.make("self", "warning", "self:state:dedup.json", dedup.problem))
    return problems


def _problem_record(problem: Problem, outcome: ActionOutcome | None, host: str,
                    cycle_id: str, ts: str) -> dict[str, Any]:
    action_taken = None
    result = None
    details = dict(problem.details)
    if outcome is not None:
        target = outcome.action.target
        action_taken = outcome.action.type + (f":{target}" if target else "")
        result = outcome.result
        if outcome.detail:
            details["action_detail"] = outcome.detail
        details.update(outcome.details)
    return registry.make_record(
        ts=ts, severity=problem.severity, type=problem.type, description=problem.description,
        action_taken=action_taken, action_result=result, bead_id=None, host=host,
        key=problem.key, subject=problem.subject, source=problem.source, cycle=cycle_id,
        details=details)


def _resolved_record(res: Resolution, host: str, cycle_id: str, ts: str) -> dict[str, Any]:
    entry = res.entry
    told = entry.get("alerted_at") is not None
    first = float(entry.get("first_seen", 0) or 0)
    resolved_at = float(entry.get("resolved_at", 0) or 0)
    return registry.make_record(
        ts=ts, severity="info", type=entry.get("type", "self"),
        description=f"resolved: {entry.get('description', '')}",
        action_taken="alert" if told else "log", action_result="resolved", bead_id=None,
        host=host, key=res.key, subject=entry.get("subject"), source="rules", cycle=cycle_id,
        details={"duration_s": round(resolved_at - first), "last_severity": entry.get("severity")})


def _alert_self_failure(ctx: Context, failures: int, error: str, cycle_id: str,
                        now: float) -> None:
    problem = Problem.make("self", "critical", "self:cycle",
                           f"Argus cycle failed {failures} times in a row: {error}",
                           {"consecutive_failures": failures})
    text = f"CRITICAL self: {problem.description}"
    result, detail = "failure", "not sent"
    try:
        from argus.notify.alerts import deliver

        delivery = deliver(ctx.config.telegram, ctx.host, ctx.paths.outbox,
                           [{"text": text, "key": problem.key, "kind": "self"}],
                           now_iso=iso(now))
        result, detail = _delivery_outcome(delivery, 0)
    except Exception as err:
        log.error("cannot send the self-monitoring alert: %s", err)
    record = registry.make_record(
        ts=iso(now), severity="critical", type="self", description=problem.description,
        action_taken="alert", action_result=result, bead_id=None, host=ctx.host,
        key=problem.key, subject=problem.subject, source="rules", cycle=cycle_id,
        details={**problem.details, "action_detail": detail})
    try:
        registry.append(ctx.paths.problems, [record])
    except OSError as err:
        log.error("cannot write %s: %s", ctx.paths.problems, err.strerror)


def _guarded(errors: list[str], what: str, write: Any) -> None:
    """Run a state write; on ENOSPC and friends note it and go on, never crash."""
    try:
        write()
    except OSError as err:
        log.error("cannot write %s: %s", what, err.strerror or err)
        errors.append(f"{what}: {err.strerror or err}")


def _free_bytes(path: str) -> int | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


