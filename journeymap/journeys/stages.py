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

**After the goal.** A journey ends at its goal, so ``to_next`` of the goal's stage is
low by design: what a customer does after buying lies in their next journeys. For each
stage after the goal's (the first stage, in blueprint order, holding a goal touchpoint):

- ``converters``: converted journeys (the denominator; the same on every such row);
- ``after_goal``: converted journeys whose customer touches this stage *after*
  converting (a later journey of theirs, in the order of touches) within the
  conversion window of the conversion (inclusive; any time when the window is off);
  ``after_goal_rate`` with a 95% Wilson interval (``after_low``, ``after_high``).
  Conversions near the data's end have had less time, so recent rates are low.

These are null on the goal's stage and the stages before it.

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
>>> [(row.stage, row.journeys, row.to_next) for row in r.typed_rows()]
[('aware', 2, 1), ('buy', 1, None)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.journeys.transitions import frame_rows, run
from journeymap.results import TableResult, TableRow
from journeymap.stats import wilson_expr as wilson_interval


@dataclass(frozen=True)
class StageRow(TableRow):
    """One stage (and breakdown value) of :class:`StageFunnelResult`."""

    stage: str
    stage_no: int
    journeys: int
    share_of_journeys: float | None
    reached_or_beyond: int
    to_next: int | None
    rate_to_next: float | None
    next_low: float | None
    next_high: float | None
    converted: int
    in_progress: int
    dropped: int
    conversion_rate: float | None
    ended_dropped: int
    ended_in_progress: int
    converters: int | None
    after_goal: int | None
    after_goal_rate: float | None
    after_low: float | None
    after_high: float | None


STAGE_COLUMNS = StageRow.columns()


class StageFunnelResult(TableResult):
    """One row per blueprint stage (and breakdown value)."""

    kind: ClassVar[str] = "stage_funnel"
    Row: ClassVar[type[TableRow]] = StageRow


def stage_funnel_expr(
    journeys: ir.Table,
    stages: Sequence[str],
    *,
    by: str | None = None,
    goal_stage: str | None = None,
    window: timedelta | None = None,
) -> ir.Table:
    """The stage funnel as an Ibis expression (nothing is executed); see the module docs.

    Two aggregates and no join: one row per journey (and breakdown value) with the first and last
    step in each stage, then one wide row per breakdown value, unpivoted into one row per stage.
    With ``goal_stage`` (and the conversion ``window``), the stages after it also get what converters
    do next: converted journeys joined to the same customer's later journeys (one aggregate row each).
    """
    if not stages:
        raise InputError("The blueprint has no stages; add stages to blueprint.yaml for a stage funnel.")
    if goal_stage is not None and goal_stage not in stages:
        raise InputError(f"Goal stage {goal_stage!r} is not one of the stages: {', '.join(stages)}.")
    k = len(stages)
    order = {s: i + 1 for i, s in enumerate(stages)}
    post = [s for s in range(1, k + 1) if goal_stage is not None and s > order[goal_stage]]
    needed = ["stage", "journey_id", "step", "status", "n_touches"] + ([by] if by else [])
    needed += ["customer_id", "journey_no", "ts", "journey_end"] if post else []
    for c in needed:
        if c not in journeys.columns:
            raise InputError(f"Column {c!r} is not in the journeys table; pass the output of build_journeys().")
    keys = [by] if by else []
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
    if post:  # the journey's customer, number, conversion time and first time in each later stage
        per_aggs.update(_cust=j.customer_id.arbitrary(), _no=j.journey_no.max(), _conv_ts=j.journey_end.max())
        for s in post:
            per_aggs[f"_t{s}"] = ibis.ifelse(j._idx == s, j.ts, ibis.null("timestamp")).min()
    per = j.group_by([*keys, "journey_id"]).agg(**per_aggs)
    far = ibis.cases(*[(per[f"_f{s}"].notnull(), s) for s in range(k, 0, -1)], else_=null)
    per = per.mutate(_far=far)

    def count(cond: ir.BooleanValue) -> ir.IntegerValue:
        return cond.fill_null(False).cast("int64").sum()

    aggs: dict[str, Any] = {"_total": count(per._start), "_converters": count(per._status == "converted")}
    for s in range(1, k + 1):
        has = per[f"_f{s}"].notnull()
        aggs.update(
            {
                f"journeys_{s}": count(has),
                f"converted_{s}": count(has & (per._status == "converted")),
                f"in_progress_{s}": count(has & (per._status == "in_progress")),
                f"dropped_{s}": count(has & (per._status == "dropped")),
                f"reached_or_beyond_{s}": count(per._far >= s),
                f"ended_dropped_{s}": count((per._end == s) & (per._status == "dropped")),
                f"ended_in_progress_{s}": count((per._end == s) & (per._status == "in_progress")),
            }
        )
        if s < k:
            aggs[f"to_next_{s}"] = count(has & (per[f"_l{s + 1}"] > per[f"_f{s}"]))
    wide = per.group_by(keys).agg(**aggs) if keys else per.aggregate(**aggs)
    if post:
        wide = _with_after_goal(wide, per, keys, post, window)
    base = ibis.memtable({"stage": list(stages), "_idx": list(range(1, k + 1))})
    out = wide.cross_join(base)

    def pick(name: str, last: bool = True) -> ir.IntegerValue:
        pairs = [(out._idx == s, out[f"{name}_{s}"]) for s in range(1, k + 1) if last or s < k]
        return ibis.cases(*pairs, else_=null) if pairs else null

    out = out.mutate(
        journeys=pick("journeys"),
        converted=pick("converted"),
        in_progress=pick("in_progress"),
        dropped=pick("dropped"),
        reached_or_beyond=pick("reached_or_beyond"),
        ended_dropped=pick("ended_dropped"),
        ended_in_progress=pick("ended_in_progress"),
        to_next=pick("to_next", last=False),
    )
    out = _finish(out, k)
    out = _after_goal_rates(out, [(out._idx == s, out[f"after_goal_{s}"]) for s in post])
    return out.select(*keys, *STAGE_COLUMNS).order_by([*keys, "stage_no"])


def _with_after_goal(
    wide: ir.Table, per: ir.Table, keys: list[str], post: list[int], window: timedelta | None
) -> ir.Table:
    """``wide`` with ``after_goal_<s>`` for each later stage ``s``: converted journeys whose customer has a
    later journey touching ``s`` within ``window`` of the conversion (a join of journeys, not of touches)."""
    conv = per.filter(per._status == "converted")
    conv = conv.select(*keys, _cj=conv.journey_id, _cc=conv._cust, _cn=conv._no, _ct=conv._conv_ts)
    later = per.filter(ibis.or_(*[per[f"_t{s}"].notnull() for s in post]))
    later = later.select(*[f"_t{s}" for s in post], _lc=later._cust, _ln=later._no)

    def within(t: ir.TimestampValue, ct: ir.TimestampValue) -> ir.BooleanValue:
        if window is None:
            return t.notnull()
        return t <= ct + ibis.interval(seconds=int(window.total_seconds()))

    # a later journey of the customer: after the conversion in the order of touches
    m = conv.join(
        later,
        [conv._cc == later._lc, later._ln > conv._cn, ibis.or_(*[within(later[f"_t{s}"], conv._ct) for s in post])],
    )
    counts = {
        f"after_goal_{s}": ibis.ifelse(within(m[f"_t{s}"], m._ct), m._cj, ibis.null("string")).nunique() for s in post
    }
    if not keys:
        return wide.cross_join(m.aggregate(**counts))
    after = m.group_by(keys).agg(**counts)
    after = after.rename({f"_k{i}": c for i, c in enumerate(keys)})
    out = wide.left_join(after, [wide[c] == after[f"_k{i}"] for i, c in enumerate(keys)])
    return out.drop(*[f"_k{i}" for i in range(len(keys))])


def _after_goal_rates(out: ir.Table, pairs: list) -> ir.Table:
    """``converters``, ``after_goal`` and its rate with a Wilson interval on the stages after the goal's (null
    elsewhere)."""
    null_i, null_f = ibis.null("int64"), ibis.null("float64")
    if not pairs:
        return out.mutate(
            converters=null_i, after_goal=null_i, after_goal_rate=null_f, after_low=null_f, after_high=null_f
        )
    is_post = ibis.or_(*[cond for cond, _ in pairs])
    after = ibis.cases(*[(cond, value.fill_null(0)) for cond, value in pairs], else_=null_i).cast("int64")
    out = out.mutate(
        converters=ibis.ifelse(is_post, out._converters.fill_null(0), null_i).cast("int64"), after_goal=after
    )
    lo, hi = wilson_interval(out.after_goal, out.converters)
    has = out.converters > 0
    return out.mutate(
        after_goal_rate=ibis.ifelse(has, out.after_goal.cast("float64") / out.converters, null_f),
        after_low=ibis.ifelse(has, lo, null_f),
        after_high=ibis.ifelse(has, hi, null_f),
    )


def _finish(out: ir.Table, n_stages: int) -> ir.Table:
    zero = ibis.literal(0).cast("int64")
    fill = {
        c: out[c].fill_null(zero)
        for c in (
            "journeys",
            "converted",
            "in_progress",
            "dropped",
            "reached_or_beyond",
            "ended_dropped",
            "ended_in_progress",
        )
    }
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
    goal = goal_stage(blueprint, names) if blueprint else None
    window = blueprint.journey.conversion_window if blueprint else None
    df = run(stage_funnel_expr(journeys, names, by=by, goal_stage=goal, window=window), con)
    rows = frame_rows(df)
    for c in ("to_next", "converters", "after_goal"):
        at = list(df.columns).index(c)
        for row in rows:
            row[at] = None if row[at] is None else int(row[at])
    return StageFunnelResult(
        columns=list(df.columns),
        rows=rows,
        meta={
            "stages": names,
            "by": by,
            "counts": "journeys",
            "interval": "wilson 95%",
            "to_next": "journeys touching the next stage after their first touch of this one",
            "goal_stage": goal,
            "after_goal": "converted journeys whose customer touches the stage after converting, within "
            + (f"the conversion window ({_days(window)})" if window is not None else "any time"),
        },
    )


def goal_stage(blueprint: Blueprint, stages: Sequence[str] | None = None) -> str | None:
    """The goal's stage: the first stage (in ``stages``' order, default the blueprint's) that holds a goal
    touchpoint; None without one. Stages after it are after the goal (post-purchase).

    >>> bp = Blueprint.model_validate({"stages": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
    ...     "touchpoints": [{"name": "Buy", "stage": "b"}], "goals": [{"touchpoint": "Buy"}]})
    >>> goal_stage(bp)
    'b'
    """
    names = list(stages) if stages is not None else blueprint.stage_names()
    held = {blueprint.stage_of(g) for g in blueprint.goal_touchpoints()}
    return next((s for s in names if s in held), None)


def _days(window: timedelta) -> str:
    days = window.total_seconds() / 86400
    return f"{days:g} days" if days != 1 else "1 day"
