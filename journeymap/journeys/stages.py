"""The stage funnel: how journeys move through the blueprint's stages, in progress shown apart.

Per stage, in the blueprint's order (journeys are :func:`~journeymap.journeys.build_journeys`'s):

- ``journeys``: journeys with a touch in the stage; ``share_of_journeys`` of all journeys;
- ``reached_or_beyond``: journeys whose furthest stage is this one or a later one;
- ``to_next``: journeys that touch this stage and, later, the next stage (the next
  stage's touch comes after the first touch of this one: an ordered two-step funnel
  over journeys, so it equals ``funnel(journeys, ["stage:A", "stage:B"],
  unit="journey", window=None)``); ``rate_to_next`` with a 95% Wilson interval;
- ``converted``, ``in_progress``, ``dropped``: the statuses of the journeys that
  touch the stage, and ``conversion_rate`` (converted over journeys);
- ``ended_dropped``, ``ended_in_progress``: journeys whose last touch is in this
  stage, dropped or still in progress (a converted journey ends at its goal).

Examples
--------
>>> import ibis, datetime as dt
>>> from journeymap.blueprint import Blueprint
>>> from journeymap.journeys import build_journeys
>>> bp = Blueprint.model_validate({"stages": [{"name": "aware"}, {"name": "buy"}],
...     "touchpoints": [{"name": "Ad", "stage": "aware"}, {"name": "Shop", "stage": "buy"}],
...     "goals": [{"touchpoint": "Shop"}]})
>>> ev = ibis.memtable({"customer_id": ["a", "a", "b"], "touchpoint": ["Ad", "Shop", "Ad"],
...     "ts": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 1)]})
>>> r = stage_funnel(build_journeys(ev, bp), bp)
>>> [(row["stage"], row["journeys"], row["to_next"]) for row in r.records()]
[('aware', 2, 1), ('buy', 1, None)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.journeys.touchpoints import wilson_interval
from journeymap.journeys.transitions import frame_rows, run
from journeymap.results import TableResult

STAGE_COLUMNS = (
    "stage", "stage_no", "journeys", "share_of_journeys", "reached_or_beyond", "to_next", "rate_to_next",
    "next_low", "next_high", "converted", "in_progress", "dropped", "conversion_rate",
    "ended_dropped", "ended_in_progress",
)


class StageFunnelResult(TableResult):
    """One row per blueprint stage (and breakdown value)."""

    kind: ClassVar[str] = "stage_funnel"


def stage_funnel_expr(journeys: ir.Table, stages: Sequence[str], *, by: str | None = None) -> ir.Table:
    """The stage funnel as an Ibis expression (nothing is executed); see the module docs.

    Two aggregates and no join: one row per journey (and breakdown value) with the first and last
    step in each stage, then one wide row per breakdown value, unpivoted into one row per stage.
    """
    if not stages:
        raise InputError("The blueprint has no stages; add stages to blueprint.yaml for a stage funnel.")
    for c in ["stage", "journey_id", "step", "status", "n_touches"] + ([by] if by else []):
        if c not in journeys.columns:
            raise InputError(f"Column {c!r} is not in the journeys table; pass the output of build_journeys().")
    keys = [by] if by else []
    k = len(stages)
    order = {s: i + 1 for i, s in enumerate(stages)}
    j = journeys.mutate(_idx=journeys.stage.substitute(order, else_=ibis.null("int64")))
    null = ibis.null("int64")
    step = j.step.cast("int64")
    per_aggs: dict[str, Any] = {
        "_status": j.status.max(),  # one status per journey
        "_start": (j.step == 1).any(),
        "_end": ibis.ifelse(j.step == j.n_touches, j._idx, null).max(),
    }
    for s in range(1, k + 1):
        per_aggs[f"_f{s}"] = ibis.ifelse(j._idx == s, step, null).min()
        per_aggs[f"_l{s}"] = ibis.ifelse(j._idx == s, step, null).max()
    per = j.group_by([*keys, "journey_id"]).agg(**per_aggs)
    far = ibis.cases(*[(per[f"_f{s}"].notnull(), s) for s in range(k, 0, -1)], else_=null)
    per = per.mutate(_far=far)

    def count(cond: ir.BooleanValue) -> ir.IntegerValue:
        return cond.fill_null(False).cast("int64").sum()

    aggs: dict[str, Any] = {"_total": count(per._start)}
    for s in range(1, k + 1):
        has = per[f"_f{s}"].notnull()
        aggs.update({
            f"journeys_{s}": count(has),
            f"converted_{s}": count(has & (per._status == "converted")),
            f"in_progress_{s}": count(has & (per._status == "in_progress")),
            f"dropped_{s}": count(has & (per._status == "dropped")),
            f"reached_or_beyond_{s}": count(per._far >= s),
            f"ended_dropped_{s}": count((per._end == s) & (per._status == "dropped")),
            f"ended_in_progress_{s}": count((per._end == s) & (per._status == "in_progress")),
        })
        if s < k:
            aggs[f"to_next_{s}"] = count(has & (per[f"_l{s + 1}"] > per[f"_f{s}"]))
    wide = per.group_by(keys).agg(**aggs) if keys else per.aggregate(**aggs)
    base = ibis.memtable({"stage": list(stages), "_idx": list(range(1, k + 1))})
    out = wide.cross_join(base)

    def pick(name: str, last: bool = True) -> ir.IntegerValue:
        pairs = [(out._idx == s, out[f"{name}_{s}"]) for s in range(1, k + 1) if last or s < k]
        return ibis.cases(*pairs, else_=null) if pairs else null

    out = out.mutate(
        journeys=pick("journeys"), converted=pick("converted"), in_progress=pick("in_progress"),
        dropped=pick("dropped"), reached_or_beyond=pick("reached_or_beyond"),
        ended_dropped=pick("ended_dropped"), ended_in_progress=pick("ended_in_progress"),
        to_next=pick("to_next", last=False),
    )
    out = _finish(out, k)
    return out.select(*keys, *STAGE_COLUMNS).order_by([*keys, "stage_no"])


def _finish(out: ir.Table, n_stages: int) -> ir.Table:
    zero = ibis.literal(0).cast("int64")
    fill = {c: out[c].fill_null(zero) for c in ("journeys", "converted", "in_progress", "dropped",
                                                 "reached_or_beyond", "ended_dropped", "ended_in_progress")}
    out = out.mutate(**fill)
    is_last = out._idx == n_stages
    out = out.mutate(to_next=ibis.ifelse(is_last, ibis.null("int64"), out.to_next.fill_null(zero)))
    lo, hi = wilson_interval(out.to_next, out.journeys)
    has = out.journeys > 0
    return out.mutate(
        stage_no=out._idx,
        share_of_journeys=out.journeys.cast("float64") / out._total,
        rate_to_next=ibis.ifelse(has, out.to_next.cast("float64") / out.journeys, ibis.null("float64")),
        next_low=ibis.ifelse(has, lo, ibis.null("float64")),
        next_high=ibis.ifelse(has, hi, ibis.null("float64")),
        conversion_rate=ibis.ifelse(has, out.converted.cast("float64") / out.journeys, ibis.null("float64")),
    )


def stage_funnel(
    journeys: ir.Table,
    blueprint: Blueprint | None = None,
    *,
    stages: Sequence[str] | None = None,
    by: str | None = None,
    con: BaseBackend | None = None,
) -> StageFunnelResult:
    """Journeys through the blueprint's stages: reach, stage-to-stage conversion, status apart.

    Parameters
    ----------
    journeys
        The output of :func:`~journeymap.journeys.build_journeys` (filtered as needed).
    blueprint
        Gives the stages, in order (or pass ``stages``).
    by
        A journeys column to break the figures down by (``dimension`` from ``with_dimension``).
    con
        The engine to run on (default: the one the table is bound to).

    Returns
    -------
    StageFunnelResult
        Columns :data:`STAGE_COLUMNS` (``by`` first when given), in stage order.
    """
    names = list(stages) if stages is not None else (blueprint.stage_names() if blueprint else [])
    df = run(stage_funnel_expr(journeys, names, by=by), con)
    rows = frame_rows(df)
    at = list(df.columns).index("to_next")
    for row in rows:
        row[at] = None if row[at] is None else int(row[at])
    return StageFunnelResult(
        columns=list(df.columns), rows=rows,
        meta={"stages": names, "by": by, "counts": "journeys", "interval": "wilson 95%",
              "to_next": "journeys touching the next stage after their first touch of this one"},
    )
