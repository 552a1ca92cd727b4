"""``argus stats``: what the registry says about a window, read fast and in bounded memory.

The document (``argus stats --format json``) keeps upstream's field names, so its
consumers keep working: ``generated_at``, ``window_days``, ``total_problems``,
``by_type``, ``by_severity``, ``action_results``, ``action_success_rate``,
``hourly`` and ``daily`` (lists of ``{bucket, count}``, oldest first, non-empty
buckets only; an hour is ``2026-02-19T23:00:00Z``, a day ``2026-02-19``, UTC).
Every registry line counts as one problem record, as upstream counted them.
Added beside them (README, "Stats and the daily summary", has the reference):

- ``action_success_rate``: success / (success + failure) over the records whose
  action is a host action (restart_service, kill_pid, kill_tmux, clean_disk) or an
  alert, as a fraction 0-1 (None when there was none). ``skipped``, ``suppressed``,
  ``dry_run`` and ``resolved`` are neither: nothing was attempted. An alert that
  Telegram did not take (queued in the outbox) was recorded ``failure``, and counts so;
- ``alerts``: the ``alert`` records by outcome: ``sent`` (success: Telegram took it,
  or the log did when Telegram is not configured), ``suppressed`` (dedup),
  ``failed``, ``skipped`` (rate limit), ``dry_run``;
- ``time_to_resolve`` and ``mean_time_to_resolve_s`` per type, from the ``resolved``
  records' ``details.duration_s`` (first seen to resolved, seconds);
- ``beads_created``: bead ids first seen in the window (on no earlier record);
- ``llm``: calls and tokens per day from ``llm-memory.json`` (the advisor keeps
  the calls of the last 24 h there, so older days are not known: ``complete_since``
  says from when the figures are whole), the last call's tokens in and out from
  ``last_decision.json``, and the actions the model proposed (records with
  source ``llm``) per day and by result.

The reading itself (fast, bounded memory, exact on odd lines) is analyze/tally.py.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import TYPE_CHECKING, Any

from argus.analyze.tally import Tally, tally_file
from argus.model import ACTION_RESULTS, ACTION_TYPES, PROBLEM_TYPES, SEVERITIES
from argus.record.state import write_bytes
from argus.timefmt import iso

if TYPE_CHECKING:
    import argparse

    from argus.context import Context

DEFAULT_WINDOW_S = 7 * 86400
DAY_S = 86400
MEMORY_FILE = "llm-memory.json"  # decide/advisor.py's (not imported: 10 ms for a name)
HOST_ACTIONS = ("restart_service", "kill_pid", "kill_tmux", "clean_disk")  # act/guard.py's
COUNTED = (*HOST_ACTIONS, "alert")  # the actions action_success_rate is about
ALERT_OUTCOMES = {"success": "sent", "suppressed": "suppressed", "failure": "failed",
                  "skipped": "skipped", "dry_run": "dry_run"}
NONE = "none"  # how a missing (null) field is shown in the counts


# -- the document ----------------------------------------------------------------------


def compute(path: str, *, since_s: float | None, now: float, state_dir: str | None = None,
            workers: int = 1) -> dict[str, Any]:
    """The stats document for the records of the last ``since_s`` seconds (None: all).
    ``workers`` > 1 reads a large registry in that many forked processes (the CLI's
    choice; see tally.tally_file)."""
    cutoff = int(now - since_s) if since_s is not None else None
    return document(tally_file(path, cutoff, workers=workers), since_s=since_s, now=now,
                    registry=path, state_dir=state_dir)


def document(tally: Tally, *, since_s: float | None, now: float, registry: str,
             state_dir: str | None = None) -> dict[str, Any]:
    cutoff = int(now - since_s) if since_s is not None else None
    kinds = {tuple(_s(x) for x in k): n for k, n in tally.kinds.items()}
    by_type: Counter[str] = Counter()
    by_severity: Counter[str] = Counter()
    results: Counter[str] = Counter()
    type_severity: dict[str, Counter[str]] = {}
    actions: dict[str, Counter[str]] = {}
    alerts: Counter[str] = Counter({outcome: 0 for outcome in ALERT_OUTCOMES.values()})
    llm_results: Counter[str] = Counter()
    resolved: Counter[str] = Counter()
    for (sev, ptype, action, result, source), n in kinds.items():
        by_type[ptype] += n
        by_severity[sev] += n
        results[result] += n
        type_severity.setdefault(ptype, Counter())[sev] += n
        if action != NONE:
            actions.setdefault(action, Counter())[result] += n
        if action == "alert" and result in ALERT_OUTCOMES:
            alerts[ALERT_OUTCOMES[result]] += n
        if source == "llm":
            llm_results[result] += n
        if result == "resolved":
            resolved[ptype] += n
    success = sum(c["success"] for a, c in actions.items() if a in COUNTED)
    failure = sum(c["failure"] for a, c in actions.items() if a in COUNTED)
    ttr = {}
    for ptype in _ordered(resolved, PROBLEM_TYPES):
        timed = tally.ttr_n[_b(ptype)]
        total = tally.ttr_sum.get(_b(ptype), 0.0)
        ttr[ptype] = {"resolved": resolved[ptype], "timed": timed, "sum_s": round(total, 3),
                      "mean_s": round(total / timed, 1) if timed else None}
    daily: Counter[str] = Counter()
    for hour, n in tally.hourly.items():
        daily[_s(hour[:10])] += n
    return {
        "generated_at": iso(now),
        "window_days": _days(since_s),
        "total_problems": sum(tally.hourly.values()),
        "by_type": _with_zeros(by_type, PROBLEM_TYPES),
        "by_severity": _with_zeros(by_severity, SEVERITIES[::-1]),
        "action_results": _with_zeros(results, ACTION_RESULTS),
        "action_success_rate": round(success / (success + failure), 4)
        if success + failure else None,
        "hourly": [{"bucket": f"{_s(h)}:00:00Z", "count": n}
                   for h, n in sorted(tally.hourly.items())],
        "daily": [{"bucket": d, "count": n} for d, n in sorted(daily.items())],
        "since": iso(cutoff) if cutoff is not None else None,
        "registry": registry,
        "skipped_lines": tally.skipped,
        "by_type_severity": {t: _with_zeros(type_severity[t], SEVERITIES[::-1])
                             for t in _ordered(type_severity, PROBLEM_TYPES)},
        "actions": {a: _with_zeros(actions[a], ()) for a in _ordered(actions, ACTION_TYPES)},
        "action_success": {"success": success, "failure": failure, "actions": list(COUNTED)},
        "alerts": dict(alerts),
        "time_to_resolve": ttr,
        "mean_time_to_resolve_s": {t: v["mean_s"] for t, v in ttr.items()
                                   if v["mean_s"] is not None},
        "beads_created": len(tally.created_beads()),
        "llm": llm_usage(state_dir, cutoff, now, tally, llm_results),
    }


def llm_usage(state_dir: str | None, cutoff: int | None, now: float, tally: Tally,
              results: Counter[str]) -> dict[str, Any]:
    """LLM calls and tokens: what the advisor's files hold, and the model's actions."""
    calls: list[tuple[float, int]] = []
    last: dict[str, Any] | None = None
    if state_dir:
        memory = read_json(os.path.join(state_dir, MEMORY_FILE))
        for item in memory.get("calls") or []:
            if (isinstance(item, list) and len(item) == 2
                    and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                            for x in item)
                    and (cutoff is None or item[0] >= cutoff)):
                calls.append((float(item[0]), int(item[1])))
        decision = read_json(os.path.join(state_dir, "last_decision.json"))
        report = decision.get("llm")
        if isinstance(report, dict) and report.get("called"):
            last = {"ts": decision.get("ts"), "mode": decision.get("mode"),
                    "provider": decision.get("provider"), "model": decision.get("model"),
                    "tokens_in": report.get("tokens_in"), "tokens_out": report.get("tokens_out"),
                    "error": report.get("error")}
    by_day: dict[str, list[int]] = {}
    for ts, tokens in calls:
        day = by_day.setdefault(iso(ts)[:10], [0, 0])
        day[0] += 1
        day[1] += tokens
    actions_by_day: Counter[str] = Counter()
    for hour, n in tally.llm_hourly.items():
        actions_by_day[_s(hour[:10])] += n
    return {
        "calls": len(calls),
        "tokens": sum(t for _, t in calls),
        "by_day": [{"bucket": d, "calls": c, "tokens": t} for d, (c, t) in sorted(by_day.items())],
        # llm-memory.json keeps the last 24 h of calls (the advisor's budget window)
        # and tokens in + out together: earlier calls are not recorded anywhere.
        "complete_since": iso(max(now - DAY_S, cutoff or 0)),
        "last_call": last,
        "actions": dict(sorted(results.items())),
        "actions_by_day": [{"bucket": d, "count": n} for d, n in sorted(actions_by_day.items())],
    }


def read_json(path: str) -> dict[str, Any]:
    """A state file's JSON object, or {} (read-only: a bad file is left as it is)."""
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _s(value: bytes) -> str:
    return value.decode("utf-8", "replace") or NONE


def _b(value: str) -> bytes:
    return b"" if value == NONE else value.encode()


def _days(since_s: float | None) -> float | None:
    if since_s is None:
        return None
    days = since_s / DAY_S
    return int(days) if days == int(days) else round(days, 4)


def _ordered(names: Any, known: tuple[str, ...]) -> list[str]:
    """``names`` with the known vocabulary first, in its order, then the rest sorted."""
    present = set(names)
    return [k for k in known if k in present] + sorted(present - set(known))


def _with_zeros(counts: Counter[str], known: tuple[str, ...]) -> dict[str, int]:
    """Counts in a stable shape: every known name (0 when absent), then any other."""
    return {name: counts.get(name, 0)
            for name in [*known, *sorted(set(counts) - set(known))]}


def parse_since(text: str | None, default: float | None) -> float | None:
    """``--since``: a duration (``7d``), ``all`` (None), or the default when absent."""
    from argus.timefmt import parse_duration

    if text is None:
        return default
    if text.strip().lower() == "all":
        return None
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(f"not a positive duration: {text!r}")
    return seconds


def stats_command(ctx: Context, args: argparse.Namespace) -> int:
    """``argus stats [--since DUR|all] [--format json|prometheus] [--output FILE]``.

    The window defaults to 7 days for JSON (upstream's) and to the whole registry for
    Prometheus, whose counters must only ever grow (see exposition.py)."""
    import sys

    from argus.errors import ArgusError, UsageError

    default = DEFAULT_WINDOW_S if args.format == "json" else None
    try:
        since = parse_since(args.since, default)
    except ValueError as err:
        raise UsageError(f"--since: {err}") from None
    workers = len(os.sched_getaffinity(0))  # the CPUs this process may run on
    doc = compute(ctx.paths.problems, since_s=since, now=ctx.clock(),
                  state_dir=ctx.paths.state_dir, workers=workers)
    if doc["skipped_lines"]:
        print(f"argus: {doc['skipped_lines']} line(s) of {ctx.paths.problems} are not valid "
              "records (torn writes?); skipped", file=sys.stderr)
    if args.format == "prometheus":
        from argus.analyze.exposition import exposition_text

        data = exposition_text(doc)
    else:
        data = (json.dumps(doc, indent=1) + "\n").encode()
    if not args.output:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    try:
        # World-readable (the umask applies): node_exporter usually runs as another
        # user; rename(2) means it never sees half a file.
        write_bytes(args.output, data, mode=0o644)
    except OSError as err:
        raise ArgusError(f"cannot write {args.output}: {err.strerror or err}") from None
    return 0
