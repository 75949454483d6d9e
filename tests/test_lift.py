"""Exposure lift and the hypothesis function: CMH figures checked against hand and pandas computations."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from journeymap.attribution.lift import NOTE, cmh, exposure_counts, hypothesis, lift
from journeymap.attribution.results import HypothesisResult, LiftResult
from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.journeys import build_journeys
from journeymap.results import Result

D = datetime(2024, 1, 1)
END = D + timedelta(days=30)  # every journey finished: none in progress
BP = Blueprint.model_validate(
    {
        "stages": [{"name": "awareness"}, {"name": "consideration"}, {"name": "purchase"}],
        "touchpoints": [
            {"name": "Ad", "stage": "awareness"},
            {"name": "Webinar", "stage": "consideration"},
            {"name": "Blog", "stage": "awareness"},
            {"name": "Buy", "stage": "purchase"},
        ],
        "goals": [{"touchpoint": "Buy"}],
        "personas": [{"name": "Pro", "where": {"segment": "pro"}}],
        "journey": {"inactivity_gap": None, "conversion_window": "1d"},
    }
)


def planted(n: int = 3000, seed: int = 4):
    """Webinar raises conversion from 15% to 35%; Blog does nothing; pros convert more and see more webinars."""
    rng = np.random.default_rng(seed)
    rows, customers = [], []
    for i in range(n):
        pro = rng.random() < 0.4
        customers.append((f"c{i}", "pro" if pro else "basic"))
        first = "Ad" if rng.random() < 0.6 else "Blog"
        touches = [first]
        web = rng.random() < (0.6 if pro else 0.2)
        if web:
            touches.append("Webinar")
        if rng.random() < 0.5:
            touches.append("Blog")
        p = (0.15 if not web else 0.35) + (0.1 if pro else 0.0)
        if rng.random() < p:
            touches.append("Buy")
        for k, tp in enumerate(touches):
            rows.append((f"c{i}", D + timedelta(hours=k), tp))
    ev = pd.DataFrame(rows, columns=["customer_id", "ts", "touchpoint"])
    ev["event_id"] = [f"e{i:06d}" for i in range(len(ev))]
    cu = pd.DataFrame(customers, columns=["customer_id", "segment"])
    return ibis.memtable(ev), ibis.memtable(cu)


def test_cmh_by_hand():
    t = np.array([[[10, 20], [5, 25]], [[3, 7], [2, 8]]], dtype=float)
    s = cmh(t)
    assert s["odds_ratio"] == pytest.approx((250 / 60 + 24 / 20) / (100 / 60 + 14 / 20))
    assert s["risk_difference"] == pytest.approx(0.15)
    var = 30 * 30 * 15 * 45 / (60**2 * 59) + 10 * 10 * 5 * 15 / (20**2 * 19)
    assert s["p_value"] == pytest.approx(stats.chi2.sf((13 - 10) ** 2 / var, 1))


def test_one_stratum_matches_the_plain_2x2():
    t = np.array([[[30, 70], [20, 80]]], dtype=float)
    s = cmh(t)
    assert s["odds_ratio"] == pytest.approx(stats.contingency.odds_ratio([[30, 70], [20, 80]], kind="sample").statistic)
    # CMH chi-square = Pearson chi-square * (n - 1) / n for one table
    pearson = stats.chi2_contingency([[30, 70], [20, 80]], correction=False)[0]
    assert s["p_value"] == pytest.approx(stats.chi2.sf(pearson * 199 / 200, 1))


def test_exposure_counts_in_the_engine(con):
    ev, cu = planted(300)
    j = build_journeys(ev, BP, end=END)
    exposed, totals = exposure_counts(j, cu, BP)
    e = con.execute(exposed)
    t = con.execute(totals)
    frame = ev.execute()
    seg = dict(zip(*[cu.execute()[c] for c in ("customer_id", "segment")], strict=True))
    conv = set(frame.customer_id[frame.touchpoint == "Buy"])
    first = frame.sort_values("ts").groupby("customer_id").touchpoint.first()
    stratum = {c: ("Pro" if seg[c] == "pro" else "other") + " | awareness" for c in first.index}
    assert set(t.stratum) == set(stratum.values())
    web = set(frame.customer_id[frame.touchpoint == "Webinar"])
    for s in set(stratum.values()):
        row = e[(e.touchpoint == "Webinar") & (e.stratum == s)].iloc[0]
        members = {c for c, v in stratum.items() if v == s} & web
        assert (row.n1, row.c1) == (len(members), len(members & conv))
    assert "Buy" not in set(e.touchpoint)


def test_planted_touchpoint_shows_lift_and_null_does_not():
    ev, cu = planted()
    j = build_journeys(ev, BP, end=END)
    r = lift(j, cu, BP)
    rows = {row[0]: dict(zip(r.columns, row, strict=True)) for row in r.rows}
    web, blog = rows["Webinar"], rows["Blog"]
    assert web["significant"] and web["risk_difference"] > 0.1 and web["rd_low"] > 0
    assert web["or_low"] > 1
    assert not blog["significant"]
    assert abs(blog["risk_difference"]) < 0.05
    assert r.meta["note"].startswith("Association, not cause")
    assert Result.from_json(r.to_json()) == r and isinstance(r, LiftResult)
    # the crude difference is inflated by pros (who see more webinars and convert more); strata remove it
    crude = web["exposed_rate"] - web["unexposed_rate"]
    assert crude > web["risk_difference"]


def test_hypothesis_answers_in_words():
    ev, cu = planted()
    h = hypothesis(build_journeys(ev, BP, end=END), "Webinar", cu, BP)
    assert isinstance(h, HypothesisResult) and "convert more" in h.answer and "Association" in h.answer
    assert h.rows[0][1] + h.rows[0][4] == 3000
    assert Result.from_json(h.to_json()) == h
    with pytest.raises(InputError, match="'Nope'"):
        hypothesis(build_journeys(ev, BP, end=END), "Nope", cu, BP)


def test_without_customers_strata_are_first_stage_only():
    ev, _ = planted(500)
    r = lift(build_journeys(ev, BP, end=END))
    assert all(row[16] == 1 for row in r.rows)  # one stratum: every journey starts in awareness


def test_benjamini_hochberg_by_hand():
    ev, cu = planted(800, seed=11)
    r = lift(build_journeys(ev, BP, end=END), cu, BP, alpha=0.05)
    rows = [dict(zip(r.columns, row, strict=True)) for row in r.rows]
    p = sorted(x["p_value"] for x in rows)
    m = len(p)
    # q_(i) = min over j >= i of p_(j) * m / j
    want = [min(p[j] * m / (j + 1) for j in range(i, m)) for i in range(m)]
    assert sorted(x["q_value"] for x in rows) == pytest.approx([min(1.0, q) for q in want])
    assert all(x["significant"] == (x["q_value"] < 0.05) for x in rows)


def test_demo_planted_touchpoint_shows_a_significant_lift(tmp_path, demo_copy):
    """The demo business plants one conversion-raising touchpoint; CMH within strata and BH across find it."""
    from journeymap.demo import PLANTED
    from journeymap.workspace import Workspace

    planted_tp = PLANTED["lift_touchpoint"]
    assert planted_tp == "Size guide"
    # ``journeymap demo --customers 3000``: made once per session (exit 0 checked there), copied
    demo_copy(tmp_path / "shop", 3000)
    with Workspace.open(tmp_path / "shop") as ws:
        journeys = build_journeys(ws.events(), ws.blueprint)
        h = hypothesis(journeys, planted_tp, ws.customers(), ws.blueprint, con=ws.con)
        row = dict(zip(h.columns, h.rows[0], strict=True))
        assert row["significant"] and row["risk_difference"] > 0 and row["rd_low"] > 0, h.answer
        assert row["or_low"] > 1 and row["strata"] > 1 and "convert more" in h.answer
        r = lift(journeys, ws.customers(), ws.blueprint, con=ws.con)
        rows = {x[0]: dict(zip(r.columns, x, strict=True)) for x in r.rows}
        assert rows[planted_tp]["significant"] and rows[planted_tp]["q_value"] < 0.05
        assert rows[planted_tp]["risk_difference"] == pytest.approx(row["risk_difference"])


def test_no_journeys_give_an_empty_table_and_a_clear_error():
    ev, cu = planted(20)
    nothing = build_journeys(ev.filter(ibis.literal(False)), BP, end=END)
    r = lift(nothing, cu, BP)
    assert r.rows == [] and r.meta["note"] == NOTE
    with pytest.raises(InputError, match="no finished journeys"):
        hypothesis(nothing, "Webinar", cu, BP)
