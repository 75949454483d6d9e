"""The engine's loader interface: what ``journeymap.ingest`` asks an engine to do with a source file.

Ingest decides *what* to load (the file, its format, the column mapping, the time zone, the
blueprint's rules) and checks the result (rows read = loaded + quarantined + duplicate, an
independent count of the file's records); the loader decides *how*, in its engine's own terms:
read the file into a staging relation, number its rows, give each row its reason, write the bad
ones to ``quarantine`` and the good ones to the table, log the file in ``ingest_log``.

DuckDB's loader (:mod:`journeymap.engine.duckdb_load`) is SQL over the DuckDB connection, for speed.
Spark's (:mod:`journeymap.engine.spark_load`) runs the same SQL in a staging DuckDB and publishes
Parquet into the Spark workspace's warehouse. Another engine gets a loader by implementing
:class:`Loader` and returning it from :func:`loader_for`; until then, ingest into it says so in one
sentence.

Examples
--------
>>> from journeymap.engine import connect
>>> loader_for(connect("duckdb://")).name
'duckdb'
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from journeymap.blueprint import Blueprint
from journeymap.errors import InputError

MAX_RECORD_BYTES = 32 << 20
"""The longest record (line) the engine's readers accept (DuckDB's ``max_line_size``; its buffers are
twice that); ingest's own reader names longer ones."""

Tell = Callable[[str, str, float], None]
"""``tell(source, phase, fraction)``: progress of one source."""


class ReadFailed(Exception):  # noqa: N818  (a signal to ingest, which words the sentence)
    """The engine's reader failed on a source file; ``error`` is the engine's own exception.

    Ingest turns it into one sentence (:func:`journeymap.ingest.readers.unreadable_sentence`).
    """

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class Relation(Protocol):
    """A source as the loader read it: its column names (file order) and their engine types."""

    @property
    def columns(self) -> list[str]: ...

    @property
    def types(self) -> dict[str, str]: ...


class Mapping_(Protocol):
    """The column mapping ingest resolved: canonical column -> source column, and the unmapped ones."""

    columns: dict[str, str]
    unmapped: list[str]


class Counts(Protocol):
    """A source's counts, as :class:`journeymap.ingest.report.SourceReport` has them."""

    rows_read: int
    loaded: int
    quarantined: int
    duplicate: int
    mapping: dict[str, str]


@dataclass
class Job:
    """One source file to load, and what the loader learnt about it (shared by the loader's steps)."""

    table: str
    path: Path
    fmt: str
    n: int
    """The source's position in this ingest (the loader's temporary objects are suffixed with it)."""
    blueprint: Blueprint | None
    pseudonym_key: bytes | None
    tz: str
    ts_format: str | None
    kind: str | None
    ingest_id: str
    tz_given: bool = False
    years: tuple[int, int] = (1970, 9999)
    """Plausible years of source times (others are quarantined); ingest passes the checked range."""
    ts_default: str | None = None
    """Feedback time for files without a time column: ``"load"`` (the ingest's start) or an ISO date/time."""
    ts_default_sql: str | None = None
    """The loader's expression of that time (set by :meth:`Loader.default_time`)."""
    db: Any = None
    """The loader's own handle on the engine (DuckDB: its connection); ingest never reads it."""
    _seq_base: int | None = None
    rel: Any = None
    """The :class:`Relation` the loader read (set by ingest from :meth:`Loader.open_source`)."""
    mapping: Any = None
    """The :class:`Mapping_` ingest resolved."""

    @property
    def source(self) -> str:
        return str(self.path)

    def has(self, target: str) -> bool:
        """Whether canonical column ``target`` is mapped to a source column."""
        return target in self.mapping.columns

    def dtype(self, target: str) -> str:
        """The engine type of the source column mapped to ``target``."""
        return self.rel.types[self.mapping.columns[target]]


class Loader(Protocol):
    """What ingest asks of an engine. Every write happens inside the caller's transaction
    (:func:`journeymap.engine.transaction`), so a failure leaves the warehouse as it was."""

    name: str

    def transaction(self) -> AbstractContextManager[None]:
        """All of one ingest or nothing: DuckDB's transaction; Spark's staging folder, published on success."""

    def has_unnumbered_events(self) -> bool:
        """Whether ``events`` holds rows an older journeymap loaded (no ``seq``)."""

    def memory_limit(self) -> str | None:
        """The engine's memory limit as it words it (None: none)."""

    def set_memory_limit(self, limit: str) -> None:
        """Set the engine's memory limit (``"1200MB"``)."""

    def open_source(self, job: Job) -> Relation:
        """Read ``job.path`` (``job.fmt``) into a staging relation; :class:`ReadFailed` when the engine cannot."""

    def text_column(self, job: Job, target: str) -> bool:
        """Whether the source column mapped to ``target`` is text."""

    def detect_ts_format(self, job: Job) -> str | None:
        """The one strptime form of the text time column, from its values (None: ISO 8601 / epoch)."""

    def default_time(self, job: Job, started: datetime) -> None:
        """Prepare the time of every row of a feedback file without a time column (``job.ts_default``)."""

    def stage(self, job: Job) -> None:
        """Number the rows and give each its canonical columns and reason, in a staging table (customers)."""

    def quarantine_staged(self, job: Job) -> tuple[int, int, int]:
        """Write the staged bad rows and unreadable lines to ``quarantine``: (rows, lines, already there)."""

    def count_staged_good(self, job: Job) -> int:
        """Staged rows without a reason."""

    def upsert_customers(self, job: Job) -> int:
        """Write the staged customers, the latest row per customer winning: rows written."""

    def insert_rows(self, job: Job, tell: Tell) -> tuple[int, int, int, int, int]:
        """Events and feedback: insert the good rows (new keys only), quarantine the bad ones:
        (good rows, loaded, quarantined rows, rejected lines, bad rows and lines already in quarantine)."""

    def swallowed(self, job: Job) -> tuple[int, int] | None:
        """(line, lines) of the first rejected record that runs over several lines (an unclosed quote)."""

    def log(self, job: Job, counts: Counts, started: datetime, content_hash: str) -> None:
        """Write the source's ``ingest_log`` row."""

    def finish(self, job: Job) -> None:
        """Drop the source's temporary objects."""

    def drop_temporaries(self) -> None:
        """Drop every temporary object this ingest made (after a failure, too)."""


def loader_for(con: Any) -> Loader:
    """The loader of connection ``con``; InputError for an engine that has none yet."""
    if con.name == "duckdb":
        from journeymap.engine.duckdb_load import DuckDBLoader

        return DuckDBLoader(con)
    warehouse = getattr(con, "_journeymap_warehouse", None)
    if con.name == "pyspark" and warehouse is not None:
        from journeymap.engine.spark_load import SparkLoader

        return SparkLoader(con, warehouse)
    if con.name == "pyspark":
        raise InputError(
            "Ingest into Spark needs a Spark workspace (journeymap init DIR --url spark://local[2]), whose "
            "warehouse folder holds the tables; this Spark session has none."
        )
    raise InputError(
        f"Ingest into engine {con.name!r} is not supported yet; ingest into a DuckDB workspace, "
        "or load the canonical tables with the engine's own tools."
    )


__all__ = [
    "MAX_RECORD_BYTES",
    "Counts",
    "Job",
    "Loader",
    "Mapping_",
    "ReadFailed",
    "Relation",
    "Tell",
    "loader_for",
]
