"""Load: one source file through the engine's loader, checked against an independent read of the file.

Every file of one ingest is written in one transaction: if anything fails, the warehouse is exactly
as before. Per file, ingest resolves the column mapping and the time settings, and the loader
(:class:`journeymap.engine.loader.Loader`; DuckDB's is SQL, :mod:`journeymap.engine.duckdb_load`):

1. reads the file into a staging relation, mapped and validated in one set-based pass
   (canonical columns, a reason per bad row, a content hash);
2. writes rows with a reason (and lines the reader could not split) to ``quarantine``;
3. inserts good rows not already in the table (by ``event_id`` / ``feedback_id``), or upserts
   ``customers``, the latest row per customer winning;
4. writes one ``ingest_log`` row: rows read = loaded + quarantined + duplicate, which ingest
   checks against its own count of the file's records.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from journeymap.engine.loader import Job, Loader, ReadFailed
from journeymap.errors import InputError
from journeymap.ingest.count import (
    Scan,
    lone_cr_sentence,
    lone_lf_sentence,
    long_record_sentence,
    mismatch_sentence,
    scan_file,
    swallowed_sentence,
    unclosed_sentence,
)
from journeymap.ingest.mapping import blueprint_source, resolve_mapping
from journeymap.ingest.readers import SourceReadError, unreadable_sentence
from journeymap.ingest.report import SourceReport
from journeymap.ingest.timestamps import check_format, check_tz

__all__ = ["Job", "Progress", "file_hash", "new_ingest_id", "run_source"]

Progress = Callable[[str, str, float], None]


def run_source(loader: Loader, job: Job, explicit: dict[str, str] | None, progress: Progress | None) -> SourceReport:
    """Ingest one file inside the caller's transaction; return its counts.

    While the engine loads the file, a side thread reads it again with a reader of its own
    (:func:`journeymap.ingest.count.scan_file`): its sha256 (for ``ingest_log``), a ``.gz`` decompressed
    to its end, its records counted. The file is refused (InputError: the caller's transaction
    rolls back, nothing of it loads) when that reader finds it damaged, a quote never closed, or
    another number of records than the engine read.
    """
    # file reads, hashlib, zlib and numpy release the GIL: the side read overlaps the load
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="jm-count") as pool:
        scan = pool.submit(scan_file, job.path, job.fmt, stop)
        try:
            return _run_source(loader, job, explicit, progress, scan)
        except Exception as e:
            better = _read_error(job, e, scan, stop)
            if better is None:
                raise
            raise InputError(better) from None


def _read_error(job: Job, e: Exception, scan: Future, stop: threading.Event) -> str | None:
    """The independent reader's sentence for an ingest that failed, when it knows why: a damaged
    ``.gz`` or a record over the readers' limit (the engine says only "CSV Error on Line: 1")."""
    text = str(e).lower()
    too_long = "maximum line size of" in text or "maximum_object_size" in text or "longer than journeymap reads" in text
    engine_read = isinstance(e, SourceReadError) or not isinstance(e, InputError)
    csv_read = (
        engine_read and job.fmt in ("csv", "tsv") and ("csv" in text or "state machine" in text or "sniffing" in text)
    )
    if not (too_long or csv_read or (engine_read and job.path.name.lower().endswith(".gz"))):
        stop.set()
        return None
    try:
        found = scan.result()
    except OSError:
        return None
    if found.problem:
        return found.problem
    if too_long:
        return long_record_sentence(job.path, found.long_row, found.long_bytes, job.fmt)
    if found.unclosed_row is not None:
        return unclosed_sentence(job.path, found.unclosed_row, found.unclosed_line or 0)
    if found.lone_cr is not None:
        return lone_cr_sentence(job.path, *found.lone_cr)
    if found.lone_lf is not None:
        return lone_lf_sentence(job.path, *found.lone_lf)
    return None


def _check_complete(loader: Loader, job: Job, rows_read: int, scan: Future) -> str:
    """Refuse the file unless the independent reader read it to its end and counted ``rows_read``
    records (RFC 4180 records of CSV/TSV, non-blank NDJSON lines, Parquet's footer); return its sha256."""
    try:
        found: Scan = scan.result()
    except OSError as e:
        raise InputError(
            f"Source file {job.source!r} cannot be read to its end ({e}); check that it is not damaged or still being written."
        ) from None
    if found.problem:
        raise InputError(found.problem)
    if found.unclosed_row is not None:
        raise InputError(unclosed_sentence(job.path, found.unclosed_row, found.unclosed_line or 0))
    swallowed = loader.swallowed(job)
    if swallowed is not None:
        raise InputError(swallowed_sentence(job.path, *swallowed))
    held = found.records(columns=len(job.rel.columns))
    if held is not None and held != rows_read:
        if found.lone_cr is not None:
            raise InputError(lone_cr_sentence(job.path, *found.lone_cr))
        if found.lone_lf is not None:
            raise InputError(lone_lf_sentence(job.path, *found.lone_lf))
        raise InputError(mismatch_sentence(job.path, rows_read, held))
    return found.sha256


def _run_source(
    loader: Loader, job: Job, explicit: dict[str, str] | None, progress: Progress | None, scan: Future
) -> SourceReport:
    started = datetime.now(UTC).replace(tzinfo=None)
    t0 = time.perf_counter()
    tell = progress or (lambda *_: None)
    tell(job.source, "read", 0.0)
    try:
        job.rel = loader.open_source(job)
    except ReadFailed as e:
        raise SourceReadError(unreadable_sentence(job.path, job.fmt, e.error)) from None
    src = blueprint_source(job.blueprint, job.table, job.path)
    optional = ("ts",) if job.table == "feedback" and job.ts_default else ()
    job.mapping = resolve_mapping(
        job.table, job.rel.columns, explicit=explicit, source=src, filename=job.path.name, optional=optional
    )
    if not job.has("ts") and job.table == "feedback":
        loader.default_time(job, started)
    if not job.tz_given and job.mapping.tz:
        job.tz = check_tz(job.mapping.tz)
    if job.ts_format is None and job.mapping.ts_format:
        job.ts_format = check_format(job.mapping.ts_format)
    if job.table != "customers" and job.ts_format is None and job.has("ts") and loader.text_column(job, "ts"):
        # one form for the whole column, found from its values (12/1/10 is not year 12)
        job.ts_format = loader.detect_ts_format(job)
    if scan.done() and scan.exception() is None and scan.result().problem:
        raise InputError(scan.result().problem)  # a damaged .gz, found already: the engine may take long on it
    tell(job.source, "load", 0.2)
    if job.table == "customers":
        loader.stage(job)
        tell(job.source, "check", 0.6)
        tell(job.source, "quarantine", 0.8)
        bad, rejects, seen = loader.quarantine_staged(job)
        good = loader.count_staged_good(job)
        loaded = loader.upsert_customers(job)
    else:
        good, loaded, bad, rejects, seen = loader.insert_rows(job, tell)
    quarantined = bad + rejects
    report = SourceReport(
        source=job.source,
        table=job.table,
        rows_read=good + quarantined + seen,
        loaded=loaded,
        quarantined=quarantined,
        duplicate=good - loaded + seen,
        seconds=time.perf_counter() - t0,
        format=job.fmt,
        mapping=job.mapping.columns,
        guessed=job.mapping.guessed,
    )
    loader.log(job, report, started, _check_complete(loader, job, report.rows_read, scan))
    loader.finish(job)
    tell(job.source, "done", 1.0)
    return report


def file_hash(path: Path) -> str:
    """sha256 of the file's bytes (``ingest_log.content_hash``)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def new_ingest_id() -> str:
    return uuid.uuid4().hex[:16]
