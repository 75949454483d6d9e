"""Exposure lift: do journeys that meet a touchpoint convert more? Stratified, with intervals. Association, not cause.

For each touchpoint, journeys are split into *exposed* (the touchpoint happened
before the journey's end) and *not exposed*, within strata (persona x the
stage of the journey's first touch by default), giving one 2x2 table per
stratum. The counts come from the engine; the statistics run on the 2x2xK
tables in numpy/scipy:

- Cochran-Mantel-Haenszel pooled odds ratio with the Robins-Breslow-Greenland
  interval, and the CMH chi-square test (1 degree of freedom, no continuity
  correction) for its p-value;
- the Mantel-Haenszel risk difference (weights ``n1 n0 / n``) with a Wald interval;
- Benjamini-Hochberg q-values across touchpoints.

Journeys still in progress are left out (their outcome is not known yet); goal
touchpoints are outcomes, not exposures. Customers who see a touchpoint differ
from those who do not in ways strata only partly capture, so a lift is an
association, not a causal effect: results say so.

Examples
--------
>>> import numpy as np
>>> t = np.array([[[10, 20], [5, 25]], [[3, 7], [2, 8]]], dtype=float)  # strata x (exposed, not) x (conv, not)
>>> s = cmh(t)
>>> round(s["odds_ratio"], 3), round(s["risk_difference"], 3), s["p_value"] < 0.2
(2.268, 0.15, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
from scipy import stats

from journeymap.attribution.results import HypothesisResult, LiftResult, LiftRow
from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.stats import z_for_level

NOTE = "Association, not cause: journeys that meet a touchpoint differ in other ways too."

LIFT_COLUMNS = list(LiftRow.columns())


def exposure_counts(
    journeys: ir.Table,
    customers: ir.Table | None = None,
    blueprint: Blueprint | None = None,
    *,
    strata: Sequence[str] = ("persona", "first_stage"),
    include_in_progress: bool = False,
) -> tuple[ir.Table, ir.Table]:
    """Two aggregates (Ibis expressions): exposed counts per (touchpoint, stratum) and totals per stratum."""
    j = journeys if include_in_progress else journeys.filter(journeys.status != "in_progress")
    j = _with_stratum(j, customers, blueprint, strata)
    per = j.group_by("journey_id").agg(stratum=j._stratum.arbitrary(), converted=j.converted.any())
    totals = per.group_by("stratum").agg(n=per.count(), c=per.converted.cast("int64").sum())
    exp = j.filter(~j.is_goal).select("journey_id", "touchpoint").distinct()
    ex = exp.inner_join(per, "journey_id")
    exposed = ex.group_by(["touchpoint", "stratum"]).agg(n1=ex.count(), c1=ex.converted.cast("int64").sum())
    return exposed, totals


def _with_stratum(j: ir.Table, customers, blueprint, strata: Sequence[str]) -> ir.Table:
    parts: list[ir.StringValue] = []
    for s in strata:
        if s == "persona":
            if customers is None or blueprint is None or not blueprint.personas:
                continue
            from journeymap.journeys.personas import assign_personas

            p = assign_personas(customers, blueprint).rename(_cid="customer_id")
            j = j.left_join(p, j.customer_id == p._cid).drop("_cid")
            parts.append(j.persona.fill_null("other"))
        elif s == "first_stage":
            w = ibis.window(group_by=j.journey_id)
            parts.append(ibis.ifelse(j.step == 1, j.stage, None).max().over(w).fill_null("(none)"))
        else:
            raise InputError(f"Stratum {s!r} is unknown; use persona and/or first_stage.")
    label = ibis.literal("all")
    for i, part in enumerate(parts):
        label = part if i == 0 else label + " | " + part
    return j.mutate(_stratum=label)


def cmh(tables: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """CMH odds ratio, MH risk difference, intervals and p-value for ``tables[k] = [[a, b], [c, d]]``.

    Rows: exposed, not exposed; columns: converted, not converted.
    """
    t = tables[tables.sum(axis=(1, 2)) > 1]
    a, b, c, d = t[:, 0, 0], t[:, 0, 1], t[:, 1, 0], t[:, 1, 1]
    z = z_for_level(level)
    out = {
        "odds_ratio": math.nan,
        "or_low": math.nan,
        "or_high": math.nan,
        "risk_difference": math.nan,
        "rd_low": math.nan,
        "rd_high": math.nan,
        "p_value": math.nan,
    }
    if len(t) == 0:
        return out
    out = _cmh(a, b, c, d, z, out)
    return {k: float(v) for k, v in out.items()}


def _cmh(a, b, c, d, z, out):
    n = a + b + c + d
    r, s = a * d / n, b * c / n
    if r.sum() > 0 and s.sum() > 0:
        orr = r.sum() / s.sum()
        p_, q_ = (a + d) / n, (b + c) / n
        var = (
            (p_ * r).sum() / (2 * r.sum() ** 2)
            + (p_ * s + q_ * r).sum() / (2 * r.sum() * s.sum())
            + (q_ * s).sum() / (2 * s.sum() ** 2)
        )
        out.update(
            odds_ratio=orr, or_low=orr * math.exp(-z * math.sqrt(var)), or_high=orr * math.exp(z * math.sqrt(var))
        )
    n1, n0 = a + b, c + d
    ok = (n1 > 0) & (n0 > 0)
    if ok.any():
        w = n1[ok] * n0[ok] / n[ok]
        p1, p0 = a[ok] / n1[ok], c[ok] / n0[ok]
        rd = (w * (p1 - p0)).sum() / w.sum()
        se = math.sqrt((w**2 * (p1 * (1 - p1) / n1[ok] + p0 * (1 - p0) / n0[ok])).sum()) / w.sum()
        out.update(risk_difference=rd, rd_low=rd - z * se, rd_high=rd + z * se)
        expected = (n1 * (a + c) / n)[ok & (n > 1)]
        vard = (n1 * n0 * (a + c) * (b + d) / (n**2 * (n - 1)))[ok & (n > 1)]
        if vard.sum() > 0:
            chi2 = (a[ok & (n > 1)].sum() - expected.sum()) ** 2 / vard.sum()
            out["p_value"] = float(stats.chi2.sf(chi2, 1))
    return out


def lift(
    journeys: ir.Table,
    customers: ir.Table | None = None,
    blueprint: Blueprint | None = None,
    *,
    touchpoints: Sequence[str] | None = None,
    strata: Sequence[str] = ("persona", "first_stage"),
    alpha: float = 0.05,
    include_in_progress: bool = False,
    con=None,
) -> LiftResult:
    """Exposure lift per touchpoint with CMH statistics and Benjamini-Hochberg q-values."""
    frames = _counts(journeys, customers, blueprint, strata, include_in_progress, con)
    names = sorted(frames[0]["touchpoint"].dropna().unique()) if touchpoints is None else list(touchpoints)
    rows = [_row(tp, *frames) for tp in names]
    ps = np.array([r[13] if r[13] is not None else np.nan for r in rows], dtype=float)
    ok = ~np.isnan(ps)
    q = np.full(len(rows), np.nan)
    if ok.any():
        q[ok] = stats.false_discovery_control(ps[ok], method="bh")
    for r, qv in zip(rows, q, strict=True):
        r[14] = None if np.isnan(qv) else float(qv)
        r[15] = bool(r[14] is not None and r[14] < alpha)
    rows.sort(key=lambda r: (r[14] is None, r[14] if r[14] is not None else 1.0, r[0]))
    meta = {"note": NOTE, "strata": list(strata), "alpha": alpha, "method": "CMH odds ratio, MH risk difference, BH"}
    return LiftResult(columns=LIFT_COLUMNS, rows=rows, meta=meta)


def hypothesis(
    journeys: ir.Table,
    touchpoint: str,
    customers: ir.Table | None = None,
    blueprint: Blueprint | None = None,
    *,
    strata: Sequence[str] = ("persona", "first_stage"),
    alpha: float = 0.05,
    con=None,
) -> HypothesisResult:
    """Answer "do customers who see ``touchpoint`` convert more?" with effect, interval, p and sample sizes."""
    frames = _counts(journeys, customers, blueprint, strata, False, con)
    known = set(frames[0]["touchpoint"].dropna())
    if not known:
        raise InputError(
            f"There are no finished journeys to test {touchpoint!r} on; ingest events first "
            "or widen --start/--end and the other filters."
        )
    if touchpoint not in known:
        raise InputError(
            f"Touchpoint {touchpoint!r} is not met in any finished journey; known: "
            f"{', '.join(sorted(known)[:20])}. Check the name (touchpoints are case-sensitive)."
        )
    row = _row(touchpoint, *frames)
    row[14], row[15] = row[13], bool(row[13] is not None and row[13] < alpha)
    return HypothesisResult(
        columns=LIFT_COLUMNS,
        rows=[row],
        answer=_answer(row, alpha),
        meta={"note": NOTE, "strata": list(strata), "alpha": alpha},
    )


def _counts(journeys, customers, blueprint, strata, include_in_progress, con):
    from journeymap.engine import execute

    exposed, totals = exposure_counts(
        journeys, customers, blueprint, strata=strata, include_in_progress=include_in_progress
    )
    return execute(exposed, con), execute(totals, con)


def _row(tp: str, exposed, totals) -> list[Any]:
    e = exposed[exposed["touchpoint"] == tp].set_index("stratum")
    tables = []
    for stratum, n, c in zip(totals["stratum"], totals["n"], totals["c"], strict=True):
        n1 = float(e["n1"].get(stratum, 0))
        c1 = float(e["c1"].get(stratum, 0))
        tables.append([[c1, n1 - c1], [float(c) - c1, float(n) - n1 - (float(c) - c1)]])
    arr = np.array(tables, dtype=float).reshape(-1, 2, 2)
    s = cmh(arr)
    n1, c1 = arr[:, 0].sum(), arr[:, 0, 0].sum()
    n0, c0 = arr[:, 1].sum(), arr[:, 1, 0].sum()
    row = [
        tp,
        int(n1),
        int(c1),
        c1 / n1 if n1 else None,
        int(n0),
        int(c0),
        c0 / n0 if n0 else None,
        s["risk_difference"],
        s["rd_low"],
        s["rd_high"],
        s["odds_ratio"],
        s["or_low"],
        s["or_high"],
        s["p_value"],
        None,
        False,
        int((arr.sum(axis=(1, 2)) > 0).sum()),
    ]
    return [
        None if isinstance(v, float) and math.isnan(v) else (float(v) if isinstance(v, np.floating) else v) for v in row
    ]


def _answer(row: list[Any], alpha: float) -> str:
    tp, n1, r1, n0, r0, rd, lo, hi, p = row[0], row[1], row[3], row[4], row[6], row[7], row[8], row[9], row[13]
    if rd is None or p is None:
        return f"Cannot tell for {tp!r}: {n1} journeys exposed and {n0} not; both groups need journeys."
    verdict = (
        "convert more"
        if (p < alpha and rd > 0)
        else "convert less"
        if (p < alpha and rd < 0)
        else "show no significant difference"
    )
    return (
        f"Journeys that meet {tp!r} {verdict}: {r1:.1%} of {n1} exposed vs {r0:.1%} of {n0} not; "
        f"stratified risk difference {rd:+.1%} ({lo:+.1%} to {hi:+.1%}), p = {p:.3g}. {NOTE}"
    )
