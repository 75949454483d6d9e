"""Timestamps through the real path: a file on disk, ``Workspace.ingest_*``, the stored values.

Each text column is read in one form found from its values (``12/1/10 8:26`` is the 1st of
December 2010, not year 12); day/month that the values leave open is an error naming the fix;
years outside the plausible range are quarantined with a reason. Expected times come from
Python's ``datetime.strptime`` on the same text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import write_csv

from journeymap.errors import InputError


def event_rows(times: list[str], column: str = "time") -> list[dict[str, str]]:
    return [{"customer_id": f"c{i % 3}", column: t, "event": f"e{i}"} for i, t in enumerate(times)]


def loaded(ws, column: str = "time") -> dict[str, datetime]:
    """Source text of the time (kept in properties) -> the stored time, for every loaded event."""
    rows = ws.con.con.execute(
        f"SELECT json_extract_string(properties, '$.\"{column}\"'), ts FROM events ORDER BY seq"
    ).fetchall()
    return dict(rows)


def reasons(ws) -> list[str]:
    return [r[0] for r in ws.con.con.execute("SELECT reason FROM quarantine ORDER BY row_number").fetchall()]


def counts(report) -> tuple[int, int, int, int]:
    t = report.total
    return t.rows_read, t.loaded, t.quarantined, t.duplicate


# -- one form per column ------------------------------------------------------------------------
US_RETAIL = ["12/1/10 8:26", "12/1/10 9:01", "12/2/10 10:03", "12/9/10 17:45", "12/13/10 14:16", "1/4/11 9:00"]


def test_us_month_day_two_digit_years_like_the_uci_retail_file(ws, tmp_path):
    r = ws.ingest_events(write_csv(tmp_path / "retail.csv", event_rows(US_RETAIL)))
    assert counts(r) == (6, 6, 0, 0), reasons(ws)
    got = loaded(ws)
    # the text is kept in properties under the column's own name, and read month first
    assert got == {t: datetime.strptime(t, "%m/%d/%y %H:%M") for t in US_RETAIL}
    assert min(got.values()).year == 2010


@pytest.mark.parametrize(
    "fmt",
    [
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%y %H:%M",
        "%d.%m.%Y %H:%M",
        "%d.%m.%Y",
        "%d-%m-%Y %H:%M",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y",
        "%Y/%m/%d %H:%M:%S",
        "%Y%m%d%H%M%S",
        "%Y%m%d",
    ],
)
def test_each_form_is_read_from_its_values(ws, tmp_path, fmt):
    # one day above 12 tells day from month; the rest could be either
    moments = [
        datetime(2023, 1, 2, 3, 4, 5),
        datetime(2023, 2, 1, 13, 14, 15),
        datetime(2023, 11, 25, 23, 0, 59),
        datetime(2024, 12, 3, 0, 0, 0),
    ]
    times = [m.strftime(fmt) for m in moments]
    r = ws.ingest_events(write_csv(tmp_path / "t.csv", event_rows(times)))
    assert counts(r) == (4, 4, 0, 0), reasons(ws)
    assert loaded(ws) == {t: datetime.strptime(t, fmt) for t in times}


def test_european_day_month_with_a_day_above_12_somewhere(ws, tmp_path):
    times = ["01/02/24 10:00", "03/02/24 11:30", "11/12/24 09:15", "25/12/24 18:00"]
    r = ws.ingest_events(write_csv(tmp_path / "eu.csv", event_rows(times)))
    assert counts(r) == (4, 4, 0, 0), reasons(ws)
    assert loaded(ws) == {t: datetime.strptime(t, "%d/%m/%y %H:%M") for t in times}


def test_iso_with_t_or_space_and_an_offset(ws, tmp_path):
    times = ["2024-05-01T10:00:00", "2024-05-01 10:00:05", "2024-05-02T23:59", "2024-05-03 08:00:00+02:00"]
    r = ws.ingest_events(write_csv(tmp_path / "iso.csv", event_rows(times)))
    assert counts(r) == (4, 4, 0, 0), reasons(ws)
    expected = {
        t: datetime.fromisoformat(t).astimezone(UTC).replace(tzinfo=None) if "+" in t else datetime.fromisoformat(t)
        for t in times
    }
    assert loaded(ws) == expected


def test_ambiguous_day_month_stops_with_one_sentence(ws, tmp_path):
    times = ["01/02/2024 10:00", "03/04/2024 11:00", "12/11/2024 09:30"]
    path = write_csv(tmp_path / "amb.csv", event_rows(times))
    with pytest.raises(InputError) as e:
        ws.ingest_events(path)
    msg = str(e.value)
    assert "column 'time'" in msg and "'01/02/2024 10:00'" in msg and "'12/11/2024 09:30'" in msg
    assert "--ts-format '%m/%d/%Y %H:%M'" in msg and "'%d/%m/%Y %H:%M'" in msg
    assert msg.replace("e.g.", "").count(". ") == 0 and msg.endswith(".") and "\n" not in msg  # one sentence
    db = ws.con.con
    assert [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("events", "quarantine", "ingest_log")] == [
        0,
        0,
        0,
    ]
    # the format it names reads the file
    r = ws.ingest_events(path, ts_format="%d/%m/%Y %H:%M")
    assert counts(r) == (3, 3, 0, 0)
    assert loaded(ws) == {t: datetime.strptime(t, "%d/%m/%Y %H:%M") for t in times}


def test_ambiguous_day_month_in_the_cli_is_an_error_not_a_traceback(tmp_path):
    from journeymap.cli import main
    from journeymap.workspace import Workspace

    Workspace.init(tmp_path / "ws").close()
    path = write_csv(tmp_path / "amb.csv", event_rows(["01/02/24 10:00", "03/04/24 11:00"]))
    out = CliRunner().invoke(main, ["-w", str(tmp_path / "ws"), "ingest", "events", str(path)])
    assert out.exit_code != 0
    assert "--ts-format '%m/%d/%y %H:%M'" in out.output and "Traceback" not in out.output
    out = CliRunner().invoke(
        main,
        [
            "-w",
            str(tmp_path / "ws"),
            "ingest",
            "events",
            str(path),
            "--ts-format",
            "%m/%d/%y %H:%M",
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["total"]["loaded"] == 2


def test_values_that_agree_on_day_and_month_are_not_ambiguous(ws, tmp_path):
    times = ["01/01/2024 10:00", "02/02/2024 11:00"]  # either reading gives the same days
    r = ws.ingest_events(write_csv(tmp_path / "same.csv", event_rows(times)))
    assert counts(r) == (2, 2, 0, 0)
    assert loaded(ws) == {t: datetime.strptime(t, "%m/%d/%Y %H:%M") for t in times}


def test_the_whole_column_decides_when_its_first_rows_leave_day_and_month_open(ws, tmp_path, monkeypatch):
    from journeymap.engine.duckdb_load import timestamps

    monkeypatch.setattr(timestamps, "PREFIX_ROWS", 4)  # a long file, in small
    times = ["12/1/10 8:26", "12/2/10 8:27", "12/3/10 8:28", "12/4/10 8:29", "12/5/10 8:30", "12/28/10 9:00"]
    r = ws.ingest_events(write_csv(tmp_path / "long.csv", event_rows(times)))
    assert counts(r) == (6, 6, 0, 0), reasons(ws)
    assert loaded(ws) == {t: datetime.strptime(t, "%m/%d/%y %H:%M") for t in times}


def test_a_given_format_wins(ws, tmp_path):
    # the values say month first (12/13/10); told day first, the 13th month is unparseable
    path = write_csv(tmp_path / "retail.csv", event_rows(US_RETAIL))
    r = ws.ingest_events(path, ts_format="%d/%m/%y %H:%M")
    assert counts(r) == (6, 5, 1, 0)
    assert reasons(ws) == ["unparseable timestamp '12/13/10 14:16' in column time"]
    got = loaded(ws)
    assert got == {t: datetime.strptime(t, "%d/%m/%y %H:%M") for t in US_RETAIL if t != "12/13/10 14:16"}


def test_a_blueprint_source_format_wins(tmp_path):
    from journeymap.blueprint import Blueprint
    from journeymap.workspace import Workspace

    bp = Blueprint.model_validate(
        {
            "sources": [
                {
                    "pattern": "shop_*.csv",
                    "table": "events",
                    "map": {"customer_id": "customer_id", "ts": "time", "touchpoint": "event"},
                    "ts_format": "%d/%m/%y %H:%M",
                },
            ]
        }
    )
    ws = Workspace.init(tmp_path / "ws", blueprint=bp)
    r = ws.ingest_events(write_csv(tmp_path / "shop_1.csv", event_rows(US_RETAIL)))
    assert counts(r) == (6, 5, 1, 0)
    assert loaded(ws)["12/2/10 10:03"] == datetime(2010, 2, 12, 10, 3)
    ws.close()


def test_no_single_form_keeps_reading_row_by_row(ws, tmp_path):
    times = ["2024-01-01 10:00", "2024-01-02 11:00", "yesterday", "12/1/10 8:26"]
    r = ws.ingest_events(write_csv(tmp_path / "mixed.csv", event_rows(times)))
    assert counts(r) == (4, 2, 2, 0)
    assert reasons(ws) == [
        "unparseable timestamp 'yesterday' in column time",
        # read as ISO, 12/1/10 is year 12: the year check stops it
        f"implausible year 12 from '12/1/10 8:26' in column 'time' (allowed 1970..{datetime.now(UTC).year + 1}); "
        "pass --ts-format or widen [ingest] min_year",
    ]
    assert loaded(ws) == {t: datetime.fromisoformat(t) for t in times[:2]}


# -- plausible years ----------------------------------------------------------------------------
IMPLAUSIBLE = [
    "2024-03-01 10:00:00",
    "0012-01-10 08:26:00",
    "2611-12-01 00:00:00",
    "10000-01-01 00:00:00",
    "1969-12-31 23:59:59",
]


def test_implausible_years_are_quarantined_with_a_reason(ws, tmp_path):
    r = ws.ingest_events(write_csv(tmp_path / "years.csv", event_rows(IMPLAUSIBLE)))
    nxt = datetime.now(UTC).year + 1
    assert counts(r) == (5, 1, 4, 0)
    assert reasons(ws) == [
        f"implausible year 12 from '0012-01-10 08:26:00' in column 'time' (allowed 1970..{nxt}); "
        "pass --ts-format or widen [ingest] min_year",
        f"implausible year 2611 from '2611-12-01 00:00:00' in column 'time' (allowed 1970..{nxt}); "
        "pass --ts-format or widen [ingest] max_year",
        f"implausible year 10000 from '10000-01-01 00:00:00' in column 'time' (allowed 1970..{nxt}); "
        "pass --ts-format or widen [ingest] max_year",
        f"implausible year 1969 from '1969-12-31 23:59:59' in column 'time' (allowed 1970..{nxt}); "
        "pass --ts-format or widen [ingest] min_year",
    ]
    assert loaded(ws) == {"2024-03-01 10:00:00": datetime(2024, 3, 1, 10)}


def test_plausible_years_are_an_ingest_option(ws, tmp_path):
    r = ws.ingest_events(write_csv(tmp_path / "years.csv", event_rows(IMPLAUSIBLE)), years=(1, 3000))
    assert counts(r) == (5, 4, 1, 0)
    assert reasons(ws)[0].startswith("implausible year 10000 ") and "(allowed 1..3000)" in reasons(ws)[0]
    got = loaded(ws)
    assert got["0012-01-10 08:26:00"] == datetime(12, 1, 10, 8, 26) and got["2611-12-01 00:00:00"].year == 2611
    with pytest.raises(InputError, match=r"Plausible years 2000\.\.1990 .* give min_year <= max_year"):
        ws.ingest_events(tmp_path / "years.csv", years=(2000, 1990))


def test_plausible_years_from_journeymap_toml(tmp_path):
    from journeymap.workspace import CONFIG_FILE, Workspace

    Workspace.init(tmp_path / "ws").close()
    cfg = tmp_path / "ws" / CONFIG_FILE
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace("[report]", "min_year = 1900\nmax_year = 2700\n\n[report]"),
        encoding="utf-8",
    )
    ws = Workspace.open(tmp_path / "ws")
    assert (ws.settings.min_year, ws.settings.max_year) == (1900, 2700)
    r = ws.ingest_events(write_csv(tmp_path / "years.csv", event_rows(IMPLAUSIBLE)))
    assert counts(r) == (5, 3, 2, 0)
    assert sorted(loaded(ws)) == ["1969-12-31 23:59:59", "2024-03-01 10:00:00", "2611-12-01 00:00:00"]
    assert all("(allowed 1900..2700)" in x for x in reasons(ws))
    ws.close()
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("min_year = 1900", 'min_year = "1900"'), encoding="utf-8")
    ws = Workspace.open(tmp_path / "ws")
    with pytest.raises(InputError, match=r"Plausible year '1900' .*\[ingest\] min_year"):
        ws.ingest_events(tmp_path / "years.csv")
    ws.close()


def test_implausible_years_in_feedback_and_typed_times(ws, tmp_path):
    fb = [{"customer_id": "c1", "date": d, "comment": "ok", "rating": "4"} for d in ("2023-05-01", "0023-05-01")]
    r = ws.ingest_feedback(write_csv(tmp_path / "fb.csv", fb), mapping={"ts": "date", "text": "comment"})
    assert counts(r) == (2, 1, 1, 0)
    assert reasons(ws)[0].startswith("implausible year 23 from '0023-05-01' in column 'date'")
    # a typed Parquet time is checked too
    pq = tmp_path / "typed.parquet"
    ws.con.con.execute(
        "COPY (SELECT 'c1' AS customer_id, TIMESTAMP '0012-01-10 08:26:00' AS ts, 'visit' AS event "
        f"UNION ALL SELECT 'c2', TIMESTAMP '2020-01-01 00:00:00', 'visit') TO '{pq}' (FORMAT parquet)"
    )
    r = ws.ingest_events(pq)
    assert counts(r) == (2, 1, 1, 0)
    assert ws.con.con.execute("SELECT min(ts) FROM events").fetchone()[0] == datetime(2020, 1, 1)


# -- real data ----------------------------------------------------------------------------------
def test_uci_online_retail_loads_december_2010(ws, shared_data):
    path = shared_data / "uci_online_retail_sample" / "online_retail_first28492.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    r = ws.ingest_events(path, mapping={"customer_id": "CustomerID", "ts": "InvoiceDate", "touchpoint": "Description"})
    s = r.sources[0]
    assert s.rows_read == len(df) == s.loaded + s.quarantined + s.duplicate
    assert s.quarantined == (df.CustomerID.str.strip() == "").sum()  # only the lines without a customer
    db = ws.con.con
    assert db.execute("SELECT count(*) FROM quarantine WHERE reason NOT LIKE 'missing customer id'").fetchone()[0] == 0
    rows = db.execute("SELECT json_extract_string(properties, '$.InvoiceDate'), ts FROM events").fetchall()
    assert len(rows) == s.loaded
    assert all(ts == datetime.strptime(text, "%m/%d/%y %H:%M") for text, ts in rows)
    first, last = db.execute("SELECT min(ts), max(ts) FROM events").fetchone()
    assert first >= datetime(2010, 1, 1)
    expected = pd.to_datetime(df.InvoiceDate[df.CustomerID.str.strip() != ""], format="%m/%d/%y %H:%M")
    assert (pd.Timestamp(first), pd.Timestamp(last)) == (expected.min(), expected.max())
