"""journeymap.stats: one copy of z, Wilson and mean intervals, bit-identical to the copies it replaced.

The reference functions below are the former copies verbatim (journeys/funnels.py ``wilson``,
maps/stats.py ``wilson``/``mean_interval``, voice/kpis.py ``wilson_interval``/``t_interval``/
``nps_interval`` with scipy's quantiles, journeys/touchpoints.py ``wilson_interval`` in the engine);
the new ones must give the same floats to the last bit on a grid of k, n and z. scipy's own Wilson
interval (``binomtest(...).proportion_ci``) checks the formula independently.
"""

from __future__ import annotations

import math

import ibis
import pytest
from scipy import stats as sp

from journeymap import stats
from journeymap.errors import InputError

GRID_N = [1, 2, 3, 5, 7, 10, 13, 30, 99, 100, 1000, 12345]
GRID_Z = [stats.Z95, 1.0, 1.6448536269514722, 2.5758293035489004]
LEVELS = [0.5, 0.8, 0.9, 0.95, 0.99, 0.999]


def _grid():
    for n in GRID_N:
        ks = sorted({0, 1, n // 3, n // 2, n - 1, n} & set(range(n + 1)))
        for k in ks:
            yield k, n


# -- the former copies, verbatim ------------------------------------------------------------------
def _old_funnels_wilson(successes, n, z):
    if not n:
        return None, None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return low, high


def _old_maps_bound(x, k, n, edge):
    if x is None:
        return None
    if k == edge:
        return 0.0 if edge == 0 else 1.0
    return min(1.0, max(0.0, float(x)))


def _old_maps_wilson(k, n, z):
    if n <= 0:
        return None, None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return _old_maps_bound(centre - half, k, n, 0), _old_maps_bound(centre + half, k, n, n)


def _old_z(level):
    return float(sp.norm.ppf(0.5 + level / 2))


def _old_voice_wilson(k, n, level):
    if n <= 0:
        return (math.nan, math.nan, math.nan)
    z = _old_z(level)
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return (100 * p, 100 * max(0.0, centre - half), 100 * min(1.0, centre + half))


def _old_t_interval(mean, sd, n, level):
    if n <= 0:
        return (math.nan, math.nan, math.nan)
    if n < 2 or sd is None or math.isnan(sd):
        return (mean, math.nan, math.nan)
    half = float(sp.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return (mean, mean - half, mean + half)


def _old_nps(promoters, detractors, n, level):
    if n <= 0:
        return (math.nan, math.nan, math.nan)
    p, d = promoters / n, detractors / n
    score = p - d
    var = max(p + d - score**2, 0.0)
    half = _old_z(level) * math.sqrt(var / n)
    return (100 * score, max(-100.0, 100 * (score - half)), min(100.0, 100 * (score + half)))


def _same(a, b):
    """Equal to the last bit (NaN equals NaN, None equals None)."""
    return all(
        (x is None and y is None)
        or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
        or (x == y and type(x) is type(y))
        for x, y in zip(a, b, strict=True)
    )


# -- tests ----------------------------------------------------------------------------------------
def test_z95_is_scipys_quantile():
    assert stats.Z95 == float(sp.norm.ppf(0.975)) == float(sp.norm.ppf(0.5 + 0.95 / 2))
    for level in LEVELS:
        assert stats.z_for_level(level) == _old_z(level)


@pytest.mark.parametrize("z", GRID_Z)
def test_wilson_matches_both_former_copies_to_the_last_bit(z):
    checked = 0
    for k, n in _grid():
        new = stats.wilson(k, n, z)
        assert _same(new, _old_funnels_wilson(k, n, z)), (k, n, z)
        assert _same(new, _old_maps_wilson(k, n, z)), (k, n, z)
        checked += 1
    assert checked > 50
    assert stats.wilson(0, 0) == (None, None) == stats.wilson(3, None)


def test_wilson_agrees_with_scipy():
    for k, n in _grid():
        ci = sp.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        low, high = stats.wilson(k, n)
        assert low == pytest.approx(ci.low, abs=1e-12) and high == pytest.approx(ci.high, abs=1e-12), (k, n)
        assert 0.0 <= low <= k / n <= high <= 1.0
    assert stats.wilson(0, 9)[0] == 0.0 and stats.wilson(9, 9)[1] == 1.0


@pytest.mark.parametrize("level", LEVELS)
def test_voice_wilson_percent_matches_its_former_copy(level):
    for k, n in _grid():
        assert _same(stats.wilson_percent(k, n, level), _old_voice_wilson(k, n, level)), (k, n, level)
    assert all(math.isnan(x) for x in stats.wilson_percent(0, 0))


@pytest.mark.parametrize("level", LEVELS)
def test_t_and_nps_intervals_match_their_former_copies(level):
    for n in GRID_N:
        for sd in (None, math.nan, 0.0, 0.7, 1.3):
            assert _same(stats.t_interval(3.25, sd, n, level), _old_t_interval(3.25, sd, n, level)), (n, sd)
        for k, _ in _grid():
            for p in sorted({0, k // 2, k}):
                d = min(k - p, n - p)
                assert _same(stats.nps_interval(p, d, n, level), _old_nps(p, d, n, level)), (p, d, n)


def test_t_interval_against_scipy_interval():
    mean, low, high = stats.t_interval(4.0, 1.0, 10)
    lo, hi = sp.t.interval(0.95, 9, loc=4.0, scale=1.0 / math.sqrt(10))
    assert (low, high) == pytest.approx((lo, hi), rel=1e-12)


def test_normal_interval_is_the_maps_mean_interval():
    for n in GRID_N:
        for sd in (None, math.nan, 0.0, 0.7):
            low, high = stats.normal_interval(2.5, sd, n)
            if n < 2 or sd is None or math.isnan(sd):
                assert (low, high) == (None, None)
            else:
                half = stats.Z95 * float(sd) / math.sqrt(n)
                assert (low, high) == (2.5 - half, 2.5 + half)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.2])
def test_a_bad_level_is_one_clear_sentence(level):
    with pytest.raises(InputError, match="between 0 and 1"):
        stats.z_for_level(level)
    with pytest.raises(InputError, match="between 0 and 1"):
        stats.t_interval(1.0, 1.0, 5, level)


def test_wilson_expr_in_the_engine_equals_the_scalar_form():
    pairs = list(_grid())
    t = ibis.memtable({"k": [k for k, _ in pairs] + [0], "n": [n for _, n in pairs] + [0]})
    low, high = stats.wilson_expr(t.k, t.n)
    out = t.mutate(low=low, high=high).execute()
    for (k, n), lo, hi in zip(pairs, out["low"][:-1], out["high"][:-1], strict=True):
        ref = stats.wilson(k, n)
        assert lo == pytest.approx(ref[0], abs=1e-15) and hi == pytest.approx(ref[1], abs=1e-15), (k, n)
        if k == 0:
            assert lo == 0.0
        if k == n:
            assert hi == 1.0
    assert math.isnan(out["low"].iloc[-1]) and math.isnan(out["high"].iloc[-1])


def test_the_former_homes_use_the_one_copy():
    import importlib

    drivers, funnels, stages, touchpoints, emotions, kpis, sentiment = (
        importlib.import_module(f"journeymap.{m}")
        for m in (
            "journeys.drivers",
            "journeys.funnels",
            "journeys.stages",
            "journeys.touchpoints",
            "voice.emotions",
            "voice.kpis",
            "voice.sentiment",
        )
    )

    assert funnels.wilson is stats.wilson
    assert touchpoints.wilson_interval is stats.wilson_expr is stages.wilson_interval
    assert drivers.Z95 is stats.Z95
    assert kpis.wilson_interval is stats.wilson_percent and kpis.t_interval is stats.t_interval
    assert kpis.MIN_N == stats.MIN_N and sentiment.NEUTRAL_BAND == stats.NEUTRAL_BAND
    assert emotions.dominant.__kwdefaults__["threshold"] == stats.EMOTION_THRESHOLD


@pytest.mark.parametrize("level", LEVELS + [1 - 0.05])
def test_attribution_takes_its_z_from_here_with_the_same_bits(level):
    """abtest's Wald interval and lift's CMH intervals: z from z_for_level equals scipy's quantile to the bit."""
    import numpy as np

    from journeymap.attribution import abtest, lift

    z = _old_z(level)
    for c0, n0, c1, n1 in [(100, 1000, 130, 1000), (3, 17, 9, 20), (0, 50, 4, 60)]:
        s = abtest.two_proportions(c0, n0, c1, n1, level)
        p0, p1 = c0 / n0, c1 / n1
        se = math.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
        assert (s["low"], s["high"]) == (p1 - p0 - z * se, p1 - p0 + z * se)
    tables = np.array([[[10, 40], [5, 45]], [[7, 13], [4, 16]]], dtype=float)
    got = lift.cmh(tables, level)
    ref = lift._cmh(tables[:, 0, 0], tables[:, 0, 1], tables[:, 1, 0], tables[:, 1, 1], z, {})
    for k in ("or_low", "or_high", "rd_low", "rd_high"):
        assert got[k] == float(ref[k]), k
