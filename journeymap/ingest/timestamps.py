"""Timestamps: SQL that turns source times into naive UTC.

Understood without help: ISO 8601 with or without an offset (``2024-05-01T10:00:00+02:00``,
``2024-05-01 10:00``, ``...Z``, ``... UTC``), ``2015-02-24 11:35:52 -0800``, and epoch
seconds or milliseconds (told apart by magnitude: above 1e11 is milliseconds, above
1e14 microseconds). ``ts_format`` (strptime codes, e.g. ``%d/%m/%Y %H:%M``) reads
anything else. Times without an offset are local to ``tz`` (an IANA name).

Examples
--------
>>> import duckdb
>>> db = duckdb.connect(); _ = db.execute("SET TimeZone='UTC'")
>>> sql = ts_sql('"t"', "VARCHAR", tz="Europe/Paris")
>>> db.execute(f"SELECT {sql} FROM (SELECT '2024-01-15 10:00' AS t)").fetchone()[0]
datetime.datetime(2024, 1, 15, 9, 0)
>>> db.execute(f"SELECT {ts_sql('t', 'VARCHAR')} FROM (SELECT '1700000000000' AS t)").fetchone()[0]
datetime.datetime(2023, 11, 14, 22, 13, 20)
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journeymap.errors import InputError
from journeymap.ingest.readers import quote_str

OFFSET_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%a %b %d %H:%M:%S %z %Y")
"""Formats with an offset that DuckDB's ISO cast does not read, tried next."""

NAIVE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y/%m/%d %H:%M:%S", "%Y%m%d%H%M%S")
"""Naive formats tried last."""

_OFFSET_RE = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|z|[+-]\d\d(:?\d\d)?|UTC|GMT)$"
_EPOCH_RE = r"^\s*-?\d{9,17}(\.\d+)?\s*$"


def check_tz(tz: str) -> str:
    """Return ``tz`` when it is an IANA time zone name, else raise InputError."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"Time zone {tz!r} (tz) is not an IANA name; use e.g. 'UTC', 'Europe/Paris' or 'America/New_York'."
        ) from None
    return tz


def check_format(ts_format: str) -> str:
    """Return ``ts_format`` when it has at least one strptime code, else raise InputError."""
    if "%" not in ts_format:
        raise InputError(
            f"Timestamp format {ts_format!r} (ts_format) has no strptime codes; write e.g. '%d/%m/%Y %H:%M'."
        )
    return ts_format


def _local(naive_sql: str, tz: str) -> str:
    if tz == "UTC":
        return naive_sql
    return f"timezone('UTC', timezone({quote_str(tz)}, {naive_sql}))"


def _list(formats: tuple[str, ...]) -> str:
    return "[" + ", ".join(quote_str(f) for f in formats) + "]"


def ts_sql(col: str, dtype: str, *, tz: str = "UTC", ts_format: str | None = None) -> str:
    """SQL giving naive UTC ``TIMESTAMP`` (NULL when unreadable) from column SQL ``col`` of type ``dtype``."""
    dtype = dtype.upper()
    if dtype.startswith("TIMESTAMP WITH TIME ZONE") or dtype == "TIMESTAMPTZ":
        return f"timezone('UTC', {col})"
    if dtype.startswith("TIMESTAMP") or dtype == "DATE":
        return _local(f"CAST({col} AS TIMESTAMP)", tz)
    if dtype in ("BIGINT", "INTEGER", "HUGEINT", "UBIGINT", "DOUBLE", "FLOAT", "DECIMAL") or dtype.startswith("DECIMAL"):
        return _epoch(f"CAST({col} AS DOUBLE)")
    text = f"trim(CAST({col} AS VARCHAR))"
    if ts_format:
        fmt = quote_str(ts_format)
        if "%z" in ts_format or "%Z" in ts_format:
            return f"timezone('UTC', try_strptime({text}, {fmt}))"
        return _local(f"try_strptime({text}, {fmt})", tz)
    naive = f"try_cast({text} AS TIMESTAMP)"
    aware = f"CAST(try_cast({text} AS TIMESTAMPTZ) AS TIMESTAMP)"
    if tz == "UTC":
        iso = aware
    else:
        iso = f"CASE WHEN regexp_matches({text}, '{_OFFSET_RE}') THEN {aware} ELSE {_local(naive, tz)} END"
    # Fast path: up to 19 characters that cast to TIMESTAMP cannot carry an offset ('YYYY-MM-DD HH:MM:SS').
    # The TIMESTAMPTZ cast is slow when it fails, so it only sees what the TIMESTAMP cast accepts.
    return (
        f"CASE WHEN length({text}) <= 19 AND {naive} IS NOT NULL THEN {_local(naive, tz)} "
        f"WHEN regexp_matches({text}, '{_EPOCH_RE}') THEN {_epoch(f'try_cast({text} AS DOUBLE)')} "
        f"WHEN {naive} IS NOT NULL THEN {iso} "
        f"ELSE coalesce(timezone('UTC', try_strptime({text}, {_list(OFFSET_FORMATS)})), "
        f"{_local(f'try_strptime({text}, {_list(NAIVE_FORMATS)})', tz)}) END"
    )


def _epoch(num: str) -> str:
    seconds = f"CASE WHEN abs({num}) >= 1e14 THEN {num} / 1e6 WHEN abs({num}) >= 1e11 THEN {num} / 1e3 ELSE {num} END"
    return f"CAST(try_cast(to_timestamp({seconds}) AS TIMESTAMPTZ) AS TIMESTAMP)"
