"""Small statistics on aggregates for the map: rates and means as document models, two-sample tests.

The intervals and z are :mod:`journeymap.stats`'s (``wilson`` and ``Z95`` are re-exported here).

Examples
--------
>>> r = rate(5, 10)
>>> round(r.low, 4), round(r.high, 4)
(0.2366, 0.7634)
>>> d = two_proportions(rate(40, 100), rate(60, 100))
>>> round(d["delta"], 2), round(d["p"], 4), d["significant"]
(0.2, 0.0047, True)
"""

from __future__ import annotations

import math
from typing import Any

from journeymap.maps.models import Estimate, Rate
from journeymap.stats import Z95, normal_interval, wilson

__all__ = ["Z95", "mean_interval", "rate", "two_means", "two_proportions", "wilson"]


def rate(k: int | float | None, n: int | float | None, low: float | None = None, high: float | None = None) -> Rate:
    """``k / n`` as a :class:`Rate` with its 95% Wilson interval (given or computed)."""
    k = int(k or 0)
    n = int(n or 0)
    if n <= 0:
        return Rate(k=k, n=n)
    if low is None or high is None:
        low, high = wilson(k, n)
    return Rate(k=k, n=n, value=k / n, low=_bound(_f(low), k, n, 0), high=_bound(_f(high), k, n, n))


def _bound(x: float | None, k: int, n: int, edge: int) -> float | None:
    """A Wilson bound within [0, 1], and exact at the edge it reaches: the low bound is 0 when ``k == 0``
    and the high bound 1 when ``k == n`` (in floating point they come out as -4e-19 or 0.9999999999999999)."""
    if x is None:
        return None
    if k == edge:
        return 0.0 if edge == 0 else 1.0
    return min(1.0, max(0.0, float(x)))


def mean_interval(mean: float | None, sd: float | None, n: int, z: float = Z95) -> Estimate:
    """A mean with a normal-approximation 95% interval (``None`` bounds when n < 2; :func:`journeymap.stats.normal_interval`)."""
    if mean is None or n <= 0 or _nan(mean):
        return Estimate(n=int(n or 0))
    low, high = normal_interval(float(mean), None if sd is None or _nan(sd) else float(sd), int(n), z)
    return Estimate(value=float(mean), low=low, high=high, n=int(n))


def two_proportions(old: Rate | None, new: Rate | None) -> dict[str, Any]:
    """Delta of two rates: pooled two-proportion z-test p-value, unpooled Wald 95% interval."""
    out: dict[str, Any] = {
        "old": None if old is None else old.value,
        "new": None if new is None else new.value,
        "delta": None,
        "low": None,
        "high": None,
        "p": None,
        "significant": None,
        "n_old": None if old is None else old.n,
        "n_new": None if new is None else new.n,
    }
    if old is None or new is None or old.value is None or new.value is None:
        return out
    p1, p2, n1, n2 = old.value, new.value, old.n, new.n
    d = p2 - p1
    out["delta"] = d
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    out["low"], out["high"] = d - Z95 * se, d + Z95 * se
    pool = (old.k + new.k) / (n1 + n2)
    se0 = math.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2))
    if se0 > 0:
        z = d / se0
        out["p"] = math.erfc(abs(z) / math.sqrt(2))
        out["significant"] = out["p"] < 0.05
    else:
        out["p"], out["significant"] = 1.0, False
    return out


def two_means(old: Any, new: Any) -> dict[str, Any]:
    """Delta of two estimates with intervals (``value``/``mean``, ``low``, ``high``, ``n``): Welch-style z-test.

    The standard errors are read back from the 95% intervals (half-width / 1.96).
    """
    v1, v2 = _value(old), _value(new)
    out: dict[str, Any] = {
        "old": v1,
        "new": v2,
        "delta": None,
        "low": None,
        "high": None,
        "p": None,
        "significant": None,
        "n_old": getattr(old, "n", None),
        "n_new": getattr(new, "n", None),
    }
    if v1 is None or v2 is None:
        return out
    out["delta"] = v2 - v1
    se1, se2 = _se(old), _se(new)
    if se1 is None or se2 is None:
        return out
    se = math.sqrt(se1 * se1 + se2 * se2)
    out["low"], out["high"] = out["delta"] - Z95 * se, out["delta"] + Z95 * se
    if se > 0:
        out["p"] = math.erfc(abs(out["delta"] / se) / math.sqrt(2))
        out["significant"] = out["p"] < 0.05
    return out


def _value(x: Any) -> float | None:
    if x is None:
        return None
    v = getattr(x, "value", None)
    if v is None:
        v = getattr(x, "mean", None)
    return None if v is None else float(v)


def _se(x: Any) -> float | None:
    low, high = getattr(x, "low", None), getattr(x, "high", None)
    if low is None or high is None:
        return None
    return (float(high) - float(low)) / (2 * Z95)


def _nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def _f(x: Any) -> float | None:
    if x is None or _nan(x):
        return None
    return float(x)
