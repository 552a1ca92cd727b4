"""The JSON endpoints: read-only views of the state directory.

Each handler takes the context, the query parameters and the clock, and returns a
``Reply``; the server serialises it (and masks secrets on the way out). Nothing here
writes: state files are read with ``read_state`` rather than ``record.state.read_json``,
which moves a garbage file aside, a repair that belongs to the cycle, not a reader.
"""

from __future__ import annotations

import json
import re
import threading
import time

from argus.context import Context
from argus.model import PROBLEM_TYPES, SEVERITIES, to_jsonable
from argus.timefmt import iso, parse_duration, parse_iso
from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    Params = dict[str, list[str]]

MAX_POINTS = 5000
DEFAULT_POINTS = 500  # per series: more than a chart ~1000 px wide can show apart
MAX_PROBLEMS = 5000
# Records are appended as cycles run, so the file is in time order per writer; two
# hosts sharing one registry may interleave a little out of order. Reading newest
# first stops this far past the cutoff, so such stragglers are still found.
REGISTRY_SLACK_S = 3600
PATTERNS_TTL_S = 300  # patterns read days of history: computed at most every 5 minutes
# Arguments that carry secrets on a command line (--password=x, --api-key x, token=x).
_SECRET_ARG = re.compile(
    r"(?i)((?:^|\s)-{0,2}[\w.-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key|credential)"
    r"[\w.-]*(?:=|\s+))(\S+)")


class Reply(NamedTuple):
    status: int
    body: Any


def bad(why: str) -> Reply:
    return Reply(400, {"error": why})


def read_state(path: str) -> tuple[Any, str | None]:
    """(data, None), or (None, why): a missing, unreadable or garbage file."""
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read()), None
    except FileNotFoundError:
        return None, "missing"
    except OSError as err:
        return None, f"cannot read ({err.strerror})"
    except (ValueError, UnicodeDecodeError):
        return None, "not valid JSON"


def scrub(obj: Any) -> Any:
    """Mask secret-looking arguments in every ``cmdline`` (a top process may have been
    started with ``--password=...``); the rest is returned as is."""
    if isinstance(obj, dict):
        return {k: _SECRET_ARG.sub(r"\1<redacted>", v) if k == "cmdline" and isinstance(v, str)
                else scrub(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [scrub(v) for v in obj]
    return obj


def _one(params: Params, name: str, default: str = "") -> str:
    values = params.get(name) or [default]
    return values[-1]


def _duration(params: Params, name: str, default: str) -> tuple[float, str]:
    text = _one(params, name, default)
    seconds = parse_duration(text)  # ValueError names the bad text
    if seconds <= 0:
        raise ValueError(f"{name} must be positive, got {text!r}")
    return seconds, text


def _int(params: Params, name: str, default: int, low: int, high: int) -> int:
    text = _one(params, name, str(default))
    if not text.isdigit():
        raise ValueError(f"{name} must be a whole number, got {text[:20]!r}")
    return max(low, min(high, int(text)))


def ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


# --- /healthz --------------------------------------------------------------------


def healthz(ctx: Context, params: Params, now: float) -> Reply:
    """200 while the last cycle finished within 2 x interval + 60 s (DESIGN.md), else 503.

    The body says when the last cycle ran and how it ended. It leaves out the error
    text (which may name paths): /healthz answers without a token, for uptime checkers.
    """
    max_age = 2 * ctx.config.interval + 60
    data, why = read_state(ctx.paths.cycle)
    started = parse_iso(str(data.get("last_ts", ""))) if isinstance(data, dict) else None
    if not isinstance(data, dict) or started is None:
        return Reply(503, {"status": "never", "max_age_s": max_age,
                           "message": f"no cycle recorded (cycle.json {why or 'has no last_ts'})"})
    duration = data.get("last_duration_ms")
    finished = started + (duration / 1000 if isinstance(duration, (int, float)) else 0.0)
    age = max(0.0, now - finished)
    status = "ok" if age <= max_age else "stalled"
    last_status = str(data.get("last_status", "unknown"))
    failures = data.get("consecutive_failures", 0)
    message = f"last cycle {ago(age)} ({iso(finished)}), {last_status}"
    if isinstance(failures, int) and failures > 1:
        message += f", {failures} failed in a row"
    if status == "stalled":
        message = f"stalled: no cycle for {ago(age)[:-4]} (limit {max_age} s); " + message
    return Reply(200 if status == "ok" else 503, {
        "status": status, "message": message, "last_cycle": data.get("last_cycle"),
        "last_cycle_ts": data.get("last_ts"), "last_status": last_status,
        "last_duration_ms": duration, "last_ok_ts": data.get("last_ok_ts"),
        "consecutive_failures": failures, "age_s": round(age, 1), "max_age_s": max_age,
        "interval_s": ctx.config.interval})


# --- /api/snapshot and /api/overview ----------------------------------------------


def snapshot(ctx: Context, params: Params, now: float) -> Reply:
    data, why = read_state(ctx.paths.last_snapshot)
    if not isinstance(data, dict):
        return Reply(503, {"error": "no snapshot yet (last_snapshot.json "
                                    f"{why or 'is not an object'})"})
    return Reply(200, scrub(data))


def overview(ctx: Context, params: Params, now: float) -> Reply:
    """Everything the page's header and tiles need, in one request."""
    from argus.web.health import signals, worst

    argus = healthz(ctx, params, now).body
    cycle, _ = read_state(ctx.paths.cycle)
    if isinstance(cycle, dict) and cycle.get("last_error"):
        argus = {**argus, "last_error": cycle["last_error"]}  # behind the token, unlike /healthz
    snap, _ = read_state(ctx.paths.last_snapshot)
    snap = snap if isinstance(snap, dict) else {}
    tiles = signals(snap, ctx.config, argus)
    dedup, _ = read_state(ctx.paths.dedup)
    entries = dedup.get("problems") if isinstance(dedup, dict) else None
    active = sorted(
        ({"key": k, **{f: v.get(f) for f in ("type", "subject", "severity", "description",
                                             "first_seen", "last_seen", "streak")}}
         for k, v in (entries if isinstance(entries, dict) else {}).items()
         if isinstance(v, dict) and v.get("active")),
        key=lambda e: (e["severity"] != "critical", -float(e.get("last_seen") or 0)))
    return Reply(200, {
        "host": snap.get("host") or ctx.host, "now": now, "snapshot_ts": snap.get("ts"),
        "overall": "stalled" if argus.get("status") != "ok" else worst(
            [t["level"] for t in tiles]),
        "argus": argus, "signals": tiles, "active": active,
        "thresholds": ctx.config.thresholds._asdict(), "interval_s": ctx.config.interval,
        "mounts": [d.get("mount") for d in snap.get("disks") or [] if isinstance(d, dict)],
        "cores": (snap.get("cpu") or {}).get("cores"),
    })


# --- /api/problems ---------------------------------------------------------------


def _lines_newest_first(path: str, block: int = 1 << 16) -> Iterator[bytes]:
    """The file's lines, last first, reading backwards a block at a time."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in finally, generator
    except FileNotFoundError:
        return
    try:
        end = fh.seek(0, 2)
        rest = b""
        while end > 0:
            start = max(0, end - block)
            fh.seek(start)
            lines = (fh.read(end - start) + rest).split(b"\n")
            end, rest = start, lines[0]  # the first piece may be the tail of a longer line
            yield from reversed(lines[1:])
        yield rest
    finally:
        fh.close()


def problems(ctx: Context, params: Params, now: float) -> Reply:
    """Registry records, newest first: ``?since=24h&type=disk&severity=critical&limit=N``."""
    try:
        since, _ = _duration(params, "since", "24h")
        limit = _int(params, "limit", 500, 1, MAX_PROBLEMS)
    except ValueError as err:
        return bad(str(err))
    ptype, severity = _one(params, "type"), _one(params, "severity")
    if ptype and ptype not in PROBLEM_TYPES:
        return bad(f"type must be one of {', '.join(PROBLEM_TYPES)}")
    if severity and severity not in SEVERITIES:
        return bad(f"severity must be one of {', '.join(SEVERITIES)}")
    cutoff = now - since
    out: list[dict[str, Any]] = []
    for line in _lines_newest_first(ctx.paths.problems):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn last line: the registry's readers skip it too
        if not isinstance(record, dict):
            continue
        ts = parse_iso(str(record.get("ts", "")))
        if ts is None:
            continue
        if ts < cutoff:
            if ts < cutoff - REGISTRY_SLACK_S:
                break
            continue
        if (ptype and record.get("type") != ptype) or (
                severity and record.get("severity") != severity):
            continue
        out.append(record)
        if len(out) >= limit:
            break
    out.sort(key=lambda r: str(r.get("ts", "")), reverse=True)  # stragglers in place
    return Reply(200, out)


# --- /api/history ----------------------------------------------------------------


def downsample(points: list[tuple[float, float]], since: float, now: float,
               n: int) -> list[list[float]]:
    """At most ``n`` points: the mean time and value of each of ``n`` equal time buckets
    (30 days of 5-minute rows is 8,640 points; a chart shows a few hundred)."""
    if len(points) <= n:
        return [[t, v] for t, v in points]
    width = since / n
    buckets: dict[int, list[float]] = {}
    for t, v in points:
        acc = buckets.setdefault(int((t - (now - since)) // width), [0.0, 0.0, 0.0])
        acc[0] += t
        acc[1] += v
        acc[2] += 1
    return [[round(st / c, 1), round(sv / c, 4)] for st, sv, c in buckets.values()]


def history(ctx: Context, params: Params, now: float) -> Reply:
    """``?metric=mem_pct&metric=disk_pct:*&since=7d&points=500``: one series per metric
    (``<kind>:*`` is every recorded series of that kind), oldest point first."""
    import os

    from argus.record.history import HistoryError
    from argus.record.history_read import list_series, read_metric

    names = params.get("metric") or []
    if not names or len(names) > 16:
        return bad("give 1 to 16 metric= parameters, e.g. metric=mem_pct or metric=disk_pct:/")
    try:
        since, text = _duration(params, "since", "24h")
        n = _int(params, "points", DEFAULT_POINTS, 10, MAX_POINTS)
    except ValueError as err:
        return bad(str(err))
    path = ctx.paths.history
    body: dict[str, Any] = {"since": text, "from": now - since, "to": now, "series": []}
    if not os.path.exists(path):
        body["note"] = "no history yet: history.sqlite3 is written by each cycle"
        return Reply(200, body)
    try:
        expanded: list[str] = []
        for name in names:
            kind, _, rest = name.partition(":")
            expanded += list_series(path, kind) if rest == "*" else [name]
        for name in expanded:
            points = read_metric(path, name, now - since, now)
            body["series"].append({"metric": name,
                                   "points": downsample(points, since, now, n)})
    except ValueError as err:
        return bad(str(err))
    except HistoryError as err:
        return Reply(503, {"error": f"history unavailable: {err}"})
    return Reply(200, body)


# --- /api/patterns and /api/beads ------------------------------------------------

_cache: dict[tuple[str, float], tuple[float, Reply]] = {}
_cache_lock = threading.Lock()


def cached(key: tuple[str, float], ttl: float, compute: Callable[[], Reply]) -> Reply:
    """One computation per ``ttl`` per key, shared by the server's threads."""
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < ttl:
            return hit[1]
        reply = compute()
        _cache[key] = (time.monotonic(), reply)
        return reply


def patterns(ctx: Context, params: Params, now: float) -> Reply:
    """Detected patterns (analyze/patterns.py) over ``?window=7d``; when that module is
    not installed, ``available`` is false and the page leaves the panel out."""
    try:
        window, text = _duration(params, "window", "7d")
    except ValueError as err:
        return bad(str(err))

    def compute() -> Reply:
        try:
            from argus.analyze.patterns import detect_patterns
        except (ImportError, AttributeError) as err:
            return Reply(200, {"available": False, "window": text, "patterns": [],
                               "note": f"pattern detection not available: {err}"})
        found = detect_patterns(ctx, window, now)
        return Reply(200, {"available": True, "window": text, "generated_at": iso(now),
                           "patterns": [to_jsonable(p) for p in found]})

    return cached(("patterns", window), PATTERNS_TTL_S, compute)


def beads(ctx: Context, params: Params, now: float) -> Reply:
    """The open beads Argus tracks (``beads.json``), newest first, with what each is about."""
    import os

    from argus.tickets.ledger import STATE_NAME

    ledger, _ = read_state(os.path.join(ctx.paths.state_dir, STATE_NAME))
    dedup, _ = read_state(ctx.paths.dedup)
    entries = ledger.get("beads") if isinstance(ledger, dict) else None
    found = dedup.get("problems") if isinstance(dedup, dict) else None
    known: dict[str, Any] = found if isinstance(found, dict) else {}
    out = []
    for key, bead in (entries if isinstance(entries, dict) else {}).items():
        if not isinstance(bead, dict) or not isinstance(bead.get("id"), str):
            continue
        about: dict[str, Any] = known[key] if isinstance(known.get(key), dict) else {}
        out.append({"id": bead["id"], "key": key, "severity": bead.get("severity"),
                    "created_at": bead.get("created_at"), "noted_at": bead.get("noted_at"),
                    "resolved_at": bead.get("resolved_at"), "type": about.get("type"),
                    "subject": about.get("subject"), "description": about.get("description"),
                    "active": about.get("active")})
    out.sort(key=lambda b: float(b.get("created_at") or 0), reverse=True)
    return Reply(200, out)


ROUTES: dict[str, Callable[[Context, Params, float], Reply]] = {
    "/healthz": healthz,
    "/api/overview": overview,
    "/api/snapshot": snapshot,
    "/api/problems": problems,
    "/api/history": history,
    "/api/patterns": patterns,
    "/api/beads": beads,
}
