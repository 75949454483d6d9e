"""The statistics every analysis shares: z, Wilson intervals, mean intervals and named thresholds.

One place for the small math on aggregates (issue 17). It is core: it imports only the standard
library at import time. Two functions reach further, lazily, inside the function:

- :func:`z_for_level` / :func:`t_quantile` import ``scipy`` for a confidence level other than 95%
  (``scipy.stats.norm.ppf`` and ``scipy.stats.t.ppf``: the standard library's
  ``statistics.NormalDist`` differs from scipy in the last bit for most levels);
- :func:`wilson_expr` imports ``ibis``: the Wilson interval as an Ibis expression, for the analytics
  layers that compute it in the engine.

Each function keeps the exact arithmetic of the copy it replaces, so every figure stays the same to
the last bit (``tests/test_stats.py`` checks them on a grid against the former formulas and scipy).

Examples
--------
>>> [round(v, 4) for v in wilson(5, 10)]
[0.2366, 0.7634]
>>> wilson(0, 3)[0], wilson(3, 3)[1], wilson(0, 0)
(0.0, 1.0, (None, None))
>>> [round(x, 2) for x in wilson_percent(8, 10)]
[80.0, 49.02, 94.33]
>>> [round(x, 3) for x in t_interval(4.0, 1.0, 10)]
[4.0, 3.285, 4.715]
>>> [round(x, 4) for x in normal_interval(4.0, 1.0, 10)]
[3.3802, 4.6198]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from journeymap.errors import InputError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import ibis.expr.types as ir

__all__ = [
    "ALPHA",
    "EMOTION_MIN_N",
    "EMOTION_THRESHOLD",
    "LEVEL",
    "MIN_N",
    "NEGATIVE",
    "NEUTRAL_BAND",
    "Z95",
    "normal_interval",
    "nps_interval",
    "t_interval",
    "t_quantile",
    "wilson",
    "wilson_expr",
    "wilson_percent",
    "z_for_level",
]

# -- z and named thresholds ------------------------------------------------------------------------
LEVEL = 0.95
"""The confidence level of every interval unless a caller asks for another."""
Z95 = 1.959963984540054
"""The two-sided 95% normal quantile, ``scipy.stats.norm.ppf(0.975)`` exactly."""
ALPHA = 0.05
"""Significance level: a p-value (or FDR-adjusted q-value) below it is called significant."""
MIN_N = 30
"""Below this many responses a survey KPI (or an emotion/score mean on the map) is flagged small."""
EMOTION_MIN_N = 10
"""Below this many scored comments the map does not read an emotion mean as a feeling."""
NEGATIVE = -0.05
"""The negative edge of sentiment (the low edge of :data:`NEUTRAL_BAND`): the map's share of negative items
counts scores below it; ``voice.sentiment.label`` calls a score at or below it negative."""
NEUTRAL_BAND = (NEGATIVE, 0.3)
"""Sentiment scores strictly inside this band are labelled neutral (``voice.sentiment.label``)."""
EMOTION_THRESHOLD = 0.4
"""An emotion counts as present in a comment when its score reaches this (``voice.emotions.dominant``)."""


def z_for_level(level: float = LEVEL) -> float:
    """The two-sided normal quantile of a confidence ``level`` (``Z95`` for 0.95).

    Raises :class:`~journeymap.errors.InputError` outside (0, 1).

    >>> z_for_level(0.95) == Z95
    True
    """
    if not 0 < level < 1:
        raise InputError(f"Confidence level {level!r} must be between 0 and 1 (argument level); pass e.g. 0.95.")
    if level == LEVEL:
        return Z95
    from scipy import stats  # lazily: scipy costs ~0.3 s to import

    return float(stats.norm.ppf(0.5 + level / 2))


def t_quantile(level: float, df: int) -> float:
    """The two-sided Student-t quantile of a confidence ``level`` with ``df`` degrees of freedom."""
    if not 0 < level < 1:
        z_for_level(level)
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, df))


# -- Wilson score interval -------------------------------------------------------------------------
def wilson(successes: int, n: int | None, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval of ``successes / n`` within [0, 1]; ``(None, None)`` when ``n`` is 0.

    The bounds are exact at the edges: the low bound is 0 at 0 successes and the high bound 1 at ``n``
    (in floating point they come out as -4e-19 or 0.9999999999999999).
    """
    if not n or n <= 0:
        return None, None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes <= 0 else min(1.0, max(0.0, centre - half))
    high = 1.0 if successes >= n else min(1.0, max(0.0, centre + half))
    return low, high


def wilson_percent(k: int, n: int, level: float = LEVEL) -> tuple[float, float, float]:
    """Share ``k/n`` in % with its Wilson score interval: ``(value, low, high)``; NaNs when ``n`` is 0.

    The survey KPIs' form (``journeymap voice`` CSAT): the bounds are clipped to [0, 100] but not
    forced exact at the edges, as they always were.
    """
    if n <= 0:
        return (math.nan, math.nan, math.nan)
    z = z_for_level(level)
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return (100 * p, 100 * max(0.0, centre - half), 100 * min(1.0, centre + half))


def wilson_expr(successes: ir.NumericValue, n: ir.NumericValue, z: float = Z95) -> tuple[Any, Any]:
    """The Wilson score interval ``(low, high)`` of ``successes / n`` as Ibis expressions (null when n <= 0).

    Imports ``ibis`` when called (core stays free of it at import time).

    >>> import ibis
    >>> lo, hi = wilson_expr(ibis.literal(5), ibis.literal(10))
    >>> round(lo.execute(), 4), round(hi.execute(), 4)
    (0.2366, 0.7634)
    """
    import ibis

    n = n.cast("float64")
    p = successes.cast("float64") / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * ((p * (1 - p) / n + z2 / (4 * n * n)).sqrt()) / denom
    # within [0, 1] and exact at the edges: in floating point 0 of n gave a low bound of -4e-19
    k = successes.cast("float64")
    low = ibis.cases((n <= 0, ibis.null("float64")), (k <= 0, 0.0), else_=ibis.greatest(centre - half, 0.0))
    high = ibis.cases((n <= 0, ibis.null("float64")), (k >= n, 1.0), else_=ibis.least(centre + half, 1.0))
    return low, high


# -- means -----------------------------------------------------------------------------------------
def normal_interval(mean: float, sd: float | None, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Normal-approximation interval ``mean ± z * sd / sqrt(n)``; ``(None, None)`` when n < 2 or no sd."""
    if n < 2 or sd is None or (isinstance(sd, float) and math.isnan(sd)):
        return None, None
    half = z * float(sd) / math.sqrt(n)
    return float(mean) - half, float(mean) + half


def t_interval(mean: float, sd: float | None, n: int, level: float = LEVEL) -> tuple[float, float, float]:
    """Mean with its Student-t interval ``mean ± t(n-1) * sd / sqrt(n)``: ``(mean, low, high)``.

    NaNs when ``n`` is 0; NaN bounds for n < 2 or no ``sd``.
    """
    if n <= 0:
        return (math.nan, math.nan, math.nan)
    if n < 2 or sd is None or math.isnan(sd):
        return (mean, math.nan, math.nan)
    half = t_quantile(level, n - 1) * sd / math.sqrt(n)
    return (mean, mean - half, mean + half)


def nps_interval(promoters: int, detractors: int, n: int, level: float = LEVEL) -> tuple[float, float, float]:
    """NPS and its interval from counts: ``(nps, low, high)`` in -100..100.

    Each response scores +1, 0 or -1; NPS/100 is their mean, with variance ``p + d - (p - d)^2``; the
    interval is ``NPS ± z * 100 * sqrt(var / n)`` clipped to -100..100.

    >>> [round(x, 2) for x in nps_interval(50, 20, 100)]
    [30.0, 14.69, 45.31]
    """
    if n <= 0:
        return (math.nan, math.nan, math.nan)
    p, d = promoters / n, detractors / n
    score = p - d
    var = max(p + d - score**2, 0.0)
    half = z_for_level(level) * math.sqrt(var / n)
    return (100 * score, max(-100.0, 100 * (score - half)), min(100.0, 100 * (score + half)))
