"""Survey KPIs: NPS, CSAT and CES, overall or per touchpoint, stage, channel, persona or period.

Definitions (SEMANTICS.md, "Voice of the customer"):

- **NPS** = % promoters (9-10) - % detractors (0-6) of the responses with an ``nps`` score,
  in -100..100. Interval: each response scores +1 (promoter), 0 (passive) or -1
  (detractor); NPS/100 is the mean of that score, whose variance is
  ``p + d - (p - d)^2`` (p, d: shares of promoters and detractors). The interval is
  ``NPS ± z * 100 * sqrt(var / n)``, clipped to -100..100 (the normal approximation used by
  Qualtrics and most survey tools; with few responses read it with care, hence ``too_small``).
- **CSAT** = % of 1-5 responses that are 4 or 5. Interval: Wilson score interval, which
  stays inside 0..100 and behaves at 0% and 100%. Feedback with no ``csat`` at all takes its
  CSAT from ``rating`` where that is on a 1-5 scale (``rating_scale`` 5, or no scale and every
  unscaled rating within 1..5), so star reviews need no second mapping; ``meta["csat_from"]``
  says which (``csat`` or ``rating``).
- **CES** = mean of 1-7 responses. Interval: Student t, ``mean ± t(n-1) * s / sqrt(n)``.
- ``too_small`` is true where ``n < min_n`` (default :data:`MIN_N` = 30 responses): the
  figure is shown but should not be read on its own.

Counting happens in the engine (one grouped aggregate); only the counts per group come to
Python, where the intervals are computed.

Examples
--------
>>> import ibis
>>> fb = ibis.memtable({"touchpoint": ["a", "a", "a", "b"], "nps": [10, 9, 3, 7],
...                     "csat": [5, 2, None, 4], "ces": [2, 4, None, None]})
>>> r = kpis(fb, by="touchpoint", min_n=2)
>>> [(x.breakdown["touchpoint"], x.metric, x.n, round(x.value, 1)) for x in r.typed_rows()][:3]
[('a', 'nps', 3, 33.3), ('a', 'csat', 2, 50.0), ('a', 'ces', 2, 3.0)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from journeymap import engine
from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.stats import MIN_N, nps_interval, t_interval  # the intervals, re-exported here
from journeymap.stats import wilson_percent as wilson_interval
from journeymap.voice.results import KpiRow, KpiTable

METRICS = ("nps", "csat", "ces")
DIMENSIONS = ("touchpoint", "stage", "channel", "persona", "period")
PERIODS = {"day": "D", "week": "W", "month": "M"}
UNASSIGNED = "unassigned"


# -- dimensions ----------------------------------------------------------------------------------
def with_dimension(
    feedback: ir.Table,
    by: str,
    *,
    blueprint: Blueprint | None = None,
    customers: ir.Table | None = None,
    period: str = "month",
) -> ir.Table:
    """``feedback`` with a string column named ``by`` to group on.

    ``touchpoint`` and ``channel`` come from the feedback columns (missing: ``unassigned``);
    ``stage`` from the touchpoint's stage in the blueprint; ``persona`` from the blueprint's
    persona rules over ``customers``; ``period`` is the start of the day, week (Monday) or
    month of ``ts`` (``YYYY-MM-DD``).
    """
    if by in ("touchpoint", "channel"):
        return feedback.mutate(**{by: _filled(feedback[by])})
    if by == "stage":
        tp = _filled(feedback.touchpoint)
        pairs = [(t.name, t.stage) for t in (blueprint.touchpoints if blueprint else []) if t.stage]
        stage = (
            ibis.cases(*[(tp == name, st) for name, st in pairs], else_=UNASSIGNED)
            if pairs
            else ibis.literal(UNASSIGNED)
        )
        return feedback.mutate(stage=stage)
    if by == "persona":
        return _with_persona(feedback, blueprint, customers)
    if by == "period":
        if period not in PERIODS:
            raise InputError(f"Period {period!r} is unknown (argument period); use one of {', '.join(PERIODS)}.")
        return feedback.mutate(period=feedback.ts.truncate(PERIODS[period]).date().cast("string"))
    if by in feedback.columns:
        return feedback.mutate(**{by: _filled(feedback[by].cast("string"))})
    raise InputError(
        f"Breakdown {by!r} is unknown (argument by); use one of {', '.join(DIMENSIONS)} or a feedback column."
    )


def _filled(col: ir.Value) -> ir.StringValue:
    col = col.cast("string")
    return ibis.cases((col.isnull() | (col.strip() == ""), UNASSIGNED), else_=col)


def _with_persona(feedback: ir.Table, blueprint: Blueprint | None, customers: ir.Table | None) -> ir.Table:
    """The persona breakdown is the journeys' one (:func:`journeymap.journeys.filters.with_dimension`),
    its ``dimension`` column named ``persona``."""
    from journeymap.journeys.filters import with_dimension as journeys_dimension

    if customers is None or blueprint is None:
        raise InputError(
            "Breakdown by persona needs the customers table and the blueprint (arguments customers, blueprint); pass both."
        )
    return journeys_dimension(feedback, "persona", customers=customers, blueprint=blueprint).rename(persona="dimension")


# -- KPIs ----------------------------------------------------------------------------------------
def kpi_counts(feedback: ir.Table, group: Sequence[str] = ()) -> ir.Table:
    """The counts KPIs are computed from, per group (an Ibis expression, nothing executed)."""
    nps, csat, ces = feedback.nps, feedback.csat, feedback.ces
    aggs = {
        "nps_n": nps.count(),
        "promoters": (nps >= 9).cast("int64").sum(),
        "detractors": (nps <= 6).cast("int64").sum(),
        "csat_n": csat.count(),
        "satisfied": (csat >= 4).cast("int64").sum(),
        "ces_n": ces.count(),
        "ces_mean": ces.cast("float64").mean(),
        "ces_sd": ces.cast("float64").std(how="sample"),
    }
    return feedback.group_by(list(group)).aggregate(**aggs) if group else feedback.aggregate(**aggs)


def kpis(
    feedback: ir.Table,
    *,
    by: str | None = None,
    period: str = "month",
    blueprint: Blueprint | None = None,
    customers: ir.Table | None = None,
    metrics: Sequence[str] = METRICS,
    min_n: int = MIN_N,
    level: float = 0.95,
    con: Any = None,
) -> KpiTable:
    """NPS, CSAT and CES overall or per group, with n, an interval and a ``too_small`` flag.

    Parameters
    ----------
    feedback : ibis.Table
        Rows with ``nps``, ``csat`` and ``ces`` (the ``feedback`` table or a filtered part).
    by : {"touchpoint", "stage", "channel", "persona", "period"} or a feedback column, optional
    period : {"day", "week", "month"}
        The period length when ``by="period"``.
    blueprint, customers
        Needed for ``by="stage"`` (blueprint) and ``by="persona"`` (both).
    metrics : sequence of str
        Which of nps, csat, ces to report.
    min_n : int
        Groups with fewer responses are flagged ``too_small``.
    level : float
        Confidence level of the intervals.
    con : ibis backend, optional
        Where to run (default: the table's own backend).

    Returns
    -------
    KpiTable
        One row per group and metric, ordered by group then metric; groups with no response
        for a metric have no row for it.
    """
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise InputError(f"Metric {bad[0]!r} is unknown (argument metrics); use some of {', '.join(METRICS)}.")
    group: list[str] = []
    if by:
        feedback = with_dimension(feedback, by, blueprint=blueprint, customers=customers, period=period)
        group = [by]
    basis = _basis(feedback, con)
    if basis["csat_from"] == "rating":
        feedback = feedback.mutate(csat=_csat_from_rating(feedback, basis["unscaled_ok"]))
    counts = engine.execute(kpi_counts(feedback, group), con)
    if group:
        counts = counts.sort_values(group, kind="stable")
    rows = []
    for rec in counts.to_dict(orient="records"):
        rows.extend(_metric_rows(rec, group, metrics, min_n, level))
    columns = [*group, *KpiRow.columns()]
    meta = {
        "by": by,
        "period": period if by == "period" else None,
        "min_n": min_n,
        "level": level,
        "definitions": {
            "nps": "% promoters (9-10) - % detractors (0-6); interval: normal approx. of the +1/0/-1 score",
            "csat": "% of 4-5 on 1-5; interval: Wilson"
            + (" (from rating on a 1-5 scale: there is no csat score)" if basis["csat_from"] == "rating" else ""),
            "ces": "mean on 1-7; interval: Student t",
        },
        "csat_from": basis["csat_from"],
        "empty_reason": None if rows else basis["empty_reason"],
    }
    return KpiTable(columns=columns, rows=rows, meta=meta)


def _basis(feedback: ir.Table, con: Any) -> dict[str, Any]:
    """Where CSAT comes from (``csat``, ``rating`` or None) and, for a table with no KPI, why (one sentence)."""
    feedback = _with_ratings(feedback)
    r, scale = feedback.rating.cast("float64"), feedback.rating_scale.cast("float64")
    unscaled = r.notnull() & scale.isnull()
    c = engine.execute(
        feedback.aggregate(
            rows=feedback.count(),
            nps_n=feedback.nps.count(),
            csat_n=feedback.csat.count(),
            ces_n=feedback.ces.count(),
            rated=r.count(),
            rated5=(r.notnull() & (scale == 5)).cast("int64").sum(),
            unscaled=unscaled.cast("int64").sum(),
            unscaled_out=(unscaled & ((r < 1) | (r > 5))).cast("int64").sum(),
            max_scale=scale.max(),
            max_rating=r.max(),
        ),
        con,
    ).iloc[0]
    num = {
        k: int(c[k] or 0) for k in ("rows", "nps_n", "csat_n", "ces_n", "rated", "rated5", "unscaled", "unscaled_out")
    }
    unscaled_ok = num["unscaled"] > 0 and num["unscaled_out"] == 0
    csat_from = "csat" if num["csat_n"] else ("rating" if num["rated5"] or unscaled_ok else None)
    if num["rows"] == 0:
        reason = "No KPIs: there are no feedback rows; load some with 'journeymap ingest feedback FILE'."
    elif num["rated"]:
        top = (
            c["max_scale"]
            if num["rated5"] == 0 and c["max_scale"] is not None and not math.isnan(c["max_scale"])
            else c["max_rating"]
        )
        reason = (
            f"No KPIs: none of the {num['rows']} feedback rows has an nps, csat or ces score, and their ratings are "
            f"not on a 1-5 scale (up to {float(top):g}); map the score column at ingest, e.g. --map nps=COLUMN "
            "for 0-10 ratings, or --map rating_scale=COLUMN."
        )
    else:
        reason = (
            f"No KPIs: none of the {num['rows']} feedback rows has an nps, csat or ces score or a rating; "
            "map those columns at ingest, e.g. --map nps=COLUMN --map csat=COLUMN --map rating=COLUMN."
        )
    return {"csat_from": csat_from, "unscaled_ok": unscaled_ok, "empty_reason": reason}


def _with_ratings(feedback: ir.Table) -> ir.Table:
    """``feedback`` with ``rating`` and ``rating_scale`` (null when a hand-made table lacks them)."""
    missing = {c: ibis.null("float64") for c in ("rating", "rating_scale") if c not in feedback.columns}
    return feedback.mutate(**missing) if missing else feedback


def _csat_from_rating(feedback: ir.Table, unscaled_ok: bool) -> ir.Value:
    """The 1-5 ratings as CSAT: those with ``rating_scale`` 5, and the unscaled ones when all lie in 1..5."""
    feedback = _with_ratings(feedback)
    r, scale = feedback.rating.cast("float64"), feedback.rating_scale.cast("float64")
    on5 = r.notnull() & ((scale == 5) | (scale.isnull() & ibis.literal(unscaled_ok)))
    return ibis.ifelse(on5, r, ibis.null("float64"))


def _metric_rows(rec: dict, group: list[str], metrics: Sequence[str], min_n: int, level: float) -> list[list]:
    key = [rec[g] for g in group]
    out = []
    for m in metrics:
        n = int(rec[f"{m}_n"] or 0)
        if n == 0:
            continue
        extra: list[Any] = [None, None, None, None]
        if m == "nps":
            p, d = int(rec["promoters"]), int(rec["detractors"])
            value, low, high = nps_interval(p, d, n, level)
            extra = [p, n - p - d, d, None]
        elif m == "csat":
            k = int(rec["satisfied"])
            value, low, high = wilson_interval(k, n, level)
            extra = [None, None, None, k]
        else:
            sd = rec["ces_sd"]
            value, low, high = t_interval(float(rec["ces_mean"]), None if sd is None else float(sd), n, level)
        out.append([*key, m, n, _num(value), _num(low), _num(high), n < min_n, *extra])
    return out


def _num(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)
