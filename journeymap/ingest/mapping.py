"""Column mapping: which source column fills which canonical column.

A mapping comes from, in order: the ``mapping=`` argument (CLI ``--map``), the
blueprint's ``sources:`` entry whose pattern matches the file name, and
automatic guesses for columns whose names are obvious (``user_id`` ->
``customer_id``, ``timestamp`` -> ``ts``, ``event_name`` -> ``touchpoint``...).
Explicit entries win; guesses only fill canonical columns still unmapped.
Every source column not mapped goes into ``properties``.

Examples
--------
>>> m = resolve_mapping("events", ["cookie", "time", "event", "page"], explicit={"customer_id": "cookie"})
>>> m.columns, m.guessed
({'customer_id': 'cookie', 'ts': 'time', 'touchpoint': 'event'}, ['ts', 'touchpoint'])
>>> m.unmapped
['page']
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from journeymap import schema
from journeymap.blueprint import Blueprint, Source
from journeymap.errors import MappingError

SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customer_id",
        "user_id",
        "userid",
        "client_id",
        "clientid",
        "cookie",
        "cookie_id",
        "visitor_id",
        "visitorid",
        "case:concept:name",
        "household_key",
        "customer",
        "user",
        "customerid",
        "customer_unique_id",
        "account_id",
        "person_id",
        "fullvisitorid",
    ),
    "ts": (
        "ts",
        "timestamp",
        "time",
        "event_time",
        "time:timestamp",
        "created_at",
        "date",
        "datetime",
        "event_timestamp",
        "event_date",
        "occurred_at",
        "submitted_at",
    ),
    "touchpoint": (
        "touchpoint",
        "event",
        "event_name",
        "event_type",
        "activity",
        "concept:name",
        "action",
        "eventname",
        "eventtype",
    ),
    "channel": ("channel", "utm_source", "source_medium", "medium", "utm_medium", "traffic_source"),
    "order_id": (
        "order_id",
        "orderid",
        "invoiceno",
        "invoice_no",
        "invoice",
        "invoice_id",
        "basket_id",
        "transaction_id",
        "transactionid",
        "order_number",
        "order_no",
        "receipt_id",
    ),
    "session_id": ("session_id", "session", "user_session", "sessionid", "visit_id", "visitid"),
    "revenue": ("revenue", "amount", "value", "price", "sales_value", "order_value", "total"),
    # "id" last: only feedback has a feedback_id, so a bare "id" is never guessed for events or customers
    "feedback_id": ("feedback_id", "response_id", "review_id", "ticket_id", "comment_id", "id"),
    "kind": ("kind", "feedback_kind", "feedback_type"),
    "text": ("text", "comment", "comments", "review", "review_text", "message", "body", "verbatim", "feedback"),
    "rating": ("rating", "score", "stars", "review_score"),
    "rating_scale": ("rating_scale", "scale", "max_rating"),
    "nps": ("nps", "nps_score", "likelihood_to_recommend", "recommend"),
    "csat": ("csat", "csat_score", "satisfaction"),
    "ces": ("ces", "ces_score", "effort", "customer_effort"),
}
"""Lower-cased source column names that map to each canonical column, best first."""

TARGETS: dict[str, tuple[str, ...]] = {
    "events": schema.EVENTS_REQUIRED + schema.EVENTS_OPTIONAL,
    "feedback": ("customer_id",)
    + schema.FEEDBACK_REQUIRED
    + tuple(c for c in schema.FEEDBACK_OPTIONAL if c != "customer_id"),
    "customers": ("customer_id",),
}
"""Canonical columns a source can fill, per table."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "events": schema.EVENTS_REQUIRED,
    "feedback": schema.FEEDBACK_REQUIRED,
    "customers": ("customer_id",),
}


@dataclass(frozen=True)
class ColumnMapping:
    """A resolved mapping for one source file."""

    columns: dict[str, str]
    """canonical column -> source column."""
    guessed: list[str] = field(default_factory=list)
    """Canonical columns whose source column was guessed from its name."""
    unmapped: list[str] = field(default_factory=list)
    """Source columns that go into ``properties`` (events, feedback) or become attributes (customers)."""
    ts_format: str | None = None
    tz: str | None = None


def blueprint_source(blueprint: Blueprint | None, table: str, path: Path) -> Source | None:
    """The blueprint's ``sources:`` entry whose glob matches ``path`` (name or full path), or None."""
    if blueprint is None:
        return None
    for src in blueprint.sources:
        if src.table != table:
            continue
        if fnmatch.fnmatch(path.name, src.pattern) or fnmatch.fnmatch(str(path), src.pattern):
            return src
    return None


def resolve_mapping(
    table: str,
    source_columns: Sequence[str],
    *,
    explicit: Mapping[str, str] | None = None,
    source: Source | None = None,
    filename: str = "the file",
    optional: Sequence[str] = (),
) -> ColumnMapping:
    """Decide which source column fills each canonical column of ``table``.

    Raises :class:`~journeymap.errors.MappingError` when a mapping names a column the
    file lacks (the message lists the columns it has) or names an unknown target, or
    when a required column is left unmapped (except those in ``optional``: feedback's ``ts``
    when a default time is given).
    """
    targets = TARGETS[table]
    given: dict[str, str] = {}
    if source is not None:
        given.update(source.map)
    given.update(explicit or {})
    have = list(source_columns)
    for target, col in given.items():
        if target not in targets:
            raise MappingError(
                f"Mapping target {target!r} is not a column of {table}; map one of: {', '.join(targets)}."
            )
        if col not in have:
            raise MappingError(
                f"Column {col!r} (mapped to {target}) is not in {filename}; it has: {', '.join(have)}. "
                "Fix the --map flag or the blueprint's sources entry."
            )
    columns = dict(given)
    guessed: list[str] = []
    used = set(columns.values())
    lower = {c.lower().strip(): c for c in reversed(have)}
    for target in targets:
        if target in columns:
            continue
        for name in SYNONYMS.get(target, (target,)):
            found = lower.get(name)
            if found is not None and found not in used:
                columns[target] = found
                guessed.append(target)
                used.add(found)
                break
    missing = [t for t in REQUIRED[table] if t not in columns and t not in optional]
    if missing:
        raise MappingError(
            f"{filename} has no column for {', '.join(missing)} ({table} needs it); it has: {', '.join(have)}. "
            f"Map one with --map {missing[0]}=COLUMN"
            + (
                ", or date every row with --ts-default load (or a date, e.g. 2024-05-01)."
                if table == "feedback"
                else "."
            )
        )
    order = {t: i for i, t in enumerate(targets)}
    columns = dict(sorted(columns.items(), key=lambda kv: order[kv[0]]))
    return ColumnMapping(
        columns=columns,
        guessed=[t for t in targets if t in guessed],
        unmapped=[c for c in have if c not in used],
        ts_format=source.ts_format if source else None,
        tz=source.tz if source else None,
    )


def parse_map_flags(items: Sequence[str]) -> dict[str, str]:
    """Turn ``["customer_id=cookie", "ts=time"]`` into a dict; raise MappingError on a bad item.

    >>> parse_map_flags(["customer_id=cookie", "ts = time"])
    {'customer_id': 'cookie', 'ts': 'time'}
    """
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise MappingError(f"--map {item!r} is not TARGET=COLUMN; write e.g. --map customer_id=cookie.")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out
