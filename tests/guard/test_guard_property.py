"""Property: whatever sequence of actions is proposed, the guard acts only on
allowlisted targets that are present in this cycle's snapshot.

The snapshot comes from real collection (tests/guard/world.py): children named
``node``, ``claude``, ``other`` and ``sshd``, a private tmux server, a real systemd
user manager when one can run here. ``processes.kill_allowed`` is
``node|claude|codex|sshd`` here, so one allowlisted name (sshd) is also a protected
one. Proposals mix targets taken from the snapshot (allowlisted or not), mutations
of them, hostile strings, random text, integers and None.

``allowed`` below is the oracle, written from DESIGN.md and the issue rather than
from the guard's code: an action may get past the guard only when it says so.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from argus.act.guard import Guard
from argus.act.processes import is_protected
from argus.config import Config
from argus.model import ACTION_RESULTS, ACTION_TYPES, Action, ProcessInfo, Snapshot
from guard.world import World, alive

KILL_ALLOWED = ("node", "claude", "codex", "sshd")  # read by the world fixture
HOST_ACTIONS = ("restart_service", "kill_pid", "kill_tmux", "clean_disk")

HOSTILE: list[Any] = [
    "1", "0", "-1", "2", str(os.getpid()), str(os.getppid()), " 1", "0001", "1;rm -rf /",
    "abc", "", " ", "²", "１", "99999999999", "$(reboot)", "`id`", "a;b", "victim;kill-server",
    "=victim", "vic", "vict*", "$0", "-t", "default:victim", "../etc/passwd",
    "x.service;reboot", "-H.service", "nginx.service\n", "/", "/etc", "../../", "/tmp",
    "\x00", "\x1b[2J", "\u202e", None, 0, 1, -1, 3.5, b"1", ["/etc"], {"pid": 1},
]
SUFFIXES = ["\n", ";reboot", " ", "*", "/../x", "\x00", "$(id)", ".service", "0"]
PREFIXES = ["-", " ", "../", "=", "$", "+", "0"]


def _procs(snap: Snapshot) -> dict[int, ProcessInfo]:
    p = snap.processes
    assert p is not None
    return {i.pid: i for i in (*p.killable, *p.orphans, *p.top_rss, *p.top_cpu)}


def allowed(action: Action, snap: Snapshot, cfg: Config) -> bool:
    """Whether ``action`` may get past the guard at all (the property's oracle)."""
    kind, target = action.type, action.target
    if kind in ("alert", "log"):
        return True  # no side effect on the host
    if kind not in HOST_ACTIONS:
        return False
    if target is not None and not isinstance(target, str):
        return False
    if kind == "clean_disk":
        return not target  # takes no path: its safe list is hard-coded
    if not target:
        return False
    if kind == "restart_service":
        return (target in cfg.services.restart_allowed
                and target in {s.unit for s in snap.services})
    if kind == "kill_pid":
        text = target.strip()
        if not (text.isascii() and text.isdigit()):
            return False
        proc = _procs(snap).get(int(text))
        return (proc is not None and proc.pid not in (1, os.getpid(), os.getppid())
                and any(re.search(p, proc.name) for p in cfg.processes.kill_allowed)
                and not is_protected(proc.name))
    # kill_tmux: a session of this snapshot, by SOCKET:NAME or NAME, allowlisted
    return any(target in (s.name, f"{s.socket}:{s.name}")
               and any(re.search(p, s.name) for p in cfg.tmux.kill_allowed)
               for s in snap.tmux)


def pools(snap: Snapshot, cfg: Config) -> dict[str, list[str]]:
    """Per action type, every target this snapshot and config offer, allowlisted or not."""
    return {
        "kill_pid": sorted(str(pid) for pid in _procs(snap)),
        "restart_service": sorted({s.unit for s in snap.services}
                                  | set(cfg.services.restart_allowed)),
        "kill_tmux": sorted({s.name for s in snap.tmux}
                            | {f"{s.socket}:{s.name}" for s in snap.tmux}),
        "clean_disk": ["", "/tmp", "/var/tmp", str(Path.home() / ".cache")],
    }


def mutations(known: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.tuples(known, st.sampled_from(SUFFIXES)).map("".join),
                     st.tuples(st.sampled_from(PREFIXES), known).map("".join))


def noise() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.text(max_size=20),
        st.integers(min_value=-10, max_value=2**22).map(str),
        st.integers(),
        st.none(),
    )


def actions(snap: Snapshot, cfg: Config, *, refused_only: bool = False
            ) -> st.SearchStrategy[Action]:
    """Proposals: a type with a target from its own pool (a third of them among the
    allowlisted ones, unless ``refused_only``), mutated, or anything at all."""
    by_type = pools(snap, cfg)
    every = sorted({t for pool in by_type.values() for t in pool})
    kinds = [*ACTION_TYPES, "exec_shell", "rm", "KILL_PID", ""]

    def typed(kind: str) -> st.SearchStrategy[Action]:
        pool = by_type[kind]
        good = [t for t in pool if allowed(Action(kind, t, "", "llm"), snap, cfg)]
        if refused_only:
            pool = [t for t in pool if t not in good]
            good = []
        options = [st.sampled_from(pool), mutations(st.sampled_from(pool)), noise()]
        if good:
            options.append(st.sampled_from(good))
        return st.builds(Action, type=st.just(kind), target=st.one_of(*options),
                         reason=st.just("proposed"), source=st.sampled_from(["llm", "rules"]))

    anything = st.builds(Action, type=st.sampled_from(kinds),
                         target=st.one_of(st.sampled_from(every), noise()),
                         reason=st.just("proposed"), source=st.sampled_from(["llm", "rules"]))
    return st.one_of(st.sampled_from(HOST_ACTIONS).flatmap(typed), anything)


# Strategies need the world, which exists only once the module fixture ran: the
# tests draw from ``st.data()`` with strategies built from it.


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_only_allowlisted_targets_in_the_snapshot_are_acted_on(
        world: World, data: st.DataObject) -> None:
    snap = world.snapshot()
    ctx, spy = world.context(dry_run=True)
    proposed = data.draw(st.lists(actions(snap, ctx.config), max_size=30), label="proposed")
    guard = Guard(ctx, snap, time.time())

    outcomes = [guard.carry_out(a) for a in proposed]

    for outcome in outcomes:
        action = outcome.action
        assert outcome.result in ACTION_RESULTS
        if outcome.result == "skipped":
            continue
        event(f"acted: {action.type} -> {outcome.result}")
        assert allowed(action, snap, ctx.config), outcome
        if action.type in HOST_ACTIONS:
            assert outcome.result == "dry_run", outcome
        else:
            assert outcome.result == "success", outcome
    assert spy.blocked == []  # dry run: nothing but systemctl show / tmux list-sessions


def _refused(world: World) -> st.SearchStrategy[Action]:
    """Alerts, logs, and host actions the oracle says must be refused."""
    snap, cfg = world.snapshot(), world.config()
    notes = st.builds(Action, type=st.sampled_from(["alert", "log"]), target=st.none(),
                      reason=st.just("note"), source=st.just("rules"),
                      message=st.text(max_size=10))
    refused = actions(snap, cfg, refused_only=True).filter(
        lambda a: not allowed(a, snap, cfg))
    return st.one_of(notes, refused)


@pytest.fixture(scope="module")
def acting(world: World) -> Any:
    """For the second property: what must still be there at the end."""
    before = world.state()
    yield before
    after = world.state()
    assert after == before, "a refused action changed the host"


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_with_dry_run_off_refused_actions_change_nothing(
        world: World, acting: Any, data: st.DataObject) -> None:
    ctx, spy = world.context(dry_run=False)
    proposed = data.draw(st.lists(_refused(world), max_size=30), label="proposed")
    guard = Guard(ctx, world.snapshot(), time.time())

    outcomes = [guard.carry_out(a) for a in proposed]

    for outcome in outcomes:
        if outcome.action.type in ("alert", "log"):
            assert outcome.result in ("success", "skipped"), outcome
            assert outcome.result == "success" or outcome.details == {"refused": "rate limit"}
        else:
            assert outcome.result == "skipped", outcome
            assert outcome.details.get("refused"), outcome
    assert spy.blocked == []
    assert all(alive(p.pid) for p in world.children.procs)
    assert not world.pwned.exists() and world.canary.exists()
