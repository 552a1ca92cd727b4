"""The bd adapter against the bd stand-in, a real executable: both output shapes,
and every way bd can misbehave turned into a BeadsError rather than a crash."""

from __future__ import annotations

import shutil
import time

import pytest
from escalation_helpers import BD, Env

from argus.runner import run_command
from argus.tickets.beads import BdClient, BeadsError, parse_json, valid_id

KEY_LINE = "Problem key: service:fcb7914492a5b59d"


def client(env: Env, timeout: float = 10.0) -> BdClient:
    path = shutil.which("bd")
    assert path == str(BD)  # found on PATH, as Argus finds the real one
    return BdClient(path, run_command, timeout, str(env.tracker.root))


@pytest.mark.parametrize("envelope", ["0", "1"])
def test_create_find_comment_close_in_both_output_shapes(
        env: Env, monkeypatch: pytest.MonkeyPatch, envelope: str) -> None:
    monkeypatch.setenv("BD_JSON_ENVELOPE", envelope)
    bd = client(env)
    bead = bd.create("[argus] service: nginx down", f"body\n{KEY_LINE}", 1, ["argus", "service"])
    assert valid_id(bead)
    [found] = bd.find_open(KEY_LINE, "argus")
    assert found.id == bead and found.description.endswith(KEY_LINE)
    bd.comment(bead, "seen again at 2026-02-19T23:30:00Z, 2nd time in 24 h")
    assert env.tracker.comments(bead) == ["seen again at 2026-02-19T23:30:00Z, 2nd time in 24 h"]
    bd.close(bead, "resolved")
    assert env.tracker.show(bead)["status"] == "closed"
    assert bd.find_open(KEY_LINE, "argus") == []
    # The actor and the tracker reached bd as flags, never through a shell.
    create = env.bd_calls("create")[0]
    assert create[:3] == ["-C", str(env.tracker.root), "--actor=argus"]
    assert env.tracker.show(bead)["created_by"] == "argus"


def test_the_key_line_must_match_exactly_not_as_a_substring(env: Env) -> None:
    bd = client(env)
    bd.create("t", f"body\n{KEY_LINE}0", 2, ["argus"])  # a longer key, same prefix
    bd.create("t", f"quoting it: {KEY_LINE}", 2, ["argus"])  # mentioned, not its line
    bd.create("t", f"body\n{KEY_LINE}", 2, ["other"])  # not labelled argus
    assert bd.find_open(KEY_LINE, "argus") == []


def test_a_description_that_looks_like_an_option_stays_text(env: Env) -> None:
    bd = client(env)
    bead = bd.create("--help", f"--version\n{KEY_LINE}", 2, ["argus"])
    bd.comment(bead, "-rf")
    issue = env.tracker.show(bead)
    assert issue["title"] == "--help" and issue["description"].startswith("--version")
    assert env.tracker.comments(bead) == ["-rf"]


@pytest.mark.parametrize(("hook", "expected"), [
    ("BD_STANDIN_GARBAGE", "not JSON"),
    ("BD_STANDIN_ODD_ID", "invalid id"),
    ("BD_STANDIN_FAIL", "exit 1: database is locked"),
])
def test_bad_answers_are_errors(env: Env, monkeypatch: pytest.MonkeyPatch, hook: str,
                                expected: str) -> None:
    monkeypatch.setenv(hook, "1")
    with pytest.raises(BeadsError, match=expected) as info:
        client(env).create("t", KEY_LINE, 1, ["argus"])
    assert not info.value.unavailable  # bd answered: the next call may work


def test_a_hang_past_the_timeout_is_an_error_that_stops_further_calls(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BD_STANDIN_HANG", "list")
    started = time.monotonic()
    with pytest.raises(BeadsError, match="timed out after 1s") as info:
        client(env, timeout=1.0).find_open(KEY_LINE, "argus")
    assert time.monotonic() - started < 5
    assert info.value.unavailable


def test_missing_bd_and_odd_ids_never_reach_an_argv(env: Env) -> None:
    missing = BdClient(str(env.tmp_path / "no-such-bd"), run_command, 5.0)
    with pytest.raises(BeadsError, match="not found") as info:
        missing.find_open(KEY_LINE, "argus")
    assert info.value.unavailable
    bd = client(env)
    for odd in ("-rf", "ops-1; rm -rf ~", "../../etc/passwd", "ops-1\nops-2", ""):
        with pytest.raises(BeadsError, match="invalid bead id"):
            bd.close(odd, "x")
    assert env.bd_calls("close") == []


def test_parse_json_takes_both_shapes_and_nothing_else() -> None:
    assert parse_json('{"id": "bd-1"}') == {"id": "bd-1"}
    assert parse_json('{"schema_version": 1, "data": [{"id": "bd-1"}]}') == [{"id": "bd-1"}]
    with pytest.raises(BeadsError):
        parse_json("Created issue: bd-1")
    assert valid_id("bd-a3f8e9.1") and valid_id("my_proj-x1") and not valid_id("bd")
