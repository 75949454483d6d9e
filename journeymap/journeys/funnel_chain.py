"""The set-based engine behind funnels: one row per entry with the time of every step it reached.

Every step is one left join of the entries with the events that match it and one
aggregate (the first match after the previous step), so ``k`` steps take ``k``
passes. Each pass reads the previous one exactly once: the SQL grows linearly
with the number of steps, and no engine computes a pass twice.

Columns of :func:`entries_expr` (internal names): ``_k`` the unit (customer or
journey), ``_c`` the customer, ``_e`` / ``_et`` the entry event's sequence
number and time (epoch seconds), ``_es`` the entry step (0-based), ``_s{i}`` /
``_t{i}`` the sequence number and time of step ``i``'s event (null when not
reached), ``_status``, ``_last`` (last required step reached, 1-based), ``_n``
(entry number), ``_over`` (an entry beyond ``max_entries``, kept only to count
them) and ``dimension`` with a breakdown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from journeymap.errors import InputError
from journeymap.journeys.funnel_steps import FunnelSpec

BIG = 2**62
"""Stands for "no bound" in sequence and time comparisons."""


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
        "_k": t[spec.key].cast("string"),
        "_c": t.customer_id.cast("string"),
        "_ts": t.ts,
        "_t": _whole_seconds(t.ts),
    }
    # the one order of touches (schema.touch_order): time, then the source's row order, then the id
    order = {"_o_seq": t.seq.cast("int64")} if "seq" in t.columns else {}
    if "event_id" in t.columns:
        order["_o_eid"] = t.event_id.cast("string")
    cols.update(order)
    for i, step in enumerate(spec.steps):
        cols[f"_m{i}"] = step.predicate(t)
    for j, ex in enumerate(spec.exclusions):
        cols[f"_x{j}"] = ex.step.predicate(t)
    if spec.by:
        cols["_by"] = t[spec.by].cast("string")
    ev = t.select(**cols)
    if spec.order != "strict":
        ev = ev.filter(_any([ev[c] for c in ev.columns if c.startswith(("_m", "_x"))]))
    w = ibis.window(group_by=ev._k, order_by=[ev._ts, *[ev[c] for c in order]])
    ev = ev.mutate(_seq=ibis.row_number().over(w))
    return ev.drop(*order) if order else ev


def entries_expr(
    table: ir.Table, spec: FunnelSpec, *, end: datetime | None = None, events: ir.Table | None = None
) -> ir.Table:
    """The per-entry table (see the module docs).

    ``events``: :func:`funnel_events` of ``table`` computed already (e.g. kept in a temporary table);
    every step reads it, and an engine that inlines the expression would compute its window once per step.
    """
    ev = funnel_events(table, spec) if events is None else events
    if end is not None:
        end_t = _whole_seconds(ibis.literal(end).cast("timestamp"))
    else:
        end_t = _whole_seconds(table.ts.max())
    e = _candidates(ev, spec)
    e = _chain_any(e, ev, spec) if spec.order == "any" else _chain_ordered(e, ev, spec)
    e = _with_status(e, spec, end_t)
    e = _select_entries(e, spec) if spec.totals else e.mutate(_n=ibis.literal(1), _over=ibis.literal(False))
    for j, ex in enumerate(spec.exclusions):
        if ex.mode == "remove":
            e = _remove(e, ev, spec, j)
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
    if spec.totals:
        return c
    c = c.mutate(_first=c._e.min().over(ibis.window(group_by=c._k)))
    return c.filter(c._e == c._first).drop("_first")


def _first_after(s: ir.Table, events: ir.Table, preds: list, name: str, time_name: str | None = None) -> ir.Table:
    """``s`` with the first (smallest sequence) of ``events`` meeting ``preds``: one left join + aggregate."""
    j = s.left_join(events, [s._k == events._k2, *preds])
    aggs = {name: j._q.min()}
    if time_name:
        aggs[time_name] = j._qt.min()
    return j.group_by(list(s.columns)).agg(**aggs)


def _step_events(ev: ir.Table, flag: str) -> ir.Table:
    return ev.filter(ev[flag]).select(_k2=ev._k, _q=ev._seq, _qt=ev._t)


# -- ordered and strict ---------------------------------------------------------------------------
def _chain_ordered(s: ir.Table, ev: ir.Table, spec: FunnelSpec) -> ir.Table:
    """For each step, the first matching event after the previous one."""
    s = s.mutate(_alive=ibis.literal(True), _p=ibis.null("int64"), _pt=ibis.null("int64"))
    stops: dict[int, list[str]] = {}
    deferred = []
    for i, step in enumerate(spec.steps):
        if step.optional and spec.order == "ordered":
            s = s.mutate(**{f"_s{i}": ibis.null("int64"), f"_t{i}": ibis.null("int64")})
            deferred.append(i)
            continue
        if i == 0 and not spec.open:  # every entry is its own step-1 event
            s = s.mutate(_s0=s._e, _t0=s._et)
        else:
            m = _step_events(ev, f"_m{i}")
            s = _first_after(s, m, _bounds(s, m, spec, i, stops.get(i, []), "_p", "_pt"), "_fs", "_ft")
            searching = s._alive & (s._es < i)
            at_entry = s._es == i
            s = s.mutate(
                **{
                    f"_s{i}": ibis.cases((at_entry, s._e), (searching, s._fs), else_=ibis.null("int64")),
                    f"_t{i}": ibis.cases((at_entry, s._et), (searching, s._ft), else_=ibis.null("int64")),
                }
            ).drop("_fs", "_ft")
        alive = s._alive & (s[f"_s{i}"].notnull() | (s._es > i)) if not step.optional else s._alive
        s = s.mutate(_alive=alive, _p=s[f"_s{i}"].coalesce(s._p), _pt=s[f"_t{i}"].coalesce(s._pt))
        s = _add_stops(s, ev, spec, i, stops)
    for i in deferred:
        s = _optional_match(s, ev, spec, i, stops.get(i, []))
    return s.drop("_alive", "_p", "_pt", *[c for c in s.columns if c.startswith("_stop")])


def _bounds(s: ir.Table, m: ir.Table, spec: FunnelSpec, i: int, stop_cols: list[str], lo: str, lo_t: str) -> list:
    """Join conditions for step ``i``'s event: after the previous step, in the window, before any stop.

    Each compares an event column with an expression of the entry alone (``qt <= et + w``, not
    ``qt - et <= w``), so engines keep a hash join on the unit rather than a nested loop.
    """
    preds = [(m._q == s[lo] + 1) if spec.order == "strict" else (m._q > s[lo])]
    if spec.window is not None:
        preds.append(m._qt <= s._et + int(spec.window.total_seconds()))
    within = spec.steps[i].within
    if within is not None:
        preds.append(m._qt <= s[lo_t] + int(within.total_seconds()))
    preds += [m._q < s[c].fill_null(BIG) for c in stop_cols]
    return preds


def _optional_match(s: ir.Table, ev: ir.Table, spec: FunnelSpec, i: int, stop_cols: list[str]) -> ir.Table:
    """An optional step counts when it happens between the previous matched step and the next required one."""
    prev_req = max(r for r in spec.required if r < i)
    nxt = min(r for r in spec.required if r > i)
    back = list(range(i - 1, prev_req - 1, -1))
    s = s.mutate(
        _lo=_coalesce([s[f"_s{b}"] for b in back]),
        _lot=_coalesce([s[f"_t{b}"] for b in back]),
        _hi=s[f"_s{nxt}"].fill_null(BIG),
    )
    m = _step_events(ev, f"_m{i}")
    preds = [m._q < s._hi, *_bounds(s, m, spec, i, stop_cols, "_lo", "_lot")]  # a null _lo matches nothing
    s = _first_after(s, m, preds, "_fs", "_ft")
    return s.mutate(**{f"_s{i}": s._fs, f"_t{i}": s._ft}).drop("_fs", "_ft", "_lo", "_lot", "_hi")


def _add_stops(s: ir.Table, ev: ir.Table, spec: FunnelSpec, i: int, stops: dict[int, list[str]]) -> ir.Table:
    """For ``stop`` exclusions after step ``i``: the first excluded event, which later steps must precede."""
    for j, ex in enumerate(spec.exclusions):
        if ex.mode != "stop" or ex.after - 1 != i:
            continue
        x = _step_events(ev, f"_x{j}")
        s = _first_after(s, x, [x._q > s[f"_s{i}"]], f"_stop{j}")
        for later in range(i + 1, ex.before or len(spec.steps)):
            stops.setdefault(later, []).append(f"_stop{j}")
    return s


# -- any order ------------------------------------------------------------------------------------
def _chain_any(s: ir.Table, ev: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Steps in any order: within the window from the entry, the n-th step is reached at the n-th filled slot."""
    k = len(spec.steps)
    stop_cols = []
    for j, ex in enumerate(spec.exclusions):
        if ex.mode == "stop":
            x = _step_events(ev, f"_x{j}")
            s = _first_after(s, x, [x._q > s._e], f"_stop{j}")
            stop_cols.append(f"_stop{j}")
    groups: dict[tuple, list[int]] = {}
    for i, step in enumerate(spec.steps):
        groups.setdefault(step.key(), []).append(i)
    flags = [f"_m{idxs[0]}" for idxs in groups.values()]
    m = ev.filter(_any([ev[f] for f in flags])).select(
        _k2=ev._k, _q=ev._seq, _qt=ev._t, **{f"_g{n}": ev[f] for n, f in enumerate(flags)}
    )
    preds = [s._k == m._k2, m._q >= s._e, *[m._q < s[c].fill_null(BIG) for c in stop_cols]]
    if spec.window is not None:
        preds.append(m._qt <= s._et + int(spec.window.total_seconds()))
    keys = list(s.columns)
    j = s.left_join(m, preds)
    fills = {}
    for n, idxs in enumerate(groups.values()):
        g = j[f"_g{n}"].fill_null(False)
        rn = ibis.row_number().over(ibis.window(group_by=[j._k, j._e, g], order_by=j._q))
        fills[f"_f{n}"] = (g & (rn < len(idxs))).cast("int64")
    j = j.mutate(**fills)
    slots = sum((j[f"_f{n}"] for n in range(len(groups))), ibis.literal(0))
    j = j.mutate(_slots=slots)
    cum = j._slots.sum().over(ibis.window(group_by=[j._k, j._e], order_by=j._q, rows=(None, 0)))
    j = j.mutate(_cum=cum)
    aggs = {}
    for n in range(k):
        hit = (j._slots > 0) & (j._cum >= n + 1)
        aggs[f"_s{n}"] = ibis.ifelse(hit, j._q, ibis.null("int64")).min()
        aggs[f"_t{n}"] = ibis.ifelse(hit, j._qt, ibis.null("int64")).min()
    return j.group_by(keys).agg(**aggs).drop(*stop_cols)


# -- status, re-entry, exclusions, breakdown ------------------------------------------------------
def _with_status(e: ir.Table, spec: FunnelSpec, end_t: ir.Value) -> ir.Table:
    last = len(spec.steps) - 1
    converted = e[f"_s{last}"].notnull()
    if spec.window is None:
        open_ = ibis.literal(False)
    else:
        # in progress while entry + window > data end (strictly), in whole seconds: the rule journeys use
        open_ = (e._et + int(spec.window.total_seconds())) > end_t
    status = ibis.cases((converted, "converted"), (open_, "in_progress"), else_="dropped")
    reached = [(e[f"_s{i}"].notnull(), i + 1) for i in reversed(spec.required)]
    return e.mutate(_status=status, _last=ibis.cases(*reached, else_=ibis.null("int64")))


def _select_entries(c: ir.Table, spec: FunnelSpec) -> ir.Table:
    """Totals: the first candidate, then the first after the previous entry converted or its window ran out.

    Each pass is a few window functions over the candidates (one read of the
    previous pass); one pass beyond ``max_entries`` marks the entries the cap cut.
    """
    last = len(spec.steps) - 1
    w = int(spec.window.total_seconds()) if spec.window is not None else None
    c = c.mutate(
        _conv=c[f"_s{last}"], _end=(c._et + w) if w is not None else ibis.literal(BIG), _sel=ibis.null("int64")
    )
    part = ibis.window(group_by=c._k)
    c = c.mutate(_sel=ibis.ifelse(c._e == c._e.min().over(part), 1, ibis.null("int64")))
    for n in range(2, spec.max_entries + 2):
        part = ibis.window(group_by=c._k)
        prev = c._sel == n - 1
        c = c.mutate(
            _pconv=ibis.ifelse(prev, c._conv, ibis.null("int64")).max().over(part),
            _pend=ibis.ifelse(prev, c._end, ibis.null("int64")).max().over(part),
            _had=prev.cast("int64").max().over(part),
        )
        ok = (c._had == 1) & c._sel.isnull() & ibis.ifelse(c._pconv.notnull(), c._e > c._pconv, c._et > c._pend)
        c = c.mutate(_cand=ibis.ifelse(ok, c._e, ibis.null("int64")))
        c = c.mutate(_nxt=c._cand.min().over(ibis.window(group_by=c._k)))
        c = c.mutate(_sel=ibis.ifelse(c._e == c._nxt, n, c._sel)).drop("_pconv", "_pend", "_had", "_cand", "_nxt")
    c = c.filter(c._sel.notnull())
    return c.mutate(_n=c._sel, _over=c._sel > spec.max_entries).drop("_conv", "_end", "_sel")


def _remove(e: ir.Table, ev: ir.Table, spec: FunnelSpec, j: int) -> ir.Table:
    """``remove`` exclusion: drop entries with the excluded event between its two steps (or the window's end)."""
    ex = spec.exclusions[j]
    k = len(spec.steps)
    lo = e._e if spec.order == "any" else e[f"_s{ex.after - 1}"]
    hi = e[f"_s{k - 1}"] if spec.order == "any" else e[f"_s{(ex.before or k) - 1}"]
    x = _step_events(ev, f"_x{j}")
    preds = [x._q > lo, x._q < hi.fill_null(BIG)]
    if spec.window is not None:
        preds.append(x._qt <= e._et + int(spec.window.total_seconds()))
    e = _first_after(e, x, preds, "_hit")
    return e.filter(e._hit.isnull()).drop("_hit")


def _with_breakdown(e: ir.Table, ev: ir.Table, spec: FunnelSpec) -> ir.Table:
    """The breakdown value at the first, last or a chosen step's event."""
    k = len(spec.steps)
    if spec.by_step == "first":
        at = e._e
    elif spec.by_step == "last":
        at = _coalesce([e[f"_s{i}"] for i in reversed(range(k))])
    else:
        at = e[f"_s{int(spec.by_step) - 1}"]
    e = e.mutate(_at=at)
    v = ev.select(_kv=ev._k, _qv=ev._seq, _byv=ev._by)
    j = e.left_join(v, [e._k == v._kv, e._at == v._qv])
    label = ibis.ifelse(j._at.isnull(), "(not reached)", j._byv.fill_null("(none)"))
    return j.mutate(dimension=label).drop("_kv", "_qv", "_byv", "_at")


def _whole_seconds(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Epoch seconds truncated to the second (DuckDB's epoch is fractional, Spark's whole)."""
    return ts.epoch_seconds().floor().cast("int64")


def _coalesce(values: list) -> ir.Value:
    return ibis.coalesce(*values) if len(values) > 1 else values[0]


def _any(flags: list) -> ir.BooleanValue:
    out = flags[0]
    for f in flags[1:]:
        out = out | f
    return out
