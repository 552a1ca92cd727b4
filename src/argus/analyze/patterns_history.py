"""Patterns in the metrics history: disks filling up, memory creeping up.

Both read ``history.sqlite3`` through record/history_read.py and average the raw
5-minute points into buckets of ``bucket_width(window)`` (an hour for the default
week) before any test: that takes the sample jitter out and keeps the O(n²)
pairwise statistics of analyze/trends.py cheap. The thresholds below are chosen so
that a flat, noisy, daily-cycling or sawtooth series is never reported; the tests
in tests/analyze_patterns plant such series and check it, and docs/decisions.md
("Patterns") says why each one is where it is.
"""

from __future__ import annotations

import os

from argus.analyze.pattern import DAY_S, Pattern
from argus.analyze.trends import (
    bucket_means,
    least_squares,
    median,
    pooled_kendall,
    pooled_theil_sen,
    split_stretches,
    theil_sen,
)
from argus.logs import get_logger
from argus.record.history import HistoryError
from argus.record.history_read import list_series, read_series
from argus.sanitize import safe_text
from argus.timefmt import iso
from argus.typing_lite import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from argus.analyze.trends import Point

log = get_logger("argus.patterns")

MB = 1024**2  # shown as "MB", as everywhere in Argus's output (render.py)
MAX_BUCKETS = 168  # a week of hours
# Disk fill. A prediction needs 12 buckets over 6 h or more, a line that explains
# at least 60% of the variance (flat jitter gives R² ~ 1/n: ~0.01 with a week of
# hours; at n = 12, R² >= 0.6 is already p < 0.002 for the slope), a Theil-Sen slope
# at least half the least-squares one (one jump, a big file copied once, makes a
# least-squares slope with a fair R², but leaves the median pairwise slope near 0),
# and is never extrapolated past 4x the span it rests on (the node-exporter mixin
# alerts on predict_linear(...[6h], 24h): the same 4x).
DISK_MIN_BUCKETS = 12
DISK_MIN_SPAN_S = 6 * 3600
DISK_MIN_R2 = 0.6
DISK_SEN_AGREEMENT = 0.5
DISK_CLEANUP_PCT = 0.2  # the least fall between bucket means that is a cleanup
DISK_HORIZON_FACTOR = 4
DISK_WARN_S = 7 * DAY_S  # the roadmap's "warning under 7 days, critical under 24 h"
DISK_CRIT_S = DAY_S
STALE_S = DAY_S  # a series with no point in the last day is a mount gone away
# Memory creep. Restart-free stretches are cut where the series falls by a quarter
# and 4 MB or more (a restarted process starts small), or at a restart Argus made.
# Stretches of 6 buckets or more are kept; they must cover a day in all. The pooled
# Mann-Kendall test must say "rising" at p < 0.001 (Z >= 3.09), the rise must be
# sustained (the later half of the stretches still rising, Z >= 1.645, at half the
# overall Theil-Sen rate or more: a warm-up that levels off fails this), and
# material (32 MB and 5% of the series' level over the stretches).
MEM_DROP_FRACTION = 0.10
MEM_MIN_DROP_BYTES = 4 * MB
MEM_MIN_STRETCH_S = 12 * 3600
MEM_MIN_STRETCH_BUCKETS = 6
MEM_MIN_SPAN_S = DAY_S
MEM_Z = 3.09
MEM_LATE_Z = 1.645
MEM_LATE_SHARE = 0.5
MEM_MIN_RISE_BYTES = 32 * MB
MEM_MIN_RISE_SHARE = 0.05


def bucket_width(window_s: float) -> float:
    """Seconds per bucket: an hour for a week, never under the 5-minute cycle."""
    return max(300.0, window_s / MAX_BUCKETS)


def history_patterns(path: str, window_s: float, now: float,
                     restarts: Mapping[str, Sequence[float]]) -> tuple[list[Pattern], list[str]]:
    """Disk and memory patterns, and notes on what could not be read."""
    if not os.path.exists(path):
        return [], [f"no metrics history yet ({os.path.basename(path)}): disk and memory "
                    "trends skipped"]
    try:
        return disk_patterns(path, window_s, now) + memory_patterns(
            path, window_s, now, restarts), []
    except HistoryError as err:
        log.warning("patterns: %s", err)
        return [], [f"metrics history unreadable: {err}; disk and memory trends skipped"]


# --- disks ----------------------------------------------------------------------------

def assess_fill(raw: Sequence[Point], width: float, now: float) -> dict[str, Any] | None:
    """The fill trend of one mount's used-% series, or None when there is none to report.

    The line is fitted over the whole window first. When the usage did not fall
    (a cleanup) more than once in the window, shorter recent stretches are tried
    too: the part since that one cleanup, then its last half, quarter, ... while
    DISK_MIN_BUCKETS buckets remain; the longest that passes is used. That catches
    a disk that started filling three days ago after a flat week, which a line over
    the whole window smooths away. Cleanups that recur (a daily logrotate) leave
    only the whole-window line: the last tooth of a sawtooth is no prediction.
    """
    if not raw or now - raw[-1][0] > STALE_S:
        return None
    pts = bucket_means(raw, width)
    steps = [pts[i][1] - pts[i - 1][1] for i in range(1, len(pts))]
    # A cleanup: a fall far beyond the usual bucket-to-bucket change (and 0.2 points).
    floor = max(DISK_CLEANUP_PCT, 4 * median([abs(d) for d in steps])) if steps else 0.0
    falls = [-d >= floor for d in steps]
    # One cleanup may straddle two buckets: a run of falls counts once, from its end.
    cleanups = [pts[i + 1][0] for i, fall in enumerate(falls)
                if fall and (i + 1 == len(falls) or not falls[i + 1])]
    windows = [pts]
    if len(cleanups) <= 1:
        tail = [p for p in pts if p[0] >= (cleanups[0] if cleanups else pts[0][0])]
        span = tail[-1][0] - tail[0][0]
        while span >= DISK_MIN_SPAN_S:
            recent = [p for p in tail if p[0] >= tail[-1][0] - span]
            if len(recent) < DISK_MIN_BUCKETS:
                break
            if len(recent) < len(pts):
                windows.append(recent)
            span /= 2
    for window in windows:
        if len(window) < DISK_MIN_BUCKETS or window[-1][0] - window[0][0] < DISK_MIN_SPAN_S:
            continue
        fill = _fill_over(window, now)
        if fill is not None:
            fill.update(cleanups=len(cleanups),
                        points=sum(1 for t, _ in raw if t >= window[0][0] - width / 2))
            return fill
    return None


def _fill_over(pts: Sequence[Point], now: float) -> dict[str, Any] | None:
    fit = least_squares(pts)
    if fit is None or fit.slope <= 0 or fit.r2 < DISK_MIN_R2:
        return None
    # Sustained: each half of the stretch rises at half the fitted rate or more (by
    # Theil-Sen, the median pairwise slope). A single jump (a big file copied once)
    # gives a rising line with a fair R², but one of the halves is flat.
    middle = (pts[0][0] + pts[-1][0]) / 2
    halves = [theil_sen([p for p in pts if p[0] < middle]),
              theil_sen([p for p in pts if p[0] >= middle])]
    if any(h is None or h < DISK_SEN_AGREEMENT * fit.slope for h in halves):
        return None
    # The rate is the fit's; the distance to full is from the level now (the last
    # bucket), so a cleanup at the very end is not predicted away.
    span = pts[-1][0] - pts[0][0]
    t_last, current = pts[-1]
    full_ts = t_last + max(0.0, 100.0 - current) / fit.slope
    left = full_ts - now
    if left >= DISK_WARN_S or full_ts - t_last > DISK_HORIZON_FACTOR * span:
        return None
    return {"used_pct": round(current, 2), "slope_pct_per_day": round(fit.slope * DAY_S, 3),
            "half_slopes_pct_per_day": [round(h * DAY_S, 3) for h in halves if h is not None],
            "r2": round(fit.r2, 3), "predicted_full_ts": round(full_ts),
            "predicted_full": iso(full_ts), "time_to_full_s": round(max(0.0, left)),
            "buckets": len(pts), "span_s": round(span),
            "fit": {"t0": round(pts[0][0]), "pct0": round(fit.at(pts[0][0]), 3),
                    "t1": round(t_last), "pct1": round(fit.at(t_last), 3),
                    "slope_pct_per_s": fit.slope}}


def disk_patterns(path: str, window_s: float, now: float) -> list[Pattern]:
    out = []
    width = bucket_width(window_s)
    for metric in list_series(path, "disk_pct"):
        mount = metric.partition(":")[2]
        raw = read_series(path, "disk_pct", mount, now - window_s, now)
        fill = assess_fill(raw, width, now)
        if fill is None:
            continue
        free = read_series(path, "disk_free_bytes", mount, raw[-1][0], raw[-1][0])
        last_pct = raw[-1][1]
        # df's used% is used / (used + available): the capacity that fills is their sum.
        capacity = free[-1][1] / (1 - last_pct / 100) if free and last_pct < 100 else None
        per_s = fill["fit"]["slope_pct_per_s"] / 100 * capacity if capacity else None
        fill.update(mount=mount, slope_bytes_per_s=per_s, last_pct=last_pct,
                    bytes_per_day=round(per_s * DAY_S) if per_s else None,
                    free_bytes=round(free[-1][1]) if free else None,
                    capacity_bytes=round(capacity) if capacity else None,
                    method="least squares over bucket means (predict_linear), "
                           f"{width / 3600:g} h buckets")
        left = fill["time_to_full_s"]
        name = safe_text(mount, 120)
        rate = f"+{fill['slope_pct_per_day']:.1f} points/day"
        if per_s:
            rate += f", {_size(per_s * DAY_S)}/day"
        out.append(Pattern(
            "disk_fill", f"disk_fill:{mount}", "critical" if left < DISK_CRIT_S else "warning",
            f"disk {name} full in ~{_duration(left)} at the current rate "
            f"({fill['used_pct']:.0f}% used, {rate})",
            fill,
            f"Find what grows on {name} (du -xh --max-depth=2 {name} | sort -h | tail) and "
            f"rotate, move or delete it, or grow the filesystem, before "
            f"{fill['predicted_full']}",
            f"disk:{mount}"))
    return out


# --- memory ---------------------------------------------------------------------------

def assess_creep(raw: Sequence[Point], width: float,
                 cuts: Sequence[float] = ()) -> dict[str, Any] | None:
    """A sustained rise across the restart-free stretches of one memory series, or None."""
    stretches = split_stretches(raw, MEM_DROP_FRACTION, MEM_MIN_DROP_BYTES, cuts)
    kept = [b for b in (bucket_means(s, width) for s in stretches
                        if s[-1][0] - s[0][0] >= MEM_MIN_STRETCH_S)
            if len(b) >= MEM_MIN_STRETCH_BUCKETS]
    covered = sum(s[-1][0] - s[0][0] for s in kept)
    if covered < MEM_MIN_SPAN_S:
        return None
    trend = pooled_kendall(kept)
    rate = pooled_theil_sen(kept)
    if trend.z < MEM_Z or rate is None or rate <= 0:
        return None
    level = median([v for s in kept for _, v in s])
    if rate * covered < max(MEM_MIN_RISE_BYTES, MEM_MIN_RISE_SHARE * level):
        return None
    late = [s[len(s) // 2:] for s in kept]
    late_trend = pooled_kendall(late)
    late_rate = pooled_theil_sen(late)
    if late_trend.z < MEM_LATE_Z or late_rate is None or late_rate < MEM_LATE_SHARE * rate:
        return None
    span = kept[-1][-1][0] - kept[0][0][0]
    return {"rate_bytes_per_day": round(rate * DAY_S), "rate_bytes_per_s": rate,
            "late_rate_bytes_per_day": round(late_rate * DAY_S), "span_s": round(span),
            "days": round(span / DAY_S, 2), "covered_s": round(covered),
            "stretches": len(kept), "restarts_seen": len(stretches) - 1,
            "first_bytes": round(kept[0][0][1]), "last_bytes": round(kept[-1][-1][1]),
            "median_bytes": round(level), "kendall_z": round(trend.z, 2),
            "p_value": float(f"{trend.p_rising:.3g}"), "late_kendall_z": round(late_trend.z, 2),
            "points": len(raw), "bucket_s": width}


def memory_patterns(path: str, window_s: float, now: float,
                    restarts: Mapping[str, Sequence[float]]) -> list[Pattern]:
    """Per process (name + unit) first; a unit only when none of its processes is flagged."""
    width = bucket_width(window_s)
    out: list[Pattern] = []
    flagged_units: set[str] = set()
    for kind in ("proc_rss_bytes", "unit_mem_bytes"):
        for metric in list_series(path, kind):
            name = metric.partition(":")[2]
            unit, _, comm = name.partition("/") if kind == "proc_rss_bytes" else (name, "", "")
            if kind == "unit_mem_bytes" and unit in flagged_units:
                continue
            raw = read_series(path, kind, name, now - window_s, now)
            creep = assess_creep(raw, width, restarts.get(unit, ())) if raw else None
            if creep is None:
                continue
            flagged_units.add(unit)
            out.append(_creep_pattern(kind, name, unit, comm, creep))
    return out


def _creep_pattern(kind: str, name: str, unit: str, comm: str,
                   creep: dict[str, Any]) -> Pattern:
    who = safe_text(unit or comm, 120) + (f" ({safe_text(comm, 20)})" if unit and comm else "")
    creep.update(series=f"{kind}:{name}", unit=unit or None, process=comm or None)
    days = creep["span_s"] / DAY_S
    over = f"{days:.0f} days" if days >= 1.5 else f"{creep['span_s'] / 3600:.0f} hours"
    what = "RSS" if kind == "proc_rss_bytes" else "cgroup memory (page cache included)"
    restarts = creep["restarts_seen"]
    return Pattern(
        "memory_creep", f"memory_creep:{kind}:{name}", "warning",
        f"possible leak in {who}: +{_mb(creep['rate_bytes_per_day'])} MB/day over {over}",
        creep,
        f"{who}'s {what} keeps rising"
        + (f" between restarts ({restarts} seen)" if restarts else "")
        + ": check whether it is anonymous memory (memory.stat of its cgroup, "
        "/proc/PID/smaps_rollup) or cache, profile the heap, and cap it "
        "(MemoryHigh=/MemoryMax= on the unit) so it is restarted before the host runs short",
        f"service:{unit}" if unit else f"process:{comm}")


def _mb(n: float) -> str:
    return f"{n / MB:.0f}" if abs(n) >= 10 * MB else f"{n / MB:.1f}"


def _size(n: float) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{_mb(n)} MB"


def _duration(s: float) -> str:
    if s < 2 * 3600:
        return f"{max(1, round(s / 60))} min"
    if s < 2 * DAY_S:
        return f"{round(s / 3600)} h"
    return f"{s / DAY_S:.1f} days"
