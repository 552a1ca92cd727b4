"""Trend statistics for pattern detection, pure stdlib: no numpy on a watchdog host.

- ``least_squares``: the ordinary least-squares line, as Prometheus' ``predict_linear``
  fits it (``promql/functions.go``, ``linearRegression``), plus R².
- ``theil_sen`` / ``pooled_theil_sen``: the median of pairwise slopes (Sen 1968,
  "Estimates of the regression coefficient based on Kendall's tau"); pooled over
  separate stretches it is the seasonal Kendall slope of Hirsch, Slack & Smith 1982
  ("Techniques of trend analysis for monthly water quality data"), with restart-free
  stretches in place of seasons. Robust: one jump in a series moves it little.
- ``mann_kendall`` / ``pooled_kendall``: the Mann-Kendall trend test (Kendall 1975),
  with the tie correction and the continuity-corrected normal approximation; pooled
  by adding S and Var(S) across stretches, as the seasonal Kendall test does.
- ``binom_sf``, ``normal_sf``: tail probabilities for the significance checks.
- ``bucket_means``, ``split_stretches``: preparing raw history points for the above.

Times are epoch seconds and slopes are value units per second throughout.
"""

from __future__ import annotations

import math

from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

Point = tuple[float, float]


class Fit(NamedTuple):
    """A least-squares line ``value = intercept + slope * (t - t_mean)``."""

    slope: float  # value units per second
    intercept: float  # the fitted value at t_mean (the mean value)
    t_mean: float  # epoch seconds; centring keeps 1.7e9-second times well conditioned
    r2: float  # share of the variance the line explains, 0..1 (0 for a constant series)
    n: int

    def at(self, t: float) -> float:
        return self.intercept + self.slope * (t - self.t_mean)


class Kendall(NamedTuple):
    """The Mann-Kendall statistic S of ``n`` values and its variance under no trend."""

    s: int  # concordant minus discordant pairs: > 0 rising, < 0 falling
    var: float
    n: int

    @property
    def z(self) -> float:
        """The continuity-corrected normal score of S (0 when there is nothing to test)."""
        if self.var <= 0 or self.s == 0:
            return 0.0
        return (self.s - 1 if self.s > 0 else self.s + 1) / math.sqrt(self.var)

    @property
    def p_rising(self) -> float:
        """One-sided p-value of "rising": the chance of a Z this high with no trend."""
        return normal_sf(self.z)


def least_squares(points: Sequence[Point]) -> Fit | None:
    """The OLS line through ``points``; None for fewer than 2 points or a single instant."""
    n = len(points)
    if n < 2:
        return None
    t_mean = math.fsum(t for t, _ in points) / n
    v_mean = math.fsum(v for _, v in points) / n
    sxx = math.fsum((t - t_mean) ** 2 for t, _ in points)
    if sxx <= 0:
        return None
    sxy = math.fsum((t - t_mean) * (v - v_mean) for t, v in points)
    syy = math.fsum((v - v_mean) ** 2 for _, v in points)
    slope = sxy / sxx
    r2 = min(1.0, sxy * sxy / (sxx * syy)) if syy > 0 else 0.0
    return Fit(slope, v_mean, t_mean, r2, n)


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _pair_slopes(points: Sequence[Point]) -> list[float]:
    out = []
    for i, (ti, vi) in enumerate(points):
        for tj, vj in points[i + 1:]:
            if tj != ti:
                out.append((vj - vi) / (tj - ti))
    return out


def theil_sen(points: Sequence[Point]) -> float | None:
    """The median pairwise slope of time-ordered ``points``; None with no pair."""
    return pooled_theil_sen([points])


def pooled_theil_sen(stretches: Iterable[Sequence[Point]]) -> float | None:
    """The median of the pairwise slopes within each stretch, pooled (never across)."""
    slopes: list[float] = []
    for stretch in stretches:
        slopes += _pair_slopes(stretch)
    return median(slopes) if slopes else None


def mann_kendall(values: Sequence[float]) -> Kendall:
    """S = sum of sign(v_j - v_i) over i < j, and Var(S) with the tie correction."""
    n = len(values)
    s = 0
    for i, vi in enumerate(values):
        for vj in values[i + 1:]:
            s += (vj > vi) - (vj < vi)
    ties: dict[float, int] = {}
    for v in values:
        ties[v] = ties.get(v, 0) + 1
    var = (n * (n - 1) * (2 * n + 5)
           - sum(t * (t - 1) * (2 * t + 5) for t in ties.values() if t > 1)) / 18
    return Kendall(s, float(var), n)


def mann_kendall_ac(points: Sequence[Point]) -> Kendall:
    """Mann-Kendall with Hamed & Rao's variance correction for autocorrelation.

    Hamed & Rao 1998, "A modified Mann-Kendall trend test for autocorrelated data"
    (J. Hydrology 204): Var(S) is multiplied by n/n*, from the significant (outside
    +-1.96/sqrt(n)) lag autocorrelations of the ranks of the Theil-Sen-detrended
    series. Memory and disk series wander slowly; without this, an hour-to-hour
    wander is read as a trend with an absurdly small p-value. Never below the plain
    variance (negative autocorrelation is not credited).
    """
    k = mann_kendall([v for _, v in points])
    n = len(points)
    slope = theil_sen(points) if n >= 3 else None
    if slope is None:
        return k
    ranks = _ranks([v - slope * t for t, v in points])
    mean = (n + 1) / 2
    dev = [r - mean for r in ranks]
    denom = math.fsum(d * d for d in dev)
    if denom <= 0:
        return k
    bound = 1.96 / math.sqrt(n)
    factor = 1.0
    for lag in range(1, n - 2):
        rho = math.fsum(dev[i] * dev[i + lag] for i in range(n - lag)) / denom
        if abs(rho) > bound:
            factor += 2 / (n * (n - 1) * (n - 2)) * (n - lag) * (n - lag - 1) * (n - lag - 2) \
                * rho
    return Kendall(k.s, k.var * max(1.0, factor), n)


def _ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for m in range(i, j + 1):
            ranks[order[m]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pooled_kendall(stretches: Iterable[Sequence[Point]]) -> Kendall:
    """Mann-Kendall over several stretches (autocorrelation-corrected each): S and
    Var(S) add up, the stretches being independent."""
    s, var, n = 0, 0.0, 0
    for stretch in stretches:
        k = mann_kendall_ac(stretch)
        s, var, n = s + k.s, var + k.var, n + k.n
    return Kendall(s, var, n)


def normal_sf(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): an exact sum, each term in log space.

    In log space because ``math.comb(n, i)`` overflows a float for the n of a big
    registry (found with a 1,000,000-record registry).
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    terms = (math.exp(log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                      + i * log_p + (n - i) * log_q) for i in range(k, n + 1))
    return min(1.0, math.fsum(terms))


def bucket_means(points: Sequence[Point], width: float) -> list[Point]:
    """One (mean time, mean value) point per ``width``-second bucket that has points.

    Averaging first (an hour for a week's window) cuts a week of 5-minute points
    (~2,000) to ~170, which keeps the O(n²) pairwise methods cheap, and takes the
    sample-to-sample jitter out of the trend tests.
    """
    sums: dict[int, list[float]] = {}
    for t, v in points:
        acc = sums.setdefault(int(t // width), [0.0, 0.0, 0.0])
        acc[0] += t
        acc[1] += v
        acc[2] += 1
    return [(st / n, sv / n) for _, (st, sv, n) in sorted(sums.items())]


def split_stretches(points: Sequence[Point], drop_fraction: float, min_drop: float,
                    cuts: Sequence[float] = ()) -> list[list[Point]]:
    """Cut time-ordered ``points`` where the series restarted.

    A restart is a fall of at least ``drop_fraction`` of the previous value and at
    least ``min_drop`` in absolute terms (a restarted process starts small again), or
    a known restart time in ``cuts`` between two points.
    """
    stretches: list[list[Point]] = []
    cut_times = sorted(cuts)
    c = 0
    prev: Point | None = None
    for t, v in points:
        new = prev is None
        if prev is not None:
            fall = prev[1] - v
            if fall >= min_drop and fall >= drop_fraction * prev[1]:
                new = True
            while c < len(cut_times) and cut_times[c] <= t:
                if cut_times[c] > prev[0]:
                    new = True
                c += 1
        if new:
            stretches.append([])
        stretches[-1].append((t, v))
        prev = (t, v)
    return stretches
