"""DuckDB's loader: ingest's steps as SQL over the DuckDB connection (:class:`journeymap.engine.loader.Loader`).

The SQL lives here, in the engine, and nowhere else: :mod:`.readers` (a file as a relation),
:mod:`.timestamps` (source times as naive UTC), :mod:`.validate` (touchpoints and reasons),
:mod:`.steps` (staging, quarantine, insert, upsert, log). ``journeymap.ingest`` calls
:class:`DuckDBLoader`'s methods only.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from journeymap.engine.duckdb_load import readers, steps, timestamps
from journeymap.engine.duckdb_load.readers import quote_ident
from journeymap.engine.loader import Counts, Job, Relation, Tell


class DuckDBLoader:
    """The loader of an Ibis DuckDB connection (it works on the DuckDB connection beneath)."""

    name = "duckdb"

    def __init__(self, con: Any):
        self.con = con
        self.db = con.con

    def transaction(self) -> AbstractContextManager[None]:
        from journeymap.engine import transaction

        return transaction(self.con)

    def has_unnumbered_events(self) -> bool:
        return bool(
            self.db.execute("SELECT count(*) FROM (SELECT 1 FROM events WHERE seq IS NULL LIMIT 1)").fetchone()[0]
        )

    def memory_limit(self) -> str | None:
        return self.db.execute("SELECT current_setting('memory_limit')").fetchone()[0]

    def set_memory_limit(self, limit: str) -> None:
        self.db.execute(f"SET memory_limit = '{limit}'")

    def open_source(self, job: Job) -> Relation:
        job.db = self.db
        return readers.open_source(self.db, job.path, job.fmt, job.n)

    def text_column(self, job: Job, target: str) -> bool:
        return job.dtype(target).upper() == "VARCHAR"

    def detect_ts_format(self, job: Job) -> str | None:
        return timestamps.detect_ts_format(
            self.db, job.rel.sql, job.mapping.columns["ts"], years=job.years, table=f"jm_ts_sample_{job.n}"
        )

    def default_time(self, job: Job, started: datetime) -> None:
        job.ts_default_sql = steps._ts_default_sql(job, started)

    def stage(self, job: Job) -> None:
        steps._stage(job)

    def quarantine_staged(self, job: Job) -> tuple[int, int, int]:
        return steps._quarantine(job, f"SELECT * FROM {steps.stage_name(job)}")

    def count_staged_good(self, job: Job) -> int:
        return int(
            self.db.execute(f"SELECT count(*) FROM {steps.stage_name(job)} WHERE _jm_reason IS NULL").fetchone()[0]
        )

    def upsert_customers(self, job: Job) -> int:
        return steps._load_customers(job)

    def insert_rows(self, job: Job, tell: Tell) -> tuple[int, int, int, int, int]:
        return steps._stream(job, tell)

    def swallowed(self, job: Job) -> tuple[int, int] | None:
        return steps._swallowed(job)

    def log(self, job: Job, counts: Counts, started: datetime, content_hash: str) -> None:
        steps._log(job, counts, started, content_hash)

    def finish(self, job: Job) -> None:
        steps._drop(job)

    def drop_temporaries(self) -> None:
        steps.drop_temporaries(self.db)


def create_events_table(con: Any, name: str, sch: Any) -> None:
    """Create the empty table ``name`` (``events``) with Ibis schema ``sch``, ``event_id`` stored with FSST.

    ``events.event_id`` (an md5: 32 hex characters, all different) is stored with FSST compression
    forced. Left to choose, DuckDB also tries a dictionary on every block it writes, which never wins
    on unique ids and costs about a tenth of an ingest's CPU. The values, the type and the file size
    are the same; tables made before keep DuckDB's choice.
    """
    from ibis.backends.sql.datatypes import DuckDBType

    cols = ", ".join(
        f"{quote_ident(c)} {DuckDBType.to_string(t)}{'' if t.nullable else ' NOT NULL'}"
        f"{' USING COMPRESSION fsst' if c == 'event_id' else ''}"
        for c, t in sch.items()
    )
    con.con.execute(f"CREATE TABLE {quote_ident(name)} ({cols})")


__all__ = ["DuckDBLoader", "create_events_table"]
