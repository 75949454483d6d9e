"""Personas: which customers belong to which persona, from the blueprint's rules.

Each persona's ``where`` maps a customer attribute to a literal, a list of
literals, or comparisons (``{"gte": 30, "lt": 50}``, ``{"regex": "^north"}``);
all conditions must hold. The first matching persona wins; customers matching
none are ``other``. Attributes are stored as strings; comparisons with numbers
compare numerically.

Examples
--------
>>> import ibis
>>> from journeymap.blueprint import Blueprint
>>> customers = ibis.memtable({"customer_id": ["a", "b", "c"], "segment": ["vip", "new", "new"],
...                            "age": ["61", "25", "40"]})
>>> bp = Blueprint.model_validate({"personas": [
...     {"name": "VIP", "where": {"segment": "vip"}},
...     {"name": "Young newcomer", "where": {"segment": "new", "age": {"lt": 30}}}]})
>>> assign_personas(customers, bp).order_by("customer_id").execute().persona.tolist()
['VIP', 'Young newcomer', 'other']
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from journeymap.blueprint import Blueprint, Persona
from journeymap.errors import InputError

OTHER = "other"


def assign_personas(customers: ir.Table, blueprint: Blueprint) -> ir.Table:
    """A table of ``customer_id, persona`` for every customer in ``customers``."""
    if not blueprint.personas:
        return customers.select("customer_id", persona=ibis.literal(OTHER))
    cases = [(persona_predicate(customers, p), p.name) for p in blueprint.personas]
    return customers.select("customer_id", persona=ibis.cases(*cases, else_=OTHER))


def persona_predicate(customers: ir.Table, persona: Persona) -> ir.BooleanValue:
    """The condition that puts a customer into ``persona``."""
    preds = [_condition(customers, persona.name, attr, cond) for attr, cond in persona.where.items()]
    if not preds:
        return ibis.literal(True)
    out = preds[0]
    for p in preds[1:]:
        out = out & p
    return out.fill_null(False)


def _condition(customers: ir.Table, persona: str, attr: str, cond: Any) -> ir.BooleanValue:
    if attr not in customers.columns:
        raise InputError(
            f"Persona {persona!r} has a rule on attribute {attr!r}, which the customers table lacks; "
            f"it has: {', '.join(customers.columns)}. Fix the rule in blueprint.yaml or ingest that attribute."
        )
    col = customers[attr].cast("string")
    if isinstance(cond, dict):
        parts = [_op(col, op, value) for op, value in cond.items()]
        out = parts[0]
        for p in parts[1:]:
            out = out & p
        return out
    if isinstance(cond, list):
        return col.isin([_text(v) for v in cond])
    return col == _text(cond)


def _op(col: ir.StringValue, op: str, value: Any) -> ir.BooleanValue:
    if op == "eq":
        return col == _text(value)
    if op == "ne":
        return col != _text(value)
    if op == "in":
        return col.isin([_text(v) for v in value])
    if op == "not_in":
        return ~col.isin([_text(v) for v in value])
    if op == "regex":
        return col.re_search(str(value))
    num = col.try_cast("float64")
    value = float(value)
    return {"gt": num > value, "gte": num >= value, "lt": num < value, "lte": num <= value}[op]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def with_personas(events: ir.Table, customers: ir.Table, blueprint: Blueprint) -> ir.Table:
    """``events`` with a ``persona`` column (``other`` for customers without attributes)."""
    personas = assign_personas(customers, blueprint)
    joined = events.left_join(personas, events.customer_id == personas.customer_id)
    joined = joined.drop("customer_id_right") if "customer_id_right" in joined.columns else joined
    return joined.mutate(persona=joined.persona.fill_null(OTHER))
