"""What happens to detected patterns: printed, filed as the day's bead, remembered.

- ``argus patterns`` prints them (``--json``: as JSON); that alone writes nothing.
- ``--create-beads`` (the systemd timer, and the daemon once a day) files **one
  summary bead per day** listing the patterns, through the bd adapter
  (tickets/beads.py). A pattern signature is reported at most once per local day:
  a second run the same day files nothing for the signatures already reported, and
  adds those it did not know yet to the day's bead as a comment. Before creating
  one, the tracker is asked for an open bead marked with the day (``bd list``), so
  a lost ``patterns.jsonl`` does not mean a second bead; a failed lookup means no
  bead at all rather than a blind one. Without bd, or with ``beads.enabled =
  false``, beads are skipped quietly (one log line).
- ``<state_dir>/patterns.jsonl`` records it, one line per event, appended under
  ``flock`` (registry.append): ``"event": "emit"`` per pattern reported (the whole
  pattern and its ``bead_id``), then ``"event": "run"`` per ``--create-beads`` run
  (how many found and emitted, and what happened with bd). The daemon reads the last
  ``run`` to know whether a day has passed. The whole run holds an ``flock`` on
  ``patterns.jsonl.lock``, so the timer and the daemon cannot both file the day's bead.
"""

from __future__ import annotations

import json
import os
import sys

from argus.analyze.pattern import Pattern
from argus.analyze.patterns import detect, local_day, pattern_to_json
from argus.errors import ExitStatus, UsageError
from argus.logs import get_logger
from argus.record import registry
from argus.sanitize import safe_text
from argus.tickets.ledger import locked
from argus.timefmt import iso, parse_duration, parse_iso
from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import argparse
    from typing import Any

    from argus.context import Context
    from argus.tickets.beads import BdClient

log = get_logger("argus.patterns")

DEFAULT_WINDOW = "7d"
DEFAULT_WINDOW_S = 7 * 86400.0
DAY_S = 86400.0
LABELS = ["argus", "patterns"]
PRIORITY = {"critical": 1, "warning": 2, "info": 3}  # as tickets/escalate.py


class Filing(NamedTuple):
    """What a ``--create-beads`` run did with bd."""

    outcome: str  # created | commented | nothing new | skipped | failed
    bead_id: str | None
    emitted: list[Pattern]
    detail: str


def marker(host: str, day: str) -> str:
    """The last line of the day's bead: what finds it again."""
    return f"Argus patterns: {host} {day}"


def patterns_command(ctx: Context, args: argparse.Namespace) -> int:
    try:
        window_s = parse_duration(args.window)
    except ValueError as err:
        raise UsageError(f"--window: {err}") from None
    if window_s < DAY_S:
        raise UsageError("--window: at least 1d (patterns are about days)")
    now = ctx.clock()
    found, notes = detect(ctx, window_s, now)
    filing = file_patterns(ctx, found, window_s, now, "cli") if args.create_beads else None
    if args.json:
        out: dict[str, Any] = {"generated_at": iso(now), "host": ctx.host,
                               "window": args.window, "window_s": window_s,
                               "patterns": [pattern_to_json(p) for p in found],
                               "notes": notes}
        if filing is not None:
            out["beads"] = {"outcome": filing.outcome, "bead_id": filing.bead_id,
                            "emitted": [p.signature for p in filing.emitted],
                            "detail": filing.detail}
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(found, notes, args.window, filing))
    return ExitStatus.FAILED if filing is not None and filing.outcome == "failed" \
        else ExitStatus.OK


def render(found: list[Pattern], notes: list[str], window: str, filing: Filing | None) -> str:
    lines = [f"{len(found)} pattern(s) in the last {window}" + (":" if found else ".")]
    for p in found:
        lines += ["", f"[{p.severity}] {safe_text(p.title, 300)}",
                  f"  {p.kind}: {_evidence_line(p.kind, p.evidence)}",
                  f"  what to do: {safe_text(p.recommendation, 600)}"]
    if notes:
        lines.append("")
        lines += [f"note: {safe_text(n, 300)}" for n in notes]
    if filing is not None:
        bead = f" {filing.bead_id}" if filing.bead_id else ""
        lines += ["", f"beads: {filing.outcome}{bead}"
                  + (f" ({safe_text(filing.detail, 200)})" if filing.detail else "")]
    return "\n".join(lines) + "\n"


# The figures a person reads first, per kind; --json has them all.
SHOWN = {
    "disk_fill": ("used_pct", "slope_pct_per_day", "bytes_per_day", "free_bytes", "r2",
                  "span_s", "predicted_full"),
    "memory_creep": ("series", "rate_bytes_per_day", "first_bytes", "last_bytes", "days",
                     "restarts_seen", "p_value"),
    "restart_loop_daily": ("days", "restarts", "failures"),
    "recurring_key": ("key", "start_days", "episodes", "longest_episode_s",
                      "last_description"),
    "time_of_day": ("key", "times", "timezone", "p_value"),
    "day_of_week": ("key", "dates", "timezone", "p_value"),
}


def _evidence_line(kind: str, evidence: dict[str, Any]) -> str:
    parts = []
    for key in SHOWN.get(kind, tuple(evidence)):
        value = evidence.get(key)
        if value is None or value == [] or (value == 0 and key.endswith("_s")):
            continue
        if isinstance(value, dict):
            shown = " ".join(f"{k}:{v}" for k, v in value.items())
        elif isinstance(value, list):
            shown = " ".join(str(v) for v in value)
        elif key.endswith("bytes") or key.endswith("bytes_per_day"):
            shown = _size(float(value))
        elif key.endswith("_s"):
            shown = f"{float(value) / 3600:.1f} h"
        elif isinstance(value, float):
            shown = f"{value:.4g}"
        else:
            shown = str(value)
        parts.append(f"{key}={safe_text(shown, 120)}")
    return ", ".join(parts)


def _size(n: float) -> str:
    return f"{n / 1024**3:.1f} GB" if abs(n) >= 1024**3 else f"{n / 1024**2:.0f} MB"


# --- the daily bead and patterns.jsonl --------------------------------------------------

def file_patterns(ctx: Context, found: list[Pattern], window_s: float, now: float,
                  trigger: str) -> Filing:
    """Report today's new patterns in the day's bead and record the run. Never raises
    for bd; an unwritable ``patterns.jsonl`` raises OSError (the caller says so)."""
    path = ctx.paths.patterns
    with locked(path):
        today = local_day(now)
        reported, bead_id = reported_today(path, today)
        new = [p for p in found if p.signature not in reported]
        filing = Filing("nothing new", bead_id, [], "") if not new else \
            _file(ctx, new, bead_id, today, now)
        lines = [{"ts": iso(now), "day": today, "event": "emit", "host": ctx.host,
                  "bead_id": filing.bead_id, **pattern_to_json(p)} for p in filing.emitted]
        lines.append({"ts": iso(now), "day": today, "event": "run", "host": ctx.host,
                      "trigger": trigger, "window_s": window_s, "found": len(found),
                      "emitted": len(filing.emitted), "beads": filing.outcome,
                      "bead_id": filing.bead_id, "detail": filing.detail})
        registry.append(path, lines)
    if filing.outcome == "failed":
        log.warning("patterns: bead not filed: %s", filing.detail)
    elif filing.emitted:
        log.info("patterns: %d reported in %s (%s)", len(filing.emitted), filing.bead_id,
                 filing.outcome)
    return filing


def reported_today(path: str, today: str) -> tuple[set[str], str | None]:
    """Signatures already reported on ``today``, and the day's bead id if there is one."""
    signatures: set[str] = set()
    bead_id = None
    for line in registry.iter_records(path):
        if line.get("event") == "emit" and line.get("day") == today:
            signatures.add(str(line.get("signature")))
            bead_id = bead_id or line.get("bead_id")
    return signatures, bead_id if isinstance(bead_id, str) else None


def last_run(path: str) -> float | None:
    """When the last ``--create-beads`` run was recorded (epoch seconds), or None."""
    latest = None
    for line in registry.iter_records(path):
        if line.get("event") == "run":
            ts = parse_iso(str(line.get("ts", "")))
            if ts is not None and (latest is None or ts > latest):
                latest = ts
    return latest


def bd_client(ctx: Context) -> tuple[BdClient | None, str]:
    """The bd adapter as escalation builds it, or None and why not."""
    cfg = ctx.config.beads
    if not cfg.enabled:
        return None, "beads.enabled = false"
    import shutil

    bd = shutil.which("bd")
    if bd is None:
        return None, "bd is not on PATH"
    from argus.tickets.beads import BdClient

    return BdClient(bd, ctx.run, cfg.timeout, os.path.expanduser(cfg.workdir)
                    if cfg.workdir else ""), ""


def _file(ctx: Context, new: list[Pattern], bead_id: str | None, today: str,
          now: float) -> Filing:
    from argus.tickets.beads import valid_id

    client, why = bd_client(ctx)
    if client is None:
        log.info("patterns: beads skipped: %s", why)
        return Filing("skipped", bead_id, [], why)
    mark = marker(ctx.host, today)
    try:
        if bead_id is None:  # never create blind: a lost patterns.jsonl must not duplicate
            bead_id = next((b.id for b in client.find_open(mark, LABELS[0])
                            if valid_id(b.id)), None)
        if bead_id is not None:
            client.comment(bead_id, "\n".join([f"More patterns found at {iso(now)}:",
                                               *_listing(new)]))
            return Filing("commented", bead_id, new, "")
        worst = min(PRIORITY.get(p.severity, 3) for p in new)
        title = f"[argus] {len(new)} pattern(s) on {ctx.host}, {today}: {new[0].title}"
        body = "\n".join([f"Patterns Argus found on {ctx.host} on {today} (local time), "
                          "each with its evidence and what to do:", *_listing(new), "",
                          "Run `argus patterns` on the host for the current figures.", mark])
        return Filing("created", client.create(title, body, worst, LABELS, "task"), new, "")
    except Exception as err:  # bd is a service to people: never a crash
        return Filing("failed", bead_id, [], f"{type(err).__name__}: {err}")


def _listing(found: list[Pattern]) -> list[str]:
    lines = []
    for p in found:
        lines += ["", f"- [{p.severity}] {p.title}",
                  f"  evidence: {_evidence_line(p.kind, p.evidence)}",
                  f"  what to do: {p.recommendation}", f"  signature: {p.signature}"]
    return lines


# --- the daemon's schedule ----------------------------------------------------------------

def run_if_due(ctx: Context, now: float) -> float:
    """The daemon's daily run: when the last recorded run is a day old (or there is
    none), detect over the default window and file the day's bead. Returns the
    seconds until it is worth checking again."""
    last = last_run(ctx.paths.patterns)
    if last is not None and 0 <= now - last < DAY_S:
        return max(60.0, last + DAY_S - now)
    found, notes = detect(ctx, DEFAULT_WINDOW_S, now)
    for note in notes:
        log.info("patterns: %s", note)
    file_patterns(ctx, found, DEFAULT_WINDOW_S, now, "daemon")
    return DAY_S
