"""Count: read every source file once more, independently of the engine, and count its records.

While the engine loads a file, a side thread reads the same bytes with Python's own readers:
it computes the file's sha256 (``ingest_log.content_hash``), decompresses a ``.gz`` file to its
end with :mod:`gzip` (so a file cut short or damaged anywhere is found, which the engine may read
up to the damage without a word), and counts the records:

* CSV and TSV: records of RFC 4180, line breaks inside double quotes are part of a value
  (``""`` is a quote inside a quoted value, and a quote opens a value only at its start);
  blank lines are not records (as in the engine's reader), except in a file of one column,
  where a blank line is an empty value; the header is not a record.
* NDJSON: lines that are not blank (a line ends at ``\\n``, ``\\r\\n`` or ``\\r``).
* Parquet: the row count in the file's footer, read with pyarrow.
* JSON arrays: not counted (``records`` is None).

The count is compared with the rows the engine read (loaded + quarantined + duplicate); a
difference refuses the file (:func:`journeymap.ingest.load.run_source`).

Examples
--------
>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "web.csv"
>>> _ = p.write_bytes(b'id,text\\n1,"two\\nlines"\\n\\n2,"say ""hi"" twice"\\n')
>>> s = scan_file(p, "csv")
>>> s.records(columns=2), s.problem
(2, None)
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from journeymap.engine.loader import (
    MAX_RECORD_BYTES,  # the readers' longest record: see long_record_sentence
)

CHUNK = 1 << 22
"""Bytes read (and decompressed) at a time."""


_QUOTE, _LF, _CR, _SPACE = 34, 10, 13, 32


@dataclass
class Scan:
    """What the independent reader found in one file."""

    sha256: str
    """Hex sha256 of the file's bytes (as stored, compressed or not)."""
    problem: str | None = None
    """A sentence saying why the file cannot be read to its end (damaged gzip data), or None."""
    nonblank: int | None = None
    """Records (CSV/TSV: including the header) not counting blank lines; NDJSON: non-blank lines."""
    lines: int | None = None
    """CSV/TSV records counting blank lines as records (a one-column file's reading)."""
    fixed: int | None = None
    """Parquet: rows in the footer."""
    unclosed_row: int | None = None
    """CSV/TSV: the data row (1 = the first after the header) whose quoted value never closes."""
    unclosed_line: int | None = None
    """CSV/TSV: the line of the file where that quote is."""
    long_row: int | None = None
    """The first record longer than :data:`MAX_RECORD_BYTES` (CSV/TSV: data row; NDJSON: line), if any."""
    long_bytes: int = 0
    lone_cr: tuple[int, int] | None = None
    """CSV/TSV whose lines end in \\n: (data row, line) of the first \\r inside a value that is not quoted."""
    lone_lf: tuple[int, int] | None = None
    """CSV/TSV whose lines end in \\r\\n: (data row, line) of the first line that ends in \\n alone."""

    def records(self, columns: int = 2) -> int | None:
        """Data records the file holds, for a source of ``columns`` columns (None: not counted)."""
        if self.fixed is not None:
            return self.fixed
        if self.lines is not None:  # CSV / TSV: less the header
            n = self.lines if columns == 1 else self.nonblank
            return max((n or 0) - 1, 0)
        return self.nonblank


def scan_file(path: Path, fmt: str, stop: threading.Event | None = None) -> Scan:
    """Read ``path`` (format ``fmt``) to its end: sha256, full decompression of ``.gz``, record count.

    ``stop``, when set, ends the read early (the result is then incomplete and unused).
    """
    gz = path.name.lower().endswith(".gz") and fmt != "parquet"
    counter = _CsvCounter(_DELIMITERS[fmt]) if fmt in _DELIMITERS else _LineCounter() if fmt == "ndjson" else None
    with _HashingReader(open(path, "rb")) as raw:  # noqa: SIM115 - closed by the reader
        if counter is None and not gz:
            while raw.read(CHUNK) and not (stop is not None and stop.is_set()):
                pass
            scan = Scan(sha256=raw.hexdigest())
            if fmt == "parquet":
                scan.fixed = _parquet_rows(path)
            return scan
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw
        try:
            for chunk in iter(lambda: stream.read(CHUNK), b""):
                if counter is not None:
                    counter.feed(chunk)
                if stop is not None and stop.is_set():
                    break
        except (EOFError, gzip.BadGzipFile, zlib.error) as e:
            while raw.read(CHUNK):  # the hash covers the whole file
                pass
            return Scan(sha256=raw.hexdigest(), problem=gzip_sentence(path, e, raw.position))
        scan = Scan(sha256=raw.hexdigest())
    if counter is not None:
        counter.finish(scan)
    if isinstance(counter, _CsvCounter) and counter.misplaced:
        _recount_csv(path, gz, counter.delim, scan, stop)
    return scan


def csv_counter(fmt: str) -> _CsvCounter:
    """A record counter for ``csv`` or ``tsv`` bytes fed in chunks (``feed``), e.g. a file's first lines."""
    return _CsvCounter(_DELIMITERS[fmt])


def file_sha256(path: Path) -> str:
    """sha256 of the file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


# -- sentences ---------------------------------------------------------------------------------
def mismatch_sentence(path: Path, read: int, held: int) -> str:
    """One sentence for a file the engine read differently from the independent count."""
    return (
        f"Source file {str(path)!r} was not read completely: the engine read {read:,} rows but the file "
        f"holds {held:,} records, so nothing of it was loaded; check it for stray quotes, lines that start "
        "with '#' or mixed line endings (\\r and \\n) and ingest it again."
    )


def unclosed_sentence(path: Path, row: int, line: int) -> str:
    """One sentence for a quoted value that never closes."""
    return (
        f"Source file {str(path)!r} has an unterminated quote: the quoted value on row {row:,} (line {line:,} "
        "of the file) never closes, so every line after it would be read as part of that value; close the "
        'quote (or remove the stray ") on that line and ingest the file again.'
    )


def swallowed_sentence(path: Path, line: int, lines: int) -> str:
    """One sentence for a rejected record that runs over several lines (quotes that swallow lines)."""
    return (
        f"Source file {str(path)!r} has a quoted value that runs from line {line:,} over {lines:,} or more lines and "
        "cannot be split into the header's columns (a quote that is opened and not closed swallows the "
        "lines after it), so nothing of it was loaded; close the quote on line "
        f'{line:,} (or remove the stray ") and ingest the file again.'
    )


def lone_cr_sentence(path: Path, row: int, line: int) -> str:
    """One sentence for a carriage return inside an unquoted value of a file whose lines end in \\n."""
    return (
        f"Source file {str(path)!r} has a carriage return (\\r) inside a value that is not quoted, on row {row:,} "
        f"(line {line:,} of the file), which the reader cannot split into columns; quote that value or replace "
        f"its \\r, e.g. tr '\\r' ' ' < {path.name} > fixed_{path.name}, and ingest the file again."
    )


def lone_lf_sentence(path: Path, row: int, line: int) -> str:
    """One sentence for a line ending in \\n alone in a file whose lines end in \\r\\n."""
    return (
        f"Source file {str(path)!r} mixes line endings: its lines end in \\r\\n but row {row:,} (line {line:,} of "
        f"the file) ends in \\n alone, which the reader cannot follow; convert them to one kind first, e.g. "
        f"dos2unix {path.name}, and ingest the file again."
    )


def long_record_sentence(path: Path, row: int | None, size: int | None, fmt: str) -> str:
    """One sentence for a record longer than the reader's limit."""
    where = f" ({'line' if fmt in ('ndjson', 'json') else 'row'} {row:,} is {size:,} bytes)" if row else ""
    return (
        f"Source file {str(path)!r} has a record longer than journeymap reads ({MAX_RECORD_BYTES >> 20} MiB)"
        f"{where}; shorten or split that value (e.g. move long texts to a file of their own) and ingest it again."
    )


def gzip_sentence(path: Path, e: BaseException, position: int | None = None) -> str:
    """One sentence for a ``.gz`` file whose data ends early or is corrupt (``position``: about where)."""
    size = path.stat().st_size
    where = f" near byte {position:,} of {size:,}" if position is not None else ""
    if isinstance(e, EOFError):
        what = "its gzip data ends early, without the end-of-stream marker (the file was cut short)"
        lost = "rows after that point would be lost"
    else:
        what = f"its gzip data is corrupt ({str(e).rstrip('.') or type(e).__name__})"
        lost = "its rows cannot be trusted"
    return (
        f"Source file {str(path)!r} is damaged: {what}{where}, so {lost}; "
        "copy or download the file again (gzip -t checks it) and ingest it again."
    )


# -- readers -----------------------------------------------------------------------------------
_DELIMITERS = {"csv": ord(","), "tsv": ord("\t")}


class _HashingReader(io.RawIOBase):
    """A file read through sha256: what gzip reads from it is hashed on the way."""

    def __init__(self, f) -> None:
        self._f = f
        self._h = hashlib.sha256()
        self.position = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._h.update(data)
        self.position += len(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()

    def close(self) -> None:
        self._f.close()
        super().close()

    def __enter__(self) -> _HashingReader:
        return self


def _parquet_rows(path: Path) -> int | None:
    try:
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception:  # not Parquet, or damaged: the engine's reader says so
        return None


class _LineCounter:
    """NDJSON: lines that are not blank (only spaces), a line ending at \\n or \\r."""

    def __init__(self) -> None:
        self.offset = 0
        self.count = 0
        self._after_break = True
        self._last_break = -1
        self._lines = 0
        self.long_row: int | None = None
        self.long_bytes = 0

    def feed(self, chunk: bytes) -> None:
        a = np.frombuffer(chunk, np.uint8)
        k = a[a != _SPACE]
        if k.size:
            brk = (k == _LF) | (k == _CR)
            self.count += int(np.count_nonzero(~brk[1:] & brk[:-1])) + int(self._after_break and not brk[0])
            self._after_break = bool(brk[-1])
        if self.long_row is None:
            ends = np.flatnonzero((a == _LF) | (a == _CR)) + self.offset
            gaps = np.diff(ends, prepend=self._last_break)
            far = np.flatnonzero(gaps > MAX_RECORD_BYTES)
            if far.size:
                self.long_row, self.long_bytes = self._lines + int(far[0]) + 1, int(gaps[far[0]]) - 1
            if ends.size:
                self._last_break = int(ends[-1])
            self._lines += int(ends.size)
        self.offset += len(chunk)

    def finish(self, scan: Scan) -> None:
        scan.nonblank = self.count
        if self.long_row is None and self.offset - 1 - self._last_break > MAX_RECORD_BYTES:
            self.long_row, self.long_bytes = self._lines + 1, self.offset - 1 - self._last_break
        scan.long_row, scan.long_bytes = self.long_row, self.long_bytes


class _CsvCounter:
    """CSV/TSV records, quote-aware (RFC 4180), over chunks of any size.

    Vectorised: the quotes' positions give each line break's state (inside a quoted value when an
    odd number of quotes precede it). A quote that is neither at the start of a value, nor at its
    end, nor doubled is *misplaced* (a quote inside an unquoted value, which readers keep as text);
    then the file is counted again with :mod:`csv` (:func:`_recount_csv`).
    """

    def __init__(self, delim: int) -> None:
        self.delim = delim
        self.seps = np.zeros(256, bool)  # bytes that may stand next to a quote that opens or closes a value
        self.seps[[delim, _LF, _CR, _QUOTE]] = True
        self.offset = 0
        self.inq = False
        self.term: int | None = None  # the line break: \n (also ending \r\n) or a lone \r
        self.last_term = -1  # position of the last line break outside quotes
        self.prev = -1  # the byte before the chunk (-1: the file's start)
        self.pending_close = False  # the last chunk ended with a closing quote, its next byte unseen
        self.nonblank = 0
        self.lines = 0
        self.leading = 0  # blank lines before the header
        self.breaks = 0  # line breaks, inside quotes too (for line numbers)
        self.misplaced = 0
        self.open_at: tuple[int, int] | None = None  # (records, line breaks) before the last opening quote
        self.lone_cr: tuple[int, int] | None = None  # (data row, line) of the first \r inside an unquoted value
        self.crlf: bool | None = None  # whether lines end in \r\n (from the first line break)
        self.lone_lf: tuple[int, int] | None = None  # (data row, line) of the first \n alone where lines end in \r\n
        self.long_row: int | None = None
        self.long_bytes = 0
        self._pending = b""

    def feed(self, chunk: bytes) -> None:
        if self.term is None:
            # the kind of line break comes from the first one outside quotes; keep bytes until it shows
            self._pending += chunk
            term = _first_break(self._pending)
            if term is None and len(self._pending) < MAX_RECORD_BYTES + CHUNK:
                return
            self.term = term or _LF
            chunk, self._pending = self._pending, b""
        self._count(chunk)

    def _count(self, chunk: bytes) -> None:
        a = np.frombuffer(chunk, np.uint8)
        n = a.size
        if n == 0:
            return
        if self.pending_close:
            self.misplaced += int(a[0]) not in (self.delim, _LF, _CR, _QUOTE)
            self.pending_close = False
        q = np.flatnonzero(a == _QUOTE)
        t = np.flatnonzero(a == self.term)
        start_inq = self.inq
        if q.size:
            self._check_quotes(a, q, start_inq)
            ot = t[((np.searchsorted(q, t) + start_inq) & 1) == 0]
            self.inq = bool((q.size + start_inq) & 1)
        else:
            ot = t if not start_inq else t[:0]
        records_before = self.nonblank
        filled = np.ones(0, bool)
        if ot.size:
            ends = ot + self.offset
            gaps = np.diff(ends, prepend=self.last_term)
            blank = gaps == 1
            if self.term == _LF:
                before = np.where(ot > 0, a[np.maximum(ot - 1, 0)], self.prev)
                blank |= (gaps == 2) & (before == _CR)
                if self.crlf is None:
                    self.crlf = bool(before[0] == _CR)  # the file's first line break: \r\n or \n
                if self.crlf and self.lone_lf is None and not (before == _CR).all():
                    # lines end in \r\n, this one in \n alone: the engine's reader stops there
                    first = int(np.flatnonzero(before != _CR)[0])
                    self.lone_lf = (
                        records_before + int(np.count_nonzero(~blank[:first])),
                        self.breaks + int(np.searchsorted(t, ot[first])) + 1,
                    )
            filled = ~blank
            if records_before == 0:  # blank lines before the header are skipped in any reading
                lead = np.flatnonzero(filled)
                self.leading += int(lead[0]) if lead.size else int(ot.size)
            self.nonblank += int(np.count_nonzero(filled))
            self.lines += int(ot.size)
            if self.long_row is None:
                far = np.flatnonzero(gaps > MAX_RECORD_BYTES)
                if far.size:
                    self.long_row = records_before + int(np.count_nonzero(filled[: far[0] + 1])) - 1
                    self.long_bytes = int(gaps[far[0]]) - 1
            self.last_term = int(ends[-1])
        if self.term == _LF and self.lone_cr is None:
            self._find_lone_cr(a, q, t, ot, filled, start_inq, records_before)
        if self.inq and q.size:
            # the last quote opened a value that is still open: remember where (an unclosed quote)
            last = int(q[-1])
            done = int(np.searchsorted(ot, last))
            self.open_at = (
                records_before + int(np.count_nonzero(filled[:done])),
                self.breaks + int(np.searchsorted(t, last)),
            )
        self.breaks += int(t.size)
        self.prev = int(a[-1])
        self.offset += n

    def _find_lone_cr(self, a, q, t, ot, filled, start_inq: bool, records_before: int) -> None:
        """Remember the first carriage return outside quotes that does not end a line (\\r\\n): the
        engine's reader cannot go on from one in a file whose lines end in \\n."""
        n = a.size
        cr = np.flatnonzero(a == _CR)
        if not cr.size:
            return
        lone = cr[(a[np.minimum(cr + 1, n - 1)] != _LF) & (cr < n - 1)]  # (one ending a chunk is not seen)
        if q.size:
            lone = lone[((np.searchsorted(q, lone) + start_inq) & 1) == 0]
        if lone.size:
            pos = int(lone[0])
            done = int(np.searchsorted(ot, pos))
            self.lone_cr = (
                records_before + int(np.count_nonzero(filled[:done])),
                self.breaks + int(np.searchsorted(t, pos)) + 1,
            )

    def _check_quotes(self, a: np.ndarray, q: np.ndarray, start_inq: bool) -> None:
        """Count quotes that neither open a value (after a delimiter, a line break or a quote),
        nor close one (before those), given each quote's role from the quote parity."""
        n = a.size
        opening = ((np.arange(q.size) + start_inq) & 1) == 0
        first = self.prev if self.prev >= 0 else self.delim
        before = np.where(q > 0, a[np.maximum(q - 1, 0)], first)
        after = a[np.minimum(q + 1, n - 1)]
        bad_open = opening & ~self.seps[before]
        bad_close = ~opening & ~self.seps[after] & (q < n - 1)
        self.misplaced += int(np.count_nonzero(bad_open)) + int(np.count_nonzero(bad_close))
        self.pending_close = bool(not opening[-1] and q[-1] == n - 1)

    def finish(self, scan: Scan) -> None:
        if self.term is None:
            self.term = _LF
            chunk, self._pending = self._pending, b""
            self._count(chunk)
        tail = self.offset - 1 - self.last_term  # bytes after the last line break outside quotes
        last_filled = tail > 0 and not (tail == 1 and self.prev == _CR)
        scan.nonblank = self.nonblank + int(last_filled)
        scan.lines = self.lines - self.leading + int(tail > 0)
        if self.inq and self.open_at is not None:
            records, breaks = self.open_at
            scan.unclosed_row, scan.unclosed_line = max(records, 1), breaks + 1
        if self.long_row is None and tail > MAX_RECORD_BYTES:
            self.long_row, self.long_bytes = self.nonblank, tail
        scan.long_row, scan.long_bytes = self.long_row, self.long_bytes
        scan.lone_cr = self.lone_cr
        scan.lone_lf = self.lone_lf


def _first_break(data: bytes) -> int | None:
    """The kind of the first line break outside quotes: \\n (or \\r\\n), a lone \\r, or None when unseen."""
    inq = False
    i = 0
    n = len(data)
    while i < n:
        j = min((k for k in (data.find(b'"', i), data.find(b"\n", i), data.find(b"\r", i)) if k >= 0), default=-1)
        if j < 0:
            return None
        c = data[j]
        if c == _QUOTE:
            inq = not inq
        elif not inq:
            if c == _LF:
                return _LF
            if j + 1 >= n:
                return None  # a \r at the end: \r\n or not, unknown yet
            return _LF if data[j + 1] == _LF else _CR
        i = j + 1
    return None


def _recount_csv(path: Path, gz: bool, delim: int, scan: Scan, stop: threading.Event | None) -> None:
    """Count again with :mod:`csv` (quotes inside unquoted values are text, as the engine reads them)."""
    limit = csv.field_size_limit()
    csv.field_size_limit((1 << 31) - 1)
    try:
        raw = gzip.open(path, "rb") if gz else open(path, "rb")  # noqa: SIM115
        with raw, io.TextIOWrapper(raw, encoding="latin-1", newline="") as text:
            nonblank = lines = 0
            for row in csv.reader(text, delimiter=chr(delim), quotechar='"', doublequote=True, strict=False):
                if row or nonblank:  # blank lines before the header are skipped in any reading
                    lines += 1
                nonblank += bool(row)
                if stop is not None and stop.is_set() and not lines % 65536:
                    return
        scan.nonblank, scan.lines = nonblank, lines
        scan.unclosed_row = scan.unclosed_line = None
    except csv.Error:
        scan.nonblank = scan.lines = None
    finally:
        csv.field_size_limit(limit)
