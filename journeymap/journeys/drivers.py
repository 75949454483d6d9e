"""Conversion drivers: what converters did (or are) more often than non-converters.

For the customers who entered (all journeys, or a funnel's entries), each
touchpoint and each customer attribute value is a 2x2 table of converters and
non-converters, exposed and not. Per feature: the counts, the odds ratio with a
95% Wald interval on the log scale (Haldane-Anscombe: 0.5 added to every cell
when one is zero), Fisher's exact two-sided p-value (scipy) on the raw counts,
and the Benjamini-Hochberg adjusted p-value over every feature tested (the
multiple-testing note: with many features some small raw p-values are chance;
read ``p_adjusted``).

Who counts, and what counts as exposure:

- **journeys** (default): a customer converted if any of their journeys did;
  customers who have not converted and still have a journey in progress are
  left out (they have not decided). Touches count up to the first conversion;
  goal touchpoints themselves are not features.
- **funnel** (``steps=``): the funnel's entries (uniques); converted = reached
  the last step, entries still in progress are left out. Touches count from the
  entry up to the conversion (or the end of the window); the steps' own
  touchpoints are not features.

Association, not causation: an odds ratio says who converts, not why.

No odds ratio where a group is empty: with no converters or no non-converters
(e.g. a blueprint without goals), or a feature every customer has (no one
unexposed), the odds ratio and its interval are null (Haldane's 0.5 would
invent one: 160 with an interval that excludes 1 beside p = 1); ``meta["note"]``
says which. Fisher's p-value is still given (1 when a group is empty).

Examples
--------
>>> import ibis, datetime as dt
>>> from journeymap.blueprint import Blueprint
>>> from journeymap.journeys import build_journeys
>>> ev = ibis.memtable({"customer_id": list("aabbcd"), "touchpoint": ["Demo", "Buy", "Demo", "Buy", "Ad", "Ad"],
...     "ts": [dt.datetime(2024, 1, 1, h) for h in (1, 2, 1, 2, 1, 1)]})
>>> bp = Blueprint.model_validate({"goals": [{"touchpoint": "Buy"}], "journey": {"conversion_window": "1h"}})
>>> r = drivers(build_journeys(ev, bp, end=dt.datetime(2024, 2, 1)), min_count=1)
>>> [(row.feature, row.exposed_converters, row.exposed) for row in r.typed_rows()]
[('touchpoint=Demo', 2, 2), ('touchpoint=Ad', 0, 2)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeymap.errors import InputError
from journeymap.journeys.funnel_steps import FunnelSpec
from journeymap.journeys.transitions import run
from journeymap.results import TableResult, TableRow
from journeymap.stats import ALPHA, Z95

MAX_ATTRIBUTE_VALUES = 20


@dataclass(frozen=True)
class DriverRow(TableRow):
    """One feature of :class:`DriversResult` (odds ratio and flags None where a group is empty)."""

    feature: str
    kind: str
    name: str
    value: str
    exposed: int
    exposed_converters: int
    converters: int
    non_converters: int
    rate_exposed: float
    rate_unexposed: float | None
    odds_ratio: float | None
    or_low: float | None
    or_high: float | None
    haldane: bool | None
    p_value: float
    p_adjusted: float | None
    significant: bool | None


DRIVER_COLUMNS = DriverRow.columns()


class DriversResult(TableResult):
    """One row per feature (touchpoint or attribute value), smallest p-value first."""

    kind: ClassVar[str] = "drivers"
    Row: ClassVar[type[TableRow]] = DriverRow


def odds_ratio(a: float, b: float, c: float, d: float, z: float = Z95) -> tuple[float, float, float, bool]:
    """Odds ratio of a 2x2 table ``[[a, b], [c, d]]`` with its Wald interval; Haldane-Anscombe on zero cells.

    Returns ``(or, low, high, corrected)``.

    >>> [round(v, 4) for v in odds_ratio(10, 5, 3, 12)[:3]]
    [8.0, 1.5223, 42.0421]
    >>> odds_ratio(4, 0, 1, 5)[3]
    True
    """
    corrected = min(a, b, c, d) == 0
    if corrected:
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    ratio = (a * d) / (b * c)
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return ratio, math.exp(math.log(ratio) - z * se), math.exp(math.log(ratio) + z * se), corrected


# -- who entered and how it ended -----------------------------------------------------------------
def population_expr(
    table: ir.Table, *, steps: Sequence[Any] | None = None, end: datetime | None = None, **funnel_options: Any
) -> ir.Table:
    """``customer_id, converted, _from, _to`` (epoch seconds of the exposure window) for decided customers."""
    if steps is None:
        return _journey_population(table)
    from journeymap.journeys.funnel_chain import entries_expr

    opts = {k: funnel_options.pop(k) for k in ("optional", "step_limits", "window", "exclude") if k in funnel_options}
    spec = FunnelSpec.build(steps, **opts, **funnel_options)
    e = entries_expr(table, spec, end=end)
    e = e.filter((e._status != "in_progress") & ~e._over)
    last = f"_t{len(spec.steps) - 1}"
    until = e[last] if spec.window is None else e[last].coalesce(e._et + spec.window.total_seconds())
    until = until.coalesce(ibis.literal(2**62))
    return e.select(customer_id=e._c, converted=e._status == "converted", _from=e._et, _to=until)


def _journey_population(j: ir.Table) -> ir.Table:
    for c in ("status", "is_goal", "journey_no"):
        if c not in j.columns:
            raise InputError(f"Column {c!r} is not in the table; pass the journeys from build_journeys(), or steps=.")
    t = j.mutate(_t=j.ts.epoch_seconds())
    per = t.group_by("customer_id").agg(
        converted=t.is_goal.any(),
        _open=(t.status == "in_progress").any(),
        _first_goal=ibis.ifelse(t.is_goal, t._t, ibis.null("int64")).min(),
        _from=t._t.min(),
    )
    per = per.filter(per.converted | ~per._open)
    return per.select("customer_id", "converted", "_from", _to=per._first_goal.coalesce(ibis.literal(2**62)))


def exposures_expr(table: ir.Table, population: ir.Table, *, exclude: Sequence[str] = ()) -> ir.Table:
    """``customer_id, kind, name, value`` of the touchpoints each customer touched in their window."""
    t = table.select(
        _c=table.customer_id.cast("string"),
        _tp=table.touchpoint,
        _t=table.ts.epoch_seconds(),
        _g=table.is_goal if "is_goal" in table.columns else ibis.literal(False),
    )
    j = population.join(
        t, [population.customer_id.cast("string") == t._c, t._t >= population._from, t._t < population._to]
    )
    j = j.filter(~j._g.fill_null(False))
    if exclude:
        j = j.filter(~j._tp.isin(list(exclude)))
    return j.select(
        "customer_id", kind=ibis.literal("touchpoint"), name=ibis.literal("touchpoint"), value=j._tp.cast("string")
    ).distinct()


def attributes_expr(customers: ir.Table, population: ir.Table, attributes: Sequence[str]) -> ir.Table:
    """``customer_id, kind, name, value`` of each customer's attribute values (missing values left out)."""
    parts = []
    for attr in attributes:
        if attr not in customers.columns:
            raise InputError(f"Attribute {attr!r} is not a customers column; it has: {', '.join(customers.columns)}.")
        c = customers.select(_c=customers.customer_id.cast("string"), value=customers[attr].cast("string"))
        c = c.filter(c.value.notnull())
        parts.append(c.select(customer_id=c._c, kind=ibis.literal("attribute"), name=ibis.literal(attr), value=c.value))
    u = ibis.union(*parts, distinct=False)
    return u.semi_join(population, u.customer_id == population.customer_id.cast("string")).distinct()


def drivers_counts_expr(population: ir.Table, features: ir.Table) -> ir.Table:
    """Per feature: ``exposed`` customers and ``exposed_converters`` (an Ibis expression)."""
    p = population.select(_pc=population.customer_id.cast("string"), _conv=population.converted.cast("int64"))
    j = features.join(p, features.customer_id == p._pc)
    return j.group_by(["kind", "name", "value"]).agg(exposed=j.count(), exposed_converters=j._conv.sum())


def drivers(
    table: ir.Table,
    *,
    customers: ir.Table | None = None,
    attributes: Sequence[str] | None = None,
    steps: Sequence[Any] | None = None,
    min_count: int = 5,
    end: datetime | None = None,
    con: BaseBackend | None = None,
    **funnel_options: Any,
) -> DriversResult:
    """Odds ratios of converting per touchpoint and attribute value, with counts, intervals and p-values.

    Parameters
    ----------
    table
        The journeys (``build_journeys``); or events with ``steps=`` for a funnel's entries.
    customers, attributes
        The customers table and the attributes to test (default: every column with at most
        :data:`MAX_ATTRIBUTE_VALUES` values).
    steps, funnel_options
        Test a funnel's entries instead of all journeys (options as :func:`~journeymap.journeys.funnels.funnel`).
    min_count
        Leave out features fewer customers have (they are not tested or adjusted for).
    con
        The engine to run on.
    """
    from journeymap.engine import materialized

    # the population computed once: the totals, the exposures and the attributes all read it (inlined, each
    # query recomputed it, and with steps= the funnel's window once per step)
    with materialized(con, population_expr(table, steps=steps, end=end, **funnel_options), "the population") as pop:
        return _drivers(table, pop, customers, attributes, steps, min_count, con)


def _drivers(
    table: ir.Table,
    pop: ir.Table,
    customers: ir.Table | None,
    attributes: Sequence[str] | None,
    steps: Sequence[Any] | None,
    min_count: int,
    con: BaseBackend | None,
) -> DriversResult:
    step_tps = _step_touchpoints(steps)
    feats = exposures_expr(table, pop, exclude=step_tps)
    if customers is not None:
        attrs = list(attributes) if attributes is not None else _small_attributes(customers, con)
        if attrs:
            feats = ibis.union(feats, attributes_expr(customers, pop, attrs), distinct=False)
    totals = run(pop.aggregate(n=pop.count(), conv=pop.converted.cast("int64").sum()), con)
    first = totals.conv.iloc[0]  # None (no rows) is 0; fillna on an object column warns in pandas
    n, conv = int(totals.n.iloc[0]), 0 if first is None or first != first else int(first)
    counts = run(drivers_counts_expr(pop, feats), con)
    rows = _rows(counts, n, conv, min_count)
    note = "association, not causation"
    if conv == 0 or conv == n:
        group = "converters" if conv == 0 else "non-converters"
        note = (
            f"no {group} among the {n:,} customers: the odds ratio and its interval are undefined (null)"
            + ("; the blueprint may have no goals" if conv == 0 else "")
            + f"; {note}"
        )
    elif any(r[10] is None for r in rows):
        note = f"odds ratio null for features every customer has (no one unexposed to compare with); {note}"
    return DriversResult(
        columns=list(DRIVER_COLUMNS),
        rows=rows,
        meta={
            "population": "funnel entries" if steps else "customers with decided journeys",
            "customers": n,
            "converters": conv,
            "min_count": min_count,
            "tests": len(rows),
            "interval": "95% Wald on log odds; Haldane-Anscombe +0.5 when a cell is 0",
            "p_value": "Fisher's exact, two-sided",
            "multiple_testing": f"Benjamini-Hochberg over {len(rows)} features; read p_adjusted, not p_value",
            "odds_ratio": "null where a group is empty (no converters, no non-converters or no one unexposed)",
            "note": note,
        },
    )


def _rows(counts, n: int, conv: int, min_count: int) -> list[list[Any]]:
    from scipy.stats import false_discovery_control, fisher_exact

    out = []
    for rec in counts.to_dict("records"):
        exposed, a = int(rec["exposed"]), int(rec["exposed_converters"] or 0)
        if exposed < min_count:
            continue
        b, c = exposed - a, conv - a
        d = (n - conv) - b
        if conv == 0 or conv == n or exposed == n:  # a group is empty: no odds to compare, no ratio
            ratio, low, high, corrected = None, None, None, None
        else:
            ratio, low, high, corrected = odds_ratio(a, b, c, d)
        p = float(fisher_exact([[a, b], [c, d]]).pvalue)
        rate_un = c / (c + d) if c + d else None
        out.append(
            [
                f"{rec['name']}={rec['value']}",
                rec["kind"],
                rec["name"],
                rec["value"],
                exposed,
                a,
                conv,
                n - conv,
                a / exposed,
                rate_un,
                ratio,
                low,
                high,
                corrected,
                p,
                None,
                None,
            ]
        )
    if out:
        adjusted = false_discovery_control([r[14] for r in out], method="bh")
        for r, q in zip(out, adjusted, strict=True):
            r[15], r[16] = float(q), bool(q < ALPHA)
    out.sort(key=lambda r: (r[14], r[10] is None, -(r[10] or 0.0), r[0]))
    return out


def _small_attributes(customers: ir.Table, con: BaseBackend | None) -> list[str]:
    cols = [c for c in customers.columns if c != "customer_id"]
    if not cols:
        return []
    df = run(customers.aggregate(**{c: customers[c].nunique() for c in cols}), con)
    return [c for c in cols if 0 < int(df[c].iloc[0]) <= MAX_ATTRIBUTE_VALUES]


def _step_touchpoints(steps: Sequence[Any] | None) -> list[str]:
    from journeymap.journeys.funnel_steps import Step

    out: list[str] = []
    for s in steps or ():
        tp = Step.parse(s).touchpoint
        if tp is not None:
            out.extend(tp if isinstance(tp, list) else [tp])
    return out
