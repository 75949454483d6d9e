"""DuckDB's readers: a source file as a DuckDB relation, streamed, without losing rows.

CSV and TSV are read with every column as text (nothing is lost to type guessing); lines with the
wrong number of columns are kept aside as rejects so they can be quarantined. NDJSON is read line by
line, so a malformed line is one quarantined row; a JSON array is read element by element. Parquet
keeps its types. Each format may be gzip-compressed (``.gz``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from journeymap.engine.loader import MAX_RECORD_BYTES, ReadFailed
from journeymap.errors import InputError


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
        raise ReadFailed(e) from None


def _describe(db, sql: str) -> tuple[list[str], dict[str, str]]:
    rows = db.execute(f"DESCRIBE SELECT * FROM ({sql})").fetchall()
    cols = [r[0] for r in rows if r[0] != "_jm_row"]
    return cols, {r[0]: r[1] for r in rows}


def _open_csv(db, path: Path, delim: str, n: int) -> SourceRelation:
    rej, scan = f"jm_rejects_{n}", f"jm_rejects_scan_{n}"
    reader = (
        f"read_csv({quote_str(str(path))}, all_varchar=true, header=true, delim={quote_str(delim)}, "
        f"quote='\"', escape='\"', ignore_errors=true, store_rejects=true, rejects_table='{rej}', "
        f"rejects_scan='{scan}', max_line_size={MAX_RECORD_BYTES}, buffer_size={2 * MAX_RECORD_BYTES}, compression='auto', encoding='utf-8', "
        "comment='')"  # no comment lines: auto-detected, '#' would drop rows and cut values at '#'
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
    names = safe_names(cols)
    sql = f"SELECT * FROM {reader}"
    if names != cols:
        sql = f"SELECT {_aliases(cols, names)} FROM {reader}"
    return SourceRelation(
        sql=sql,
        columns=names,
        types={b: types[a] for a, b in zip(cols, names, strict=True)},
        rejects=rej,
        numbered=False,
    )


def safe_names(names: list[str]) -> list[str]:
    """Source column names that cannot be mistaken for journeymap's working columns (``_jm_...``) or
    for each other (the engine's names ignore case): ``_jm_reason`` is kept as ``jm_reason``, an empty
    name at position i as ``column{i}``, a second ``ID`` beside ``id`` as ``ID_1``.

    >>> safe_names(["id", "_jm_reason", "", "ID", "jm_reason"])
    ['id', 'jm_reason_1', 'column2', 'ID_1', 'jm_reason']
    """
    taken: set[str] = set()
    keep: list[bool] = []
    for name in names:
        ok = bool(name) and not name.lower().startswith("_jm_") and name.lower() not in taken
        keep.append(ok)
        if ok:
            taken.add(name.lower())
    out = []
    for i, (name, ok) in enumerate(zip(names, keep, strict=True)):
        if not ok:
            base = name[1:] if name.lower().startswith("_jm_") else name or f"column{i}"
            new, k = base, 0
            while new.lower() in taken or new.lower().startswith("_jm_"):
                k += 1
                new = f"{base}_{k}"
            name = new
            taken.add(name.lower())
        out.append(name)
    return out


def _aliases(columns: list[str], names: list[str]) -> str:
    return ", ".join(
        quote_ident(a) if a == b else f"{quote_ident(a)} AS {quote_ident(b)}"
        for a, b in zip(columns, names, strict=True)
    )


def _open_parquet(db, path: Path) -> SourceRelation:
    reader = f"read_parquet({quote_str(str(path))})"
    cols, types = _describe(db, f"SELECT * FROM {reader}")
    # the row number from the reader itself (a window over the scan costs a tenth of the load)
    numbered = f"read_parquet({quote_str(str(path))}, file_row_number=true)"
    names = safe_names(cols)
    sql = f"SELECT file_row_number + 1 AS _jm_row, {_aliases(cols, names)} FROM {numbered}"
    if "file_row_number" in (c.lower() for c in cols):  # the reader's own row number would clash with it
        sql = f"SELECT row_number() OVER () AS _jm_row, {_aliases(cols, names)} FROM {reader}"
    return SourceRelation(
        sql=sql, columns=names, types={b: types[a] for a, b in zip(cols, names, strict=True)}, numbered=True
    )


def _json_columns(db, objects_sql: str, path: Path) -> list[str]:
    rows = db.execute(
        f"SELECT k, min(_jm_row) AS first FROM (SELECT unnest(json_keys(j)) AS k, _jm_row FROM ({objects_sql}) "
        "WHERE json_type(j) = 'OBJECT') GROUP BY k ORDER BY first, k"
    ).fetchall()
    if not rows:
        raise InputError(f"Source file {str(path)!r} holds no JSON objects; each record must be an object.")
    return [r[0] for r in rows]


def _json_relation(db, objects_sql: str, path: Path) -> SourceRelation:
    keys = _json_columns(db, objects_sql, path)
    cols = safe_names(keys)
    fields = ", ".join(
        f"CASE WHEN json_type(j) = 'OBJECT' THEN {_json_field(k)} END AS {quote_ident(c)}"
        for k, c in zip(keys, cols, strict=True)
    )
    sql = (
        f"SELECT _jm_row, CASE WHEN j IS NULL THEN 'malformed JSON line' WHEN json_type(j) <> 'OBJECT' "
        f"THEN 'record is a JSON ' || lower(json_type(j)) || ', not an object' END AS _jm_bad, _jm_line, {fields} "
        f"FROM ({objects_sql})"
    )
    return SourceRelation(sql=sql, columns=cols, types={c: "VARCHAR" for c in cols}, bad=True)


def _json_field(key: str) -> str:
    """SQL of an object's value under ``key`` as text; keys a JSON path cannot name (empty, with a
    quote or a backslash) through the object read as a map."""
    if key and '"' not in key and "\\" not in key:
        return f"json_extract_string(j, {quote_str('$.' + chr(34) + key + chr(34))})"
    return f"json_extract_string(TRY_CAST(j AS MAP(VARCHAR, JSON))[{quote_str(key)}], '$')"


def _open_ndjson(db, path: Path, n: int) -> SourceRelation:
    lines = (
        f"SELECT row_number() OVER () AS _jm_row, line AS _jm_line FROM read_csv({quote_str(str(path))}, "
        "columns={'line': 'VARCHAR'}, header=false, delim='\x01', quote='', escape='', auto_detect=false, "
        f"max_line_size={MAX_RECORD_BYTES}, buffer_size={2 * MAX_RECORD_BYTES}, compression='auto', strict_mode=false)"
    )
    objects = f"SELECT _jm_row, _jm_line, try_cast(_jm_line AS JSON) AS j FROM ({lines}) WHERE trim(_jm_line) <> ''"
    return _json_relation(db, objects, path)


def _open_json_array(db, path: Path, n: int) -> SourceRelation:
    objects = (
        f"SELECT row_number() OVER () AS _jm_row, json AS j, json::VARCHAR AS _jm_line "
        f"FROM read_json_objects({quote_str(str(path))}, format='array', compression='auto_detect', maximum_object_size={MAX_RECORD_BYTES})"
    )
    db.execute(f"SELECT count(*) FROM ({objects})").fetchall()  # fail early on a broken file
    return _json_relation(db, objects, path)
