"""tmux sessions on the configured sockets, as ``tmux list-sessions`` reports them.

Session names are kept exactly as tmux has them (they are kill targets later);
whoever displays them runs them through ``argus.sanitize.safe_text``.
"""

from __future__ import annotations

import os

from argus.errors import CollectError
from argus.model import TmuxSession
from argus.runner import Runner

FORMAT = ("#{session_id}\t#{session_name}\t#{session_windows}\t#{session_created}"
          "\t#{session_attached}")
# What tmux prints when nobody is listening: not an error, just no sessions.
_NO_SERVER = ("no server running", "error connecting to", "no sessions")


def socket_path(sock: str, *, tmpdir: str | None = None, uid: int | None = None) -> str:
    """Where the server for ``sock`` listens: a path as is, a ``-L`` name resolved.

    tmux(1), -L: the socket is ``$TMUX_TMPDIR/tmux-UID/NAME``, ``/tmp`` when
    TMUX_TMPDIR is unset or empty; UID is the real uid (tmux calls getuid()).
    """
    if "/" in sock:
        return sock
    if tmpdir is None:
        tmpdir = os.environ.get("TMUX_TMPDIR") or "/tmp"
    uid = os.getuid() if uid is None else uid
    return os.path.join(tmpdir, f"tmux-{uid}", sock)


def tmux_argv(sock: str, *args: str) -> list[str]:
    """``tmux -L NAME ...`` for a socket name, ``tmux -S PATH ...`` for a path."""
    return ["tmux", "-S" if "/" in sock else "-L", sock, *args]


def parse_sessions(sock: str, stdout: str) -> list[TmuxSession]:
    """Parse list-sessions output in FORMAT.

    Names may hold spaces, quotes, ';' or '$()'; tmux rewrites ':' and '.' to '_'
    and escapes backslashes, tabs and newlines (session_check_name, vis(3)), so a
    line is one session. The id ("$N") is split off the left and the three numeric
    fields off the right, so whatever the name holds stays in the middle, intact.
    """
    out = []
    for line in stdout.splitlines():
        session_id, _, rest = line.partition("\t")
        parts = rest.rsplit("\t", 3)
        if len(parts) != 4 or not session_id.startswith("$"):
            continue
        name, windows, created, attached = parts
        try:
            out.append(TmuxSession(
                socket=sock,
                name=name,
                windows=int(windows),
                created=float(created),
                attached=int(attached) > 0,  # number of clients attached
                session_id=session_id,
            ))
        except ValueError:
            continue
    return out


def collect_tmux(
    sockets: tuple[str, ...], run: Runner, timeout: float, *, tmpdir: str | None = None
) -> tuple[TmuxSession, ...]:
    """Sessions on every socket; a socket with no server, or no tmux at all, has none.

    A ``-L`` name whose socket file does not exist is skipped without spawning tmux
    (the common case: no server on "default"), and so is a ``-S`` path that doesn't
    exist. ``tmpdir`` overrides $TMUX_TMPDIR. Raises CollectError, after trying every
    socket, when tmux failed for some other reason (a timeout, a permission error).
    """
    sessions: list[TmuxSession] = []
    failures: list[str] = []
    for sock in sockets:
        if not os.path.exists(socket_path(sock, tmpdir=tmpdir)):
            continue
        result = run(tmux_argv(sock, "list-sessions", "-F", FORMAT), timeout)
        if result.missing:
            return ()  # no tmux binary: no server could be running either
        if result.ok:
            sessions.extend(parse_sessions(sock, result.stdout))
        elif result.timed_out or not any(s in result.stderr for s in _NO_SERVER):
            failures.append(f"{sock}: {result.describe()}")
    if failures:
        raise CollectError("; ".join(failures))
    return tuple(sessions)
