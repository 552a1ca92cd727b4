"""The LLM advisor: called only when there is something to judge; never needed for safety.

``advise`` runs after the policy's actions were carried out (cycle.py), so a slow or
absent model never delays a restart or a critical alert, and the model sees what
was tried and how it went. It:

1. returns at once, touching nothing, when no warning or critical problem (other
   than Argus's own ``self`` problems) is present: a quiet host costs no tokens and
   imports no SDK;
2. finds what there is to judge (DESIGN.md, "Something for the LLM to judge"): a new
   problem (dedup streak 1), an escalated one (worse than in the previous cycle), a
   remedy of this cycle that failed or hit a restart loop (once per problem
   episode), a judgement left pending by a failed call, or ``llm.review_every``;
3. checks the disk (under 100 MB free: no call, no writes) and the budget
   (``llm.max_calls_per_hour``, ``llm.max_tokens_per_day``, rolling windows);
4. asks the provider, validates the answer (decide/schema.py), and then
   - ``act``: the accepted proposals go through the same guard, backoff and dedup as
     the policy's own actions (act/execute.py), after them;
   - ``shadow``: they are recorded ``skipped`` with what the guard would have said;
   - refused proposals are recorded ``skipped`` with ``details.refused`` either way;
5. on any failure (timeout, network, 429/529 after retries, 401, invalid answer) the
   policy's decision stands, the cycle's mode is ``fallback``, and one alert goes
   out once the model has been unavailable for ``llm.alert_after`` seconds.

Memory between cycles lives in ``<state_dir>/llm-memory.json``: the last cycles'
figures, assessments and actions (shown to the model), the calls and tokens of the
last 24 h (the budget), pending judgements and the unavailability clock.
``last_decision.json`` holds the latest judgement, side by side with the policy's.
"""

from __future__ import annotations

import os
import time

from argus.context import Context
from argus.logs import get_logger
from argus.model import Action, ActionOutcome, Problem, Snapshot
from argus.record import state
from argus.timefmt import iso
from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Any

    from argus.act.guard import Guard
    from argus.config import Llm
    from argus.decide.schema import Review
    from argus.record.dedup import DedupState

log = get_logger("argus.advisor")

MEMORY_FILE = "llm-memory.json"
MEMORY_CYCLES = 6  # cycles remembered; decide/prompt.py shows the last 3 of them
MIN_FREE_BYTES = 100 * 1024 * 1024  # the disk guard: below this, no call
RANK = {"info": 0, "warning": 1, "critical": 2}
HOST_ACTIONS = ("restart_service", "kill_pid", "kill_tmux", "clean_disk")
UNAVAILABLE_SUBJECT = "self:llm"


class Advice(NamedTuple):
    mode: str  # rules | llm | shadow | fallback
    report: dict[str, Any]  # the cycle report's "llm"
    outcomes: list[ActionOutcome]  # to append to the cycle's (executed, shadow, refused)
    problems: list[Problem]  # to add to the cycle's (the "LLM unavailable" alert)


def idle_report() -> dict[str, Any]:
    return {"called": False, "tokens_in": 0, "tokens_out": 0, "error": None}


def advise(ctx: Context, guard: Guard, snapshot: Snapshot, problems: list[Problem],
           dedup: DedupState, done: list[ActionOutcome], now: float, cycle_id: str,
           free_bytes: int | None) -> Advice:
    """Judge this cycle if there is something to judge; see the module docstring.

    Never raises: the policy has already acted, and its records are written after
    this returns, so a bug here must cost the advice, not the cycle.
    """
    try:
        return _advise(ctx, guard, snapshot, problems, dedup, done, now, cycle_id,
                       free_bytes)
    except Exception as err:  # the watchdog must outlive its own bugs
        log.exception("LLM advisor failed")
        report = idle_report()
        report["error"] = f"internal: {type(err).__name__}: {err}"[:300]
        return Advice("fallback", report, [], [])


def _advise(ctx: Context, guard: Guard, snapshot: Snapshot, problems: list[Problem],
            dedup: DedupState, done: list[ActionOutcome], now: float, cycle_id: str,
            free_bytes: int | None) -> Advice:
    cfg = ctx.config.llm
    report = idle_report()
    significant = [p for p in problems if RANK.get(p.severity, 0) >= 1 and p.type != "self"]
    if not significant:
        return Advice("rules", report, [], [])
    memory = Memory(os.path.join(ctx.paths.state_dir, MEMORY_FILE))
    why = memory.triggers(significant, dedup.entries, done, cfg, now)
    report["why"] = why
    if free_bytes is not None and free_bytes < MIN_FREE_BYTES:
        # No call and no writes: the space left is for the registry.
        if why:
            report["skipped"] = f"low disk: {free_bytes // 2**20} MB free in the state dir"
            return Advice("fallback", report, [], [])
        return Advice("rules", report, [], [])
    if not why:
        memory.note_cycle(significant, done, now)
        memory.save()
        return Advice("rules", report, [], [])
    over = memory.over_budget(cfg, now)
    if over:
        log.info("LLM not asked (%s): the policy alone decides", over)
        report["skipped"] = over
        memory.note_cycle(significant, done, now, why=why)
        memory.save()
        _write_decision(ctx, cycle_id, now, "fallback", report, None, [], done)
        return Advice("fallback", report, [], [])
    return _consult(ctx, guard, snapshot, problems, significant, dedup, done, now, cycle_id,
                    memory, report)


def _consult(ctx: Context, guard: Guard, snapshot: Snapshot, problems: list[Problem],
             significant: list[Problem], dedup: DedupState, done: list[ActionOutcome],
             now: float, cycle_id: str, memory: Memory, report: dict[str, Any]) -> Advice:
    from argus.decide import prompt, providers, schema

    cfg = ctx.config.llm
    why: list[str] = report["why"]
    started = time.perf_counter()
    review: Review | None = None
    tokens = (0, 0)
    try:
        cands, view = prompt.candidates(guard, snapshot, problems)
        doc = prompt.document(snapshot, problems, dedup.entries, done, memory.cycles, view,
                              why, now)
        system = prompt.system_prompt(cfg, ctx.host)
        report["called"] = True
        answer = providers.ask(cfg, system, prompt.user_message(doc),
                               schema.DECISION_SCHEMA, runner=ctx.run, env=os.environ)
        tokens = (answer.tokens_in, answer.tokens_out)
        review = schema.review(answer.payload, cands)
    except providers.ProviderError as err:
        tokens = err.tokens
        report["error"] = str(err)
    except schema.InvalidAnswer as err:
        report["error"] = f"invalid: {err}"[:300]
    except prompt.PromptError as err:
        report["error"] = f"setup: {err}"[:300]
    report.update(tokens_in=tokens[0], tokens_out=tokens[1],
                  latency_ms=round((time.perf_counter() - started) * 1000, 1))
    if report["called"]:
        memory.note_call(now, tokens[0] + tokens[1])
    by_key = {p.key: p for p in problems}
    outcomes: list[ActionOutcome] = []
    extra: list[Problem] = []
    if review is None:
        mode = "fallback"
        log.warning("LLM advisor unavailable (%s): the policy alone decides", report["error"])
        alert = memory.note_failure(cfg, now, str(report["error"]), [p.key for p in significant])
        if alert is not None:
            extra.append(alert)
            outcomes += _execute(ctx, guard, [_alert_action(alert)], {**by_key, alert.key: alert},
                                 dedup, now)
    else:
        mode = "shadow" if cfg.mode == "shadow" else "llm"
        memory.note_success()
        outcomes += [ActionOutcome(r.action, "skipped", f"refused: {r.why}",
                                   {"refused": r.why, **({"count": r.n} if r.n > 1 else {})})
                     for r in review.refused]
        if mode == "llm":
            outcomes[:0] = _execute(ctx, guard, review.accepted, by_key, dedup, now)
        else:
            outcomes[:0] = [_shadow(guard, a) for a in review.accepted]
        report.update(proposals=len(review.accepted),
                      refused=sum(r.n for r in review.refused))
    memory.note_cycle(significant, done + outcomes, now, why=why,
                      assessment=review.assessment if review else None)
    memory.save()
    _write_decision(ctx, cycle_id, now, mode, report, review, outcomes, done)
    return Advice(mode, report, outcomes, extra)


def _execute(ctx: Context, guard: Guard, actions: list[Action], by_key: dict[str, Problem],
             dedup: DedupState, now: float) -> list[ActionOutcome]:
    if not actions:
        return []
    from argus.act.execute import execute

    return execute(ctx, guard, actions, by_key, [], dedup, now)


def _shadow(guard: Guard, action: Action) -> ActionOutcome:
    why = guard.review(action)
    verdict = "the guard would allow it" if why is None else f"the guard would refuse it: {why}"
    return ActionOutcome(action, "skipped", f"shadow mode, not executed; {verdict}",
                         {"shadow": True, "guard": why or "allow"})


def _alert_action(problem: Problem) -> Action:
    return Action("alert", None, "LLM advisor unavailable", "rules", problem.key,
                  problem.description)


class Memory:
    """``llm-memory.json``: what the advisor remembers between cycles."""

    def __init__(self, path: str) -> None:
        self.path = path
        data, problem = state.read_json(path, {"version": 1})
        if problem:
            log.warning("%s", problem)
        self.data: dict[str, Any] = data
        cycles = data.get("cycles")
        self.cycles: list[dict[str, Any]] = [c for c in cycles if isinstance(c, dict)] \
            if isinstance(cycles, list) else []

    # -- gating --------------------------------------------------------------------------

    def triggers(self, significant: list[Problem], entries: dict[str, dict[str, Any]],
                 done: list[ActionOutcome], cfg: Llm, now: float) -> list[str]:
        last = self.cycles[-1].get("problems", {}) if self.cycles else {}
        last = last if isinstance(last, dict) else {}
        pending = set(self.data.get("pending") or [])
        judged = self.data.get("judged_failures")
        judged = judged if isinstance(judged, dict) else {}
        why: list[str] = []
        for p in significant:
            entry = entries.get(p.key, {})
            before = last.get(p.key)
            was = before[0] if isinstance(before, list) and before else None
            if int(entry.get("streak", 1)) <= 1:
                why.append(f"new {p.severity} {p.key}")
            elif was is not None and RANK.get(p.severity, 0) > RANK.get(str(was), 0):
                why.append(f"escalated {was}->{p.severity} {p.key}")
            elif p.key in pending:
                why.append(f"retry {p.key}: the last call failed")
        present = {p.key: p for p in significant}
        for o in done:
            key = o.action.problem_key or ""
            failed = o.result == "failure" or bool(o.details.get("restart_loop"))
            if o.action.type not in HOST_ACTIONS or not failed or key not in present:
                continue
            episode = float(entries.get(key, {}).get("first_seen", now))
            if float(judged.get(key, -1)) >= episode:
                continue  # already judged in this episode: the model saw it fail
            judged[key] = now
            why.append(f"unfixed {key}: {o.action.type} "
                       f"{'restart loop' if o.details.get('restart_loop') else o.result}")
        self.data["judged_failures"] = {k: v for k, v in judged.items() if k in present}
        last_review = float(self.data.get("last_review") or 0)
        if cfg.review_every and now - last_review >= cfg.review_every:
            why.append("review due")
        return why

    def over_budget(self, cfg: Llm, now: float) -> str | None:
        calls = self._calls(now)
        hour = sum(1 for ts, _ in calls if now - ts < 3600)
        if hour >= cfg.max_calls_per_hour:
            return f"budget: {hour} calls in the last hour (llm.max_calls_per_hour)"
        tokens = sum(n for _, n in calls)
        if tokens >= cfg.max_tokens_per_day:
            return f"budget: {tokens} tokens in the last 24 h (llm.max_tokens_per_day)"
        return None

    def _calls(self, now: float) -> list[tuple[float, int]]:
        out = []
        for item in self.data.get("calls") or []:
            if (isinstance(item, list) and len(item) == 2
                    and all(isinstance(x, (int, float)) for x in item)
                    and now - item[0] < 86400):
                out.append((float(item[0]), int(item[1])))
        return out

    # -- bookkeeping ---------------------------------------------------------------------

    def note_call(self, now: float, tokens: int) -> None:
        self.data["calls"] = [[ts, n] for ts, n in self._calls(now)] + [[now, tokens]]
        self.data["last_review"] = now

    def note_success(self) -> None:
        self.data.update(pending=[], unavailable_since=None, unavailable_alerted=False)

    def note_failure(self, cfg: Llm, now: float, error: str, keys: list[str]) -> Problem | None:
        """Remember the failure; the Problem to alert once unavailable for alert_after."""
        self.data["pending"] = sorted(keys)
        since = self.data.get("unavailable_since")
        since = float(since) if isinstance(since, (int, float)) else now
        self.data.update(unavailable_since=since, last_error=error[:300])
        if self.data.get("unavailable_alerted") or now - since < cfg.alert_after:
            return None
        self.data["unavailable_alerted"] = True
        minutes = int((now - since) // 60)
        return Problem.make(
            "self", "warning", UNAVAILABLE_SUBJECT,
            f"LLM advisor ({cfg.provider}, {cfg.model}) unavailable for {minutes} min: "
            f"{error[:200]}; the deterministic policy alone decides",
            {"provider": cfg.provider, "since": iso(since), "error": error[:300]})

    def note_cycle(self, significant: list[Problem], outcomes: list[ActionOutcome], now: float,
                   *, why: list[str] | None = None, assessment: str | None = None) -> None:
        entry: dict[str, Any] = {
            "ts": now,
            "problems": {p.key: [p.severity, p.description[:100]] for p in significant},
            "actions": [_brief(o) for o in outcomes if o.action.type != "log"][:8],
        }
        if why:
            entry["why"] = why[:6]
        if assessment:
            entry["assessment"] = assessment[:300]
        self.cycles = [*self.cycles, entry][-MEMORY_CYCLES:]

    def save(self) -> None:
        self.data.update(version=1, cycles=self.cycles)
        try:
            state.write_json(self.path, self.data)
        except OSError as err:
            log.error("cannot write %s: %s", self.path, err.strerror or err)


def _brief(o: ActionOutcome) -> str:
    a = o.action
    return f"{a.source} {a.type} {a.target or a.problem_key or ''} -> {o.result}".replace(
        "  ", " ")[:120]


def _write_decision(ctx: Context, cycle_id: str, now: float, mode: str,
                    report: dict[str, Any], review: Review | None,
                    outcomes: list[ActionOutcome], done: list[ActionOutcome]) -> None:
    """``last_decision.json``: the model's judgement beside what the policy did."""
    cfg = ctx.config.llm
    data = {
        "cycle": cycle_id, "ts": iso(now), "mode": mode, "provider": cfg.provider,
        "model": cfg.model, "llm_mode": cfg.mode, "llm": report,
        "assessment": review.assessment if review else None,
        "observations": review.observations if review else [],
        "proposals": [_row(o) for o in outcomes if o.action.source == "llm"],
        "policy": [_row(o) for o in done],
    }
    try:
        state.write_json(ctx.paths.last_decision, data, durable=False)
    except OSError as err:
        log.error("cannot write %s: %s", ctx.paths.last_decision, err.strerror or err)


def _row(o: ActionOutcome) -> dict[str, Any]:
    a = o.action
    return {"type": a.type, "target": a.target, "key": a.problem_key, "reason": a.reason,
            "message": a.message, "result": o.result, "detail": o.detail}
