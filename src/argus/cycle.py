"""One watchdog cycle: collect -> detect -> decide -> act -> record -> notify.

``run_once(ctx, now)`` is the unit the daemon, the one-shot command and the tests
drive. It never raises for a problem on the host; ``run_cycle`` wraps it with the
self-monitoring that notices when Argus itself keeps failing.
"""

from __future__ import annotations

import os
import time

from argus.collect import collect_snapshot
from argus.context import Context
from argus.decide import policy
from argus.detect.rules import collector_for, detect
from argus.logs import get_logger
from argus.model import ActionOutcome, CycleReport, Problem, Snapshot, to_jsonable
from argus.record import registry, selfmon, state
from argus.record.dedup import DedupState
from argus.record.records import action_record, resolved_record
from argus.timefmt import compact, iso
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from argus.act.backoff import RestartBackoff

log = get_logger("argus.cycle")

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
    problems += _orphan_problems(ctx, snapshot, now)
    problems += _state_problems(dedup)
    free = _free_bytes(ctx.paths.state_dir)
    if free is not None and free < LOW_DISK_BYTES:
        problems.append(Problem.make(
            "self", "critical", "self:state-disk",
            f"Argus state directory {ctx.paths.state_dir} has only {free // 2**20} MB free; "
            "skipping snapshots and history", {"free_bytes": free}))
    else:
        _guarded(write_errors, "last_snapshot.json",
                 lambda: state.write_json(ctx.paths.last_snapshot, to_jsonable(snapshot),
                                          durable=False))
        # Metrics history (issue 6, record/history.py): one row per cycle in
        # history.sqlite3; a locked or corrupted database is a self warning, and the
        # cycle goes on without its row. Skipped above when the state disk is low.
        from argus.record.history import record_cycle

        problems += record_cycle(ctx, snapshot, now)

    backoff, loops = _note_unit_health(ctx, snapshot, now)
    for problem in problems:
        dedup.observe(problem, now)
    actions = policy.decide(problems, dedup.entries, snapshot, ctx.config)
    resolutions = dedup.resolve_absent(
        {p.key for p in problems},
        lambda subject: not snapshot.failed(collector_for(subject)),
        now)

    by_key = {p.key: p for p in problems}
    outcomes: list[ActionOutcome] = []
    llm_mode, llm_report = "rules", {"called": False, "tokens_in": 0, "tokens_out": 0,
                                     "error": None}
    if actions or resolutions or _outbox_pending(ctx):
        from argus.act.execute import execute
        from argus.act.guard import Guard

        guard = Guard(ctx, snapshot, now, by_key, loops=loops, backoff=backoff)
        outcomes = execute(ctx, guard, actions, by_key, resolutions, dedup, now)
        # The LLM advisor (issue 5, decide/advisor.py), asked after the policy acted so
        # a slow or absent model never delays a remedy or a critical alert. Every
        # problem yields a policy action, so a cycle with something to judge always
        # gets here; a quiet one never does, and never imports the advisor.
        if ctx.config.llm.provider != "none" and ctx.config.llm.mode != "off":
            from argus.decide.advisor import advise

            advice = advise(ctx, guard, snapshot, problems, dedup, outcomes, now, cycle_id,
                            free)
            problems += advice.problems
            by_key.update((p.key, p) for p in advice.problems)
            outcomes += advice.outcomes
            llm_mode, llm_report = advice.mode, advice.report
        _guarded(write_errors, "restart-backoff.json", guard.save)
    elif backoff is not None:
        _guarded(write_errors, "restart-backoff.json", backoff.save)

    records = [action_record(by_key.get(o.action.problem_key or ""), o, ctx.host, cycle_id, ts)
               for o in outcomes]
    records += [resolved_record(r, ctx.host, cycle_id, ts) for r in resolutions]
    # Escalation to humans (issue 4): beads and Relay events; sets records' bead_id.
    # Never raises. Imported lazily: a quiet cycle with no bead awaiting its close
    # (beads.json is removed when empty) does not load it.
    if records or os.path.exists(os.path.join(ctx.paths.state_dir, "beads.json")):
        from argus.tickets.escalate import escalate

        escalate(ctx, records, by_key, dedup, resolutions, now)
    _guarded(write_errors, "problems.jsonl", lambda: registry.append(ctx.paths.problems, records))
    dedup.compact(now)
    if dedup.changed:
        _guarded(write_errors, "dedup.json", dedup.save)

    status = "failed" if write_errors else "ok"
    return CycleReport(
        cycle=cycle_id,
        ts=ts,
        host=ctx.host,
        mode=llm_mode,
        status=status,
        duration_ms=(time.perf_counter() - started) * 1000,
        snapshot=snapshot,
        problems=tuple(problems),
        actions=tuple(outcomes),
        llm=llm_report,
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


def _outbox_pending(ctx: Context) -> bool:
    try:
        return os.path.getsize(ctx.paths.outbox) > 0
    except OSError:
        return False


def _state_problems(dedup: DedupState) -> list[Problem]:
    problems = []
    if dedup.problem:
        log.warning("%s", dedup.problem)
        problems.append(Problem.make("self", "warning", "self:state:dedup.json", dedup.problem))
    return problems


def _alert_self_failure(ctx: Context, failures: int, error: str, cycle_id: str,
                        now: float) -> None:
    problem = Problem.make("self", "critical", "self:cycle",
                           f"Argus cycle failed {failures} times in a row: {error}",
                           {"consecutive_failures": failures})
    text = f"CRITICAL self: {problem.description}"
    result, detail = "failure", "not sent"
    try:
        from argus.act.execute import delivery_outcome
        from argus.notify.alerts import deliver

        delivery = deliver(ctx.config.telegram, ctx.host, ctx.paths.outbox,
                           [{"text": text, "key": problem.key, "kind": "self"}],
                           now_iso=iso(now))
        result, detail = delivery_outcome(delivery, 0)
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


def _orphan_problems(ctx: Context, snapshot: Snapshot, now: float) -> list[Problem]:
    """Confirmed orphans (seen ``after`` cycles in a row) become problems to act on."""
    procs = snapshot.processes
    if procs is None or not ctx.config.processes.orphans:
        return []
    path = os.path.join(ctx.paths.state_dir, "orphans.json")
    if not procs.orphans and not os.path.exists(path):
        return []  # nothing tracked, nothing to track: no file to write
    from argus.detect.orphans import OrphanTracker, orphan_problem

    tracker = OrphanTracker(path)
    confirmed = tracker.observe(procs.orphans, ctx.config.processes.orphans, now)
    try:
        tracker.save()
    except OSError as err:
        log.error("cannot write %s: %s", path, err.strerror)
    problems = [orphan_problem(proc, rule, count) for proc, rule, count in confirmed]
    if tracker.problem:
        problems.append(Problem.make("self", "warning", "self:state:orphans.json",
                                     tracker.problem))
    return problems


def _note_unit_health(ctx: Context, snapshot: Snapshot,
                      now: float) -> tuple[RestartBackoff | None, set[str]]:
    """Feed the restart backoff: a unit healthy for ``cooldown`` starts afresh.

    Returns the backoff state (None when no watched unit is allowlisted), to be
    handed to the guard and saved once, and the units whose restart series just
    ended in a loop without a restart this cycle (the last attempt worked, then the
    unit died again in its cooldown).
    """
    allowed = ctx.config.services.restart_allowed
    if not allowed or snapshot.failed("services") or not snapshot.services:
        return None, set()
    from argus.act.backoff import RestartBackoff

    backoff = RestartBackoff(ctx.paths.backoff, ctx.config.restart)
    loops = set()
    for svc in snapshot.services:
        if svc.unit not in allowed:
            continue
        if svc.active_state == "active":
            backoff.note_healthy(svc.unit, now)
        elif backoff.note_unhealthy(svc.unit, now):
            loops.add(svc.unit)
    return backoff, loops


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


