"""Friction on a hand-computed case: exits against position, loops, slow transitions, the score."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import ibis
import pytest

from journeymap.blueprint import Blueprint
from journeymap.journeys import JourneyRules, build_journeys
from journeymap.journeys.friction import friction
from journeymap.results import Result

D = datetime(2024, 3, 1)
H = 3600.0
# Every gap is 1 hour, except that reaching B takes 10 hours. No goals: every journey is dropped.
PATHS = {"j1": "ABC", "j2": "AB", "j3": "ABB", "j4": "ACAB"}


def journeys():
    rows = []
    for cust, path in PATHS.items():
        t = D
        for i, tp in enumerate(path):
            if i:
                t += timedelta(hours=10 if tp == "B" else 1)
            rows.append((cust, t, tp))
    ev = ibis.memtable(
        {
            "customer_id": [r[0] for r in rows],
            "ts": [r[1] for r in rows],
            "touchpoint": [r[2] for r in rows],
            "event_id": [f"{i:02d}" for i in range(len(rows))],
        }
    )
    return build_journeys(ev, rules=JourneyRules(goals=(), inactivity_gap=None, conversion_window=None))


def test_friction_components_hand_computed(con):
    r = friction(journeys(), con=con)
    got = {row["touchpoint"]: row for row in r.records()}
    # exit hazard by step: h(1)=0, h(2)=1/4, h(3)=2/3, h(4)=1
    assert got["B"]["touches"] == 5 and got["B"]["exits"] == 3
    assert got["B"]["expected_exit_rate"] == pytest.approx((3 / 4 + 2 / 3 + 1) / 5)
    assert got["B"]["exit_component"] == pytest.approx(math.log2(4 / (1 + 3 / 4 + 2 / 3 + 1)))
    assert got["C"]["exit_component"] == pytest.approx(math.log2(2 / (1 + 2 / 3 + 1 / 4)))
    assert got["A"]["exits"] == 0 and got["A"]["expected_exit_rate"] == pytest.approx((2 / 3) / 5)
    # loops: j3 repeats B, j4 goes A > C > A; 2 looping pairs among 10 (journey, touchpoint) pairs
    assert (got["B"]["self_loops"], got["A"]["ping_pongs"]) == (1, 1)
    assert got["A"]["expected_loop_rate"] == pytest.approx(0.2)
    assert got["A"]["loop_component"] == pytest.approx(math.log2(2 / 1.8))
    # slow: every gap into B is 10h; the typical p90 into a touchpoint is 1h
    assert got["B"]["p90_gap_in_s"] == pytest.approx(10 * H)
    assert got["B"]["slow_ratio"] == pytest.approx(10)
    assert got["A"]["p90_gap_out_s"] == pytest.approx(10 * H)
    assert got["A"]["slow_ratio"] == pytest.approx(10 / 9.1)  # out of A: p90 10h against the median 9.1h
    assert got["B"]["slow_component"] == 3.0  # log2(10) = 3.32, capped at 3
    b_score = math.log2(4 / (1 + 3 / 4 + 2 / 3 + 1)) + math.log2(2 / 1.8) + 3.0
    assert got["B"]["friction_score"] == pytest.approx(b_score)
    assert [row["touchpoint"] for row in r.records()] == ["B", "A", "C"]
    assert [row["rank"] for row in r.records()] == [1, 2, 3]


def test_in_progress_journeys_are_not_exits():
    ev = journeys().select("customer_id", "ts", "touchpoint", "event_id")
    rules = JourneyRules(goals=(), inactivity_gap=None, conversion_window=timedelta(days=365))
    r = friction(build_journeys(ev, rules=rules))  # every journey is still in progress
    rows = r.records()
    assert {row["touchpoint"] for row in rows} == {"A", "B", "C"}
    # no settled journey: no exit signal at all (null), not "as expected" (0)
    assert all(row["exits"] == 0 and row["touches"] == 0 and row["exit_component"] is None for row in rows)
    assert rows[0]["touchpoint"] == "B"  # still the slowest, and loops


def test_slow_is_judged_within_the_stage():
    ev = journeys().select("customer_id", "ts", "touchpoint", "event_id")
    bp = Blueprint.model_validate(
        {
            "stages": [{"name": "s1"}, {"name": "s2"}],
            "touchpoints": [{"name": "A", "stage": "s1"}, {"name": "B", "stage": "s2"}, {"name": "C", "stage": "s1"}],
            "journey": {"inactivity_gap": None, "conversion_window": None},
        }
    )
    got = {row["touchpoint"]: row for row in friction(build_journeys(ev, bp)).records()}
    assert got["B"]["slow_ratio"] == pytest.approx(1.0)  # alone in its stage: it is its own typical touchpoint
    assert got["A"]["typical_p90_gap_out_s"] == pytest.approx((10 + 1) / 2 * H)  # median of A's 10h and C's 1h


def test_round_trip():
    r = friction(journeys())
    assert Result.from_json(r.to_json()) == r


def test_breakdown_equals_friction_of_each_group(con):
    """Each value of ``by`` is ranked against its own expectations: the same as friction on that group alone."""
    j = journeys()
    j = j.mutate(dimension=ibis.ifelse(j.customer_id.isin(["j1", "j3"]), "x", "y"))
    r = friction(j, by="dimension", con=con)
    assert r.columns[0] == "dimension" and r.meta["by"] == "dimension"
    for dim in ("x", "y"):
        alone = friction(j.filter(j.dimension == dim).drop("dimension"), con=con).records()
        mine = [{k: v for k, v in row.items() if k != "dimension"} for row in r.records() if row["dimension"] == dim]
        assert [row["touchpoint"] for row in mine] == [row["touchpoint"] for row in alone]
        for a, b in zip(mine, alone, strict=True):
            assert a == pytest.approx(b, nan_ok=True)
