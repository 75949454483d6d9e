"""DuckDB timestamps: SQL that turns source times into naive UTC.

Understood without help: ISO 8601 with or without an offset (``2024-05-01T10:00:00+02:00``,
``2024-05-01 10:00``, ``...Z``, ``... UTC``, ``... GMT``, ``+05:30`` or ``+0530``, with or
without seconds and fractions), ``2015-02-24 11:35:52 -0800``, the compact ``20240501100000`` and
``20240501`` (read before epochs), and epoch seconds, milliseconds, microseconds or nanoseconds,
as text or typed numbers (told apart by magnitude: :func:`epoch_unit`). Other text columns are
read in the one form their values allow
(:func:`detect_ts_format`: ``12/1/10 8:26``, ``25.12.2023``, ``20101201082600``...), or by
``ts_format`` (strptime codes, e.g. ``%d/%m/%Y %H:%M``) when given. Times without an offset are
local to ``tz`` (an IANA name). Years outside a plausible range (:func:`default_years`) are
quarantined by the load.

Examples
--------
>>> import duckdb
>>> db = duckdb.connect(); _ = db.execute("SET TimeZone='UTC'")
>>> sql = ts_sql('"t"', "VARCHAR", tz="Europe/Paris")
>>> db.execute(f"SELECT {sql} FROM (SELECT '2024-01-15 10:00' AS t)").fetchone()[0]
datetime.datetime(2024, 1, 15, 9, 0)
>>> db.execute(f"SELECT {ts_sql('t', 'VARCHAR')} FROM (SELECT '1700000000000' AS t)").fetchone()[0]
datetime.datetime(2023, 11, 14, 22, 13, 20)
>>> db.execute(f"SELECT {ts_sql('t', 'BIGINT')} FROM (SELECT 1700000000123456789 AS t)").fetchone()[0]
datetime.datetime(2023, 11, 14, 22, 13, 20, 123456)
>>> db.execute(f"SELECT {ts_sql('t', 'VARCHAR')} FROM (SELECT '20240501100000' AS t)").fetchone()[0]
datetime.datetime(2024, 5, 1, 10, 0)
>>> db.execute(f"SELECT {ts_sql('t', 'VARCHAR')} FROM (SELECT '2024-05-01T10:00+05:30' AS t)").fetchone()[0]
datetime.datetime(2024, 5, 1, 4, 30)

A text column's one form is found from its values before the load (:func:`detect_ts_format`):
``12/13/10 9:00`` says months come first, so ``12/1/10 8:26`` is the 1st of December 2010.

>>> _ = db.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('12/1/10 8:26'), ('12/13/10 9:00')) v(d)")
>>> detect_ts_format(db, "SELECT * FROM t", "d", years=(1970, 2027))
'%m/%d/%y %H:%M'
>>> detect_ts_format(db, "SELECT * FROM t WHERE d LIKE '12/1/%'", "d", years=(1970, 2027))
Traceback (most recent call last):
...
journeymap.errors.InputError: Timestamps in column 'd' read both as month/day and as day/month (e.g. '12/1/10 8:26'); pass --ts-format '%m/%d/%y %H:%M' (ts_format=) if months come first, or --ts-format '%d/%m/%y %H:%M' if days do.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from journeymap.engine.duckdb_load.readers import quote_ident, quote_str
from journeymap.errors import InputError

OFFSET_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%a %b %d %H:%M:%S %z %Y")
"""Formats with an offset that DuckDB's ISO cast does not read, tried next."""


NAIVE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y/%m/%d %H:%M:%S", "%Y%m%d%H%M%S")
"""Naive formats tried last."""


_OFFSET_RE = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|z|[+-]\d\d(:?\d\d)?|UTC|GMT)$"


_ISO_ZONED_RE = r"^\d{4}-\d\d-\d\d[T ]\d\d?:\d\d(:\d\d(\.\d+)?)?\s*(Z|z|UTC|GMT|[+-]\d\d(:?\d\d)?)$"
"""ISO 8601 with a zone that DuckDB's cast reads only once normalised (no seconds, ``GMT``, a space)."""


_ZONE_STEPS = (
    (r"\s*(Z|z|UTC|GMT)$", "+00:00"),  # a zone named UTC: the offset +00:00
    (r"^(\d{4}-\d\d-\d\d[T ]\d\d?:\d\d)([+-])", r"\1:00\2"),  # no seconds: ':00'
    (r"\s+([+-]\d\d(:?\d\d)?)$", r"\1"),  # no space before the offset
)
"""regexp_replace steps turning a :data:`_ISO_ZONED_RE` value into one DuckDB's TIMESTAMPTZ cast reads."""


_NUMBER_RE = r"^-?\d{8,19}(\.\d+)?$"
"""Text read as a number (:func:`_number_text`): a compact date or an epoch."""


COMPACT_FORMATS = ("%Y%m%d%H%M%S", "%Y%m%d")
"""Compact dates, read before epochs: 14 digits are no plausible epoch (milliseconds of 2286 on),
8 digits only seconds of 1970-1973."""


EPOCH_UNITS = ((1e17, "ns", 1e-3), (1e14, "us", 1.0), (1e11, "ms", 1e3), (0.0, "s", 1e6))
"""(magnitude from, unit, microseconds per unit) of epoch numbers: each unit's values from 1973 to
5138 have their own magnitude (below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds,
else nanoseconds)."""


_SHORT_FIRST_RE = r"^\d{1,2}\D"


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
        return _local(f"try_cast({col} AS TIMESTAMP)", tz)  # a DATE beyond TIMESTAMP's range is NULL
    if dtype in _INTEGER_TYPES:
        num = f"try_cast({col} AS BIGINT)"
        # 8 and 14 digits are dates (20240501, a date key; 20240501100000), read as one or not at all:
        # as epochs they are 1970-1973 seconds or 2286-5138 milliseconds
        compact = f"try_strptime(CAST({num} AS VARCHAR), {_list(COMPACT_FORMATS)})"
        return (
            f"CASE WHEN {num} BETWEEN 10000101 AND 99991231 OR {num} BETWEEN 10000101000000 AND 99991231235959 "
            f"THEN {_local(compact, tz)} ELSE {_epoch_int(num)} END"
        )
    if dtype in ("DOUBLE", "FLOAT", "REAL") or dtype.startswith("DECIMAL"):
        return _epoch_double(f"CAST({col} AS DOUBLE)")
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
    # DuckDB's cast reads ISO with an offset only with seconds, 'UTC' but not 'GMT', no space before
    # '+05:30': such values are normalised ('2024-05-01T10:00Z' -> '2024-05-01T10:00:00+00:00') first.
    zone = text
    for pattern, replacement in _ZONE_STEPS:
        zone = f"regexp_replace({zone}, {quote_str(pattern)}, {quote_str(replacement)})"
    zoned = f"CASE WHEN regexp_matches({text}, '{_ISO_ZONED_RE}') THEN CAST(try_cast({zone} AS TIMESTAMPTZ) AS TIMESTAMP) END"
    # Fast path: up to 19 characters that cast to TIMESTAMP cannot carry an offset ('YYYY-MM-DD HH:MM:SS').
    # The TIMESTAMPTZ cast is slow when it fails, so it only sees what the TIMESTAMP cast accepts.
    # Compact dates come before epochs: '20240501100000' is 1 May 2024, not epoch milliseconds of 2611.
    return (
        f"CASE WHEN length({text}) <= 19 AND {naive} IS NOT NULL THEN {_local(naive, tz)} "
        f"WHEN NOT contains({text}, ':') AND regexp_matches({text}, '{_NUMBER_RE}') THEN {_number_text(text, tz)} "
        f"WHEN {naive} IS NOT NULL THEN {iso} "
        f"ELSE coalesce({zoned}, timezone('UTC', try_strptime({text}, {_list(OFFSET_FORMATS)})), "
        f"{_local(f'try_strptime({text}, {_list(NAIVE_FORMATS)})', tz)}) END"
    )


def _number_text(text: str, tz: str) -> str:
    """Naive UTC from text matching :data:`_NUMBER_RE`: 8 or 14 digits as a compact date (read as one
    or not at all), else with 9 or more digits before any point as an epoch (:data:`EPOCH_UNITS`)."""
    digits = f"ltrim({text}, '-')"
    compact = _local(f"try_strptime({text}, {_list(COMPACT_FORMATS)})", tz)
    return (
        f"CASE WHEN NOT contains({text}, '.') THEN CASE "
        f"WHEN length({text}) IN (8, 14) AND NOT starts_with({text}, '-') THEN {compact} "
        f"WHEN length({digits}) >= 9 THEN {_epoch_int(f'try_cast({text} AS BIGINT)')} END "
        f"WHEN strpos({digits}, '.') > 9 THEN {_epoch_double(f'try_cast({text} AS DOUBLE)')} END"
    )


_INTEGER_TYPES = (
    "BIGINT",
    "INTEGER",
    "SMALLINT",
    "TINYINT",
    "HUGEINT",
    "UBIGINT",
    "UINTEGER",
    "USMALLINT",
    "UTINYINT",
    "UHUGEINT",
)


def epoch_unit(value: float) -> str:
    """The unit an epoch number is read in, from its magnitude: ``s``, ``ms``, ``us`` or ``ns``.

    >>> [epoch_unit(v) for v in (1714557600, 1714557600000, 1714557600000000, 1714557600000000000)]
    ['s', 'ms', 'us', 'ns']
    """
    return next(unit for bound, unit, _ in EPOCH_UNITS if abs(value) >= bound)


def _epoch_int(num: str) -> str:
    """Naive UTC from an integer epoch ``num`` (BIGINT SQL, NULL when it does not fit): exact to the
    microsecond (nanoseconds are floored, as Python's ``timedelta(microseconds=ns // 1000)``)."""
    whens = []
    for bound, _, per in EPOCH_UNITS:
        if per < 1:  # nanoseconds: floor division (DuckDB's // truncates towards zero)
            micros = f"({num} - (({num} % 1000) + 1000) % 1000) // 1000"
        else:
            micros = f"{num} * {int(per)}"
        cond = f"({num} >= {bound:.0e} OR {num} <= -{bound:.0e})" if bound else "TRUE"
        whens.append(f"WHEN {cond} THEN {micros}")
    return f"try(make_timestamp(CASE {' '.join(whens)} END))"


def _epoch_double(num: str) -> str:
    """Naive UTC from a DOUBLE epoch ``num``, rounded to the microsecond; NULL for NaN, inf and
    numbers beyond TIMESTAMP's range (the load quarantines those rows with a reason)."""
    whens = []
    for bound, _, per in EPOCH_UNITS:
        cond = f"abs({num}) >= {bound:.0e}" if bound else "TRUE"
        whens.append(f"WHEN {cond} THEN {num} * {per!r}")
    micros = f"try_cast(round(CASE {' '.join(whens)} END) AS BIGINT)"
    return f"CASE WHEN isfinite({num}) THEN try(make_timestamp({micros})) END"


def _date_forms() -> tuple[str, ...]:
    forms = []
    for sep in "/-":
        for first, second in (("m", "d"), ("d", "m")):  # months first (US) before days first
            forms += [f"%{first}{sep}%{second}{sep}%y", f"%{first}{sep}%{second}{sep}%Y"]
    return (*forms, "%d.%m.%Y", "%d.%m.%y", "%Y/%m/%d", "%Y.%m.%d")


_TIME_FORMS = (" %H:%M:%S", " %H:%M", "", " %I:%M:%S %p", " %I:%M %p")


CANDIDATE_FORMATS = (
    *(d + t for d in _date_forms() for t in _TIME_FORMS),
    "%Y%m%d%H%M%S",
    "%Y%m%d",
)
"""Forms a text column may have besides ISO 8601 and epoch numbers, in order of preference."""


PREFIX_ROWS = 100_000
"""Detection reads the distinct values of this many first rows of a column (smaller files: all)."""


SAMPLE_VALUES = 100_000
"""When the first rows leave day and month open, detection reads this many distinct values of the
whole column (the first by hash: a spread over the file, the same on every run)."""


_AUTO = "ISO 8601 or epoch"


_SKELETON_DROP = "0123456789AaPpMm"


def skeleton(ts_format: str) -> str:
    """The characters a format's values keep once digits and AM/PM letters are dropped.

    >>> skeleton("%m/%d/%y %H:%M"), skeleton("%d.%m.%Y %I:%M %p")
    ('// :', '.. : ')
    """
    text = datetime(2001, 2, 3, 4, 5, 6).strftime(ts_format)
    return "".join(ch for ch in text if ch not in _SKELETON_DROP)


def _swap(ts_format: str) -> str:
    """The same form with day and month exchanged."""
    return ts_format.replace("%m", "\0").replace("%d", "%m").replace("\0", "%d")


def _auto_sql(text: str) -> str:
    """What the load reads without a format, for values that put the year (or an epoch) first.

    DuckDB's own cast reads ``12/1/10`` as year 12, so values starting with one or two digits and
    a separator only count for the explicit forms.
    """
    return f"CASE WHEN NOT regexp_matches({text}, '{_SHORT_FIRST_RE}') THEN {ts_sql(text, 'VARCHAR')} END"


def detect_ts_format(
    db, relation_sql: str, column: str, *, years: tuple[int, int], table: str = "jm_ts_sample"
) -> str | None:
    """The one strptime form that reads every sampled value of text column ``column``, or None.

    None means: read the column as ISO 8601 / epoch, value by value (also when no single form
    reads every value; unreadable rows are then quarantined one by one). The sample is the
    distinct non-empty values of the first :data:`PREFIX_ROWS` rows; when day and month are
    still open there and the file is longer, up to :data:`SAMPLE_VALUES` distinct values of the
    whole column. Among the forms that read every value, the one giving the most years in
    ``years`` wins (``%y`` over ``%Y`` for ``12/1/10``); a day/month form and its swap that read
    every value differently is an InputError naming the column, two values and both formats.
    """
    col = quote_ident(column)
    text = f"trim(CAST({col} AS VARCHAR))"
    try:
        db.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT t, count(*) AS k FROM "
            f"(SELECT {text} AS t FROM ({relation_sql}) LIMIT {PREFIX_ROWS}) GROUP BY t"
        )
        prefix_rows = db.execute(f"SELECT coalesce(sum(k), 0) FROM {table}").fetchone()[0]
        try:
            return _decide(db, table, column, years)
        except InputError:
            if prefix_rows < PREFIX_ROWS:
                raise  # the prefix was the whole column
        db.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT t, count(*) AS k FROM "
            f"(SELECT {text} AS t FROM ({relation_sql})) WHERE t <> '' GROUP BY t ORDER BY hash(t), t LIMIT {SAMPLE_VALUES}"
        )
        return _decide(db, table, column, years)
    finally:
        # after a failed read the transaction refuses any statement: the read's own error tells why
        with contextlib.suppress(Exception):
            db.execute(f"DROP TABLE IF EXISTS {table}")


def _decide(db, table: str, column: str, years: tuple[int, int]) -> str | None:
    """Choose the form from sample ``table`` (distinct values ``t``): see :func:`detect_ts_format`."""
    lead = "length(t) - length(ltrim(t, '0123456789'))"  # digits before the first separator
    groups = db.execute(
        f"SELECT translate(t, {quote_str(_SKELETON_DROP)}, '') AS s, count(*), min(t), max(t), min({lead}), max({lead}) "
        f"FROM {table} WHERE t <> '' GROUP BY s ORDER BY s"
    ).fetchall()
    if len(groups) != 1:
        return None  # no values, or several shapes: no one explicit form reads them all
    shape, n, first, last, fewest, most = groups[0]
    # a form that starts with day, month or a 2-digit year needs 1-2 leading digits, one with %Y 4 or more
    forms = [
        f
        for f in CANDIDATE_FORMATS
        if skeleton(f) == shape and (most <= 2 if f[:2] in ("%m", "%d", "%y") else fewest >= 4)
    ]
    if not forms:
        return None  # e.g. ISO 8601: read value by value as before
    names = [_AUTO, *forms] if most > 2 else forms
    parsed = [_auto_sql("t") if f == _AUTO else f"try_strptime(t, {quote_str(f)})" for f in names]
    pairs = [(i, names.index(_swap(f))) for i, f in enumerate(names) if f != _AUTO and _swap(f) in names[i + 1 :]]
    lo, hi = years
    aggs = [f"count(p{i}), count(p{i}) FILTER (WHERE year(p{i}) BETWEEN {lo} AND {hi})" for i in range(len(names))]
    aggs += [f"count(*) FILTER (WHERE p{i} <> p{j})" for i, j in pairs]
    cols = ", ".join(f"{sql} AS p{i}" for i, sql in enumerate(parsed))
    row = db.execute(f"SELECT {', '.join(aggs)} FROM (SELECT {cols} FROM {table} WHERE t <> '')").fetchone()
    full = [i for i in range(len(names)) if row[2 * i] == n]
    if not full:
        return None
    best = max(row[2 * i + 1] for i in full)
    tied = [i for i in full if row[2 * i + 1] == best]
    for k, (i, j) in enumerate(pairs):
        if i in tied and j in tied and row[2 * len(names) + k]:
            samples = ", ".join(repr(v) for v in dict.fromkeys((first, last)))
            month_first, day_first = sorted((names[i], names[j]), key=lambda f: f.index("%d"), reverse=True)
            raise InputError(
                f"Timestamps in column {column!r} read both as month/day and as day/month (e.g. {samples}); "
                f"pass --ts-format {month_first!r} (ts_format=) if months come first, "
                f"or --ts-format {day_first!r} if days do."
            )
    choice = names[tied[0]]
    return None if choice == _AUTO else choice
