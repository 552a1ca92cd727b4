"""What a bead says: its body from a problem and its records.

The journal is read with the context's runner; here a runner that answers
``journalctl`` with what a crashing unit logs (hostile bytes included) and runs
anything else for real, since no journal is reachable for the namespaced units of
the other tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from argus.config import build_config
from argus.context import Context, make_context
from argus.model import Problem
from argus.runner import CommandResult, run_command
from argus.tickets.beads import TEXT_MAX, _text
from argus.tickets.report import bead_body, bead_title, ordinal

JOURNAL = "Started nginx.\n\x1b[31mnginx: [emerg] bind() to 0.0.0.0:80 failed\x1b[0m\nexit 1\n"


def context(tmp_path: Path, seen: list[list[str]]) -> Context:
    def run(argv: Sequence[str], timeout: float, *, input_text: str | None = None,
            env: Mapping[str, str] | None = None, cwd: str | None = None) -> CommandResult:
        if argv[0] == "journalctl":
            seen.append(list(argv))
            return CommandResult(tuple(argv), 0, JOURNAL, "")
        return run_command(argv, timeout, input_text=input_text, env=env, cwd=cwd)

    config = build_config({"services": {"scope": "system"}}, "test", {})
    return make_context(config, str(tmp_path / "state"), env={}, host="web-1", runner=run)


def test_a_service_bead_quotes_the_unit_journal_and_ends_with_the_key(tmp_path: Path) -> None:
    seen: list[list[str]] = []
    ctx = context(tmp_path, seen)
    problem = Problem.make("service", "critical", "service:nginx.service",
                           "Service nginx.service is failed (exit code 1)",
                           {"unit": "nginx.service", "active_state": "failed"})
    rec = {"action_taken": "restart_service:nginx.service", "action_result": "failure",
           "ts": "2026-02-19T23:30:00Z",
           "details": {"action_detail": "attempt 1: still failed", "attempt": 1}}
    body = bead_body(ctx, problem, [rec], ["restart_service:nginx.service failed"], 1,
                     None).splitlines()
    assert seen == [["journalctl", "-u", "nginx.service", "-n", "10", "--no-pager", "-o",
                     "cat"]]
    at = body.index("Last 3 journal lines of nginx.service:")
    assert body[at + 1:at + 4] == ["    Started nginx.",
                                   "    nginx: [emerg] bind() to 0.0.0.0:80 failed",
                                   "    exit 1"]
    assert "Action: restart_service:nginx.service -> failure (attempt 1: still failed)" in body
    assert "- attempt: 1" in body and "- action_detail" not in "\n".join(body)
    assert body[-1] == f"Problem key: {problem.key}"
    assert bead_title(problem) == "[argus] service: Service nginx.service is failed (exit code 1)"


def test_a_memory_bead_lists_the_hogs_and_reads_no_journal(tmp_path: Path) -> None:
    seen: list[list[str]] = []
    hog = {"pid": 4242, "name": "node", "rss_bytes": 3 * 2**30, "mem_pct": 41.5,
           "runtime_s": 7200, "user": "agent", "unit": "agent.service"}
    problem = Problem.make("memory", "critical", "memory:host", "memory at 95% (..)",
                           {"pct": 95.0, "hogs": [hog]})
    rec = {"action_taken": "alert", "action_result": "success", "details": {}}
    body = bead_body(context(tmp_path, seen), problem, [rec], ["x"], 4, 1771543800.0)
    assert seen == []
    assert ("    pid 4242 node: 3072 MB RSS, 41.5% of RAM, running 7200 s, user agent, "
            "unit agent.service") in body.splitlines()
    assert "First seen: 2026-02-19T23:30:00Z" in body and "Occurrences in 24 h: 4" in body


def test_a_huge_body_is_cut_but_keeps_its_key_line() -> None:
    text = "\n".join(["x" * 900] * 100 + ["Problem key: disk:0123456789abcdef"])
    cut = _text(text)
    assert len(cut) <= TEXT_MAX and cut.endswith("\nProblem key: disk:0123456789abcdef")


def test_ordinals() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]
