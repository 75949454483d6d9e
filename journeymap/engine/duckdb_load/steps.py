"""DuckDB's load steps: stage a source, quarantine bad rows, dedupe, and write the canonical table, in SQL.

Every file of one ingest is written in the caller's transaction. Per file the rows go through one
relation: the reader's relation is mapped and validated in one set-based query (canonical columns,
a reason per bad row, a content hash); rows with a reason (and lines the reader could not split) go
to ``quarantine``; good rows not already in the table (by ``event_id`` / ``feedback_id``) are
inserted; ``customers`` are upserted from a staging table, the latest row per customer winning; one
``ingest_log`` row records rows read = loaded + quarantined + duplicate.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime

from journeymap import schema
from journeymap.engine.duckdb_load.readers import quote_ident, quote_str
from journeymap.engine.duckdb_load.timestamps import ts_sql
from journeymap.engine.duckdb_load.validate import (
    bad_number_reason,
    blank_sql,
    channel_sql,
    known_touchpoint_sql,
    non_finite_reason,
    number_sql,
    quoted_sql,
    rating_reasons,
    scale_reason,
    touchpoint_sql,
)
from journeymap.engine.loader import Counts, Job


def stage_name(job: Job) -> str:
    """The source's staging table."""
    return f"jm_stage_{job.n}"


def _col(job: Job, target: str) -> str | None:
    """SQL of the source column mapped to ``target``, or None."""
    name = job.mapping.columns.get(target)
    return quote_ident(name) if name is not None else None


def _req(job: Job, target: str) -> str:
    """SQL of the source column mapped to ``target``, which the mapping guarantees."""
    sql = _col(job, target)
    assert sql is not None, target
    return sql


def _seq_base(job: Job) -> int:
    """``seq`` of this source's row 1 less one: after every row already in ``events``."""
    if job._seq_base is None:
        job._seq_base = int(job.db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
    return job._seq_base


def _swallowed(job: Job) -> tuple[int, int] | None:
    """(line, lines) of the first record the CSV reader rejected that runs over several lines: a quote
    opened and not closed where the header's columns expect it swallowed the lines after it."""
    if not job.rel.rejects or not _exists(job.db, job.rel.rejects):
        return None
    row = job.db.execute(
        f"SELECT line, length(raw) - length(replace(raw, chr(10), '')) + 1 FROM (SELECT line, "
        f"trim(csv_line, chr(10) || chr(13)) AS raw FROM {job.rel.rejects}) "
        "WHERE contains(raw, chr(10)) OR contains(raw, chr(13)) ORDER BY line LIMIT 1"
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else None


# -- staging -------------------------------------------------------------------------------------
def _raw_json(job: Job) -> str:
    """JSON text of a bad row as the source gave it; with a pseudonym key, its customer id pseudonymised
    and a line that cannot be split into fields (where the id cannot be found) withheld."""
    if job.rel.bad and job.pseudonym_key is None:
        return "CASE WHEN _jm_bad IS NOT NULL THEN to_json(_jm_line) ELSE _jm_line END"
    cid = job.mapping.columns.get("customer_id")
    values = {c: quote_ident(c) for c in job.rel.columns}
    if job.pseudonym_key is not None and cid is not None:
        values[cid] = _pseudonym_sql(job, quote_ident(cid))
    fields = ", ".join(f"{quote_ident(c)} := {v}" for c, v in values.items())
    row = f"CAST(to_json(struct_pack({fields})) AS VARCHAR)"
    if job.rel.bad:
        return f"CASE WHEN _jm_bad IS NOT NULL THEN {_withheld('_jm_line')} ELSE {row} END"
    return row


def _withheld(line_sql: str) -> str:
    """JSON text standing in for a line that may hold a raw customer id (pseudonymised workspaces)."""
    return (
        "to_json('line withheld: the workspace pseudonymises customer ids and this line cannot be split "
        f"into fields (' || length({line_sql}) || ' characters); see the source file at this row')"
    )


def _content_hash(job: Job) -> str:
    parts = ", ".join(f"coalesce(CAST({quote_ident(c)} AS VARCHAR), chr(0))" for c in job.rel.columns)
    return f"md5(concat_ws(chr(31), {parts}))"


def _kept_columns(job: Job) -> list[str]:
    """Source columns kept in ``properties``: the unmapped ones, and a text timestamp column's own
    text (so what was read can always be traced to what the file said), in name order."""
    cols = list(job.mapping.unmapped)
    ts = job.mapping.columns.get("ts")
    if job.table != "customers" and ts is not None and job.dtype("ts").upper() == "VARCHAR":
        cols.append(ts)
    return sorted(set(cols))


def _properties(job: Job) -> str:
    """JSON text of the kept columns, keys in name order and every value as text, so the same row
    read from CSV, NDJSON or typed Parquet, in any column order, has the same properties."""
    cols = _kept_columns(job)
    if not cols:
        return "'{}'"
    fields = ", ".join(f"{quote_ident(c)} := CAST({quote_ident(c)} AS VARCHAR)" for c in cols)
    return f"CAST(to_json(struct_pack({fields})) AS VARCHAR)"


def _identity_sql(job: Job) -> str:
    """SQL of an event's identity over the canonical columns (DESIGN.md, "Order, identity").

    A keyed md5 (the workspace key, when it has one) of customer, time, touchpoint, channel,
    revenue, order and the unmapped source values in name order: the same event read from another
    format, column order or timestamp spelling has the same id. Equal rows of one source get their
    occurrence number folded in after the insert (:func:`_number_repeats`).
    """
    key = job.pseudonym_key.hex() if job.pseudonym_key is not None else ""
    null = "chr(0)"
    parts = [
        f"coalesce(customer_id, {null})",
        f"coalesce(CAST(epoch_us(ts) AS VARCHAR), {null})",
        f"coalesce(touchpoint, {null})",
        f"coalesce(channel, {null})",
        f"coalesce(CAST(revenue AS VARCHAR), {null})",
        f"coalesce(order_id, {null})",
    ]
    for c in sorted(job.mapping.unmapped):
        parts += [quote_str(c), f"coalesce(CAST({quote_ident('_jm_p_' + c)} AS VARCHAR), {null})"]
    return f"md5({quote_str(key)} || chr(30) || concat_ws(chr(31), {', '.join(parts)}))"


def _text(sql: str | None) -> str:
    return f"nullif(trim(CAST({sql} AS VARCHAR)), '')" if sql is not None else "NULL"


def _customer_id(job: Job) -> str:
    if job.pseudonym_key is None:
        return _text(_col(job, "customer_id"))
    return _pseudonym_sql(job, _col(job, "customer_id"))


def _pseudonym_sql(job: Job, col: str | None) -> str:
    """The keyed pseudonym of source column SQL ``col`` (first 32 hex digits of sha256(key + id))."""
    assert job.pseudonym_key is not None
    return f"substr(sha256({quote_str(job.pseudonym_key.hex())} || {_text(col)}), 1, 32)"


def _numbers(job: Job) -> list[str]:
    """Canonical number columns this source fills."""
    names = ("revenue",) if job.table == "events" else ("rating", "rating_scale", "nps", "csat", "ces")
    return [n for n in names if job.table != "customers" and _col(job, n) is not None]


def _reasons(job: Job) -> list[tuple[str, str]]:
    """(condition, reason SQL) pairs over the inner relation, first match wins."""
    out: list[tuple[str, str]] = []
    if job.rel.bad:
        out.append(("_jm_bad IS NOT NULL", "_jm_bad"))
    if job.table in ("events", "customers"):
        out.append((blank_sql(_req(job, "customer_id"), job.dtype("customer_id")), "'missing customer id'"))
    if job.table == "customers":
        return out
    if _col(job, "ts") is not None:  # feedback with a default time has none
        out += _ts_reasons(job)
    if job.table == "events":
        out.append((blank_sql(_req(job, "touchpoint"), job.dtype("touchpoint")), "'missing event name'"))
    for name in _numbers(job):
        bad = bad_number_reason(name, _req(job, name), job.dtype(name))
        if bad is not None:
            out.append(bad)
        if name in ("nps", "csat", "ces"):
            out.append(scale_reason(name, _req(job, name), job.dtype(name)))
    if job.table == "feedback":

        def typed(name: str) -> tuple[str, str] | None:
            return (_req(job, name), job.dtype(name)) if _col(job, name) is not None else None

        out += rating_reasons(typed("rating"), typed("rating_scale"))
    if job.table == "feedback" and _col(job, "kind") is not None:
        kinds = ", ".join(quote_str(k) for k in schema.FEEDBACK_KINDS)
        out.append(
            (
                f"(NOT {blank_sql(_req(job, 'kind'))} AND lower(trim({_col(job, 'kind')})) NOT IN ({kinds}))",
                f"'unknown feedback kind ' || {quoted_sql(_req(job, 'kind'))} || '; use one of {', '.join(schema.FEEDBACK_KINDS)}'",
            )
        )
    if job.blueprint is not None and job.blueprint.strict and _col(job, "touchpoint") is not None:
        out.append(
            (
                f"(_jm_tp IS NOT NULL AND NOT {known_touchpoint_sql('_jm_tp', job.blueprint)})",
                "'unknown touchpoint ' || '''' || _jm_tp || '''' || ' (the blueprint is strict)'",
            )
        )
    return out


def _ts_default_sql(job: Job, started: datetime) -> str:
    """SQL of the time of every row of a feedback file without a time column: the ingest's start
    (``load``) or the fixed date/time given, read in the job's time zone."""
    if job.ts_default == "load":
        return f"TIMESTAMP {quote_str(started.isoformat(sep=' '))}"
    return ts_sql(quote_str(str(job.ts_default)), "VARCHAR", tz=job.tz)


def _ts_reasons(job: Job) -> list[tuple[str, str]]:
    """(condition, reason) pairs of the time column: missing, not finite, unparseable, implausible year."""
    out: list[tuple[str, str]] = []
    ts = _req(job, "ts")
    out.append((blank_sql(ts, job.dtype("ts")), "'missing timestamp'"))
    non_finite = non_finite_reason(ts, job.dtype("ts"), job.mapping.columns["ts"])
    if non_finite is not None:
        out.append(non_finite)  # a NaN or infinite epoch
    out.append(
        (
            "_jm_ts IS NULL",
            f"'unparseable timestamp ' || {quoted_sql(ts)} || ' in column ' || {quote_str(job.mapping.columns['ts'])}",
        )
    )
    out.append(_year_reason(job, ts))
    return out


def _year_reason(job: Job, ts: str) -> tuple[str, str]:
    """(condition, reason) for a time whose year is outside ``job.years`` (e.g. ``12/1/10`` read as year 12)."""
    lo, hi = job.years
    year = "year(_jm_ts)"
    column = quote_str(repr(job.mapping.columns["ts"]))
    return (
        f"NOT coalesce({year} BETWEEN {lo} AND {hi}, false)",
        f"'implausible year ' || coalesce(CAST({year} AS VARCHAR), CAST(_jm_ts AS VARCHAR)) || ' from ' || {quoted_sql(ts)} "
        f"|| ' in column ' || {column} || ' (allowed {lo}..{hi}); pass --ts-format or widen [ingest] ' "
        f"|| CASE WHEN {year} > {hi} THEN 'max_year' ELSE 'min_year' END",
    )


def _canonical(job: Job, numbered: bool = True) -> list[str]:
    """Select items of the staging table's canonical columns, over the inner relation."""

    def num(name: str) -> str:
        return number_sql(_req(job, name), job.dtype(name)) if _col(job, name) is not None else "NULL"

    if job.table == "customers":
        attrs = [f"CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(_attr_name(c))}" for c in job.mapping.unmapped]
        return [f"{_customer_id(job)} AS customer_id", *attrs]
    common = [
        "_jm_ts AS ts",
        "_jm_tp AS touchpoint",
        f"{channel_sql('_jm_tp', _col(job, 'channel'), job.blueprint)} AS channel",
        f"{_properties(job)} AS properties",
    ]
    if job.table == "events":
        unmapped = [f"{quote_ident(c)} AS {quote_ident('_jm_p_' + c)}" for c in job.mapping.unmapped]
        return [
            f"{_customer_id(job)} AS customer_id",
            *common,
            f"{_text(_col(job, 'session_id'))} AS session_id",
            f"{num('revenue')} AS revenue",
            f"{_text(_col(job, 'order_id'))} AS order_id",
            f"{_seq_base(job)} + _jm_row AS seq" if numbered else "CAST(NULL AS BIGINT) AS seq",
            *unmapped,
        ]
    kind = f"lower({_text(_col(job, 'kind'))})" if _col(job, "kind") else quote_str(job.kind or "other")
    scores = [f"CAST({num(s)} AS SMALLINT) AS {s}" for s in ("nps", "csat", "ces")]
    return [
        f"coalesce({_text(_col(job, 'feedback_id'))}, _jm_hash) AS feedback_id",
        f"{_customer_id(job)} AS customer_id",
        *common,
        f"{kind} AS kind",
        f"{_text(_col(job, 'text'))} AS text",
        f"{num('rating')} AS rating",
        f"{num('rating_scale')} AS rating_scale",
        *scores,
    ]


def _attr_name(col: str) -> str:
    return f"{col}_attribute" if col in ("customer_id", "source") else col


def _reasoned_sql(job: Job, numbered: bool) -> str:
    """SQL of the source with canonical columns, ``_jm_reason`` and ``_jm_raw`` (and ``_jm_row`` when numbered)."""
    base = job.rel.sql
    if numbered and not job.rel.numbered:
        base = f"SELECT row_number() OVER () AS _jm_row, * FROM ({base})"
    inner_extra = []
    if job.table != "customers":
        if _col(job, "ts") is None:  # feedback with a default time (ts_default)
            inner_extra.append(f"{job.ts_default_sql} AS _jm_ts")
        else:
            inner_extra.append(
                f"{ts_sql(_req(job, 'ts'), job.dtype('ts'), tz=job.tz, ts_format=job.ts_format)} AS _jm_ts"
            )
        raw_tp = _text(_col(job, "touchpoint")) if _col(job, "touchpoint") else None
        cols = {c: quote_ident(c) for c in job.rel.columns}
        inner_extra.append(f"{touchpoint_sql(raw_tp, job.blueprint, cols)} AS _jm_tp")
        if job.table == "feedback":
            inner_extra.append(f"{_content_hash(job)} AS _jm_hash")
    inner = f"SELECT *{''.join(', ' + e for e in inner_extra)} FROM ({base})"
    reasons = _reasons(job)
    reason = "CASE " + " ".join(f"WHEN {c} THEN {r}" for c, r in reasons) + " END" if reasons else "NULL"
    row = "_jm_row, " if numbered or job.rel.numbered else ""
    sql = (
        f"SELECT {row}{', '.join(_canonical(job, bool(row)))}, "
        f"_jm_reason, CASE WHEN _jm_reason IS NOT NULL THEN {_raw_json(job)} END AS _jm_raw, "
        f"CASE WHEN _jm_reason IS NOT NULL THEN {_row_key_sql(job)} END AS _jm_qkey "
        f"FROM (SELECT *, {reason} AS _jm_reason FROM ({inner}))"
    )
    if job.table == "events":
        sql = f"SELECT *, {_identity_sql(job)} AS event_id FROM ({sql})"
    return sql


def _stage(job: Job) -> None:
    """Materialise the reasoned source (customers: small files, upserted from the stage)."""
    job.db.execute(f"CREATE TEMP TABLE {stage_name(job)} AS {_reasoned_sql(job, numbered=True)}")


def _stream(job: Job, tell: Callable) -> tuple[int, int, int, int, int]:
    """Events and feedback, streamed: (good rows, loaded, quarantined rows, rejected lines, bad rows
    and lines already in quarantine).

    Good rows are inserted straight from the source; then what was just inserted is checked:
    equal events of one source are numbered (:func:`_number_repeats`: real logs repeat events),
    equal feedback rows of one source are duplicates, and rows whose key the table already had
    are deleted again. Into an empty table every good row is inserted, so a bare row count gives
    the bad rows; otherwise a counting pass finds them. Only when some rows are bad is the source
    read again, numbered, for them.
    """
    db, t = job.db, job.table
    key = "event_id" if t == "events" else "feedback_id"
    cols = [c for c in (schema.EVENTS if t == "events" else schema.FEEDBACK).names if c != "source"]
    select = ", ".join(cols)
    reasoned = _reasoned_sql(job, numbered=False)
    before = db.execute(f"SELECT coalesce(max(rowid), -1) FROM {t}").fetchone()[0]
    # Events keep the source's row order in seq. Parquet and JSON number their rows as read; CSV
    # has no row number, so its good rows are numbered last, in file order. DuckDB streams that
    # window on one thread, the parse included (docs/ingest.md, "Keeping the row order"). Otherwise
    # insertion order does not matter, and not keeping it is much faster.
    number_last = t == "events" and not job.rel.numbered
    items = ", ".join(
        f"{_seq_base(job)} + row_number() OVER () AS seq" if c == "seq" and number_last else c for c in cols
    )
    if not number_last:
        db.execute("SET preserve_insertion_order = false")
    try:
        inserted = db.execute(
            f"INSERT INTO {t} ({select}, source) SELECT {items}, {quote_str(job.source)} FROM ({reasoned}) s "
            f"WHERE s._jm_reason IS NULL"
        ).fetchone()[0]
    except Exception:
        with contextlib.suppress(Exception):  # an aborted transaction refuses it; the insert's error says why
            db.execute("RESET preserve_insertion_order")
        raise
    db.execute("RESET preserve_insertion_order")
    loaded = inserted
    tell(job.source, "check", 0.6)
    if _has_ties(db, t, key, before):
        if t == "events":
            _number_repeats(db, before)
        else:
            loaded -= db.execute(
                f"DELETE FROM {t} WHERE rowid IN (SELECT rowid FROM {t} WHERE rowid > {before} "
                f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY rowid) > 1)"
            ).fetchone()[0]
    if before >= 0:
        # rows the table already had (an earlier ingest of the same events) are duplicates
        loaded -= db.execute(
            f"DELETE FROM {t} WHERE rowid > {before} AND {key} IN (SELECT {key} FROM {t} WHERE rowid <= {before})"
        ).fetchone()[0]
    if before < 0:
        # the table was empty, so every good row was inserted: rows read - inserted = bad rows,
        # and counting rows needs no reasons (Parquet: from its footer; CSV: a scan without parsing values)
        total = db.execute(f"SELECT count(*) FROM ({job.rel.sql})").fetchone()[0]
        bad = total - inserted
    else:
        total, bad = db.execute(
            f"SELECT count(*), count(*) FILTER (WHERE _jm_reason IS NOT NULL) FROM ({reasoned})"
        ).fetchone()
    tell(job.source, "quarantine", 0.8)
    numbered_bad = f"SELECT * FROM ({_reasoned_sql(job, numbered=True)}) WHERE _jm_reason IS NOT NULL" if bad else None
    written, rejects, seen = _quarantine(job, numbered_bad)
    return total - bad, loaded, written, rejects, seen


def _has_ties(db, table: str, key: str, before: int) -> bool:
    """Whether rows inserted after rowid ``before`` share a key.

    64-bit hashes: all distinct proves the keys are. Ties are counted as equal neighbours in hash
    order: sorting 8-byte hashes costs about half of count(DISTINCT), whose hash table of millions
    of keys misses the caches.
    """
    return bool(
        db.execute(
            f"SELECT count(*) FROM (SELECT h = lag(h) OVER (ORDER BY h) AS tie FROM "
            f"(SELECT hash({key}) AS h FROM {table} WHERE rowid > {before})) WHERE tie"
        ).fetchone()[0]
    )


def _number_repeats(db, before: int) -> None:
    """Give the 2nd, 3rd... of equal events inserted after rowid ``before`` their own ids.

    The k-th repeat (in source order) gets ``md5(id || ':' || k)``: a source that repeats an event
    keeps every repeat, and a re-ingest of it (in any format) meets the same ids again.
    """
    db.execute(
        "CREATE TEMP TABLE jm_repeats AS SELECT rowid AS r, md5(event_id || ':' || "
        "CAST(row_number() OVER (PARTITION BY event_id ORDER BY seq) - 1 AS VARCHAR)) AS id "
        f"FROM events WHERE rowid > {before} AND event_id IN "
        f"(SELECT event_id FROM events WHERE rowid > {before} GROUP BY event_id HAVING count(*) > 1) "
        "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY seq) > 1"
    )
    db.execute("UPDATE events SET event_id = jm_repeats.id FROM jm_repeats WHERE events.rowid = jm_repeats.r")
    db.execute("DROP TABLE jm_repeats")


# -- writing -------------------------------------------------------------------------------------
def _quarantine(job: Job, rows: str | None) -> tuple[int, int, int]:
    """Write bad rows of relation ``rows`` and unsplittable lines to ``quarantine``.

    Returns (bad rows written, lines written, rows already there). Each row is keyed like an
    event (:func:`_row_key_sql`): one that an earlier ingest quarantined is not written again and
    counts as a duplicate.
    """
    head = f'{quote_str(job.source)} AS source, {quote_str(job.table)} AS "table"'
    row_number = "s._jm_row"
    rejects = skipped = 0
    key = quote_str(job.pseudonym_key.hex() if job.pseudonym_key is not None else "")
    if job.rel.rejects and _exists(job.db, job.rel.rejects):
        rej = job.rel.rejects
        raw = "to_json(raw)" if job.pseudonym_key is None else _withheld("raw")
        job.db.execute(
            f"CREATE TEMP TABLE jm_rejlines_{job.n} AS SELECT line - 1 AS row_number, "
            f"first(error_type ORDER BY column_idx) AS error_type, first(error_message ORDER BY column_idx) AS msg, "
            f"first(csv_line) AS raw FROM {rej} GROUP BY line"
        )
        lines = (
            f"SELECT {head}, row_number, 'malformed line (' || lower(error_type) || ': ' || msg || ')' AS reason, "
            f"{raw} AS raw, {quote_str(job.ingest_id)} AS ingest_id, "
            f"md5({key} || chr(30) || {quote_str(job.table)} || chr(31) || coalesce(raw, chr(0))) AS _k "
            f"FROM jm_rejlines_{job.n}"
        )
        rejects, seen = _insert_new(job, lines)
        skipped += seen
        if rejects + seen:
            # good rows were numbered without the rejected lines; shift them back to file rows
            job.db.execute(
                f"CREATE TEMP TABLE jm_shift_{job.n} AS SELECT row_number - j AS before, max(j) AS j FROM "
                f"(SELECT row_number, row_number() OVER (ORDER BY row_number) AS j FROM jm_rejlines_{job.n}) GROUP BY 1"
            )
            row_number = f"s._jm_row + coalesce((SELECT max(j) FROM jm_shift_{job.n} WHERE before < s._jm_row), 0)"
    bad = 0
    if rows is not None:
        bad, seen = _insert_new(
            job,
            (
                f"SELECT {head}, {row_number} AS row_number, s._jm_reason AS reason, s._jm_raw AS raw, "
                f"{quote_str(job.ingest_id)} AS ingest_id, "
                f"s._jm_qkey AS _k FROM ({rows}) s WHERE s._jm_reason IS NOT NULL"
            ),
        )
        skipped += seen
    return bad, rejects, skipped


def _row_key_sql(job: Job) -> str:
    """A bad row's key, over the source columns: keyed md5 of the table, the reason and the row's
    values as text in column-name order (the same row from CSV, Parquet or NDJSON, in any column
    order, has the same key); a line that cannot be split, by its text."""
    key = quote_str(job.pseudonym_key.hex() if job.pseudonym_key is not None else "")
    parts = ["coalesce(_jm_reason, chr(0))"]
    for c in sorted(job.rel.columns):
        parts += [quote_str(c), f"coalesce(CAST({quote_ident(c)} AS VARCHAR), chr(0))"]
    values = f"concat_ws(chr(31), {', '.join(parts)})"
    if job.rel.bad:
        values = f"CASE WHEN _jm_bad IS NOT NULL THEN coalesce(_jm_line, chr(0)) ELSE {values} END"
    return f"md5({key} || chr(30) || {quote_str(job.table)} || chr(31) || {values})"


def _insert_new(job: Job, rows_sql: str) -> tuple[int, int]:
    """Insert rows (the quarantine's columns and a key ``_k``) whose key, with its occurrence number
    among equal keys, is not in ``quarantine`` yet; return (written, already there)."""
    t = f"jm_qrows_{job.n}"
    job.db.execute(
        f"CREATE OR REPLACE TEMP TABLE {t} AS SELECT * EXCLUDE (_k), "
        f"md5(_k || ':' || CAST(row_number() OVER (PARTITION BY _k ORDER BY row_number) AS VARCHAR)) AS row_key "
        f"FROM ({rows_sql})"
    )
    total = job.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    written = (
        job.db.execute(
            f"INSERT INTO quarantine SELECT * FROM {t} n "
            f"WHERE NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.row_key = n.row_key)"
        ).fetchone()[0]
        if total
        else 0
    )
    job.db.execute(f"DROP TABLE {t}")
    return written, total - written


def _load_customers(job: Job) -> int:
    """Upsert customers: the latest row per customer wins; unchanged rows count as duplicates."""
    attrs = [_attr_name(c) for c in job.mapping.unmapped]
    existing = {r[0] for r in job.db.execute("DESCRIBE customers").fetchall()}
    for a in attrs:
        if a not in existing:
            job.db.execute(f"ALTER TABLE customers ADD COLUMN {quote_ident(a)} VARCHAR")
    latest = f"jm_latest_{job.n}"
    job.db.execute(
        f"CREATE TEMP TABLE {latest} AS SELECT * FROM {stage_name(job)} WHERE _jm_reason IS NULL "
        "QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY _jm_row DESC) = 1"
    )
    same = " AND ".join(f"c.{quote_ident(a)} IS NOT DISTINCT FROM l.{quote_ident(a)}" for a in attrs) or "TRUE"
    job.db.execute(
        f"DELETE FROM {latest} l WHERE EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = l.customer_id AND {same})"
    )
    sets = ", ".join([f"{quote_ident(a)} = l.{quote_ident(a)}" for a in attrs] + [f"source = {quote_str(job.source)}"])
    updated = job.db.execute(
        f"UPDATE customers SET {sets} FROM {latest} l WHERE customers.customer_id = l.customer_id"
    ).fetchone()[0]
    names = ", ".join(["customer_id", "source", *(quote_ident(a) for a in attrs)])
    values = ", ".join(["l.customer_id", quote_str(job.source), *(f"l.{quote_ident(a)}" for a in attrs)])
    inserted = job.db.execute(
        f"INSERT INTO customers ({names}) SELECT {values} FROM {latest} l "
        "WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = l.customer_id)"
    ).fetchone()[0]
    job.db.execute(f"DROP TABLE {latest}")
    return updated + inserted


def _log(job: Job, r: Counts, started: datetime, content_hash: str) -> None:
    finished = datetime.now(UTC).replace(tzinfo=None)
    # literals, not parameters: the first parameterised query makes the duckdb module import pandas (~0.5 s)
    texts = [job.ingest_id, job.source, job.table, content_hash]
    counts = [r.rows_read, r.loaded, r.quarantined, r.duplicate]
    times = [f"CAST({quote_str(t.isoformat())} AS TIMESTAMP)" for t in (started, finished)]
    values = [*(quote_str(v) for v in texts), *(str(int(n)) for n in counts), *times, quote_str(json.dumps(r.mapping))]
    job.db.execute(f"INSERT INTO ingest_log VALUES ({', '.join(values)})")


def _exists(db, name: str) -> bool:
    return bool(db.execute(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = {quote_str(name)}").fetchone()[0])


def _drop(job: Job) -> None:
    for name in (stage_name(job), f"jm_rejlines_{job.n}", f"jm_shift_{job.n}", job.rel.rejects if job.rel else None):
        if name:
            job.db.execute(f"DROP TABLE IF EXISTS {name}")


def drop_temporaries(db) -> None:
    """Drop every temporary table an ingest made (after a failure, too)."""
    names = db.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'jm\\_%' ESCAPE '\\'"
    ).fetchall()
    for (name,) in names:
        db.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
