"""The journey definition (DESIGN.md): split at goals and after the gap; converted / in progress / dropped.

Every case is computed by hand; the same suite runs on DuckDB and on Spark.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import pytest

from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.journeys import (
    JourneyRules,
    assign_personas,
    build_journeys,
    filter_events,
    journey_table,
    status_counts,
    with_dimension,
)

D = datetime(2024, 3, 1)


def day(n: float) -> datetime:
    return D + timedelta(days=n)


def events_table(rows):
    cols = ["customer_id", "ts", "touchpoint", "event_id"]
    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    data["revenue"] = [50.0 if r[2] == "Buy" else None for r in rows]
    return ibis.memtable(data)


ROWS = [
    # customer a: converts, then comes back and a gap of 40 days splits again
    ("a", day(0), "Ad", "a1"),
    ("a", day(1), "Site", "a2"),
    ("a", day(2), "Buy", "a3"),
    ("a", day(3), "Site", "a4"),
    ("a", day(43), "Site", "a5"),
    # customer b: one journey that ran dry long ago (dropped)
    ("b", day(0), "Ad", "b1"),
    ("b", day(5), "Site", "b2"),
    # customer c: started near the end of the data (in progress)
    ("c", day(40), "Ad", "c1"),
]
BP = Blueprint.model_validate(
    {
        "stages": [{"name": "awareness"}, {"name": "purchase"}],
        "touchpoints": [
            {"name": "Ad", "stage": "awareness"},
            {"name": "Site", "stage": "awareness"},
            {"name": "Buy", "stage": "purchase"},
        ],
        "goals": [{"touchpoint": "Buy"}],
        "journey": {"inactivity_gap": "30d", "conversion_window": "7d"},
    }
)


def run(con, expr):
    return con.execute(expr)


@pytest.fixture
def journeys(con):
    return build_journeys(events_table(ROWS), BP)


def test_journey_numbers_steps_and_status(con, journeys):
    df = run(con, journeys.order_by(["customer_id", "ts"]))
    got = list(zip(df.customer_id, df.journey_no, df.step, df.status, strict=True))
    assert got == [
        ("a", 1, 1, "converted"),
        ("a", 1, 2, "converted"),
        ("a", 1, 3, "converted"),
        ("a", 2, 1, "dropped"),  # day 3 .. day 43 is a 40-day gap: journey 2 ends at day 3
        ("a", 3, 1, "in_progress"),  # day 43 is the data's end
        ("b", 1, 1, "dropped"),
        ("b", 1, 2, "dropped"),
        ("c", 1, 1, "in_progress"),  # day 40 is 3 days before the end, inside the 7-day window
    ]


def test_journey_level_figures(con, journeys):
    jt = run(con, journey_table(journeys).order_by(["customer_id", "journey_no"]))
    assert jt.n_touches.tolist() == [3, 1, 1, 2, 1]
    assert jt.conversion_value.tolist() == [50.0, 0.0, 0.0, 0.0, 0.0]
    assert jt.journey_id.tolist() == ["a:1", "a:2", "a:3", "b:1", "c:1"]


def test_status_counts_reconcile(con, journeys):
    counts = status_counts(journeys)
    assert counts == {"converted": 1, "in_progress": 2, "dropped": 2}
    assert sum(counts.values()) == 5


def test_stage_comes_from_blueprint(con, journeys):
    df = run(con, journeys.select("touchpoint", "stage").distinct().order_by("touchpoint"))
    assert dict(zip(df.touchpoint, df.stage, strict=True)) == {
        "Ad": "awareness",
        "Buy": "purchase",
        "Site": "awareness",
    }


def test_no_goals_no_gap_gives_one_journey_per_customer(con):
    rules = JourneyRules(goals=(), inactivity_gap=None, conversion_window=None)
    j = build_journeys(events_table(ROWS), rules=rules)
    jt = run(con, journey_table(j))
    assert len(jt) == 3
    assert set(jt.status) == {"dropped"}


def test_explicit_end_changes_in_progress(con):
    j = build_journeys(events_table(ROWS), BP, end=day(100))
    counts = status_counts(j)
    assert counts == {"converted": 1, "in_progress": 0, "dropped": 4}


def test_goal_at_first_touch_ends_a_one_touch_journey(con):
    rows = [("x", day(0), "Buy", "1"), ("x", day(0.5), "Buy", "2"), ("x", day(1), "Ad", "3")]
    j = build_journeys(events_table(rows), BP)
    jt = run(con, journey_table(j).order_by("journey_no"))
    assert jt.status.tolist() == ["converted", "converted", "in_progress"]
    assert jt.n_touches.tolist() == [1, 1, 1]


def test_missing_touchpoints_keep_any_semantics_of_converted(con):
    # converted is any(is_goal) over the journey: null only when no touch's goal flag is known
    rows = [
        ("n", day(0), None, "n1"),
        ("n", day(1), "Buy", "n2"),  # goal last: converted
        ("m", day(0), "Ad", "m1"),
        ("m", day(1), None, "m2"),  # a known non-goal: not converted
        ("k", day(0), None, "k1"),
        ("k", day(1), None, "k2"),  # nothing known: null
        ("q", day(0), None, "q1"),
        ("q", day(1), "Ad", "q2"),
        ("q", day(2), None, "q3"),  # known inside
    ]
    jt = run(con, journey_table(build_journeys(events_table(rows), BP)).order_by("customer_id"))
    got = {c: (None if v is None or v != v else bool(v)) for c, v in zip(jt.customer_id, jt.converted, strict=True)}
    assert got == {"k": None, "m": False, "n": True, "q": False}
    assert jt.n_touches.tolist() == [2, 2, 2, 3]


def test_touches_without_time_sort_last_and_keep_the_journey_end(con):
    # no time: sorted last; the first joins the journey before it (gap unknown), each later one
    # starts a journey (its previous touch has no time); a journey's start and end are MIN and MAX
    rows = [("t", day(0), "Ad", "t1"), ("t", day(1), "Site", "t2"), ("t", None, "Site", "t3"), ("t", None, "Ad", "t4")]
    jt = run(con, journey_table(build_journeys(events_table(rows), BP, end=day(2))).order_by("journey_no"))
    assert jt.n_touches.tolist() == [3, 1]
    assert jt.journey_start.tolist()[0] == day(0) and jt.journey_end.tolist()[0] == day(1)
    assert jt.journey_end.isna().tolist() == [False, True]
    assert jt.status.tolist() == ["in_progress", "dropped"]  # day 1 is within 7 days of the end


def test_long_journeys_and_many_journeys_of_one_customer(con):
    # 40 daily touches in one journey, then 20 purchases (each its own one-touch journey), then
    # 35 touches again: steps and numbers across many ranks of one customer
    rows = [("z", day(i), "Site", f"z{i:03d}") for i in range(40)]
    rows += [("z", day(40 + i), "Buy", f"z{40 + i:03d}") for i in range(20)]
    rows += [("z", day(60 + i), "Ad", f"z{60 + i:03d}") for i in range(35)]
    df = run(con, build_journeys(events_table(rows), BP).order_by("ts"))
    # by hand: the first 40 touches and the first purchase form journey 1 (41 touches); each later
    # purchase is a journey of one; the 35 touches after the last purchase are the last journey
    want_no = [1] * 41 + list(range(2, 21)) + [21] * 35
    want_step = list(range(1, 42)) + [1] * 19 + list(range(1, 36))
    assert df.journey_no.tolist() == want_no
    assert df.step.tolist() == want_step
    assert df.n_touches.tolist() == [41] * 41 + [1] * 19 + [35] * 35
    assert df.journey_start.tolist()[:41] == [day(0)] * 41
    assert df.journey_end.tolist()[-35:] == [day(94)] * 35


def test_missing_column_is_a_clear_error():
    t = ibis.memtable({"customer_id": ["a"], "when": [D]})
    with pytest.raises(InputError, match="lacks column\\(s\\) ts, touchpoint"):
        build_journeys(t, BP)


CUSTOMERS = {"customer_id": ["a", "b", "c"], "segment": ["vip", "new", "new"], "age": ["61", "25", "40"]}
PERSONA_BP = Blueprint.model_validate(
    {
        "personas": [
            {"name": "VIP", "where": {"segment": "vip"}},
            {"name": "Young newcomer", "where": {"segment": ["new"], "age": {"lt": 30}}},
        ]
    }
)


def test_personas_first_match_wins_else_other(con):
    got = run(con, assign_personas(ibis.memtable(CUSTOMERS), PERSONA_BP).order_by("customer_id"))
    assert got.persona.tolist() == ["VIP", "Young newcomer", "other"]


def test_persona_rule_on_missing_attribute_names_it():
    bp = Blueprint.model_validate({"personas": [{"name": "P", "where": {"plan": "gold"}}]})
    with pytest.raises(InputError, match="attribute 'plan'"):
        assign_personas(ibis.memtable(CUSTOMERS), bp)


def test_filters_by_date_and_persona(con):
    ev = events_table(ROWS)
    customers = ibis.memtable(CUSTOMERS)
    assert run(con, filter_events(ev, start=day(1), end=day(5)).count()) == 3
    vip = filter_events(ev, customers=customers, blueprint=PERSONA_BP, personas=["VIP"])
    assert run(con, vip.customer_id.nunique()) == 1
    assert run(con, vip.count()) == 5


def test_breakdown_dimension_by_persona_and_attribute(con):
    ev = events_table(ROWS)
    customers = ibis.memtable(CUSTOMERS)
    by_p = with_dimension(ev, "persona", customers=customers, blueprint=PERSONA_BP)
    df = run(con, by_p.group_by("dimension").agg(n=by_p.count()).order_by("dimension"))
    assert dict(zip(df.dimension, df.n, strict=True)) == {"VIP": 5, "Young newcomer": 2, "other": 1}
    by_s = with_dimension(ev, "segment", customers=customers)
    df = run(con, by_s.group_by("dimension").agg(n=by_s.count()).order_by("dimension"))
    assert dict(zip(df.dimension, df.n, strict=True)) == {"new": 3, "vip": 5}
