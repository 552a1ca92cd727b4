"""The statistics behind the patterns, against figures worked out by hand."""

from __future__ import annotations

import math
import random

import pytest

from argus.analyze.trends import (
    binom_sf,
    bucket_means,
    least_squares,
    mann_kendall,
    mann_kendall_ac,
    normal_sf,
    pooled_kendall,
    pooled_theil_sen,
    split_stretches,
    theil_sen,
)

T0 = 1_779_000_000.0


def test_least_squares_recovers_a_line_and_its_fit_quality() -> None:
    pts = [(T0 + 3600 * i, 40 + 0.5 * i) for i in range(24)]
    fit = least_squares(pts)
    assert fit is not None
    assert fit.slope == pytest.approx(0.5 / 3600)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.at(T0) == pytest.approx(40.0)
    assert fit.at(T0 + 10 * 3600) == pytest.approx(45.0)
    # a constant series: no slope, and nothing explained
    flat = least_squares([(T0 + i, 7.0) for i in range(10)])
    assert flat is not None and flat.slope == 0 and flat.r2 == 0
    assert least_squares([(T0, 1.0)]) is None
    assert least_squares([(T0, 1.0), (T0, 2.0)]) is None  # one instant


def test_theil_sen_ignores_a_wild_point_that_least_squares_follows() -> None:
    pts = [(float(i), 2.0 * i) for i in range(20)]
    pts[-1] = (19.0, 500.0)
    assert theil_sen(pts) == pytest.approx(2.0)
    fit = least_squares(pts)
    assert fit is not None and fit.slope > 5
    # pooled: pairs within each stretch only; the jump between them does not count
    assert pooled_theil_sen([[(0.0, 0.0), (1.0, 1.0)], [(2.0, 100.0), (3.0, 101.0)]]) == 1.0


def test_mann_kendall_s_and_variance_with_ties() -> None:
    k = mann_kendall([1.0, 2.0, 3.0, 4.0])
    assert k.s == 6 and k.var == pytest.approx(4 * 3 * 13 / 18)
    assert k.z == pytest.approx(5 / math.sqrt(4 * 3 * 13 / 18))
    # ties: [1, 2, 2, 3]: S = 5, Var = (4*3*13 - 2*1*9) / 18
    tied = mann_kendall([1.0, 2.0, 2.0, 3.0])
    assert tied.s == 5 and tied.var == pytest.approx((156 - 18) / 18)
    falling = mann_kendall([4.0, 3.0, 2.0, 1.0])
    assert falling.s == -6 and falling.z < 0 and falling.p_rising > 0.9
    both = pooled_kendall([[(0, 1.0), (1, 2.0)], [(5, 1.0), (6, 3.0), (7, 2.0)]])
    assert both.s == 1 + 1 and both.n == 5


def test_the_autocorrelation_correction_widens_the_variance_of_a_wandering_series() -> None:
    rnd = random.Random(3)
    x, pts = 0.0, []
    for i in range(150):
        x = 0.95 * x + rnd.gauss(0, 1)
        pts.append((float(i), x))
    plain = mann_kendall([v for _, v in pts])
    corrected = mann_kendall_ac(pts)
    assert corrected.s == plain.s
    assert corrected.var > 3 * plain.var
    # white noise: nothing (or next to nothing) to correct
    white = [(float(i), rnd.gauss(0, 1)) for i in range(150)]
    assert mann_kendall_ac(white).var < 1.5 * mann_kendall([v for _, v in white]).var


def test_tail_probabilities() -> None:
    assert binom_sf(3, 3, 1 / 48) == pytest.approx((1 / 48) ** 3)
    assert binom_sf(0, 5, 0.3) == 1.0 and binom_sf(6, 5, 0.3) == 0.0
    assert binom_sf(1, 4, 0.5) == pytest.approx(1 - 0.5**4)
    assert normal_sf(0) == pytest.approx(0.5)
    assert normal_sf(3.09) == pytest.approx(0.001, rel=0.01)


def test_bucket_means_average_time_and_value_per_bucket() -> None:
    pts = [(0.0, 1.0), (100.0, 3.0), (3600.0, 10.0), (3700.0, 20.0), (9000.0, 5.0)]
    assert bucket_means(pts, 3600) == [(50.0, 2.0), (3650.0, 15.0), (9000.0, 5.0)]


def test_stretches_are_cut_at_drops_and_at_known_restarts() -> None:
    pts = [(float(t), v) for t, v in enumerate([100, 110, 120, 60, 70, 80, 79, 90, 95])]
    # 120 -> 60 is a drop (50%, 60 units); 80 -> 79 is not
    parts = split_stretches(pts, 0.25, 5, cuts=[6.5])
    assert [[v for _, v in p] for p in parts] == [[100, 110, 120], [60, 70, 80, 79], [90, 95]]
    # a cut before the first point or after the last changes nothing
    assert len(split_stretches(pts[:3], 0.25, 5, cuts=[-1.0, 99.0])) == 1


def test_binomial_tail_for_a_huge_registry_does_not_overflow() -> None:
    # regression: math.comb(n, i) * p**i overflowed a float for n in the 100,000s
    from argus.analyze.trends import binom_sf

    assert abs(binom_sf(3, 10, 0.1) - 0.0701908264) < 1e-9
    tail = binom_sf(600, 100_000, 0.005)
    assert 0.0 < tail < 0.01
