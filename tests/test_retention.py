"""Retention on a hand-computed case: first-time and recurring cohorts, on and on-or-after, repeat purchases."""

from __future__ import annotations

from datetime import datetime

import ibis
import pytest

from journeymap.errors import InputError
from journeymap.journeys.retention import retention
from journeymap.results import Result

ROWS = [
    ("a", "2024-01-01", "Buy"),
    ("a", "2024-01-03", "Buy"),
    ("a", "2024-01-16", "Buy"),
    ("b", "2024-01-02", "Buy"),
    ("b", "2024-01-10", "Buy"),
    ("c", "2024-01-08", "Buy"),
    ("d", "2024-01-01", "Visit"),
    ("d", "2024-01-09", "Buy"),
    ("d", "2024-01-23", "Buy"),
]
EV = ibis.memtable(
    {
        "customer_id": [r[0] for r in ROWS],
        "ts": [datetime.fromisoformat(r[1]) for r in ROWS],
        "touchpoint": [r[2] for r in ROWS],
        "is_goal": [r[2] == "Buy" for r in ROWS],
    }
)


def grid(r, field="customers"):
    return {(row["cohort"], row["period"]): row[field] for row in r.records()}


def test_weekly_first_time_cohorts_on(con):
    r = retention(EV, period="week", periods=3, con=con)
    g = grid(r)
    assert [g[("2024-01-01", k)] for k in range(4)] == [1, 1, 1, 0]
    assert [g[("2024-01-08", k)] for k in range(4)] == [0, 0, 1, 0]
    sizes = {row["cohort"]: row["cohort_size"] for row in r.records()}
    assert sizes == {"2024-01-01": 2, "2024-01-08": 2}
    assert grid(r, "rate")[("2024-01-01", 1)] == 0.5
    done = grid(r, "complete")  # the data ends on 2024-01-23
    assert [done[("2024-01-01", k)] for k in range(4)] == [True, True, True, False]
    assert [done[("2024-01-08", k)] for k in range(3)] == [True, True, False]
    assert r.meta["repeat_purchase_rate"] == pytest.approx(3 / 4)
    assert r.to_frame("repeat").repeat_buyers.tolist() == [2, 1]


def test_on_or_after():
    g = grid(retention(EV, goals=["Buy"], period="week", periods=3, on_or_after=True))
    assert [g[("2024-01-01", k)] for k in range(4)] == [2, 2, 1, 0]
    assert [g[("2024-01-08", k)] for k in range(4)] == [1, 1, 1, 0]


def test_chosen_start_and_return_events():
    g = grid(retention(EV, start="Visit", return_event="Buy", period="week", periods=3))
    assert g == {("2024-01-01", 0): 0, ("2024-01-01", 1): 1, ("2024-01-01", 2): 0, ("2024-01-01", 3): 1}


def test_recurring_cohorts():
    r = retention(EV, period="week", periods=2, recurring=True)
    sizes = {row["cohort"]: row["cohort_size"] for row in r.records()}
    assert sizes == {"2024-01-01": 2, "2024-01-08": 3, "2024-01-15": 1, "2024-01-22": 1}
    g = grid(r)
    assert [g[("2024-01-08", k)] for k in range(3)] == [0, 0, 1]  # d's 2024-01-23 purchase
    assert [g[("2024-01-01", k)] for k in range(3)] == [1, 1, 1]


def test_daily_and_monthly_periods():
    m = grid(retention(EV, period="month", periods=1))
    assert m == {("2024-01-01", 0): 3, ("2024-01-01", 1): 0}
    d = grid(retention(EV, period="day", periods=2))
    assert d[("2024-01-01", 2)] == 1 and d[("2024-01-02", 0)] == 0


def test_errors_and_round_trip():
    with pytest.raises(InputError, match="period 'year' is not one of"):
        retention(EV, period="year")
    with pytest.raises(InputError, match="start-event"):
        retention(EV.drop("is_goal"))
    r = retention(EV, periods=1)
    assert Result.from_json(r.to_json()) == r


def test_breakdown_equals_retention_of_each_group(con):
    """A cohort breakdown gives, per value, the figures of retention run on that group alone."""
    ev = EV.mutate(dimension=ibis.ifelse(EV.customer_id.isin(["a", "b"]), "x", "y"))
    end = datetime(2024, 1, 23)
    for on_or_after in (False, True):
        r = retention(ev, period="week", periods=3, by="dimension", on_or_after=on_or_after, end=end, con=con)
        assert r.columns[0] == "dimension" and r.repeat_columns[0] == "dimension"
        for dim in ("x", "y"):
            alone = retention(
                ev.filter(ev.dimension == dim), period="week", periods=3, on_or_after=on_or_after, end=end, con=con
            )
            mine = [row[1:] for row in r.rows if row[0] == dim]
            assert mine == alone.rows
            assert [row[1:] for row in r.repeat_rows if row[0] == dim] == alone.repeat_rows
    assert r.meta["repeat_purchase_rate"] == pytest.approx(3 / 4)
