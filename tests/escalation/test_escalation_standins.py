"""The bd and relay stand-ins keep the documented contract (CONTRACTS.md).

If a stand-in drifted from the contract, every other escalation test would prove
nothing; so these pin the behaviour Argus relies on, upstream's trap included (the
default list limit of 50, with the hint on stderr only).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from escalation_helpers import BD, RELAY, Env


def run(argv: list[str], cwd: Path | None = None,
        **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=30,
                          env={**os.environ, **extra}, check=False)


def test_create_prints_the_issue_or_only_its_id_and_the_envelope_wraps_both(env: Env) -> None:
    t = env.tracker
    issue = json.loads(t.bd("create", "--title", "a", "--description", "d", "--type", "bug",
                            "--priority", "1", "--labels", "argus,disk", "--json").stdout)
    assert issue["id"].startswith("ops-") and issue["status"] == "open"
    assert issue["labels"] == ["argus", "disk"] and issue["priority"] == 1
    assert issue["issue_type"] == "bug" and issue["description"] == "d"
    silent = t.bd("create", "--title=b", "--silent").stdout.strip()
    assert silent.startswith("ops-") and "\n" not in silent
    wrapped = run([str(BD), "-C", str(t.root), "list", "--json"], BD_JSON_ENVELOPE="1")
    data = json.loads(wrapped.stdout)
    assert data["schema_version"] == 1 and [i["id"] for i in data["data"]] == [
        issue["id"], silent]


def test_list_stops_at_50_by_default_and_says_so_on_stderr_only(env: Env) -> None:
    t = env.tracker
    t.seed(51)
    cut = t.bd("list", "--status", "open", "--json")
    assert len(json.loads(cut.stdout)) == 50
    assert "Showing 50 of 51" in cut.stderr and "Showing" not in cut.stdout
    assert len(json.loads(t.bd("list", "--limit", "0", "--json").stdout)) == 51
    narrow = t.bd("list", "--status=open", "--label=argus",
                  f"--desc-contains=problem key: other:{50:016x}", "--json")
    assert [i["title"] for i in json.loads(narrow.stdout)] == ["[argus] other problem 50"]
    assert json.loads(t.bd("list", "--label", "nope", "--json").stdout) == []


def test_close_exits_1_when_nothing_was_closed_and_comments_are_kept(env: Env) -> None:
    t = env.tracker
    bead = t.bd("create", "--title=x", "--silent").stdout.strip()
    t.bd("comments", "add", bead, "first")
    t.bd("comment", bead, "second")
    assert t.comments(bead) == ["first", "second"]
    closed = t.bd("close", bead, "--reason", "fixed", "--json")
    assert json.loads(closed.stdout)[0]["status"] == "closed"
    again = t.bd("close", bead, check=False)
    assert again.returncode == 1 and again.stderr.startswith("Error: ")
    as_json = t.bd("close", "ops-nope", "--json", check=False)
    assert as_json.returncode == 1 and "error" in json.loads(as_json.stderr)


def test_the_database_is_found_from_beads_dir_or_by_walking_up(env: Env,
                                                               tmp_path: Path) -> None:
    t = env.tracker
    bead = t.bd("create", "--title=x", "--silent").stdout.strip()
    deep = t.root / "a" / "b"
    deep.mkdir(parents=True)
    assert bead in run([str(BD), "list"], cwd=deep).stdout
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert bead in run([str(BD), "list"], cwd=elsewhere,
                       BEADS_DIR=str(t.root / ".beads")).stdout
    lost = run([str(BD), "list"], cwd=elsewhere)
    assert lost.returncode == 1 and "no beads database found" in lost.stderr


def test_relay_appends_to_the_inbox_and_refuses_an_unregistered_recipient(env: Env) -> None:
    sent = run([str(RELAY), "send", "athena", '{"event":"x"}', "--agent", "argus",
                "--priority", "high", "--tag", "argus,problem,disk", "--type", "alert"])
    assert sent.returncode == 0 and sent.stdout.startswith("sent message to athena (id: ")
    [message] = env.relay.inbox()
    assert message["from"] == "argus" and message["tags"] == ["argus", "problem", "disk"]
    assert message["body"] == '{"event":"x"}' and message["type"] == "alert"
    refused = run([str(RELAY), "send", "hermes", "hi"])
    assert refused.returncode == 1
    assert refused.stderr.strip() == 'relay: send: recipient "hermes" not registered'
    bad = run([str(RELAY), "send", "athena", "hi", "--type", "shout"])
    assert bad.returncode == 1 and bad.stderr.startswith("relay: ")
