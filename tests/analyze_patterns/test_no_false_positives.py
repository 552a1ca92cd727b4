"""Nothing planted, nothing reported: realistic noise in the registry and the history,
and sweeps over many random series of each shape that must stay quiet (with the
shapes that must not, so a sweep that flags nothing proves something)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from patterns_helpers import (
    DAY,
    MB,
    NOW,
    day_at,
    episode,
    quiet_history,
    random_noise_records,
    write_registry,
)

from argus.analyze import patterns as P
from argus.analyze.patterns_history import assess_creep, assess_fill, bucket_width
from argus.config import build_config
from argus.context import make_context

WEEK = 7 * DAY
WIDTH = bucket_width(WEEK)
Gen = Callable[[random.Random], list[tuple[float, float]]]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_noisy_week_with_nothing_planted_reports_nothing(tmp_path: Path, seed: int) -> None:
    quiet_history(str(tmp_path / "history.sqlite3"), seed)
    write_registry(str(tmp_path / "problems.jsonl"),
                   random_noise_records(random.Random(seed), keys=25))
    ctx = make_context(build_config({}, "test", {}), str(tmp_path), env={}, host="web-1")
    found, notes = P.detect(ctx, WEEK, NOW)
    assert notes == []
    assert [p.title for p in found] == []


def series(f: Callable[[float], float], start: float = NOW - WEEK) -> list[tuple[float, float]]:
    return [(float(t), f(t)) for t in range(int(start), NOW + 1, 600)]


# --- disks: each generator is one realistic shape, with random parameters ------------

def disk_flat(r: random.Random) -> list[tuple[float, float]]:
    level, j = r.uniform(10, 97), r.uniform(0.05, 2)
    return series(lambda t: min(100, level + r.uniform(-j, j)))


def disk_wander(r: random.Random) -> list[tuple[float, float]]:
    """A mean-reverting wander (AR(1)): files come and go."""
    level, phi, sd, x = r.uniform(40, 95), r.uniform(0.9, 0.995), r.uniform(0.05, 0.5), [0.0]

    def f(t: float) -> float:
        x[0] = phi * x[0] + r.gauss(0, sd)
        return min(100, max(0, level + x[0]))
    return series(f)


def disk_daily_cycle(r: random.Random) -> list[tuple[float, float]]:
    level, a, ph = r.uniform(30, 90), r.uniform(1, 8), r.uniform(0, 2 * math.pi)
    return series(lambda t: min(100, level + a * math.sin(2 * math.pi * t / DAY + ph)
                                + r.uniform(-0.3, 0.3)))


def disk_logrotate(r: random.Random) -> list[tuple[float, float]]:
    """Fills all day, cleaned every night: the last tooth is no prediction."""
    level, a, ph = r.uniform(30, 84), r.uniform(2, 15), r.uniform(0, DAY)
    return series(lambda t: level + a * (((t + ph) % DAY) / DAY) + r.uniform(-0.2, 0.2))


def disk_logrotate_near_full(r: random.Random) -> list[tuple[float, float]]:
    level, a, ph = r.uniform(90, 97.5), r.uniform(0.5, 2.5), r.uniform(0, DAY)
    return series(lambda t: level + a * (((t + ph) % DAY) / DAY) + r.uniform(-0.05, 0.05))


def disk_one_jump(r: random.Random) -> list[tuple[float, float]]:
    """One big copy: a step, not a trend."""
    level, a, at = r.uniform(30, 80), r.uniform(5, 18), NOW - r.uniform(0.1, 0.9) * WEEK
    return series(lambda t: level + (a if t > at else 0) + r.uniform(-0.3, 0.3))


def disk_shrinking(r: random.Random) -> list[tuple[float, float]]:
    level, a = r.uniform(60, 99), r.uniform(0.5, 5)
    return series(lambda t: level - a * (t - NOW + WEEK) / DAY + r.uniform(-0.3, 0.3))


def disk_filling(r: random.Random) -> list[tuple[float, float]]:
    rate = r.uniform(2, 8)
    start = 100 - rate * (7 + r.uniform(0.3, 6))
    return series(lambda t: start + rate * (t - NOW + WEEK) / DAY + r.uniform(-0.5, 0.5))


def disk_filling_lately(r: random.Random) -> list[tuple[float, float]]:
    """Flat for days, then filling for the last one to three."""
    level, days = r.uniform(40, 70), r.uniform(1, 3)
    rate = (r.uniform(92, 99) - level) / days
    return series(lambda t: level + max(0.0, rate * (t - (NOW - days * DAY)) / DAY)
                  + r.uniform(-0.2, 0.2))


def disk_filling_after_cleanup(r: random.Random) -> list[tuple[float, float]]:
    rate = (r.uniform(92, 99) - 40) / 4
    return series(lambda t: 85 + 0.5 * (t - NOW + WEEK) / DAY if t < NOW - 4 * DAY
                  else 40 + rate * (t - NOW + 4 * DAY) / DAY + r.uniform(-0.2, 0.2))


QUIET_DISKS = [disk_flat, disk_wander, disk_daily_cycle, disk_logrotate,
               disk_logrotate_near_full, disk_one_jump, disk_shrinking]
FILLING_DISKS = [disk_filling, disk_filling_lately, disk_filling_after_cleanup]


@pytest.mark.parametrize("shape", QUIET_DISKS, ids=lambda g: g.__name__)
def test_no_disk_shape_without_a_trend_is_predicted_to_fill(shape: Gen) -> None:
    flagged = [seed for seed in range(100) if assess_fill(shape(random.Random(seed)), WIDTH,
                                                          NOW) is not None]
    assert flagged == []


@pytest.mark.parametrize("shape", FILLING_DISKS, ids=lambda g: g.__name__)
def test_every_disk_that_fills_is_predicted(shape: Gen) -> None:
    missed = [seed for seed in range(100) if assess_fill(shape(random.Random(seed)), WIDTH,
                                                         NOW) is None]
    assert missed == []


# --- memory ---------------------------------------------------------------------------

def mem_flat(r: random.Random) -> list[tuple[float, float]]:
    level = r.uniform(50, 2000) * MB
    j = r.uniform(0.005, 0.05) * level
    return series(lambda t: level + r.uniform(-j, j))


def mem_daily_cycle(r: random.Random) -> list[tuple[float, float]]:
    level = r.uniform(100, 2000) * MB
    a, ph = r.uniform(0.05, 0.3) * level, r.uniform(0, 2 * math.pi)
    return series(lambda t: level + a * math.sin(2 * math.pi * t / DAY + ph)
                  + r.uniform(-0.01, 0.01) * level)


def mem_gc_sawtooth(r: random.Random) -> list[tuple[float, float]]:
    level = r.uniform(100, 1000) * MB
    a, period = r.uniform(0.3, 0.8) * level, r.uniform(600, 10 * 3600)
    return series(lambda t: level + a * ((t % period) / period)
                  + r.uniform(-0.01, 0.01) * level)


def mem_warm_up_and_restarts(r: random.Random) -> list[tuple[float, float]]:
    """Restarted every 17 to 72 h; fills a cache after each start and levels off."""
    base, extra = r.uniform(50, 300) * MB, r.uniform(100, 800) * MB
    tau, period = r.uniform(1800, 6 * 3600), r.uniform(0.7, 3) * DAY
    phase = r.uniform(0, period)
    return series(lambda t: base + extra * (1 - math.exp(-((t + phase) % period) / tau))
                  + r.uniform(-0.01, 0.01) * (base + extra))


def mem_wander(r: random.Random) -> list[tuple[float, float]]:
    level = r.uniform(100, 2000) * MB
    phi, sd, x = r.uniform(0.9, 0.99), r.uniform(0.002, 0.01) * level, [0.0]

    def f(t: float) -> float:
        x[0] = phi * x[0] + r.gauss(0, sd)
        return level + x[0]
    return series(f)


def mem_leak(r: random.Random) -> list[tuple[float, float]]:
    level, rate = r.uniform(100, 1000) * MB, r.uniform(30, 100) * MB
    return series(lambda t: level + rate * (t - NOW + 6 * DAY) / DAY
                  + r.uniform(-0.01, 0.01) * level, start=NOW - 6 * DAY)


def mem_leak_and_restarts(r: random.Random) -> list[tuple[float, float]]:
    level, rate = r.uniform(100, 400) * MB, r.uniform(40, 100) * MB
    period = r.uniform(0.8, 2) * DAY
    return series(lambda t: level + rate * ((t % period) / DAY) + r.uniform(-0.01, 0.01) * level)


QUIET_MEMORY = [mem_flat, mem_daily_cycle, mem_gc_sawtooth, mem_warm_up_and_restarts,
                mem_wander]


@pytest.mark.parametrize("shape", QUIET_MEMORY, ids=lambda g: g.__name__)
def test_no_memory_shape_without_a_leak_is_a_leak(shape: Gen) -> None:
    flagged = [seed for seed in range(60)
               if assess_creep(shape(random.Random(seed)), WIDTH) is not None]
    assert flagged == []


@pytest.mark.parametrize("shape", [mem_leak, mem_leak_and_restarts], ids=lambda g: g.__name__)
def test_leaks_are_found(shape: Gen) -> None:
    found = sum(assess_creep(shape(random.Random(seed)), WIDTH) is not None
                for seed in range(60))
    assert found >= 58  # a leak that restarts every 19 h with 1% jitter can hide


# --- time clustering ------------------------------------------------------------------

def test_problems_at_random_hours_cluster_no_more_often_than_the_bound_says() -> None:
    """3 to 12 episodes at uniformly random times in a week or four: the chance of a
    spurious time-of-day or weekday cluster per key is bounded by CLUSTER_ALPHA."""
    trials = flagged = 0
    for weeks in (1, 4):
        for n in (3, 4, 5, 6, 8, 12):
            for seed in range(300):
                r = random.Random(seed * 1000 + n * 10 + weeks)
                starts = sorted(NOW - r.uniform(0, weeks * WEEK) for _ in range(n))
                trials += 1
                flagged += P._time_of_day(starts) is not None
                flagged += P._day_of_week(starts) is not None
    assert flagged <= P.CLUSTER_ALPHA * trials


def test_a_key_flapping_at_random_hours_recurs_but_is_not_time_correlated(
        tmp_path: Path) -> None:
    r = random.Random(11)
    records = []
    for days_ago in range(7):
        for _ in range(2):
            records += episode(day_at(days_ago, r.uniform(0, 9.9 if days_ago == 0 else 23.5)),
                               10, "probe:api", "service", "warning")
    write_registry(str(tmp_path / "problems.jsonl"), records)
    ctx = make_context(build_config({}, "test", {}), str(tmp_path), env={}, host="web-1")
    found = P.detect_patterns(ctx, WEEK, NOW)
    assert [p.kind for p in found] == ["recurring_key"]
    assert found[0].evidence["distinct_days"] == 7
