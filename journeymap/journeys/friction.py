"""Friction: where journeys stall, loop and give up, per touchpoint, with every component shown.

Three signals per touchpoint, each compared with what is expected, on the
journeys of :func:`~journeymap.journeys.build_journeys`:

- **exits**: touches that are the last touch of a *dropped* journey (journeys
  still in progress are left out: they have not given up; ``touches`` counts
  the touches of the other journeys). ``exit_rate`` = exits / touches. The expectation takes position into account: at step ``p``
  any touch ends a dropped journey with the overall rate ``h(p)`` (steps beyond
  20 pooled), so ``expected_exits`` is the sum of ``h(p)`` over the touchpoint's
  touches; ``exit_lift`` = exit_rate / expected_exit_rate.
- **loops**: journeys that repeat it at once (``A > A``, ``self_loops``) or go
  back to it (``A > B > A``, ``ping_pongs``); ``loop_rate`` = looping journeys /
  journeys touching it, against the rate over all touchpoints (``loop_lift``).
- **slow transitions**: the 90th percentile of the gap into it (from the
  previous touch) and out of it (to the next), against the typical touchpoint
  of its stage (the median of those touchpoints' p90s; all touchpoints when it
  has no stage or ``node`` is not ``touchpoint``), so a purchase step is
  compared with purchase steps, not with post-purchase touches days apart;
  ``slow_ratio`` is the larger of the two.

The components are ``log2`` lifts, smoothed by one event so a tiny touchpoint
cannot top the list by chance: ``exit_component = log2((exits + 1) /
(expected_exits + 1))``, ``loop_component = log2((loop_journeys + 1) /
(expected_loops + 1))``, ``slow_component = log2(slow_ratio)``. The
``friction_score`` is the sum of their positive parts (0 = no worse than
expected on any signal); rows are ranked by it.

No data is not the maximum: a component with nothing to measure is null and
adds nothing to the score. ``exit_component`` is null when none of the
touchpoint's journeys is settled (all in progress), and for every touchpoint
when ``goals=False`` (a blueprint without goals: every journey just ends, so an
ending is not giving up; ``exits`` still count the journeys that end there).
``slow_ratio`` and ``slow_component`` are null when there is no gap to compare
(no touch before or after it) or no usual wait to compare with (the typical p90
is 0: the ratio would be 0/0 or infinite).

Examples
--------
>>> import ibis, datetime as dt
>>> from journeymap.journeys import JourneyRules, build_journeys
>>> ev = ibis.memtable({"customer_id": ["a", "a", "a", "b", "b"],
...     "ts": [dt.datetime(2024, 1, 1, h) for h in (1, 2, 3, 1, 2)],
...     "touchpoint": ["Home", "Form", "Form", "Home", "Form"]})
>>> j = build_journeys(ev, rules=JourneyRules(inactivity_gap=None, conversion_window=None))
>>> friction(j).typed_rows()[0].touchpoint
'Form'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeymap.errors import InputError
from journeymap.journeys.paths import journey_key
from journeymap.journeys.transitions import frame_rows, run
from journeymap.results import TableResult, TableRow

MAX_POSITION = 20
"""Steps beyond this share one expected exit rate."""

MAX_COMPONENT = 3.0
"""Each component is capped at 3 (an eight-fold lift), so no single signal outweighs the other two."""


@dataclass(frozen=True)
class FrictionRow(TableRow):
    """One touchpoint of :class:`FrictionResult` (the first column is named after ``node``)."""

    renamed = ("touchpoint",)
    rank: int
    touchpoint: str
    friction_score: float | None
    exit_component: float | None
    loop_component: float | None
    slow_component: float | None
    touches: int
    journeys: int
    exits: int
    exit_rate: float | None
    expected_exit_rate: float | None
    exit_lift: float | None
    loop_journeys: int
    self_loops: int
    ping_pongs: int
    loop_rate: float | None
    expected_loop_rate: float | None
    loop_lift: float | None
    p90_gap_in_s: float | None
    p90_gap_out_s: float | None
    typical_p90_gap_in_s: float | None
    typical_p90_gap_out_s: float | None
    slow_ratio: float | None


FRICTION_COLUMNS = FrictionRow.columns()


class FrictionResult(TableResult):
    """One row per touchpoint, highest friction first."""

    kind: ClassVar[str] = "friction"
    Row: ClassVar[type[TableRow]] = FrictionRow


def friction_expr(
    journeys: ir.Table, *, node: str = "touchpoint", by: str | None = None, goals: bool = True
) -> ir.Table:
    """The friction table as an Ibis expression (nothing is executed); see the module docs.

    With ``by`` every figure, expectation and rank is computed within each value of that
    journeys column (e.g. ``dimension`` from ``with_dimension``): each group against its own baseline.
    ``goals=False`` (the blueprint has no goals) leaves exits out of the score (``exit_component`` null).
    """
    for c in ["customer_id", "journey_no", "step", "n_touches", "status", "ts", node] + ([by] if by else []):
        if c not in journeys.columns:
            raise InputError(f"Column {c!r} is not in the journeys table; pass the output of build_journeys().")
    keys = [by] if by else []
    j = _touches(journeys, node)
    exits = _exits(j, keys)
    loops = _loops(j, keys)
    gaps = _gaps(j, node, keys)
    out = loops
    for t in (exits, gaps):
        t = t.rename(_n2="_node", **{f"_k2_{k}": k for k in keys})
        out = out.left_join(t, [out._node == t._n2, *[out[k] == t[f"_k2_{k}"] for k in keys]])
        out = out.drop("_n2", *[f"_k2_{k}" for k in keys])
    return _score(out, node, keys, goals)


def _touches(journeys: ir.Table, node: str) -> ir.Table:
    j = journeys.mutate(
        _node=journeys[node].cast("string").fill_null("(none)"),
        _t=journeys.ts.epoch_seconds(),
        _jid=journey_key(journeys),
    )
    w = ibis.window(group_by=j._jid, order_by=j.step)
    return j.mutate(
        _prev1=j._node.lag(1).over(w),
        _prev2=j._node.lag(2).over(w),
        _gap_in=(j._t - j._t.lag(1).over(w)).cast("float64"),
        _gap_out=(j._t.lead(1).over(w) - j._t).cast("float64"),
        _exit=((j.step == j.n_touches) & (j.status == "dropped")).cast("int64"),
        _pos=ibis.least(j.step, MAX_POSITION),
    )


def _gaps(j: ir.Table, node: str, keys: list[str]) -> ir.Table:
    """p90 gaps into and out of each touchpoint, and the typical (median) p90 of its stage's touchpoints."""
    group = (
        j.stage.cast("string").fill_null("(none)")
        if (node == "touchpoint" and "stage" in j.columns)
        else ibis.literal("all")
    )
    j = j.mutate(_group=group)
    g = j.group_by([*keys, "_node"]).agg(
        p90_gap_in_s=j._gap_in.quantile(0.9), p90_gap_out_s=j._gap_out.quantile(0.9), _group=j._group.arbitrary()
    )
    typical = g.group_by([*[g[k].name(f"_g2_{k}") for k in keys], g._group.name("_g2")]).agg(
        typical_p90_gap_in_s=g.p90_gap_in_s.median(), typical_p90_gap_out_s=g.p90_gap_out_s.median()
    )
    out = g.join(typical, [g._group == typical._g2, *[g[k] == typical[f"_g2_{k}"] for k in keys]])
    return out.drop("_group", "_g2", *[f"_g2_{k}" for k in keys])


def _exits(j: ir.Table, keys: list[str]) -> ir.Table:
    settled = j.filter(j.status != "in_progress")
    hazard = settled.group_by([*keys, "_pos"]).agg(_h=settled._exit.mean())
    hazard = hazard.rename(_pos2="_pos", **{f"_h2_{k}": k for k in keys})
    s = settled.join(hazard, [settled._pos == hazard._pos2, *[settled[k] == hazard[f"_h2_{k}"] for k in keys]])
    g = s.group_by([*keys, "_node"]).agg(touches=s.count(), exits=s._exit.sum(), expected_exits=s._h.sum())
    return g


def _loops(j: ir.Table, keys: list[str]) -> ir.Table:
    per = j.group_by([*keys, "_jid", "_node"]).agg(
        _self=(j._prev1 == j._node).fill_null(False).any(),
        _pp=((j._prev2 == j._node) & (j._prev1 != j._node)).fill_null(False).any(),
    )
    per = per.mutate(_loop=(per._self | per._pp).cast("int64"))
    g = per.group_by([*keys, "_node"]).agg(
        journeys=per.count(),
        loop_journeys=per._loop.sum(),
        self_loops=per._self.cast("int64").sum(),
        ping_pongs=per._pp.cast("int64").sum(),
    )
    gw = ibis.window(group_by=keys) if keys else ibis.window()
    rate = g.loop_journeys.sum().over(gw).cast("float64") / g.journeys.sum().over(gw)
    return g.mutate(expected_loop_rate=rate)


def _score(t: ir.Table, node: str, keys: list[str], goals: bool = True) -> ir.Table:
    zero = ibis.literal(0.0)
    t = t.mutate(
        touches=t.touches.fill_null(0), exits=t.exits.fill_null(0), expected_exits=t.expected_exits.fill_null(0.0)
    )
    touches = t.touches.cast("float64")
    has = t.touches > 0
    exit_rate = ibis.ifelse(has, t.exits.cast("float64") / touches, ibis.null("float64"))
    expected_rate = ibis.ifelse(has, t.expected_exits / touches, ibis.null("float64"))
    journeys = t.journeys.fill_null(0).cast("float64")
    expected_loops = journeys * t.expected_loop_rate
    loop_rate = t.loop_journeys.cast("float64") / journeys
    ratio_in = _ratio(t.p90_gap_in_s, t.typical_p90_gap_in_s)
    ratio_out = _ratio(t.p90_gap_out_s, t.typical_p90_gap_out_s)
    # the larger ratio where both exist, else the one that exists (null when neither: no data)
    slow = ibis.cases(
        (ratio_in.isnull(), ratio_out), (ratio_out.isnull(), ratio_in), else_=ibis.greatest(ratio_in, ratio_out)
    )
    exit_component = _cap(((t.exits + 1).cast("float64") / (t.expected_exits + 1)).log2())
    # no settled journey here (all in progress), or no goals (an ending is not giving up): no exit signal
    exit_component = ibis.ifelse(has, exit_component, ibis.null("float64")) if goals else ibis.null("float64")
    # log2(0) is -inf: a touchpoint with no wait at all where the usual one waits sits at the bottom of the
    # scale (-MAX_COMPONENT); only positive parts reach the score, so this never raises it
    slow_component = ibis.cases((slow > 0, _cap(slow.log2())), (slow == 0, -MAX_COMPONENT), else_=ibis.null("float64"))
    t = t.mutate(
        exit_rate=exit_rate,
        expected_exit_rate=expected_rate,
        exit_lift=ibis.ifelse(expected_rate > 0, exit_rate / expected_rate, ibis.null("float64")),
        loop_rate=loop_rate,
        loop_lift=ibis.ifelse(t.expected_loop_rate > 0, loop_rate / t.expected_loop_rate, ibis.null("float64")),
        slow_ratio=slow,
        exit_component=exit_component,
        loop_component=_cap(((t.loop_journeys.fill_null(0) + 1).cast("float64") / (expected_loops + 1)).log2()),
        slow_component=slow_component,
    )
    score = (
        ibis.greatest(t.exit_component.fill_null(zero), zero)
        + ibis.greatest(t.loop_component, zero)
        + ibis.greatest(t.slow_component.fill_null(zero), zero)
    )
    t = t.mutate(friction_score=score)
    # rank on the score rounded to 9 decimals (float sums differ in the last bits with the engine's threads)
    rw = ibis.window(group_by=keys or None, order_by=[ibis.desc(t.friction_score.round(9)), t._node])
    t = t.mutate(rank=ibis.row_number().over(rw) + 1)
    t = t.rename(**{node: "_node"}) if node != "touchpoint" else t.rename(touchpoint="_node")
    cols = [*keys, *[node if c == "touchpoint" else c for c in FRICTION_COLUMNS]]
    return t.select(*cols).order_by([*keys, "rank"])


def _cap(component: ir.FloatingValue) -> ir.FloatingValue:
    return ibis.least(component, MAX_COMPONENT)


def _ratio(p90: ir.FloatingValue, typical: ir.FloatingValue) -> ir.FloatingValue:
    """``p90 / typical``; null when either is missing or the typical wait is 0 (0/0 or infinite: undefined)."""
    return ibis.ifelse(p90.notnull() & (typical > 0), p90 / typical, ibis.null("float64"))


def friction(
    journeys: ir.Table,
    *,
    node: str = "touchpoint",
    by: str | None = None,
    goals: bool = True,
    con: BaseBackend | None = None,
) -> FrictionResult:
    """Exits against expectation, loops and slow transitions per touchpoint, and one friction score.

    Parameters
    ----------
    journeys
        The output of :func:`~journeymap.journeys.build_journeys` (filtered as needed).
    node
        ``touchpoint`` (default), ``stage`` or ``channel``.
    by
        A journeys column to break friction down by (``dimension`` from ``with_dimension``):
        each value is ranked against its own expectations, ``by`` first in the columns.
    goals
        False when the blueprint has no goals: journeys end rather than give up, so ``exits`` are
        counted but not scored (``exit_component`` null).
    con
        The engine to run on (default: the one the table is bound to).

    Returns
    -------
    FrictionResult
        Columns :data:`FRICTION_COLUMNS`, ranked by ``friction_score`` (highest first).
    """
    df = run(friction_expr(journeys, node=node, by=by, goals=goals), con)
    exits = (
        "last touch of dropped journeys; in-progress journeys left out"
        if goals
        else "no goals: journeys end, they do not give up; exits are the last touches of ended journeys "
        "(in-progress ones left out), counted but not scored (exit_component null)"
    )
    return FrictionResult(
        columns=list(df.columns),
        rows=frame_rows(df),
        meta={
            "node": node,
            "by": by,
            "goals": goals,
            "score": "sum of positive log2 lifts: exits, loops, slow transitions (null components add nothing)",
            "exits": exits,
            "expected_exits": f"overall exit rate at the same step (steps over {MAX_POSITION} pooled)",
            "slow": "p90 gap into / out of it over the median touchpoint's p90; null when there is no gap "
            "or the median p90 is 0",
            "gap_unit": "seconds",
        },
    )
