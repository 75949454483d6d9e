"""Ingest: load event, feedback and customer files into the warehouse, nothing lost.

Reads CSV, TSV, Parquet, JSON arrays and NDJSON (each also ``.gz``) with the
engine, maps columns to the canonical tables (by ``mapping=``, the blueprint's
``sources:``, or obvious names), converts times to UTC, applies the blueprint's
touchpoint rules, quarantines every row that cannot load with a reason, drops
duplicates by content hash, and writes one ``ingest_log`` row per file, all in one
transaction. For every file, rows read = loaded + quarantined + duplicate.

Examples
--------
>>> import tempfile, pathlib
>>> from journeymap.workspace import Workspace
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "web.csv").write_text("cookie,time,event\\nc1,2024-05-01 10:00,visit\\nc1,bad,visit\\n")
>>> ws = Workspace.init(d / "ws")
>>> r = ws.ingest_events(d / "web.csv")
>>> r.total.rows_read, r.total.loaded, r.total.quarantined
(2, 1, 1)
>>> ws.ingest_events(d / "web.csv").total.duplicate  # the good row, and the bad one already in quarantine
2
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from journeymap import engine
from journeymap.blueprint import Blueprint
from journeymap.engine import Connection
from journeymap.engine.loader import loader_for
from journeymap.errors import InputError
from journeymap.ingest.load import Job, new_ingest_id, run_source
from journeymap.ingest.mapping import ColumnMapping, parse_map_flags, resolve_mapping
from journeymap.ingest.readers import FORMATS, check_file, detect_format
from journeymap.ingest.report import IngestReport, SourceReport
from journeymap.ingest.timestamps import check_format, check_tz, check_years

TABLES = ("events", "feedback", "customers")

MEMORY_LIMIT = "1200MB"
"""DuckDB's memory limit while ingesting (lower limits are kept): staging spills to disk beyond it."""

__all__ = [
    "FORMATS",
    "TABLES",
    "ColumnMapping",
    "IngestReport",
    "SourceReport",
    "ingest",
    "parse_map_flags",
    "resolve_mapping",
]


def ingest(
    con: Connection,
    table: str,
    paths: Sequence[str | Path],
    *,
    blueprint: Blueprint | None = None,
    pseudonym_key: bytes | None = None,
    default_tz: str = "UTC",
    mapping: Mapping[str, str] | None = None,
    ts_format: str | None = None,
    tz: str | None = None,
    fmt: str | None = None,
    progress: Callable[[str, str, float], None] | None = None,
    kind: str | None = None,
    years: tuple[int | None, int | None] | None = None,
    ts_default: str | None = None,
    **more: Any,
) -> IngestReport:
    """Load ``paths`` into ``table`` (``events``, ``feedback`` or ``customers``) in one transaction.

    Parameters
    ----------
    con : the warehouse connection: DuckDB, or a Spark workspace's (:mod:`journeymap.engine.spark_load`).
    table : ``events``, ``feedback`` or ``customers``.
    paths : source files; the format comes from each extension unless ``fmt`` names it.
    blueprint : touchpoint match rules, channels, ``strict`` and ``sources:`` mappings.
    pseudonym_key : when given, customer ids are replaced by a keyed hash of themselves.
    default_tz : time zone of naive source times when ``tz`` is not given.
    mapping : canonical column -> source column, e.g. ``{"customer_id": "cookie"}``.
    ts_format : strptime format of the timestamp column, e.g. ``"%d/%m/%Y %H:%M"``; when neither this
        nor the blueprint source gives one, a text column's one form is found from its values.
    tz : IANA time zone of naive source times (overrides the blueprint and ``default_tz``).
    fmt : ``csv``, ``tsv``, ``parquet``, ``json`` or ``ndjson``, overriding the extension.
    progress : called as ``progress(source, phase, fraction)``, phases read, load, check, quarantine, done.
    kind : feedback kind for files without a kind column (default ``other``).
    years : plausible years of source times as ``(min, max)``, default ``(1970, next year)``; a
        ``None`` bound keeps its default. Rows whose time falls outside are quarantined.
    ts_default : feedback only: the time of every row of a file without a time column, ``"load"``
        (when this ingest started, UTC) or an ISO date/time such as ``"2024-05-01"`` (read in ``tz``).

    Returns
    -------
    IngestReport
        Per-file and total rows read, loaded, quarantined and duplicate.

    Examples
    --------
    >>> from journeymap.engine import connect
    >>> from journeymap.workspace import Workspace
    >>> ingest(connect("duckdb://"), "visits", ["x.csv"])
    Traceback (most recent call last):
    ...
    journeymap.errors.InputError: Table 'visits' cannot be ingested into; use one of: events, feedback, customers.
    """
    if more:
        raise InputError(
            f"ingest() got unknown option(s) {', '.join(sorted(more))}; see help(journeymap.ingest.ingest)."
        )
    if table not in TABLES:
        raise InputError(f"Table {table!r} cannot be ingested into; use one of: {', '.join(TABLES)}.")
    if not paths:
        raise InputError("No source files were given; pass at least one file to ingest.")
    loader = loader_for(con)  # an engine without a loader is told here, before anything is read
    if kind is not None and kind not in ("survey", "review", "ticket", "chat", "social", "interview", "other"):
        raise InputError(
            f"Feedback kind {kind!r} (kind) is unknown; use survey, review, ticket, chat, social, interview or other."
        )
    tz_value = check_tz(tz or default_tz)
    ts_default = _check_ts_default(ts_default, table)
    ts_format = check_format(ts_format) if ts_format else None
    year_range = check_years(years)
    files = [Path(p) for p in paths]
    formats = [detect_format(p, fmt) for p in files]
    for p, f in zip(files, formats, strict=True):
        check_file(p, f)
    if table == "events" and loader.has_unnumbered_events():
        raise InputError(
            "This workspace's events were loaded by an older journeymap, whose event ids and row order "
            "differ from this version's; make a new workspace (journeymap init) and ingest the files again."
        )
    ingest_id = new_ingest_id()
    reports: list[SourceReport] = []
    previous = loader.memory_limit()
    if previous is not None and _bytes(MEMORY_LIMIT) < _bytes(previous):
        loader.set_memory_limit(MEMORY_LIMIT)
    try:
        with loader.transaction():
            for n, (p, f) in enumerate(zip(files, formats, strict=True)):
                job = Job(
                    table=table,
                    path=p,
                    fmt=f,
                    n=n,
                    blueprint=blueprint,
                    pseudonym_key=pseudonym_key,
                    tz=tz_value,
                    ts_format=ts_format,
                    kind=kind,
                    ingest_id=ingest_id,
                    tz_given=tz is not None,
                    years=year_range,
                    ts_default=ts_default,
                )
                reports.append(run_source(loader, job, dict(mapping or {}), progress))
    finally:
        loader.drop_temporaries()
        if previous is not None:
            loader.set_memory_limit(previous)
    return IngestReport(sources=reports, ingest_id=ingest_id, meta={"table": table})


def create_table(con: Connection, name: str, sch: Any) -> None:
    """Create the empty canonical table ``name`` with Ibis schema ``sch`` (:func:`journeymap.engine.create_table`)."""
    engine.create_table(con, name, sch)


def _check_ts_default(value: str | None, table: str) -> str | None:
    """``"load"``, an ISO date/time (as given), or None; InputError for anything else."""
    if value is None:
        return None
    from datetime import datetime

    if table != "feedback":
        raise InputError(
            f"A default time (ts_default={value!r}) is for feedback only; {table} files need a time column."
        )
    text = str(value).strip()
    if text.lower() == "load":
        return "load"
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"Default time {value!r} (--ts-default) is neither 'load' nor an ISO date; pass e.g. --ts-default 2024-05-01."
        ) from None
    return text


def _bytes(setting: str) -> float:
    """``'1.2 GiB'`` / ``'1200MB'`` as bytes (inf when unreadable)."""
    import re

    m = re.match(r"\s*([\d.]+)\s*([KMGT]?)i?B", setting, re.IGNORECASE)
    if not m:
        return float("inf")
    return float(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " ")
