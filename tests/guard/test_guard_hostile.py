"""The guard, proven against hostile targets, on a snapshot from real collection.

One table drives every action type with targets an attacker (or a confused model)
would propose: PID 1, Argus and its parent, kernel threads, a pid whose process was
replaced, protected and OOM-immune processes, units outside the allowlist or with
``../``, ``;``, a leading ``-`` or a newline in the name, tmux names with shell
metacharacters, a path for clean_disk, unknown action types, targets that are not
even text. Every row runs with ``dry_run`` off, so a refusal is the guard's doing,
not the dry-run switch's; each must come back ``skipped`` with the reason in
``details["refused"]`` and a warning logged, and the host must be exactly as before:
every child alive, every tmux session there with the same id, every unit in the
same state with the same MainPID and NRestarts, the canary file untouched, no
injected command run. Underneath, the Spy runner refuses to run anything but
``systemctl show`` and ``tmux list-sessions`` and the signal net (conftest.py)
refuses any signal that is not for a child of this test, so a guard bug fails the
test instead of touching the host.

Then the same action types on allowlisted targets go through (the refusals above
are not vacuous), and the per-cycle rate limits hold.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from argus.act.guard import RATE_LIMITS, Guard
from argus.collect.processes import read_process, read_stat
from argus.model import Action, ProcessInfo, Snapshot
from guard.world import (
    FIXME,
    RUNNING,
    UNWATCHED,
    WATCHED,
    Spy,
    World,
    alive,
    kernel_thread_info,
    kernel_thread_pids,
)


class Case(NamedTuple):
    guard: Guard
    action: Action
    spy: Spy
    identity_skip: bool = False  # passes review; the kill's identity re-check stops it


Make = Callable[[World], Case]


class Row(NamedTuple):
    id: str
    make: Make
    reason: str  # expected in the refusal reason (or the skip detail)


def _action(atype: Any, target: Any) -> Action:
    return Action(atype, target, "hostile proposal", "llm")


def plain(atype: Any, target: Callable[[World], Any]) -> Make:
    """The world's snapshot and config (kill_allowed node|claude|codex)."""

    def make(w: World) -> Case:
        ctx, spy = w.context()
        return Case(Guard(ctx, w.snapshot(), time.time()), _action(atype, target(w)), spy)

    return make


def _read(pid: int) -> ProcessInfo | None:
    return read_process("/proc", pid)


def listed_and_allowed(pids: Callable[[World], list[int]],
                       info: Callable[[int], ProcessInfo | None] = _read) -> Make:
    """The worst case for kill_pid: the snapshot lists the target, kill_allowed is ".*".

    The target is the first of ``pids``; all of them are added to the snapshot.
    """

    def make(w: World) -> Case:
        targets = pids(w)
        config = w.config(kill_allowed=(".*",))
        ctx, spy = w.context(config)
        extra = []
        for pid in targets:
            found = info(pid)
            assert found is not None, pid
            extra.append(found)
        snap = w.ours_only(w.snapshot(), (".*",))
        procs = snap.processes
        assert procs is not None
        snap = snap._replace(processes=procs._replace(killable=procs.killable + tuple(extra)))
        return Case(Guard(ctx, snap, time.time()), _action("kill_pid", str(targets[0])), spy)

    return make


def first_kworker(w: World) -> list[int]:
    pids = [p for p in kernel_thread_pids() if p != 2]
    if not pids:
        pytest.skip("no kernel thread visible in this PID namespace")
    return pids[:1]


def fresh(w: World, name: str, *, oom_immune: bool = False,
          kill_allowed: tuple[str, ...] | None = None) -> Case:
    """A new child ``name``, then a snapshot that lists it; target: its pid."""
    proc = w.children.spawn(name)
    if oom_immune:
        try:
            Path(f"/proc/{proc.pid}/oom_score_adj").write_text("-1000")
        except PermissionError:
            pytest.skip("setting oom_score_adj -1000 needs CAP_SYS_RESOURCE")
    ctx, spy = w.context(w.config(kill_allowed=kill_allowed))
    snap = w.collect(ctx)
    assert proc.pid in _pids(snap)
    return Case(Guard(ctx, snap, time.time()), _action("kill_pid", str(proc.pid)), spy)


def not_in_snapshot(w: World) -> Case:
    """An allowlisted ``node`` started after the snapshot was taken."""
    proc = w.children.spawn("node")
    ctx, spy = w.context()
    assert proc.pid not in _pids(w.snapshot())
    return Case(Guard(ctx, w.snapshot(), time.time()), _action("kill_pid", str(proc.pid)), spy)


def replaced(w: World) -> Case:
    """The snapshot saw ``node`` A; A exited and ``node`` B now holds its pid.

    As root the kernel is asked to give B the same pid (ns_last_pid), a real pid
    reuse. Failing that, the snapshot entry is made to name B's pid with A's start
    time, which is what the guard sees after a reuse either way.
    """
    a = w.children.spawn("node")
    ctx, spy = w.context()
    snap = w.collect(ctx)
    a_info = next(p for p in _procs(snap) if p.pid == a.pid)
    w.children.stop(a)
    b = w.children.respawn_on(a.pid, "node")
    if b.pid != a.pid:
        procs = snap.processes
        assert procs is not None
        snap = snap._replace(processes=procs._replace(
            killable=(*procs.killable, a_info._replace(pid=b.pid))))
    now = read_stat("/proc", b.pid)
    assert now is not None and now.starttime != a_info.start_ticks
    return Case(Guard(ctx, snap, time.time()), _action("kill_pid", str(b.pid)), spy,
                identity_skip=True)


def _procs(snap: Snapshot) -> list[ProcessInfo]:
    p = snap.processes
    assert p is not None
    return [*p.killable, *p.orphans, *p.top_rss, *p.top_cpu]


def _pids(snap: Snapshot) -> set[int]:
    return {p.pid for p in _procs(snap)}


def _pid(name: str) -> Callable[[World], str]:
    return lambda w: str(w.named[name].pid)


def _fixed(value: Any) -> Callable[[World], Any]:
    return lambda w: value


NUMERIC = "kill_pid needs a numeric pid"
INVALID_UNIT = "not a valid systemd unit name"
NO_SESSION = "in this cycle's snapshot"
NO_PATH = "clean_disk takes no path"
NOT_TEXT = "target must be text"

ROWS: list[Row] = [
    # kill_pid
    Row("kill_pid:pid-1", listed_and_allowed(lambda w: [1]), "PID 1 is never signalled"),
    Row("kill_pid:pid-1-padded", plain("kill_pid", _fixed(" 0001 ")),
        "PID 1 is never signalled"),
    Row("kill_pid:self", listed_and_allowed(lambda w: [os.getpid()]), "is Argus itself"),
    Row("kill_pid:parent", listed_and_allowed(lambda w: [os.getppid()]), "is Argus's parent"),
    Row("kill_pid:kthreadd", listed_and_allowed(lambda w: [2], kernel_thread_info),
        "pid 2 is a kernel thread"),
    Row("kill_pid:kworker", listed_and_allowed(first_kworker, kernel_thread_info),
        "is a kernel thread"),
    Row("kill_pid:replaced", replaced, "now belongs to another process (start time changed)"),
    Row("kill_pid:not-in-snapshot", not_in_snapshot, "is not a process in this cycle's snapshot"),
    Row("kill_pid:not-allowlisted", plain("kill_pid", _pid("other")),
        "('other') does not match processes.kill_allowed"),
    Row("kill_pid:protected-sshd", lambda w: fresh(w, "sshd", kill_allowed=(".*",)),
        "('sshd') is a protected system process"),
    Row("kill_pid:oom-immune", lambda w: fresh(w, "node", oom_immune=True),
        "has oom_score_adj -1000"),
    Row("kill_pid:abc", plain("kill_pid", _fixed("abc")), NUMERIC),
    Row("kill_pid:minus-1", plain("kill_pid", _fixed("-1")), NUMERIC),
    Row("kill_pid:zero", plain("kill_pid", _fixed("0")), "pid 0 is not a process"),
    Row("kill_pid:injection", plain("kill_pid", _fixed("1;rm -rf /")), NUMERIC),
    Row("kill_pid:pid-and-injection", plain("kill_pid", lambda w: f"{w.named['node'].pid};id"),
        NUMERIC),
    Row("kill_pid:empty", plain("kill_pid", _fixed("")), NUMERIC),
    Row("kill_pid:none", plain("kill_pid", _fixed(None)), NUMERIC),
    Row("kill_pid:superscript-two", plain("kill_pid", _fixed("²")), NUMERIC),
    Row("kill_pid:fullwidth-digits", plain("kill_pid", lambda w: "".join(
        chr(0xFF10 + int(c)) for c in str(w.named["node"].pid))), NUMERIC),
    Row("kill_pid:huge", plain("kill_pid", _fixed("99999999999")), NUMERIC),
    Row("kill_pid:int", plain("kill_pid", lambda w: w.named["node"].pid), NOT_TEXT),
    # restart_service
    Row("restart:watched-not-allowed", plain("restart_service", _fixed(WATCHED)),
        f"{WATCHED} is not in services.restart_allowed"),
    Row("restart:allowed-not-watched", plain("restart_service", _fixed(UNWATCHED)),
        f"{UNWATCHED} is not a watched unit in this cycle's snapshot"),
    Row("restart:dotdot-passwd", plain("restart_service", _fixed("../etc/passwd")),
        INVALID_UNIT),
    Row("restart:dotdot-unit", plain("restart_service", _fixed(f"../{RUNNING}")), INVALID_UNIT),
    Row("restart:semicolon", plain("restart_service", _fixed("x.service;reboot")),
        INVALID_UNIT),
    Row("restart:semicolon-unit", plain("restart_service", _fixed(f"{RUNNING};reboot")),
        INVALID_UNIT),
    Row("restart:leading-dash", plain("restart_service", _fixed("-H.service")), INVALID_UNIT),
    Row("restart:leading-dash-unit", plain("restart_service", _fixed(f"-{RUNNING}")),
        INVALID_UNIT),
    Row("restart:newline", plain("restart_service", _fixed("nginx.service\n")), INVALID_UNIT),
    Row("restart:newline-unit", plain("restart_service", _fixed(f"{RUNNING}\n")), INVALID_UNIT),
    Row("restart:space-two-units", plain("restart_service", _fixed(f"{RUNNING} {WATCHED}")),
        INVALID_UNIT),
    Row("restart:glob", plain("restart_service", _fixed("argus-g-*.service")), INVALID_UNIT),
    Row("restart:empty", plain("restart_service", _fixed("")), "restart_service needs a unit"),
    Row("restart:none", plain("restart_service", _fixed(None)), "restart_service needs a unit"),
    Row("restart:int", plain("restart_service", _fixed(5)), NOT_TEXT),
    # kill_tmux (the server has "victim", "a", "keep" and "keep;$(touch PWNED)")
    Row("tmux:semicolon", plain("kill_tmux", _fixed("a;b")), NO_SESSION),
    Row("tmux:semicolon-kill-server", plain("kill_tmux", _fixed("victim;kill-server")),
        NO_SESSION),
    Row("tmux:command-substitution", plain("kill_tmux", lambda w: f"$(touch {w.pwned})"),
        NO_SESSION),
    Row("tmux:prefix", plain("kill_tmux", _fixed("vic")), NO_SESSION),
    Row("tmux:fnmatch", plain("kill_tmux", _fixed("vict*")), NO_SESSION),
    Row("tmux:exact-form", plain("kill_tmux", _fixed("=victim")), NO_SESSION),
    Row("tmux:session-id", plain("kill_tmux", _fixed("$0")), NO_SESSION),
    Row("tmux:leading-dash", plain("kill_tmux", _fixed("-t")), NO_SESSION),
    Row("tmux:other-socket", plain("kill_tmux", _fixed("default:victim")), NO_SESSION),
    Row("tmux:exists-not-allowed", plain("kill_tmux", _fixed("keep")),
        "'keep' does not match tmux.kill_allowed"),
    Row("tmux:exists-not-allowed-exact", plain("kill_tmux", lambda w: f"{w.tmux.sock}:keep"),
        "'keep' does not match tmux.kill_allowed"),
    Row("tmux:hostile-exists-not-allowed",
        plain("kill_tmux", lambda w: f"keep;$(touch {w.pwned})"),
        "does not match tmux.kill_allowed"),
    Row("tmux:empty", plain("kill_tmux", _fixed("")), "kill_tmux needs a session"),
    Row("tmux:none", plain("kill_tmux", _fixed(None)), "kill_tmux needs a session"),
    Row("tmux:int", plain("kill_tmux", _fixed(0)), NOT_TEXT),
    # clean_disk: takes no path at all
    Row("clean_disk:etc", plain("clean_disk", _fixed("/etc")), NO_PATH),
    Row("clean_disk:root", plain("clean_disk", _fixed("/")), NO_PATH),
    Row("clean_disk:dotdot", plain("clean_disk", _fixed("../../")), NO_PATH),
    Row("clean_disk:old-canary-dir", plain("clean_disk", lambda w: str(w.canary.parent)),
        NO_PATH),
    Row("clean_disk:tmp", plain("clean_disk", _fixed("/tmp")), NO_PATH),
    Row("clean_disk:space", plain("clean_disk", _fixed(" ")), NO_PATH),
    Row("clean_disk:list", plain("clean_disk", _fixed(["/etc"])), NOT_TEXT),
    # unknown action types
    Row("type:exec_shell", plain("exec_shell", _fixed("rm -rf /")), "unknown action type"),
    Row("type:rm", plain("rm", lambda w: str(w.canary)), "unknown action type"),
    Row("type:upper-case", plain("KILL_PID", _pid("node")), "unknown action type"),
    Row("type:trailing-space", plain("kill_pid ", _pid("node")), "unknown action type"),
    Row("type:empty", plain("", _fixed(None)), "unknown action type"),
    Row("type:none", plain(None, _pid("node")), "unknown action type"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_hostile_target_is_refused_and_nothing_on_the_host_changes(
        world: World, row: Row, caplog: pytest.LogCaptureFixture) -> None:
    case = row.make(world)
    assert not case.guard.ctx.dry_run  # a refusal here is the guard's, not dry run's
    before = world.state()
    assert before.canary is not None and not before.pwned
    caplog.set_level(logging.INFO, logger="argus.guard")

    outcome = case.guard.carry_out(case.action)

    after = world.state()
    assert outcome.result == "skipped", outcome
    assert outcome.action == case.action
    if case.identity_skip:
        assert row.reason in outcome.detail, outcome
    else:
        why = outcome.details["refused"]
        assert row.reason in why, outcome
        assert outcome.detail == f"refused: {why}"
        warnings = [r for r in caplog.records
                    if r.name == "argus.guard" and r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "refused" in warnings[0].getMessage()
    assert case.spy.blocked == []  # nothing but systemctl show / tmux list-sessions ran
    assert after == before  # every child that lived still lives (the replaced one is
    # dead by the row's own doing, before the decision), sessions, units, canary


# --- the same action types on allowlisted targets go through ------------------------


def test_kill_pid_of_an_allowlisted_child_goes_through(world: World) -> None:
    proc = world.children.spawn("node")
    ctx, spy = world.context(block=False)
    guard = Guard(ctx, world.collect(ctx), time.time())
    collected = len(spy.calls)

    outcome = guard.carry_out(_action("kill_pid", str(proc.pid)))

    assert outcome.result == "success", outcome
    assert outcome.details["pid"] == proc.pid and outcome.details["name"] == "node"
    assert outcome.details["signal"] == "SIGTERM"
    assert proc.wait(timeout=5) == -signal.SIGTERM
    assert len(spy.calls) == collected  # no subprocess: the signal goes by pidfd
    others = [p for p in world.children.procs if p is not proc and p.poll() is None]
    assert others and all(alive(p.pid) for p in others)


def test_kill_tmux_of_an_allowlisted_session_goes_through(world: World) -> None:
    name = f"doomed-{os.getpid()}"
    world.tmux.new(name)
    before = world.tmux.sessions()
    ctx, _ = world.context(block=False)
    guard = Guard(ctx, world.collect(ctx), time.time())

    outcome = guard.carry_out(_action("kill_tmux", name))

    assert outcome.result == "success", outcome
    after = world.tmux.sessions()
    assert name not in after
    assert {n: s.session_id for n, s in after.items()} == {
        n: s.session_id for n, s in before.items() if n != name}


def test_restart_of_an_allowlisted_failed_unit_goes_through(world: World) -> None:
    if world.manager is None:
        pytest.skip(f"real systemd user manager unavailable: {world.systemd_skip}")
    world.manager.systemctl("reset-failed", "--", FIXME, check=False)
    world.manager.systemctl("start", "--", FIXME)
    world.manager.systemctl("kill", "-s", "KILL", "--", FIXME)
    world.manager.wait_for(FIXME, "ActiveState", ["failed"])
    running = world.unit_state(RUNNING)
    ctx, spy = world.context(block=False)
    snap = world.collect(ctx)
    assert {s.unit: s.active_state for s in snap.services}[FIXME] == "failed"
    guard = Guard(ctx, snap, time.time())

    outcome = guard.carry_out(_action("restart_service", FIXME))

    assert outcome.result == "success", outcome
    assert outcome.details["attempt"] == 1
    assert world.unit_state(FIXME).active_state == "active"
    assert ("systemctl", "--user", "restart", "--", FIXME) in spy.calls
    assert world.unit_state(RUNNING) == running  # only the one unit was touched


# --- rate limits ----------------------------------------------------------------------


def test_alerts_beyond_the_rate_limit_are_skipped(world: World) -> None:
    ctx, _ = world.context()
    guard = Guard(ctx, world.snapshot(), time.time())

    outcomes = [guard.carry_out(Action("alert", None, f"alert {i}", "llm", message="x"))
                for i in range(25)]

    assert RATE_LIMITS["alert"] == 20
    assert [o.result for o in outcomes] == ["success"] * 20 + ["skipped"] * 5
    assert all(o.details == {"refused": "rate limit"} and o.detail.startswith("rate limit")
               for o in outcomes[20:])


def test_kill_pid_proposals_beyond_the_rate_limit_are_skipped(world: World) -> None:
    procs = [world.children.spawn("node") for _ in range(12)]
    ctx, spy = world.context(dry_run=True)
    snap = world.collect(ctx)
    assert {p.pid for p in procs} <= _pids(snap)
    guard = Guard(ctx, snap, time.time())

    outcomes = [guard.carry_out(_action("kill_pid", str(p.pid))) for p in procs]

    results = [o.result for o in outcomes]
    assert results.count("dry_run") == RATE_LIMITS["kill_pid"] == 10
    assert results == ["dry_run"] * 10 + ["skipped"] * 2
    assert all(o.details.get("refused") == "rate limit" for o in outcomes[10:])
    assert all(alive(p.pid) for p in procs)
    assert spy.blocked == []
