"""Ingest: formats, mapping, timestamps, quarantine reasons, reconciliation, dedupe, atomicity, CLI."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from journeymap.blueprint import Blueprint
from journeymap.errors import InputError, MappingError

ROWS = [
    {"cookie": "c1", "time": "2024-05-01T10:00:00Z", "event": "visit", "page": "/home", "amount": ""},
    {"cookie": "c1", "time": "2024-05-01T10:05:00Z", "event": "purchase", "page": "/buy", "amount": "12.5"},
    {"cookie": "c2", "time": "2024-05-02T09:00:00Z", "event": "visit", "page": "/home", "amount": ""},
]


def write(path: Path, rows: list[dict], fmt: str) -> Path:
    """Write rows (string values; '' = missing) in ``fmt``, gzipped when path ends in .gz."""
    opener = gzip.open if path.suffix == ".gz" else open
    if fmt in ("csv", "tsv"):
        df = pd.DataFrame(rows)
        text = df.to_csv(index=False, sep="," if fmt == "csv" else "\t")
        with opener(path, "wt", encoding="utf-8") as f:
            f.write(text)
    elif fmt == "ndjson":
        with opener(path, "wt", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({k: (v if v != "" else None) for k, v in r.items()}) + "\n")
    elif fmt == "json":
        with opener(path, "wt", encoding="utf-8") as f:
            json.dump([{k: (v if v != "" else None) for k, v in r.items()} for r in rows], f)
    else:
        table = pa.Table.from_pylist([{k: (v if v != "" else None) for k, v in r.items()} for r in rows])
        pq.write_table(table, path)
    return path


def events(ws) -> pd.DataFrame:
    return ws.con.con.execute("SELECT * FROM events ORDER BY ts, customer_id").df()


def quarantine(ws) -> pd.DataFrame:
    return ws.con.con.execute("SELECT * FROM quarantine ORDER BY source, row_number").df()


def counts(r):
    s = r.total
    return s.rows_read, s.loaded, s.quarantined, s.duplicate


# -- formats ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,fmt",
    [
        ("e.csv", "csv"),
        ("e.csv.gz", "csv"),
        ("e.tsv", "tsv"),
        ("e.tsv.gz", "tsv"),
        ("e.ndjson", "ndjson"),
        ("e.jsonl.gz", "ndjson"),
        ("e.json", "json"),
        ("e.json.gz", "json"),
        ("e.parquet", "parquet"),
    ],
)
def test_every_format_loads_the_same_events(ws, tmp_path, name, fmt):
    path = write(tmp_path / name, ROWS, fmt)
    r = ws.ingest_events(path, mapping={"customer_id": "cookie"})
    assert counts(r) == (3, 3, 0, 0)
    df = events(ws)
    assert list(df.customer_id) == ["c1", "c1", "c2"]
    assert list(df.touchpoint) == ["visit", "purchase", "visit"]
    assert list(df.ts) == [
        pd.Timestamp("2024-05-01 10:00"),
        pd.Timestamp("2024-05-01 10:05"),
        pd.Timestamp("2024-05-02 09:00"),
    ]
    assert df.revenue.tolist()[1] == 12.5 and pd.isna(df.revenue.tolist()[0])
    # unmapped columns as text, and the timestamp's own text (what was read can be traced to the file)
    assert json.loads(df.properties[0]) == {"page": "/home", "time": "2024-05-01T10:00:00Z"}
    assert df.seq.tolist() == [1, 2, 3]  # the file's row order
    assert r.sources[0].format == fmt
    assert set(df.source) == {str(path)}


def test_fmt_overrides_the_extension(ws, tmp_path):
    path = write(tmp_path / "e.csv", ROWS, "csv").rename(tmp_path / "e.dat")
    with pytest.raises(InputError, match="cannot be told from its extension"):
        ws.ingest_events(path)
    assert counts(ws.ingest_events(path, fmt="csv")) == (3, 3, 0, 0)


def test_typed_parquet_bad_values_count_the_same_into_an_empty_or_a_filled_table(tmp_path):
    """Into an empty table the bad rows are rows read - inserted; into a filled one a counting pass finds them."""
    from journeymap.workspace import Workspace

    t = datetime(2024, 1, 1, 12)
    table = pa.table(
        {
            "user_id": ["a", None, "b", "c", "d", "a", "e"],
            "ts": pa.array([t, t, None, t, t, t, t], pa.timestamp("us")),
            "event_name": ["visit", "visit", "visit", "buy", "buy", "visit", "buy"],
            "value": [1.0, 2.0, 3.0, float("nan"), float("inf"), 1.0, None],
            "qty": pa.array([1, 2, 3, 4, 5, 1, None], pa.int64()),
        }
    )
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    # by hand: row 2 has no customer, row 3 no time, rows 4 and 5 a non-finite revenue; row 6 repeats
    # row 1, and a repeated event of one source is an event of its own (real logs repeat events)
    want_reasons = [
        "missing customer id",
        "missing timestamp",
        "bad number in revenue: 'nan'",
        "bad number in revenue: 'inf'",
    ]
    results = []
    for name, warm_up in (("empty", False), ("filled", True)):
        ws = Workspace.init(tmp_path / name)
        if warm_up:
            ws.ingest_events(write(tmp_path / "other.csv", ROWS, "csv"), mapping={"customer_id": "cookie"})
        before = len(events(ws))
        r = ws.ingest_events(path, mapping={"revenue": "value"})
        q = ws.con.con.execute(
            f"SELECT row_number, reason FROM quarantine WHERE source = '{path}' ORDER BY row_number"
        ).fetchall()
        results.append((counts(r), q, len(events(ws)) - before))
        ws.close()
    assert results[0] == results[1]
    (rows_read, loaded, quarantined, duplicate), q, added = results[0]
    assert (rows_read, quarantined, duplicate) == (7, 4, 0) and loaded == added == 3
    assert q == list(zip([2, 3, 4, 5], want_reasons, strict=True))


def test_parquet_typed_columns(ws, tmp_path):
    table = pa.table(
        {
            "user_id": [1, 2],
            "ts": pa.array([datetime(2024, 1, 1, 12), datetime(2024, 1, 2, 12)], pa.timestamp("us")),
            "event_name": ["visit", "buy"],
            "value": [None, 9.5],
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    r = ws.ingest_events(tmp_path / "t.parquet", tz="Europe/Paris")
    assert counts(r) == (2, 2, 0, 0)
    df = events(ws)
    assert list(df.customer_id) == ["1", "2"]
    assert df.ts[0] == pd.Timestamp("2024-01-01 11:00")  # Paris is UTC+1 in January
    assert df.revenue[1] == 9.5


# -- mapping ------------------------------------------------------------------------------------
def test_automatic_mapping_is_reported(ws, tmp_path):
    rows = [
        {
            "user_id": "u1",
            "timestamp": "2024-01-01 00:00",
            "event_name": "visit",
            "utm_source": "google",
            "sales_value": "3",
        }
    ]
    r = ws.ingest_events(write(tmp_path / "a.csv", rows, "csv"))
    s = r.sources[0]
    assert s.mapping == {
        "customer_id": "user_id",
        "ts": "timestamp",
        "touchpoint": "event_name",
        "channel": "utm_source",
        "revenue": "sales_value",
    }
    assert s.guessed == ["customer_id", "ts", "touchpoint", "channel", "revenue"]
    df = events(ws)
    assert df.channel[0] == "google" and df.revenue[0] == 3.0
    assert json.loads(df.properties[0]) == {"timestamp": "2024-01-01 00:00"}


def test_mapping_by_flag_wins_over_guesses(ws, tmp_path):
    rows = [{"user_id": "u1", "account": "a1", "time": "2024-01-01", "event": "visit"}]
    ws.ingest_events(write(tmp_path / "a.csv", rows, "csv"), mapping={"customer_id": "account"})
    df = events(ws)
    assert df.customer_id[0] == "a1"
    assert json.loads(df.properties[0]) == {"time": "2024-01-01", "user_id": "u1"}


def test_mapping_by_blueprint_sources(tmp_path):
    from journeymap.workspace import Workspace

    bp = Blueprint.model_validate(
        {
            "sources": [
                {
                    "pattern": "crm_*.csv",
                    "table": "events",
                    "map": {"customer_id": "acct", "ts": "when", "touchpoint": "what"},
                    "ts_format": "%d/%m/%Y %H:%M",
                    "tz": "America/New_York",
                },
            ]
        }
    )
    ws = Workspace.init(tmp_path / "ws", blueprint=bp)
    rows = [{"acct": "A", "when": "01/02/2024 10:00", "what": "call"}]
    r = ws.ingest_events(write(tmp_path / "crm_jan.csv", rows, "csv"))
    assert r.sources[0].mapping == {"customer_id": "acct", "ts": "when", "touchpoint": "what"}
    assert r.sources[0].guessed == []
    assert events(ws).ts[0] == pd.Timestamp("2024-02-01 15:00")  # 10:00 New York = 15:00 UTC in February
    ws.close()


def test_mapping_a_missing_column_lists_the_columns(ws, tmp_path):
    path = write(tmp_path / "a.csv", ROWS, "csv")
    with pytest.raises(MappingError, match=r"Column 'visitor' .* it has: cookie, time, event, page, amount"):
        ws.ingest_events(path, mapping={"customer_id": "visitor"})
    with pytest.raises(MappingError, match="no column for customer_id"):
        ws.ingest_events(path, mapping={"touchpoint": "cookie"})
    with pytest.raises(MappingError, match="not a column of events"):
        ws.ingest_events(path, mapping={"colour": "page"})
    assert counts_in(ws) == (0, 0, 0)


def counts_in(ws):
    db = ws.con.con
    return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("events", "quarantine", "ingest_log"))


# -- timestamps ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw,tz,fmt,expected",
    [
        ("2024-03-10T12:00:00+02:00", None, None, "2024-03-10 10:00"),
        ("2024-03-10 12:00:00", "Europe/Paris", None, "2024-03-10 11:00"),
        ("2024-07-10 12:00:00", "Europe/Paris", None, "2024-07-10 10:00"),  # summer time
        ("2024-03-10T12:00:00Z", "Europe/Paris", None, "2024-03-10 12:00"),  # an offset wins over tz
        ("2015-02-24 11:35:52 -0800", None, None, "2015-02-24 19:35:52"),
        ("1700000000", None, None, "2023-11-14 22:13:20"),
        ("1700000000123", None, None, "2023-11-14 22:13:20.123"),
        ("10/03/2024 08:30", None, "%d/%m/%Y %H:%M", "2024-03-10 08:30"),
        ("10/03/2024 08:30", "Asia/Tokyo", "%d/%m/%Y %H:%M", "2024-03-09 23:30"),
        ("2024-03-10", None, None, "2024-03-10 00:00"),
    ],
)
def test_timestamps(ws, tmp_path, raw, tz, fmt, expected):
    path = write(tmp_path / "t.csv", [{"customer_id": "c", "ts": raw, "event": "e"}], "csv")
    r = ws.ingest_events(path, tz=tz, ts_format=fmt)
    assert counts(r) == (1, 1, 0, 0), quarantine(ws).reason.tolist()
    assert events(ws).ts[0] == pd.Timestamp(expected)


def test_default_tz_comes_from_the_workspace(tmp_path):
    from journeymap.ingest import ingest
    from journeymap.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    path = write(tmp_path / "t.csv", [{"customer_id": "c", "ts": "2024-01-01 09:00", "event": "e"}], "csv")
    ingest(ws.con, "events", [path], blueprint=ws.blueprint, pseudonym_key=None, default_tz="Asia/Kolkata")
    assert events(ws).ts[0] == pd.Timestamp("2024-01-01 03:30")
    with pytest.raises(InputError, match="'Mars/Olympus' .* not an IANA name"):
        ws.ingest_events(path, tz="Mars/Olympus")
    ws.close()


# -- quarantine ---------------------------------------------------------------------------------
def test_each_quarantine_reason(ws, tmp_path):
    rows = [
        {"customer_id": "c1", "ts": "2024-01-01 10:00", "event": "visit", "revenue": "1"},  # ok
        {"customer_id": "", "ts": "2024-01-01 10:00", "event": "visit", "revenue": "1"},  # missing id
        {"customer_id": "c3", "ts": "yesterday", "event": "visit", "revenue": "1"},  # bad ts
        {"customer_id": "c4", "ts": "2024-01-01 10:00", "event": "visit", "revenue": "abc"},  # bad number
        {"customer_id": "c5", "ts": "", "event": "visit", "revenue": "1"},  # missing ts
        {"customer_id": "c6", "ts": "2024-01-01 10:00", "event": "", "revenue": "1"},  # missing event
    ]
    r = ws.ingest_events(write(tmp_path / "q.csv", rows, "csv"))
    assert counts(r) == (6, 1, 5, 0)
    q = quarantine(ws)
    assert q.row_number.tolist() == [2, 3, 4, 5, 6]
    assert q.reason.tolist() == [
        "missing customer id",
        "unparseable timestamp 'yesterday' in column ts",
        "bad number in revenue: 'abc'",
        "missing timestamp",
        "missing event name",
    ]
    assert json.loads(q.raw[1]) == {"customer_id": "c3", "ts": "yesterday", "event": "visit", "revenue": "1"}
    assert set(q.table) == {"events"}


def test_malformed_lines_are_quarantined_with_their_row(ws, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "customer_id,ts,event\n"
        "c1,2024-01-01,visit\n"
        "c2,2024-01-01\n"  # row 2: too few columns
        "c3,2024-01-01,visit,extra\n"  # row 3: too many
        "c4,not a time,visit\n"  # row 4: bad timestamp, numbered after the rejects
        "c5,2024-01-02,visit\n",
        encoding="utf-8",
    )
    r = ws.ingest_events(path)
    assert counts(r) == (5, 2, 3, 0)
    q = quarantine(ws)
    assert q.row_number.tolist() == [2, 3, 4]
    assert q.reason[0].startswith("malformed line") and q.reason[1].startswith("malformed line")
    assert json.loads(q.raw[0]) == "c2,2024-01-01"
    assert q.reason[2] == "unparseable timestamp 'not a time' in column ts"


def test_malformed_ndjson_line(ws, tmp_path):
    path = tmp_path / "e.ndjson"
    path.write_text(
        '{"customer_id": "a", "ts": "2024-01-01", "event": "x"}\n'
        '{"customer_id": "b", "ts": \n'
        "[1, 2]\n"
        '{"customer_id": "c", "ts": "2024-01-01", "event": "x", "extra": {"k": 1}}\n',
        encoding="utf-8",
    )
    r = ws.ingest_events(path)
    assert counts(r) == (4, 2, 2, 0)
    q = quarantine(ws)
    assert q.row_number.tolist() == [2, 3]
    assert q.reason.tolist() == ["malformed JSON line", "record is a JSON array, not an object"]
    props = events(ws).properties.tolist()
    assert json.loads(props[1]) == {"extra": '{"k":1}', "ts": "2024-01-01"}


def test_strict_blueprint_quarantines_unknown_touchpoints_and_rules_apply(tmp_path):
    from journeymap.workspace import Workspace

    bp = Blueprint.model_validate(
        {
            "strict": True,
            "touchpoints": [
                {
                    "name": "Search ad",
                    "channel": "paid search",
                    "match": [{"event": "click", "where": {"placement": ["cpc", "ppc"]}}],
                },
                {"name": "Newsletter", "channel": "email", "match": [{"event_regex": "^nl_"}]},
                {"name": "Checkout", "channel": "web"},
            ],
        }
    )
    ws = Workspace.init(tmp_path / "ws", blueprint=bp)
    rows = [
        {"customer_id": "a", "ts": "2024-01-01 00:00:01", "event": "click", "placement": "cpc"},
        {"customer_id": "a", "ts": "2024-01-01 00:00:02", "event": "nl_open", "placement": ""},
        {"customer_id": "a", "ts": "2024-01-01 00:00:03", "event": "CHECKOUT", "placement": ""},
        {"customer_id": "a", "ts": "2024-01-01 00:00:04", "event": "click", "placement": "organic"},
    ]
    r = ws.ingest_events(write(tmp_path / "s.csv", rows, "csv"))
    assert counts(r) == (4, 3, 1, 0)
    df = events(ws)
    assert df.touchpoint.tolist() == ["Search ad", "Newsletter", "Checkout"]
    assert df.channel.tolist() == ["paid search", "email", "web"]
    assert quarantine(ws).reason.tolist() == ["unknown touchpoint 'click' (the blueprint is strict)"]
    ws.close()


def test_data_channel_wins_over_blueprint_channel(tmp_path):
    from journeymap.workspace import Workspace

    bp = Blueprint.model_validate({"touchpoints": [{"name": "visit", "channel": "web"}]})
    ws = Workspace.init(tmp_path / "ws", blueprint=bp)
    rows = [
        {"customer_id": "a", "ts": "2024-01-01", "event": "visit", "channel": "app"},
        {"customer_id": "b", "ts": "2024-01-01", "event": "visit", "channel": ""},
        {"customer_id": "c", "ts": "2024-01-01", "event": "other", "channel": ""},
    ]
    ws.ingest_events(write(tmp_path / "c.csv", rows, "csv"))
    assert ws.con.con.execute("SELECT channel FROM events ORDER BY customer_id").fetchall() == [
        ("app",),
        ("web",),
        (None,),
    ]
    ws.close()


# -- reconcile, dedupe, atomicity ---------------------------------------------------------------
def test_reingest_is_idempotent_and_repeated_rows_of_a_file_are_kept(ws, tmp_path):
    # real logs repeat events (same case, activity, second): each repeat is an event of its own
    rows = ROWS + [ROWS[0], ROWS[0]]
    path = write(tmp_path / "d.csv", rows, "csv")
    first = ws.ingest_events(path, mapping={"customer_id": "cookie"})
    assert counts(first) == (5, 5, 0, 0)
    again = ws.ingest_events(path, mapping={"customer_id": "cookie"})
    assert counts(again) == (5, 0, 0, 5)
    assert len(events(ws)) == 5
    log = ws.con.con.execute("SELECT rows_read, loaded, quarantined, duplicate FROM ingest_log").fetchall()
    assert log == [(5, 5, 0, 0), (5, 0, 0, 5)]
    assert all(r == ld + q + d for r, ld, q, d in log)
    assert events(ws).event_id.nunique() == 5
    # the file's order is kept: the repeats follow the rows they repeat (rows 4 and 5 of the file)
    order = ws.con.con.execute(
        "SELECT seq FROM events WHERE customer_id = 'c1' AND touchpoint = 'visit' ORDER BY seq"
    ).fetchall()
    assert [r[0] for r in order] == [1, 4, 5]


def test_a_file_with_more_repeats_than_the_workspace_adds_only_the_new_ones(ws, tmp_path):
    once = write(tmp_path / "once.csv", ROWS, "csv")
    twice = write(tmp_path / "twice.csv", ROWS + [ROWS[2]], "csv")
    ws.ingest_events(once, mapping={"customer_id": "cookie"})
    r = ws.ingest_events(twice, mapping={"customer_id": "cookie"})
    assert counts(r) == (4, 1, 0, 3)
    assert len(events(ws)) == 4


@pytest.mark.parametrize("fmt", ["parquet", "ndjson", "tsv"])
def test_the_same_rows_in_another_format_column_order_and_time_spelling_are_duplicates(ws, tmp_path, fmt):
    rows = ROWS + [ROWS[0]]  # with a repeat: its occurrence number is part of its identity
    ws.ingest_events(write(tmp_path / "e.csv", rows, "csv"), mapping={"customer_id": "cookie"})
    # columns reversed, 'T' written as a space and 'Z' as '+00:00'
    other = [
        {k: (v.replace("T", " ").replace("Z", "+00:00") if k == "time" else v) for k, v in reversed(r.items())}
        for r in rows
    ]
    name = {"parquet": "e.parquet", "ndjson": "e.ndjson", "tsv": "e.tsv"}[fmt]
    r = ws.ingest_events(write(tmp_path / name, other, fmt), mapping={"customer_id": "cookie"})
    assert counts(r) == (4, 0, 0, 4)
    assert len(events(ws)) == 4


def test_event_id_is_a_keyed_hash_of_the_canonical_values_and_the_occurrence(tmp_path):
    # the definition (DESIGN.md, "Order, identity"), computed here with hashlib: the workspace key,
    # then customer, time, touchpoint, channel, revenue, order and the unmapped values in name
    # order, joined by \x1f with NULL as \x00; the k-th repeat (k >= 1) is md5(id + ':' + k)
    import hashlib

    from journeymap.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws", pseudonymise=True)
    rows = [ROWS[0], ROWS[1], ROWS[0]]
    ws.ingest_events(write(tmp_path / "e.csv", rows, "csv"), mapping={"customer_id": "cookie"})
    key = (tmp_path / "ws" / ".journeymap-key").read_text().strip()

    def md5(text):
        return hashlib.md5(text.encode()).hexdigest()

    def pseudonym(cid):
        return hashlib.sha256((key + cid).encode()).hexdigest()[:32]

    def ident(cid, ts, tp, revenue, page):
        parts = [pseudonym(cid), ts, tp, "\x00", revenue, "\x00", "page", page]
        return md5(key + "\x1e" + "\x1f".join(parts))

    def us(text):  # the time as UTC epoch microseconds
        return str(int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000)

    first = ident("c1", us("2024-05-01T10:00:00"), "visit", "\x00", "/home")
    want = [first, ident("c1", us("2024-05-01T10:05:00"), "purchase", "12.5", "/buy"), md5(first + ":1")]
    got = [r[0] for r in ws.con.con.execute("SELECT event_id FROM events ORDER BY seq").fetchall()]
    assert got == want
    # the raw customer id is neither a column value nor a property
    stored = ws.con.con.execute("SELECT customer_id, properties FROM events").fetchall()
    assert all(cid != "c1" and '"c1"' not in props for cid, props in stored)
    ws.close()


def test_workspace_loaded_by_an_older_version_refuses_to_ingest(ws, tmp_path):
    ws.ingest_events(write(tmp_path / "a.csv", ROWS, "csv"), mapping={"customer_id": "cookie"})
    ws.con.con.execute("UPDATE events SET seq = NULL")  # as an older journeymap left it
    with pytest.raises(InputError, match="older journeymap"):
        ws.ingest_events(write(tmp_path / "b.csv", ROWS[:1], "csv"), mapping={"customer_id": "cookie"})
    assert len(events(ws)) == 3


def test_events_table_has_the_canonical_schema_and_event_ids_stored_with_fsst(ws, tmp_path):
    from journeymap import schema

    ws.ingest_events(write(tmp_path / "e.csv", ROWS, "csv"), mapping={"customer_id": "cookie"})
    db = ws.con.con
    ws.con.create_table("events_by_ibis", schema=schema.EVENTS)  # how the other tables are made
    assert db.execute("DESCRIBE events").fetchall() == db.execute("DESCRIBE events_by_ibis").fetchall()
    db.execute("CHECKPOINT")
    used = dict(
        db.execute(
            "SELECT column_name, string_agg(DISTINCT compression, ',') FROM pragma_storage_info('events') "
            "WHERE segment_type <> 'VALIDITY' GROUP BY 1"
        ).fetchall()
    )
    assert used["event_id"] == "FSST" and used["customer_id"] != "FSST"  # forced on event_id only


def test_ingest_log_keeps_each_files_sha256(ws, tmp_path):
    import hashlib

    a, b = write(tmp_path / "a.csv", ROWS, "csv"), write(tmp_path / "b.parquet", ROWS[1:], "parquet")
    ws.ingest_events(a, b, mapping={"customer_id": "cookie"})
    logged = dict(ws.con.con.execute("SELECT source, content_hash FROM ingest_log").fetchall())
    assert logged == {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in (a, b)}


def test_two_files_in_one_call_are_deduplicated_against_each_other(ws, tmp_path):
    a = write(tmp_path / "a.csv", ROWS, "csv")
    b = write(tmp_path / "b.csv", ROWS[1:], "csv")
    r = ws.ingest_events(a, b, mapping={"customer_id": "cookie"})
    assert [(s.rows_read, s.loaded, s.duplicate) for s in r.sources] == [(3, 3, 0), (2, 0, 2)]
    assert counts(r) == (5, 3, 0, 2)
    assert len({s for s in ws.con.con.execute("SELECT ingest_id FROM ingest_log").fetchall()}) == 1


def test_a_failure_mid_ingest_leaves_the_warehouse_unchanged(ws, tmp_path, monkeypatch):
    import journeymap.engine.duckdb_load.steps as load

    ws.ingest_events(write(tmp_path / "first.csv", ROWS[:1], "csv"), mapping={"customer_id": "cookie"})
    before = {
        t: ws.con.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("events", "quarantine", "ingest_log")
    }
    calls = {"n": 0}
    real = load._log

    def failing_log(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(load, "_log", failing_log)
    bad = write(tmp_path / "bad.csv", [{"cookie": "", "time": "x", "event": "e"}], "csv")
    with pytest.raises(RuntimeError, match="disk full"):
        ws.ingest_events(write(tmp_path / "a.csv", ROWS, "csv"), bad, mapping={"customer_id": "cookie"})
    after = {t: ws.con.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in before}
    assert after == before
    assert ws.con.con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0] == 0


def test_customers_upsert_latest_row_wins(ws, tmp_path):
    a = write(
        tmp_path / "crm1.csv",
        [
            {"customer_id": "c1", "segment": "gold", "region": "north"},
            {"customer_id": "c2", "segment": "silver", "region": "south"},
            {"customer_id": "c1", "segment": "platinum", "region": "north"},
        ],
        "csv",
    )
    r = ws.ingest_customers(a)
    assert counts(r) == (3, 2, 0, 1)
    b = write(
        tmp_path / "crm2.csv",
        [
            {"customer_id": "c2", "plan": "pro"},
            {"customer_id": "c3", "plan": "free"},
            {"customer_id": "", "plan": "free"},
        ],
        "csv",
    )
    r = ws.ingest_customers(b)
    assert counts(r) == (3, 2, 1, 0)
    rows = ws.con.con.execute("SELECT customer_id, segment, region, plan FROM customers ORDER BY 1").fetchall()
    assert rows == [("c1", "platinum", "north", None), ("c2", "silver", "south", "pro"), ("c3", None, None, "free")]
    assert counts(ws.ingest_customers(a)) == (3, 0, 0, 3)  # nothing changed


# -- feedback -----------------------------------------------------------------------------------
def test_feedback_scores_scales_and_ids(ws, tmp_path):
    rows = [
        {
            "response_id": "r1",
            "date": "2024-01-01",
            "nps": "9",
            "csat": "5",
            "ces": "2",
            "comment": "great",
            "kind": "survey",
        },
        {
            "response_id": "r2",
            "date": "2024-01-02",
            "nps": "11",
            "csat": "",
            "ces": "",
            "comment": "",
            "kind": "survey",
        },
        {"response_id": "r3", "date": "2024-01-03", "nps": "", "csat": "0", "ces": "", "comment": "", "kind": "survey"},
        {"response_id": "r4", "date": "2024-01-04", "nps": "", "csat": "", "ces": "8", "comment": "", "kind": "survey"},
        {
            "response_id": "r5",
            "date": "2024-01-05",
            "nps": "seven",
            "csat": "",
            "ces": "",
            "comment": "",
            "kind": "survey",
        },
        {
            "response_id": "r6",
            "date": "2024-01-06",
            "nps": "7.5",
            "csat": "",
            "ces": "",
            "comment": "",
            "kind": "survey",
        },
        {
            "response_id": "r7",
            "date": "2024-01-07",
            "nps": "",
            "csat": "",
            "ces": "",
            "comment": "meh",
            "kind": "tweet",
        },
        {"response_id": "r1", "date": "2024-01-08", "nps": "3", "csat": "", "ces": "", "comment": "", "kind": "survey"},
    ]
    r = ws.ingest_feedback(write(tmp_path / "f.csv", rows, "csv"))
    assert counts(r) == (8, 1, 6, 1)
    reasons = quarantine(ws).reason.tolist()
    assert reasons == [
        "nps '11' is outside its scale 0-10",
        "csat '0' is outside its scale 1-5",
        "ces '8' is outside its scale 1-7",
        "bad number in nps: 'seven'",
        "nps '7.5' is outside its scale 0-10",
        "unknown feedback kind 'tweet'; use one of survey, review, ticket, chat, social, interview, other",
    ]
    fb = ws.con.con.execute("SELECT feedback_id, nps, csat, ces, text, kind FROM feedback").fetchall()
    assert fb == [("r1", 9, 5, 2, "great", "survey")]


# -- pseudonymisation ---------------------------------------------------------------------------
def test_pseudonymisation_is_keyed_and_consistent(tmp_path):
    from journeymap.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws", pseudonymise=True)
    ws.ingest_events(write(tmp_path / "e.csv", ROWS, "csv"), mapping={"customer_id": "cookie"})
    ws.ingest_feedback(write(tmp_path / "f.csv", [{"customer_id": "c1", "ts": "2024-01-01", "text": "hi"}], "csv"))
    ws.ingest_customers(write(tmp_path / "c.csv", [{"customer_id": "c1", "segment": "a"}], "csv"))
    db = ws.con.con
    ids = [r[0] for r in db.execute("SELECT customer_id FROM events ORDER BY ts").fetchall()]
    assert "c1" not in ids and ids[0] == ids[1] != ids[2] and len(ids[0]) == 32
    assert db.execute("SELECT customer_id FROM feedback").fetchone()[0] == ids[0]
    assert db.execute("SELECT customer_id FROM customers").fetchone()[0] == ids[0]
    import hashlib

    key = ws.pseudonym_key()
    assert ids[0] == hashlib.sha256((key.hex() + "c1").encode()).hexdigest()[:32]
    ws.close()
    other = Workspace.init(tmp_path / "ws2", pseudonymise=True)
    other.ingest_events(write(tmp_path / "e.csv", ROWS, "csv"), mapping={"customer_id": "cookie"})
    assert other.con.con.execute("SELECT customer_id FROM events ORDER BY ts").fetchone()[0] != ids[0]
    other.close()


# -- bad input ----------------------------------------------------------------------------------
def test_bad_files_are_one_clear_sentence_and_write_nothing(ws, tmp_path):
    good = write(tmp_path / "good.csv", ROWS, "csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("customer_id,ts,event\nJos\xe9,2024-01-01,caf\xe9\n".encode("latin-1"))
    cases = [
        (tmp_path / "missing.csv", "does not exist"),
        (empty, "is empty"),
        (latin, "not UTF-8 .* iconv"),
        (tmp_path / "x.xlsx", "cannot be told from its extension"),
    ]
    for path, message in cases:
        with pytest.raises(InputError, match=message):
            ws.ingest_events(good, path, mapping={"customer_id": "cookie"})
    assert counts_in(ws) == (0, 0, 0)
    with pytest.raises(InputError, match="Source format 'xls' is not supported"):
        ws.ingest_events(good, fmt="xls")
    with pytest.raises(InputError, match="unknown option"):
        ws.ingest_events(good, colour="red")


def test_broken_json_array_is_an_input_error(ws, tmp_path):
    path = tmp_path / "b.json"
    path.write_text('[{"customer_id": "a", ', encoding="utf-8")
    with pytest.raises(InputError, match="cannot be read as json"):
        ws.ingest_events(path)


def test_progress_is_reported_per_file_and_phase(ws, tmp_path):
    seen = []
    ws.ingest_events(
        write(tmp_path / "a.csv", ROWS, "csv"),
        mapping={"customer_id": "cookie"},
        progress=lambda src, phase, frac: seen.append((Path(src).name, phase, frac)),
    )
    assert [p for _, p, _ in seen] == ["read", "load", "check", "quarantine", "done"]
    assert seen[-1] == ("a.csv", "done", 1.0)


def test_report_round_trips_and_reconciles():
    from journeymap.ingest import IngestReport, SourceReport
    from journeymap.results import Result

    r = IngestReport(
        sources=[SourceReport(source="a", table="events", rows_read=5, loaded=3, quarantined=1, duplicate=1)]
    )
    assert Result.from_json(r.to_json()) == r
    with pytest.raises(ValueError, match="rows read 5"):
        SourceReport(source="a", table="events", rows_read=5, loaded=3, quarantined=1, duplicate=0)


# -- CLI ----------------------------------------------------------------------------------------
def test_cli_ingest_json_and_errors(tmp_path):
    from journeymap.cli import main

    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "w")]).exit_code == 0
    path = write(tmp_path / "a.csv", ROWS + [ROWS[0]], "csv")
    args = ["-w", str(tmp_path / "w"), "ingest", "events", str(path), "--map", "customer_id=cookie"]
    out = runner.invoke(main, [*args, "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["kind"] == "ingest"
    assert data["total"] == {
        "rows_read": 4,
        "loaded": 4,
        "quarantined": 0,
        "duplicate": 0,
        "seconds": data["total"]["seconds"],
    }
    table = runner.invoke(main, args)
    assert table.exit_code == 0 and "total" in table.stdout and "4" in table.stdout
    bad = runner.invoke(main, [*args[:-1], "customer_id=nope"])
    assert bad.exit_code == 1
    assert "Column 'nope'" in bad.output and "it has: cookie" in bad.output and "Traceback" not in bad.output
    bad = runner.invoke(main, [*args[:-2], "--map", "customer_id"])
    assert bad.exit_code == 1 and "TARGET=COLUMN" in bad.output


def test_cli_ingest_help():
    from journeymap.cli import main

    out = CliRunner().invoke(main, ["ingest", "--help"])
    assert out.exit_code == 0
    for flag in ("--map", "--ts-format", "--tz", "--source-format", "--format", "Example:"):
        assert flag in out.output


def test_other_engines_are_refused_with_the_fix(tmp_path):
    from journeymap.ingest import ingest

    class Fake:
        name = "postgres"

    with pytest.raises(InputError, match="not supported yet"):
        ingest(Fake(), "events", [tmp_path / "a.csv"])


def test_wrong_delimiter_says_which_format(ws, tmp_path):
    path = tmp_path / "tabs.csv"
    path.write_text("customer_id\tts\tevent\nc1\t2024-01-01\tvisit\n", encoding="utf-8")
    with pytest.raises(InputError, match="looks tsv, not csv; pass --source-format tsv"):
        ws.ingest_events(path)
    assert counts(ws.ingest_events(path, fmt="tsv")) == (1, 1, 0, 0)


def test_header_only_file_reads_zero_rows(ws, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("customer_id,ts,event\n", encoding="utf-8")
    assert counts(ws.ingest_events(path)) == (0, 0, 0, 0)
    assert ws.con.con.execute("SELECT rows_read FROM ingest_log").fetchall() == [(0,)]


def test_memory_limit_is_restored(ws, tmp_path):
    db = ws.con.con
    db.execute("SET memory_limit = '3GB'")
    before = db.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    ws.ingest_events(write(tmp_path / "a.csv", ROWS, "csv"), mapping={"customer_id": "cookie"})
    from journeymap.ingest import _bytes

    after = db.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert _bytes(after) == pytest.approx(_bytes(before), rel=0.05)  # DuckDB shows it rounded to 0.1 GiB
    assert db.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0] is True


@pytest.mark.parametrize("column", ["InvoiceNo", "order_id", "transaction_id"])
def test_order_id_is_guessed_from_obvious_names(ws, tmp_path, column):
    rows = [
        {"customer_id": "a", "ts": "2024-01-01 10:00", "event": "Purchase", column: "536365"},
        {"customer_id": "a", "ts": "2024-01-01 10:00", "event": "Purchase", column: "536365"},
    ]
    r = ws.ingest_events(write(tmp_path / "o.csv", rows, "csv"))
    assert r.sources[0].mapping["order_id"] == column and "order_id" in r.sources[0].guessed
    assert [x[0] for x in ws.con.con.execute("SELECT order_id FROM events ORDER BY seq").fetchall()] == ["536365"] * 2
