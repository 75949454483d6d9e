"""Validation: SQL that gives each row its canonical touchpoint and the reason it cannot load.

A row gets exactly one reason (the first that applies) or none: missing customer
id, unparseable timestamp (or a NaN/infinite epoch), implausible year, bad number,
score or rating out of scale, unknown touchpoint (when the blueprint is strict).
Reasons are one line and quote the bad value.

Examples
--------
>>> from journeymap.blueprint import Blueprint
>>> bp = Blueprint.model_validate({"touchpoints": [
...     {"name": "Search ad", "channel": "paid search", "match": [{"event": "ad_click", "where": {"utm_medium": "cpc"}}]},
...     {"name": "Checkout", "channel": "web"}]})
>>> print(touchpoint_sql('"event"', bp, {"utm_medium": '"utm_medium"'}))
CASE WHEN (lower("event") = 'ad_click' AND CAST("utm_medium" AS VARCHAR) IN ('cpc')) THEN 'Search ad' WHEN lower("event") = 'search ad' THEN 'Search ad' WHEN lower("event") = 'checkout' THEN 'Checkout' ELSE "event" END
"""

from __future__ import annotations

from collections.abc import Mapping

from journeymap import schema
from journeymap.blueprint import Blueprint, MatchRule
from journeymap.engine.duckdb_load.readers import quote_str


def _rule_sql(rule: MatchRule, raw_event: str | None, columns: Mapping[str, str]) -> str | None:
    parts: list[str] = []
    if rule.event is not None:
        if raw_event is None:
            return None
        parts.append(f"lower({raw_event}) = {quote_str(rule.event.lower())}")
    if rule.event_regex is not None:
        if raw_event is None:
            return None
        parts.append(f"regexp_matches({raw_event}, {quote_str(rule.event_regex)})")
    for col, want in rule.where.items():
        if col not in columns:
            return None  # the rule is about a column this source lacks: it cannot match
        values = want if isinstance(want, list) else [want]
        literals = ", ".join(quote_str(_literal(v)) for v in values)
        parts.append(f"CAST({columns[col]} AS VARCHAR) IN ({literals})")
    return "(" + " AND ".join(parts) + ")"


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def touchpoint_sql(raw_event: str | None, blueprint: Blueprint | None, columns: Mapping[str, str]) -> str:
    """SQL for the canonical touchpoint of a row.

    ``raw_event`` is SQL for the raw event name (None when the source has none);
    ``columns`` maps source column names to SQL, for ``where`` conditions. The first
    touchpoint (blueprint order) whose rule matches wins; else a raw name equal to a
    touchpoint name (case-insensitive); else the raw name.
    """
    whens: list[str] = []
    for tp in blueprint.touchpoints if blueprint else []:
        for rule in tp.match:
            cond = _rule_sql(rule, raw_event, columns)
            if cond is not None:
                whens.append(f"WHEN {cond} THEN {quote_str(tp.name)}")
    if raw_event is not None:
        for tp in blueprint.touchpoints if blueprint else []:
            whens.append(f"WHEN lower({raw_event}) = {quote_str(tp.name.lower())} THEN {quote_str(tp.name)}")
    fallback = raw_event if raw_event is not None else "NULL"
    if not whens:
        return fallback
    return "CASE " + " ".join(whens) + f" ELSE {fallback} END"


def known_touchpoint_sql(touchpoint: str, blueprint: Blueprint) -> str:
    """SQL true when the canonical ``touchpoint`` is one of the blueprint's."""
    names = ", ".join(quote_str(t) for t in blueprint.touchpoint_names()) or "NULL"
    return f"{touchpoint} IN ({names})"


def channel_sql(touchpoint: str, data_channel: str | None, blueprint: Blueprint | None) -> str:
    """SQL for the channel: the data's when it has one, else the blueprint touchpoint's."""
    whens = [
        f"WHEN {quote_str(t.name)} THEN {quote_str(t.channel)}"
        for t in (blueprint.touchpoints if blueprint else [])
        if t.channel
    ]
    from_blueprint = f"CASE {touchpoint} " + " ".join(whens) + " END" if whens else "NULL"
    if data_channel is None:
        return from_blueprint
    return f"coalesce(nullif(trim(CAST({data_channel} AS VARCHAR)), ''), {from_blueprint})"


_NUMBER_TYPES = (
    "DOUBLE",
    "FLOAT",
    "REAL",
    "BIGINT",
    "INTEGER",
    "SMALLINT",
    "TINYINT",
    "HUGEINT",
    "UBIGINT",
    "UINTEGER",
    "USMALLINT",
    "UTINYINT",
    "UHUGEINT",
)
_FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")


def _is_number(dtype: str) -> bool:
    return dtype.upper() in _NUMBER_TYPES or dtype.upper().startswith("DECIMAL")


def blank_sql(col: str, dtype: str = "VARCHAR") -> str:
    """SQL true when a value is missing: NULL or only spaces (a typed value is only missing when NULL).

    >>> blank_sql("x"), blank_sql("x", "TIMESTAMP")
    ("(x IS NULL OR trim(CAST(x AS VARCHAR)) = '')", '(x IS NULL)')
    """
    if _is_number(dtype) or dtype.upper().startswith(("TIMESTAMP", "DATE", "TIME", "BOOLEAN", "INTERVAL")):
        return f"({col} IS NULL)"  # numbers, times and booleans never render as blank text
    return f"({col} IS NULL OR trim(CAST({col} AS VARCHAR)) = '')"


def number_sql(col: str, dtype: str) -> str:
    """SQL for a DOUBLE read from ``col`` (NULL when blank or unreadable)."""
    if _is_number(dtype):
        return f"CAST({col} AS DOUBLE)"
    return f"try_cast(nullif(trim(CAST({col} AS VARCHAR)), '') AS DOUBLE)"


def bad_number_reason(name: str, col: str, dtype: str, num: str | None = None) -> tuple[str, str] | None:
    """(condition, reason) for a value that is present but not a finite number; None when none can be.

    ``num`` is SQL of ``number_sql(col, dtype)`` already computed (a column name), if any.
    """
    num = num or number_sql(col, dtype)
    if _is_number(dtype):
        if dtype.upper() not in _FLOAT_TYPES:
            return None  # integers and decimals are always finite numbers
        cond = f"(NOT isfinite({num}))"
    else:
        cond = f"(NOT {blank_sql(col, dtype)} AND NOT coalesce(isfinite({num}), false))"
    return cond, f"'bad number in {name}: ' || {_quoted(col)}"


def scale_reason(name: str, col: str, dtype: str, num: str | None = None) -> tuple[str, str]:
    """(condition, reason) for an NPS/CSAT/CES score outside its scale or not a whole number."""
    lo, hi = schema.SCALES[name]
    num = num or number_sql(col, dtype)
    cond = f"({num} IS NOT NULL AND ({num} < {lo} OR {num} > {hi} OR {num} <> round({num})))"
    return cond, f"'{name} ' || {_quoted(col)} || ' is outside its scale {lo}-{hi}'"


def rating_reasons(rating: tuple[str, str] | None, scale: tuple[str, str] | None) -> list[tuple[str, str]]:
    """(condition, reason) pairs for a rating outside its scale: ``rating`` and ``scale`` are the
    (column SQL, type) of the rating and rating_scale columns, each None when the source lacks it.

    A scale must be above 0; a rating lies in 0..scale (scales start at 0 or 1), and is at least 0
    when the row has no scale. Non-numbers are :func:`bad_number_reason`'s.
    """
    out: list[tuple[str, str]] = []
    top = None
    if scale is not None:
        top = number_sql(*scale)
        out.append(
            (
                f"({top} IS NOT NULL AND {top} <= 0)",
                f"'rating_scale ' || {_quoted(scale[0])} || ' must be above 0 (the highest rating, e.g. 5 or 10)'",
            )
        )
    if rating is not None:
        num = number_sql(*rating)
        above = f" OR ({top} IS NOT NULL AND {num} > {top})" if top is not None else ""
        shown = f"coalesce('0-' || printf('%g', {top}), 'from 0')" if top is not None else "'from 0'"
        out.append(
            (
                f"({num} IS NOT NULL AND ({num} < 0{above}))",
                f"'rating ' || {_quoted(rating[0])} || ' is outside its scale ' || {shown} || ' (rating_scale)'",
            )
        )
    return out


def non_finite_reason(col: str, dtype: str, column: str) -> tuple[str, str] | None:
    """(condition, reason) for a typed floating-point time (an epoch) that is NaN or infinite; None
    for other types (text 'nan' is an unparseable timestamp)."""
    if dtype.upper() not in _FLOAT_TYPES:
        return None
    return (
        f"(NOT isfinite(CAST({col} AS DOUBLE)))",
        f"'timestamp ' || {_quoted(col)} || ' in column ' || {quote_str(repr(column))} || ' is not a finite number'",
    )


def _quoted(col: str) -> str:
    return f"'''' || left(CAST({col} AS VARCHAR), 80) || ''''"


def quoted_sql(col: str) -> str:
    """SQL quoting a value for a reason: ``'value'`` (cut at 80 characters)."""
    return _quoted(col)
