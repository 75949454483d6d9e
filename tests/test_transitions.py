"""Transitions (directly-follows graph with START and end nodes), hand-computed, on DuckDB and Spark."""

from __future__ import annotations

import ibis
import pytest
from conftest import SIX_JOURNEYS, SIX_JOURNEYS_SETTINGS, six_journeys_events

from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.journeys import build_journeys, transitions, transitions_expr, with_dimension

ROWS = SIX_JOURNEYS
BP = Blueprint.model_validate(SIX_JOURNEYS_SETTINGS)
H, DAY = 43200.0, 86400.0


def events():
    return six_journeys_events(channel=True)


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
