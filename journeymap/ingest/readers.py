"""Readers: tell a source file's format and check it before the engine reads it (DuckDB's readers:
:mod:`journeymap.engine.duckdb_load.readers`).

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
from pathlib import Path

from journeymap.errors import InputError
from journeymap.ingest.count import (
    csv_counter,
    gzip_sentence,
    lone_cr_sentence,
    long_record_sentence,
    unclosed_sentence,
)

FORMATS = ("csv", "tsv", "parquet", "json", "ndjson")

_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
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
    for bom, name in (
        (b"\xff\xfe\x00\x00", "UTF-32"),
        (b"\x00\x00\xfe\xff", "UTF-32"),
        (b"\xff\xfe", "UTF-16"),
        (b"\xfe\xff", "UTF-16"),
    ):
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
        return (
            f"Source file {name!r} is gzip-compressed but its name does not end in .gz; rename it "
            f"{path.name}.gz (or gunzip it) and ingest it again."
        )
    if head.startswith(b"PK\x03\x04"):
        return (
            f"Source file {name!r} is a ZIP archive (an Excel .xlsx workbook is one), not {fmt} text; unzip it, "
            "or save the sheet as CSV (UTF-8), and ingest that file."
        )
    if head.startswith(b"PAR1"):
        return f"Source file {name!r} is a Parquet file; name it .parquet or pass --source-format parquet."
    sample = head[:4096]
    control = sum(sample.count(bytes([b])) for b in (*range(0, 9), *range(14, 32)))
    if control * 10 > len(sample):
        return (
            f"Source file {name!r} is binary data, not {fmt} text ({control} control bytes in its first "
            f"{len(sample):,}); check that it is the file you meant to ingest."
        )
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
    return (
        f"Source file {str(path)!r} cannot be read as {fmt} ({msg}); check the file or pass the right --source-format."
    )


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
