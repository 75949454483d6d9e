"""The canonical tables of a journeymap warehouse (DESIGN.md, "Canonical tables").

Timestamps are stored as naive ``timestamp`` values that are UTC by convention:
every source time zone is converted at ingest. Naive UTC keeps DuckDB and Spark
from applying a session time zone when they truncate or format times.
``properties`` and ``raw`` hold JSON text, which every engine can store.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

EVENTS = ibis.schema(
    {
        "customer_id": dt.string,
        "ts": dt.timestamp,
        "touchpoint": dt.string,
        "channel": dt.string,
        "session_id": dt.string,
        "revenue": dt.float64,
        "properties": dt.string,
        "event_id": dt.string,
        "source": dt.string,
        "seq": dt.int64,
        "order_id": dt.string,
    }
)
"""One row per interaction.

``seq`` is the row's place in its source (sources in ingest order, then the row number in
the file): with ``ts`` it is the one order of touches everywhere (:func:`touch_order`).
``order_id`` is the order or basket a purchase line belongs to (optional)."""

ORDER_COLUMNS = ("ts", "seq", "event_id")
"""The order of touches everywhere: time, then the source's own row order (then the id, for tables
made by hand without ``seq``). Never a hash alone: same-second ties keep the file's order."""


def touch_order(table) -> list:
    """Sort keys of ``table``'s touches in the one order of :data:`ORDER_COLUMNS` (those it has)."""
    return [table[c] for c in ORDER_COLUMNS if c in table.columns]


EVENTS_REQUIRED = ("customer_id", "ts", "touchpoint")
EVENTS_OPTIONAL = ("channel", "session_id", "revenue", "order_id")

FEEDBACK_KINDS = ("survey", "review", "ticket", "chat", "social", "interview", "other")

FEEDBACK = ibis.schema(
    {
        "feedback_id": dt.string,
        "customer_id": dt.string,
        "ts": dt.timestamp,
        "kind": dt.string,
        "touchpoint": dt.string,
        "channel": dt.string,
        "text": dt.string,
        "rating": dt.float64,
        "rating_scale": dt.float64,
        "nps": dt.int16,
        "csat": dt.int16,
        "ces": dt.int16,
        "properties": dt.string,
        "source": dt.string,
    }
)
"""One row per survey response or comment."""

FEEDBACK_REQUIRED = ("ts",)
FEEDBACK_OPTIONAL = (
    "feedback_id",
    "customer_id",
    "kind",
    "touchpoint",
    "channel",
    "text",
    "rating",
    "rating_scale",
    "nps",
    "csat",
    "ces",
)

SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
"""Valid inclusive ranges of the survey scores."""

CUSTOMERS_BASE = ibis.schema({"customer_id": dt.string, "source": dt.string})
"""``customers`` holds these plus one string column per customer attribute."""

QUARANTINE = ibis.schema(
    {
        "source": dt.string,
        "table": dt.string,
        "row_number": dt.int64,
        "reason": dt.string,
        "raw": dt.string,
        "ingest_id": dt.string,
        "row_key": dt.string,
    }
)
"""Rows that could not be loaded, each with a one-line reason.

``row_key`` identifies a bad row as ``event_id`` does an event (keyed md5 of its values and its
occurrence in the source), so a re-ingest adds no second copy. In a pseudonymised workspace
``raw`` holds the row with its customer id pseudonymised (lines that cannot be split are withheld)."""

INGEST_LOG = ibis.schema(
    {
        "ingest_id": dt.string,
        "source": dt.string,
        "table": dt.string,
        "content_hash": dt.string,
        "rows_read": dt.int64,
        "loaded": dt.int64,
        "quarantined": dt.int64,
        "duplicate": dt.int64,
        "started_at": dt.timestamp,
        "finished_at": dt.timestamp,
        "mapping": dt.string,
    }
)
"""One row per ingested source: rows_read = loaded + quarantined + duplicate."""

TABLES = {
    "events": EVENTS,
    "feedback": FEEDBACK,
    "customers": CUSTOMERS_BASE,
    "quarantine": QUARANTINE,
    "ingest_log": INGEST_LOG,
}
