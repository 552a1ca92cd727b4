"""The ``bd`` adapter: create, look up, comment on and close beads.

It targets the beads CLI 1.0.x, whose contract is in CONTRACTS.md ("Beads"):

- every call is an argv list run through the context's runner (never a shell),
  with ``beads.timeout`` seconds; text values are passed as ``--flag=value`` and
  positionals after ``--``, so a description that starts with ``-`` can never be
  read as an option;
- the tracker is chosen by bd itself: ``$BEADS_DIR``, else a walk up from the
  working directory, which ``-C beads.workdir`` sets like ``git -C``;
- ``--json`` output is parsed in both shapes bd prints: the bare value, and the
  ``{"schema_version": 1, "data": ...}`` envelope (``BD_JSON_ENVELOPE=1``, the
  default planned for bd 2.0);
- anything else (output that is not that JSON, an id with characters a bead id
  never has, a non-zero exit, a hang past the timeout, bd missing) raises
  ``BeadsError``, which the caller records; ``unavailable`` says whether more bd
  calls this cycle are pointless (missing or hung), so one hung bd costs one
  timeout per cycle, not one per problem.
"""

from __future__ import annotations

import json
import re

from argus.errors import ActionError
from argus.sanitize import safe_text
from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Any

    from argus.runner import CommandResult, Runner

# bd ids are "<prefix>-<hash>" ("bd-a1b2", "ops_x-3f9c2e"), children add ".N"
# ("bd-a1b2.1"). Anything else (spaces, quotes, "/", a leading "-", newlines) is not
# an id bd made, and must not reach an argv or a registry record.
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}-[A-Za-z0-9]{1,24}(?:\.[0-9]{1,6}){0,4}")
ISSUE_TYPES = ("bug", "feature", "task", "epic", "chore")
TEXT_MAX = 16_000  # characters of a description or comment; bd has no small limit
ERROR_MAX = 300  # characters of bd's own error text kept in a record


class BeadsError(ActionError):
    """A bd call did not do what was asked. ``unavailable``: bd is missing or hung,
    so the rest of this cycle should not call it again."""

    def __init__(self, message: str, *, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable


class Bead(NamedTuple):
    """One issue as ``bd list --json`` shows it (only the fields Argus reads)."""

    id: str
    status: str
    description: str
    created_at: str


def valid_id(value: Any) -> bool:
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None


def parse_json(stdout: str) -> Any:
    """bd's ``--json`` output in either shape; BeadsError when it is neither."""
    text = stdout.strip()
    try:
        data = json.loads(text)
    except ValueError:
        raise BeadsError(f"bd printed something that is not JSON: "
                         f"{safe_text(text, 80)!r}") from None
    if isinstance(data, dict) and "schema_version" in data and "data" in data:
        return data["data"]  # the envelope
    return data


class BdClient:
    """bd at ``bd`` (an absolute path), run by ``run`` with ``timeout`` seconds per call.

    ``workdir``: where bd looks for its ``.beads`` (``-C``); empty for Argus's own
    working directory or ``$BEADS_DIR``. ``actor``: who bd records as the author.
    """

    def __init__(self, bd: str, run: Runner, timeout: float, workdir: str = "",
                 actor: str = "argus") -> None:
        self.bd = bd
        self.run = run
        self.timeout = timeout
        self.workdir = workdir
        self.actor = actor
        self.calls = 0  # bd invocations made, for the log and the tests

    def create(self, title: str, description: str, priority: int, labels: list[str],
               issue_type: str = "bug") -> str:
        """``bd create ... --json``; the new bead's id."""
        if issue_type not in ISSUE_TYPES or not 0 <= priority <= 4:
            raise BeadsError(f"bad bead type {issue_type!r} or priority {priority}")
        out = self._call("create", f"--title={_flat(title, 200)}",
                         f"--description={_text(description)}", f"--type={issue_type}",
                         f"--priority={priority}", f"--labels={','.join(labels)}", "--json")
        issue = parse_json(out)
        if not isinstance(issue, dict):
            raise BeadsError(f"bd create printed {type(issue).__name__}, not an issue object")
        bead_id = issue.get("id")
        if not valid_id(bead_id):
            raise BeadsError(f"bd create returned an invalid id {safe_text(str(bead_id), 60)!r}")
        return str(bead_id)

    def find_open(self, marker: str, label: str) -> list[Bead]:
        """Open beads labelled ``label`` whose description has the line ``marker``.

        ``--limit=0``: bd lists 50 by default and says so on stderr only, so an
        unlimited list is the only way not to miss one (upstream Argus created
        duplicates that way). ``--desc-contains`` keeps the answer small anyway; the
        line is checked again here, since bd matches substrings, case-insensitively.
        """
        out = self._call("list", "--status=open", f"--label={label}",
                         f"--desc-contains={marker}", "--limit=0", "--json")
        issues = parse_json(out)
        if not isinstance(issues, list):
            raise BeadsError(f"bd list printed {type(issues).__name__}, not a list")
        found = []
        for issue in issues:
            if not isinstance(issue, dict):
                continue
            description = str(issue.get("description") or "")
            if issue.get("status", "open") != "open" or marker not in description.splitlines():
                continue
            found.append(Bead(str(issue.get("id")), "open", description,
                              str(issue.get("created_at") or "")))
        found.sort(key=lambda b: b.created_at)  # the oldest is the one to keep using
        return found

    def comment(self, bead_id: str, text: str) -> None:
        """``bd comments add ID TEXT``."""
        self._check_id(bead_id)
        self._call("comments", "add", "--", bead_id, _text(text))

    def close(self, bead_id: str, reason: str) -> None:
        """``bd close ID --reason TEXT --json``; BeadsError when nothing was closed."""
        self._check_id(bead_id)
        out = self._call("close", f"--reason={_flat(reason, 500)}", "--json", "--", bead_id)
        closed = parse_json(out)
        if closed == [] or closed is None:
            raise BeadsError(f"bd close {bead_id}: nothing was closed")

    def _check_id(self, bead_id: str) -> None:
        if not valid_id(bead_id):
            raise BeadsError(f"refusing an invalid bead id {safe_text(bead_id, 60)!r}")

    def _argv(self, *args: str) -> list[str]:
        argv = [self.bd]
        if self.workdir:
            argv += ["-C", self.workdir]
        return [*argv, f"--actor={self.actor}", *args]

    def _call(self, *args: str) -> str:
        self.calls += 1
        result = self.run(self._argv(*args), self.timeout)
        if result.missing or result.timed_out:
            what = "not found" if result.missing else f"timed out after {self.timeout:g}s"
            raise BeadsError(f"bd {args[0]}: {what}", unavailable=True)
        if result.returncode != 0:
            raise BeadsError(f"bd {args[0]}: exit {result.returncode}: {_error_text(result)}")
        return result.stdout


def _error_text(result: CommandResult) -> str:
    """bd's error: ``Error: ...`` on stderr, or a JSON object there with ``--json``."""
    text = result.stderr.strip() or result.stdout.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("error"):
        text = str(data["error"])
    lines = text.splitlines()
    return safe_text(lines[-1] if lines else "no message", ERROR_MAX)


def _flat(text: str, limit: int) -> str:
    """One line: titles and reasons never carry newlines or control characters."""
    return safe_text(" ".join(text.split()), limit)


def _text(text: str) -> str:
    """Multi-line text kept as lines, each made safe; bounded in size.

    When cut, the last line is kept: a bead's description ends with the
    ``Problem key:`` line that finds it again.
    """
    lines = [safe_text(line, 1000) for line in text.splitlines()] or [""]
    out = "\n".join(lines)
    if len(out) <= TEXT_MAX:
        return out
    last = lines[-1]
    return out[:TEXT_MAX - len(last) - 2] + "…\n" + last
