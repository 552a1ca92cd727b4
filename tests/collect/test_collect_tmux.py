"""tmux: a real server on a private socket, with sessions whose names are hostile."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from argus.collect.tmux import collect_tmux, socket_path
from argus.errors import CollectError
from argus.runner import CommandResult, run_command

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")

HOSTILE_NAMES = ["a;b", "$(touch /tmp/argus-pwned)", "with space", "-dash", "quote'\"",
                 "ünï😀", "back\\slash", "tab\there", "new\nline", "dot.colon:"]
# tmux's own names for those (session_check_name): ':' and '.' become '_', and
# backslash, tab and newline are vis(3)-escaped. These are the names that work as
# "-t =NAME" targets, so they are what Argus must report.
TMUX_NAMES = [*HOSTILE_NAMES[:6], "back\\\\slash", "tab\\there", "new\\nline", "dot_colon_"]


class CountingRunner:
    """The real runner, counting what it ran (to prove the pre-check spawns nothing)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.env = env

    def __call__(self, argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        self.calls.append(tuple(argv))
        return run_command(argv, timeout, env=self.env, **kw)


@pytest.fixture
def server() -> Iterator[str]:
    """A tmux server on a private -L socket with the hostile sessions; killed at the end."""
    name = f"argus-test-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_TMPDIR")}
    try:
        for i, session in enumerate(HOSTILE_NAMES):
            argv = ["tmux", "-L", name, "new-session", "-d", "-s", session]
            if i == 0:  # a second window in the first session
                argv += [";", "new-window", "-d"]
            subprocess.run(argv, check=True, env=env, timeout=10)
        yield name
    finally:
        subprocess.run(["tmux", "-L", name, "kill-server"], env=env, timeout=10,
                       capture_output=True, check=False)
        # tmux 3.3 leaves the socket file behind; don't litter /tmp/tmux-UID.
        if os.path.exists(socket_path(name)):
            os.unlink(socket_path(name))


def test_lists_hostile_sessions_exactly(server: str) -> None:
    before = time.time()
    sessions = collect_tmux(("does-not-exist-" + uuid.uuid4().hex[:6], server),
                            run_command, 5.0)
    by_name = {s.name: s for s in sessions}
    assert set(by_name) == set(TMUX_NAMES)
    assert by_name["a;b"].windows == 2
    for s in sessions:
        assert s.socket == server and not s.attached
        assert s.created <= before + 1 and s.created > before - 120
        if s.name != "a;b":
            assert s.windows == 1
    assert not os.path.exists("/tmp/argus-pwned")
    for s in sessions:
        # The id always works as a target; the name works as an exact "=NAME" target
        # too, except when it starts with '$' (tmux reads that as an id).
        assert s.session_id is not None and s.session_id.startswith("$")
        targets = [s.session_id] if s.name.startswith("$") else [s.session_id, "=" + s.name]
        for target in targets:
            subprocess.run(["tmux", "-L", server, "has-session", "-t", target],
                           check=True, timeout=10)
    dollar = next(s for s in sessions if s.name.startswith("$"))
    assert subprocess.run(["tmux", "-L", server, "has-session", "-t", "=" + dollar.name],
                          capture_output=True, timeout=10).returncode != 0


def test_socket_path_form(server: str) -> None:
    path = socket_path(server)
    assert os.path.exists(path)
    sessions = collect_tmux((path,), run_command, 5.0)
    assert {s.name for s in sessions} == set(TMUX_NAMES)
    assert all(s.socket == path for s in sessions)


def test_no_server_spawns_nothing() -> None:
    runner = CountingRunner()
    name = f"argus-none-{uuid.uuid4().hex[:8]}"
    assert collect_tmux((name, "/nonexistent/dir/sock"), runner, 5.0) == ()
    assert runner.calls == []


def test_stale_socket_means_no_sessions() -> None:
    """The socket file outlived its server (a crash): tmux says 'error connecting'."""
    name = f"argus-stale-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    subprocess.run(["tmux", "-L", name, "new-session", "-d", "-s", "x"], check=True,
                   env=env, timeout=10)
    path = socket_path(name)
    pid = int(subprocess.run(["tmux", "-L", name, "display-message", "-p", "#{pid}"],
                             capture_output=True, check=True, env=env, timeout=10).stdout)
    os.kill(pid, 9)  # leaves the socket file behind
    try:
        for _ in range(100):
            if not os.path.exists(f"/proc/{pid}"):
                break
            time.sleep(0.05)
        assert os.path.exists(path)
        runner = CountingRunner()
        assert collect_tmux((name,), runner, 5.0) == ()
        assert len(runner.calls) == 1
    finally:
        if os.path.exists(path):
            os.unlink(path)


def test_missing_tmux_binary(server: str) -> None:
    runner = CountingRunner(env={"PATH": "/nonexistent"})
    assert collect_tmux((server,), runner, 5.0) == ()
    assert len(runner.calls) == 1  # it did try: the socket exists


def test_other_failures_are_reported(server: str) -> None:
    def failing(argv: Sequence[str], timeout: float, **kw: Any) -> CommandResult:
        return CommandResult(tuple(argv), -9, "", "tmux: timed out after 5s", timed_out=True)

    with pytest.raises(CollectError, match="timed out"):
        collect_tmux((server,), failing, 5.0)


def test_private_tmpdir(tmp_path: Any) -> None:
    """TMUX_TMPDIR moves the -L socket; the pre-check follows it."""
    sock_dir = tmp_path / f"tmux-{os.getuid()}"
    sock_dir.mkdir(mode=0o700)
    (sock_dir / "x").write_text("")  # a plain file, not a live server
    assert socket_path("x", tmpdir=str(tmp_path)) == str(sock_dir / "x")
    runner = CountingRunner()
    collect_tmux(("y",), runner, 5.0, tmpdir=str(tmp_path))
    assert runner.calls == []
