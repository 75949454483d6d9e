"""Paths: journey variants, cleaning rules, anchors, and step-by-step flows for a Sankey.

A *path* is a journey's sequence of touchpoints after the cleaning rules:

1. ``aliases``: ordered ``(regex, alias)`` pairs; the first regex that matches a
   touchpoint name (a search, not a full match) renames it;
2. ``collapse_repeats``: drop a touch with the same (cleaned) name as the touch
   before it (off by default for variants, which then equal pm4py's; on by
   default for flows);
3. anchors: ``start`` keeps the path from the first touch named ``start`` (journeys
   that never reach it are left out); ``end`` keeps it up to the first touch named
   ``end`` (after ``start``, when both are given);
4. ``max_steps``: a longer path keeps its first ``max_steps`` steps followed by "…"
   (anchored only at the end: "…" then its last steps; anchored at both ends: the
   first and last steps with the middle collapsed as "…").

*Variants* group journeys by their cleaned path. Paths are not concatenated into
strings in the engine: each journey is keyed by two order-aware hashes of its
(name, position) pairs plus its length, and only the top variants are decoded
into text (steps joined by " > "). Two different paths share a key with
probability about 2^-62.

*Flows* count, for each step, the journeys at each node (the top ``top`` nodes per
step, the rest grouped as "Other") and the links from step to step, including a
journey's end at CONVERTED / IN_PROGRESS / DROPPED. Every link is one journey's
transition; ``journeys`` counts transitions and ``customers`` distinct customers.

Examples
--------
>>> import ibis, datetime as dt
>>> from journeymap.journeys import build_journeys
>>> ev = ibis.memtable({"customer_id": ["a", "a", "a", "b", "b"],
...     "ts": [dt.datetime(2024, 1, d) for d in (1, 2, 3, 1, 2)],
...     "touchpoint": ["Home", "Product 1", "Product 2", "Home", "Product 3"]})
>>> rules = PathRules(aliases=(("^Product", "Product"),), collapse_repeats=True)
>>> variants(build_journeys(ev), rules=rules).typed_rows()[0].path
'Home > Product'
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeymap.errors import InputError
from journeymap.journeys.transitions import END_NODES, _require, frame_rows, run
from journeymap.results import Result, TableResult, TableRow

ELLIPSIS = "…"
SEP = " > "
OTHER = "Other"
_M = 2147483648  # 2^31: hashes are reduced below it so that sums stay far inside int64
_K = 1_000_003


@dataclass(frozen=True)
class PathRules:
    """How journeys are cleaned into paths (see the module docs).

    >>> PathRules.parse_aliases(["^Product=Product page", "cart|basket=Cart"]).aliases
    (('^Product', 'Product page'), ('cart|basket', 'Cart'))
    """

    aliases: tuple[tuple[str, str], ...] = ()
    collapse_repeats: bool = False
    max_steps: int | None = None
    start: str | None = None
    end: str | None = None

    def __post_init__(self) -> None:
        for pattern, _ in self.aliases:
            try:
                re.compile(pattern)
            except re.error as e:
                raise InputError(
                    f"Alias pattern {pattern!r} is not a valid regex ({e}); fix the --alias rule."
                ) from None
        if self.max_steps is not None and self.max_steps < 1:
            raise InputError(f"max_steps {self.max_steps!r} must be 1 or more (or None for no limit).")

    @classmethod
    def parse_aliases(cls, items: Sequence[str], **kwargs: Any) -> PathRules:
        """Rules from ``"regex=Alias"`` strings (split at the last ``=``), in order."""
        pairs = []
        for item in items:
            pattern, sep, alias = item.rpartition("=")
            if not sep or not pattern or not alias:
                raise InputError(
                    f"Alias rule {item!r} is not regex=Alias; write it like --alias '^Product=Product page'."
                )
            pairs.append((pattern, alias))
        return cls(aliases=tuple(pairs), **kwargs)

    @property
    def anchor(self) -> str:
        """``none``, ``from``, ``to`` or ``between``."""
        if self.start and self.end:
            return "between"
        return "from" if self.start else ("to" if self.end else "none")

    def describe(self) -> dict[str, Any]:
        return {
            "aliases": [list(a) for a in self.aliases],
            "collapse_repeats": self.collapse_repeats,
            "max_steps": self.max_steps,
            "start": self.start,
            "end": self.end,
            "anchor": self.anchor,
        }


@dataclass(frozen=True)
class PathRow(TableRow):
    """One path variant of :class:`PathsResult` (steps joined by " > ")."""

    path: str
    journeys: int
    conversions: int
    in_progress: int
    dropped: int
    conversion_rate: float
    share: float


class PathsResult(TableResult):
    """Top path variants: ``path, journeys, conversions, in_progress, dropped, conversion_rate, share``."""

    kind: ClassVar[str] = "paths"
    Row: ClassVar[type[TableRow]] = PathRow


class FlowsResult(Result):
    """Step-by-step flows for a Sankey: nodes per step and links between consecutive steps.

    ``measure`` names the column to draw widths with (``journeys`` counts
    transitions, one per journey per step; ``customers`` counts distinct customers).
    """

    kind: ClassVar[str] = "flows"
    measure: str = "journeys"
    node_columns: list[str]
    nodes: list[list[Any]]
    link_columns: list[str]
    links: list[list[Any]]

    def tables(self) -> dict[str, tuple[list[str], list[list[Any]]]]:
        return {"links": (self.link_columns, self.links), "nodes": (self.node_columns, self.nodes)}


# -- cleaning ------------------------------------------------------------------------------------
def clean_steps_expr(journeys: ir.Table, rules: PathRules | None = None, *, by: str | None = None) -> ir.Table:
    """One row per kept touch: ``customer_id, journey_id, p, name, length, status, converted`` (+ ``by``).

    ``p`` counts the kept touches of a journey from 1 (after repeats are
    collapsed and the path is cut at its anchors); ``length`` is their number.
    Journeys are keyed by ``journey_id`` (one string groups and sorts faster than
    customer and journey number: a third of the CPU for variants on DuckDB at 10M touches).
    """
    rules = rules or PathRules()
    _require(journeys, ["touchpoint"] + ([by] if by else []))
    keys = [by] if by else []
    out_cols = [*keys, "customer_id", "journey_id", "p", "name", "length", "status", "converted"]
    j = journeys.select(
        *keys,
        "customer_id",
        "step",
        "status",
        "converted",
        "n_touches",
        journey_id=journey_key(journeys),
        name=_alias(journeys.touchpoint.cast("string").fill_null("(none)"), rules.aliases),
    )
    if not (rules.collapse_repeats or rules.start or rules.end):  # the journey as it is: no window needed
        j = j.mutate(p=j.step.cast("int64"), length=j.n_touches.cast("int64"))
        return j.select(*out_cols)
    w = ibis.window(group_by=j.journey_id, order_by=j.step)
    if rules.collapse_repeats:
        j = j.mutate(_prev=j.name.lag().over(w))  # a column first: Spark cannot filter on a window
        j = j.filter(j._prev.isnull() | (j._prev != j.name)).drop("_prev")
        w = ibis.window(group_by=j.journey_id, order_by=j.step)
        j = j.mutate(pos=ibis.row_number().over(w) + 1)
    else:
        j = j.mutate(pos=j.step)
    jw = ibis.window(group_by=j.journey_id)
    first = ibis.literal(1, "int64")
    if rules.start:
        j = j.mutate(_s=ibis.ifelse(j.name == rules.start, j.pos, ibis.null("int64")).min().over(jw))
        j = j.filter(j._s.notnull() & (j.pos >= j._s))
        first = j._s
    j = j.mutate(p=(j.pos - first + 1).cast("int64"))
    if rules.end:
        after = (j.p > 1) if rules.start else ibis.literal(True)
        jw = ibis.window(group_by=j.journey_id)
        j = j.mutate(_e=ibis.ifelse((j.name == rules.end) & after, j.p, ibis.null("int64")).min().over(jw))
        j = j.filter(j._e.notnull() & (j.p <= j._e))
    jw = ibis.window(group_by=j.journey_id)
    j = j.mutate(length=j.count().over(jw))
    return j.select(*out_cols)


def journey_key(journeys: ir.Table) -> ir.StringValue:
    """``journey_id`` (as :func:`~journeymap.journeys.build_journeys` makes it), or made from customer and number."""
    if "journey_id" in journeys.columns:
        return journeys.journey_id.cast("string")
    _require(journeys, ["customer_id", "journey_no"])
    return journeys.customer_id.cast("string") + ":" + journeys.journey_no.cast("string")


def _alias(name: ir.StringValue, aliases: Sequence[tuple[str, str]]) -> ir.StringValue:
    if not aliases:
        return name
    return ibis.cases(*[(name.re_search(pattern), alias) for pattern, alias in aliases], else_=name)


def coded_steps_expr(journeys: ir.Table, rules: PathRules | None = None, *, by: str | None = None) -> ir.Table:
    """:func:`clean_steps_expr` cut to ``max_steps``, with a position ``code`` and a ``truncated`` flag.

    Kept leading steps have ``code`` = their position (1, 2, ...); kept trailing
    steps of a truncated path have ``code`` = minus their distance from the end
    (..., -2, -1); "…" sits between the positive and the negative codes.
    """
    rules = rules or PathRules()
    s = clean_steps_expr(journeys, rules, by=by)
    if rules.max_steps is None:
        return s.mutate(code=s.p, truncated=ibis.literal(False))
    m = rules.max_steps
    head = {"none": m, "from": m, "to": 0, "between": math.ceil(m / 2)}[rules.anchor]
    tail = m - head
    truncated = s.length > m
    from_end = s.length - s.p + 1
    keep = ~truncated | (s.p <= head) | (from_end <= tail)
    s = s.filter(keep)
    code = ibis.ifelse(truncated & (s.p > head), -from_end, s.p)
    return s.mutate(code=code.cast("int64"), truncated=truncated)


# -- variants ------------------------------------------------------------------------------------
def variant_keys_expr(journeys: ir.Table, rules: PathRules | None = None, *, by: str | None = None) -> ir.Table:
    """One row per journey (``journey_id``): its variant key (``h1, h2, k, truncated``) and status."""
    s = coded_steps_expr(journeys, rules, by=by)
    x = (s.name.hash() % _M).cast("int64") * _K + s.code
    h1 = (x.hash() % _M).cast("int64")
    h2 = ((x * 31 + 7).hash() % _M).cast("int64")
    aggs: dict[str, Any] = {
        "h1": h1.sum(),
        "h2": h2.sum(),
        "k": s.count(),
        "truncated": s.truncated.any(),
        "status": s.status.max(),
        "converted": s.converted.any(),
    }
    if by:
        aggs[by] = s[by].argmin(s.p)
    return s.group_by("journey_id").agg(**aggs)


VARIANT_KEY = ("h1", "h2", "k", "truncated")


def variants_expr(
    journeys: ir.Table, rules: PathRules | None = None, *, by: str | None = None, top: int | None = 20
) -> ir.Table:
    """Variants as an Ibis expression: key, counts, a representative journey; the ``top`` largest.

    Columns: ``[by,] h1, h2, k, truncated, journeys, conversions, in_progress,
    dropped, rep_journey, total_journeys, n_variants`` (``rep_journey``: the smallest
    ``journey_id`` of the variant, whose steps give its text).
    """
    v = variant_keys_expr(journeys, rules, by=by)
    keys = ([by] if by else []) + list(VARIANT_KEY)
    g = v.group_by(keys).agg(
        journeys=v.count(),
        conversions=v.converted.cast("int64").sum(),
        in_progress=(v.status == "in_progress").cast("int64").sum(),
        dropped=(v.status == "dropped").cast("int64").sum(),
        rep_journey=v.journey_id.min(),
    )
    gw = ibis.window(group_by=[by]) if by else ibis.window()
    g = g.mutate(total_journeys=g.journeys.sum().over(gw), n_variants=g.count().over(gw))
    if top is not None:
        # ties at the cut broken by the variant's smallest journey id, not by its hash key: the hashes differ
        # between engines, the journey ids do not (the same top paths on DuckDB and on Spark)
        rw = ibis.window(group_by=[by] if by else None, order_by=[ibis.desc(g.journeys), g.rep_journey])
        g = g.mutate(_rank=ibis.row_number().over(rw))
        g = g.filter(g._rank < top).drop("_rank")
    return g


def variants(
    journeys: ir.Table,
    *,
    rules: PathRules | None = None,
    by: str | None = None,
    top: int | None = 20,
    con: BaseBackend | None = None,
) -> PathsResult:
    """The ``top`` most frequent paths with their journeys, conversions, in progress and dropped.

    Parameters
    ----------
    journeys
        The output of :func:`~journeymap.journeys.build_journeys` (filtered as needed).
    rules
        Cleaning rules and anchors (:class:`PathRules`); none by default, so the
        variants equal pm4py's ``get_variants`` on a log read one journey per case.
    by
        A journeys column to break variants down by (its value at the path's first step);
        ``top`` then applies within each value.
    top
        How many variants to return (``None``: all). Rows are sorted by journeys, then by
        path; variants tied at the cut are chosen by their smallest journey id (the same on every engine).
    con
        The engine to run on (default: the one the table is bound to).

    Returns
    -------
    PathsResult
        Columns ``path, journeys, conversions, in_progress, dropped, conversion_rate,
        share`` (``by`` first when given); steps joined by " > ". ``meta`` holds the
        journeys in scope and the number of distinct variants.
    """
    rules = rules or PathRules()
    g = run(variants_expr(journeys, rules, by=by, top=top), con)
    texts = _decode(journeys, rules, by, g, con)
    keys = [by] if by else []
    columns = [*keys, *PathRow.columns()]
    rows = []
    for rec in g.itertuples():
        n = int(rec.journeys)
        rows.append(
            [
                *(getattr(rec, k) for k in keys),
                texts[str(rec.rep_journey)],
                n,
                int(rec.conversions),
                int(rec.in_progress),
                int(rec.dropped),
                int(rec.conversions) / n,
                n / int(rec.total_journeys),
            ]
        )
    k = len(keys)
    rows.sort(key=lambda r: (*(str(v) for v in r[:k]), -r[k + 1], r[k]))  # most journeys first, ties by path
    meta = {
        "by": by,
        "top": top,
        "rules": rules.describe(),
        "counts": "journeys",
        "journeys_in_scope": int(g.total_journeys.max()) if len(g) and not by else None,
        "variants": int(g.n_variants.max()) if len(g) and not by else None,
    }
    return PathsResult(columns=columns, rows=_plain_rows(rows), meta=meta)


def _decode(journeys: ir.Table, rules: PathRules, by: str | None, g, con) -> dict[str, str]:
    """The path text of each representative journey (one small query over the top variants only)."""
    if len(g) == 0:
        return {}
    reps = ibis.memtable({"_rep": sorted({str(r) for r in g.rep_journey})})
    s = coded_steps_expr(journeys, rules, by=by)
    s = s.semi_join(reps, s.journey_id == reps._rep)
    df = run(s.select("journey_id", "code", "name", "truncated"), con)
    out: dict[str, list] = {}
    for jid, code, name, trunc in df.itertuples(index=False, name=None):
        out.setdefault(str(jid), []).append((int(code), name, bool(trunc)))
    return {key: path_text(steps) for key, steps in out.items()}


def path_text(steps: Sequence[tuple[int, str, bool]]) -> str:
    """Join coded steps into "a > b > … > z" (positive codes, then "…" if truncated, then negative codes).

    >>> path_text([(-1, "z", True), (1, "a", True), (2, "b", True)])
    'a > b > … > z'
    """
    head = [name for code, name, _ in sorted(steps) if code > 0]
    tail = [name for code, name, _ in sorted(steps) if code < 0]
    truncated = any(t for _, _, t in steps)
    return SEP.join(head + ([ELLIPSIS] if truncated else []) + tail)


def _plain_rows(rows: list[list[Any]]) -> list[list[Any]]:
    return [[v.item() if hasattr(v, "item") else v for v in row] for row in rows]


# -- flows (Sankey) ------------------------------------------------------------------------------
def flows_expr(
    journeys: ir.Table, rules: PathRules | None = None, *, by: str | None = None, steps: int = 5, top: int = 8
) -> tuple[ir.Table, ir.Table]:
    """``(nodes, links)`` as Ibis expressions; see :func:`flows`."""
    rules = rules or PathRules(collapse_repeats=True)
    keys = [by] if by else []
    s = clean_steps_expr(journeys, rules, by=by)
    w = ibis.window(group_by=s.journey_id, order_by=s.p)
    end = s.status.substitute(END_NODES, else_=END_NODES["dropped"])
    s = s.mutate(nxt=ibis.ifelse(s.p == s.length, end, s.name.lead().over(w)))
    s = s.filter(s.p <= steps)
    counts = s.group_by([*keys, "p", "name"]).agg(_n=s.count())
    rw = ibis.window(group_by=[*keys, counts.p], order_by=[ibis.desc(counts._n), counts.name])
    tops = counts.mutate(_r=ibis.row_number().over(rw)).filter(lambda t: t._r < top)
    tops = tops.select(*keys, _tp="p", _tname="name", _keep=ibis.literal(True))
    s = _map_top(s, tops, keys, s.p, "name", "source")
    s = _map_top(s, tops, keys, s.p + 1, "nxt", "target", end_nodes=True)
    nodes = s.group_by([*keys, "p", "source"]).agg(journeys=s.count(), customers=s.customer_id.nunique())
    nodes = nodes.rename(step="p", node="source").order_by([*keys, "step", ibis.desc("journeys"), "node"])
    links = s.filter(s.target.notnull() & ((s.p < steps) | s.target.isin(list(END_NODES.values()))))
    links = links.group_by([*keys, "p", "source", "target"]).agg(
        journeys=links.count(), customers=links.customer_id.nunique()
    )
    links = links.rename(step="p").order_by([*keys, "step", ibis.desc("journeys"), "source", "target"])
    return nodes, links


def _map_top(
    s: ir.Table, tops: ir.Table, keys: list[str], step: ir.IntegerValue, col: str, out: str, end_nodes: bool = False
) -> ir.Table:
    s = s.mutate(_step=step)
    preds = [s._step == tops._tp, s[col] == tops._tname] + [s[k] == tops[k] for k in keys]
    j = s.left_join(tops, preds)
    j = j.drop(*[c for c in j.columns if c.endswith("_right")]) if any(c.endswith("_right") for c in j.columns) else j
    keep = j._keep.notnull()
    if end_nodes:
        keep = keep | j[col].isin(list(END_NODES.values()))
    mapped = ibis.ifelse(j[col].isnull(), ibis.null("string"), ibis.ifelse(keep, j[col], OTHER))
    return j.mutate(**{out: mapped}).drop("_tp", "_tname", "_keep", "_step")


def flows(
    journeys: ir.Table,
    *,
    rules: PathRules | None = None,
    by: str | None = None,
    steps: int = 5,
    top: int = 8,
    measure: str = "journeys",
    con: BaseBackend | None = None,
) -> FlowsResult:
    """Step-by-step flows for a Sankey: the ``top`` nodes per step, the rest as "Other".

    Parameters
    ----------
    journeys
        The output of :func:`~journeymap.journeys.build_journeys` (filtered as needed).
    rules
        Cleaning rules and anchors; by default repeats are collapsed.
    by
        A journeys column to break the flows down by (top nodes are chosen per value).
    steps
        How many steps to show.
    top
        Nodes kept per step (CONVERTED / IN_PROGRESS / DROPPED ends are always kept).
    measure
        ``journeys`` (each link is one journey's transition) or ``customers``
        (distinct customers); what a Sankey should size its links by.
    con
        The engine to run on (default: the one the table is bound to).

    Examples
    --------
    >>> import ibis, datetime as dt
    >>> from journeymap.journeys import build_journeys
    >>> ev = ibis.memtable({"customer_id": ["a", "a", "b"],
    ...     "ts": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 1)],
    ...     "touchpoint": ["Home", "Cart", "Home"]})
    >>> f = flows(build_journeys(ev), steps=2)
    >>> [(r[1], r[2], r[3]) for r in f.links]
    [('Home', 'Cart', 1), ('Home', 'IN_PROGRESS', 1), ('Cart', 'IN_PROGRESS', 1)]
    """
    if measure not in ("journeys", "customers"):
        raise InputError(f"measure {measure!r} is not one of journeys, customers; choose one of those.")
    if steps < 1 or top < 1:
        raise InputError(f"steps ({steps!r}) and top ({top!r}) must be 1 or more.")
    rules = rules or PathRules(collapse_repeats=True)
    nodes_e, links_e = flows_expr(journeys, rules, by=by, steps=steps, top=top)
    nodes, links = run(nodes_e, con), run(links_e, con)
    return FlowsResult(
        measure=measure,
        node_columns=list(nodes.columns),
        nodes=frame_rows(nodes),
        link_columns=list(links.columns),
        links=frame_rows(links),
        meta={
            "by": by,
            "steps": steps,
            "top": top,
            "rules": rules.describe(),
            "measure": measure,
            "counts": "journeys = transitions (one per journey per step); customers = distinct customers",
        },
    )
