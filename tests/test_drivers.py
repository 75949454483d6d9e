"""Drivers on a hand-built population: odds ratios, Haldane-Anscombe, Fisher's p (scipy) and BH adjustment."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import ibis
import pytest
from scipy.stats import fisher_exact

from journeymap.blueprint import Blueprint
from journeymap.journeys import build_journeys
from journeymap.journeys.drivers import drivers, odds_ratio
from journeymap.results import Result

D = datetime(2024, 3, 1)
BP = Blueprint.model_validate({"goals": [{"touchpoint": "Buy"}], "journey": {"conversion_window": "1d"}})
# (number of customers, path); Demo: 6 converters / 2 not; Ad: 2 / 5; Chat only among converters
GROUPS = [(3, ["Demo", "Buy"]), (3, ["Demo", "Chat", "Buy"]), (2, ["Demo"]), (2, ["Ad", "Buy"]), (5, ["Ad"])]


def data():
    rows, cust = [], []
    n = 0
    for count, path in GROUPS:
        for _ in range(count):
            cid = f"c{n:02d}"
            cust.append(cid)
            rows += [(cid, D + timedelta(hours=h), tp) for h, tp in enumerate(path)]
            rows.append((cid, D + timedelta(days=5), "Mail"))  # after the conversion: not a feature of converters
            n += 1
    ev = ibis.memtable(
        {"customer_id": [r[0] for r in rows], "ts": [r[1] for r in rows], "touchpoint": [r[2] for r in rows]}
    )
    segment = ["vip" if i in (0, 1, 2, 3, 10) else "std" for i in range(len(cust))]
    customers = ibis.memtable({"customer_id": cust, "segment": segment})
    return build_journeys(ev, BP, end=D + timedelta(days=60)), customers


def bh(ps):
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    adj = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, ps[i] * m / rank)
        adj[i] = running
    return adj


def test_odds_ratios_and_fisher_against_scipy(con):
    j, customers = data()
    r = drivers(j, customers=customers, min_count=1, con=con)
    got = {row["feature"]: row for row in r.records()}
    assert r.meta["customers"] == 15 and r.meta["converters"] == 8
    expected = {  # feature: (a, b, c, d) = exposed converters, exposed others, unexposed converters, unexposed others
        "touchpoint=Demo": (6, 2, 2, 5),
        "touchpoint=Ad": (2, 5, 6, 2),
        "attribute": None,
        "segment=vip": (4, 1, 4, 6),
        "segment=std": (4, 6, 4, 1),
        "touchpoint=Chat": (3, 0, 5, 7),
    }
    for feature, cells in expected.items():
        if cells is None:
            continue
        a, b, c, d = cells
        row = got[feature]
        assert (row["exposed_converters"], row["exposed"] - row["exposed_converters"]) == (a, b)
        assert row["p_value"] == pytest.approx(fisher_exact([[a, b], [c, d]]).pvalue)
        if min(cells) == 0:
            a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
            assert row["haldane"] is True
        assert row["odds_ratio"] == pytest.approx(a * d / (b * c))
        se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
        assert row["or_low"] == pytest.approx(a * d / (b * c) * math.exp(-1.959963984540054 * se))
    assert "touchpoint=Buy" not in got  # the goal is not a feature
    # converters' Mail comes after their conversion, so only the 7 non-converters are exposed to it
    assert (got["touchpoint=Mail"]["exposed_converters"], got["touchpoint=Mail"]["exposed"]) == (0, 7)
    features = list(got)
    adj = bh([got[f]["p_value"] for f in features])
    assert [got[f]["p_adjusted"] for f in features] == pytest.approx(adj)
    assert "Benjamini-Hochberg" in r.meta["multiple_testing"]


def test_funnel_population_excludes_step_touchpoints():
    j, _ = data()
    r = drivers(j, steps=["Demo", "Buy"], window="1d", min_count=1, end=D + timedelta(days=60))
    got = {row["feature"]: row for row in r.records()}
    assert r.meta["customers"] == 8 and r.meta["converters"] == 6  # the Demo entries
    assert set(got) == {"touchpoint=Chat"}
    assert (got["touchpoint=Chat"]["exposed_converters"], got["touchpoint=Chat"]["exposed"]) == (3, 3)


def test_min_count_and_round_trip():
    j, _ = data()
    r = drivers(j, min_count=5)
    assert {row["feature"] for row in r.records()} == {"touchpoint=Demo", "touchpoint=Ad", "touchpoint=Mail"}
    assert Result.from_json(r.to_json()) == r
    assert odds_ratio(1, 1, 1, 1)[:3] == pytest.approx(
        (1.0, math.exp(-1.959963984540054 * 2), math.exp(1.959963984540054 * 2))
    )
