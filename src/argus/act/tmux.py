"""kill_tmux: kill one session, re-checked just before, targeted so it can't miss.

Session names are chosen by whoever created the session and may hold ``;``,
``$(...)``, spaces, quotes or a leading ``-``. None of that can inject anything:
tmux is run from an argv list (no shell), and the name never reaches the command
line anyway. The target is the session id (``$N``) from a fresh list-sessions: ids
are never reused while the server lives, so a session that was killed and replaced
by another of the same name in the meantime is not hit. Only when the id is unknown
does the target fall back to ``=NAME``, tmux's exact-match form (without the ``=``,
tmux would also accept a prefix or an fnmatch pattern; and a name beginning with
``$`` cannot be targeted by name at all, tmux reads it as an id).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from argus.collect.tmux import _NO_SERVER, FORMAT, parse_sessions, tmux_argv
from argus.model import TmuxSession
from argus.runner import Runner
from argus.sanitize import safe_text

NAME_LIMIT = 80  # characters of a (hostile) session name shown in a detail line


def match_allowed(name: str, patterns: tuple[str, ...]) -> bool:
    """True when the session name matches a ``tmux.kill_allowed`` regex (re.search)."""
    return any(re.search(p, name) for p in patterns)


def _shown(session: TmuxSession) -> str:
    return f"tmux session {safe_text(session.name, NAME_LIMIT)!r} on {session.socket!r}"


class _Lookup(NamedTuple):
    live: TmuxSession | None  # the session as listed now, when it is still there
    why: str  # why it is not there (empty when it is)
    failed: bool = False  # tmux could not be asked: nothing is known


def _current(session: TmuxSession, run: Runner, timeout: float) -> _Lookup:
    """Look ``session`` up afresh on its socket: same name and, when known, same id."""
    result = run(tmux_argv(session.socket, "list-sessions", "-F", FORMAT), timeout)
    if result.missing:
        return _Lookup(None, "tmux is not installed")
    if not result.ok:
        if not result.timed_out and any(s in result.stderr for s in _NO_SERVER):
            return _Lookup(None, f"{_shown(session)} no longer exists (no server)")
        return _Lookup(None, f"cannot list sessions: {result.describe()}", failed=True)
    for live in parse_sessions(session.socket, result.stdout):
        if live.name != session.name:
            continue
        if session.session_id is not None and live.session_id != session.session_id:
            return _Lookup(None, f"{_shown(session)} was replaced by another of the same "
                           f"name ({session.session_id} -> {live.session_id})")
        return _Lookup(live, "")
    return _Lookup(None, f"{_shown(session)} no longer exists")


def kill_session(
    session: TmuxSession, run: Runner, timeout: float, *, dry_run: bool = False
) -> tuple[str, str]:
    """Kill ``session`` (from this cycle's snapshot); returns (result, detail).

    result is "success", "failure", "skipped" (the session is gone or was replaced)
    or "dry_run". ``timeout`` is in seconds, per tmux call. Success means the session
    is no longer listed afterwards, not merely that tmux exited 0.
    """
    found = _current(session, run, timeout)
    if found.live is None:
        return ("failure" if found.failed else "skipped"), found.why
    live = found.live
    target = live.session_id or f"={live.name}"
    if dry_run:
        return "dry_run", f"would kill {_shown(session)} (target {target})"
    result = run(tmux_argv(session.socket, "kill-session", "-t", target), timeout)
    if not result.ok:
        return "failure", f"kill-session {_shown(session)}: {result.describe()}"
    after = _current(live, run, timeout)
    if after.live is not None:
        return "failure", f"{_shown(session)} is still listed after kill-session"
    if after.failed:  # tmux exits 0 only when it found and killed the target
        return "success", f"killed {_shown(session)} ({target}); not re-checked: {after.why}"
    return "success", f"killed {_shown(session)} ({target})"
