"""KPI formulas against hand-computed cases, intervals included."""

from __future__ import annotations

import math

import ibis
import pytest
from scipy import stats

from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.voice.kpis import kpis, nps_interval, t_interval, wilson_interval


def _fb():
    # touchpoint a: nps 10, 9, 8, 3, 0 -> 2 promoters, 1 passive, 2 detractors -> NPS 0
    # touchpoint b: nps 10, 10, 7 -> 2 promoters, 1 passive -> NPS 66.67
    return ibis.memtable(
        {
            "feedback_id": [str(i) for i in range(8)],
            "customer_id": ["c1", "c2", "c3", "c1", "c2", "c3", "c4", None],
            "ts": [
                "2024-01-01",
                "2024-01-02",
                "2024-01-31",
                "2024-02-01",
                "2024-02-05",
                "2024-02-06",
                "2024-03-01",
                "2024-03-02",
            ],
            "touchpoint": ["a", "a", "a", "a", "a", "b", "b", "b"],
            "channel": ["web", "web", "app", "app", None, "web", "web", "web"],
            "nps": [10, 9, 8, 3, 0, 10, 10, 7],
            "csat": [5, 4, 3, None, 1, 5, 4, None],
            "ces": [1, 2, 3, 4, None, 7, 7, 7],
        }
    ).cast({"ts": "timestamp", "nps": "int16", "csat": "int16", "ces": "int16"})


def test_nps_interval_hand_computed():
    # p = .5, d = .2: var = .7 - .09 = .61; half = 1.959964 * sqrt(.61 / 100) = .153078
    value, low, high = nps_interval(50, 20, 100)
    assert value == pytest.approx(30.0)
    assert low == pytest.approx(30 - 15.3078, abs=1e-3)
    assert high == pytest.approx(30 + 15.3078, abs=1e-3)
    assert nps_interval(10, 0, 10) == (100.0, 100.0, 100.0)  # all promoters: no variance
    assert all(math.isnan(x) for x in nps_interval(0, 0, 0))


def test_wilson_interval_hand_computed():
    # k = 8, n = 10, z = 1.96: centre = (.8 + .19208) / 1.38415 = .71674; half = .22652
    value, low, high = wilson_interval(8, 10)
    assert value == pytest.approx(80.0)
    assert low == pytest.approx(49.02, abs=0.01)
    assert high == pytest.approx(94.33, abs=0.01)
    v, lo, hi = wilson_interval(0, 5)  # stays in range at 0%
    assert (v, lo) == (0.0, 0.0) and 0 < hi < 50
    # by hand: 2 * (z^2 / 2n) / (1 + z^2 / n) = .38415 / 1.76829 = .21724 -> high = .43449
    assert hi == pytest.approx(43.449, abs=0.01)


def test_t_interval_matches_scipy():
    mean, low, high = t_interval(4.0, 1.0, 10)
    ref = stats.t.interval(0.95, 9, loc=4.0, scale=1.0 / math.sqrt(10))
    assert (low, high) == pytest.approx(ref)
    assert math.isnan(t_interval(3.0, None, 1)[1])


def test_kpis_by_touchpoint_hand_computed():
    r = kpis(_fb(), by="touchpoint", min_n=4)
    rec = {(x["touchpoint"], x["metric"]): x for x in r.records()}
    a = rec[("a", "nps")]
    assert (a["n"], a["promoters"], a["passives"], a["detractors"]) == (5, 2, 1, 2)
    assert a["value"] == pytest.approx(0.0)
    # var = .4 + .4 - 0 = .8; half = 1.96 * sqrt(.8 / 5) * 100 = 78.4
    assert a["high"] == pytest.approx(1.959964 * math.sqrt(0.8 / 5) * 100, rel=1e-5)
    assert a["too_small"] is False
    b = rec[("b", "nps")]
    assert b["value"] == pytest.approx(200 / 3) and b["too_small"] is True
    csat_a = rec[("a", "csat")]  # 5, 4, 3, 1 -> 2 of 4
    assert (csat_a["n"], csat_a["satisfied"], csat_a["value"]) == (4, 2, 50.0)
    assert (csat_a["low"], csat_a["high"]) == pytest.approx(wilson_interval(2, 4)[1:])
    ces_a = rec[("a", "ces")]  # 1, 2, 3, 4: mean 2.5, sd 1.29099
    assert ces_a["value"] == pytest.approx(2.5)
    assert (ces_a["low"], ces_a["high"]) == pytest.approx(t_interval(2.5, math.sqrt(5 / 3), 4)[1:])
    ces_b = rec[("b", "ces")]  # all 7: zero-width interval
    assert (ces_b["value"], ces_b["low"], ces_b["high"]) == (7.0, 7.0, 7.0)


def test_kpis_overall_and_by_channel_period_stage():
    overall = {x["metric"]: x for x in kpis(_fb()).records()}
    assert overall["nps"]["n"] == 8 and overall["nps"]["value"] == pytest.approx(100 * (4 - 2) / 8)
    by_channel = {(x["channel"], x["metric"]): x["n"] for x in kpis(_fb(), by="channel").records()}
    assert by_channel[("unassigned", "nps")] == 1 and by_channel[("web", "nps")] == 5
    months = [x["period"] for x in kpis(_fb(), by="period", period="month").records() if x["metric"] == "nps"]
    assert months == ["2024-01-01", "2024-02-01", "2024-03-01"]
    weeks = {x["period"] for x in kpis(_fb(), by="period", period="week").records()}
    assert "2024-01-29" in weeks  # 2024-01-31 and 2024-02-01 fall in the week starting Monday 29 Jan
    bp = Blueprint.model_validate({"touchpoints": [{"name": "a", "stage": "purchase"}]})
    stages = {(x["stage"], x["metric"]): x["n"] for x in kpis(_fb(), by="stage", blueprint=bp).records()}
    assert stages[("purchase", "nps")] == 5 and stages[("unassigned", "nps")] == 3


def test_kpis_by_persona():
    customers = ibis.memtable({"customer_id": ["c1", "c2", "c3", "c4"], "plan": ["gold", "gold", "basic", "basic"]})
    bp = Blueprint.model_validate({"personas": [{"name": "Gold", "where": {"plan": "gold"}}]})
    rows = {
        (x["persona"], x["metric"]): x for x in kpis(_fb(), by="persona", blueprint=bp, customers=customers).records()
    }
    # Gold: c1 (10, 3), c2 (9, 0): 2 promoters, 2 detractors -> 0; other: c3 (8, 10), c4 (10), no id (7)
    assert rows[("Gold", "nps")]["n"] == 4 and rows[("Gold", "nps")]["value"] == pytest.approx(0.0)
    assert rows[("other", "nps")]["n"] == 4 and rows[("other", "nps")]["value"] == pytest.approx(50.0)


def test_kpis_errors_name_the_argument():
    with pytest.raises(InputError, match="argument by"):
        kpis(_fb(), by="galaxy")
    with pytest.raises(InputError, match="argument metrics"):
        kpis(_fb(), metrics=["nps", "wow"])
    with pytest.raises(InputError, match="argument period"):
        kpis(_fb(), by="period", period="decade")
