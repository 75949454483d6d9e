"""Spark's loader: ingest into a Spark workspace's Parquet warehouse (:class:`journeymap.engine.loader.Loader`).

The rows are read, mapped, validated, deduplicated and quarantined by DuckDB's loader
(:mod:`journeymap.engine.duckdb_load`), on the driver machine, in a staging DuckDB file of the
ingest's own: the same SQL as a DuckDB workspace, so the same reasons, counts and identities by
construction. The staging database holds what that SQL needs of the tables already published:
the keys of ``events`` (``event_id``, ``seq``), ``feedback`` (``feedback_id``) and ``quarantine``
(``row_key``), and the whole of ``customers`` (an upsert rewrites it).

When every file has loaded (:meth:`SparkLoader.transaction`), the new rows go to Parquet in a
staging folder of the warehouse, and :meth:`journeymap.engine.spark_store.Warehouse.publish` makes
the tables' next versions and commits them with one rename. A failure anywhere before leaves the
warehouse as it was. See docs/design-notes.md for what this means at scale.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
import weakref
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from journeymap import schema
from journeymap.engine.duckdb_load import DuckDBLoader
from journeymap.engine.loader import Counts, Job, Relation, Tell
from journeymap.engine.spark_store import Warehouse, duckdb_columns

_KEYS = {"events": ("event_id", "seq"), "feedback": ("feedback_id",), "quarantine": ("row_key",), "ingest_log": ()}
"""The columns of a published table the staging database needs (customers: all of it)."""


def _sql_path(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class SparkLoader:
    """The loader of a Spark workspace (an Ibis pyspark connection made by
    :func:`journeymap.engine.connect_spark_workspace`)."""

    name = "pyspark"

    def __init__(self, con: Any, warehouse: Warehouse):
        self.con = con
        self.warehouse = warehouse
        self._db: Any = None
        self._inner: DuckDBLoader | None = None
        self.staging: Path | None = None
        self._published = warehouse.tables()
        self._old_rows: dict[str, int] = {}
        self._closed = False

    def _start(self) -> None:
        """The staging folder and its DuckDB file (made on first use; removed when the ingest ends)."""
        import duckdb

        self.staging = self.warehouse.new_staging()
        weakref.finalize(self, shutil.rmtree, self.staging, True)  # an ingest refused before its transaction
        self._db = duckdb.connect(str(self.staging / "stage.duckdb"))
        self._db.execute("SET TimeZone = 'UTC'")
        self._inner = DuckDBLoader(SimpleNamespace(con=self._db))

    @property
    def db(self) -> Any:
        if self._db is None:
            self._start()
        return self._db

    @property
    def inner(self) -> DuckDBLoader:
        if self._inner is None:
            self._start()
        assert self._inner is not None
        return self._inner

    # -- the published tables, as far as the SQL needs them --------------------------------------
    def _files(self, name: str) -> list[Path]:
        folder = self._published.get(name)
        return sorted(folder.glob("*.parquet")) if folder is not None else []

    def _ensure(self, name: str) -> None:
        if name in self._old_rows:
            return
        files = self._files(name)
        read = f"read_parquet([{', '.join(_sql_path(f) for f in files)}])" if files else None
        if name == "customers":
            if read is not None:
                self.db.execute(f"CREATE TABLE customers AS SELECT * FROM {read}")
            else:
                self.db.execute(f"CREATE TABLE customers ({duckdb_columns(schema.CUSTOMERS_BASE)})")
            self._old_rows[name] = 0  # rewritten whole
            return
        self.db.execute(f'CREATE TABLE "{name}" ({duckdb_columns(schema.TABLES[name])})')
        keys = _KEYS[name]
        if keys and read is not None:
            cols = ", ".join(f'"{k}"' for k in keys)
            self.db.execute(f'INSERT INTO "{name}" ({cols}) SELECT {cols} FROM {read}')
        self._old_rows[name] = int(self.db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])

    def _ensure_for(self, table: str) -> None:
        for name in (table, "quarantine", "ingest_log"):
            self._ensure(name)

    # -- the Loader protocol ---------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Load into the staging database; on success publish the changed tables, else discard them."""
        try:
            yield
            self._publish()
        finally:
            self._close()

    def has_unnumbered_events(self) -> bool:
        self._ensure("events")
        return self.inner.has_unnumbered_events()

    def memory_limit(self) -> str | None:
        return None if self._closed else self.inner.memory_limit()

    def set_memory_limit(self, limit: str) -> None:
        if not self._closed:
            self.inner.set_memory_limit(limit)

    def open_source(self, job: Job) -> Relation:
        self._ensure_for(job.table)
        return self.inner.open_source(job)

    def text_column(self, job: Job, target: str) -> bool:
        return self.inner.text_column(job, target)

    def detect_ts_format(self, job: Job) -> str | None:
        return self.inner.detect_ts_format(job)

    def default_time(self, job: Job, started: datetime) -> None:
        self.inner.default_time(job, started)

    def stage(self, job: Job) -> None:
        self.inner.stage(job)

    def quarantine_staged(self, job: Job) -> tuple[int, int, int]:
        return self.inner.quarantine_staged(job)

    def count_staged_good(self, job: Job) -> int:
        return self.inner.count_staged_good(job)

    def upsert_customers(self, job: Job) -> int:
        return self.inner.upsert_customers(job)

    def insert_rows(self, job: Job, tell: Tell) -> tuple[int, int, int, int, int]:
        return self.inner.insert_rows(job, tell)

    def swallowed(self, job: Job) -> tuple[int, int] | None:
        return self.inner.swallowed(job)

    def log(self, job: Job, counts: Counts, started: datetime, content_hash: str) -> None:
        self.inner.log(job, counts, started, content_hash)

    def finish(self, job: Job) -> None:
        self.inner.finish(job)

    def drop_temporaries(self) -> None:
        if not self._closed and self._db is not None:
            self.inner.drop_temporaries()

    # -- publishing ------------------------------------------------------------------------------
    def _publish(self) -> None:
        db = self.db  # made on first use, with the staging folder
        assert self.staging is not None
        changed: dict[str, tuple[list[Path], Path | None]] = {}
        for name, old in self._old_rows.items():
            cols = ", ".join(f'"{c}"' for c in self._columns(name))
            if name == "customers":
                where, keep = "", []
            else:
                where, keep = f"WHERE rowid >= {old}", self._files(name)
            new = int(self.db.execute(f'SELECT count(*) FROM "{name}" {where}').fetchone()[0])
            if name != "customers" and new == 0:
                continue  # unchanged
            folder = self.staging / f"{name}.new"
            folder.mkdir()
            self.db.execute(
                f'COPY (SELECT {cols} FROM "{name}" {where}) TO {_sql_path(folder / f"part-{uuid.uuid4().hex[:12]}.parquet")} '
                "(FORMAT parquet)"
            )
            changed[name] = (keep, folder)
        db.close()
        self._closed = True
        if changed:
            self.warehouse.publish(self.staging, changed)
        from journeymap.engine import refresh_spark_tables

        refresh_spark_tables(self.con)  # this process's session sees the new versions

    def _columns(self, name: str) -> list[str]:
        if name == "customers":
            return [r[0] for r in self.db.execute("DESCRIBE customers").fetchall()]
        return list(schema.TABLES[name].names)

    def _close(self) -> None:
        if not self._closed and self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
        self._closed = True
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)


__all__ = ["SparkLoader"]
