"""Engine-specific check: on a real log, Spark gives the same transitions and variants as DuckDB.

The hand-computed suites (tests/test_transitions.py, test_touchpoints.py, test_paths.py)
already run on both engines; this one uses the smallest shared process-mining log
(receipt, 8,577 events) read one journey per case, and compares every figure.
"""

from __future__ import annotations

import pandas as pd
import pytest

from journeymap.journeys import JourneyRules, build_journeys, transitions, variants

RULES = JourneyRules(goals=(), inactivity_gap=None, conversion_window=None)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.shared_data
def test_receipt_log_same_on_spark_and_duckdb(shared_data, spark_con, duckdb_con):
    df = pd.read_csv(
        shared_data / "pm_receipt_permit" / "receipt_events.csv.gz",
        usecols=["case:concept:name", "concept:name", "time:timestamp"],
        dtype=str,
    )
    import ibis

    events = ibis.memtable(
        pd.DataFrame(
            {
                "customer_id": df["case:concept:name"],
                "ts": pd.to_datetime(df["time:timestamp"], utc=True, format="ISO8601").dt.tz_convert(None),
                "touchpoint": df["concept:name"],
                "event_id": [f"{i:05d}" for i in range(len(df))],
            }
        )
    )
    journeys = build_journeys(events, rules=RULES)

    def edges(con):
        return {
            (r["source"], r["target"]): (
                r["count"],
                r["customers"],
                round(r["probability"], 12),
                *(None if v is None else round(v, 6) for v in (r["median_gap_s"], r["p90_gap_s"])),
            )
            for r in transitions(journeys, con=con).records()
        }

    def paths(con):
        return {r["path"]: r["journeys"] for r in variants(journeys, top=None, con=con).records()}

    spark_edges, duck_edges = edges(spark_con), edges(duckdb_con)
    assert spark_edges == duck_edges
    assert sum(v[0] for k, v in duck_edges.items() if k[0] == "START") == df["case:concept:name"].nunique()
    assert paths(spark_con) == paths(duckdb_con)
