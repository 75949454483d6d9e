"""Transitions (directly-follows graph with START and end nodes), hand-computed, on DuckDB and Spark."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import pytest

from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.journeys import build_journeys, transitions, transitions_expr, with_dimension

D = datetime(2024, 3, 1)


def day(n: float) -> datetime:
    return D + timedelta(days=n)


# Journeys (goal Buy, gap 30d, window 7d, data end day 43):
#   a1 Ad > Site > Site > Buy (converted)   a2 Site (dropped)   a3 Ad (in progress)
#   b1 Ad > Site (dropped)   c1 Ad > Site (in progress)   d1 Ad > Buy (converted)
ROWS = [
    ("a", day(0), "Ad"),
    ("a", day(1), "Site"),
    ("a", day(1.5), "Site"),
    ("a", day(2), "Buy"),
    ("a", day(3), "Site"),
    ("a", day(43), "Ad"),
    ("b", day(0), "Ad"),
    ("b", day(5), "Site"),
    ("c", day(40), "Ad"),
    ("c", day(41), "Site"),
    ("d", day(10), "Ad"),
    ("d", day(10.5), "Buy"),
]
BP = Blueprint.model_validate(
    {"goals": [{"touchpoint": "Buy"}], "journey": {"inactivity_gap": "30d", "conversion_window": "7d"}}
)
H, DAY = 43200.0, 86400.0


def events():
    return ibis.memtable(
        {
            "customer_id": [r[0] for r in ROWS],
            "ts": [r[1] for r in ROWS],
            "touchpoint": [r[2] for r in ROWS],
            "event_id": [f"{i:03d}" for i in range(len(ROWS))],
            "channel": ["paid" if r[2] == "Ad" else "web" for r in ROWS],
        }
    )


def edges(result):
    return {(r["source"], r["target"]): r for r in result.records()}


@pytest.fixture(scope="module", params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def graph(request):
    """The transitions of ROWS, computed once per engine (Spark queries take seconds each)."""
    con = request.getfixturevalue(f"{request.param}_con")
    return transitions(build_journeys(events(), BP), con=con)


def test_counts_customers_and_end_nodes(graph):
    got = edges(graph)
    counts = {k: v["count"] for k, v in got.items()}
    assert counts == {
        ("START", "Ad"): 5,
        ("START", "Site"): 1,
        ("Ad", "Site"): 3,
        ("Site", "Site"): 1,
        ("Site", "Buy"): 1,
        ("Ad", "Buy"): 1,
        ("Buy", "CONVERTED"): 2,
        ("Site", "DROPPED"): 2,
        ("Ad", "IN_PROGRESS"): 1,
        ("Site", "IN_PROGRESS"): 1,
    }
    assert got[("START", "Ad")]["customers"] == 4
    assert got[("Site", "DROPPED")]["customers"] == 2


def test_probabilities_are_shares_of_outgoing_edges(graph):
    got = edges(graph)
    assert got[("START", "Ad")]["probability"] == pytest.approx(5 / 6)
    assert got[("Ad", "Site")]["probability"] == pytest.approx(3 / 5)
    assert got[("Site", "DROPPED")]["probability"] == pytest.approx(2 / 5)
    out = {}
    for (s, _), r in got.items():
        out[s] = out.get(s, 0) + r["probability"]
    assert all(v == pytest.approx(1.0) for v in out.values())


def test_gaps_median_and_p90_linear(graph):
    got = edges(graph)
    ad_site = got[("Ad", "Site")]  # gaps 1d, 5d, 1d
    assert ad_site["median_gap_s"] == pytest.approx(DAY)
    assert ad_site["p90_gap_s"] == pytest.approx(DAY + 0.8 * 4 * DAY)  # numpy's linear 90th percentile
    assert got[("Site", "Site")]["median_gap_s"] == pytest.approx(H)
    assert got[("START", "Ad")]["median_gap_s"] is None
    assert got[("Buy", "CONVERTED")]["p90_gap_s"] is None


def test_counts_reconcile_with_events_and_journeys(graph):
    df = graph.to_frame()
    assert df[df.source == "START"]["count"].sum() == 6  # journeys
    ends = df[df.target.isin(["CONVERTED", "DROPPED", "IN_PROGRESS"])].groupby("target")["count"].sum().to_dict()
    assert ends == {"CONVERTED": 2, "DROPPED": 2, "IN_PROGRESS": 2}
    assert df[df.source != "START"]["count"].sum() == len(ROWS)  # one outgoing edge per touch


def test_csv_columns():
    r = transitions(build_journeys(events(), BP))
    assert r.to_csv().splitlines()[0] == "source,target,count,customers,probability,median_gap_s,p90_gap_s"


def test_breakdown_by_customer_attribute(con):
    customers = ibis.memtable({"customer_id": ["a", "b", "c", "d"], "segment": ["vip", "new", "new", "new"]})
    ev = with_dimension(events(), "segment", customers=customers)
    r = transitions(build_journeys(ev, BP), by="dimension", con=con)
    got = {(x["dimension"], x["source"], x["target"]): x["count"] for x in r.records()}
    assert got[("vip", "START", "Ad")] == 2 and got[("new", "START", "Ad")] == 3
    assert got[("vip", "START", "Site")] == 1 and ("new", "START", "Site") not in got
    assert r.columns[0] == "dimension"


def test_stage_and_channel_nodes():
    r = transitions(build_journeys(events(), BP), node="channel")
    got = {(x["source"], x["target"]): x["count"] for x in r.records()}
    assert got[("paid", "web")] == 4 and got[("web", "web")] == 2


def test_expression_composes_without_executing():
    expr = transitions_expr(build_journeys(events(), BP))
    assert isinstance(expr, ibis.Table)
    assert expr.columns == ("source", "target", "count", "customers", "probability", "median_gap_s", "p90_gap_s")


def test_unknown_breakdown_column_is_clear():
    with pytest.raises(InputError, match="'segment' is not in the journeys table"):
        transitions_expr(build_journeys(events(), BP), by="segment")


def test_min_count_hides_rare_edges():
    r = transitions(build_journeys(events(), BP), min_count=2)
    assert min(x["count"] for x in r.records()) == 2
