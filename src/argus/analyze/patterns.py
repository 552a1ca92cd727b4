"""Pattern detection over the registry and the metrics history (``argus patterns``).

The interface the summary and the dashboard rely on::

    detect_patterns(ctx, window_s: float, now: float) -> list[Pattern]

``Pattern`` (analyze/pattern.py): ``kind`` is one of ``KINDS``; ``signature`` is
stable from one run to the next (a pattern is reported at most once a day under
it); ``severity`` is info, warning or critical; ``title`` is one line;
``evidence`` holds the figures (JSON values); ``recommendation`` says what a
person should do. A ``disk_fill`` pattern's evidence always has ``mount``,
``slope_bytes_per_s`` and ``predicted_full_ts``
(epoch seconds), which the dashboard draws as time-to-full on the disk chart.

This module reads the registry (restart loops, recurring keys, problems clustered
at an hour of the day or a day of the week); analyze/patterns_history.py reads the
history (disks filling, memory creeping up); analyze/trends.py holds the maths;
analyze/patterns_emit.py prints the patterns, files the daily bead and keeps
``patterns.jsonl``. "A day" is a calendar day in the host's local time, since that
is the clock cron jobs and people keep; registry patterns look at the whole days in
the window (its first, partial day is left out) so "on 5 of the last 7 days" means
what it says.
"""

from __future__ import annotations

import time

from argus.analyze.pattern import DAY_S, KINDS, SEVERITY_RANK, Pattern
from argus.analyze.trends import binom_sf
from argus.logs import get_logger
from argus.record.registry import iter_records
from argus.sanitize import safe_text
from argus.timefmt import parse_iso
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from argus.context import Context

log = get_logger("argus.patterns")

RESTARTS_PER_DAY = 3  # the roadmap's "restarted 3+ times in a day"
RECUR_MIN_DAYS = 3  # episodes starting on this many distinct days: "recurs day after day"
PERSIST_MIN_S = 2 * DAY_S  # one episode this long within the window: "never cleared"
# An episode: a run of records of one key with no gap longer than this and no
# ``resolved`` record between them. Every cycle records each active problem, so an
# hour without one (12 missed 5-minute cycles) means it had gone.
EPISODE_GAP_S = 3600
# Time clustering: at least CLUSTER_MIN_DAYS distinct days, at least CLUSTER_SHARE of
# the key's episodes in the cluster, and a chance of at most CLUSTER_ALPHA that
# episodes at uniformly random times would cluster as tightly (see _time_of_day).
CLUSTER_MIN_DAYS = 3
CLUSTER_SHARE = 0.6
CLUSTER_ALPHA = 0.005
ARC_WIDTHS_MIN = (30, 60, 120)  # time-of-day cluster widths tried, minutes
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def detect_patterns(ctx: Context, window_s: float, now: float) -> list[Pattern]:
    """Every pattern in the ``window_s`` seconds before ``now``, the worst first."""
    return detect(ctx, window_s, now)[0]


def detect(ctx: Context, window_s: float, now: float) -> tuple[list[Pattern], list[str]]:
    """The patterns, and notes on what could not be looked at (and why)."""
    from argus.analyze import patterns_history

    notes: list[str] = []
    scan = scan_registry(ctx.paths.problems, now - window_s, now)
    found = registry_patterns(scan)
    history, history_notes = patterns_history.history_patterns(
        ctx.paths.history, window_s, now, scan.restart_times())
    notes += history_notes
    found += history
    found.sort(key=lambda p: (-SEVERITY_RANK.get(p.severity, 0), KINDS.index(p.kind),
                              p.signature))
    return found, notes


def local_day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(ts))


def first_midnight(ts: float) -> float:
    """The first local midnight at or after ``ts``."""
    t = time.localtime(ts)
    if (t.tm_hour, t.tm_min, t.tm_sec) == (0, 0, 0):
        return ts
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday + 1, 0, 0, 0, 0, 0, -1))


class KeyStats:
    """What one problem key did in the window."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.subject = ""
        self.severity = "info"
        self.description = ""
        self.records = 0
        self.starts: list[float] = []  # episode starts, epoch seconds
        self.days: set[str] = set()
        self.last_ts: float | None = None  # the latest record, in the window or before
        self.resolved = False  # the latest record was a ``resolved`` one
        self.episode_start = 0.0  # of the current episode (clipped to the window)
        self.longest = 0.0  # seconds: the longest episode seen within the window
        self.since_before = False  # that episode began before the window

    @property
    def label(self) -> str:
        return safe_text(self.subject or self.key, 120)


class Scan:
    """One streaming pass over the registry: restarts per unit, and per-key stats."""

    def __init__(self, since: float, now: float) -> None:
        self.since = since
        self.now = now
        self.day_start = first_midnight(since)  # whole local days only
        self.days = sorted({local_day(t) for t in _day_points(self.day_start, now)})
        self.restarts: dict[str, list[tuple[float, str]]] = {}  # unit -> (ts, result)
        self.keys: dict[str, KeyStats] = {}

    def restart_times(self) -> dict[str, list[float]]:
        """Successful restarts per unit in the window: known cut points for memory series."""
        return {unit: [t for t, r in events if r == "success"]
                for unit, events in self.restarts.items()}

    def add(self, record: dict[str, Any], ts: float) -> None:
        key = record.get("key")
        if not isinstance(key, str) or not key:
            return
        st = self.keys.get(key)
        resolved = record.get("action_result") == "resolved"
        if st is None:
            st = self.keys[key] = KeyStats(key)
        new = st.last_ts is None or st.resolved or ts - st.last_ts > EPISODE_GAP_S
        if ts < self.day_start:  # only for episode continuity
            st.last_ts, st.resolved = ts, resolved
            st.episode_start = self.day_start
            return
        action = str(record.get("action_taken") or "")
        if action.startswith("restart_service:") and record.get("action_result") in (
                "success", "failure"):
            self.restarts.setdefault(action.partition(":")[2], []).append(
                (ts, str(record["action_result"])))
        if not resolved:
            if new:
                st.starts.append(ts)
                st.episode_start = ts
            if ts - st.episode_start > st.longest:
                st.longest = ts - st.episode_start
                st.since_before = not st.starts or st.episode_start != st.starts[-1]
            st.records += 1
            st.days.add(local_day(ts))
            st.subject = str(record.get("subject") or st.subject or "")
            st.description = str(record.get("description") or "")
            severity = str(record.get("severity") or "info")
            if SEVERITY_RANK.get(severity, 0) > SEVERITY_RANK.get(st.severity, 0):
                st.severity = severity
        st.last_ts, st.resolved = ts, resolved


def _day_points(start: float, end: float) -> list[float]:
    points, t = [], start
    while t <= end:
        points.append(t)
        t += DAY_S
    return [*points, end]


def scan_registry(path: str, since: float, now: float) -> Scan:
    """Stream the registry once; records outside [since - EPISODE_GAP_S, now] cost a parse."""
    scan = Scan(since, now)
    floor = scan.day_start - EPISODE_GAP_S
    for record in iter_records(path):
        ts = parse_iso(str(record.get("ts", "")))
        if ts is not None and floor <= ts <= now:
            scan.add(record, ts)
    return scan


def registry_patterns(scan: Scan) -> list[Pattern]:
    found = _restart_loops(scan)
    looping = {f"service:{p.evidence['unit']}" for p in found}
    clustered: set[str] = set()
    for st in scan.keys.values():
        timed = _time_patterns(scan, st)
        if timed:
            clustered.add(st.key)
            found += timed
    for st in scan.keys.values():
        if st.key not in clustered and st.subject not in looping:
            found += _recurring(scan, st)
    return found


def _restart_loops(scan: Scan) -> list[Pattern]:
    out = []
    for unit, events in sorted(scan.restarts.items()):
        per_day: dict[str, int] = {}
        for ts, _ in events:
            per_day[local_day(ts)] = per_day.get(local_day(ts), 0) + 1
        loop_days = {d: n for d, n in sorted(per_day.items()) if n >= RESTARTS_PER_DAY}
        if not loop_days:
            continue
        failures = sum(1 for ts, result in events
                       if result == "failure" and local_day(ts) in loop_days)
        worst = max(loop_days, key=lambda d: (loop_days[d], d))
        name = safe_text(unit, 120)
        out.append(Pattern(
            "restart_loop_daily", f"restart_loop_daily:{unit}",
            "critical" if failures else "warning",
            f"{name} restarted {RESTARTS_PER_DAY}+ times a day on {len(loop_days)} of the "
            f"last {len(scan.days)} days ({sum(per_day.values())} restarts; "
            f"{loop_days[worst]} on {worst})",
            {"unit": unit, "days": loop_days, "loop_days": len(loop_days),
             "restarts": sum(per_day.values()), "failures": failures,
             "max_per_day": loop_days[worst], "worst_day": worst,
             "threshold_per_day": RESTARTS_PER_DAY, "window_days": len(scan.days)},
            f"Restarting is not fixing {name}: read its journal around the restarts "
            f"(journalctl -u {name} --since {min(loop_days)}) to find why it exits (OOM "
            "kill, a dependency, a bad config) and fix that"
            + ("; the restarts are failing too, so it needs a person now" if failures
               else "; until then, consider taking it out of services.restart_allowed"),
            f"service:{unit}"))
    return out


def _recurring(scan: Scan, st: KeyStats) -> list[Pattern]:
    start_days = {local_day(t) for t in st.starts}
    recurring = len(start_days) >= RECUR_MIN_DAYS
    if not recurring and st.longest < PERSIST_MIN_S:
        return []
    what = (f"on {len(start_days)} of the last {len(scan.days)} days "
            f"({len(st.starts)} episodes)" if recurring else
            f"present without clearing for {st.longest / DAY_S:.1f}"
            f"{'+' if st.since_before else ''} days")
    return [Pattern(
        "recurring_key", f"recurring_key:{st.key}",
        "warning" if st.severity == "critical" else "info",
        f"{st.label} {_noun(st.severity)} {what}",
        {"key": st.key, "subject": st.subject, "start_days": sorted(start_days),
         "distinct_days": len(start_days), "days_present": len(st.days),
         "window_days": len(scan.days), "episodes": len(st.starts), "records": st.records,
         "max_severity": st.severity, "persistent": not recurring,
         "longest_episode_s": round(st.longest), "since_before_window": st.since_before,
         "last_description": safe_text(st.description, 300)},
        ("It keeps coming back: look at what happens on those days (deploys, jobs, "
         "traffic) and fix the cause; if it is expected, raise the threshold for it"
         if recurring else "Nothing has fixed it: find the cause rather than the symptom, "
         "or raise the threshold if this level is expected on this host"),
        st.subject)]


def _time_patterns(scan: Scan, st: KeyStats) -> list[Pattern]:
    """A time-of-day cluster, or a day-of-week one (which then carries the hours too)."""
    if len({local_day(t) for t in st.starts}) < CLUSTER_MIN_DAYS:
        return []
    hours = _time_of_day(st.starts)
    weekday = _day_of_week(st.starts)
    out = []
    tz = time.strftime("%Z", time.localtime(scan.now))
    sev = "warning" if st.severity == "critical" else "info"
    if weekday is not None:
        name = WEEKDAYS[weekday["weekday"]]
        of = sum(1 for d in scan.days if time.strptime(d, "%Y-%m-%d").tm_wday
                 == weekday["weekday"])
        at = ""
        if hours is not None and set(hours["dates"]) <= set(weekday["dates"]):
            at = f" between {hours['from']} and {hours['to']}"
            weekday.update({"from": hours["from"], "to": hours["to"]})
            hours = None  # one pattern, the more specific of the two
        weekday.update(key=st.key, subject=st.subject, timezone=tz, weekday_name=name,
                       weekdays_in_window=of)
        out.append(Pattern(
            "day_of_week", f"day_of_week:{st.key}", sev,
            f"{st.label} {_noun(st.severity)} on {name}s{at}: {weekday['distinct_days']} of the "
            f"last {of} {name}s — a weekly job?", weekday,
            f"Look for what runs on {name}s{at} ({tz}): weekly timers (systemctl "
            "list-timers), cron.weekly, backups, reports; move or lighten it",
            st.subject))
    if hours is not None:
        hours.update(key=st.key, subject=st.subject, timezone=tz,
                     window_days=len(scan.days))
        out.append(Pattern(
            "time_of_day", f"time_of_day:{st.key}", sev,
            f"{st.label} {_noun(st.severity)} on {hours['distinct_days']} of the last "
            f"{len(scan.days)} days between {hours['from']} and {hours['to']} — a cron job?",
            hours,
            f"Look for what runs around {hours['from']} ({tz}): systemctl list-timers, "
            "/etc/crontab, /etc/cron.d and users' crontabs, backups and logrotate; move it "
            "to a quieter time or make it lighter",
            st.subject))
    return out


def _minute_of_day(ts: float) -> float:
    t = time.localtime(ts)
    return t.tm_hour * 60 + t.tm_min + t.tm_sec / 60


def _time_of_day(starts: list[float]) -> dict[str, Any] | None:
    """The tightest significant cluster of episode starts on the 24-hour circle.

    For each width w in ARC_WIDTHS_MIN and each start as the arc's beginning, the k
    starts within w minutes after it (wrapping past midnight). Under "no time
    preference" the other n - 1 starts each fall in the w minutes after a given one
    with chance w/1440, so the chance that some arc holds k is at most
    n * P(Bin(n - 1, w/1440) >= k - 1) (a union bound over the anchors), times the
    widths tried. Three days of three in the same half hour gives 0.0039 (reported);
    in the same hour, 0.016 (not yet: a fourth day makes it 0.0009).
    """
    n = len(starts)
    minutes = [_minute_of_day(t) for t in starts]
    best: tuple[float, int, list[int]] | None = None
    for width in ARC_WIDTHS_MIN:
        p_arc = width / 1440
        for i, m0 in enumerate(minutes):
            members = [j for j, m in enumerate(minutes) if (m - m0) % 1440 < width]
            k = len(members)
            if (len({local_day(starts[j]) for j in members}) < CLUSTER_MIN_DAYS
                    or k / n < CLUSTER_SHARE):
                continue
            p = min(1.0, len(ARC_WIDTHS_MIN) * n * binom_sf(k - 1, n - 1, p_arc))
            if p <= CLUSTER_ALPHA and (best is None or (p, width) < best[:2]):
                best = (p, width, [i, *members])
    if best is None:
        return None
    p, _, (first, *members) = best
    span = max((minutes[j] - minutes[first]) % 1440 for j in members)
    lo = int(minutes[first] // 15 * 15)
    hi = int(-(-(minutes[first] + span) // 15) * 15)
    hi = max(hi, lo + 15)
    dates = sorted({local_day(starts[j]) for j in members})
    return {"from": _hhmm(lo), "to": _hhmm(hi), "dates": dates, "distinct_days": len(dates),
            "episodes_in_cluster": len(members), "episodes": n,
            "share": round(len(members) / n, 3), "p_value": float(f"{p:.3g}"),
            "times": sorted(time.strftime("%H:%M", time.localtime(starts[j]))
                            for j in members)}


def _day_of_week(starts: list[float]) -> dict[str, Any] | None:
    """A weekday holding most episode starts: chance bound 7 * P(Bin(n, 1/7) >= k)."""
    n = len(starts)
    by_day: dict[int, list[float]] = {}
    for t in starts:
        by_day.setdefault(time.localtime(t).tm_wday, []).append(t)
    for weekday, members in sorted(by_day.items(), key=lambda kv: -len(kv[1])):
        dates = sorted({local_day(t) for t in members})
        k = len(members)
        p = min(1.0, 7 * binom_sf(k, n, 1 / 7))
        if len(dates) >= CLUSTER_MIN_DAYS and k / n >= CLUSTER_SHARE and p <= CLUSTER_ALPHA:
            return {"weekday": weekday, "dates": dates, "distinct_days": len(dates),
                    "episodes_in_cluster": k, "episodes": n, "share": round(k / n, 3),
                    "p_value": float(f"{p:.3g}")}
    return None


def _noun(severity: str) -> str:
    return {"critical": "critical problems", "warning": "warnings"}.get(severity, "notices")


def _hhmm(minute: int) -> str:
    minute %= 1440
    return f"{minute // 60:02d}:{minute % 60:02d}"


def pattern_to_json(p: Pattern) -> dict[str, Any]:
    return {"kind": p.kind, "signature": p.signature, "severity": p.severity,
            "title": p.title, "subject": p.subject, "evidence": p.evidence,
            "recommendation": p.recommendation}
