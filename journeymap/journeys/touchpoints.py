"""Touchpoints: how much each touchpoint is used and how the journeys that reach it end.

Per touchpoint (and breakdown value):

- ``events``: touches; ``customers``: distinct customers; ``journeys``: journeys that touch it;
- ``share_of_journeys``: those journeys over all journeys (in the same breakdown group);
- ``conversions`` and ``conversion_rate``: converted journeys among the journeys that touch it,
  with a 95% Wilson interval (``rate_low``, ``rate_high``);
- ``median_step``: the median step at which journeys first reach it (1 = first touch);
- ``median_time_to_conversion_s``: for converted journeys, the median time from the first
  touch of it to the journey's goal, in seconds (0 for the goal touchpoint itself);
- ``repeat_rate``: the share of its journeys that touch it more than once.

Medians are exact (linearly interpolated) on every engine.

Examples
--------
>>> import ibis, datetime as dt
>>> from journeymap.blueprint import Blueprint
>>> from journeymap.journeys import build_journeys
>>> ev = ibis.memtable({"customer_id": ["a", "a", "a", "b"],
...     "ts": [dt.datetime(2024, 1, d) for d in (1, 2, 3, 1)],
...     "touchpoint": ["Ad", "Ad", "Buy", "Ad"]})
>>> bp = Blueprint.model_validate({"goals": [{"touchpoint": "Buy"}]})
>>> r = touchpoints(build_journeys(ev, bp))
>>> ad = r.typed_rows()[0]
>>> ad.touchpoint, ad.events, ad.journeys, ad.conversion_rate, ad.repeat_rate
('Ad', 3, 2, 0.5, 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeymap.journeys.transitions import _plain, _require, whole_seconds
from journeymap.results import TableResult, TableRow
from journeymap.stats import wilson_expr as wilson_interval


@dataclass(frozen=True)
class TouchpointRow(TableRow):
    """One row of :class:`TouchpointsResult` (``node="stage"`` etc. names the first column after the node)."""

    renamed = ("touchpoint",)
    touchpoint: str
    events: int
    customers: int
    journeys: int
    share_of_journeys: float | None
    conversions: int
    conversion_rate: float | None
    rate_low: float | None
    rate_high: float | None
    median_step: float | None
    median_time_to_conversion_s: float | None
    repeat_rate: float | None


TOUCHPOINT_COLUMNS = TouchpointRow.columns()


class TouchpointsResult(TableResult):
    """One row per touchpoint (and breakdown value) with reach, conversion and position figures."""

    kind: ClassVar[str] = "touchpoints"
    Row: ClassVar[type[TableRow]] = TouchpointRow


def touchpoints_expr(journeys: ir.Table, *, by: str | None = None, node: str = "touchpoint") -> ir.Table:
    """The touchpoint table as an Ibis expression (nothing is executed); see the module docs."""
    _require(journeys, [node] + ([by] if by else []))
    keys = [by] if by else []
    j = journeys.mutate(_node=journeys[node].cast("string").fill_null("(none)"))
    per = j.group_by([*keys, "customer_id", "journey_no", "_node"]).agg(
        n=j.count(),
        first_step=j.step.min(),
        first_t=whole_seconds(j.ts.min()),
        end_t=whole_seconds(j.journey_end.max()),
        converted=j.converted.any(),
    )
    to_goal = ibis.ifelse(per.converted, (per.end_t - per.first_t).cast("float64"), ibis.null("float64"))
    g = per.group_by([*keys, "_node"]).agg(
        events=per.n.sum(),
        customers=per.customer_id.nunique(),
        journeys=per.count(),
        conversions=per.converted.cast("int64").sum(),
        median_step=per.first_step.median(),
        median_time_to_conversion_s=to_goal.median(),
        repeat_rate=(per.n > 1).cast("float64").mean(),
    )
    totals = j.group_by(keys).agg(_total=(j.step == 1).cast("int64").sum()) if keys else None
    if totals is not None:
        g = g.inner_join(totals, keys)
        total = g._total
    else:
        total = (j.step == 1).cast("int64").sum().as_scalar()
    low, high = wilson_interval(g.conversions, g.journeys)
    g = g.mutate(
        share_of_journeys=g.journeys.cast("float64") / total,
        conversion_rate=g.conversions.cast("float64") / g.journeys,
        rate_low=low,
        rate_high=high,
        median_step=g.median_step.cast("float64"),
    )
    g = g.rename(touchpoint="_node") if node == "touchpoint" else g.rename(**{node: "_node"})
    cols = [*keys, node, *TOUCHPOINT_COLUMNS[1:]]
    return g.select(*cols).order_by([*keys, ibis.desc("journeys"), node])


def touchpoints(
    journeys: ir.Table,
    *,
    by: str | None = None,
    node: str = "touchpoint",
    con: BaseBackend | None = None,
) -> TouchpointsResult:
    """Reach, conversion, position and repetition per touchpoint.

    Parameters
    ----------
    journeys
        The output of :func:`~journeymap.journeys.build_journeys` (filtered as needed).
    by
        A journeys column to break the figures down by (e.g. ``dimension`` from
        :func:`~journeymap.journeys.with_dimension`); shares are within each group.
    node
        The column to aggregate by: ``touchpoint`` (default), ``stage`` or ``channel``.
    con
        The engine to run on (default: the one the table is bound to).

    Returns
    -------
    TouchpointsResult
        Columns as in the module docs, most-reached first.
    """
    from journeymap.engine.fetch import rows

    # plain rows from the engine: no pandas to import for a command that prints one small table
    columns, values = rows(touchpoints_expr(journeys, by=by, node=node), con)
    return TouchpointsResult(
        columns=columns,
        rows=[[_plain(v) for v in row] for row in values],
        meta={
            "by": by,
            "node": node,
            "interval": "wilson 95%",
            "time_unit": "seconds",
            "median_step": "step at which a journey first reaches it",
        },
    )
