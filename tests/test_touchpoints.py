"""Touchpoint figures, hand-computed, on DuckDB and Spark."""

from __future__ import annotations

import ibis
import pytest
from conftest import SIX_JOURNEYS, SIX_JOURNEYS_SETTINGS, six_journeys_events

from journeymap.blueprint import Blueprint
from journeymap.journeys import build_journeys, touchpoints, touchpoints_expr, with_dimension

ROWS = SIX_JOURNEYS
BP = Blueprint.model_validate(
    {
        "stages": [{"name": "aware"}, {"name": "buy"}],
        "touchpoints": [
            {"name": "Ad", "stage": "aware"},
            {"name": "Site", "stage": "aware"},
            {"name": "Buy", "stage": "buy"},
        ],
        **SIX_JOURNEYS_SETTINGS,
    }
)
DAY = 86400.0


def events():
    return six_journeys_events()


@pytest.fixture(scope="module", params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def table(request):
    con = request.getfixturevalue(f"{request.param}_con")
    r = touchpoints(build_journeys(events(), BP), con=con)
    return {row["touchpoint"]: row for row in r.records()}


def test_reach(table):
    assert {k: (v["events"], v["customers"], v["journeys"]) for k, v in table.items()} == {
        "Ad": (5, 4, 5),
        "Site": (5, 3, 4),
        "Buy": (2, 2, 2),
    }
    assert table["Ad"]["share_of_journeys"] == pytest.approx(5 / 6)
    assert table["Site"]["share_of_journeys"] == pytest.approx(4 / 6)


def test_conversion_rate_with_wilson_interval(table):
    ad = table["Ad"]
    assert (ad["conversions"], ad["conversion_rate"]) == (2, pytest.approx(0.4))
    # Wilson 95% interval for 2 of 5 (e.g. Newcombe 1998, Table I method 3): 0.1176 to 0.7693
    assert ad["rate_low"] == pytest.approx(0.1176, abs=1e-4)
    assert ad["rate_high"] == pytest.approx(0.7693, abs=1e-4)
    assert table["Buy"]["conversion_rate"] == 1.0 and table["Buy"]["rate_high"] == pytest.approx(1.0)


def test_position_time_to_conversion_and_repeats(table):
    # first steps: Ad 1,1,1,1,1; Site 2,1,2,2; Buy 4,2
    assert [table[t]["median_step"] for t in ("Ad", "Site", "Buy")] == [1.0, 2.0, 3.0]
    # converted journeys: a1 Ad day 0 -> Buy day 2, d1 Ad day 10 -> Buy day 10.5; a1 first Site day 1
    assert table["Ad"]["median_time_to_conversion_s"] == pytest.approx((2 * DAY + 0.5 * DAY) / 2)
    assert table["Site"]["median_time_to_conversion_s"] == pytest.approx(DAY)
    assert table["Buy"]["median_time_to_conversion_s"] == 0
    assert [table[t]["repeat_rate"] for t in ("Ad", "Site", "Buy")] == [0.0, 0.25, 0.0]


def test_by_stage_and_breakdown_by_attribute():
    stages = {r["stage"]: r for r in touchpoints(build_journeys(events(), BP), node="stage").records()}
    assert stages["aware"]["journeys"] == 6 and stages["aware"]["repeat_rate"] == pytest.approx(
        3 / 6
    )  # a1, b1, c1 touch it twice or more
    customers = ibis.memtable({"customer_id": ["a", "b", "c", "d"], "segment": ["vip", "new", "new", "new"]})
    j = build_journeys(with_dimension(events(), "segment", customers=customers), BP)
    r = touchpoints(j, by="dimension")
    got = {(x["dimension"], x["touchpoint"]): x for x in r.records()}
    assert got[("vip", "Site")]["share_of_journeys"] == pytest.approx(2 / 3)  # a1, a2 of a1, a2, a3
    assert got[("new", "Ad")]["journeys"] == 3 and got[("new", "Ad")]["share_of_journeys"] == 1.0


def test_expression_and_csv():
    j = build_journeys(events(), BP)
    assert isinstance(touchpoints_expr(j), ibis.Table)
    header = touchpoints(j).to_csv().splitlines()[0]
    assert header.startswith("touchpoint,events,customers,journeys,share_of_journeys,conversions,conversion_rate")
