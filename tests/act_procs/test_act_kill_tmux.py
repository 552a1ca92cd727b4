"""kill_tmux against a real tmux server on a private socket, hostile names included."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from argus.act.tmux import kill_session, match_allowed
from argus.collect.tmux import collect_tmux, tmux_argv
from argus.model import TmuxSession
from argus.runner import run_command

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Server:
    """A tmux server of our own: ``tmux -L argus-test-<random>``."""

    def __init__(self) -> None:
        self.sock = f"argus-test-{secrets.token_hex(4)}"

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(tmux_argv(self.sock, *args), capture_output=True, text=True,
                              timeout=10, check=False)

    def new(self, name: str) -> None:
        res = self.tmux("new-session", "-d", "-s", name, "sleep", "3600")
        assert res.returncode == 0, res.stderr

    def sessions(self) -> dict[str, TmuxSession]:
        return {s.name: s for s in collect_tmux((self.sock,), run_command, 5)}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.delenv("TMUX", raising=False)  # in case the suite runs inside tmux
    srv = Server()
    yield srv
    srv.tmux("kill-server")


def test_hostile_names_are_killed_one_by_one_and_nothing_else(
        server: Server, tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    assert "." not in str(pwned) and ":" not in str(pwned)  # tmux would rewrite those
    names = ["victim", "a;b", f"$(touch {pwned})", "with space", "-dash", "quote'\"",
             "a", "vic"]
    for name in names:
        server.new(name)
    assert set(server.sessions()) == set(names)

    remaining = set(names)
    # Order matters: "a;b" before "a" (a prefix), "$(...)" while "victim" lives.
    for name in ["a;b", f"$(touch {pwned})", "-dash", "with space", "quote'\"", "vic", "a"]:
        target = server.sessions()[name]
        result, detail = kill_session(target, run_command, 5)
        assert result == "success", detail
        remaining.discard(name)
        assert set(server.sessions()) == remaining, f"killing {name!r} hit another session"
    assert remaining == {"victim"}
    assert not pwned.exists()


def test_session_gone_between_snapshot_and_kill_is_skipped(server: Server) -> None:
    server.new("victim")
    server.new("other")
    snap = server.sessions()["victim"]
    server.tmux("kill-session", "-t", snap.session_id or "")

    result, detail = kill_session(snap, run_command, 5)

    assert result == "skipped"
    assert "no longer exists" in detail and "'victim'" in detail
    assert set(server.sessions()) == {"other"}


def test_session_replaced_by_one_of_the_same_name_is_skipped(server: Server) -> None:
    server.new("victim")
    server.new("other")
    snap = server.sessions()["victim"]
    server.tmux("kill-session", "-t", snap.session_id or "")
    server.new("victim")  # same name, new id

    result, detail = kill_session(snap, run_command, 5)

    assert result == "skipped" and "was replaced" in detail
    assert set(server.sessions()) == {"victim", "other"}


def test_a_vanished_name_never_matches_a_longer_one(server: Server) -> None:
    server.new("vic")
    server.new("victim")
    snap = server.sessions()["vic"]
    server.tmux("kill-session", "-t", snap.session_id or "")
    # Without the id and without '=', tmux would take "vic" as a prefix of "victim".
    result, _ = kill_session(snap._replace(session_id=None), run_command, 5)
    assert result == "skipped"
    assert set(server.sessions()) == {"victim"}


def test_without_a_known_id_the_fresh_listing_supplies_it(server: Server) -> None:
    # tmux reads a target starting with "$" as an id, so "=$(x)" finds nothing: only
    # the id can reach this session. (tmux stores "$" before a letter as "\$".)
    server.new("$(x)")
    server.new("keep")
    snap = server.sessions()["$(x)"]._replace(session_id=None)
    result, detail = kill_session(snap, run_command, 5)
    assert result == "success", detail
    assert set(server.sessions()) == {"keep"}


def test_dry_run_kills_nothing(server: Server) -> None:
    server.new("victim")
    result, detail = kill_session(server.sessions()["victim"], run_command, 5, dry_run=True)
    assert result == "dry_run" and "would kill" in detail
    assert set(server.sessions()) == {"victim"}


def test_killing_the_last_session_ends_the_server_and_is_a_success(server: Server) -> None:
    server.new("only")
    result, detail = kill_session(server.sessions()["only"], run_command, 5)
    assert result == "success", detail
    assert server.sessions() == {}


def test_no_server_means_skipped(server: Server) -> None:
    ghost = TmuxSession(server.sock, "victim", 1, 0.0, False, "$0")
    result, detail = kill_session(ghost, run_command, 5)
    assert result == "skipped" and "no longer exists" in detail


def test_match_allowed() -> None:
    assert match_allowed("claude-42", ("^claude-",))
    assert not match_allowed("victim", ())
    assert not match_allowed("a;b", ("^a$",))
    assert match_allowed("$(x)", (r"\$\(",))
