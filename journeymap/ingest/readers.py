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
import zlib
from dataclasses import dataclass
from pathlib import Path

from journeymap.errors import InputError
from journeymap.ingest.count import (
    MAX_RECORD_BYTES,
    csv_counter,
    gzip_sentence,
    lone_cr_sentence,
    long_record_sentence,
    unclosed_sentence,
)

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
    wide = _wide_encoding(head)
    if wide is not None:
        raise InputError(
            f"Source file {str(path)!r} is {wide[0]} text, not UTF-8 ({wide[1]}); convert it first, e.g. "
            f"iconv -f {wide[0]} -t UTF-8 {path.name} > utf8_{path.name}"
        )
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4 or len(head) < _SNIFF_BYTES:  # not just a character cut at the end of the sample
            binary = _binary_kind(head, path, fmt)
            if binary:
                raise InputError(binary) from None
            raise InputError(
                f"Source file {str(path)!r} is not UTF-8 text (byte {head[e.start]:#04x} at offset {e.start}); "
                f"convert it first, e.g. iconv -f LATIN1 -t UTF-8 {path.name} > utf8_{path.name}"
            ) from None


def _wide_encoding(head: bytes) -> tuple[str, str] | None:
    """(encoding, why) of UTF-16/UTF-32 when ``head`` is text in one of them: from its byte-order
    mark or, without one, from the zero byte every ASCII character then carries."""
    for bom, name in ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                      (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16")):
        if head.startswith(bom):
            return name, f"it starts with a {name} byte-order mark"
    sample = head[:4096]
    if len(sample) >= 4 and sample.count(0) * 3 >= len(sample):
        for offset, name in ((0, "UTF-16BE"), (1, "UTF-16LE")):
            if sample[offset::2].count(0) * 4 >= len(sample[offset::2]) * 3:
                return name, "every other byte is zero"
    return None


def _binary_kind(head: bytes, path: Path, fmt: str) -> str | None:
    """A sentence for a file that is not text at all (an archive, Parquet, gzip without ``.gz``, an image...)."""
    name = str(path)
    if head.startswith(b"\x1f\x8b"):
        return (f"Source file {name!r} is gzip-compressed but its name does not end in .gz; rename it "
                f"{path.name}.gz (or gunzip it) and ingest it again.")
    if head.startswith(b"PK\x03\x04"):
        return (f"Source file {name!r} is a ZIP archive (an Excel .xlsx workbook is one), not {fmt} text; unzip it, "
                "or save the sheet as CSV (UTF-8), and ingest that file.")
    if head.startswith(b"PAR1"):
        return f"Source file {name!r} is a Parquet file; name it .parquet or pass --source-format parquet."
    sample = head[:4096]
    control = sum(sample.count(bytes([b])) for b in (*range(0, 9), *range(14, 32)))
    if control * 10 > len(sample):
        return (f"Source file {name!r} is binary data, not {fmt} text ({control} control bytes in its first "
                f"{len(sample):,}); check that it is the file you meant to ingest.")
    return None


def _head(path: Path) -> bytes:
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read(_SNIFF_BYTES)
        with open(path, "rb") as f:
            return f.read(_SNIFF_BYTES)
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise InputError(gzip_sentence(path, e)) from None
    except OSError as e:
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
        raise SourceReadError(unreadable_sentence(path, fmt, e)) from None


class SourceReadError(InputError):
    """The engine's reader failed on a source file (the message says why, as far as known)."""


def unreadable_sentence(path: Path, fmt: str, e: BaseException) -> str:
    """One sentence for an engine error while reading ``path``: what is wrong and the fix."""
    text = str(e)
    msg = text.splitlines()[0] if text else type(e).__name__
    low = text.lower()
    if "maximum line size of" in low or "maximum_object_size" in low:
        return long_record_sentence(path, None, None, fmt)
    if "unicode" in msg.lower() or "utf-8" in msg.lower():
        return (
            f"Source file {str(path)!r} is not UTF-8 text; convert it first, e.g. "
            f"iconv -f LATIN1 -t UTF-8 {path.name} > utf8_{path.name}"
        )
    if fmt in ("csv", "tsv") and "sniffing" in low:
        return _sniff_sentence(path, fmt)
    return f"Source file {str(path)!r} cannot be read as {fmt} ({msg}); check the file or pass the right --source-format."


def _sniff_sentence(path: Path, fmt: str) -> str:
    """Why the engine could not work out a CSV's layout from its first lines, as far as they tell."""
    head = _head(path)
    counter = csv_counter(fmt)
    counter.feed(head)
    if counter.inq and counter.open_at is not None:
        records, breaks = counter.open_at
        return unclosed_sentence(path, max(records, 1), breaks + 1)
    if counter.lone_cr is not None:
        return lone_cr_sentence(path, *counter.lone_cr)
    outside = b"".join(head.split(b'"')[::2])  # line breaks inside quoted values are values
    crlf = outside.count(b"\r\n")
    if sum(k > 0 for k in (crlf, outside.count(b"\n") - crlf, outside.count(b"\r") - crlf)) > 1:
        return (
            f"Source file {str(path)!r} mixes line endings (\\r and \\n) in its first lines, so its rows cannot be "
            f"told apart; convert them to one kind first, e.g. dos2unix {path.name} (or tr '\\r' '\\n'), and ingest it again."
        )
    return (
        f"Source file {str(path)!r} cannot be read as {fmt}: its first lines do not split into the same columns "
        "with double quotes around values; check the header and the first rows (quotes, delimiters) or pass "
        "the right --source-format."
    )


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
    return SourceRelation(sql=sql, columns=names, types={b: types[a] for a, b in zip(cols, names, strict=True)},
                          rejects=rej, numbered=False)


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
        quote_ident(a) if a == b else f"{quote_ident(a)} AS {quote_ident(b)}" for a, b in zip(columns, names, strict=True)
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
    return SourceRelation(sql=sql, columns=names, types={b: types[a] for a, b in zip(cols, names, strict=True)}, numbered=True)


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
