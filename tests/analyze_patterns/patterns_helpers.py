"""Generated registries and metrics histories with known planted patterns, and noise
(imported by name: tests/ is not a package).

Histories are written through record/history.py's own writer (``write_cycle``, one
synthetic Snapshot per cycle, every 10 minutes: the analysis works on hourly means,
and half the rows keeps the tests quick); registries through ``registry.append``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from typing import Any

from argus.model import (
    CpuInfo,
    DiskInfo,
    MemoryInfo,
    ProcessInfo,
    ProcessSummary,
    Snapshot,
    problem_key,
)
from argus.model_diagnostics import MemoryDiagnostics, UnitMemory
from argus.record import registry
from argus.record.history import write_cycle
from argus.timefmt import iso, parse_iso

MB = 2**20
GB = 2**30
DAY = 86400
HOUR = 3600
STEP = 600  # seconds between generated cycles
# Thursday 2026-05-28 10:00 UTC. With TZ=UTC (the tests' conftest) a 7-day window
# holds the whole days 2026-05-22 (Friday) to 2026-05-28.
NOW = 1_779_962_400
DAY0 = NOW - NOW % DAY  # today's midnight

Series = Callable[[float], float | None]  # value at t, None when not recorded
Shape = Callable[[float], float]  # a series recorded at every cycle


def day_at(days_ago: int, hour: float) -> float:
    """Epoch seconds ``days_ago`` days before today, at ``hour`` (UTC)."""
    return DAY0 - days_ago * DAY + hour * HOUR


def snapshot(disks: dict[str, float], procs: dict[str, float], units: dict[str, float],
             capacity: float = 100 * GB) -> Snapshot:
    """A snapshot with just the figures the history keeps."""
    mem = MemoryInfo(8 * GB, 4 * GB, 4 * GB, 50.0, 0, 0, 0.0, None, None, None, None, 50.0,
                     "host")
    disk_infos = []
    for mount, pct in disks.items():
        used = int(capacity * pct / 100)
        disk_infos.append(DiskInfo(mount, "/dev/x", "ext4", int(capacity), used,
                                   int(capacity) - used, pct, 1000, 10, 1.0))
    top = []
    for pid, (name, rss) in enumerate(procs.items(), 100):
        unit, _, comm = name.partition("/")
        top.append(ProcessInfo(pid, comm, comm, "app", int(rss), 1.0, 1.0, 0.0, 1.0, 1, "S",
                               unit or None))
    unit_infos = tuple(UnitMemory(u, f"/system.slice/{u}", int(b), None, 1.0)
                       for u, b in units.items())
    return Snapshot(
        ts="", host="web-1", memory=mem, cpu=CpuInfo(0.5, 0.5, 0.5, 4, 1000.0),
        disks=tuple(disk_infos),
        processes=ProcessSummary(120, 0, (), tuple(top), (), "interval"), services=(),
        probes=(), tmux=(), pressure=None, errors=(), durations_ms={},
        diagnostics=MemoryDiagnostics("host", units=unit_infos) if unit_infos else None)


def write_history(path: str, disks: dict[str, Series], procs: dict[str, Series],
                  units: dict[str, Series], start: float = NOW - 7 * DAY,
                  end: float = NOW, shift: float = 0.0) -> int:
    """One cycle every STEP seconds from ``start`` to ``end``, written ``shift``
    seconds later (to move the generated week to the real clock); returns the rows."""
    rows = 0
    t = start
    while t <= end:
        def values(series: dict[str, Series], t: float = t) -> dict[str, float]:
            out = {}
            for name, f in series.items():
                v = f(t)
                if v is not None:
                    out[name] = v
            return out

        write_cycle(path, snapshot(values(disks), values(procs), values(units)), t + shift,
                    30)
        rows += 1
        t += STEP
    return rows


# --- series shapes --------------------------------------------------------------------

def flat(level: float, jitter: float, rnd: random.Random) -> Shape:
    return lambda t: level + rnd.uniform(-jitter, jitter)


def linear(start_value: float, per_day: float, jitter: float, rnd: random.Random,
           since: float = NOW - 7 * DAY) -> Series:
    return lambda t: None if t < since else (start_value + per_day * (t - since) / DAY
                                             + rnd.uniform(-jitter, jitter))


def daily_sawtooth(low: float, rise_per_day: float, at_hour: float,
                   rnd: random.Random, jitter: float = 0.1) -> Shape:
    """Rises all day, falls back to ``low`` at ``at_hour`` (a cleanup or a restart)."""
    return lambda t: low + rise_per_day * (((t - at_hour * HOUR) % DAY) / DAY) \
        + rnd.uniform(-jitter, jitter)


def warm_up(base: float, extra: float, tau: float, period: float, phase: float,
            rnd: random.Random, jitter: float) -> Shape:
    """Restarted every ``period`` s; after each start fills a cache (time constant
    ``tau``) and levels off: a sawtooth that is no leak."""
    return lambda t: base + extra * (1 - math.exp(-((t + phase) % period) / tau)) \
        + rnd.uniform(-jitter, jitter)


def daily_cycle(level: float, amplitude: float, rnd: random.Random, jitter: float) -> Shape:
    return lambda t: level + amplitude * math.sin(2 * math.pi * t / DAY) \
        + rnd.uniform(-jitter, jitter)


def gc_sawtooth(low: float, high: float, period: float, rnd: random.Random) -> Shape:
    return lambda t: low + (high - low) * ((t % period) / period) + rnd.uniform(-MB, MB)


# --- registries -----------------------------------------------------------------------

def record(ts: float, subject: str, ptype: str, severity: str, action: str, result: str,
           description: str = "") -> dict[str, Any]:
    return registry.make_record(
        ts=iso(ts), severity=severity, type=ptype, description=description or subject,
        action_taken=action, action_result=result, bead_id=None, host="web-1",
        key=problem_key(ptype, subject), subject=subject, source="rules",
        cycle=f"c-{int(ts)}", details={})


def episode(start: float, minutes: float, subject: str, ptype: str, severity: str,
            step: float = 300) -> list[dict[str, Any]]:
    """A problem present for ``minutes``: recorded every cycle (alerted once, then
    suppressed), then a ``resolved`` record, as cycles write them."""
    out = []
    t = start
    while t < start + minutes * 60:
        out.append(record(t, subject, ptype, severity, "alert",
                          "success" if t == start else "suppressed",
                          f"{subject} {severity}"))
        t += step
    out.append(record(t, subject, ptype, "info", "alert", "resolved",
                      f"resolved: {subject} {severity}"))
    return out


def restart(ts: float, unit: str, result: str = "success") -> dict[str, Any]:
    return record(ts, f"service:{unit}", "service", "critical", f"restart_service:{unit}",
                  result, f"Service {unit} is failed (exit code 1)")


def write_registry(path: str, records: Iterable[dict[str, Any]], shift: float = 0.0) -> int:
    ordered = sorted(records, key=lambda r: r["ts"])
    if shift:
        for r in ordered:
            r["ts"] = iso(parse_iso(r["ts"]) + shift)  # type: ignore[operator]
    registry.append(path, ordered)
    return len(ordered)


def random_noise_records(rnd: random.Random, keys: int = 15) -> list[dict[str, Any]]:
    """One-off problems at random times: each key once or twice in the week, at a
    random hour, for 5 to 60 minutes; and units restarted at most twice a day."""
    out: list[dict[str, Any]] = []
    kinds = [("disk", "disk:/mnt/d{}"), ("service", "service:svc{}.service"),
             ("memory", "memory:proc{}"), ("cpu", "cpu:host{}")]
    for i in range(keys):
        ptype, subject = kinds[i % len(kinds)]
        for _ in range(rnd.choice((1, 2))):
            start = NOW - rnd.uniform(0.1, 6.9) * DAY
            out += episode(start, rnd.uniform(5, 60), subject.format(i), ptype,
                           rnd.choice(("warning", "critical")))
    for u in range(4):
        for day in rnd.sample(range(7), 2):
            for _ in range(rnd.choice((1, 2))):
                out.append(restart(day_at(day, rnd.uniform(0, 9.5)), f"app{u}.service"))
    return out


# --- the two worlds the tests look at -------------------------------------------------

def planted_history(path: str, seed: int = 7, shift: float = 0.0) -> int:
    """Disks and memory with known trends, beside series that must stay quiet."""
    rnd = random.Random(seed)
    disks: dict[str, Series] = {
        "/var": linear(60.0, 4.0, 0.3, rnd),  # 88% now: full in 3 days (warning)
        "/data": linear(33.0, 9.0, 0.3, rnd),  # 96% now: full in ~10.7 h (critical)
        "/": flat(50.0, 1.0, rnd),
        "/home": linear(70.0, -3.0, 0.3, rnd),  # decreasing
        "/srv": lambda t: (70.0 if t < NOW - 3.3 * DAY else 90.0) + rnd.uniform(-0.3, 0.3),
        "/tmp": daily_sawtooth(20.0, 20.0, 4.0, rnd),  # cleaned every day at 04:00
    }
    procs: dict[str, Series] = {
        # started 6 days ago, +38 MB a day: the leak to find
        "worker.service/worker": linear(200 * MB, 38 * MB, 2 * MB, rnd, since=NOW - 6 * DAY),
        # restarted every night at 00:00, and +60 MB a day in between: a leak that the
        # restarts hide
        "batch.service/python3": daily_sawtooth(150 * MB, 60 * MB, 0.0, rnd, jitter=MB),
        "db.service/postgres": daily_cycle(1200 * MB, 50 * MB, rnd, 20 * MB),
        "web.service/node": gc_sawtooth(300 * MB, 420 * MB, 5400, rnd),
        "cache.service/redis": warm_up(100 * MB, 400 * MB, 3 * HOUR, 36 * HOUR, 0.0, rnd,
                                       5 * MB),
    }
    units: dict[str, Series] = {
        "worker.service": linear(300 * MB, 38 * MB, 3 * MB, rnd, since=NOW - 6 * DAY),
        "db.service": daily_cycle(1500 * MB, 60 * MB, rnd, 20 * MB),
    }
    return write_history(path, disks, procs, units, shift=shift)


def quiet_history(path: str, seed: int) -> int:
    """Realistic noise only: flat disks with jitter, a daily logrotate sawtooth, a disk
    that grew once, memory that cycles daily, GC sawtooth, warm-up after restarts."""
    rnd = random.Random(seed)
    jump_at = NOW - rnd.uniform(1, 6) * DAY
    disks: dict[str, Series] = {
        "/": flat(rnd.uniform(40, 95), rnd.uniform(0.1, 1.5), rnd),
        "/var": daily_sawtooth(rnd.uniform(30, 70), rnd.uniform(2, 15), rnd.uniform(0, 24),
                               rnd),
        "/srv": lambda t: rnd.uniform(50, 50.5) + (15.0 if t > jump_at else 0.0),
        "/home": linear(rnd.uniform(60, 90), -rnd.uniform(0.2, 2), 0.2, rnd),
    }
    procs: dict[str, Series] = {
        "db.service/postgres": daily_cycle(rnd.uniform(500, 2000) * MB,
                                           rnd.uniform(20, 200) * MB, rnd, 10 * MB),
        "web.service/node": gc_sawtooth(300 * MB, 450 * MB, rnd.uniform(600, 8 * HOUR), rnd),
        "cache.service/redis": warm_up(100 * MB, rnd.uniform(100, 800) * MB,
                                       rnd.uniform(0.5, 4) * HOUR,
                                       rnd.uniform(20, 60) * HOUR, rnd.uniform(0, DAY), rnd,
                                       5 * MB),
        "api.service/gunicorn": flat(rnd.uniform(80, 800) * MB, 8 * MB, rnd),
    }
    units: dict[str, Series] = {
        "db.service": daily_cycle(rnd.uniform(600, 2200) * MB, rnd.uniform(20, 200) * MB,
                                  rnd, 10 * MB),
    }
    return write_history(path, disks, procs, units)


def planted_registry(path: str, seed: int = 7) -> int:
    """Registry patterns with known numbers, over random one-off noise."""
    rnd = random.Random(seed)
    out = random_noise_records(rnd)
    # flappy.service restarted 4, 3 and 5 times on 2026-05-24, 05-26 and 05-28, and
    # twice (no loop) on 05-27: 14 restarts in the window
    for days_ago, n in ((4, 4), (2, 3), (1, 2), (0, 5)):
        for i in range(n):
            out.append(restart(day_at(days_ago, 1 + 1.5 * i + rnd.uniform(0, 0.5)),
                               "flappy.service"))
    # swap:host on 4 different days at scattered hours: recurring, not clustered
    for days_ago, hour in ((5, 9.2), (3, 14.7), (2, 20.1), (0, 2.5)):
        out += episode(day_at(days_ago, hour), 20, "swap:host", "swap", "warning")
    # disk:/var warnings starting between 03:05 and 03:25 on 6 of the 7 days
    for days_ago in (6, 5, 4, 3, 1, 0):
        out += episode(day_at(days_ago, 3 + rnd.uniform(5, 25) / 60), 15, "disk:/var",
                       "disk", "warning")
    # disk:/ critical for the whole week, never cleared: persistent
    t = NOW - 7 * DAY
    while t < NOW:
        out.append(record(t, "disk:/", "disk", "critical", "alert", "suppressed"))
        t += 300
    return write_registry(path, out)
