"""Readers: turn a source file into an engine relation, streamed, without losing rows.

CSV and TSV are read with every column as text (nothing is lost to type
guessing); lines with the wrong number of columns are kept aside as rejects so
they can be quarantined. NDJSON is read line by line, so a malformed line is one
quarantined row; a JSON array is read element by element. Parquet keeps its types.
Each format may be gzip-compressed (``.gz``). The format comes from the file
extension unless ``fmt=`` names it.

Examples
--------
>>> detect_format("web.csv.gz"), detect_format("app.ndjson"), detect_format("x.dat", "tsv")
('csv', 'ndjson', 'tsv')
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from journeymap.errors import InputError

FORMATS = ("csv", "tsv", "parquet", "json", "ndjson")

_EXTENSIONS = {
    ".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
    ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson",
}

_SNIFF_BYTES = 1 << 20


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """The format of ``path``: ``fmt`` when given, else from the extension (``.gz`` looked through)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"Source format {fmt!r} is not supported; use one of: {', '.join(FORMATS)}.")
        return fmt
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    if ext not in _EXTENSIONS:
        raise InputError(
            f"The format of {p.name!r} cannot be told from its extension {ext or '(none)'!r}; "
            f"pass fmt= (--source-format) with one of: {', '.join(FORMATS)}."
        )
    return _EXTENSIONS[ext]


def check_file(path: Path, fmt: str) -> None:
    """Fail with one clear sentence when ``path`` is missing, empty or not UTF-8 text."""
    if not path.exists():
        raise InputError(f"Source file {str(path)!r} does not exist; check the path.")
    if not path.is_file():
        raise InputError(f"Source {str(path)!r} is not a file; pass a file path.")
    if path.stat().st_size == 0:
        raise InputError(f"Source file {str(path)!r} is empty; there is nothing to ingest.")
    if fmt == "parquet":
        return
    head = _head(path)
    if not head.strip():
        raise InputError(f"Source file {str(path)!r} is empty; there is nothing to ingest.")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not just a character cut at the end of the sample
            raise InputError(
                f"Source file {str(path)!r} is not UTF-8 text (byte {head[e.start]:#04x} at offset {e.start}); "
                f"convert it first, e.g. iconv -f LATIN1 -t UTF-8 {path.name} > utf8_{path.name}"
            ) from None


def _head(path: Path) -> bytes:
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read(_SNIFF_BYTES)
        with open(path, "rb") as f:
            return f.read(_SNIFF_BYTES)
    except (OSError, EOFError) as e:
        raise InputError(f"Source file {str(path)!r} cannot be read ({e}); check that it is not damaged.") from None


@dataclass(frozen=True)
class SourceRelation:
    """SQL for one source: ``sql`` selects the source columns, in file order.

    When ``numbered``, it also selects ``_jm_row``, the 1-based row number; otherwise
    the row number is the position in the (order-preserving) staging table.
    """

    sql: str
    columns: list[str]
    types: dict[str, str]
    rejects: str | None = None
    """DuckDB rejects table of lines the CSV reader could not split, if any."""
    numbered: bool = True
    bad: bool = False
    """Whether ``sql`` also selects ``_jm_bad`` (why a record is unreadable) and ``_jm_line`` (its text)."""


def quote_ident(name: str) -> str:
    """Quote an SQL identifier.

    >>> quote_ident('case:concept:name')
    '"case:concept:name"'
    """
    return '"' + name.replace('"', '""') + '"'


def quote_str(value: str) -> str:
    """Quote an SQL string literal.

    >>> quote_str("O'Hara")
    "'O''Hara'"
    """
    return "'" + str(value).replace("'", "''") + "'"


def open_source(db, path: Path, fmt: str, n: int) -> SourceRelation:
    """Describe ``path`` to the DuckDB connection ``db``; temp objects are suffixed with ``n``."""
    try:
        if fmt in ("csv", "tsv"):
            return _open_csv(db, path, "," if fmt == "csv" else "\t", n)
        if fmt == "parquet":
            return _open_parquet(db, path)
        if fmt == "ndjson":
            return _open_ndjson(db, path, n)
        return _open_json_array(db, path, n)
    except InputError:
        raise
    except Exception as e:  # duckdb raises many kinds; all mean the file cannot be read as fmt
        msg = str(e).splitlines()[0]
        if "unicode" in msg.lower() or "utf-8" in msg.lower():
            raise InputError(
                f"Source file {str(path)!r} is not UTF-8 text; convert it first, e.g. "
                f"iconv -f LATIN1 -t UTF-8 {path.name} > utf8_{path.name}"
            ) from None
        raise InputError(
            f"Source file {str(path)!r} cannot be read as {fmt} ({msg}); check the file or pass the right --source-format."
        ) from None


def _describe(db, sql: str) -> tuple[list[str], dict[str, str]]:
    rows = db.execute(f"DESCRIBE SELECT * FROM ({sql})").fetchall()
    cols = [r[0] for r in rows if r[0] != "_jm_row"]
    return cols, {r[0]: r[1] for r in rows}


def _open_csv(db, path: Path, delim: str, n: int) -> SourceRelation:
    rej, scan = f"jm_rejects_{n}", f"jm_rejects_scan_{n}"
    reader = (
        f"read_csv({quote_str(str(path))}, all_varchar=true, header=true, delim={quote_str(delim)}, "
        f"quote='\"', escape='\"', ignore_errors=true, store_rejects=true, rejects_table='{rej}', "
        f"rejects_scan='{scan}', max_line_size=10000000, compression='auto', encoding='utf-8')"
    )
    cols, types = _describe(db, f"SELECT * FROM {reader}")
    if not cols or cols == ["column0"] and types.get("column0") is None:
        raise InputError(f"Source file {str(path)!r} has no header row; add one naming the columns.")
    if len(cols) == 1:
        for sep, name in (("\t", "tsv"), (",", "csv"), (";", "semicolon-separated")):
            if sep != delim and sep in cols[0]:
                hint = f"pass --source-format {name}" if name != "semicolon-separated" else "convert it to commas first"
                raise InputError(
                    f"Source file {str(path)!r} has one column {cols[0]!r}, so it looks {name}, not "
                    f"{'tsv' if delim == chr(9) else 'csv'}; {hint}."
                )
    sql = f"SELECT * FROM {reader}"
    return SourceRelation(sql=sql, columns=cols, types={c: types[c] for c in cols}, rejects=rej, numbered=False)


def _open_parquet(db, path: Path) -> SourceRelation:
    reader = f"read_parquet({quote_str(str(path))})"
    cols, types = _describe(db, f"SELECT * FROM {reader}")
    # the row number from the reader itself (a window over the scan costs a tenth of the load)
    numbered = f"read_parquet({quote_str(str(path))}, file_row_number=true)"
    fields = ", ".join(quote_ident(c) for c in cols)
    sql = f"SELECT file_row_number + 1 AS _jm_row, {fields} FROM {numbered}"
    return SourceRelation(sql=sql, columns=cols, types={c: types[c] for c in cols}, numbered=True)


def _json_columns(db, objects_sql: str, path: Path) -> list[str]:
    rows = db.execute(
        f"SELECT k, min(_jm_row) AS first FROM (SELECT unnest(json_keys(j)) AS k, _jm_row FROM ({objects_sql}) "
        "WHERE json_type(j) = 'OBJECT') GROUP BY k ORDER BY first, k"
    ).fetchall()
    if not rows:
        raise InputError(f"Source file {str(path)!r} holds no JSON objects; each record must be an object.")
    return [r[0] for r in rows]


def _json_relation(db, objects_sql: str, path: Path) -> SourceRelation:
    cols = _json_columns(db, objects_sql, path)
    fields = ", ".join(
        f"CASE WHEN json_type(j) = 'OBJECT' THEN json_extract_string(j, {quote_str('$.' + _json_key(c))}) END AS {quote_ident(c)}"
        for c in cols
    )
    sql = (
        f"SELECT _jm_row, CASE WHEN j IS NULL THEN 'malformed JSON line' WHEN json_type(j) <> 'OBJECT' "
        f"THEN 'record is a JSON ' || lower(json_type(j)) || ', not an object' END AS _jm_bad, _jm_line, {fields} "
        f"FROM ({objects_sql})"
    )
    return SourceRelation(sql=sql, columns=cols, types={c: "VARCHAR" for c in cols}, bad=True)


def _json_key(name: str) -> str:
    return '"' + name.replace('"', '\\"') + '"'


def _open_ndjson(db, path: Path, n: int) -> SourceRelation:
    lines = (
        f"SELECT row_number() OVER () AS _jm_row, line AS _jm_line FROM read_csv({quote_str(str(path))}, "
        "columns={'line': 'VARCHAR'}, header=false, delim='\x01', quote='', escape='', auto_detect=false, "
        "max_line_size=10000000, compression='auto', strict_mode=false)"
    )
    objects = f"SELECT _jm_row, _jm_line, try_cast(_jm_line AS JSON) AS j FROM ({lines}) WHERE trim(_jm_line) <> ''"
    return _json_relation(db, objects, path)


def _open_json_array(db, path: Path, n: int) -> SourceRelation:
    objects = (
        f"SELECT row_number() OVER () AS _jm_row, json AS j, json::VARCHAR AS _jm_line "
        f"FROM read_json_objects({quote_str(str(path))}, format='array', compression='auto_detect', maximum_object_size=16777216)"
    )
    db.execute(f"SELECT count(*) FROM ({objects})").fetchall()  # fail early on a broken file
    return _json_relation(db, objects, path)
