"""The journeys kept between commands: :func:`~journeymap.journeys.journeys.build_journeys` stored once in the warehouse.

Every journey command (touchpoints, transitions, paths, funnels, stages, friction, retention,
attribution) reads the same journeys, which are the costly part of a command. They are built once
into the warehouse table ``_jm_journeys``, with the key they were built for in ``_jm_journeys_meta``;
a command reads the table only when its key matches the workspace's key now:

- the journey definition: the blueprint's goals, inactivity gap, conversion window and the
  touchpoint -> stage mapping (a blueprint edit elsewhere, e.g. a persona or a KPI target, keeps it);
- the data: the events' row count and the events ingest log (every write to ``events`` is an ingest,
  which logs each source in the same transaction);
- the code: the source of the journeys module and of the canonical schema, and :data:`FORMAT`.

Where it is built: by a command that holds the warehouse for writing anyway (``journeymap ingest``
at its end, ``journeymap demo``, a command that scores feedback), and by :func:`refresh`. A command
that opens the warehouse read-only (every analysis command) never writes: with a stale or missing
table it computes the journeys in memory, as it always did, so read-only commands still run beside
each other. Only DuckDB warehouses keep the table; other engines always compute.

Examples
--------
>>> import tempfile
>>> from journeymap.workspace import Workspace
>>> ws = Workspace.init(tempfile.mkdtemp() + "/shop")
>>> is_fresh(ws.con, ws.blueprint)
False
>>> t = refresh(ws.con, ws.events(), ws.blueprint)
>>> is_fresh(ws.con, ws.blueprint), t.get_name().endswith(TABLE)
(True, True)
>>> ws.close()
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeymap.blueprint import Blueprint
from journeymap.engine import kept

TABLE = "_jm_journeys"
"""The warehouse table holding the journeys of every event (no filter, no breakdown)."""

META = f"{TABLE}_meta"
"""One row: the key :data:`TABLE` was built for, and when (:mod:`journeymap.engine.kept`)."""

FORMAT = 1
"""Raised when the stored table's layout changes (part of the key)."""


def definition(blueprint: Blueprint) -> dict[str, Any]:
    """The parts of a blueprint the journeys depend on (goals, gap, window, stage of each touchpoint)."""
    from journeymap.journeys.journeys import JourneyRules

    rules = JourneyRules.from_blueprint(blueprint)

    def seconds(value: Any) -> float | None:
        return None if value is None else value.total_seconds()

    return {
        "goals": list(rules.goals),
        "inactivity_gap": seconds(rules.inactivity_gap),
        "conversion_window": seconds(rules.conversion_window),
        "stages": sorted([t.name, t.stage] for t in blueprint.touchpoints if t.stage),
    }


@functools.cache
def _code_digest() -> str:
    from journeymap import schema
    from journeymap.journeys import journeys

    h = hashlib.sha256(str(FORMAT).encode())
    for module in (journeys, schema):
        h.update(Path(module.__file__ or "").read_bytes())
    return h.hexdigest()


def key(con: BaseBackend, blueprint: Blueprint) -> str:
    """The key of the journeys the warehouse's events and ``blueprint`` give now (see the module docs)."""
    text = json.dumps([_code_digest(), definition(blueprint), kept.events_state(con)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def supported(con: BaseBackend) -> bool:
    """Whether this engine keeps the journeys (DuckDB)."""
    return kept.supported(con)


def is_fresh(con: BaseBackend, blueprint: Blueprint) -> bool:
    """Whether the stored journeys were built for the events and journey definition of now."""
    if not supported(con):
        return False
    try:
        stored = kept.stored_key(con, TABLE)
        return stored is not None and stored == key(con, blueprint)
    except Exception:  # a warehouse made outside journeymap (no ingest_log): the journeys are computed
        return False


def cached(con: BaseBackend, blueprint: Blueprint) -> ir.Table | None:
    """The stored journeys when they are fresh (:func:`is_fresh`), else None."""
    from journeymap.engine.fetch import table

    return table(con, TABLE) if is_fresh(con, blueprint) else None


def refresh(con: BaseBackend, events: ir.Table, blueprint: Blueprint) -> ir.Table:
    """Build the journeys of ``events`` into the warehouse (unless fresh already) and return the stored table.

    ``con`` must be open for writing; ``events`` is the whole ``events`` table of ``con``.
    """
    from journeymap.engine.fetch import table
    from journeymap.journeys.journeys import build_journeys

    now = key(con, blueprint)
    if kept.stored_key(con, TABLE) == now:
        return table(con, TABLE)
    return kept.keep(con, TABLE, build_journeys(events, blueprint), now, what="the journeys")


def journeys(con: BaseBackend, events: ir.Table, blueprint: Blueprint, *, writable: bool = False) -> ir.Table:
    """The journeys of every event: the stored table when fresh; else, when ``writable``, stored now; else
    built in memory (an expression, as :func:`~journeymap.journeys.journeys.build_journeys` gives)."""
    from journeymap.journeys.journeys import build_journeys

    if supported(con):
        table = cached(con, blueprint)
        if table is not None:
            return table
        if writable:
            return refresh(con, events, blueprint)
    return build_journeys(events, blueprint)
