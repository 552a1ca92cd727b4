"""The guard: the only door to side effects on the host.

Every action, from the deterministic policy or from an LLM, comes through here.
``review`` decides in microseconds, from this cycle's snapshot and the allowlists
alone, whether an action may happen at all; ``carry_out`` then applies the dry-run
switch, restart backoff and per-cycle rate limits, and only then calls the module
that acts (which checks identity once more, right before it acts).

Never, whatever the config or a model says: a unit outside ``restart_allowed`` or
not watched, a process that is not in the snapshot or does not match
``kill_allowed`` (and never PID 1, Argus, its parent, kernel threads, the
systemd/sshd/dbus family, or an OOM-immune process), a tmux session that does not
exist or does not match ``tmux.kill_allowed``, or a path for ``clean_disk``, which
takes none: its safe list is hard-coded.
"""

from __future__ import annotations

import os

from argus.context import Context
from argus.logs import get_logger
from argus.model import (
    ACTION_TYPES,
    Action,
    ActionOutcome,
    Problem,
    ProcessInfo,
    Snapshot,
    TmuxSession,
)
from argus.sanitize import safe_text
from argus.timefmt import iso
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from argus.act.backoff import RestartBackoff

log = get_logger("argus.guard")

# Per cycle, per action type: a model answer with 500 proposals cannot turn into 500
# side effects. Generous for what the policy itself does in one cycle.
RATE_LIMITS = {"restart_service": 5, "kill_pid": 10, "kill_tmux": 5, "clean_disk": 1,
               "alert": 20, "log": 50}
HOST_ACTIONS = ("restart_service", "kill_pid", "kill_tmux", "clean_disk")


class Guard:
    def __init__(self, ctx: Context, snapshot: Snapshot, now: float,
                 problems: dict[str, Problem] | None = None,
                 loops: set[str] | None = None,
                 backoff: RestartBackoff | None = None) -> None:
        self.ctx = ctx
        self.loops = loops or set()  # units whose restart series ended this cycle
        self.problems = problems or {}
        self.snapshot = snapshot
        self.now = now
        self.used: dict[str, int] = {}
        self.done: set[tuple[str, str | None]] = set()
        # The cycle's own backoff state when it has read it already (unit health).
        self._backoff: RestartBackoff | None = backoff
        procs = snapshot.processes
        known = (procs.killable + procs.orphans + procs.top_rss + procs.top_cpu) if procs else ()
        self.processes: dict[int, ProcessInfo] = {p.pid: p for p in known}
        self.sessions = snapshot.tmux
        self.units = {s.unit for s in snapshot.services}

    @property
    def backoff(self) -> RestartBackoff:
        if self._backoff is None:
            from argus.act.backoff import RestartBackoff

            self._backoff = RestartBackoff(self.ctx.paths.backoff, self.ctx.config.restart)
        return self._backoff

    # -- review: pure checks, no I/O beyond /proc reads for kill_pid -----------------

    def review(self, action: Action) -> str | None:
        """Why ``action`` may not happen, or None when it may."""
        if action.type not in ACTION_TYPES:
            return f"unknown action type {safe_text(str(action.type), 40)!r}"
        if action.target is not None and not isinstance(action.target, str):
            # A model's JSON may hold a number or a list where a name belongs: refuse
            # it here rather than fail the cycle with a TypeError in a check below.
            return (f"{action.type} target must be text, got "
                    f"{type(action.target).__name__} {safe_text(repr(action.target), 40)}")
        check = getattr(self, f"_review_{action.type}")
        reason: str | None = check(action.target)
        return reason

    def _review_restart_service(self, target: str | None) -> str | None:
        from argus.act.services import refusal

        if not target:
            return "restart_service needs a unit"
        why = refusal(target, self.ctx.config.services.scope)
        if why:
            return why
        if target not in self.ctx.config.services.restart_allowed:
            return f"{target} is not in services.restart_allowed"
        if target not in self.units:
            return f"{target} is not a watched unit in this cycle's snapshot"
        return None

    def _review_kill_pid(self, target: str | None) -> str | None:
        from argus.act.processes import refusal

        pid = _pid(target)
        if pid is None:
            return f"kill_pid needs a numeric pid, got {safe_text(str(target), 40)!r}"
        return refusal(self.ctx.proc_root, pid, snapshot_procs=self.processes,
                       kill_allowed=self.ctx.config.processes.kill_allowed,
                       self_pid=os.getpid(), parent_pid=os.getppid())

    def _review_kill_tmux(self, target: str | None) -> str | None:
        from argus.act.tmux import match_allowed

        session, why = self.find_session(target)
        if session is None:
            return why
        if not match_allowed(session.name, self.ctx.config.tmux.kill_allowed):
            return f"tmux session {safe_text(session.name, 60)!r} does not match tmux.kill_allowed"
        return None

    def _review_clean_disk(self, target: str | None) -> str | None:
        if target:
            return ("clean_disk takes no path: its safe list is hard-coded "
                    f"(got {safe_text(target, 60)!r})")
        return None

    def _review_alert(self, target: str | None) -> str | None:
        return None

    def _review_log(self, target: str | None) -> str | None:
        return None

    def find_session(self, target: str | None) -> tuple[TmuxSession | None, str]:
        """A session of this snapshot by ``SOCKET:NAME`` or, when unambiguous, ``NAME``."""
        if not target:
            return None, "kill_tmux needs a session"
        exact = [s for s in self.sessions if f"{s.socket}:{s.name}" == target]
        by_name = [s for s in self.sessions if s.name == target]
        found = exact or by_name
        if len(found) == 1:
            return found[0], ""
        if len(found) > 1:
            return None, f"tmux session {safe_text(target, 60)!r} exists on several sockets"
        return None, f"no tmux session {safe_text(target, 60)!r} in this cycle's snapshot"

    # -- carry out ------------------------------------------------------------------

    def carry_out(self, action: Action) -> ActionOutcome:
        why = self.review(action)
        if why is not None:
            log.warning("refused %s %s (%s): %s", action.type,
                        safe_text(str(action.target), 60), action.source, why)
            return ActionOutcome(action, "skipped", f"refused: {why}", {"refused": why})
        signature = (action.type, action.target)
        if signature in self.done and action.type in HOST_ACTIONS:
            return ActionOutcome(action, "skipped", "already done this cycle", {})
        used = self.used.get(action.type, 0)
        if used >= RATE_LIMITS[action.type]:
            return ActionOutcome(action, "skipped",
                                 f"rate limit: at most {RATE_LIMITS[action.type]} "
                                 f"{action.type} per cycle", {"refused": "rate limit"})
        self.used[action.type] = used + 1
        self.done.add(signature)
        if action.type not in HOST_ACTIONS:
            return ActionOutcome(action, "success", "", {})
        act = getattr(self, f"_do_{action.type}")
        outcome: ActionOutcome = act(action)
        log.info("%s %s -> %s (%s)", action.type, safe_text(str(action.target or ""), 60),
                 outcome.result, outcome.detail)
        return outcome

    def _do_restart_service(self, action: Action) -> ActionOutcome:
        from argus.act.services import restart_unit

        unit = str(action.target)
        svc = next(s for s in self.snapshot.services if s.unit == unit)
        details: dict[str, Any] = {"unit": unit, "active_state": svc.active_state,
                                   "sub_state": svc.sub_state, "result": svc.result,
                                   "n_restarts": svc.n_restarts}
        decision = self.backoff.check(unit, self.now)
        if not decision.allowed:
            next_at = iso(decision.next_at) if decision.next_at else None
            details["next_attempt_at"] = next_at
            if unit in self.loops:
                details["restart_loop"] = True
            return ActionOutcome(action, "skipped", f"backoff: {decision.reason}", details)
        details["attempt"] = decision.attempt
        if self.ctx.dry_run:
            return ActionOutcome(action, "dry_run",
                                 f"would restart (attempt {decision.attempt})", details)
        if (watcher := self.ctx.carry.get("unit_events")) is not None:
            watcher.mark_dirty()  # the daemon's collect/unit_events.py: poll next cycle
        result = restart_unit(unit, self.ctx.config.services.scope, self.ctx.run)
        loop = self.backoff.record_attempt(unit, self.now, result.ok)
        details.update(active_state=result.active_state, sub_state=result.sub_state)
        if loop:
            details["restart_loop"] = True
            details["next_attempt_at"] = iso(self.now + self.ctx.config.restart.cooldown)
        return ActionOutcome(action, "success" if result.ok else "failure",
                             f"attempt {decision.attempt}: {result.detail}", details)

    def _do_kill_pid(self, action: Action) -> ActionOutcome:
        from argus.act.processes import kill_process

        proc = self.processes[int(str(action.target))]
        details = {"pid": proc.pid, "name": proc.name, "start_time": proc.start_time,
                   "signal": None}
        problem = self.problems.get(action.problem_key or "")
        if problem is not None and problem.type == "memory":
            # earlyoom's rule (act/hogs.py): re-read memory just before a kill made for
            # memory, and skip it when memory has recovered since the snapshot.
            from argus.act.hogs import memory_recovered

            why = memory_recovered(self.ctx, problem)
            if why is not None:
                return ActionOutcome(action, "skipped", why, details)
        result = kill_process(self.ctx.proc_root, proc, dry_run=self.ctx.dry_run)
        details["signal"] = result.signal
        return ActionOutcome(action, result.result, result.detail, details)

    def _do_kill_tmux(self, action: Action) -> ActionOutcome:
        from argus.act.tmux import kill_session

        session, _ = self.find_session(action.target)
        assert session is not None  # review found it
        result, detail = kill_session(session, self.ctx.run, self.ctx.config.tmux.timeout,
                                      dry_run=self.ctx.dry_run)
        return ActionOutcome(action, result, detail,
                             {"socket": session.socket, "session": session.name})

    def _do_clean_disk(self, action: Action) -> ActionOutcome:
        from argus.act.disk import clean_disk

        # The mount whose figures the record cites: the disk problem's, else /.
        problem = self.problems.get(action.problem_key or "")
        mount = str(problem.details.get("mount", "/")) if problem else "/"
        before = _used_pct(mount)
        if self.ctx.dry_run:
            return ActionOutcome(action, "dry_run", "would clean the safe list",
                                 {"mount": mount, "before_pct": before})
        result = clean_disk(self.ctx.config.disk_cleanup.max_age_days, self.now)
        after = _used_pct(mount)
        details = {"bytes_reclaimed": result.bytes_reclaimed,
                   "files_removed": result.files_removed, "dirs_removed": result.dirs_removed,
                   "before_pct": before, "after_pct": after, "mount": mount,
                   "errors": list(result.errors[:5])}
        text = (f"{mount} {before:.0f}% -> {after:.0f}%, "
                f"{_size(result.bytes_reclaimed)} reclaimed, {result.files_removed} files")
        fixed = after < self.ctx.config.thresholds.disk_crit
        return ActionOutcome(action, "success" if fixed else "failure", text, details)

    def save(self) -> None:
        if self._backoff is not None:
            self._backoff.save()


def _pid(target: str | None) -> int | None:
    text = str(target or "").strip()
    # ASCII digits only: str.isdigit() is also true of "²" or "①", which int() rejects.
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def _used_pct(mount: str) -> float:
    try:
        st = os.statvfs(mount)
    except OSError:
        return -1.0
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    return round(used / (used + avail) * 100, 1) if used + avail else 0.0


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"
