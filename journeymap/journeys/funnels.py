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
  ``in_progress``. Without a window nothing is in progress.
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
>>> [(row["name"], row["reached"], row["rate_overall"]) for row in r.records()]
[('Home', 2, 1.0), ('Cart', 2, 1.0), ('Buy', 1, 0.5)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeymap.errors import InputError
from journeymap.journeys.funnel_steps import (
    DEFAULT_WINDOW,
    Exclusion,
    FunnelSpec,
    Step,
    step_ref,
)
from journeymap.journeys.touchpoints import wilson_interval
from journeymap.journeys.transitions import frame_rows, run
from journeymap.results import TableResult

BIG = 2**62
"""Stands for "no bound" in sequence comparisons."""

OUTCOMES = ("reached", "converted", "dropped", "in_progress", "stopped")

HISTOGRAM_EDGES = (0, 60, 300, 1800, 3600, 21600, 86400, 259200, 604800, 1209600, 2592000)
"""Bin edges (seconds) of the time-to-convert histogram; the last bin is open."""

FUNNEL_COLUMNS = (
    "step", "name", "optional", "reached", "customers", "rate_overall", "overall_low", "overall_high",
    "rate_from_previous", "previous_low", "previous_high", "dropped", "in_progress", "entered_here",
    "median_time_s", "p90_time_s", "median_time_from_entry_s", "p90_time_from_entry_s",
)


class FunnelResult(TableResult):
    """One row per step (and breakdown value), plus a time-to-convert histogram."""

    kind: ClassVar[str] = "funnel"
    histogram_columns: list[str] = []
    histogram_rows: list[list[Any]] = []

    def tables(self) -> dict[str, tuple[list[str], list[list[Any]]]]:
        return {"funnel": (self.columns, self.rows), "histogram": (self.histogram_columns, self.histogram_rows)}


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
    spec = FunnelSpec.build(steps, optional=optional, step_limits=step_limits, window=window, exclude=exclude,
                            order=order, open=open, totals=totals, by=by, by_step=by_step, unit=unit,
                            max_entries=max_entries)
    entries = entries_expr(table, spec, end=end)
    df = run(_steps_expr(entries, spec), con)
    hist_cols, hist_rows = (["step", "name", "bin_start_s", "bin_end_s", "reached"], [])
    if histogram and len(spec.steps) > 1:
        hist_rows = _histogram_rows(run(_histogram_expr(entries, spec), con), spec)
    meta = _meta(spec, df)
    if spec.totals:
        meta["entries_capped"] = int(run(_capped_expr(table, spec, end), con))
    return FunnelResult(columns=list(df.columns), rows=frame_rows(df), histogram_columns=hist_cols,
                        histogram_rows=hist_rows, meta=meta)


def funnel_expr(table: ir.Table, steps: Sequence[Any], *, end: datetime | None = None, **options: Any) -> ir.Table:
    """The per-step table of :func:`funnel` as an Ibis expression (nothing is executed)."""
    spec = _spec(steps, options)
    return _steps_expr(entries_expr(table, spec, end=end), spec)


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
    table: ir.Table, steps: Sequence[Any], *, step: int | str, outcome: str = "reached",
    end: datetime | None = None, **options: Any,
) -> ir.Table:
    """The ``customer_id`` of the customers behind one step of a funnel (an Ibis expression).

    ``outcome``: ``reached`` (reached the step), ``converted`` (reached it and
    the last step), ``stopped`` (it was the last step they reached, without
    converting), ``dropped`` / ``in_progress`` (stopped there, and their window
    ran out / is still open).
    """
    if outcome not in OUTCOMES:
        raise InputError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}; pick one of those.")
    spec = _spec(steps, options)
    n = step_ref(step, spec.steps)
    e = entries_expr(table, spec, end=end)
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


def funnel_customers(table: ir.Table, steps: Sequence[Any], *, step: int | str, outcome: str = "reached",
                     con: BaseBackend | None = None, **options: Any) -> list[str]:
    """The customer ids behind one step or drop-off (see :func:`funnel_customers_expr`).

    >>> import ibis, datetime as dt
    >>> ev = ibis.memtable({"customer_id": ["a", "a", "b"], "touchpoint": ["Home", "Buy", "Home"],
    ...     "ts": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 1)]})
    >>> funnel_customers(ev, ["Home", "Buy"], step=1, outcome="dropped", window="1d", end=dt.datetime(2024, 3, 1))
    ['b']
    """
    df = run(funnel_customers_expr(table, steps, step=step, outcome=outcome, **options), con)
    return [str(v) for v in df["customer_id"]]


def _spec(steps: Sequence[Any], options: dict[str, Any]) -> FunnelSpec:
    opts = dict(options)
    keys = ("optional", "step_limits", "window", "exclude")
    parts = {k: opts.pop(k) for k in keys if k in opts}
    return FunnelSpec.build(steps, **parts, **opts)


# -- the events the funnel reads ------------------------------------------------------------------
def funnel_events(table: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Events reduced to what the funnel needs: key, time, sequence number, one flag per step and exclusion."""
    needed = ["customer_id", "ts", spec.key] + ([spec.by] if spec.by else [])
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(
            f"The funnel needs column {missing[0]!r}, which the table lacks (it has: {', '.join(table.columns)}); "
            "pass the journeys table for unit='journey', or add the breakdown with with_dimension()."
        )
    t = table
    cols: dict[str, Any] = {
        "_k": t[spec.key].cast("string"), "_c": t.customer_id.cast("string"), "_ts": t.ts,
        "_t": t.ts.epoch_seconds(),
        "_eid": t.event_id.cast("string") if "event_id" in t.columns else ibis.null("string"),
    }
    for i, step in enumerate(spec.steps):
        cols[f"_m{i}"] = step.predicate(t)
    for j, ex in enumerate(spec.exclusions):
        cols[f"_x{j}"] = ex.step.predicate(t)
    if spec.by:
        cols["_by"] = t[spec.by].cast("string")
    ev = t.select(**cols)
    if spec.order != "strict":
        flags = [ev[c] for c in ev.columns if c.startswith(("_m", "_x"))]
        ev = ev.filter(_any(flags))
    w = ibis.window(group_by=ev._k, order_by=[ev._ts, ev._eid])
    return ev.mutate(_seq=ibis.row_number().over(w))


def entries_expr(table: ir.Table, spec: FunnelSpec, *, end: datetime | None = None) -> ir.Table:
    """The internal per-entry table: ``_k, _c, _e, _et, _es, _s0.. , _t0.., _last, _status`` (and ``_by``)."""
    ev = funnel_events(table, spec)
    end_t = ibis.literal(end).cast("timestamp").epoch_seconds() if end is not None else table.ts.max().epoch_seconds()
    cands = _candidates(ev, spec)
    if spec.order == "any":
        e = _chain_any(cands, ev, spec)
    else:
        e = _chain_ordered(cands, ev, spec)
    e = _with_status(e, spec, end_t)
    if spec.totals:
        e = _select_entries(e, spec)
    else:
        e = e.mutate(_n=ibis.literal(1))
    for j, ex in enumerate(spec.exclusions):
        if ex.mode == "remove":
            e = _remove(e, ev, spec, j, ex)
    if spec.by:
        e = _with_breakdown(e, ev, spec)
    return e


def _candidates(ev: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Possible entries: the first step-1 event per unit (uniques) or every one (totals)."""
    k = len(spec.steps)
    if spec.order == "any" or spec.open:
        cond = _any([ev[f"_m{i}"] for i in range(k)])
        es = ibis.cases(*[(ev[f"_m{i}"], i) for i in spec.required], else_=0) if spec.open else ibis.literal(0)
    else:
        cond, es = ev._m0, ibis.literal(0)
    c = ev.filter(cond).select("_k", "_c", _e=ev._seq, _et=ev._t, _es=es)
    if not spec.totals:
        first = c.group_by("_k").agg(_first=c._e.min())
        c = c.join(first, [c._k == first._k, c._e == first._first]).select(c)
    return c


# -- ordered and strict ---------------------------------------------------------------------------
def _chain_ordered(s: ir.Table, ev: ir.Table, spec: FunnelSpec) -> ir.Table:
    """For each step, the first matching event after the previous one: one join + aggregate per step."""
    s = s.mutate(_alive=ibis.literal(True), _p=ibis.null("int64"), _pt=ibis.null("int64"))
    stops: dict[int, list[str]] = {}
    deferred = []
    for i, step in enumerate(spec.steps):
        if step.optional and spec.order == "ordered":
            s = s.mutate(**{f"_s{i}": ibis.null("int64"), f"_t{i}": ibis.null("int64")})
            deferred.append(i)
            continue
        found = _next_match(s.filter(s._alive & (s._es < i)), ev, i, spec, stops.get(i, []))
        s = _attach(s, found)
        at_entry = s._es == i
        si = ibis.ifelse(at_entry, s._e, s._fs)
        ti = ibis.ifelse(at_entry, s._et, s._ft)
        s = s.mutate(**{f"_s{i}": si, f"_t{i}": ti}).drop("_fs", "_ft")
        alive = s._alive & (s[f"_s{i}"].notnull() | (s._es > i)) if not step.optional else s._alive
        s = s.mutate(_alive=alive, _p=s[f"_s{i}"].coalesce(s._p), _pt=s[f"_t{i}"].coalesce(s._pt))
        s = _add_stops(s, ev, spec, i, stops)
    for i in deferred:
        s = _optional_match(s, ev, spec, i, stops.get(i, []))
    return s.drop("_alive", "_p", "_pt", *[c for c in s.columns if c.startswith("_stop")])


def _next_match(s: ir.Table, ev: ir.Table, i: int, spec: FunnelSpec, stop_cols: list[str],
                lo: str = "_p", lo_t: str = "_pt", hi: ir.Value | None = None) -> ir.Table:
    m = ev.filter(ev[f"_m{i}"]).select(_k2=ev._k, _q=ev._seq, _qt=ev._t)
    step = spec.steps[i]
    preds = [s._k == m._k2, (m._q == s[lo] + 1) if spec.order == "strict" else (m._q > s[lo])]
    if spec.window is not None:
        preds.append((m._qt - s._et) <= spec.window.total_seconds())
    if step.within is not None:
        preds.append((m._qt - s[lo_t]) <= step.within.total_seconds())
    for col in stop_cols:
        preds.append(m._q < s[col].fill_null(BIG))
    if hi is not None:
        preds.append(m._q < hi)
    j = s.join(m, preds)
    return j.group_by([j._k, j._e]).agg(_fs=j._q.min(), _ft=j._qt.min())


def _optional_match(s: ir.Table, ev: ir.Table, spec: FunnelSpec, i: int, stop_cols: list[str]) -> ir.Table:
    """An optional step counts when it happens between the previous matched step and the next required one."""
    prev_req = max(r for r in spec.required if r < i)
    nxt = min(r for r in spec.required if r > i)
    back = list(range(i - 1, prev_req - 1, -1))
    s = s.mutate(_lo=ibis.coalesce(*[s[f"_s{b}"] for b in back]) if len(back) > 1 else s[f"_s{back[0]}"],
                 _lot=ibis.coalesce(*[s[f"_t{b}"] for b in back]) if len(back) > 1 else s[f"_t{back[0]}"],
                 _hi=s[f"_s{nxt}"].fill_null(BIG))
    found = _next_match(s.filter(s._lo.notnull()), ev, i, spec, stop_cols, lo="_lo", lo_t="_lot", hi=s._hi)
    s = _attach(s, found)
    return s.mutate(**{f"_s{i}": s._fs, f"_t{i}": s._ft}).drop("_fs", "_ft", "_lo", "_lot", "_hi")


def _add_stops(s: ir.Table, ev: ir.Table, spec: FunnelSpec, i: int, stops: dict[int, list[str]]) -> ir.Table:
    """For ``stop`` exclusions after step ``i``: the first excluded event, which later steps must precede."""
    k = len(spec.steps)
    for j, ex in enumerate(spec.exclusions):
        if ex.mode != "stop" or ex.after - 1 != i:
            continue
        x = ev.filter(ev[f"_x{j}"]).select(_k2=ev._k, _q=ev._seq)
        jn = s.join(x, [s._k == x._k2, x._q > s[f"_s{i}"]])
        first = jn.group_by([jn._k, jn._e]).agg(_fs=jn._q.min(), _ft=ibis.literal(0))
        s = _attach(s, first).rename(**{f"_stop{j}": "_fs"}).drop("_ft")
        for later in range(i + 1, ex.before or k):
            stops.setdefault(later, []).append(f"_stop{j}")
    return s


def _attach(s: ir.Table, found: ir.Table) -> ir.Table:
    found = found.rename(_k_f="_k", _e_f="_e")
    j = s.left_join(found, [s._k == found._k_f, s._e == found._e_f])
    return j.drop("_k_f", "_e_f")


# -- any order ------------------------------------------------------------------------------------
def _chain_any(s: ir.Table, ev: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Steps in any order: within the window from the entry, the n-th step is reached at the n-th matched step."""
    k = len(spec.steps)
    groups: dict[tuple, list[int]] = {}
    for i, step in enumerate(spec.steps):
        groups.setdefault(step.key(), []).append(i)
    stop_cols = []
    for j, ex in enumerate(spec.exclusions):
        if ex.mode == "stop":
            x = ev.filter(ev[f"_x{j}"]).select(_k2=ev._k, _q=ev._seq)
            jn = s.join(x, [s._k == x._k2, x._q > s._e])
            first = jn.group_by([jn._k, jn._e]).agg(_fs=jn._q.min(), _ft=ibis.literal(0))
            s = _attach(s, first).rename(**{f"_stop{j}": "_fs"}).drop("_ft")
            stop_cols.append(f"_stop{j}")
    parts = []
    for idxs in groups.values():
        m = ev.filter(ev[f"_m{idxs[0]}"]).select(_k2=ev._k, _q=ev._seq, _qt=ev._t)
        preds = [s._k == m._k2, m._q >= s._e]
        if spec.window is not None:
            preds.append((m._qt - s._et) <= spec.window.total_seconds())
        preds += [m._q < s[c].fill_null(BIG) for c in stop_cols]
        j = s.join(m, preds).select(_kk=s._k, _ee=s._e, _q=m._q, _qt=m._qt)
        rn = ibis.row_number().over(ibis.window(group_by=[j._kk, j._ee], order_by=j._q))
        parts.append(j.filter(rn < len(idxs)))
    u = ibis.union(*parts, distinct=False)
    lvl = ibis.row_number().over(ibis.window(group_by=[u._kk, u._ee], order_by=[u._q, u._qt]))
    u = u.mutate(_lvl=lvl)
    aggs = {}
    for n in range(k):
        aggs[f"_s{n}"] = ibis.ifelse(u._lvl == n, u._q, ibis.null("int64")).max()
        aggs[f"_t{n}"] = ibis.ifelse(u._lvl == n, u._qt, ibis.null("int64")).max()
    piv = u.group_by(_k=u._kk, _e=u._ee).agg(**aggs)
    piv = piv.rename(_k_f="_k", _e_f="_e")
    out = s.left_join(piv, [s._k == piv._k_f, s._e == piv._e_f]).drop("_k_f", "_e_f")
    return out.drop(*stop_cols)


# -- status, re-entry, exclusions, breakdown ------------------------------------------------------
def _with_status(e: ir.Table, spec: FunnelSpec, end_t: ir.Value) -> ir.Table:
    last = len(spec.steps) - 1
    converted = e[f"_s{last}"].notnull()
    if spec.window is None:
        open_ = ibis.literal(False)
    else:
        open_ = (e._et + spec.window.total_seconds()) > end_t
    status = ibis.cases((converted, "converted"), (open_, "in_progress"), else_="dropped")
    reached = [(e[f"_s{i}"].notnull(), i + 1) for i in reversed(spec.required)]
    return e.mutate(_status=status, _last=ibis.cases(*reached, else_=ibis.null("int64")))


def _select_entries(c: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Totals: the first entry, then the first candidate after the previous entry converted or timed out."""
    last = len(spec.steps) - 1
    w = spec.window.total_seconds() if spec.window is not None else None
    c = c.mutate(_conv_s=c[f"_s{last}"], _end_t=(c._et + w) if w is not None else ibis.literal(BIG))
    first = c.group_by("_k").agg(_ne=c._e.min())
    cur = c.join(first, [c._k == first._k, c._e == first._ne]).select(c).mutate(_n=ibis.literal(1))
    chosen = [cur]
    for n in range(2, spec.max_entries + 1):
        nxt = _next_entry(c, cur)
        cur = c.join(nxt, [c._k == nxt._kn, c._e == nxt._ne]).select(c).mutate(_n=ibis.literal(n))
        chosen.append(cur)
    return ibis.union(*chosen, distinct=False).drop("_conv_s", "_end_t")


def _next_entry(c: ir.Table, prev: ir.Table) -> ir.Table:
    p = prev.select(_kp=prev._k, _pconv=prev._conv_s, _pend=prev._end_t)
    after = ibis.ifelse(p._pconv.notnull(), c._e > p._pconv, c._et > p._pend)
    j = c.join(p, [c._k == p._kp, after])
    return j.group_by(_kn=j._k).agg(_ne=j._e.min())


def _capped_expr(table: ir.Table, spec: FunnelSpec, end: datetime | None) -> ir.Scalar:
    """How many units had a further entry than ``max_entries`` allows (0 when the cap did not bite)."""
    ev = funnel_events(table, spec)
    end_t = ibis.literal(end).cast("timestamp").epoch_seconds() if end is not None else table.ts.max().epoch_seconds()
    c = _candidates(ev, spec)
    c = _chain_any(c, ev, spec) if spec.order == "any" else _chain_ordered(c, ev, spec)
    c = _with_status(c, spec, end_t)
    last = len(spec.steps) - 1
    w = spec.window.total_seconds() if spec.window is not None else None
    c = c.mutate(_conv_s=c[f"_s{last}"], _end_t=(c._et + w) if w is not None else ibis.literal(BIG))
    sel = _select_entries(c, spec)
    lastsel = sel.filter(sel._n == spec.max_entries)
    lastsel = lastsel.mutate(_conv_s=lastsel[f"_s{last}"],
                             _end_t=(lastsel._et + w) if w is not None else ibis.literal(BIG))
    return _next_entry(c, lastsel).count()


def _remove(e: ir.Table, ev: ir.Table, spec: FunnelSpec, j: int, ex: Exclusion) -> ir.Table:
    """``remove`` exclusion: drop entries with the excluded event between its two steps."""
    a = 0 if spec.order == "any" else ex.after - 1
    b = (len(spec.steps) if spec.order == "any" else (ex.before or len(spec.steps))) - 1
    lo = e._e if spec.order == "any" else e[f"_s{a}"]
    x = ev.filter(ev[f"_x{j}"]).select(_k2=ev._k, _q=ev._seq, _qt=ev._t)
    preds = [e._k == x._k2, x._q > lo, x._q < e[f"_s{b}"].fill_null(BIG)]
    if spec.window is not None:
        preds.append((x._qt - e._et) <= spec.window.total_seconds())
    hit = e.join(x, preds).select(_kh=e._k, _eh=e._e, _nh=e._n).distinct()
    return e.anti_join(hit, [e._k == hit._kh, e._e == hit._eh, e._n == hit._nh])


def _with_breakdown(e: ir.Table, ev: ir.Table, spec: FunnelSpec) -> ir.Table:
    """The breakdown value at the first, last or a chosen step's event."""
    k = len(spec.steps)
    if spec.by_step == "first":
        at = e._e
    elif spec.by_step == "last":
        at = ibis.coalesce(*[e[f"_s{i}"] for i in reversed(range(k))]) if k > 1 else e._s0
    else:
        at = e[f"_s{int(spec.by_step) - 1}"]
    e = e.mutate(_at=at)
    v = ev.select(_kv=ev._k, _qv=ev._seq, _byv=ev._by)
    j = e.left_join(v, [e._k == v._kv, e._at == v._qv])
    label = ibis.ifelse(j._at.isnull(), "(not reached)", j._byv.fill_null("(none)"))
    return j.mutate(dimension=label).drop("_kv", "_qv", "_byv", "_at")


# -- aggregates -----------------------------------------------------------------------------------
def _per_step(e: ir.Table, spec: FunnelSpec) -> ir.Table:
    """One row per entry and step reached: times from the previous step and from entry."""
    keys = ["dimension"] if spec.by else []
    parts = []
    for n in range(len(spec.steps)):
        back = [e[f"_t{b}"] for b in range(n - 1, -1, -1)]
        prev_t = (ibis.coalesce(*back) if len(back) > 1 else back[0]) if back else ibis.null("int64")
        if spec.order == "any" and n > 0:
            prev_t = e[f"_t{n - 1}"]
        stopped = (e._last == n + 1) & (e._status != "converted")
        cont = e[f"_s{_prev_required(spec, n)}"].notnull() if n > 0 else ibis.literal(False)
        parts.append(e.filter(e[f"_s{n}"].notnull()).select(
            *keys, _c=e._c, step=ibis.literal(n + 1),
            _dt=(e[f"_t{n}"] - prev_t).cast("float64"), _de=(e[f"_t{n}"] - e._et).cast("float64"),
            _drop=(stopped & (e._status == "dropped")).cast("int64"),
            _prog=(stopped & (e._status == "in_progress")).cast("int64"),
            _here=(e._es == n).cast("int64"), _cont=cont.cast("int64"),
        ))
    return ibis.union(*parts, distinct=False)


def _steps_expr(e: ir.Table, spec: FunnelSpec) -> ir.Table:
    keys = ["dimension"] if spec.by else []
    u = _per_step(e, spec)
    g = u.group_by([*keys, "step"]).agg(
        reached=u.count(), customers=u._c.nunique(), dropped=u._drop.sum(), in_progress=u._prog.sum(),
        entered_here=u._here.sum(), _cont=u._cont.sum(), median_time_s=u._dt.median(), p90_time_s=u._dt.quantile(0.9),
        median_time_from_entry_s=u._de.median(), p90_time_from_entry_s=u._de.quantile(0.9),
    )
    total = e.group_by(keys).agg(_entries=e.count()) if keys else None
    prev_map = {n + 1: _prev_required(spec, n) + 1 for n in range(1, len(spec.steps))}
    g = g.mutate(_prev=g.step.substitute(prev_map, else_=ibis.null("int64")) if prev_map else ibis.null("int64"))
    p = g.select(*[g[k].name(f"_pk_{k}") for k in keys], _pstep=g.step, _preached=g.reached)
    j = g.left_join(p, [g._prev == p._pstep, *[g[k] == p[f"_pk_{k}"] for k in keys]])
    if total is not None:
        total = total.rename(**{f"_tk_{k}": k for k in keys})
        j = j.left_join(total, [j[k] == total[f"_tk_{k}"] for k in keys])
        entries = j._entries
    else:
        entries = e.count().as_scalar()
    lo_o, hi_o = wilson_interval(j.reached, entries)
    lo_p, hi_p = wilson_interval(j._cont, j._preached)
    names = {n + 1: s.label for n, s in enumerate(spec.steps)}
    optional = {n + 1: s.optional for n, s in enumerate(spec.steps)}
    j = j.mutate(
        name=j.step.substitute(names, else_=ibis.null("string")),
        optional=j.step.substitute(optional, else_=ibis.null("boolean")),
        rate_overall=j.reached.cast("float64") / entries, overall_low=lo_o, overall_high=hi_o,
        rate_from_previous=j._cont.cast("float64") / j._preached, previous_low=lo_p, previous_high=hi_p,
    )
    return j.select(*keys, *FUNNEL_COLUMNS).order_by([*keys, "step"])


def _prev_required(spec: FunnelSpec, n: int) -> int:
    return max(r for r in spec.required if r < n)


def _histogram_expr(e: ir.Table, spec: FunnelSpec) -> ir.Table:
    u = _per_step(e, spec)
    u = u.filter(u.step > 1)
    edges = HISTOGRAM_EDGES
    cases = [(u._de < edges[i + 1], i) for i in range(len(edges) - 1)]
    u = u.mutate(_bin=ibis.cases(*cases, else_=len(edges) - 1))
    keys = ["dimension"] if spec.by else []
    return u.group_by([*keys, "step", "_bin"]).agg(reached=u.count()).order_by([*keys, "step", "_bin"])


def _histogram_rows(df, spec: FunnelSpec) -> list[list[Any]]:
    rows = []
    edges = HISTOGRAM_EDGES
    for rec in df.to_dict("records"):
        b = int(rec["_bin"])
        hi = edges[b + 1] if b + 1 < len(edges) else None
        row = [int(rec["step"]), spec.steps[int(rec["step"]) - 1].label, edges[b], hi, int(rec["reached"])]
        rows.append(([str(rec["dimension"])] if spec.by else []) + row)
    return rows


def _public_entries(e: ir.Table, spec: FunnelSpec) -> ir.Table:
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


def _meta(spec: FunnelSpec, df) -> dict[str, Any]:
    last = df[df["step"] == len(spec.steps)]
    converted = int(last["reached"].sum())
    in_progress, dropped = int(df["in_progress"].sum()), int(df["dropped"].sum())
    settled = converted + dropped
    return {
        "steps": [s.label for s in spec.steps], "order": spec.order,
        "window": spec.window.total_seconds() if spec.window else None,
        "exclusions": [{"step": x.step.label, "mode": x.mode, "after": x.after, "before": x.before or len(spec.steps)}
                       for x in spec.exclusions],
        "optional": [n + 1 for n, s in enumerate(spec.steps) if s.optional],
        "step_limits": {n + 1: s.within.total_seconds() for n, s in enumerate(spec.steps) if s.within},
        "open": spec.open, "totals": spec.totals, "unit": spec.unit, "by": spec.by, "by_step": spec.by_step,
        "counts": "entries" if spec.totals else f"{spec.unit}s",
        "converted": converted, "in_progress": in_progress, "dropped": dropped,
        "entries": converted + in_progress + dropped,
        "conversion_rate_settled": converted / settled if settled else None,
        "interval": "wilson 95%", "time_unit": "seconds",
    }


def _any(flags: list[ir.BooleanValue]) -> ir.BooleanValue:
    out = flags[0]
    for f in flags[1:]:
        out = out | f
    return out
