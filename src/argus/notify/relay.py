"""Relay events: problems and resolutions published to the agent stack.

Relay (CONTRACTS.md, "Relay") is a file-based message bus driven by its CLI::

    relay send <to> <json body> --agent <from> --priority high
        --tag argus,problem,<type> --type alert

run as an argv list with ``relay.timeout`` seconds (5 by default, as upstream).
The body is one JSON object: ``event`` (``argus.problem`` or ``argus.resolved``),
``severity``, ``type``, ``description``, ``action_taken``, ``action_result``,
``bead_id``, ``host``, ``ts`` and the problem ``key``.

Argus never degrades because Relay is down: when it is disabled, missing, exits
non-zero (``recipient "athena" not registered``) or hangs, the same event is
appended to the fallback file (``relay.fallback_file``, default
``<state_dir>/relay-fallback.jsonl``) with a ``relay_error`` field saying why, in
order, one write per line under ``flock`` exactly as the registry is written.
Nothing is retried from that file: it is the record of what Relay did not take.
"""

from __future__ import annotations

import json
import os
import re

from argus.act.guard import HOST_ACTIONS
from argus.config import Relay
from argus.logs import INFO, WARNING, get_logger
from argus.record import registry
from argus.sanitize import safe_text
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from argus.model import Problem
    from argus.runner import Runner

log = get_logger("argus.relay")

FALLBACK_NAME = "relay-fallback.jsonl"
EVENT_FIELDS = ("severity", "type", "description", "action_taken", "action_result",
                "bead_id", "host", "ts", "key")
# Agent names end up as argv words: one that starts with "-" would be read as a flag.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
DESCRIPTION_MAX = 1000  # characters; the body must stay far below Relay's 64 KiB


def make_event(event: str, record: dict[str, Any]) -> dict[str, Any]:
    """The event body for a registry record (``event``: argus.problem | argus.resolved)."""
    body: dict[str, Any] = {"event": event}
    for field in EVENT_FIELDS:
        body[field] = record.get(field)
    body["description"] = safe_text(str(body["description"] or ""), DESCRIPTION_MAX)
    return body


def select_events(records: list[dict[str, Any]], problems: dict[str, Problem],
                  entries: dict[str, dict[str, Any]],
                  published: dict[str, float]) -> list[dict[str, Any]]:
    """This cycle's events, in registry order; updates ``published``.

    - ``argus.problem`` for a critical problem whose episode (dedup ``first_seen``)
      was not published yet: an escalation from warning counts, a repeat does not;
    - ``argus.problem`` for a restart loop (``details.restart_loop``), which the
      backoff reports once per series;
    - ``argus.resolved`` for a resolved key that Relay was told about or that has a
      bead; a resolution of something never published would be noise.

    ``published`` maps key -> start of the episode last published (beads.json).
    At most one problem event per key per cycle: the loop's record when there is one.
    """
    events: list[dict[str, Any]] = []
    done: set[str] = set()
    for record in records:
        key = str(record.get("key") or "")
        if not key:
            continue
        if record.get("action_result") == "resolved":
            if key in published or record.get("bead_id"):
                events.append(make_event("argus.resolved", record))
            published.pop(key, None)
            continue
        problem = problems.get(key)
        if problem is None or key in done:
            continue
        recs = [r for r in records if r.get("key") == key]
        loops = [r for r in recs if (r.get("details") or {}).get("restart_loop")]
        started = entries.get(key, {}).get("first_seen")
        if loops or (problem.severity == "critical" and published.get(key) != started):
            done.add(key)
            events.append(make_event("argus.problem", loops[0] if loops else _main(recs)))
            if isinstance(started, (int, float)):
                published[key] = started
    for key in list(published):
        if key not in problems and not entries.get(key, {}).get("active"):
            del published[key]  # over, its resolution missed (e.g. dedup.json rebuilt)
    return events


def _main(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """The record that says most about a problem: its host action's, else the first."""
    for record in recs:
        if str(record.get("action_taken") or "").split(":")[0] in HOST_ACTIONS:
            return record
    return recs[0]


def fallback_path(config: Relay, state_dir: str) -> str:
    return config.fallback_file or os.path.join(state_dir, FALLBACK_NAME)


def publish(config: Relay, run: Runner, state_dir: str,
            events: list[dict[str, Any]]) -> list[str | None]:
    """Send each event, in order; those Relay did not take go to the fallback file.

    Returns, per event, None when Relay took it, else why not. Never raises.
    """
    down = _unusable(config)  # a reason that holds for every event of this run
    outcome: list[str | None] = []
    for event in events:
        error = down
        if error is None:
            error, fatal = _send(config, run, event)
            if fatal:
                down = error  # missing or hung: don't wait 5 s more per event
        outcome.append(error)
    missed = [{**event, "relay_error": error} for event, error in zip(events, outcome, strict=True)
              if error is not None]
    if missed:
        path = fallback_path(config, state_dir)
        level = INFO if not config.enabled else WARNING
        log.log(level, "relay: %d event(s) appended to %s (%s)", len(missed), path,
                missed[0]["relay_error"])
        try:
            directory = os.path.dirname(path)
            if directory:
                os.makedirs(directory, exist_ok=True)
            registry.append(path, missed)
        except OSError as err:
            log.error("relay: cannot append to %s: %s; %d event(s) lost", path,
                      err.strerror or err, len(missed))
    return outcome


def _unusable(config: Relay) -> str | None:
    if not config.enabled:
        return "relay disabled"
    for what, name in (("relay.to", config.to), ("relay.from", config.sender)):
        if not NAME_RE.fullmatch(name):
            return f"{what} is not a valid agent name: {safe_text(name, 40)!r}"
    if not config.bin:
        return "relay.bin is empty"
    return None


def _send(config: Relay, run: Runner, event: dict[str, Any]) -> tuple[str | None, bool]:
    """(None, False) when sent; else (why, whether Relay is unusable for this run)."""
    ptype = str(event.get("type") or "")
    tag = ptype if re.fullmatch(r"[a-z]{1,20}", ptype) else "unknown"
    body = json.dumps(event, ensure_ascii=True, separators=(",", ":"))
    argv = [config.bin, "send", config.to, body, "--agent", config.sender,
            "--priority", "high", "--tag", f"argus,problem,{tag}", "--type", "alert"]
    result = run(argv, config.timeout)
    if result.ok:
        return None, False
    return safe_text(result.describe(), 300), result.missing or result.timed_out
