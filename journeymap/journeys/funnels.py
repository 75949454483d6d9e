"""Funnels: how many customers go through a sequence of steps, where the others stop, and how long it takes.

The semantics are SEMANTICS.md's "Funnels":

- **order**: ``ordered`` (default; the next step happens later, anything may
  happen between), ``strict`` (the next step is the very next event) or ``any``
  (the steps in any order, counted from the first event that matches one). The
  same step listed twice must happen twice.
- **window**: the time from entering step 1 to the last step; **14 days by
  default** (PostHog's default; Mixpanel uses 7). ``None`` means no limit. A
  step may also carry its own limit (``within``, measured from the previous
  required step, or from the matched optional step before it).
- **entry**: each customer enters at the first event of step 1 (uniques).
  ``totals=True`` lets a customer enter again at a later step-1 event after the
  previous entry converted or its window ran out (at most ``max_entries``).
  ``open=True`` lets customers enter at any step (GA4's open funnel): the first
  event that matches any step is the entry, at the lowest step it matches.
- **exclusions**: ``remove`` (PostHog) takes an entry out of the funnel when the
  event happens after step ``after`` and before step ``before`` (or, when that
  step was not reached, before the window ends); ``stop`` (Mixpanel) counts the
  entry up to the event and no further. In ``any`` order they span the funnel.
- **optional steps** count when they happen between the previous matched step
  and the next required one; they do not move the required steps.
- **in progress is not dropped**: an entry that has not converted and whose
  window has not run out by the data's end (the last event, or ``end``) is
  ``in_progress``. Without a window nothing is in progress. An entry that did not
  convert *stopped* at the last required step it reached; its status comes from
  its window alone, measured from the entry, even when a ``stop`` exclusion has
  ended it (it is ``in_progress`` until the window runs out).
- **breakdown** ``by`` a column (an event column, or ``dimension`` from
  :func:`~journeymap.journeys.with_dimension` for personas and customer
  attributes), its value taken at the ``first`` step (default), the ``last``
  step reached, or a chosen step number.

Each step has its count, overall rate (against all entries) and rate from the
previous required step (of the entries that reached it, the share that went on) with 95% Wilson intervals, the entries that stopped after
it split into ``dropped`` and ``in_progress``, and the median and 90th
percentile time from the previous step and from entry (seconds), plus a
histogram of the time from entry.

It runs set-based in the engine: every step is one join of the entries with the
events that match it and one aggregate (the first match after the previous
step), so ``k`` steps take ``k`` passes; only the per-step aggregates reach Python.

Examples
--------
>>> import ibis, datetime as dt
>>> ev = ibis.memtable({"customer_id": ["a", "a", "a", "b", "b"],
...     "ts": [dt.datetime(2024, 1, d) for d in (1, 2, 3, 1, 2)],
...     "touchpoint": ["Home", "Cart", "Buy", "Home", "Cart"]})
>>> r = funnel(ev, ["Home", "Cart", "Buy"], window=None)
>>> [(row.name, row.reached, row.rate_overall) for row in r.typed_rows()]
[('Home', 2, 1.0), ('Cart', 2, 1.0), ('Buy', 1, 0.5)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeymap.errors import InputError
from journeymap.journeys.funnel_chain import entries_expr, funnel_events
from journeymap.journeys.funnel_steps import (
    DEFAULT_WINDOW,
    Exclusion,
    FunnelSpec,
    Step,
    step_ref,
)
from journeymap.journeys.transitions import run
from journeymap.results import TableResult, TableRow, typed_rows
from journeymap.stats import wilson

OUTCOMES = ("reached", "converted", "dropped", "in_progress", "stopped")

HISTOGRAM_EDGES = (0, 60, 300, 1800, 3600, 21600, 86400, 259200, 604800, 1209600, 2592000)
"""Bin edges (seconds) of the time-to-convert histogram; the last bin is open."""


@dataclass(frozen=True)
class FunnelRow(TableRow):
    """One step (and breakdown value) of :class:`FunnelResult`."""

    step: int
    name: str
    optional: bool
    reached: int
    customers: int
    rate_overall: float | None
    overall_low: float | None
    overall_high: float | None
    rate_from_previous: float | None
    previous_low: float | None
    previous_high: float | None
    dropped: int
    in_progress: int
    entered_here: int
    median_time_s: float | None
    p90_time_s: float | None
    median_time_from_entry_s: float | None
    p90_time_from_entry_s: float | None


@dataclass(frozen=True)
class HistogramRow(TableRow):
    """One bin of the funnel's time-to-convert histogram (``bin_end_s`` None: the open last bin)."""

    step: int
    name: str
    bin_start_s: int
    bin_end_s: int | None
    reached: int


FUNNEL_COLUMNS = FunnelRow.columns()


class FunnelResult(TableResult):
    """One row per step (and breakdown value), plus a time-to-convert histogram."""

    kind: ClassVar[str] = "funnel"
    Row: ClassVar[type[TableRow]] = FunnelRow
    histogram_columns: list[str] = []
    histogram_rows: list[list[Any]] = []

    def tables(self) -> dict[str, tuple[list[str], list[list[Any]]]]:
        return {"funnel": (self.columns, self.rows), "histogram": (self.histogram_columns, self.histogram_rows)}

    def typed_histogram(self) -> list[HistogramRow]:
        """The histogram's rows as :class:`HistogramRow` (breakdown value in ``breakdown``)."""
        return typed_rows(HistogramRow, self.histogram_columns, self.histogram_rows, what="funnel histogram")


# -- public API -----------------------------------------------------------------------------------
def funnel(
    table: ir.Table,
    steps: Sequence[Step | str | Mapping[str, Any]],
    *,
    order: str = "ordered",
    window: Any = DEFAULT_WINDOW,
    exclude: Sequence[Exclusion | str | Mapping[str, Any]] = (),
    optional: Sequence[int | str] = (),
    step_limits: Mapping[int, Any] | None = None,
    open: bool = False,
    totals: bool = False,
    by: str | None = None,
    by_step: str | int = "first",
    unit: str = "customer",
    end: datetime | None = None,
    max_entries: int = 10,
    histogram: bool = True,
    con: BaseBackend | None = None,
) -> FunnelResult:
    """Count customers (or journeys, or entries) through ``steps``; see the module docs for every option.

    Parameters
    ----------
    table
        Events or journeys (``build_journeys``; needed for stage steps and ``unit="journey"``),
        filtered as the analysis needs.
    steps
        Steps as :class:`Step`, dicts (``{"touchpoint": "Checkout", "where": {"channel": "app"}}``)
        or text (``"Checkout"``, ``"stage:purchase"``, ``"Checkout[channel=app]"``).
    order
        ``ordered`` (default), ``strict`` or ``any``.
    window
        Conversion window: a duration (``"14d"``, a timedelta, seconds) or None; default 14 days.
    exclude
        Exclusion steps (:class:`Exclusion`, or text ``"STEP:remove"`` / ``"STEP:stop"``).
    optional
        Steps (number from 1 or name) that are optional.
    step_limits
        Step number -> the most time allowed since the previous step.
    open
        Let customers enter at any step.
    totals
        Count re-entries after a conversion or a timed-out window.
    by, by_step
        Break down by this column, its value taken at the ``first``, ``last`` or a numbered step.
    unit
        ``customer`` (default) or ``journey`` (each journey is funnelled on its own).
    end
        The data's end for in-progress status (default: the last event of ``table``).
    con
        The engine to run on (default: the one the table is bound to).

    Returns
    -------
    FunnelResult
        Columns :data:`FUNNEL_COLUMNS` (``dimension`` first with ``by``); ``histogram`` table;
        ``meta`` holds the options and the totals converted / in progress / dropped.
    """
    spec = FunnelSpec.build(
        steps,
        optional=optional,
        step_limits=step_limits,
        window=window,
        exclude=exclude,
        order=order,
        open=open,
        totals=totals,
        by=by,
        by_step=by_step,
        unit=unit,
        max_entries=max_entries,
    )
    # the funnel's events (one window over the matching touches) computed once: every step reads them,
    # and inlined the window ran once per step (DuckDB: half the funnel's CPU at 4 steps)
    from journeymap.engine import materialized

    with materialized(con, funnel_events(table, spec), "the funnel's events") as events:
        wide = run(wide_expr(entries_expr(table, spec, end=end, events=events), spec), con)
    columns, rows, hist = _rows(wide, spec)
    hist_cols = (["dimension"] if spec.by else []) + ["step", "name", "bin_start_s", "bin_end_s", "reached"]
    meta = _meta(spec, columns, rows)
    if spec.totals:
        meta["entries_capped"] = int(wide["capped"].fillna(0).sum())
    return FunnelResult(
        columns=columns, rows=rows, histogram_columns=hist_cols, histogram_rows=hist if histogram else [], meta=meta
    )


def funnel_expr(table: ir.Table, steps: Sequence[Any], *, end: datetime | None = None, **options: Any) -> ir.Table:
    """Every figure of :func:`funnel` as one Ibis aggregate (nothing is executed): see :func:`wide_expr`.

    One row per breakdown value; :func:`funnel` reshapes it into one row per step.
    """
    spec = _spec(steps, options)
    return wide_expr(entries_expr(table, spec, end=end), spec)


def funnel_entries(table: ir.Table, steps: Sequence[Any], *, end: datetime | None = None, **options: Any) -> ir.Table:
    """One row per funnel entry (an Ibis expression): who entered, which steps they reached when, and how it ended.

    Columns: the unit key (``customer_id``, or ``journey_id`` with ``customer_id``),
    ``entry_no``, ``entry_step``, ``t_1..t_k`` (epoch seconds of each step's
    event, null when not reached), ``last_step`` (the last required step
    reached), ``status`` (converted / in_progress / dropped) and ``dimension``
    with ``by``. ``options`` are :func:`funnel`'s.
    """
    spec = _spec(steps, options)
    return _public_entries(entries_expr(table, spec, end=end), spec)


def funnel_customers_expr(
    table: ir.Table,
    steps: Sequence[Any],
    *,
    step: int | str,
    outcome: str = "reached",
    end: datetime | None = None,
    events: ir.Table | None = None,
    **options: Any,
) -> ir.Table:
    """The ``customer_id`` of the customers behind one step of a funnel (an Ibis expression).

    ``outcome``: ``reached`` (reached the step), ``converted`` (reached it and
    the last step), ``stopped`` (it was the last step they reached, without
    converting), ``dropped`` / ``in_progress`` (stopped there, and their window
    ran out / is still open). ``events``: the funnel's events computed already (:func:`funnel_customers`).
    """
    if outcome not in OUTCOMES:
        raise InputError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}; pick one of those.")
    spec = _spec(steps, options)
    n = step_ref(step, spec.steps)
    e = entries_expr(table, spec, end=end, events=events)
    e = e.filter(~e._over)
    reached = e[f"_s{n - 1}"].notnull()
    stopped = (e._last == n) & (e._status != "converted")
    cond = {
        "reached": reached,
        "converted": reached & (e._status == "converted"),
        "stopped": stopped,
        "dropped": stopped & (e._status == "dropped"),
        "in_progress": stopped & (e._status == "in_progress"),
    }[outcome]
    return e.filter(cond).select(customer_id=e._c).distinct().order_by("customer_id")


def funnel_customers(
    table: ir.Table,
    steps: Sequence[Any],
    *,
    step: int | str,
    outcome: str = "reached",
    con: BaseBackend | None = None,
    **options: Any,
) -> list[str]:
    """The customer ids behind one step or drop-off (see :func:`funnel_customers_expr`).

    >>> import ibis, datetime as dt
    >>> ev = ibis.memtable({"customer_id": ["a", "a", "b"], "touchpoint": ["Home", "Buy", "Home"],
    ...     "ts": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 1)]})
    >>> funnel_customers(ev, ["Home", "Buy"], step=1, outcome="dropped", window="1d", end=dt.datetime(2024, 3, 1))
    ['b']
    """
    from journeymap.engine import materialized

    spec = _spec(steps, {k: v for k, v in options.items() if k != "end"})
    funnel_customers_expr(table, steps, step=step, outcome=outcome, **options)  # bad input stops before any work
    with materialized(con, funnel_events(table, spec), "the funnel's events") as events:  # read by every step
        df = run(funnel_customers_expr(table, steps, step=step, outcome=outcome, events=events, **options), con)
    return [str(v) for v in df["customer_id"]]


def _spec(steps: Sequence[Any], options: dict[str, Any]) -> FunnelSpec:
    opts = dict(options)
    keys = ("optional", "step_limits", "window", "exclude")
    parts = {k: opts.pop(k) for k in keys if k in opts}
    return FunnelSpec.build(steps, **parts, **opts)


# -- aggregates: one wide row per breakdown value, reshaped in Python ----------------------------
def wide_expr(e: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Every per-step figure of a funnel as columns of one aggregate (one row per breakdown value).

    Reading the entries once keeps the whole funnel a single pass over them:
    ``entries``, ``capped`` and, per step ``n`` (1-based), ``reached_n``,
    ``customers_n``, ``cont_n`` (reached it and the previous required step),
    ``dropped_n``, ``in_progress_n``, ``here_n``, ``med_n`` / ``p90_n`` (seconds
    from the previous step), ``emed_n`` / ``ep90_n`` (from entry) and ``h_n_b``
    (histogram bin ``b`` of :data:`HISTOGRAM_EDGES`).
    """
    keep = ~e._over
    aggs: dict[str, Any] = {
        "entries": keep.cast("int64").sum(),
        "capped": ibis.ifelse(e._over, e._k, ibis.null("string")).nunique(),
    }
    edges = HISTOGRAM_EDGES
    for n in range(len(spec.steps)):
        reached = keep & e[f"_s{n}"].notnull()
        stopped = reached & (e._last == n + 1) & (e._status != "converted")
        prev_t = _previous_time(e, spec, n)
        dt = ibis.ifelse(keep, (e[f"_t{n}"] - prev_t).cast("float64"), ibis.null("float64"))
        de = ibis.ifelse(keep, (e[f"_t{n}"] - e._et).cast("float64"), ibis.null("float64"))
        cont = (reached & e[f"_s{_prev_required(spec, n)}"].notnull()) if n > 0 else (reached & False)
        m = n + 1
        aggs.update(
            {
                f"reached_{m}": reached.cast("int64").sum(),
                f"customers_{m}": ibis.ifelse(reached, e._c, ibis.null("string")).nunique(),
                f"cont_{m}": cont.cast("int64").sum(),
                f"dropped_{m}": (stopped & (e._status == "dropped")).cast("int64").sum(),
                f"in_progress_{m}": (stopped & (e._status == "in_progress")).cast("int64").sum(),
                f"here_{m}": (keep & (e._es == n)).cast("int64").sum(),
                f"med_{m}": dt.median(),
                f"p90_{m}": dt.quantile(0.9),
                f"emed_{m}": de.median(),
                f"ep90_{m}": de.quantile(0.9),
            }
        )
        if n > 0:
            for b in range(len(edges)):
                upper = de < edges[b + 1] if b + 1 < len(edges) else ibis.literal(True)
                aggs[f"h_{m}_{b}"] = (reached & (de >= edges[b]) & upper).cast("int64").sum()
    keys = ["dimension"] if spec.by else []
    return e.group_by(keys).agg(**aggs) if keys else e.aggregate(**aggs)


def _previous_time(e: ir.Table, spec: FunnelSpec, n: int) -> ir.Value:
    """The time of the previous matched step (an optional one if it matched, else the required one before)."""
    if n == 0:
        return ibis.null("int64")
    if spec.order == "any":
        return e[f"_t{n - 1}"]
    back = [e[f"_t{b}"] for b in range(n - 1, -1, -1)]
    return ibis.coalesce(*back) if len(back) > 1 else back[0]


def _prev_required(spec: FunnelSpec, n: int) -> int:
    return max(r for r in spec.required if r < n)


def _rows(wide, spec: FunnelSpec) -> tuple[list[str], list[list[Any]], list[list[Any]]]:
    """Reshape the wide aggregate into the step table and the histogram (plain Python on a few rows)."""
    keys = ["dimension"] if spec.by else []
    rows, hist = [], []
    recs = sorted(wide.to_dict("records"), key=lambda r: str(r.get("dimension", "")))
    for rec in recs:
        dim: list[Any] = [str(rec["dimension"])] if spec.by else []
        entries = int(rec["entries"] or 0)
        for n, step in enumerate(spec.steps, start=1):  # every step, with 0 where no one reached it
            reached = int(rec[f"reached_{n}"] or 0)
            prev = int(rec[f"reached_{_prev_required(spec, n - 1) + 1}"] or 0) if n > 1 else None
            cont = int(rec[f"cont_{n}"] or 0)
            lo_o, hi_o = wilson(reached, entries)
            lo_p, hi_p = wilson(cont, prev) if prev else (None, None)
            rows.append(
                dim
                + [
                    n,
                    step.label,
                    step.optional,
                    reached,
                    int(rec[f"customers_{n}"] or 0),
                    reached / entries if entries else None,
                    lo_o,
                    hi_o,
                    cont / prev if prev else None,
                    lo_p,
                    hi_p,
                    int(rec[f"dropped_{n}"] or 0),
                    int(rec[f"in_progress_{n}"] or 0),
                    int(rec[f"here_{n}"] or 0),
                    _num(rec[f"med_{n}"]),
                    _num(rec[f"p90_{n}"]),
                    _num(rec[f"emed_{n}"]),
                    _num(rec[f"ep90_{n}"]),
                ]
            )
            if n > 1:
                for b, lo in enumerate(HISTOGRAM_EDGES):
                    count = int(rec[f"h_{n}_{b}"] or 0)
                    hi = HISTOGRAM_EDGES[b + 1] if b + 1 < len(HISTOGRAM_EDGES) else None
                    if count:
                        hist.append(dim + [n, step.label, lo, hi, count])
    return [*keys, *FUNNEL_COLUMNS], rows, hist


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _public_entries(e: ir.Table, spec: FunnelSpec) -> ir.Table:
    e = e.filter(~e._over)
    cols: dict[str, Any] = {spec.key: e._k}
    if spec.key != "customer_id":
        cols["customer_id"] = e._c
    cols.update(entry_no=e._n, entry_step=e._es + 1)
    for i in range(len(spec.steps)):
        cols[f"t_{i + 1}"] = e[f"_t{i}"]
    cols.update(last_step=e._last, status=e._status)
    if spec.by:
        cols["dimension"] = e.dimension
    return e.select(**cols)


def _meta(spec: FunnelSpec, columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    at = {c: n for n, c in enumerate(columns)}
    last = [r for r in rows if r[at["step"]] == len(spec.steps)]
    converted = sum(r[at["reached"]] for r in last)
    in_progress = sum(r[at["in_progress"]] for r in rows)
    dropped = sum(r[at["dropped"]] for r in rows)
    settled = converted + dropped
    return {
        "steps": [s.label for s in spec.steps],
        "order": spec.order,
        "window": spec.window.total_seconds() if spec.window else None,
        "exclusions": [
            {"step": x.step.label, "mode": x.mode, "after": x.after, "before": x.before or len(spec.steps)}
            for x in spec.exclusions
        ],
        "optional": [n + 1 for n, s in enumerate(spec.steps) if s.optional],
        "step_limits": {str(n + 1): s.within.total_seconds() for n, s in enumerate(spec.steps) if s.within},
        "open": spec.open,
        "totals": spec.totals,
        "unit": spec.unit,
        "by": spec.by,
        "by_step": spec.by_step,
        "counts": "entries" if spec.totals else f"{spec.unit}s",
        "converted": converted,
        "in_progress": in_progress,
        "dropped": dropped,
        "entries": converted + in_progress + dropped,
        "conversion_rate_settled": converted / settled if settled else None,
        "interval": "wilson 95%",
        "time_unit": "seconds",
    }
