"""A/B tests of touchpoint variants: conversion per variant, differences, tests, sample-ratio and power checks.

The unit is a journey that met the tested touchpoint with a variant value. The
variant is read from a column of the events (``variant="column"``) or from the
JSON ``properties`` text (``{"variant": "B"}``). A journey that saw several
variants (at the tested touchpoint, when one is given) is assigned to the variant
of its **first** such touch (the touch order: time, then source row order), and
its outcome counts there only; the number of such journeys is reported as
``mixed_units`` (more than a handful means the assignment leaks: check it before
reading the result). Journeys still in progress are left out (their outcome is not
known yet) unless ``include_in_progress=True``. Counts come from the engine;
statistics from scipy:

- difference of each variant's conversion rate from the control's, with a Wald
  interval (unpooled standard error) and the two-proportion z test (pooled);
- sample-ratio mismatch: a chi-square goodness-of-fit of the units per variant
  against the planned split (equal by default); ``p < 0.001`` flags a mismatch;
- power: one calculation, :func:`required_sample_size` (the two-sided pooled z
  test: variance at the pooled rate under no difference, at ``p0`` and
  ``p0 + mde`` under the difference; Fleiss, no continuity correction), gives both
  the sample size per arm needed to detect ``mde`` (default: a 10% relative lift on
  the control's rate) and, solved for the effect, the minimum detectable effect
  at the smallest arm's size (:func:`minimum_detectable_effect`), so the two always
  agree: ``required_sample_size(p0, minimum_detectable_effect(p0, n)) == n``.

Examples
--------
>>> s = two_proportions(100, 1000, 130, 1000)
>>> round(s["difference"], 3), round(s["z"], 2), s["p_value"] < 0.05
(0.03, 2.1, True)
>>> round(required_sample_size(0.10, 0.03))
1774
>>> round(minimum_detectable_effect(0.10, 1774), 4)
0.03
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
from scipy import optimize, stats

from journeymap.attribution.results import ABTestResult
from journeymap.errors import InputError
from journeymap.stats import z_for_level

SRM_ALPHA = 0.001


def variant_expr(table: ir.Table, variant: str) -> ir.StringValue:
    """The variant of each row: a column, or a key of the JSON ``properties`` text (empty values are null)."""
    if variant in table.columns:
        v = table[variant].cast("string")
    elif "properties" in table.columns:
        key = re.escape(variant)
        v = table.properties.re_extract(rf'"{key}"\s*:\s*"?([^",}}]*)"?', 1)
    else:
        raise InputError(
            f"Variant {variant!r} is neither a column of the events nor readable from 'properties' "
            f"(columns: {', '.join(table.columns)}); pass --variant with a column or property name."
        )
    v = v.strip()
    return ibis.ifelse(v == "", ibis.null("string"), v)


def variant_counts(
    journeys: ir.Table, variant: str = "variant", touchpoint: str | None = None, include_in_progress: bool = False
) -> ir.Table:
    """Per variant: ``units``, ``conversions`` and ``mixed`` (units that saw another variant too)."""
    j = journeys if include_in_progress else journeys.filter(journeys.status != "in_progress")
    j = j.mutate(_variant=variant_expr(j, variant))
    x = j.filter(j._variant.notnull())
    if touchpoint is not None:
        x = x.filter(x.touchpoint == touchpoint)
    per = x.group_by("journey_id").agg(
        variant=x._variant.argmin(x.step), converted=x.converted.any(), n_variants=x._variant.nunique()
    )
    return (
        per.group_by("variant")
        .agg(
            units=per.count(),
            conversions=per.converted.cast("int64").sum(),
            mixed=(per.n_variants > 1).cast("int64").sum(),
        )
        .order_by("variant")
    )


def two_proportions(c0: float, n0: float, c1: float, n1: float, level: float = 0.95) -> dict[str, float]:
    """Difference ``p1 - p0`` with a Wald interval, relative lift, pooled z and two-sided p."""
    p0, p1 = c0 / n0, c1 / n1
    diff = p1 - p0
    z_crit = z_for_level(level)
    se = math.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
    pooled = (c0 + c1) / (n0 + n1)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1))
    z = diff / se0 if se0 > 0 else math.nan
    p = float(2 * stats.norm.sf(abs(z))) if se0 > 0 else math.nan
    return {
        "difference": diff,
        "low": diff - z_crit * se,
        "high": diff + z_crit * se,
        "relative_lift": diff / p0 if p0 > 0 else math.nan,
        "z": z,
        "p_value": p,
    }


def required_sample_size(p0: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Units per arm for the two-sided pooled z test to detect an absolute difference ``mde`` from ``p0``.

    The one power calculation of this module (Fleiss 1981, without continuity correction): with
    ``p1 = p0 + mde`` and the pooled ``p = (p0 + p1) / 2``,

    ``n = (z[1 - alpha/2] * sqrt(2 p (1 - p)) + z[power] * sqrt(p0 (1 - p0) + p1 (1 - p1)))**2 / mde**2``

    i.e. the variance at the pooled rate where there is no difference (as the z test computes it)
    and at ``p0`` and ``p1`` where there is one. :func:`minimum_detectable_effect` solves the same
    equation for ``mde``.

    >>> round(required_sample_size(0.10, 0.03), 2)
    1773.98
    """
    _check_levels(alpha, power)
    p1 = p0 + mde
    if not 0 < p0 < 1 or not 0 < p1 < 1 or mde == 0:
        raise InputError(f"mde {mde!r} on a base rate of {p0:.3g} must give a rate strictly between 0 and 1.")
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    pbar = (p0 + p1) / 2
    num = za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    return float(num**2 / mde**2)


def minimum_detectable_effect(p0: float, n: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest absolute increase over ``p0`` that ``n`` units per arm detect with ``power``.

    The ``mde > 0`` with ``required_sample_size(p0, mde, alpha, power) == n`` (solved with Brent's
    method; the sample size falls as the effect grows), so the two figures come from one power
    calculation. NaN when ``p0`` is 0 or 1 or ``n`` is too small to detect even a rise to 100%.

    >>> mde = minimum_detectable_effect(0.165, 41)
    >>> round(mde, 3), round(required_sample_size(0.165, mde), 6)
    (0.281, 41.0)
    """
    _check_levels(alpha, power)
    if not 0 < p0 < 1 or not n > 0 or math.isinf(n):
        return math.nan
    top = (1 - p0) * (1 - 1e-12)  # p1 just under 1

    def excess(d: float) -> float:
        return required_sample_size(p0, d, alpha, power) - n

    if excess(top) > 0:
        return math.nan
    return float(optimize.brentq(excess, top * 1e-12, top, xtol=1e-15, rtol=1e-15, maxiter=500))


def _check_levels(alpha: float, power: float) -> None:
    if not 0 < alpha < 1:
        raise InputError(f"alpha {alpha!r} must be between 0 and 1 (e.g. 0.05); pass --alpha 0.05.")
    if not 0 < power < 1:
        raise InputError(f"power {power!r} must be between 0 and 1 (e.g. 0.8); pass --power 0.8.")


def abtest(
    journeys: ir.Table,
    *,
    variant: str = "variant",
    touchpoint: str | None = None,
    control: str | None = None,
    split: Sequence[float] | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    mde: float | None = None,
    include_in_progress: bool = False,
    con=None,
) -> ABTestResult:
    """Analyse an A/B test of a touchpoint's variants (see the module docstring)."""
    from journeymap.engine import execute

    _check_levels(alpha, power)
    df = execute(variant_counts(journeys, variant, touchpoint, include_in_progress), con)
    names = [str(v) for v in df["variant"]]
    if len(names) < 2:
        raise InputError(
            f"Variant {variant!r} has {len(names)} value(s) ({', '.join(names) or 'none'}) on the tested journeys; "
            "an A/B test needs two or more (check --variant and --touchpoint)."
        )
    control = control if control is not None else names[0]
    if control not in names:
        raise InputError(f"Control {control!r} is not a variant; the variants are {', '.join(names)}.")
    units = dict(zip(names, df["units"].astype(float), strict=True))
    conv = dict(zip(names, df["conversions"].astype(float), strict=True))
    variants = [[v, int(units[v]), int(conv[v]), conv[v] / units[v]] for v in names]
    comparisons = []
    for v in names:
        if v == control:
            continue
        s = two_proportions(conv[control], units[control], conv[v], units[v], 1 - alpha)
        comparisons.append(
            [
                v,
                control,
                s["difference"],
                s["low"],
                s["high"],
                _nan(s["relative_lift"]),
                _nan(s["z"]),
                _nan(s["p_value"]),
                bool(s["p_value"] < alpha),
            ]
        )
    srm = _srm(names, units, split)
    srm["mixed_units"] = int(df["mixed"].sum())
    return ABTestResult(
        variants=variants,
        comparisons=comparisons,
        srm=srm,
        power=_power(conv[control] / units[control], min(units.values()), alpha, power, mde),
        meta={"variant": variant, "touchpoint": touchpoint, "control": control, "alpha": alpha, "unit": "journey"},
    )


def _srm(names: list[str], units: dict[str, float], split: Sequence[float] | None) -> dict[str, Any]:
    observed = np.array([units[v] for v in names])
    if split is None:
        weights = np.ones(len(names))
    else:
        weights = np.asarray(split, dtype=float)
        if len(weights) != len(names) or (weights <= 0).any():
            raise InputError(f"--split {list(split)!r} needs one positive weight per variant ({', '.join(names)}).")
    expected = observed.sum() * weights / weights.sum()
    chi2, p = stats.chisquare(observed, expected)
    return {
        "chi2": float(chi2),
        "p_value": float(p),
        "mismatch": bool(p < SRM_ALPHA),
        "expected_split": [float(w) for w in weights / weights.sum()],
    }


def _power(p0: float, n: float, alpha: float, power: float, mde: float | None) -> dict[str, Any]:
    """MDE at the smallest arm ``n`` and units per arm for the target effect, from one power calculation."""
    out: dict[str, Any] = {
        "alpha": alpha,
        "power": power,
        "control_rate": p0,
        "n_per_arm": int(n),
        "mde_absolute": _nan(minimum_detectable_effect(p0, n, alpha, power)),
    }
    target = mde if mde is not None else 0.1 * p0
    out["target_mde"] = target
    try:
        # within 1e-9 of a whole number is that number (the MDE's inversion leaves ~1e-13 of float noise)
        out["required_per_arm"] = math.ceil(required_sample_size(p0, target, alpha, power) - 1e-9)
    except InputError:
        out["required_per_arm"] = None
    return out


def _nan(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
