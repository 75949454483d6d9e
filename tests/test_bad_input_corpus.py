"""A corpus of bad input and faults, through the CLI, the way a user meets them (issue 14).

Each case writes a file (encodings, byte-order marks, delimiters, quotes, line endings, damaged
gzip, bad JSON, odd names and values, huge fields, binary garbage...), copies a workspace that
already holds a few rows, runs ``journeymap ingest`` and asserts:

* the exit code: 0 when the file loads (bad rows quarantined with a reason), 1 when it is refused;
* a refusal is one line on stderr (``Error: ...``, with the words the case expects), never a traceback;
* the reconcile rule: for every file, rows read = loaded + quarantined + duplicate, rows read equals
  a count made here with Python's own readers (csv, json, gzip, pyarrow: not the engine), and the
  tables grew by exactly what the report says;
* after a refusal, the workspace (events, feedback, customers, quarantine, ingest_log) is unchanged.

Most cases run in-process (``CliRunner``: a subprocess per case would take minutes); the fault
cases (a damaged warehouse, a workspace held by another process, a file-size limit, a missing key,
an interrupt) and a sample of the file cases run as real ``python -m journeymap`` processes.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from journeymap.cli import main
from journeymap.workspace import Workspace

TABLES = ("events", "feedback", "customers", "quarantine", "ingest_log")
HEADER = ("customer_id", "ts", "event")


# -- building files ------------------------------------------------------------------------------
def rows(n: int, prefix: str = "u", start: int = 0) -> list[tuple[str, str, str]]:
    """``n`` good event rows whose ids no other case uses (``prefix``)."""
    return [
        (f"{prefix}{i}", f"2024-05-01 10:{i // 60 % 60:02d}:{i % 60:02d}", "visit") for i in range(start, start + n)
    ]


def table(lines, header=HEADER, sep: str = ",", end: str = "\n", quote_all: bool = False) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator=end, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    if header is not None:
        w.writerow(header)
    w.writerows(lines)
    return buf.getvalue().encode("utf-8")


def plain(*lines: str, end: str = "\n", final: bool = True) -> bytes:
    """Lines written as they are (no quoting), e.g. deliberately broken CSV."""
    return (end.join(lines) + (end if final else "")).encode("utf-8")


def ndjson(objs, end: str = "\n") -> bytes:
    return "".join((o if isinstance(o, str) else json.dumps(o)) + end for o in objs).encode("utf-8")


def event(i: int, prefix: str = "j", **extra) -> dict:
    return {"customer_id": f"{prefix}{i}", "ts": f"2024-05-01T10:00:{i % 60:02d}", "event": "visit", **extra}


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def noise(n: int, seed: int) -> bytes:
    """Random bytes that compress badly (so a cut in the middle of a .gz is a cut in its data)."""
    return random.Random(seed).randbytes(n)


def soup(n: int, seed: int) -> bytes:
    """Random letters, commas, quotes, spaces and line breaks."""
    r = random.Random(seed)
    return bytes(r.choice(b'ab,"\n\r 1') for _ in range(n))


def big_csv(n: int, prefix: str) -> bytes:
    """``n`` rows with a random page each (32 hex digits), about 70 bytes a row."""
    r = random.Random(n)
    body = [
        (f"{prefix}{i}", f"2024-05-01 10:{i // 60 % 60:02d}:{i % 60:02d}", "visit", "/p/" + r.randbytes(16).hex())
        for i in range(n)
    ]
    return table(body, header=(*HEADER, "page"))


def parquet(columns: dict) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(columns), path)

    return write


def cut(data: bytes, at: float) -> bytes:
    return data[: int(len(data) * at)]


def flip(data: bytes, at: float) -> bytes:
    b = bytearray(data)
    b[int(len(b) * at)] ^= 0xFF
    return bytes(b)


# -- the corpus ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    name: str
    file: str
    data: bytes | Callable[[Path], None]
    outcome: str  # "load" (exit 0, bad rows quarantined) or "refuse" (exit 1, one sentence)
    says: str = ""  # words the refusal sentence must contain (case-insensitive)
    table: str = "events"
    args: tuple[str, ...] = ()
    loaded: int | None = None
    quarantined: int | None = None
    rows: int | None = None  # rows read, where the file's own reading is special (else counted here)
    subprocess: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)


GOOD = table(rows(3, "g"))
BIG_GZ = gz(big_csv(60_000, "z"))  # about 1.7 MB compressed
TEN_MIB = "x" * (10 << 20)

CASES: list[Case] = [
    # encodings and byte-order marks
    Case("utf8-bom", "bom.csv", b"\xef\xbb\xbf" + table(rows(4, "a")), "load", loaded=4),
    Case("utf8-bom-crlf", "bomcrlf.csv", b"\xef\xbb\xbf" + table(rows(4, "b"), end="\r\n"), "load", loaded=4),
    Case(
        "utf16-le-bom", "u16.csv", table(rows(3, "c")).decode().encode("utf-16"), "refuse", "iconv -f UTF-16 -t UTF-8"
    ),
    Case(
        "utf16-be-bom",
        "u16be.csv",
        b"\xfe\xff" + table(rows(3, "c")).decode().encode("utf-16-be"),
        "refuse",
        "iconv -f UTF-16 ",
    ),
    Case("utf16-le-no-bom", "u16le.csv", table(rows(3, "c")).decode().encode("utf-16-le"), "refuse", "UTF-16LE"),
    Case("utf16-be-no-bom", "u16be2.csv", table(rows(3, "c")).decode().encode("utf-16-be"), "refuse", "UTF-16BE"),
    Case("utf32-bom", "u32.csv", table(rows(3, "c")).decode().encode("utf-32"), "refuse", "UTF-32"),
    Case("utf16-ndjson", "u16.ndjson", ndjson([event(1)]).decode().encode("utf-16"), "refuse", "UTF-16"),
    Case(
        "latin1",
        "latin1.csv",
        table([("d1", "2024-05-01", "café")]).decode().encode("latin-1"),
        "refuse",
        "iconv -f LATIN1",
    ),
    Case(
        "cp1252-quotes",
        "cp1252.csv",
        "customer_id,ts,event\nd2,2024-05-01,\u201cquoted\u201d\n".encode("cp1252"),
        "refuse",
        "not UTF-8",
    ),
    Case(
        "utf8-multibyte",
        "mb.csv",
        table([("ü1", "2024-05-01", "Größe 🛒"), ("日本", "2024-05-01", "購入")]),
        "load",
        loaded=2,
    ),
    Case(
        "utf8-rtl-zero-width",
        "rtl.csv",
        table([("e\u200b1", "2024-05-01", "\u202ecart"), ("e2", "2024-05-01", "שלום")]),
        "load",
        loaded=2,
    ),
    Case("bom-ndjson", "bom.ndjson", b"\xef\xbb\xbf" + ndjson([event(1, "bn"), event(2, "bn")]), "load", loaded=2),
    Case("png-as-csv", "image.csv", b"\x89PNG\r\n\x1a\n" + noise(2000, 1), "refuse", "binary data"),
    Case("gzip-named-csv", "packed.csv", gz(table(rows(50, "pk"))), "refuse", "rename it packed.csv.gz"),
    Case("zip-as-csv", "archive.csv", b"PK\x03\x04" + noise(500, 2), "refuse", "ZIP archive"),
    Case(
        "latin1-after-head",
        "late.csv",
        table(rows(40_000, "lh")) + "lh-x,2024-05-01,caf\xe9\n".encode("latin-1"),
        "load",
        loaded=40_000,
        quarantined=1,
    ),
    # delimiters
    Case("semicolon", "semi.csv", table(rows(3, "s"), sep=";"), "refuse", "semicolon"),
    Case("tsv-named-csv", "tabs.csv", table(rows(3, "t"), sep="\t"), "refuse", "--source-format tsv"),
    Case("csv-named-tsv", "commas.tsv", table(rows(3, "t2")), "refuse", "--source-format csv"),
    Case("tsv", "good.tsv", table(rows(5, "t3"), sep="\t"), "load", loaded=5),
    Case("tsv-forced", "good.dat", table(rows(5, "t4"), sep="\t"), "load", args=("--source-format", "tsv"), loaded=5),
    Case("pipe", "pipe.csv", table(rows(3, "p"), sep="|"), "refuse", "customer_id"),
    Case(
        "trailing-delimiter",
        "trail.csv",
        plain("customer_id,ts,event,", "td1,2024-05-01,visit,", "td2,2024-05-01,visit,"),
        "load",
        loaded=2,
    ),
    Case(
        "spaces-after-commas",
        "spaces.csv",
        plain("customer_id, ts, event", "sp1, 2024-05-01, visit"),
        "load",
        args=("--map", "ts= ts", "--map", "touchpoint= event"),
        loaded=1,
    ),
    # quotes
    Case(
        "multiline-values",
        "multi.csv",
        table([("m1", "2024-05-01", "line one\nline two"), ("m2", "2024-05-01", "a\r\nb")]),
        "load",
        loaded=2,
    ),
    Case(
        "doubled-quotes",
        "dq.csv",
        table([("q1", "2024-05-01", 'say "hi"'), ("q2", "2024-05-01", '""')]),
        "load",
        loaded=2,
    ),
    Case("all-quoted", "allq.csv", table(rows(20, "aq"), quote_all=True), "load", loaded=20),
    Case(
        "stray-quote-mid-value",
        "stray.csv",
        plain("customer_id,ts,event", 'sq1,2024-05-01,vi"sit', "sq2,2024-05-01,cart"),
        "load",
        loaded=2,
    ),
    Case(
        "quote-then-text",
        "qtext.csv",
        plain("customer_id,ts,event", 'qt1,2024-05-01,"vi"sit', "qt2,2024-05-01,cart"),
        "refuse",
        "quotes",
    ),
    Case(
        "quote-then-text-late",
        "qtextlate.csv",
        table(rows(30_000, "ql")) + b'ql-x,2024-05-01,"vi"sit\n',
        "load",
        loaded=30_000,
        quarantined=1,
    ),
    Case(
        "single-quotes",
        "sq.csv",
        plain("customer_id,ts,event", "'s1',2024-05-01,'visit, home'", "s2,2024-05-01,cart"),
        "load",
        loaded=1,
        quarantined=1,
    ),
    Case("quoted-header", "qh.csv", plain('"customer_id","ts","event"', "qh1,2024-05-01,visit"), "load", loaded=1),
    Case(
        "unclosed-quote-top",
        "uqtop.csv",
        plain("customer_id,ts,event", 'uq1,"2024-05-01,visit', *(",".join(r) for r in rows(50, "uq"))),
        "refuse",
        "unterminated quote",
    ),
    Case(
        "unclosed-quote-row-30000",
        "uq30k.csv",
        table(rows(30_000, "uk")) + b'uk-x,"2024-05-01,visit\n' + table(rows(1_000, "uk", 30_000), header=None),
        "refuse",
        "row 30,001",
    ),
    Case(
        "stray-quotes-swallow-500",
        "swallow.csv",
        table(rows(30_000, "sw"))
        + b'sw-x,2024-05-01,"visit\n'
        + table(rows(499, "sw", 30_000), header=None)
        + b'sw-y,2024-05-01,"cart\n'
        + table(rows(500, "sw", 40_000), header=None),
        "refuse",
        "line 30,002",
    ),
    Case(
        "quoted-value-eof",
        "qeof.csv",
        plain("customer_id,ts,event", "qe1,2024-05-01,visit", 'qe2,2024-05-01,"visit'),
        "refuse",
        "unterminated quote",
    ),
    # line endings
    Case("crlf", "crlf.csv", table(rows(6, "cr"), end="\r\n"), "load", loaded=6),
    Case("cr-only", "cr.csv", table(rows(6, "co"), end="\r"), "load", loaded=6, rows=6),
    Case(
        "mixed-endings",
        "mixed.csv",
        plain("customer_id,ts,event", "mx1,2024-05-01,visit", end="\r") + plain("mx2,2024-05-01,v", "mx3,2024-05-01,v"),
        "refuse",
        "line endings",
    ),
    Case(
        "lone-cr-in-value",
        "lonecr.csv",
        plain("customer_id,ts,event", "lc1,2024-05-01,vi\r\rsit", "lc2,2024-05-01,cart"),
        "refuse",
        "carriage return",
    ),
    Case(
        "lone-cr-in-value-late",
        "lonecrlate.csv",
        table(rows(30_000, "lr")) + b"lr-x,2024-05-01,@help \r\rmy order\n" + table(rows(5, "lr", 30_000), header=None),
        "refuse",
        "row 30,001",
    ),
    Case(
        "quoted-cr-in-value",
        "quotedcr.csv",
        plain("customer_id,ts,event", 'qc1,2024-05-01,"vi\r\rsit"', "qc2,2024-05-01,cart"),
        "load",
        loaded=2,
    ),
    Case(
        "crlf-then-lf",
        "crlflf.csv",
        plain("customer_id,ts,event", "cl1,2024-05-01,visit", end="\r\n")
        + plain("cl2,2024-05-01,cart", "cl3,2024-05-01,v"),
        "refuse",
        "line endings",
    ),
    Case(
        "crlf-then-lf-late",
        "crlflflate.csv",
        table(rows(30_000, "cf"), end="\r\n")
        + plain("cf-x,2024-05-01,visit")
        + table(rows(5, "cf", 30_000), header=None, end="\r\n"),
        "refuse",
        "row 30,001 (line 30,002 of the file) ends in \\n alone",
    ),
    Case(
        "no-final-newline",
        "nofinal.csv",
        plain("customer_id,ts,event", "nf1,2024-05-01,visit", "nf2,2024-05-01,cart", final=False),
        "load",
        loaded=2,
    ),
    Case(
        "blank-lines",
        "blank.csv",
        plain("customer_id,ts,event", "", "bl1,2024-05-01,visit", "", "", "bl2,2024-05-01,cart", ""),
        "load",
        loaded=2,
    ),
    Case(
        "blank-crlf-lines",
        "blankcrlf.csv",
        plain("customer_id,ts,event", "", "bc1,2024-05-01,visit", "", end="\r\n"),
        "load",
        loaded=1,
    ),
    Case(
        "leading-blank-lines",
        "lead.csv",
        plain("", "", "customer_id,ts,event", "lb1,2024-05-01,visit"),
        "load",
        loaded=1,
    ),
    Case(
        "whitespace-lines",
        "wsl.csv",
        plain("customer_id,ts,event", "ws1,2024-05-01,visit", "   ", "\t", "ws2,2024-05-01,cart"),
        "load",
        loaded=2,
        quarantined=2,
    ),
    # structure
    Case("header-only", "hdr.csv", plain("customer_id,ts,event"), "load", loaded=0, quarantined=0),
    Case("header-only-no-newline", "hdr2.csv", plain("customer_id,ts,event", final=False), "load", loaded=0),
    Case("empty-file", "empty.csv", b"", "refuse", "is empty"),
    Case("whitespace-file", "blankfile.csv", b"  \n\n \r\n", "refuse", "is empty"),
    Case("no-header", "nohdr.csv", table(rows(3, "nh"), header=None), "refuse", "no column"),
    Case(
        "ragged-rows",
        "ragged.csv",
        plain("customer_id,ts,event", "rg1,2024-05-01", "rg2,2024-05-01,visit,extra", "rg3,2024-05-01,cart"),
        "load",
        loaded=1,
        quarantined=2,
    ),
    Case(
        "duplicate-headers",
        "duph.csv",
        plain("customer_id,ts,event,event", "dh1,2024-05-01,visit,other"),
        "load",
        loaded=1,
    ),
    Case(
        "case-duplicate-headers",
        "caseh.csv",
        plain("customer_id,ts,event,Page,page", "ch1,2024-05-01,visit,A,a"),
        "load",
        loaded=1,
    ),
    Case("empty-header-name", "emptyh.csv", plain("customer_id,,ts,event", "eh1,x,2024-05-01,visit"), "load", loaded=1),
    Case(
        "delimiters-only-row",
        "commas.csv",
        plain("customer_id,ts,event", ",,", "dr1,2024-05-01,visit"),
        "load",
        loaded=1,
        quarantined=1,
    ),
    Case(
        "2000-columns",
        "wide.csv",
        table(
            [("w1", "2024-05-01", "visit", *map(str, range(1997)))], header=(*HEADER, *(f"c{i}" for i in range(1997)))
        ),
        "load",
        loaded=1,
    ),
    Case(
        "1mb-field",
        "field1m.csv",
        table(
            [("f1", "2024-05-01", "visit", "y" * (1 << 20)), ("f2", "2024-05-01", "visit", "")],
            header=(*HEADER, "note"),
        ),
        "load",
        loaded=2,
    ),
    Case(
        "10mib-field",
        "field10m.csv",
        table([("f3", "2024-05-01", "visit", TEN_MIB), ("f4", "2024-05-01", "cart", "z")], header=(*HEADER, "note")),
        "load",
        loaded=2,
    ),
    Case(
        "10mib-field-late",
        "field10mlate.csv",
        table([*rows(30_000, "fl"), ("fl-x", "2024-05-01", "visit")]).replace(
            b"fl-x,2024-05-01,visit", b"fl-x,2024-05-01," + TEN_MIB.encode()
        ),
        "load",
        loaded=30_001,
    ),
    Case(
        "40mib-field",
        "field40m.csv",
        table([("f5", "2024-05-01", "x" * (40 << 20))]),
        "refuse",
        "longer than journeymap reads (32 MiB)",
    ),
    Case("long-event-name", "longname.csv", table([("ln1", "2024-05-01", "e" * 100_000)]), "load", loaded=1),
    Case(
        "nul-bytes",
        "nul.csv",
        plain("customer_id,ts,event", "nu1,2024-05-01,vi\x00sit", "nu2,2024-05-01,cart"),
        "load",
        loaded=2,
    ),
    Case(
        "control-chars",
        "ctrl.csv",
        table([("cc1", "2024-05-01", "a\x01b\x07c\x1b[31m"), ("cc2\x7f", "2024-05-01", "\x0b\x0c")]),
        "load",
        loaded=2,
    ),
    Case(
        "binary-garbage-after-header",
        "garbage.csv",
        b"customer_id,ts,event\n" + noise(3000, 3),
        "refuse",
        "binary data",
    ),
    Case("garbage-ascii-after-header", "garbage2.csv", b"customer_id,ts,event\n" + soup(3000, 4), "refuse", ""),
    Case(
        "hash-lines",
        "hash.csv",
        plain("customer_id,ts,event", "#h1,2024-05-01,visit", "# note", "h2,2024-05-01,item #5"),
        "load",
        loaded=2,
        quarantined=1,
    ),
    Case(
        "comment-first-line",
        "comment.csv",
        plain("# exported 2024", "customer_id,ts,event", "cf1,2024-05-01,visit"),
        "refuse",
        "no column",
    ),
    # gzip
    Case("gz", "ok.csv.gz", gz(table(rows(40, "gz"))), "load", loaded=40),
    Case("gz-cut-60pct", "cut.csv.gz", cut(BIG_GZ, 0.6), "refuse", "ends early"),
    Case("gz-cut-1mb", "cut1m.csv.gz", BIG_GZ[: 1 << 20], "refuse", "near byte 1,048,576"),
    Case("gz-cut-in-header", "cuthead.csv.gz", BIG_GZ[:15], "refuse", ""),
    # (a flipped byte in a large .gz can make DuckDB's rejects table take minutes over the garbage: a small one)
    Case("gz-flipped-byte", "flip.csv.gz", flip(gz(big_csv(3_000, "fb")), 0.5), "refuse", "damaged"),
    Case("gz-bad-crc", "crc.csv.gz", flip(BIG_GZ, 1 - 6 / len(BIG_GZ)), "refuse", "CRC"),
    Case("gz-trailing-garbage", "tail.csv.gz", gz(table(rows(5, "tg"))) + b"garbage!", "refuse", "damaged"),
    Case(
        "gz-two-members",
        "two.csv.gz",
        gz(table(rows(5, "m1"))) + gz(table(rows(5, "m2", 5), header=None)),
        "load",
        loaded=10,
    ),
    Case("gz-of-nothing", "nothing.csv.gz", gz(b""), "refuse", "is empty"),
    Case("gz-tsv", "ok.tsv.gz", gz(table(rows(7, "gt"), sep="\t")), "load", loaded=7),
    Case(
        "gz-ndjson-cut",
        "cut.ndjson.gz",
        cut(
            gz(
                ndjson(
                    [event(i, "nc", pad="".join(random.Random(i).choices("abcdef0123", k=40))) for i in range(20_000)]
                )
            ),
            0.5,
        ),
        "refuse",
        "ends early",
    ),
    Case(
        "gz-json-cut",
        "cut.json.gz",
        cut(gz(json.dumps([event(i, "jc") for i in range(5_000)]).encode()), 0.5),
        "refuse",
        "",
    ),
    Case("gz-ndjson", "ok.ndjson.gz", gz(ndjson([event(i, "ng") for i in range(9)])), "load", loaded=9),
    # NDJSON
    Case("ndjson", "ok.ndjson", ndjson([event(i, "n") for i in range(5)]), "load", loaded=5),
    Case(
        "ndjson-malformed-line",
        "mal.ndjson",
        ndjson([event(1, "ml"), '{"customer_id": "ml2", ', event(3, "ml")]),
        "load",
        loaded=2,
        quarantined=1,
    ),
    Case(
        "ndjson-blank-lines", "blank.ndjson", ndjson([event(1, "nb"), "", "   ", event(2, "nb"), ""]), "load", loaded=2
    ),
    Case(
        "ndjson-array-line",
        "arr.ndjson",
        ndjson([event(1, "na"), "[1, 2]", event(2, "na")]),
        "load",
        loaded=2,
        quarantined=1,
    ),
    Case(
        "ndjson-scalar-line",
        "scalar.ndjson",
        ndjson([event(1, "ns"), "42", '"text"', "null", event(2, "ns")]),
        "load",
        loaded=2,
        quarantined=3,
    ),
    Case("ndjson-empty-key", "ekey.ndjson", ndjson([event(1, "ek", **{"": "v"}), event(2, "ek")]), "load", loaded=2),
    Case(
        "ndjson-odd-keys",
        "okey.ndjson",
        ndjson([event(1, "ok", **{'q"k': 1, "b\\s": 2, "a.b": 3, "$x": 4})]),
        "load",
        loaded=1,
    ),
    Case("ndjson-case-keys", "ckey.ndjson", ndjson([event(1, "ck", ID="A", id="a")]), "load", loaded=1),
    Case(
        "ndjson-duplicate-keys",
        "dkey.ndjson",
        ndjson(['{"customer_id": "dk1", "ts": "2024-05-01", "event": "a", "event": "b"}']),
        "load",
        loaded=1,
    ),
    Case(
        "ndjson-nested",
        "nested.ndjson",
        ndjson([event(1, "nn", cart={"items": [1, {"sku": "x"}]}, tags=["a", "b"])]),
        "load",
        loaded=1,
    ),
    Case(
        "ndjson-nan-literal",
        "nan.ndjson",
        ndjson([event(1, "nl"), '{"customer_id": "nl2", "ts": "2024-05-01", "event": "v", "revenue": NaN}']),
        "load",
        loaded=1,
        quarantined=1,
    ),
    Case(
        "ndjson-infinity-literal",
        "inf.ndjson",
        ndjson([event(1, "il"), '{"customer_id": "il2", "ts": "2024-05-01", "event": "v", "revenue": Infinity}']),
        "load",
        loaded=1,
        quarantined=1,
    ),
    Case("ndjson-crlf", "crlf.ndjson", ndjson([event(i, "nr") for i in range(3)], end="\r\n"), "load", loaded=3),
    Case(
        "ndjson-cut-last-line",
        "cutl.ndjson",
        ndjson([event(1, "cl"), event(2, "cl")]) + b'{"customer_id": "cl3", "ts": "2024-',
        "load",
        loaded=2,
        quarantined=1,
    ),
    Case("ndjson-all-malformed", "allbad.ndjson", ndjson(["{", "}", "nope"]), "refuse", "no JSON objects"),
    Case("ndjson-10mib-line", "big.ndjson", ndjson([event(1, "nt", note=TEN_MIB), event(2, "nt")]), "load", loaded=2),
    Case(
        "ndjson-html-keys",
        "html.ndjson",
        ndjson([event(1, "nh", **{"<b>k</b>": "<script>x</script>"})]),
        "load",
        loaded=1,
    ),
    # JSON arrays
    Case("json-array", "ok.json", json.dumps([event(i, "ja") for i in range(4)]).encode(), "load", loaded=4),
    Case(
        "json-array-cut",
        "cut.json",
        json.dumps([event(i, "jt") for i in range(50)]).encode()[:-40],
        "refuse",
        "cannot be read as json",
    ),
    Case("json-single-object", "one.json", json.dumps(event(1, "jo")).encode(), "refuse", ""),
    Case("json-array-of-scalars", "scalars.json", b"[1, 2, 3]", "refuse", "no JSON objects"),
    Case("json-empty-array", "empty.json", b"[]", "refuse", "no JSON objects"),
    Case(
        "json-mixed-array",
        "mixed.json",
        json.dumps([event(1, "jm"), 5, "x", event(2, "jm")]).encode(),
        "load",
        loaded=2,
        quarantined=2,
    ),
    # Parquet
    Case(
        "parquet",
        "ok.parquet",
        parquet({"customer_id": ["pq1", "pq2"], "ts": ["2024-05-01", "2024-05-02"], "event": ["a", "b"]}),
        "load",
        loaded=2,
    ),
    Case(
        "parquet-cut",
        "cut.parquet",
        lambda p: (
            parquet(
                {"customer_id": [f"pc{i}" for i in range(1000)], "ts": ["2024-05-01"] * 1000, "event": ["a"] * 1000}
            )(p),
            p.write_bytes(p.read_bytes()[:-300]),
        ),
        "refuse",
        "parquet",
    ),
    Case("parquet-garbage", "junk.parquet", noise(4000, 5), "refuse", "parquet"),
    Case("parquet-zero-rows", "none.parquet", parquet({"customer_id": [], "ts": [], "event": []}), "load", loaded=0),
    Case(
        "parquet-zero-rows-typed",
        "none2.parquet",
        lambda p: __import__("pyarrow.parquet").parquet.write_table(
            __import__("pyarrow").table(
                {
                    "customer_id": __import__("pyarrow").array([], "string"),
                    "ts": __import__("pyarrow").array([], "string"),
                    "event": __import__("pyarrow").array([], "string"),
                }
            ),
            p,
        ),
        "load",
        loaded=0,
    ),
    Case(
        "parquet-jm-column",
        "jm.parquet",
        parquet({"customer_id": ["pj1"], "ts": ["2024-05-01"], "event": ["a"], "_jm_reason": ["mine"]}),
        "load",
        loaded=1,
    ),
    Case(
        "parquet-file-row-number-column",
        "frn.parquet",
        parquet({"customer_id": ["pf1"], "ts": ["2024-05-01"], "event": ["a"], "file_row_number": [7]}),
        "load",
        loaded=1,
    ),
    Case(
        "parquet-epoch-ns",
        "ns.parquet",
        parquet({"customer_id": ["pn1"], "ts": [1_714_557_600_000_000_000], "event": ["a"]}),
        "load",
        loaded=1,
    ),
    Case(
        "parquet-epoch-nan-inf",
        "naninf.parquet",
        parquet(
            {"customer_id": ["pi1", "pi2", "pi3"], "ts": [1.7e9, float("nan"), float("inf")], "event": ["a", "b", "c"]}
        ),
        "load",
        loaded=1,
        quarantined=2,
    ),
    Case(
        "parquet-as-csv",
        "pq.csv",
        parquet({"customer_id": ["x"], "ts": ["2024-05-01"], "event": ["a"]}),
        "refuse",
        "--source-format parquet",
    ),
    # names and values
    Case(
        "jm-reason-column",
        "jmr.csv",
        plain("customer_id,ts,event,_jm_reason", "jr1,2024-05-01,visit,mine", "jr2,never,visit,mine"),
        "load",
        loaded=1,
        quarantined=1,
    ),
    Case(
        "jm-row-column",
        "jmrow.csv",
        plain("customer_id,ts,event,_jm_row,_JM_Bad", "jw1,2024-05-01,visit,99,x"),
        "load",
        loaded=1,
    ),
    Case(
        "html-script-names",
        "html.csv",
        table(
            [
                ("<b>h1</b>", "2024-05-01", "<script>alert(1)</script>"),
                ("h2", "2024-05-01", "<img src=x onerror=alert(1)>"),
            ]
        ),
        "load",
        loaded=2,
    ),
    Case(
        "formula-injection",
        "formula.csv",
        table([("=cmd|' /C calc'!A0", "2024-05-01", "+SUM(1)"), ("@x", "2024-05-01", "-2+3")]),
        "load",
        loaded=2,
    ),
    Case(
        "empty-customer-ids",
        "noid.csv",
        plain("customer_id,ts,event", ",2024-05-01,visit", "  ,2024-05-01,visit", "ok1,2024-05-01,visit"),
        "load",
        loaded=1,
        quarantined=2,
    ),
    Case(
        "empty-event-names",
        "noevent.csv",
        plain("customer_id,ts,event", "ne1,2024-05-01,", "ne2,2024-05-01,visit"),
        "load",
        loaded=1,
        quarantined=1,
    ),
    Case(
        "bad-timestamps",
        "badts.csv",
        plain("customer_id,ts,event", "bt1,yesterday,visit", "bt2,2024-13-45,visit", "bt3,2024-05-01,visit"),
        "load",
        loaded=1,
        quarantined=2,
    ),
    Case(
        "revenue-nan-inf",
        "rev.csv",
        plain(
            "customer_id,ts,event,revenue",
            "rv1,2024-05-01,buy,NaN",
            "rv2,2024-05-01,buy,inf",
            "rv3,2024-05-01,buy,-Infinity",
            "rv4,2024-05-01,buy,12.5",
            "rv5,2024-05-01,buy,1e400",
        ),
        "load",
        loaded=1,
        quarantined=4,
    ),
    Case(
        "year-10000",
        "y10k.csv",
        plain("customer_id,ts,event", "yk1,10000-01-01,visit", "yk2,2024-05-01,visit"),
        "load",
        loaded=1,
        quarantined=1,
    ),
    Case(
        "year-0012",
        "y12.csv",
        plain("customer_id,ts,event", "yt1,0012-01-01,visit", "yt2,2024-05-01,visit"),
        "load",
        loaded=1,
        quarantined=1,
    ),
    Case(
        "compact-datetime",
        "compact.csv",
        plain("customer_id,ts,event", "cd1,20240501100000,visit", "cd2,20240502110000,visit"),
        "load",
        loaded=2,
    ),
    Case(
        "epoch-seconds-and-ms",
        "epoch.csv",
        plain("customer_id,ts,event", "ep1,1714557600,visit", "ep2,1714557600000,visit"),
        "load",
        loaded=2,
    ),
    Case(
        "iso-minute-offsets",
        "iso.csv",
        plain(
            "customer_id,ts,event",
            "io1,2024-05-01T10:00Z,visit",
            "io2,2024-05-01 10:00 GMT,visit",
            "io3,2024-05-01T10:00:00+05:30,visit",
        ),
        "load",
        loaded=3,
    ),
    Case(
        "ids-with-spaces",
        "idsp.csv",
        plain("customer_id,ts,event", "  is1  ,2024-05-01,visit", "is1,2024-05-01 00:00:01,visit"),
        "load",
        loaded=2,
    ),
    Case(
        "all-rows-bad",
        "allbad.csv",
        plain("customer_id,ts,event", "ab1,,visit", ",2024-05-01,visit", "ab3,2024-05-01,"),
        "load",
        loaded=0,
        quarantined=3,
    ),
    Case("same-file-twice", "twice.csv", GOOD, "load", loaded=0, quarantined=0, rows=3),
    # mapping and arguments
    Case("missing-ts-column", "nots.csv", plain("customer_id,event", "mt1,visit"), "refuse", "ts"),
    Case("map-to-absent-column", "map.csv", table(rows(2, "ma")), "refuse", "nope", args=("--map", "customer_id=nope")),
    Case("bad-map-flag", "mapflag.csv", table(rows(2, "mf")), "refuse", "TARGET=COLUMN", args=("--map", "customer_id")),
    Case(
        "wrong-source-format",
        "wrongfmt.csv",
        table(rows(2, "wf")),
        "refuse",
        "parquet",
        args=("--source-format", "parquet"),
    ),
    Case("unknown-extension", "sheet.xlsx", b"PK\x03\x04" + noise(100, 6), "refuse", "--source-format"),
    Case("bad-ts-format", "tsfmt.csv", table(rows(2, "tf")), "refuse", "%Q", args=("--ts-format", "%Q")),
    Case("bad-tz", "tz.csv", table(rows(2, "tzz")), "refuse", "Mars/Olympus", args=("--tz", "Mars/Olympus")),
    # feedback and customers
    Case(
        "feedback-bad-kind-and-nps",
        "fb.csv",
        plain(
            "customer_id,ts,text,kind,nps",
            "fk1,2024-05-01,great,survey,9",
            "fk2,2024-05-01,meh,pigeon,5",
            "fk3,2024-05-01,bad,survey,11",
        ),
        "load",
        table="feedback",
        loaded=1,
        quarantined=2,
    ),
    Case(
        "feedback-rating-500",
        "rating.csv",
        plain("customer_id,ts,text,rating,rating_scale", "fr1,2024-05-01,ok,4,5", "fr2,2024-05-01,wow,500,5"),
        "load",
        table="feedback",
        loaded=1,
        quarantined=1,
    ),
    Case(
        "customers-one-column-blank-lines",
        "cust.csv",
        plain("customer_id", "cu1", "", "cu2", ""),
        "load",
        table="customers",
        loaded=2,
        quarantined=2,
    ),
    Case(
        "customers-jm-column",
        "custjm.csv",
        plain("customer_id,_jm_reason,segment", "cj1,x,gold"),
        "load",
        table="customers",
        loaded=1,
    ),
    # a sample of the file cases again, as real processes
    Case("process-gz-cut", "pcut.csv.gz", BIG_GZ[: 1 << 20], "refuse", "ends early", subprocess=True),
    Case(
        "process-utf16", "pu16.csv", table(rows(3, "pu")).decode().encode("utf-16"), "refuse", "UTF-16", subprocess=True
    ),
    Case(
        "process-unclosed-quote",
        "puq.csv",
        table(rows(3_000, "pq")) + b'pq-x,"2024-05-01,visit\n' + table(rows(100, "pq", 3_000), header=None),
        "refuse",
        "unterminated quote",
        subprocess=True,
    ),
    Case("process-good", "pgood.csv", table(rows(100, "pg")), "load", loaded=100, subprocess=True),
    Case(
        "process-ragged",
        "pragged.csv",
        plain("customer_id,ts,event", "pr1,2024-05-01", "pr2,2024-05-01,visit"),
        "load",
        loaded=1,
        quarantined=1,
        subprocess=True,
    ),
]


# -- running a case ------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNEYMAP_WORKSPACE", "JOURNEYMAP_DEBUG")}
    env.update(COLUMNS="200", NO_COLOR="1", JOURNEYMAP_LOCK_TIMEOUT="2")
    return env


def _cli(ws: Path, args: list[str], in_process: bool) -> tuple[int, str, str]:
    if in_process:
        result = CliRunner().invoke(main, ["-w", str(ws), *args], env={"COLUMNS": "200", "NO_COLOR": "1"})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback

            tb = "".join(traceback.format_exception(result.exception))
            return result.exit_code or 99, result.stdout, result.stderr + "\nTraceback (in process)\n" + tb
        return result.exit_code, result.stdout, result.stderr
    p = subprocess.run(
        [sys.executable, "-m", "journeymap", "-w", str(ws), *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    return p.returncode, p.stdout, p.stderr


def snapshot(ws: Path) -> dict[str, list[tuple]]:
    """Every row of the workspace's tables, sorted (read with duckdb directly)."""
    con = duckdb.connect(str(ws / "journeymap.duckdb"), read_only=True)
    try:
        return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}
    finally:
        con.close()


def independent_count(path: Path) -> int:
    """Rows the file holds, read with Python's own readers (not the engine)."""
    name = path.name.lower()
    data = path.read_bytes()
    text_errors = "replace"  # a byte that is not UTF-8 stays one character: rows keep their bounds
    if name.endswith(".gz"):
        data = gzip.decompress(data)
        name = name[:-3]
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if name.endswith(".ndjson"):
        text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
        return sum(1 for line in text.split("\n") if line.strip(" "))
    if name.endswith(".json"):
        return len(json.loads(data))
    delim = "\t" if name.endswith((".tsv", ".dat")) else ","
    csv.field_size_limit(1 << 30)
    records = list(csv.reader(io.StringIO(data.decode("utf-8-sig", text_errors), newline=""), delimiter=delim))
    while records and not records[0]:
        records.pop(0)
    body = records[1:]
    return len(body) if len(records[0]) == 1 else sum(1 for r in body if r)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """A workspace holding three events and one quarantined row (so 'unchanged' means something)."""
    root = tmp_path_factory.mktemp("corpus")
    ws = Workspace.init(root / "seed")
    src = root / "seed.csv"
    src.write_bytes(GOOD + b"g-bad,not a time,visit\n")
    ws.ingest_events(src)
    ws.ingest("feedback", [_feedback_seed(root)])
    ws.close()
    return root / "seed"


def _feedback_seed(root: Path) -> Path:
    p = root / "seed_feedback.csv"
    p.write_text("customer_id,ts,text\ng0,2024-05-01,fine\n")
    return p


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_bad_input(case: Case, seeded: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(seeded, ws)
    src = tmp_path / case.file
    if callable(case.data):
        case.data(src)
    else:
        src.write_bytes(case.data)
    before = snapshot(ws)
    code, out, err = _cli(
        ws, ["ingest", case.table, str(src), "--format", "json", *case.args], in_process=not case.subprocess
    )
    assert "Traceback" not in err, err
    if case.outcome == "refuse":
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 1, (code, out, err)
        assert len(lines) == 1 and lines[0].startswith("Error: "), err
        assert case.says.lower() in lines[0].lower(), lines[0]
        assert snapshot(ws) == before, "a refused file changed the workspace"
        return
    assert code == 0, (code, err)
    report = json.loads(out)
    (source,) = report["sources"]
    read, loaded, quarantined, duplicate = (source[k] for k in ("rows_read", "loaded", "quarantined", "duplicate"))
    assert read == loaded + quarantined + duplicate
    expected = case.rows if case.rows is not None else independent_count(src)
    assert read == expected, f"the engine read {read} rows, the file holds {expected}"
    if case.loaded is not None:
        assert loaded == case.loaded
    if case.quarantined is not None:
        assert quarantined == case.quarantined
    after = snapshot(ws)
    target = case.table
    grew = {t: len(after[t]) - len(before[t]) for t in TABLES}
    if target != "customers":
        assert grew[target] == loaded
    assert grew["quarantine"] == quarantined
    assert grew["ingest_log"] == 1
    if quarantined:
        reasons = (
            duckdb.connect(str(ws / "journeymap.duckdb"), read_only=True)
            .execute("SELECT count(*) FROM quarantine WHERE reason IS NULL OR reason = '' OR reason = 'mine'")
            .fetchone()[0]
        )
        assert reasons == 0, "every quarantined row has its own reason"


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) + len(FAULTS) >= 100
    assert len({c.name for c in CASES}) == len(CASES)


def test_jm_column_is_kept_in_properties(seeded: Path, tmp_path: Path) -> None:
    """A source column named like a working column loads, keeps its value, and leaves reasons alone."""
    ws = tmp_path / "ws"
    shutil.copytree(seeded, ws)
    src = tmp_path / "jm.csv"
    src.write_bytes(plain("customer_id,ts,event,_jm_reason", "k1,2024-05-01,visit,mine", "k2,never,visit,mine"))
    code, out, err = _cli(ws, ["ingest", "events", str(src), "--format", "json"], in_process=True)
    assert code == 0, err
    con = duckdb.connect(str(ws / "journeymap.duckdb"), read_only=True)
    props = con.execute("SELECT properties FROM events WHERE customer_id = 'k1'").fetchone()[0]
    assert json.loads(props)["jm_reason"] == "mine"
    reason = con.execute("SELECT reason FROM quarantine WHERE source = ?", [str(src)]).fetchone()[0]
    assert reason.startswith("unparseable timestamp 'never'")


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_an_engine_that_drops_rows_is_caught(seeded: Path, tmp_path: Path, monkeypatch, fmt: str) -> None:
    """The safety net itself: a reader that silently returns fewer rows than the file holds (as the
    engine did with a .gz cut short, or '#' lines taken for comments) is refused, and nothing loads."""
    from dataclasses import replace

    from journeymap.engine.duckdb_load import readers as load

    real = load.open_source

    def losing(db, path, fmt, n):
        rel = real(db, path, fmt, n)
        return replace(rel, sql=f"SELECT * FROM ({rel.sql}) LIMIT 995")

    monkeypatch.setattr(load, "open_source", losing)
    ws = tmp_path / "ws"
    shutil.copytree(seeded, ws)
    src = tmp_path / f"lossy.{fmt}"
    src.write_bytes(table(rows(1000, "lo")) if fmt == "csv" else ndjson([event(i, "lo") for i in range(1000)]))
    before = snapshot(ws)
    code, out, err = _cli(ws, ["ingest", "events", str(src), "--format", "json"], in_process=True)
    assert code == 1 and "Traceback" not in err
    assert "the engine read 995 rows but the file holds 1,000 records" in err
    assert snapshot(ws) == before


# -- faults, as real processes -------------------------------------------------------------------
HOLDER = textwrap.dedent("""
    import sys, time
    import duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO ingest_log SELECT * FROM ingest_log LIMIT 0")
    print("ready", flush=True)
    time.sleep(float(sys.argv[2]))
""")


@dataclass(frozen=True)
class Fault:
    name: str
    setup: Callable[[Path, Path], dict]  # (workspace, tmp) -> options: args, preexec, signal_after, holder
    says: str = ""


def _corrupt_warehouse(ws: Path, tmp: Path) -> dict:
    db = ws / "journeymap.duckdb"
    data = bytearray(db.read_bytes())
    data[4096:8192] = noise(4096, 7)
    db.write_bytes(bytes(data))
    return {"unchanged": False}


def _truncated_warehouse(ws: Path, tmp: Path) -> dict:
    db = ws / "journeymap.duckdb"
    db.write_bytes(db.read_bytes()[:5000])
    return {"unchanged": False}


def _held_by_writer(ws: Path, tmp: Path) -> dict:
    return {"holder": True}


def _file_size_limit(ws: Path, tmp: Path) -> dict:
    import resource

    def limit() -> None:
        size = (ws / "journeymap.duckdb").stat().st_size
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 64 * 1024, size + 64 * 1024))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    src = tmp / "large.csv"
    src.write_bytes(big_csv(120_000, "fs"))
    return {"source": src, "preexec": limit}


def _missing_key(ws: Path, tmp: Path) -> dict:
    shutil.rmtree(ws)
    Workspace.init(ws, pseudonymise=True).close()
    (ws / ".journeymap-key").unlink()
    return {"after": False}


def _read_only_folder(ws: Path, tmp: Path) -> dict:
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only folders")
    for p in (ws, *ws.iterdir()):
        p.chmod(0o555 if p.is_dir() else 0o444)
    return {
        "unchanged": True,
        "restore": lambda: [p.chmod(0o755 if p.is_dir() else 0o644) for p in (ws, *ws.iterdir())],
    }


def _no_workspace(ws: Path, tmp: Path) -> dict:
    return {"workspace": tmp / "nowhere", "unchanged": False}


def _interrupt(ws: Path, tmp: Path) -> dict:
    src = tmp / "large.csv"
    src.write_bytes(big_csv(200_000, "ki"))
    return {"source": src, "signal": signal.SIGINT}


def _terminate(ws: Path, tmp: Path) -> dict:
    src = tmp / "large.csv"
    src.write_bytes(big_csv(200_000, "kt"))
    return {"source": src, "signal": signal.SIGTERM, "message": False}


def reading(pid: int, path: Path, timeout: float = 60) -> None:
    """Wait until process ``pid`` has ``path`` open (the ingest is reading it)."""
    fds = Path(f"/proc/{pid}/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc to see when the ingest reads its file")
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if any(os.readlink(fd) == str(path) for fd in fds.iterdir()):
                return
        except OSError:  # a descriptor closed while listed, or the process ended
            if not fds.is_dir():
                return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} never opened {path}")


FAULTS = [
    Fault("corrupt-warehouse", _corrupt_warehouse, "damaged"),
    Fault("truncated-warehouse", _truncated_warehouse, "damaged"),
    Fault("held-by-a-writer", _held_by_writer, "busy"),
    Fault("file-size-limit", _file_size_limit, ""),
    Fault("missing-key", _missing_key, "journeymap key import"),
    Fault("read-only-folder", _read_only_folder, ""),
    Fault("no-workspace", _no_workspace, "journeymap init"),
    Fault("ctrl-c", _interrupt, ""),
    Fault("sigterm", _terminate, ""),
]


@pytest.mark.parametrize("fault", [pytest.param(f, id=f.name) for f in FAULTS])
def test_fault(fault: Fault, seeded: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(seeded, ws)
    opts = fault.setup(ws, tmp_path)
    src = opts.get("source") or tmp_path / "f.csv"
    if "source" not in opts:
        src.write_bytes(table(rows(5, "fa")))
    target = opts.get("workspace", ws)
    check = opts.get("unchanged", True)
    before = snapshot(ws) if check else None
    holder = None
    if opts.get("holder"):
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(ws / "journeymap.duckdb"), "30"], stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout.readline().strip() == "ready"
    try:
        p = subprocess.Popen(
            [sys.executable, "-m", "journeymap", "-w", str(target), "ingest", "events", str(src)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            preexec_fn=opts.get("preexec"),
        )
        if "signal" in opts:
            reading(p.pid, src)
            p.send_signal(opts["signal"])
        out, err = p.communicate(timeout=300)
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
        if "restore" in opts:
            opts["restore"]()
    assert "Traceback" not in err, err
    if "signal" in opts and p.returncode == 0:
        pytest.skip("the ingest finished before the signal (a fast machine)")
    assert p.returncode != 0, (out, err)
    lines = [line for line in err.splitlines() if line.strip() and "waiting" not in line.lower()]
    if opts.get("message", True):
        assert len(lines) == 1, err
        assert fault.says.lower() in lines[0].lower(), lines[0]
    if check:
        assert snapshot(ws) == before
    if check and opts.get("after", True):
        # and the next ingest of a good file works, with the right counts
        good = tmp_path / "after.csv"
        good.write_bytes(table(rows(4, "af")))
        code, out, err = _cli(ws, ["ingest", "events", str(good), "--format", "json"], in_process=False)
        assert code == 0, err
        assert json.loads(out)["total"]["loaded"] == 4
