"""A/B tests of touchpoint variants: counts in the engine, statistics checked against scipy and by hand."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from journeymap.attribution.abtest import (
    abtest,
    minimum_detectable_effect,
    required_sample_size,
    two_proportions,
    variant_counts,
)
from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.journeys import build_journeys
from journeymap.results import Result

D = datetime(2024, 1, 1)
END = D + timedelta(days=60)
BP = Blueprint.model_validate({"goals": [{"touchpoint": "Buy"}],
                               "journey": {"inactivity_gap": None, "conversion_window": "1d"}})


def experiment(n_a=1000, n_b=1000, p_a=0.10, p_b=0.14, seed=7, as_column=False):
    rng = np.random.default_rng(seed)
    rows = []
    for i, (v, p) in enumerate([("A", p_a)] * n_a + [("B", p_b)] * n_b):
        props = json.dumps({"variant": v, "page": "landing"})
        rows.append((f"c{i}", D, "Landing", props, v))
        rows.append((f"c{i}", D + timedelta(minutes=1), "Browse", json.dumps({"page": "x"}), None))
        if rng.random() < p:
            rows.append((f"c{i}", D + timedelta(minutes=2), "Buy", "{}", None))
    ev = pd.DataFrame(rows, columns=["customer_id", "ts", "touchpoint", "properties", "arm"])
    ev["event_id"] = [f"e{i:06d}" for i in range(len(ev))]
    return ibis.memtable(ev if as_column else ev.drop(columns="arm"))


def test_counts_from_json_properties_and_from_a_column(con):
    j = build_journeys(experiment(200, 300), BP, end=END)
    df = con.execute(variant_counts(j, "variant", touchpoint="Landing"))
    assert df.variant.tolist() == ["A", "B"] and df.units.tolist() == [200, 300]
    jc = build_journeys(experiment(200, 300, as_column=True), BP, end=END)
    dc = con.execute(variant_counts(jc, "arm"))
    assert dc.conversions.tolist() == df.conversions.tolist()


def test_statistics_against_scipy_and_hand():
    s = two_proportions(100, 1000, 140, 1000)
    table = np.array([[140, 860], [100, 900]])
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    assert s["z"] ** 2 == pytest.approx(chi2)  # pooled z squared is Pearson's chi-square
    assert s["p_value"] == pytest.approx(stats.chi2.sf(chi2, 1))
    se = math.sqrt(0.1 * 0.9 / 1000 + 0.14 * 0.86 / 1000)
    assert (s["low"], s["high"]) == pytest.approx((0.04 - 1.959964 * se, 0.04 + 1.959964 * se), abs=1e-6)
    n = required_sample_size(0.10, 0.04)
    assert minimum_detectable_effect(0.10, n) == pytest.approx(0.04, rel=0.1)  # same design, other approximation


def test_abtest_detects_the_difference_and_checks_the_split():
    r = abtest(build_journeys(experiment(2000, 2000, 0.10, 0.14), BP, end=END), touchpoint="Landing")
    (v, control, diff, lo, hi, rel, z, p, sig), = r.comparisons
    assert (v, control, sig) == ("B", "A", True) and lo < diff < hi and lo > 0
    assert not r.srm["mismatch"] and r.srm["mixed_units"] == 0
    assert r.power["required_per_arm"] > 0 and 0 < r.power["mde_absolute"] < 0.04
    assert Result.from_json(r.to_json()) == r
    assert r.to_csv().splitlines()[0].startswith("variant,control,difference")


def test_sample_ratio_mismatch_is_flagged():
    r = abtest(build_journeys(experiment(1000, 1200), BP, end=END), touchpoint="Landing")
    assert r.srm["mismatch"] and r.srm["p_value"] < 0.001
    ok = abtest(build_journeys(experiment(1000, 1200), BP, end=END), touchpoint="Landing", split=[10, 12])
    assert not ok.srm["mismatch"]


def test_clear_errors():
    j = build_journeys(experiment(50, 50), BP, end=END)
    with pytest.raises(InputError, match="'color'"):
        abtest(j, variant="color")
    with pytest.raises(InputError, match="'Z'"):
        abtest(j, control="Z")
    with pytest.raises(InputError, match="split"):
        abtest(j, split=[1, 2, 3])


Z975, Z80 = 1.959963984540054, 0.8416212335729143  # standard normal quantiles (tables)


def test_power_figures_by_hand():
    # minimum detectable effect, 1000 per arm at a 10% base rate: (z_.975 + z_.8) * sqrt(2 p q / n)
    assert minimum_detectable_effect(0.10, 1000) == pytest.approx((Z975 + Z80) * math.sqrt(2 * 0.1 * 0.9 / 1000))
    # sample size per arm (Fleiss, no continuity correction) for 10% -> 13%
    p0, p1 = 0.10, 0.13
    pbar = (p0 + p1) / 2
    want = (Z975 * math.sqrt(2 * pbar * (1 - pbar)) + Z80 * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))) ** 2 / 0.03**2
    n = required_sample_size(p0, 0.03)
    assert n == pytest.approx(want) and math.ceil(n) == 1774
    # inverted: the power of the two-sided pooled z test with n per arm is the asked-for 80%
    power = stats.norm.cdf((0.03 - Z975 * math.sqrt(2 * pbar * (1 - pbar) / n))
                           / math.sqrt((p0 * (1 - p0) + p1 * (1 - p1)) / n))
    assert power == pytest.approx(0.8, abs=1e-9)
    with pytest.raises(InputError, match="mde"):
        required_sample_size(0.95, 0.1)


def test_srm_chi_square_by_hand_and_reported_power():
    r = abtest(build_journeys(experiment(1000, 1200), BP, end=END), touchpoint="Landing", mde=0.02)
    # observed 1000 / 1200 against 1100 / 1100
    assert r.srm["chi2"] == pytest.approx(2 * 100**2 / 1100)
    assert r.srm["p_value"] == pytest.approx(math.erfc(math.sqrt(200 / 11 / 2)))  # chi2(1) tail = erfc(sqrt(x/2))
    a = r.variants[0]
    assert a[:2] == ["A", 1000] and a[3] == pytest.approx(a[2] / 1000)
    p0 = a[3]
    assert r.power["control_rate"] == pytest.approx(p0)
    assert r.power["mde_absolute"] == pytest.approx((Z975 + Z80) * math.sqrt(2 * p0 * (1 - p0) / 1000))
    assert r.power["required_per_arm"] == math.ceil(required_sample_size(p0, 0.02))


def test_mixed_units_and_in_progress_journeys():
    ev = experiment(40, 40).execute()
    extra = ev[ev.customer_id == "c0"].copy()  # c0 (variant A) also sees B later in the same journey
    extra["ts"] = extra["ts"] + timedelta(seconds=30)  # before its next touch: the same journey
    extra["properties"] = json.dumps({"variant": "B"})
    extra["event_id"] = "z" + extra["event_id"]
    j = build_journeys(ibis.memtable(pd.concat([ev, extra[extra.touchpoint == "Landing"]])), BP, end=END)
    r = abtest(j, touchpoint="Landing")
    assert r.srm["mixed_units"] == 1 and [v[1] for v in r.variants] == [40, 40]  # counted under A, its first
    # an hour after the start, only the converted journeys are finished: the open ones are left out
    early = abtest(build_journeys(experiment(40, 40), BP, end=D + timedelta(hours=1)), touchpoint="Landing")
    assert all(units == conv < 40 for _, units, conv, _ in early.variants)
    late = abtest(build_journeys(experiment(40, 40), BP, end=D + timedelta(hours=1)), touchpoint="Landing",
                  include_in_progress=True)
    assert [v[1] for v in late.variants] == [40, 40]
