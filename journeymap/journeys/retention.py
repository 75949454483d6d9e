"""Retention: of the customers who started in a period, how many come back in each later period.

- **cohorts** by the first occurrence of a start event (``start``; default: the
  first goal, i.e. the first purchase), grouped by the calendar ``period``
  (``day``, ``week`` from Monday, ``month``) it falls in. ``recurring=True``
  puts a customer into the cohort of *every* period in which they did the start
  event (measured from their first start in that period), as Mixpanel's
  recurring retention does; the default is first-time cohorts.
- **returns**: the ``return_event`` (default: the start event again, which makes
  it repeat-purchase retention) after the customer's start in the one order of
  touches (time, then the source's row order: a same-second row later in the file
  comes after), counted in the calendar period it falls in: period 0 is the
  cohort's own period (a return later in it), period 1 the next, and so on.
- **on** (default) counts customers who returned in that period; **on or
  after** (``on_or_after=True``) those who returned in it or any later one.
- ``complete`` says whether the period had ended for the whole cohort by the
  data's end (the last event): rates of incomplete periods will still grow.
- The **repeat-purchase rate** (customers with two or more goals among those
  with one) is in the ``repeat`` table, per cohort of first goal, and in ``meta``.
- **Orders**: where events carry an ``order_id``, the lines of one order are one
  event (:func:`one_row_per_order`): one purchase, never a return to itself.

Examples
--------
>>> import ibis, datetime as dt
>>> ev = ibis.memtable({"customer_id": ["a", "a", "b"], "touchpoint": ["Buy", "Buy", "Buy"],
...     "ts": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 9), dt.datetime(2024, 1, 2)]})
>>> r = retention(ev, goals=["Buy"], period="week", periods=2)
>>> [(row.period, row.customers, row.rate) for row in r.typed_rows()]
[(0, 0, 0.0), (1, 1, 0.5), (2, 0, 0.0)]
>>> r.meta["repeat_purchase_rate"]
0.5
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from journeymap.errors import InputError
from journeymap.journeys.funnel_steps import Step
from journeymap.journeys.transitions import run
from journeymap.results import TableResult, TableRow, typed_rows
from journeymap.schema import touch_order

PERIODS = {"day": "D", "week": "W", "month": "M"}


@dataclass(frozen=True)
class RetentionRow(TableRow):
    """One cohort and period of :class:`RetentionResult`."""

    cohort: str
    cohort_size: int
    period: int
    customers: int
    rate: float | None
    complete: bool


@dataclass(frozen=True)
class RepeatRow(TableRow):
    """One cohort of the ``repeat`` table of :class:`RetentionResult`."""

    cohort: str
    buyers: int
    repeat_buyers: int
    repeat_rate: float | None


RETENTION_COLUMNS = RetentionRow.columns()


class RetentionResult(TableResult):
    """Long form: one row per cohort and period; plus the ``repeat`` table."""

    kind: ClassVar[str] = "retention"
    Row: ClassVar[type[TableRow]] = RetentionRow
    repeat_columns: list[str] = []
    repeat_rows: list[list[Any]] = []

    def tables(self) -> dict[str, tuple[list[str], list[list[Any]]]]:
        return {"retention": (self.columns, self.rows), "repeat": (self.repeat_columns, self.repeat_rows)}

    def typed_repeat(self) -> list[RepeatRow]:
        """The ``repeat`` table's rows as :class:`RepeatRow` (breakdown value in ``breakdown``)."""
        return typed_rows(RepeatRow, self.repeat_columns, self.repeat_rows, what="repeat table")


def _predicate(table: ir.Table, spec: Any, goals: Sequence[str], what: str) -> ir.BooleanValue:
    if spec is not None:
        return Step.parse(spec).predicate(table)
    if goals:
        return table.touchpoint.isin(list(goals))
    if "is_goal" in table.columns:
        return table.is_goal.fill_null(False)
    raise InputError(
        f"Retention has no {what}: the blueprint has no goals; name one with --start-event (e.g. --start-event Purchase)."
    )


def _period_index(later: ir.TimestampValue, cohort: ir.TimestampValue, period: str) -> ir.IntegerValue:
    if period == "month":
        return (later.year() * 12 + later.month()) - (cohort.year() * 12 + cohort.month())
    size = 86400 if period == "day" else 604800
    return (later.epoch_seconds() - cohort.epoch_seconds()) // size


def _ordered(table: ir.Table, **flags: ir.BooleanValue) -> ir.Table:
    """The timed events that meet any of ``flags`` (kept as columns), with ``_o``: their rank among
    them in the customer's one order of touches (time, then the source's row order:
    :func:`journeymap.schema.touch_order`), so "after" means the same as in journeys and funnels."""
    t = table.mutate(**flags)
    t = t.filter(t.ts.notnull() & ibis.or_(*[t[f] for f in flags]))
    return t.mutate(_o=ibis.row_number().over(ibis.window(group_by=t.customer_id, order_by=touch_order(t))))


def _starts(o: ir.Table, *, period: str, recurring: bool, by: str | None) -> ir.Table:
    """Per customer and cohort: ``customer_id, cohort, start_ts, _so`` (the start's rank in ``o``) [, dimension]."""
    t = o.select(
        "customer_id", "_o", _ts=o.ts, _by=o[by].cast("string").fill_null("(none)") if by else ibis.literal("")
    )
    extra = {"dimension": t._by.argmin(t._o)} if by else {}
    unit = PERIODS[period]
    if recurring:
        t = t.mutate(cohort=t._ts.truncate(unit))
        return t.group_by(["customer_id", "cohort"]).agg(start_ts=t._ts.min(), _so=t._o.min(), **extra)
    s = t.group_by("customer_id").agg(start_ts=t._ts.min(), _so=t._o.min(), **extra)
    return s.mutate(cohort=s.start_ts.truncate(unit)).select("customer_id", "cohort", "start_ts", "_so", *extra)


def one_row_per_order(table: ir.Table) -> ir.Table:
    """``table`` with the lines of one order as one event: of the rows with an ``order_id``, the first line
    (in the order of touches) of each customer's order and touchpoint; rows without one are kept as they are.

    A purchase is an order, not an order line: a basket of five products is one purchase, not a
    purchase and four returns the same second.
    """
    if "order_id" not in table.columns:
        return table
    lines = table.filter(table.order_id.notnull())
    w = ibis.window(group_by=[lines.customer_id, lines.order_id, lines.touchpoint], order_by=touch_order(lines))
    first = lines.mutate(_line=ibis.row_number().over(w))
    first = first.filter(first._line == 0).drop("_line")
    return table.filter(table.order_id.isnull()).union(first, distinct=False)


def _check(table: ir.Table, period: str, by: str | None) -> None:
    if period not in PERIODS:
        raise InputError(f"period {period!r} is not one of day, week, month; pick one of those.")
    if by is not None and by not in table.columns:
        raise InputError(f"Breakdown column {by!r} is not in the table; it has: {', '.join(table.columns)}.")


def starts_expr(
    table: ir.Table,
    *,
    start: Any = None,
    goals: Sequence[str] = (),
    period: str = "week",
    recurring: bool = False,
    by: str | None = None,
) -> ir.Table:
    """One row per customer and cohort: ``customer_id, cohort, start_ts`` (an Ibis expression).

    With ``by``, also ``dimension``: the value of that column on the customer's start event
    (the first in the order of touches).
    """
    _check(table, period, by)
    table = one_row_per_order(table)
    o = _ordered(table, _st=_predicate(table, start, goals, "start event"))
    return _starts(o, period=period, recurring=recurring, by=by).drop("_so")


def retention_expr(
    table: ir.Table,
    *,
    start: Any = None,
    return_event: Any = None,
    goals: Sequence[str] = (),
    period: str = "week",
    recurring: bool = False,
    periods: int = 8,
    by: str | None = None,
) -> ir.Table:
    """Per cohort and customer, the latest period index with a return and the periods returned in.

    Returns ``cohort, period, customers, last_customers``: distinct customers who
    returned in ``period``, and those whose *last* return was in it (for "on or after");
    ``dimension`` first with ``by``. A return counts when it comes after the start in the
    order of touches: a later time, or the same time and a later row of the source.
    """
    _check(table, period, by)
    table = one_row_per_order(table)
    o = _ordered(
        table,
        _st=_predicate(table, start, goals, "start event"),
        _rt=_predicate(table, return_event if return_event is not None else start, goals, "return event"),
    )
    s = _starts(o.filter(o._st), period=period, recurring=recurring, by=by)
    keys = ["dimension"] if by else []
    rt = o.filter(o._rt)
    r = rt.select(_rc=rt.customer_id, _rts=rt.ts, _ro=rt._o)
    j = s.join(r, [s.customer_id == r._rc, r._ro > s._so])
    j = j.mutate(period=_period_index(j._rts.truncate(PERIODS[period]), j.cohort, period).cast("int64"))
    j = j.filter(j.period <= periods)
    on = j.group_by([*keys, "cohort", "period"]).agg(customers=j.customer_id.nunique())
    last = j.group_by([*keys, "customer_id", "cohort"]).agg(_last=j.period.max())
    last = last.group_by([*keys, "cohort", last._last.name("period")]).agg(last_customers=last.count())
    out = on.outer_join(last, [on[c] == last[c] for c in [*keys, "cohort", "period"]])
    return out.select(
        **{k: on[k].coalesce(last[k]) for k in keys},
        cohort=on.cohort.coalesce(last.cohort),
        period=on.period.coalesce(last.period),
        customers=on.customers.fill_null(0),
        last_customers=last.last_customers.fill_null(0),
    )


def repeat_expr(
    table: ir.Table, *, goals: Sequence[str] = (), period: str = "week", start: Any = None, by: str | None = None
) -> ir.Table:
    """Per cohort of first goal: ``buyers`` and ``repeat_buyers`` (two goals or more); ``dimension`` with ``by``."""
    table = one_row_per_order(table)  # purchases are orders
    pred = _predicate(table, start, goals, "goal")
    if by:  # the value on the first goal in the order of touches
        t = _ordered(table, _g=pred)
        extra = {"dimension": t[by].cast("string").fill_null("(none)").argmin(t._o)}
    else:
        t, extra = table.filter(pred), {}
    per = t.group_by("customer_id").agg(_n=t.count(), _first=t.ts.min(), **extra)
    per = per.mutate(cohort=per._first.truncate(PERIODS[period]))
    keys = ["dimension"] if by else []
    return per.group_by([*keys, "cohort"]).agg(buyers=per.count(), repeat_buyers=(per._n >= 2).cast("int64").sum())


def retention(
    table: ir.Table,
    *,
    start: str | Mapping[str, Any] | Step | None = None,
    return_event: str | Mapping[str, Any] | Step | None = None,
    goals: Sequence[str] = (),
    period: str = "week",
    on_or_after: bool = False,
    recurring: bool = False,
    periods: int = 8,
    by: str | None = None,
    end: datetime | None = None,
    con: BaseBackend | None = None,
) -> RetentionResult:
    """Cohort retention and the repeat-purchase rate; see the module docs.

    Parameters
    ----------
    table
        Events or journeys (``is_goal`` is used when neither ``start`` nor ``goals`` is given).
    start, return_event
        Funnel-style steps (``"Purchase"``, ``"stage:purchase"``, ``{"touchpoint": ..., "where": ...}``).
    goals
        Goal touchpoints (the default start event, and the events of the repeat-purchase rate).
    period
        ``day``, ``week`` or ``month``.
    on_or_after
        Count returns in the period or any later one.
    recurring
        Recurring cohorts instead of first-time ones.
    periods
        The last period index shown.
    by
        A column of ``table`` to break cohorts down by (e.g. ``dimension`` from ``with_dimension``);
        a customer's value is the one on their start event (first goal for the repeat table).
    end
        The data's end, for ``complete`` (default: the last event).
    con
        The engine to run on.
    """
    if periods < 0:
        raise InputError(f"periods {periods} must be 0 or more.")
    keys = ["dimension"] if by else []
    sizes_e = starts_expr(table, start=start, goals=goals, period=period, recurring=recurring, by=by)
    sizes = run(sizes_e.group_by([*keys, "cohort"]).agg(cohort_size=sizes_e.count()), con)
    cells = run(
        retention_expr(
            table,
            start=start,
            return_event=return_event,
            goals=goals,
            period=period,
            recurring=recurring,
            periods=periods,
            by=by,
        ),
        con,
    )
    end_ts = pd.Timestamp(end) if end is not None else pd.Timestamp(run(table.ts.max(), con))
    rows = _rows(sizes, cells, period, periods, on_or_after, end_ts, keys)
    rep = run(repeat_expr(table, goals=goals, period=period, start=start, by=by), con)
    rep = rep.sort_values([*keys, "cohort"])
    rep_rows = [
        [*([str(d)] if keys else []), _day(c), int(b), int(r), (int(r) / int(b)) if b else None]
        for d, c, b, r in zip(
            rep.dimension if keys else rep.cohort, rep.cohort, rep.buyers, rep.repeat_buyers, strict=True
        )
    ]
    buyers, repeaters = int(rep.buyers.sum()), int(rep.repeat_buyers.sum())
    return RetentionResult(
        columns=[*keys, *RETENTION_COLUMNS],
        rows=rows,
        repeat_columns=[*keys, *RepeatRow.columns()],
        repeat_rows=rep_rows,
        meta={
            "period": period,
            "by": by,
            "mode": "on or after" if on_or_after else "on",
            "cohorts": "recurring" if recurring else "first-time",
            "start": _label(start, "first goal"),
            "return": _label(return_event, _label(start, "goal")),
            "periods": periods,
            "data_end": end_ts.isoformat(),
            "buyers": buyers,
            "repeat_buyers": repeaters,
            "repeat_purchase_rate": repeaters / buyers if buyers else None,
        },
    )


def _rows(
    sizes, cells, period: str, periods: int, on_or_after: bool, end_ts, keys: Sequence[str] = ()
) -> list[list[Any]]:
    def dims(frame) -> list[str]:
        return [str(d) for d in frame["dimension"]] if keys else [""] * len(frame)

    by_cell = {
        (d, pd.Timestamp(c), int(p)): (int(n), int(m))
        for d, c, p, n, m in zip(
            dims(cells), cells.cohort, cells.period, cells.customers, cells.last_customers, strict=True
        )
    }
    rows = []
    for dim, cohort, size in sorted(zip(dims(sizes), sizes.cohort, sizes.cohort_size, strict=True)):
        cohort = pd.Timestamp(cohort)
        tail = 0
        counts = []
        for k in range(periods, -1, -1):
            on, last = by_cell.get((dim, cohort, k), (0, 0))
            tail += last
            counts.append((k, tail if on_or_after else on))
        for k, n in reversed(counts):
            complete = _period_end(cohort, k, period) <= end_ts
            rows.append([*([dim] if keys else []), _day(cohort), int(size), k, n, n / int(size), bool(complete)])
    return rows


def _period_end(cohort, k: int, period: str):
    if period == "month":
        return cohort + pd.DateOffset(months=k + 1)
    return cohort + pd.Timedelta(days=(k + 1) * (1 if period == "day" else 7))


def _day(value: Any) -> str:
    return pd.Timestamp(value).date().isoformat()


def _label(spec: Any, default: str) -> str:
    return Step.parse(spec).label if spec is not None else default
