"""Path variants, cleaning rules, anchors and Sankey flows, hand-computed, on DuckDB and Spark."""

from __future__ import annotations

import ibis
import pytest
from conftest import SIX_JOURNEYS, SIX_JOURNEYS_SETTINGS, six_journeys_events

from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.journeys import (
    PathRules,
    build_journeys,
    flows,
    status_counts,
    transitions,
    variants,
    variants_expr,
    with_dimension,
)

ROWS = SIX_JOURNEYS
BP = Blueprint.model_validate(SIX_JOURNEYS_SETTINGS)


def journeys():
    return build_journeys(six_journeys_events(), BP)


def table(result):
    """path -> (journeys, conversions, in_progress, dropped)."""
    return {r["path"]: (r["journeys"], r["conversions"], r["in_progress"], r["dropped"]) for r in result.records()}


@pytest.fixture(scope="module", params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine_con(request):
    return request.getfixturevalue(f"{request.param}_con")


def test_variants_with_status_counts(engine_con):
    r = variants(journeys(), con=engine_con)
    assert table(r) == {
        "Ad > Site": (2, 0, 1, 1),
        "Ad > Site > Site > Buy": (1, 1, 0, 0),
        "Ad > Buy": (1, 1, 0, 0),
        "Ad": (1, 0, 1, 0),
        "Site": (1, 0, 0, 1),
    }
    assert r.records()[0]["path"] == "Ad > Site" and r.records()[0]["share"] == pytest.approx(2 / 6)
    assert r.meta["journeys_in_scope"] == 6 and r.meta["variants"] == 5


def test_cleaning_rules_alias_collapse_and_max_steps(engine_con):
    rules = PathRules.parse_aliases(["^(Ad|Site)$=Pre"], collapse_repeats=True)
    assert table(variants(journeys(), rules=rules, con=engine_con)) == {"Pre > Buy": (2, 2, 0, 0), "Pre": (4, 0, 2, 2)}
    capped = variants(journeys(), rules=PathRules(max_steps=2), con=engine_con)
    assert table(capped) == {
        "Ad > Site": (2, 0, 1, 1),
        "Ad > Site > …": (1, 1, 0, 0),
        "Ad > Buy": (1, 1, 0, 0),
        "Ad": (1, 0, 1, 0),
        "Site": (1, 0, 0, 1),
    }


def test_anchors_from_to_between():
    j = journeys()
    assert table(variants(j, rules=PathRules(start="Site"))) == {
        "Site": (3, 0, 1, 2),
        "Site > Site > Buy": (1, 1, 0, 0),
    }
    assert table(variants(j, rules=PathRules(end="Buy"))) == {
        "Ad > Site > Site > Buy": (1, 1, 0, 0),
        "Ad > Buy": (1, 1, 0, 0),
    }
    between = variants(j, rules=PathRules(start="Ad", end="Buy", max_steps=2))
    assert table(between) == {"Ad > … > Buy": (1, 1, 0, 0), "Ad > Buy": (1, 1, 0, 0)}
    to_site = variants(j, rules=PathRules(end="Site", max_steps=1))
    assert table(to_site) == {"… > Site": (3, 1, 1, 1), "Site": (1, 0, 0, 1)}


def test_top_and_breakdown():
    j = journeys()
    assert len(variants(j, top=2).rows) == 2
    customers = ibis.memtable({"customer_id": ["a", "b", "c", "d"], "segment": ["vip", "new", "new", "new"]})
    jd = build_journeys(
        with_dimension(
            ibis.memtable(
                {
                    "customer_id": [r[0] for r in ROWS],
                    "ts": [r[1] for r in ROWS],
                    "touchpoint": [r[2] for r in ROWS],
                }
            ),
            "segment",
            customers=customers,
        ),
        BP,
    )
    r = variants(jd, by="dimension")
    got = {(x["dimension"], x["path"]): x["journeys"] for x in r.records()}
    assert got == {
        ("vip", "Ad > Site > Site > Buy"): 1,
        ("vip", "Site"): 1,
        ("vip", "Ad"): 1,
        ("new", "Ad > Site"): 2,
        ("new", "Ad > Buy"): 1,
    }


def test_flows_top_nodes_other_and_ends(engine_con):
    f = flows(journeys(), steps=3, top=1, con=engine_con)
    links = {(r[0], r[1], r[2]): r[3] for r in f.links}
    assert links == {
        (1, "Ad", "Site"): 3,
        (1, "Ad", "Other"): 1,
        (1, "Ad", "IN_PROGRESS"): 1,
        (1, "Other", "DROPPED"): 1,
        (2, "Site", "Buy"): 1,
        (2, "Site", "DROPPED"): 1,
        (2, "Site", "IN_PROGRESS"): 1,
        (2, "Other", "CONVERTED"): 1,
        (3, "Buy", "CONVERTED"): 1,
    }
    nodes = {(r[0], r[1]): (r[2], r[3]) for r in f.nodes}
    assert nodes == {
        (1, "Ad"): (5, 4),
        (1, "Other"): (1, 1),
        (2, "Site"): (3, 3),
        (2, "Other"): (1, 1),
        (3, "Buy"): (1, 1),
    }
    assert f.measure == "journeys" and "customers" in f.meta["counts"]
    assert set(f.tables()) == {"links", "nodes"}


def test_paths_flows_and_transitions_reconcile():
    j = journeys()
    total = sum(status_counts(j).values())
    v = variants(j, top=None)
    assert sum(r["journeys"] for r in v.records()) == total
    assert sum(r["conversions"] for r in v.records()) == status_counts(j)["converted"]
    f = flows(j, steps=10, top=10, rules=PathRules())
    assert sum(n[2] for n in f.nodes if n[0] == 1) == total
    ends = sum(link[3] for link in f.links if link[2] in ("CONVERTED", "DROPPED", "IN_PROGRESS"))
    assert ends == total  # every journey ends once within 10 steps
    # without collapsing, each flow link between touchpoints is a transition
    tr = {(r["source"], r["target"]): r["count"] for r in transitions(j).records()}
    inner = {}
    for link in f.links:
        inner[(link[1], link[2])] = inner.get((link[1], link[2]), 0) + link[3]
    assert inner == {k: v for k, v in tr.items() if k[0] != "START"}


def test_variants_expression_and_csv():
    assert isinstance(variants_expr(journeys()), ibis.Table)
    assert variants(journeys()).to_csv().splitlines()[0].startswith("path,journeys,conversions")


@pytest.mark.parametrize(
    "bad,match",
    [
        (lambda: PathRules(aliases=(("(", "x"),)), "not a valid regex"),
        (lambda: PathRules.parse_aliases(["noequals"]), "is not regex=Alias"),
        (lambda: PathRules(max_steps=0), "must be 1 or more"),
        (lambda: flows(journeys(), measure="events"), "measure 'events'"),
    ],
)
def test_bad_options_are_clear(bad, match):
    with pytest.raises(InputError, match=match):
        bad()


def test_flows_breakdown_and_customer_measure():
    customers = ibis.memtable({"customer_id": ["a", "b", "c", "d"], "segment": ["vip", "new", "new", "new"]})
    jd = build_journeys(
        with_dimension(
            ibis.memtable(
                {
                    "customer_id": [r[0] for r in ROWS],
                    "ts": [r[1] for r in ROWS],
                    "touchpoint": [r[2] for r in ROWS],
                }
            ),
            "segment",
            customers=customers,
        ),
        BP,
    )
    f = flows(jd, by="dimension", steps=2, top=5, measure="customers")
    assert f.measure == "customers" and f.node_columns[0] == "dimension"
    first = {(r[0], r[2]): (r[3], r[4]) for r in f.nodes if r[1] == 1}
    assert first == {("vip", "Ad"): (2, 1), ("vip", "Site"): (1, 1), ("new", "Ad"): (3, 3)}


def test_results_round_trip_through_json():
    from journeymap.results import Result

    j = journeys()
    for r in (variants(j), flows(j), transitions(j)):
        assert Result.from_json(r.to_json()) == r
