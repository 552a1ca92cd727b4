"""1,000 generated model answers: no crash, and nothing outside the candidates.

The answers mix valid decisions, near misses built from this cycle's real targets,
hostile targets and arbitrary JSON. Each accepted proposal is then carried out by
the guard of a dry run, as the cycle would: it may end ``dry_run``, ``success``
(alerts, logs) or ``skipped``, and only ever on a candidate.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llm_helpers import alive, comm, llm_config, llm_context

from argus.act.guard import Guard
from argus.collect import collect_snapshot
from argus.context import Context
from argus.decide import prompt, schema
from argus.model import ACTION_TYPES, Problem, ServiceInfo, Snapshot, TmuxSession
from argus.timefmt import iso

VICTIM = "argusfuzzvictim"  # 15 characters: the whole comm


class World:
    def __init__(self, ctx: Context, snapshot: Snapshot, problems: list[Problem],
                 candidates: schema.Candidates, victims: list[int]) -> None:
        self.ctx, self.snapshot, self.problems = ctx, snapshot, problems
        self.candidates, self.victims = candidates, victims


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("fuzz")
    path = tmp / VICTIM
    shutil.copy2("/bin/sleep", path)
    procs = [subprocess.Popen([str(path), "3600"], stdin=subprocess.DEVNULL) for _ in range(2)]
    deadline = time.monotonic() + 10
    while any(comm(p.pid) != VICTIM for p in procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    config = llm_config("http://127.0.0.1:9", processes={"kill_allowed": [f"^{VICTIM}$"]},
                        services={"restart_allowed": ["demo.service"]},
                        tmux={"kill_allowed": ["^victim$"]})
    ctx = llm_context(tmp, config)
    snapshot = collect_snapshot(ctx, iso(time.time()))._replace(
        services=(ServiceInfo("demo.service", "system", "loaded", "failed", "failed",
                              "exit-code", 2, None, 0, 1),),
        tmux=(TmuxSession("argus-fuzz-no-server", "victim", 1, 0.0, False, "$0"),))
    problems = [
        Problem.make("service", "critical", "service:demo.service", "demo.service failed",
                     {"unit": "demo.service"}),
        Problem.make("disk", "warning", "disk:/", "disk / at 85%", {"mount": "/"}),
        Problem.make("memory", "warning", "memory:host", "memory at 85%", {"pct": 85.0}),
    ]
    guard = Guard(ctx, snapshot, time.time(), {p.key: p for p in problems})
    candidates, _ = prompt.candidates(guard, snapshot, problems)
    assert {str(p.pid) for p in procs} <= set(candidates.targets["kill_pid"])
    assert "demo.service" in candidates.targets["restart_service"]
    assert "argus-fuzz-no-server:victim" in candidates.targets["kill_tmux"]
    yield World(ctx, snapshot, problems, candidates, [p.pid for p in procs])
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


HOSTILE = ["1", "0", "-1", "sshd.service", "../../etc", ";rm -rf /", "$(reboot)", "/etc",
           "*", "", " ", "\x1b[2J", "1 ", "01", "99999999999", "victim; kill 1",
           "=victim", "argus-fuzz-no-server:victim\n"]


def answers(world: World) -> st.SearchStrategy[Any]:
    real = [str(t) for kind in world.candidates.targets.values() for t in kind if t]
    target = st.one_of(st.sampled_from(real + HOSTILE), st.none(), st.integers(-5, 10**6),
                       st.text(max_size=30), st.booleans(), st.lists(st.integers(), max_size=2))
    text = st.one_of(st.text(max_size=60), st.none(), st.integers(), st.just(""))
    kind = st.one_of(st.sampled_from(list(ACTION_TYPES)), st.text(max_size=15), st.none())
    proposal = st.one_of(
        st.fixed_dictionaries({"type": kind, "target": target, "reason": text},
                              optional={"message": text, "extra": st.integers()}),
        st.fixed_dictionaries({"type": kind}),
        st.text(max_size=10), st.integers(), st.none())
    json_value = st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                  st.text(max_size=20)),
        lambda inner: st.one_of(st.lists(inner, max_size=4),
                                st.dictionaries(st.text(max_size=10), inner, max_size=4)),
        max_leaves=12)
    decision = st.fixed_dictionaries(
        {"assessment": st.one_of(st.text(max_size=80), st.integers()),
         "actions": st.one_of(st.lists(proposal, max_size=30), json_value)},
        optional={"observations": st.one_of(st.lists(st.text(max_size=20), max_size=8),
                                            json_value)})
    return st.one_of(decision, decision, decision, json_value)


@settings(max_examples=1000, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_generated_answers_never_crash_and_never_leave_the_candidates(
        world: World, data: st.DataObject) -> None:
    payload = data.draw(answers(world))
    try:
        review = schema.review(payload, world.candidates)
    except schema.InvalidAnswer:
        return  # the policy alone decides: fine
    keys = {p.key for p in world.problems}
    guard = Guard(world.ctx, world.snapshot, time.time(), {p.key: p for p in world.problems})
    for action in review.accepted:
        allowed = world.candidates.targets[action.type]
        if action.type in ("restart_service", "kill_pid", "kill_tmux"):
            assert action.target in allowed
        elif action.type == "clean_disk":
            assert action.target is None and None in allowed
        else:
            assert action.target is None and (action.problem_key in keys
                                              or action.type == "log")
        outcome = guard.carry_out(action)
        assert outcome.result in ("dry_run", "success", "skipped"), outcome
    assert len(review.accepted) + sum(r.n for r in review.refused) == \
        (len(payload["actions"]) if isinstance(payload, dict) else 0)
    assert all(alive(pid) for pid in world.victims)  # a dry run: nothing was killed
