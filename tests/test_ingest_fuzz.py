"""Hypothesis fuzzing of CSV input: never an unhandled exception, never a lost row."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeymap.errors import InputError

_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _accounted(ws, report) -> None:
    db = ws.con.con
    s = report.total
    assert s.rows_read == s.loaded + s.quarantined + s.duplicate
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == s.loaded
    assert db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == s.quarantined
    assert db.execute("SELECT sum(rows_read) FROM ingest_log").fetchone()[0] == s.rows_read


def _fresh(ws):
    db = ws.con.con
    for t in ("events", "quarantine", "ingest_log"):
        db.execute(f"DELETE FROM {t}")


@pytest.mark.slow
@_SETTINGS
@given(data=st.binary(min_size=0, max_size=400))
def test_random_bytes_never_crash(ws, tmp_path_factory, data):
    _fresh(ws)
    path = tmp_path_factory.mktemp("fz") / "f.csv"
    path.write_bytes(b"customer_id,ts,event\n" + data)
    try:
        report = ws.ingest_events(path)
    except InputError:
        assert ws.con.con.execute("SELECT count(*) FROM ingest_log").fetchone()[0] == 0
        return
    _accounted(ws, report)


cell = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=12),
    st.sampled_from(["", "2024-01-01", "2024-01-01T10:00:00+02:00", "1700000000", "abc", "-1", "1e400", "NaN"]),
)


@pytest.mark.slow
@_SETTINGS
@given(rows=st.lists(st.tuples(cell, cell, cell, cell), min_size=1, max_size=25), drop=st.booleans())
def test_well_formed_csv_keeps_every_row(ws, tmp_path_factory, rows, drop):
    _fresh(ws)
    header = ["customer_id", "ts", "event", "revenue"][: 3 if drop else 4]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(r[: len(header)])
    path = tmp_path_factory.mktemp("fz") / "w.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    expected = sum(1 for _ in csv.reader(io.StringIO(buf.getvalue()))) - 1
    try:
        report = ws.ingest_events(path)
    except InputError:
        return
    _accounted(ws, report)
    assert report.total.rows_read == expected


@pytest.mark.slow
@_SETTINGS
@given(
    columns=st.lists(
        st.sampled_from(["customer_id", "ts", "event", "page", "amount"]), min_size=1, max_size=5, unique=True
    )
)
def test_missing_columns_are_a_mapping_error_or_load(ws, tmp_path_factory, columns):
    _fresh(ws)
    path = tmp_path_factory.mktemp("fz") / "c.csv"
    path.write_text(
        ",".join(columns) + "\n" + ",".join("2024-01-01" if c == "ts" else "x" for c in columns) + "\n",
        encoding="utf-8",
    )
    required = {"customer_id", "ts", "event"}
    if required <= set(columns):
        _accounted(ws, ws.ingest_events(path))
    else:
        with pytest.raises(InputError, match="has no column for"):
            ws.ingest_events(path)
