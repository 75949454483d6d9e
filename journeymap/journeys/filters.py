"""Filters and breakdowns shared by every analysis: date range, persona, customer attributes.

Examples
--------
>>> import ibis, datetime as dt
>>> ev = ibis.memtable({"customer_id": ["a", "b"], "ts": [dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1)],
...                     "touchpoint": ["x", "y"]})
>>> filter_events(ev, start="2024-01-15").count().execute()
1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.journeys.personas import OTHER, assign_personas


@dataclass(frozen=True)
class Filters:
    """What an analysis is restricted to. Empty means everything.

    ``start`` is inclusive and ``end`` exclusive; ``personas`` and ``where``
    (customer attribute -> value or list of values) select customers.
    """

    start: datetime | str | None = None
    end: datetime | str | None = None
    personas: Sequence[str] = ()
    where: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """The filters as JSON-ready metadata for results."""
        out: dict[str, Any] = {}
        if self.start is not None:
            out["start"] = str(self.start)
        if self.end is not None:
            out["end"] = str(self.end)
        if self.personas:
            out["personas"] = list(self.personas)
        if self.where:
            out["where"] = dict(self.where)
        return out

    @property
    def needs_customers(self) -> bool:
        return bool(self.personas or self.where)


def _ts(value: datetime | str, name: str) -> ir.TimestampScalar:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InputError(
                f"{name} {value!r} is not a date; write it as YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS."
            ) from None
    return ibis.literal(value).cast("timestamp")


def filter_events(
    events: ir.Table,
    *,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    customers: ir.Table | None = None,
    blueprint: Blueprint | None = None,
    personas: Sequence[str] = (),
    where: Mapping[str, Any] | None = None,
) -> ir.Table:
    """Restrict events to a date range and to customers by persona or attribute."""
    out = events
    if start is not None:
        out = out.filter(out.ts >= _ts(start, "start"))
    if end is not None:
        out = out.filter(out.ts < _ts(end, "end"))
    if personas or where:
        if customers is None:
            raise InputError("Filtering by persona or customer attribute needs the customers table; ingest it first.")
        keep = customer_subset(customers, blueprint or Blueprint(), personas=personas, where=where or {})
        out = out.semi_join(keep, out.customer_id == keep.customer_id)
    return out


def apply_filters(
    events: ir.Table, filters: Filters | None, customers: ir.Table | None = None, blueprint: Blueprint | None = None
) -> ir.Table:
    """:func:`filter_events` driven by a :class:`Filters`."""
    if filters is None:
        return events
    return filter_events(
        events,
        start=filters.start,
        end=filters.end,
        customers=customers,
        blueprint=blueprint,
        personas=filters.personas,
        where=filters.where,
    )


def customer_subset(
    customers: ir.Table, blueprint: Blueprint, *, personas: Sequence[str] = (), where: Mapping[str, Any] = {}
) -> ir.Table:
    """``customer_id`` of the customers in any of ``personas`` and matching ``where``."""
    t = customers
    if personas:
        known = {p.name for p in blueprint.personas} | {OTHER}
        unknown = [p for p in personas if p not in known]
        if unknown:
            raise InputError(
                f"Persona {unknown[0]!r} is not in the blueprint; known personas: {', '.join(sorted(known))}."
            )
        pa = assign_personas(customers, blueprint)
        t = pa.filter(pa.persona.isin(list(personas))).select("customer_id")
        t = customers.semi_join(t, customers.customer_id == t.customer_id)
    for attr, value in where.items():
        if attr not in customers.columns:
            raise InputError(
                f"Customer attribute {attr!r} does not exist; the customers table has: {', '.join(customers.columns)}."
            )
        col = t[attr].cast("string")
        t = t.filter(col.isin([str(v) for v in value]) if isinstance(value, list) else col == str(value))
    return t.select("customer_id")


def with_dimension(
    events: ir.Table, by: str | None, *, customers: ir.Table | None = None, blueprint: Blueprint | None = None
) -> ir.Table:
    """``events`` with a ``dimension`` column to break figures down by.

    ``by`` is ``persona``, ``stage``, ``channel``, an event column, or a customer
    attribute; ``None`` gives one group, ``all``.
    """
    if by is None:
        return events.mutate(dimension=ibis.literal("all"))
    if by in events.columns and by != "customer_id":
        return events.mutate(dimension=events[by].cast("string").fill_null("(none)"))
    if customers is None:
        raise InputError(f"Breakdown {by!r} is not an event column, and there is no customers table to look it up in.")
    if by == "persona":
        dim = assign_personas(customers, blueprint or Blueprint()).rename(dimension="persona")
    elif by in customers.columns:
        dim = customers.select("customer_id", dimension=customers[by].cast("string"))
    else:
        raise InputError(
            f"Breakdown {by!r} is neither an event column ({', '.join(events.columns)}) nor a customer attribute "
            f"({', '.join(customers.columns)}); choose one of those or 'persona'."
        )
    j = events.left_join(dim, events.customer_id == dim.customer_id)
    j = j.drop("customer_id_right") if "customer_id_right" in j.columns else j
    return j.mutate(dimension=j.dimension.fill_null(OTHER if by == "persona" else "(none)"))
