"""Funnels, stage funnel, friction, transitions and paths reconcile on the same journeys.

On a generated shop (fixed seed) and, when it is there, on the demo workspace's data.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import numpy as np
import pytest

from journeymap.blueprint import Blueprint
from journeymap.journeys import build_journeys, status_counts, transitions, variants
from journeymap.journeys.friction import friction
from journeymap.journeys.funnel_steps import Step
from journeymap.journeys.funnels import funnel
from journeymap.journeys.stages import stage_funnel

D = datetime(2024, 1, 1)
BP = Blueprint.model_validate(
    {
        "stages": [{"name": "awareness"}, {"name": "consideration"}, {"name": "purchase"}],
        "touchpoints": [
            {"name": "Ad", "stage": "awareness"},
            {"name": "Social", "stage": "awareness"},
            {"name": "Site", "stage": "consideration"},
            {"name": "Reviews", "stage": "consideration"},
            {"name": "Cart", "stage": "purchase"},
            {"name": "Buy", "stage": "purchase"},
            {"name": "Support"},
        ],
        "goals": [{"touchpoint": "Buy"}],
        "journey": {"inactivity_gap": "20d", "conversion_window": "10d"},
    }
)
NEXT = {  # a small Markov chain that generates journeys
    "Ad": (["Site", "Social", "Ad"], [0.6, 0.2, 0.2]),
    "Social": (["Site", "Ad"], [0.7, 0.3]),
    "Site": (["Reviews", "Cart", "Site", "Support"], [0.3, 0.4, 0.2, 0.1]),
    "Reviews": (["Site", "Cart"], [0.5, 0.5]),
    "Cart": (["Buy", "Site", "Support"], [0.5, 0.3, 0.2]),
    "Support": (["Site", "Cart"], [0.5, 0.5]),
    "Buy": (["Ad", "Site"], [0.5, 0.5]),
}


@pytest.fixture(scope="module")
def shop():
    rng = np.random.default_rng(7)
    cust, ts, tps = [], [], []
    for c in range(300):
        t = D + timedelta(days=float(rng.uniform(0, 90)))
        tp = str(rng.choice(["Ad", "Social", "Site"]))
        for _ in range(int(rng.integers(1, 12))):
            cust.append(f"c{c:03d}")
            ts.append(t)
            tps.append(tp)
            options, p = NEXT[tp]
            tp = str(rng.choice(options, p=p))
            t += timedelta(hours=float(rng.exponential(30)))
            if rng.random() < 0.08:
                t += timedelta(days=25)  # an inactivity gap
    ev = ibis.memtable(
        {"customer_id": cust, "ts": ts, "touchpoint": tps, "event_id": [f"{i:06d}" for i in range(len(cust))]}
    )
    return build_journeys(ev, BP)


def test_stage_funnel_equals_funnels_over_stages(shop):
    st = stage_funnel(shop, BP).records()
    stages = BP.stage_names()
    for row, (a, b) in zip(st, zip(stages, stages[1:], strict=False), strict=False):
        f = funnel(shop, [f"stage:{a}", f"stage:{b}"], unit="journey", window=None, histogram=False).records()
        assert f[0]["reached"] == row["journeys"]
        assert (f[1]["reached"] if len(f) > 1 else 0) == row["to_next"]
    total = status_counts(shop)
    assert sum(total.values()) * st[0]["share_of_journeys"] == pytest.approx(st[0]["journeys"])


def test_converted_journeys_equal_converted_flows_and_goal_funnel(shop):
    counts = status_counts(shop)
    edges = transitions(shop).records()
    into = {
        node: sum(e["count"] for e in edges if e["target"] == node) for node in ("CONVERTED", "DROPPED", "IN_PROGRESS")
    }
    assert into == {
        "CONVERTED": counts["converted"],
        "DROPPED": counts["dropped"],
        "IN_PROGRESS": counts["in_progress"],
    }
    goal = funnel(shop, ["Buy"], unit="journey", window=None, histogram=False).records()
    assert goal[0]["reached"] == counts["converted"]  # a goal ends its journey: one per converted journey
    paths = variants(shop, top=None).records()
    assert sum(p["journeys"] for p in paths) == sum(counts.values())
    assert sum(p["conversions"] for p in paths) == counts["converted"]


def test_friction_exits_are_the_dropped_journeys(shop):
    counts = status_counts(shop)
    rows = friction(shop).records()
    assert sum(r["exits"] for r in rows) == counts["dropped"]


def test_funnel_statuses_add_up(shop):
    r = funnel(shop, ["Ad", "Site", "Buy"], window="10d", histogram=False)
    first = r.records()[0]
    assert r.meta["converted"] + r.meta["in_progress"] + r.meta["dropped"] == first["reached"]
    assert (
        sum(row["dropped"] + row["in_progress"] for row in r.records()) + r.records()[-1]["reached"] == first["reached"]
    )


@pytest.mark.slow
def test_demo_planted_friction_ranks_first(tmp_path):
    from journeymap.demo import PLANTED, create_demo
    from journeymap.workspace import Workspace

    create_demo(tmp_path / "demo", 2000)
    with Workspace.open(tmp_path / "demo") as ws:
        j = build_journeys(ws.events(), ws.blueprint)
        rows = friction(j).records()
        counts = status_counts(j)
        st = stage_funnel(j, ws.blueprint).records()
        first = funnel(
            j, [f"stage:{s}" for s in ws.blueprint.stage_names()[:2]], unit="journey", window=None, histogram=False
        ).records()
        paths = variants(j, top=None)
        edges = transitions(j).records()
        goals = ws.blueprint.goal_touchpoints()
        goal = funnel(j, [Step(touchpoint=goals)], unit="journey", window=None, histogram=False).records()
    # paths, transitions and funnels count the same journeys on the demo
    assert paths.meta["journeys_in_scope"] == sum(counts.values())
    assert sum(p["conversions"] for p in paths.records()) == counts["converted"]
    assert sum(p["dropped"] for p in paths.records()) == counts["dropped"]
    into = {n: sum(e["count"] for e in edges if e["target"] == n) for n in ("CONVERTED", "DROPPED", "IN_PROGRESS")}
    assert into == {
        "CONVERTED": counts["converted"],
        "DROPPED": counts["dropped"],
        "IN_PROGRESS": counts["in_progress"],
    }
    assert sum(e["count"] for e in edges if e["source"] == "START") == sum(counts.values())
    assert goal[0]["reached"] == counts["converted"]
    assert rows[0]["touchpoint"] == PLANTED["friction"]
    assert rows[0]["friction_score"] > rows[1]["friction_score"]
    assert sum(r["exits"] for r in rows) == counts["dropped"]
    assert first[0]["reached"] == st[0]["journeys"] and first[1]["reached"] == st[0]["to_next"]
