"""Timestamps and values through the real path (issue 14, item 2): a file on disk, ``Workspace.ingest_*``
or the CLI, the stored values and the quarantine's reasons.

Epoch numbers are read in the unit their magnitude gives (s, ms, us, ns), as text and as typed Parquet
integers and doubles; NaN and infinite epochs are quarantined; compact ``20240501100000`` is a date, not
an epoch; ISO 8601 offsets with minutes, ``Z`` without seconds and ``GMT``/``UTC`` are read; year 10000
is quarantined and the workspace keeps working; ratings outside their scale are quarantined and scores
are clamped where the map combines them. Expected times come from Python's ``datetime`` on the same
values; every ingest is checked for rows read = loaded + quarantined + duplicate against the number of
rows the test wrote.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import write_csv

from journeymap.errors import InputError

EPOCH = datetime(1970, 1, 1)
MOMENTS = [
    datetime(2024, 5, 1, 10, 0, 0, 123456),
    datetime(2023, 11, 14, 22, 13, 20, 999999),
    datetime(2019, 2, 28, 23, 59, 59, 1),
]


# -- helpers -------------------------------------------------------------------------------------


def write_ndjson(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_parquet(path: Path, columns: dict[str, pa.Array]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of a naive UTC moment, in integers (no float rounding)."""
    d = moment - EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def from_micros(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def epoch_value(moment: datetime, unit: str) -> int:
    """``moment`` as an integer epoch in ``unit`` (nanoseconds get 789 more, below the microsecond)."""
    us = micros(moment)
    return {"s": us // 1_000_000, "ms": us // 1000, "us": us, "ns": us * 1000 + 789}[unit]


def expected_time(moment: datetime, unit: str) -> datetime:
    """What an integer epoch of ``moment`` in ``unit`` holds, to the microsecond (s and ms drop the rest)."""
    per = {"s": 1_000_000, "ms": 1000, "us": 1, "ns": 1}[unit]
    return from_micros(micros(moment) // per * per)


def stored(ws, key: str = "customer_id") -> dict[str, datetime]:
    """customer id -> stored time of every loaded event."""
    return dict(ws.con.con.execute(f"SELECT {key}, ts FROM events").fetchall())


def reasons(ws) -> dict[int, str]:
    return dict(ws.con.con.execute("SELECT row_number, reason FROM quarantine ORDER BY row_number").fetchall())


def reconciles(report, rows_written: int) -> tuple[int, int, int, int]:
    """The report's counts, after checking read = loaded + quarantined + duplicate = the rows written."""
    t = report.total
    assert t.rows_read == rows_written == t.loaded + t.quarantined + t.duplicate, t
    return t.rows_read, t.loaded, t.quarantined, t.duplicate


def cli(*args: str) -> subprocess.CompletedProcess:
    """The ``journeymap`` command in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "journeymap", *args], capture_output=True, text=True, timeout=600)


def run_cli(ws_path: Path, *args: str):
    from journeymap.cli import main

    return CliRunner().invoke(main, ["-w", str(ws_path), *args])


# -- epochs by magnitude -------------------------------------------------------------------------
@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_typed_parquet_int64_epochs_by_magnitude(ws, tmp_path, unit):
    # Parquet INT64 epochs in nanoseconds loaded as year 56302 before
    values = [epoch_value(m, unit) for m in MOMENTS]
    path = write_parquet(
        tmp_path / f"{unit}.parquet",
        {
            "customer_id": pa.array([f"c{i}" for i in range(len(values))]),
            "ts": pa.array(values, pa.int64()),
            "event": pa.array(["visit"] * len(values)),
        },
    )
    assert reconciles(ws.ingest_events(path), 3) == (3, 3, 0, 0), reasons(ws)
    assert stored(ws) == {f"c{i}": expected_time(m, unit) for i, m in enumerate(MOMENTS)}


def test_typed_int32_seconds_and_double_epochs(ws, tmp_path):
    seconds = [epoch_value(m, "s") for m in MOMENTS]
    path = write_parquet(
        tmp_path / "int32.parquet",
        {"customer_id": pa.array(["a", "b", "c"]), "ts": pa.array(seconds, pa.int32()), "event": pa.array(["v"] * 3)},
    )
    assert reconciles(ws.ingest_events(path), 3) == (3, 3, 0, 0)
    assert stored(ws) == {k: from_micros(s * 1_000_000) for k, s in zip("abc", seconds, strict=True)}
    # doubles: seconds with a fraction, milliseconds, microseconds, nanoseconds (each rounded to the microsecond)
    doubles = [1714557600.25, 1714557600123.0, 1714557600123456.0, 1.7145576001234568e18]
    path = write_parquet(
        tmp_path / "double.parquet",
        {
            "customer_id": pa.array(["d", "e", "f", "g"]),
            "ts": pa.array(doubles, pa.float64()),
            "event": pa.array(["v"] * 4),
        },
    )
    assert reconciles(ws.ingest_events(path), 4) == (4, 4, 0, 0)
    got = stored(ws)
    assert got["d"] == datetime(2024, 5, 1, 10, 0, 0, 250000)
    assert got["e"] == datetime(2024, 5, 1, 10, 0, 0, 123000)
    assert got["f"] == datetime(2024, 5, 1, 10, 0, 0, 123456)
    assert got["g"] == from_micros(round(doubles[3] / 1000))


def test_text_epochs_in_csv_and_ndjson_by_magnitude(ws, tmp_path):
    units = ["s", "ms", "us", "ns"]
    rows = [
        {"customer_id": f"{u}{i}", "ts": str(epoch_value(m, u)), "event": "visit"}
        for u in units
        for i, m in enumerate(MOMENTS)
    ]
    want = {f"{u}{i}": expected_time(m, u) for u in units for i, m in enumerate(MOMENTS)}
    assert reconciles(ws.ingest_events(write_csv(tmp_path / "e.csv", rows)), 12) == (12, 12, 0, 0), reasons(ws)
    assert stored(ws) == want
    # the same values as JSON numbers (a typed BIGINT column) and as JSON strings are the same events
    as_numbers = [{**r, "ts": int(r["ts"])} for r in rows]
    assert reconciles(ws.ingest_events(write_ndjson(tmp_path / "n.ndjson", as_numbers)), 12) == (12, 0, 0, 12)
    assert reconciles(ws.ingest_events(write_ndjson(tmp_path / "s.ndjson", rows)), 12) == (12, 0, 0, 12)


def test_text_epochs_through_the_cli(tmp_path):
    from journeymap.workspace import Workspace

    Workspace.init(tmp_path / "ws").close()
    rows = [{"customer_id": f"c{i}", "ts": str(epoch_value(m, "ns")), "event": "visit"} for i, m in enumerate(MOMENTS)]
    out = run_cli(tmp_path / "ws", "ingest", "events", str(write_csv(tmp_path / "ns.csv", rows)), "--format", "json")
    assert out.exit_code == 0 and "Traceback" not in out.output, out.output
    total = json.loads(out.stdout)["total"]
    assert (total["rows_read"], total["loaded"], total["quarantined"]) == (3, 3, 0)
    ws = Workspace.open(tmp_path / "ws")
    try:
        assert stored(ws) == {f"c{i}": expected_time(m, "ns") for i, m in enumerate(MOMENTS)}
    finally:
        ws.close()


def test_nan_and_infinite_epoch_doubles_are_quarantined_with_a_reason(ws, tmp_path):
    # a traceback before ("Epoch seconds out of range")
    values = [1714557600.0, math.nan, math.inf, -math.inf, 1e300, None]
    path = write_parquet(
        tmp_path / "nan.parquet",
        {
            "customer_id": pa.array([f"c{i}" for i in range(6)]),
            "ts": pa.array(values, pa.float64()),
            "event": pa.array(["visit"] * 6),
        },
    )
    assert reconciles(ws.ingest_events(path), 6) == (6, 1, 5, 0)
    assert stored(ws) == {"c0": datetime(2024, 5, 1, 10)}
    assert reasons(ws) == {
        2: "timestamp 'nan' in column 'ts' is not a finite number",
        3: "timestamp 'inf' in column 'ts' is not a finite number",
        4: "timestamp '-inf' in column 'ts' is not a finite number",
        5: "unparseable timestamp '1e+300' in column ts",
        6: "missing timestamp",
    }


def test_nan_epochs_through_the_cli_exit_0_without_a_traceback(tmp_path):
    from journeymap.workspace import Workspace

    Workspace.init(tmp_path / "ws").close()
    path = write_parquet(
        tmp_path / "nan.parquet",
        {
            "customer_id": pa.array(["a", "b", "c"]),
            "ts": pa.array([1714557600.5, math.nan, math.inf], pa.float64()),
            "event": pa.array(["visit"] * 3),
        },
    )
    out = run_cli(tmp_path / "ws", "ingest", "events", str(path), "--format", "json")
    assert out.exit_code == 0 and "Traceback" not in out.output, out.output
    total = json.loads(out.stdout)["total"]
    assert (total["rows_read"], total["loaded"], total["quarantined"], total["duplicate"]) == (3, 1, 2, 0)


# -- compact forms before epochs -----------------------------------------------------------------
def test_compact_forms_are_dates_before_epochs(ws, tmp_path):
    # 20240501100000 matched the epoch pattern first and became 2611; 20240501 was unparseable
    times = ["20240501100000", "20240501", "2024-05-02T08:00:00Z", "1714557600", "20231231235959"]
    rows = [{"customer_id": f"c{i}", "ts": t, "event": "visit"} for i, t in enumerate(times)]
    assert reconciles(ws.ingest_events(write_csv(tmp_path / "mixed.csv", rows)), 5) == (5, 5, 0, 0), reasons(ws)
    assert stored(ws) == {
        "c0": datetime.strptime("20240501100000", "%Y%m%d%H%M%S"),
        "c1": datetime.strptime("20240501", "%Y%m%d"),
        "c2": datetime(2024, 5, 2, 8),
        "c3": from_micros(1714557600 * 1_000_000),
        "c4": datetime.strptime("20231231235959", "%Y%m%d%H%M%S"),
    }


def test_compact_forms_are_local_times_and_not_dates_are_quarantined(ws, tmp_path):
    times = ["20240501100000", "20240501", "20241301", "20240230100000"]  # month 13, 30 February
    rows = [{"customer_id": f"c{i}", "ts": t, "event": "visit"} for i, t in enumerate(times)]
    r = ws.ingest_events(write_csv(tmp_path / "paris.csv", rows), tz="Europe/Paris")
    assert reconciles(r, 4) == (4, 2, 2, 0)
    # naive local times in Paris (UTC+2 in May)
    assert stored(ws) == {"c0": datetime(2024, 5, 1, 8), "c1": datetime(2024, 4, 30, 22)}
    assert reasons(ws) == {
        3: "unparseable timestamp '20241301' in column ts",
        4: "unparseable timestamp '20240230100000' in column ts",
    }


def test_typed_integer_date_keys_are_dates(ws, tmp_path):
    # a Parquet INT64 20240501 (a date key) or 20240501100000 is a date; as epochs they are 1970 or 2611
    values = [20240501, 20240501100000, epoch_value(MOMENTS[0], "ms")]
    path = write_parquet(
        tmp_path / "keys.parquet",
        {"customer_id": pa.array(["a", "b", "c"]), "ts": pa.array(values, pa.int64()), "event": pa.array(["v"] * 3)},
    )
    assert reconciles(ws.ingest_events(path), 3) == (3, 3, 0, 0), reasons(ws)
    assert stored(ws) == {
        "a": datetime(2024, 5, 1),
        "b": datetime(2024, 5, 1, 10),
        "c": expected_time(MOMENTS[0], "ms"),
    }


# -- ISO 8601 forms ------------------------------------------------------------------------------
ISO_FORMS = [
    ("2024-05-01T10:00+05:30", "%Y-%m-%dT%H:%M%z"),
    ("2024-05-01 10:00+0530", "%Y-%m-%d %H:%M%z"),
    ("2024-05-01T10:00:00+0530", "%Y-%m-%dT%H:%M:%S%z"),
    ("2024-05-01T10:00Z", "%Y-%m-%dT%H:%M%z"),
    ("2024-05-01 10:00:00 GMT", "%Y-%m-%d %H:%M:%S %Z"),
    ("2024-05-01 10:00 UTC", "%Y-%m-%d %H:%M %Z"),
    ("2024-05-01T10:00 GMT", "%Y-%m-%dT%H:%M %Z"),
    ("2024-05-01 10:00:00.250 UTC", "%Y-%m-%d %H:%M:%S.%f %Z"),
    ("2024-05-01T10:00:00.123+05:30", "%Y-%m-%dT%H:%M:%S.%f%z"),
    ("2024-05-01T10:00:00.123456-0800", "%Y-%m-%dT%H:%M:%S.%f%z"),
    ("2024-05-01 10:00:00 +05:30", "%Y-%m-%d %H:%M:%S %z"),
]


def utc_naive(text: str, fmt: str) -> datetime:
    """Python's reading of ``text`` as naive UTC (``%Z`` of GMT/UTC gives a naive UTC time)."""
    t = datetime.strptime(text, fmt)
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


@pytest.mark.parametrize(("text", "fmt"), ISO_FORMS, ids=[t for t, _ in ISO_FORMS])
def test_iso_forms_with_minute_offsets_z_and_gmt(ws, tmp_path, text, fmt):
    # a column of one form (three values): offsets win over --tz
    values = [text, text.replace("10:00", "11:30", 1), text.replace("2024-05-01", "2024-12-24", 1)]
    rows = [{"customer_id": f"c{i}", "ts": v, "event": "visit"} for i, v in enumerate(values)]
    r = ws.ingest_events(write_csv(tmp_path / "iso.csv", rows), tz="Asia/Tokyo")
    assert reconciles(r, 3) == (3, 3, 0, 0), reasons(ws)
    assert stored(ws) == {f"c{i}": utc_naive(v, fmt) for i, v in enumerate(values)}


def test_iso_forms_mixed_in_one_column_of_ndjson(ws, tmp_path):
    rows = [{"customer_id": f"c{i}", "ts": t, "event": "visit"} for i, (t, _) in enumerate(ISO_FORMS)]
    r = ws.ingest_events(write_ndjson(tmp_path / "iso.ndjson", rows))
    assert reconciles(r, len(rows)) == (len(rows), len(rows), 0, 0), reasons(ws)
    assert stored(ws) == {f"c{i}": utc_naive(t, f) for i, (t, f) in enumerate(ISO_FORMS)}


# -- years beyond 9999 ---------------------------------------------------------------------------
def test_year_10000_is_quarantined_and_the_workspace_keeps_working(tmp_path):
    # year 10000 loaded before, after which touchpoints, transitions and report failed on the workspace
    from journeymap.workspace import Workspace

    Workspace.init(tmp_path / "ws").close()
    nxt = datetime.now(UTC).year + 1
    rows = [
        {"customer_id": "c1", "ts": "2024-05-01 10:00", "event": "home"},
        {"customer_id": "c1", "ts": "10000-01-01", "event": "checkout"},
        {"customer_id": "c1", "ts": "2024-05-01 10:05", "event": "cart"},
        {"customer_id": "c2", "ts": "10000-01-01T00:00:00Z", "event": "home"},
        {"customer_id": "c2", "ts": "99999-12-31 23:59:59", "event": "cart"},
        {"customer_id": "c2", "ts": "2024-05-02 09:00", "event": "home"},
    ]
    out = cli(
        "-w", str(tmp_path / "ws"), "ingest", "events", str(write_csv(tmp_path / "y.csv", rows)), "--format", "json"
    )
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    total = json.loads(out.stdout)["total"]
    assert (total["rows_read"], total["loaded"], total["quarantined"], total["duplicate"]) == (6, 3, 3, 0)
    # typed Parquet times and dates beyond 9999, too
    far = micros(datetime(9999, 12, 31, 23, 59, 59)) + 1_000_000  # 10000-01-01 00:00:00
    path = write_parquet(
        tmp_path / "y.parquet",
        {
            "customer_id": pa.array(["c3", "c3", "c4"]),
            "ts": pa.array([micros(datetime(2024, 5, 3, 12)), far, far * 30], pa.timestamp("us")),
            "event": pa.array(["home", "cart", "home"]),
        },
    )
    out = cli("-w", str(tmp_path / "ws"), "ingest", "events", str(path), "--format", "json")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert json.loads(out.stdout)["total"]["quarantined"] == 2
    # a Parquet DATE beyond TIMESTAMP's range (year 301,000) was a conversion traceback
    days = [(datetime(2024, 5, 4) - EPOCH).days, (datetime(9999, 12, 31) - EPOCH).days + 1, 110_000_000]
    dates = write_parquet(
        tmp_path / "z.parquet",
        {
            "customer_id": pa.array(["c5", "c5", "c5"]),
            "ts": pa.array(days, pa.date32()),
            "event": pa.array(["home", "cart", "home"]),
        },
    )
    out = cli("-w", str(tmp_path / "ws"), "ingest", "events", str(dates), "--format", "json")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert json.loads(out.stdout)["total"]["quarantined"] == 2
    ws = Workspace.open(tmp_path / "ws")
    try:
        got = ws.con.con.execute("SELECT reason FROM quarantine ORDER BY source, row_number").fetchall()
        assert [r[0] for r in got[:4]] == [
            f"implausible year 10000 from '10000-01-01' in column 'ts' (allowed 1970..{nxt}); "
            "pass --ts-format or widen [ingest] max_year",
            f"implausible year 10000 from '10000-01-01T00:00:00Z' in column 'ts' (allowed 1970..{nxt}); "
            "pass --ts-format or widen [ingest] max_year",
            f"implausible year 99999 from '99999-12-31 23:59:59' in column 'ts' (allowed 1970..{nxt}); "
            "pass --ts-format or widen [ingest] max_year",
            f"implausible year 10000 from '10000-01-01 00:00:00' in column 'ts' (allowed 1970..{nxt}); "
            "pass --ts-format or widen [ingest] max_year",
        ]
        # 30 x 10000-01-01 in microseconds: about year 30 x 8030 (Python's dates end in 9999)
        assert re.fullmatch(r"implausible year (2\d{5}) from '\1-.*' in column 'ts' .* max_year", got[4][0]), got[4][0]
        assert (
            got[5][0] == f"implausible year 10000 from '10000-01-01' in column 'ts' (allowed 1970..{nxt}); "
            "pass --ts-format or widen [ingest] max_year"
        )
        assert got[6][0].startswith("unparseable timestamp '30") and len(got) == 7
        assert ws.con.con.execute("SELECT count(*), max(year(ts)) FROM events").fetchone() == (5, 2024)
    finally:
        ws.close()
    for args in (["touchpoints"], ["transitions"], ["report", "-o", str(tmp_path / "r.html")]):
        p = cli("-w", str(tmp_path / "ws"), *args)
        assert p.returncode == 0 and "Traceback" not in p.stderr, (args, p.stderr[-2000:])
    assert (tmp_path / "r.html").stat().st_size > 0


def test_plausible_years_cannot_go_beyond_9999(ws, tmp_path):
    path = write_csv(tmp_path / "y.csv", [{"customer_id": "c1", "ts": "10000-01-01", "event": "x"}])
    with pytest.raises(InputError, match=r"Plausible years 1970\.\.10000 .* go beyond 1\.\.9999"):
        ws.ingest_events(path, years=(1970, 10000))
    with pytest.raises(InputError, match=r"Plausible years 0\.\.2000 .* go beyond 1\.\.9999"):
        ws.ingest_events(path, years=(0, 2000))
    assert ws.con.con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0


def test_max_year_beyond_9999_in_journeymap_toml_is_one_sentence_in_the_cli(tmp_path):
    from journeymap.workspace import CONFIG_FILE, Workspace

    Workspace.init(tmp_path / "ws").close()
    cfg = tmp_path / "ws" / CONFIG_FILE
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace("[report]", "max_year = 10000\n\n[report]"), encoding="utf-8"
    )
    path = write_csv(tmp_path / "y.csv", [{"customer_id": "c1", "ts": "10000-01-01", "event": "x"}])
    p = cli("-w", str(tmp_path / "ws"), "ingest", "events", str(path))
    assert p.returncode != 0 and "Traceback" not in p.stderr
    lines = [x for x in (p.stdout + p.stderr).splitlines() if x.strip()]
    assert len(lines) == 1 and "max_year" in lines[0] and "1..9999" in lines[0], lines


# -- ratings -------------------------------------------------------------------------------------
RATINGS = [  # rating, rating_scale, reason (None: loads)
    ("4", "5", None),
    ("500", "5", "rating '500' is outside its scale 0-5 (rating_scale)"),
    ("-1", "5", "rating '-1' is outside its scale 0-5 (rating_scale)"),
    ("3", "0", "rating_scale '0' must be above 0 (the highest rating, e.g. 5 or 10)"),
    ("0", "5", None),
    ("10", "10", None),
    ("7", "", None),
    ("-2", "", "rating '-2' is outside its scale from 0 (rating_scale)"),
    ("", "5", None),
    ("5.5", "5", "rating '5.5' is outside its scale 0-5 (rating_scale)"),
]


def feedback_rows() -> list[dict[str, str]]:
    return [
        {
            "customer_id": f"c{i}",
            "ts": f"2024-05-01 10:{i:02d}",
            "comment": f"visit {i}",
            "rating": r,
            "rating_scale": s,
        }
        for i, (r, s, _) in enumerate(RATINGS)
    ]


def test_ratings_outside_their_scale_are_quarantined_with_a_reason(ws, tmp_path):
    r = ws.ingest_feedback(write_csv(tmp_path / "fb.csv", feedback_rows()), mapping={"text": "comment"})
    bad = {i + 1: why for i, (_, _, why) in enumerate(RATINGS) if why}
    assert reconciles(r, len(RATINGS)) == (len(RATINGS), len(RATINGS) - len(bad), len(bad), 0)
    assert reasons(ws) == bad
    got = dict(ws.con.con.execute("SELECT customer_id, rating FROM feedback").fetchall())
    assert got == {f"c{i}": (float(x) if x else None) for i, (x, _, why) in enumerate(RATINGS) if not why}


def test_typed_parquet_ratings_are_checked_too(ws, tmp_path):
    rows = feedback_rows()
    num = [float(x["rating"]) if x["rating"] else None for x in rows]
    scale = [float(x["rating_scale"]) if x["rating_scale"] else None for x in rows]
    path = write_parquet(
        tmp_path / "fb.parquet",
        {
            "customer_id": pa.array([x["customer_id"] for x in rows]),
            "ts": pa.array([x["ts"] for x in rows]),
            "comment": pa.array([x["comment"] for x in rows]),
            "rating": pa.array(num, pa.float64()),
            "rating_scale": pa.array(scale, pa.int64()),
        },
    )
    r = ws.ingest_feedback(path, mapping={"text": "comment"})
    bad = {i + 1 for i, (_, _, why) in enumerate(RATINGS) if why}
    assert reconciles(r, len(RATINGS))[2] == len(bad)
    got = reasons(ws)
    assert set(got) == bad
    assert got[2] == "rating '500.0' is outside its scale 0-5 (rating_scale)"
    assert got[4] == "rating_scale '0' must be above 0 (the highest rating, e.g. 5 or 10)"


def test_a_rating_above_its_scale_no_longer_moves_the_maps_emotion(tmp_path):
    # a rating of 500 on a 5-point scale loaded and moved the map's mean emotion; a rating of 0 on the
    # 1..5 formula weighed -1.5: each item's parts are clamped to -1..+1 where the map combines them
    from journeymap.workspace import Workspace

    Workspace.init(tmp_path / "ws").close()
    events = [
        {"customer_id": f"c{i}", "ts": f"2024-05-0{1 + i % 3} 10:0{i}:00", "event": "checkout" if i % 2 else "home"}
        for i in range(8)
    ]
    fb = [(5, 5), (0, 5), (500, 5), (3, 5), (10, 10)]
    feedback = [
        {"customer_id": f"c{i}", "ts": "2024-05-01 11:00", "rating": r, "rating_scale": s}
        for i, (r, s) in enumerate(fb)
    ]
    ws_path = str(tmp_path / "ws")
    for table, rows in (("events", events), ("feedback", feedback)):
        out = cli("-w", ws_path, "ingest", table, str(write_csv(tmp_path / f"{table}.csv", rows)), "--format", "json")
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert json.loads(out.stdout)["total"]["quarantined"] == 1  # the 500
    p = cli("-w", ws_path, "map", "-o", str(tmp_path / "map.json"))
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
    doc = json.loads((tmp_path / "map.json").read_text(encoding="utf-8"))
    emotion = next(h for h in doc["summary"]["headlines"] if h["key"] == "emotion")

    def item(r: float, s: float) -> float:  # a rating on 1..scale rescaled to -1..+1, clamped
        return max(-1.0, min(1.0, (r - 1) / (s - 1) * 2 - 1))

    kept = [item(r, s) for r, s in fb if r <= s]
    assert emotion["n"] == len(kept) == 4
    assert emotion["value"] == pytest.approx(sum(kept) / len(kept))
