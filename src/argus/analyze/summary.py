"""``argus summary``: the daily health summary, one message a person reads in a minute.

What it says, about the last 24 h (a rolling day, ending now):

- **overall health**: ``critical`` when Argus has stalled (its last cycle is older
  than 2 x ``interval`` + 60 s, the ``/healthz`` rule), has failed 3 cycles in a
  row, or a critical problem is open in ``dedup.json``; ``warning`` for a failed
  cycle, an open warning or no cycle yet; ``ok`` otherwise, with the reasons;
- the problems of the day (records, problem keys, severities, the worst first
  with what was done about each) and the actions (host actions by result, alerts
  sent and suppressed), the success rate (stats.py's definition), what resolved
  and how fast;
- the open beads (``beads.json``) and the beads created that day;
- the patterns (``argus.analyze.patterns.detect_patterns`` over its 7-day window;
  left out, with a note saying why, when that module is missing or fails);
- the dashboard link, ``$ARGUS_DASHBOARD_URL``, when it is set.

``--send`` delivers it to exactly one channel, trying in order (CONTRACTS.md):

1. Relay: ``relay send <to> <json body> --agent <from> --priority medium
   --tag argus,summary,daily --type status --subject=...``; the body's ``event`` is
   ``argus.daily_summary`` (``status``: the summary is a status report, not an
   alert);
2. Telegram, directly (``notify.telegram.send_message`` with its retries), not
   through the outbox: the outbox is flushed by cycles, which would deliver a
   daily summary late and marked "delayed" while the fallback file already keeps it;
3. the summary fallback file, ``<state_dir>/summary-fallback.jsonl``: the Relay
   body plus ``relay_error`` and ``telegram_error``, one line per summary, appended
   under ``flock`` as the registry is.

A channel being down is never an error: the command exits 0 and says which channel
took the summary. It exits 1 only when none could, not even the file.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from argus.analyze.stats import DAY_S, HOST_ACTIONS, document, read_json
from argus.analyze.summary_send import delivery_line, send_summary
from argus.analyze.tally import scan_records
from argus.logs import get_logger
from argus.timefmt import iso, parse_iso

if TYPE_CHECKING:
    import argparse

    from argus.context import Context

log = get_logger("argus.summary")

PATTERN_WINDOW_S = 7 * DAY_S  # the patterns command's default window
RANK = {"critical": 2, "warning": 1, "info": 0}
TOP = 8  # problems listed by name; the rest are counted
LIST_MAX = 10  # open problems and beads listed by name
PATTERNS_SHOWN = 5  # patterns listed in the message (all of them in --json and Relay)
FAILURES_CRITICAL = 3  # cycles failed in a row that make health critical (selfmon's)


def build_summary(ctx: Context, now: float, env: Mapping[str, str]) -> dict[str, Any]:
    """The summary as data; ``text`` holds the message."""
    day = _Day()
    tally = scan_records(ctx.paths.problems, int(now - DAY_S), day.add)
    stats = document(tally, since_s=DAY_S, now=now, registry=ctx.paths.problems,
                     state_dir=ctx.paths.state_dir)
    dedup = read_json(ctx.paths.dedup).get("problems")
    entries = {k: v for k, v in dedup.items() if isinstance(v, dict)} \
        if isinstance(dedup, dict) else {}
    patterns, note = _patterns(ctx, now)
    host_actions = {a: r for a, r in stats["actions"].items() if a in HOST_ACTIONS}
    ttr = stats["time_to_resolve"]
    timed = sum(v["timed"] for v in ttr.values())
    summary: dict[str, Any] = {
        "host": ctx.host,
        "generated_at": iso(now),
        "since": iso(now - DAY_S),
        "health": _health(ctx, entries, now),
        "problems": {
            "records": stats["total_problems"],
            "keys": len(day.keys),
            "by_severity": stats["by_severity"],
            "by_type": {t: n for t, n in stats["by_type"].items() if n},
            "top": day.top(TOP),
        },
        "actions": host_actions,
        "alerts": stats["alerts"],
        "success_rate": stats["action_success_rate"],
        "action_success": stats["action_success"],
        "resolved": sum(v["resolved"] for v in ttr.values()),
        "mean_time_to_resolve_s": round(sum(v["sum_s"] for v in ttr.values()) / timed, 1)
        if timed else None,
        "beads": {"open": _open_beads(ctx, entries, day), "created": stats["beads_created"]},
        "llm": {"calls": stats["llm"]["calls"], "tokens": stats["llm"]["tokens"],
                "actions": sum(stats["llm"]["actions"].values())},
        "patterns": patterns,
        "patterns_note": note,
        "dashboard_url": env.get("ARGUS_DASHBOARD_URL") or None,
        "skipped_lines": stats["skipped_lines"],
    }
    summary["text"] = render_text(summary)
    return summary


class _Day:
    """The day's records grouped by problem key (bounded by the keys, not the records)."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, Any]] = {}

    def add(self, record: dict[str, Any]) -> None:
        key = str(record.get("key") or record.get("subject") or "(no key)")
        entry = self.keys.get(key)
        if entry is None:
            entry = self.keys[key] = {"key": key, "type": record.get("type"),
                                      "subject": record.get("subject"), "severity": "info",
                                      "description": "", "records": 0, "actions": {},
                                      "resolved": False, "last_ts": None}
        entry["records"] += 1
        entry["last_ts"] = record.get("ts")
        result = record.get("action_result")
        entry["resolved"] = result == "resolved"
        if result == "resolved":
            if not entry["description"]:
                entry["description"] = str(record.get("description") or "")
            return
        severity = str(record.get("severity") or "info")
        if RANK.get(severity, 0) > RANK.get(entry["severity"], 0):
            entry["severity"] = severity
        entry["description"] = str(record.get("description") or "")
        taken = str(record.get("action_taken") or "")
        if taken.split(":")[0] in HOST_ACTIONS:
            entry["actions"].setdefault(taken, Counter())[str(result)] += 1

    def top(self, n: int) -> list[dict[str, Any]]:
        ranked = sorted(self.keys.values(),
                        key=lambda e: (-RANK.get(e["severity"], 0), -e["records"], e["key"]))
        return [{**e, "actions": {a: dict(r.most_common()) for a, r in e["actions"].items()}}
                for e in ranked[:n]]

    def description(self, key: str) -> str | None:
        entry = self.keys.get(key)
        return entry["description"] if entry else None


def _health(ctx: Context, entries: dict[str, dict[str, Any]], now: float) -> dict[str, Any]:
    cycle = read_json(ctx.paths.cycle)
    reasons: list[tuple[int, str]] = []
    last = parse_iso(str(cycle.get("last_ts") or ""))
    stale_after = 2 * ctx.config.interval + 60
    if last is None:
        reasons.append((1, "no cycle has run yet (no cycle.json)"))
    elif now - last > stale_after:
        reasons.append((2, f"Argus has stalled: its last cycle ran {_ago(now - last)} ago "
                           f"(expected every {ctx.config.interval} s)"))
    failures = cycle.get("consecutive_failures")
    if isinstance(failures, int) and failures > 0:
        from argus.sanitize import safe_text

        why = safe_text(str(cycle.get("last_error") or ""), 200)
        reasons.append((2 if failures >= FAILURES_CRITICAL else 1,
                        ("the last cycle failed" if failures == 1
                         else f"the last {failures} cycles failed")
                        + (f": {why}" if why else "")))
    active = [(k, e) for k, e in entries.items() if e.get("active")]
    for level, name in ((2, "critical"), (1, "warning")):
        n = sum(1 for _, e in active if e.get("severity") == name)
        if n:
            reasons.append((level, f"{_n(n, name + ' problem')} open"))
    status = ("ok", "warning", "critical")[max((lvl for lvl, _ in reasons), default=0)]
    open_problems = [
        {"key": k, "type": e.get("type"), "severity": e.get("severity"),
         "subject": e.get("subject"), "description": e.get("description"),
         "since": iso(float(e["first_seen"]))
         if isinstance(e.get("first_seen"), (int, float)) else None}
        for k, e in sorted(active, key=lambda ke: (-RANK.get(str(ke[1].get("severity")), 0),
                                                   str(ke[1].get("first_seen"))))]
    return {"status": status, "reasons": [r for _, r in sorted(reasons, key=lambda x: -x[0])],
            "last_cycle": {"ts": cycle.get("last_ts"), "status": cycle.get("last_status"),
                           "age_s": round(now - last) if last is not None else None,
                           "consecutive_failures": failures if isinstance(failures, int) else 0},
            "open_problems": open_problems}


def _open_beads(ctx: Context, entries: dict[str, dict[str, Any]],
                day: _Day) -> list[dict[str, Any]]:
    from argus.tickets.ledger import STATE_NAME

    beads = read_json(os.path.join(ctx.paths.state_dir, STATE_NAME)).get("beads")
    out = []
    for key, bead in (beads.items() if isinstance(beads, dict) else []):
        if not isinstance(bead, dict) or not isinstance(bead.get("id"), str):
            continue
        entry = entries.get(key, {})
        resolved_at = bead.get("resolved_at")
        out.append({
            "id": bead["id"], "key": key, "severity": bead.get("severity"),
            "subject": entry.get("subject"),
            "description": entry.get("description") or day.description(key),
            "created_at": iso(bead["created_at"])
            if isinstance(bead.get("created_at"), (int, float)) else None,
            "resolved_at": iso(resolved_at) if isinstance(resolved_at, (int, float)) else None,
        })
    out.sort(key=lambda b: (-RANK.get(str(b["severity"]), 0), str(b["created_at"])))
    return out


def _patterns(ctx: Context, now: float) -> tuple[list[dict[str, Any]], str | None]:
    """The patterns as JSON values, or none and a note saying why."""
    try:
        from argus.analyze import patterns as module

        detect = module.detect_patterns
    except (ImportError, AttributeError) as err:
        return [], f"pattern detection is not available ({type(err).__name__}: {err})"
    try:
        found = detect(ctx, PATTERN_WINDOW_S, now)
    except Exception as err:  # the summary must go out even when a detector breaks
        log.warning("pattern detection failed", exc_info=True)
        return [], f"pattern detection failed ({type(err).__name__}: {err})"[:300]
    fields = ("kind", "signature", "severity", "title", "evidence", "recommendation", "subject")
    out = []
    for p in found:
        item = {f: getattr(p, f, None) for f in fields}
        out.append(json.loads(json.dumps(item, default=str)))  # JSON values only
    return out, None


def _ago(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


# -- the message -----------------------------------------------------------------------


def render_text(s: dict[str, Any]) -> str:
    """The message: plain text (no parse_mode), well under Telegram's 4096 characters
    for any real day (lists are capped; send_message truncates beyond that)."""
    from argus.sanitize import safe_text

    def clip(text: Any, n: int = 160) -> str:
        return safe_text(str(text or ""), n)

    health = s["health"]
    lines = [f"Argus daily summary for {s['host']}: the 24 h to {s['generated_at']}"]
    reasons = "; ".join(health["reasons"]) or "nothing open, cycles running"
    lines.append(f"Health: {health['status'].upper()}: {reasons}")
    for p in health["open_problems"][:LIST_MAX]:
        lines.append(f"  - {p['severity']} {p['type']}: {clip(p['description'])}"
                     + (f" (since {p['since']})" if p["since"] else ""))
    _more(lines, len(health["open_problems"]), LIST_MAX)
    problems = s["problems"]
    sev = problems["by_severity"]
    lines.append(f"Problems: {_n(problems['records'], 'record')} about "
                 f"{_n(problems['keys'], 'problem')} "
                 f"({sev.get('critical', 0)} critical, {sev.get('warning', 0)} warning, "
                 f"{sev.get('info', 0)} info)")
    mttr = s["mean_time_to_resolve_s"]
    lines.append(f"Resolved: {s['resolved']}"
                 + (f", mean time to resolve {_ago(mttr)}" if mttr is not None else ""))
    acts = ", ".join(f"{a} {sum(r.values())} ("
                     + ", ".join(f"{n} {res}" for res, n in r.items() if n) + ")"
                     for a, r in s["actions"].items()) or "none"
    alerts = s["alerts"]
    lines.append(f"Actions: {acts}; alerts: {alerts.get('sent', 0)} sent, "
                 f"{alerts.get('suppressed', 0)} suppressed, {alerts.get('failed', 0)} failed")
    ok, bad = s["action_success"]["success"], s["action_success"]["failure"]
    rate = s["success_rate"]
    lines.append(f"Success rate: {rate * 100:.1f}% ({ok} of {ok + bad} host actions and alerts)"
                 if rate is not None else "Success rate: n/a (no host action or alert)")
    if problems["top"]:
        lines.append("Top problems:")
    for p in problems["top"]:
        done = "; ".join(f"{a} " + ", ".join(f"{n} {res}" for res, n in r.items())
                         for a, r in p["actions"].items())
        state = "resolved" if p["resolved"] else p["severity"]
        lines.append(f"  - {state} {p['type']}: {clip(p['description'])} "
                     f"({_n(p['records'], 'record')}{'; ' + clip(done, 200) if done else ''})")
    _more(lines, problems["keys"], len(problems["top"]))
    beads = s["beads"]
    lines.append(f"Open beads: {len(beads['open'])}; created today: {beads['created']}")
    for b in beads["open"][:LIST_MAX]:
        state = " (resolved, closing)" if b["resolved_at"] else ""
        lines.append(f"  - {b['id']} {b['severity']}: {clip(b['description'] or b['key'])}"
                     f"{state}")
    _more(lines, len(beads["open"]), LIST_MAX)
    llm = s["llm"]
    if llm["calls"] or llm["actions"]:
        lines.append(f"LLM: {_n(llm['calls'], 'call')}, {_n(llm['tokens'], 'token')}, "
                     f"{_n(llm['actions'], 'proposed action')}")
    if s["patterns_note"]:
        lines.append(f"Patterns: {s['patterns_note']}")
    else:
        lines.append(f"Patterns: {len(s['patterns']) or 'none detected'}")
    for p in s["patterns"][:PATTERNS_SHOWN]:
        lines.append(f"  - [{p['severity']}] {clip(p['title'], 200)}"
                     + (f". {clip(p['recommendation'], 120)}" if p["recommendation"] else ""))
    _more(lines, len(s["patterns"]), PATTERNS_SHOWN)
    if s["skipped_lines"]:
        lines.append(f"Note: {_n(s['skipped_lines'], 'registry line')} skipped "
                     "(not valid records)")
    if s["dashboard_url"]:
        lines.append(f"Dashboard: {s['dashboard_url']}")
    return "\n".join(lines)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _more(lines: list[str], total: int, shown: int) -> None:
    if total > shown:
        lines.append(f"  ... and {total - shown} more")


def summary_command(ctx: Context, args: argparse.Namespace) -> int:
    """``argus summary [--send] [--json]``."""
    import sys

    summary = build_summary(ctx, ctx.clock(), os.environ)
    if args.send:
        summary["delivery"] = send_summary(ctx, summary)
    if args.json:
        json.dump(summary, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(summary["text"] + "\n")
        if args.send:
            sys.stdout.write(delivery_line(summary["delivery"]) + "\n")
    if args.send and summary["delivery"]["channel"] is None:
        print("argus: the summary could not be delivered anywhere", file=sys.stderr)
        return 1
    return 0
