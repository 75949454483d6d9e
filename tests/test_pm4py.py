"""Transitions and variants equal pm4py's discover_dfg and get_variants on the shared process-mining logs.

Each log is read one journey per case: a blueprint with no goals, no gap and no
conversion window. pm4py sorts events stably, so events with equal timestamps keep
their file order; ours is time, then ``seq`` (the row in the file), then ``event_id``
(:func:`journeymap.schema.touch_order`). These tables are built by hand without ``seq``, so
the test gives each event a zero-padded row number as its ``event_id`` and ties break the
same way. The same equality through ingest and the CLI (DuckDB and Spark) is in
tests/test_truth_flows.py.
pm4py's get_variants is compared after pm4py.format_dataframe (it is wrong on an
unformatted frame). Counts are compared exactly.
"""

from __future__ import annotations

import contextlib
import io

import ibis
import pandas as pd
import pytest

from journeymap.journeys import JourneyRules, build_journeys, transitions, variants

pm4py = pytest.importorskip("pm4py")

ONE_JOURNEY_PER_CASE = JourneyRules(goals=(), inactivity_gap=None, conversion_window=None)
CASE, ACTIVITY, TIME = "case:concept:name", "concept:name", "time:timestamp"

LOGS = [
    pytest.param("pm_receipt_permit/receipt_events.csv.gz", id="receipt"),
    pytest.param("pm_helpdesk_tickets/helpdesk_events.csv.gz", id="helpdesk"),
    pytest.param("pm_bpic2013_incidents/bpic2013_incidents_events.csv.gz", id="bpic2013", marks=pytest.mark.slow),
    pytest.param("pm_bpic2012_loan/bpic2012_events.csv.gz", id="bpic2012", marks=pytest.mark.slow),
]


def read_log(path) -> pd.DataFrame:
    df = pd.read_csv(path, usecols=[CASE, ACTIVITY, TIME], dtype=str)
    df[TIME] = pd.to_datetime(df[TIME], utc=True, format="ISO8601")
    return df


def as_events(df: pd.DataFrame) -> ibis.Table:
    """The log as canonical events; event_id = zero-padded row number, so ties keep file order."""
    width = len(str(len(df)))
    return ibis.memtable(
        pd.DataFrame(
            {
                "customer_id": df[CASE].to_numpy(),
                "ts": df[TIME].dt.tz_convert(None).to_numpy(),
                "touchpoint": df[ACTIVITY].to_numpy(),
                "event_id": [str(i).zfill(width) for i in range(len(df))],
            }
        )
    )


def pm4py_figures(df: pd.DataFrame):
    with contextlib.redirect_stdout(io.StringIO()):
        log = pm4py.format_dataframe(df.copy(), case_id=CASE, activity_key=ACTIVITY, timestamp_key=TIME)
        dfg, starts, ends = pm4py.discover_dfg(log)
        var = pm4py.get_variants(log)
    return dfg, starts, ends, var


@pytest.mark.shared_data
@pytest.mark.parametrize("rel", LOGS)
def test_transitions_and_variants_equal_pm4py(shared_data, rel):
    df = read_log(shared_data / rel)
    dfg, starts, ends, var = pm4py_figures(df)
    journeys = build_journeys(as_events(df), rules=ONE_JOURNEY_PER_CASE)

    rows = transitions(journeys).records()
    inner = {
        (r["source"], r["target"]): r["count"] for r in rows if r["source"] != "START" and r["target"] != "DROPPED"
    }
    assert inner == {k: int(v) for k, v in dfg.items()}
    assert {r["target"]: r["count"] for r in rows if r["source"] == "START"} == {k: int(v) for k, v in starts.items()}
    assert {r["source"]: r["count"] for r in rows if r["target"] == "DROPPED"} == {k: int(v) for k, v in ends.items()}
    assert {r["target"] for r in rows if r["source"] != "START"} <= set(df[ACTIVITY]) | {"DROPPED"}

    ours = variants(journeys, top=None)
    got = {tuple(r["path"].split(" > ")): r["journeys"] for r in ours.records()}
    assert got == {tuple(k): int(v) for k, v in var.items()}
    assert ours.meta["variants"] == len(var)
    assert ours.meta["journeys_in_scope"] == df[CASE].nunique()


def test_equal_timestamps_keep_file_order_like_pm4py():
    t = pd.Timestamp("2024-01-01", tz="UTC")
    df = pd.DataFrame(
        {
            CASE: ["1", "1", "1", "2", "2"],
            ACTIVITY: ["Z", "B", "A", "B", "A"],
            TIME: [t, t + pd.Timedelta("1h"), t + pd.Timedelta("1h"), t, t],
        }
    )
    dfg, _, _, var = pm4py_figures(df)
    journeys = build_journeys(as_events(df), rules=ONE_JOURNEY_PER_CASE)
    got = {(r["source"], r["target"]): r["count"] for r in transitions(journeys).records()}
    assert got[("B", "A")] == dfg[("B", "A")] == 2 and ("A", "B") not in got
    assert {r["path"]: r["journeys"] for r in variants(journeys).records()} == {
        " > ".join(k): v for k, v in var.items()
    }
