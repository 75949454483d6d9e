"""Tables kept in the warehouse between commands, each with the key it was built for (DuckDB).

A kept table ``name`` has a one-row companion ``name_meta`` holding its key; a caller compares
that key with the key of now and reads the table only when they match
(:mod:`journeymap.journeys.cache` keeps the journeys this way). Written by a process that holds
the warehouse for writing, in one transaction, so a reader sees either the old pair or the new.
The reads here fetch plain rows (no pandas, no pyarrow).
"""

from __future__ import annotations

from typing import Any

import ibis

from journeymap.engine import backend_of, materialize, transaction


def supported(con: Any) -> bool:
    """Whether this engine keeps tables between commands (DuckDB)."""
    return backend_of(con).name == "duckdb"


def _meta(name: str) -> str:
    return f"{name}_meta"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def stored_key(con: Any, name: str) -> str | None:
    """The key the kept table ``name`` was built for; None when it (or its key) is missing."""
    backend = backend_of(con)
    found = backend.raw_sql(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        f"AND schema_name = current_schema() AND table_name IN ({_quote(name)}, {_quote(_meta(name))})"
    ).fetchone()
    if not found or found[0] != 2:
        return None
    row = backend.raw_sql(f'SELECT max("key") FROM "{_meta(name)}"').fetchone()
    return row[0] if row else None


def keep(con: Any, name: str, expr: ibis.Table, key: str, what: str = "a table") -> ibis.Table:
    """Compute ``expr`` into the table ``name`` with ``key`` beside it (replacing both), in one transaction."""
    backend = backend_of(con)
    with transaction(backend):
        table = materialize(backend, expr, name, temp=False, what=what)
        backend.raw_sql(f'CREATE OR REPLACE TABLE "{_meta(name)}" AS SELECT {_quote(key)} AS "key", now() AS built_at')
    return table


def events_state(con: Any) -> list[str | None]:
    """What changes whenever events are loaded: the events' row count and the events ingest log's
    size, last time and loaded rows (every write to ``events`` is an ingest that logs its sources)."""
    row = (
        backend_of(con)
        .raw_sql(
            "SELECT (SELECT count(*) FROM events), "
            "(SELECT count(*) FROM ingest_log WHERE \"table\" = 'events'), "
            "(SELECT CAST(max(finished_at) AS VARCHAR) FROM ingest_log WHERE \"table\" = 'events'), "
            "(SELECT sum(loaded) FROM ingest_log WHERE \"table\" = 'events')"
        )
        .fetchone()
    )
    return [None if v is None else str(v) for v in (row or ())]
