"""The touches attribution credits: per path (a conversion or a non-converting journey), in order.

Attribution reads the one journey definition (:func:`journeymap.journeys.build_journeys`).
A *path* is what one conversion is credited over, or one journey that did not
convert (non-converting paths feed the Markov model and are never dropped):

- ``container="journey"`` (default): one path per journey; a converted journey's
  path is its touches before the goal within the lookback; a dropped journey's
  path is its touches within the lookback of its last touch.
- ``container="customer"``: one path per conversion with every touch of the
  customer in the lookback before it, across journeys (a touch may help several
  conversions, as in GA4 and Adobe's person container); a customer whose last
  journey dropped adds one non-converting path with the touches after their last
  conversion, within the lookback of that journey's end.

The lookback thus trims non-converting paths as well as converting ones (measured
back from the journey's last touch); a non-converting journey with no credited touch
inside it adds no path.

Journeys still *in progress* may yet convert, so they are left out of the
non-converting paths by default (``include_in_progress=True`` keeps them).

Which touches take part: goal touchpoints never do; by default only marketing
touchpoints (the blueprint's ``is_marketing``: paid and earned ones, or those marked
``marketing: true``); ``include_service=True`` adds the others (support calls,
onboarding). When the blueprint marks no touchpoint as marketing, every non-goal
touchpoint takes part.

Examples
--------
>>> import ibis, datetime as dt
>>> from journeymap.blueprint import Blueprint
>>> from journeymap.journeys import build_journeys
>>> ev = ibis.memtable({"customer_id": ["a", "a", "a"], "touchpoint": ["Ad", "Mail", "Buy"],
...                     "ts": [dt.datetime(2024, 1, d) for d in (1, 2, 3)], "revenue": [None, None, 9.0]})
>>> bp = Blueprint.model_validate({"goals": [{"touchpoint": "Buy"}]})
>>> t = attribution_touches(build_journeys(ev, bp), bp).order_by("pos").execute()
>>> list(zip(t.channel, t.pos, t.conversions, t.value))
[('Ad', 1, 1.0, 9.0), ('Mail', 2, 1.0, 9.0)]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from journeymap.blueprint import Blueprint, format_duration, parse_duration
from journeymap.errors import InputError

TOUCH_COLUMNS = ("path_id", "channel", "pos", "ts", "t_before", "conversions", "value", "nulls")
"""Columns of :func:`attribution_touches`: one row per credited touch.

``pos`` orders the touches of a path: it increases along the path but may have
gaps (in the journey container it is the touch's step in its journey, so no
second sort is needed); models use only its order, the first and the last."""


@dataclass(frozen=True)
class AttributionSettings:
    """What a model is given: lookback, container, level, which touchpoints, conversions or value.

    >>> AttributionSettings(lookback="14d").lookback.days
    14
    """

    lookback: timedelta | str | None = None
    """Touches longer than this before the conversion get no credit (None: the blueprint's, 30 days)."""
    container: Literal["journey", "customer"] = "journey"
    level: Literal["channel", "touchpoint"] = "channel"
    include_service: bool = False
    include_in_progress: bool = False
    half_life: timedelta | str = timedelta(days=7)
    direct: tuple[str, ...] = ("direct",)
    """Channel names (case-insensitive) that last non-direct passes over."""

    def __post_init__(self) -> None:
        for name in ("lookback", "half_life"):
            value = getattr(self, name)
            if isinstance(value, str):
                try:
                    object.__setattr__(self, name, parse_duration(value))
                except ValueError as e:
                    raise InputError(f"{name} {value!r} is not a duration; write e.g. 30d or 12h ({e}).") from None
        if self.container not in ("journey", "customer"):
            raise InputError(f"container {self.container!r} is unknown; use 'journey' or 'customer'.")
        if self.level not in ("channel", "touchpoint"):
            raise InputError(f"level {self.level!r} is unknown; use 'channel' or 'touchpoint'.")
        if not isinstance(self.half_life, timedelta) or self.half_life.total_seconds() <= 0:
            raise InputError(f"half_life {self.half_life!r} must be a positive duration such as 7d.")

    @property
    def lookback_delta(self) -> timedelta | None:
        """``lookback`` as a duration (text given to the constructor is parsed there)."""
        assert not isinstance(self.lookback, str)  # parsed in __post_init__
        return self.lookback

    @property
    def half_life_delta(self) -> timedelta:
        """``half_life`` as a duration (text given to the constructor is parsed there)."""
        assert isinstance(self.half_life, timedelta)  # parsed and checked in __post_init__
        return self.half_life

    def resolved(self, blueprint: Blueprint | None) -> AttributionSettings:
        """These settings with the lookback taken from the blueprint when not given."""
        if self.lookback is not None or blueprint is None:
            return self
        lb = blueprint.journey.attribution_lookback
        return AttributionSettings(**{**self._fields(), "lookback": lb})

    def _fields(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def describe(self) -> dict[str, Any]:
        """JSON-ready settings for results' metadata."""
        out = asdict(self)
        out["lookback"] = format_duration(self.lookback_delta)
        out["half_life"] = format_duration(self.half_life_delta)
        out["direct"] = list(self.direct)
        return out


def participating(blueprint: Blueprint | None, include_service: bool) -> list[str] | None:
    """Touchpoints that take part (None: every non-goal touchpoint)."""
    if blueprint is None or include_service:
        return None
    marketing = [t.name for t in blueprint.touchpoints if t.is_marketing]
    return marketing or None


def channel_label(journeys: ir.Table, blueprint: Blueprint | None, level: str) -> ir.StringValue:
    """What a touch is credited to: its touchpoint, or its channel (event, else blueprint, else touchpoint)."""
    if level == "touchpoint":
        return journeys.touchpoint
    mapping = {t.name: t.channel for t in (blueprint.touchpoints if blueprint else []) if t.channel}
    bp_channel = journeys.touchpoint.substitute(mapping, else_=ibis.null("string")) if mapping else None
    label = journeys.channel
    if bp_channel is not None:
        label = label.coalesce(bp_channel)
    return label.coalesce(journeys.touchpoint)


def attribution_touches(
    journeys: ir.Table,
    blueprint: Blueprint | None = None,
    settings: AttributionSettings | None = None,
    *,
    markers: bool = False,
) -> ir.Table:
    """The credited touches of every path, with :data:`TOUCH_COLUMNS` (an Ibis expression).

    ``conversions`` is 1 on every touch of a converting path (0 otherwise),
    ``value`` the conversion's value, ``nulls`` 1 on a non-converting path;
    ``pos`` orders the touches within the path (see :data:`TOUCH_COLUMNS`) and
    ``t_before`` is the seconds from the touch to the conversion (or the path's end).
    With ``markers=True`` every conversion also has one row with a null
    ``channel`` (so conversions without a credited touch can be counted in the same pass).
    """
    settings = (settings or AttributionSettings()).resolved(blueprint)
    j = journeys.mutate(_label=channel_label(journeys, blueprint, settings.level))
    keep = participating(blueprint, settings.include_service)
    touch = ~j.is_goal
    if keep is not None:
        touch = touch & j.touchpoint.isin(keep)
    if settings.container == "journey":
        return _journey_paths(j, touch, settings, markers).select(*TOUCH_COLUMNS)
    return _positions(_customer_paths(j, touch, settings, markers))


def _conversion(j: ir.Table) -> ir.BooleanValue:
    """The goal touch that converts its journey: the journey's last (of an order's lines, the last: the lines
    of one order are one conversion, worth their summed revenue, ``conversion_value``)."""
    return j.is_goal & (j.step == j.n_touches)


def _journey_paths(j: ir.Table, touch: ir.BooleanValue, s: AttributionSettings, markers: bool) -> ir.Table:
    row = (touch | _conversion(j)) if markers else touch
    j = j.filter(row & ((j.status != "in_progress") | ibis.literal(s.include_in_progress)))
    t_before = (j.journey_end.epoch_seconds() - j.ts.epoch_seconds()).cast("float64")
    j = j.mutate(t_before=t_before)
    if (lb := s.lookback_delta) is not None:
        j = j.filter(j.t_before <= lb.total_seconds())
    conv = j.converted.cast("float64")
    return j.select(
        path_id=j.journey_id,
        channel=ibis.ifelse(j.is_goal, ibis.null("string"), j._label),
        ts=j.ts,
        pos=j.step.cast("int64"),
        t_before=j.t_before,
        conversions=conv,
        value=ibis.ifelse(j.converted, j.conversion_value.cast("float64"), 0.0),
        nulls=1.0 - conv,
    )


def _order_key(j: ir.Table) -> ir.IntegerValue:
    """A touch's place in its customer's touches: journey number, then step (the one order of touches,
    :func:`journeymap.schema.touch_order`, as build_journeys numbered them), as one integer."""
    return j.journey_no.cast("int64") * _STEPS + j.step.cast("int64")


_STEPS = 2**31
"""Steps per journey in :func:`_order_key` (a journey has fewer touches than this)."""


def _customer_paths(j: ir.Table, touch: ir.BooleanValue, s: AttributionSettings, markers: bool) -> ir.Table:
    j = j.mutate(_o=_order_key(j))
    goals = j.filter(_conversion(j)).select(
        c_customer=j.customer_id, c_id=j.journey_id, c_ts=j.ts, c_o=j._o, c_value=j.conversion_value.cast("float64")
    )
    t = j.filter(touch)
    # a touch before the conversion in the order of touches (not by time alone: a same-second touch
    # that follows the goal in the file is not credited); the lookback is a time
    cond = [t.customer_id == goals.c_customer, t._o < goals.c_o]
    if (lb := s.lookback_delta) is not None:
        cond.append(t.ts >= goals.c_ts - ibis.interval(seconds=int(lb.total_seconds())))
    conv = t.inner_join(goals, cond)
    conv = conv.select(
        path_id=conv.c_id,
        channel=conv._label,
        ts=conv.ts,
        _o=conv._o,
        t_before=(conv.c_ts.epoch_seconds() - conv.ts.epoch_seconds()).cast("float64"),
        conversions=ibis.literal(1.0),
        value=conv.c_value.cast("float64"),
        nulls=ibis.literal(0.0),
    )
    out = conv.union(_customer_open_paths(j, t, s))
    if markers:
        out = out.union(
            goals.select(
                path_id=goals.c_id,
                channel=ibis.null("string"),
                ts=goals.c_ts,
                _o=goals.c_o,
                t_before=ibis.literal(0.0),
                conversions=ibis.literal(1.0),
                value=goals.c_value.cast("float64"),
                nulls=ibis.literal(0.0),
            )
        )
    return out


def _customer_open_paths(j: ir.Table, t: ir.Table, s: AttributionSettings) -> ir.Table:
    w = ibis.window(group_by=j.customer_id)
    last = j.mutate(
        _last_no=j.journey_no.max().over(w), _last_goal=ibis.ifelse(j.is_goal, j._o, ibis.null("int64")).max().over(w)
    )
    last = (
        last.filter(last.journey_no == last._last_no)
        .group_by("customer_id")
        .agg(_status=last.status.arbitrary(), _last_goal=last._last_goal.max(), _end=last.journey_end.max())
    )
    ok = last._status == "dropped"
    if s.include_in_progress:
        ok = ok | (last._status == "in_progress")
    last = last.filter(ok)
    o = t.inner_join(last, t.customer_id == last.customer_id)
    o = o.filter(o._last_goal.isnull() | (o._o > o._last_goal))  # after the last conversion, in touch order
    o = o.mutate(t_before=(o._end.epoch_seconds() - o.ts.epoch_seconds()).cast("float64"))
    if (lb := s.lookback_delta) is not None:
        o = o.filter(o.t_before <= lb.total_seconds())
    return o.select(
        path_id=o.customer_id + ":open",
        channel=o._label,
        ts=o.ts,
        _o=o._o,
        t_before=o.t_before,
        conversions=ibis.literal(0.0),
        value=ibis.literal(0.0),
        nulls=ibis.literal(1.0),
    )


def _positions(p: ir.Table) -> ir.Table:
    w = ibis.window(group_by=p.path_id, order_by=p._o)
    return p.mutate(pos=(ibis.row_number().over(w) + 1).cast("int64")).select(*TOUCH_COLUMNS)
