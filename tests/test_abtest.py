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
BP = Blueprint.model_validate(
    {"goals": [{"touchpoint": "Buy"}], "journey": {"inactivity_gap": None, "conversion_window": "1d"}}
)


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
    assert minimum_detectable_effect(0.10, n) == pytest.approx(0.04, abs=1e-9)  # one power calculation


def test_abtest_detects_the_difference_and_checks_the_split():
    r = abtest(build_journeys(experiment(2000, 2000, 0.10, 0.14), BP, end=END), touchpoint="Landing")
    ((v, control, diff, lo, hi, rel, z, p, sig),) = r.comparisons
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
    # sample size per arm (Fleiss, no continuity correction) for 10% -> 13%
    p0, p1 = 0.10, 0.13
    pbar = (p0 + p1) / 2
    want = (Z975 * math.sqrt(2 * pbar * (1 - pbar)) + Z80 * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))) ** 2 / 0.03**2
    n = required_sample_size(p0, 0.03)
    assert n == pytest.approx(want) and math.ceil(n) == 1774
    # inverted: the power of the two-sided pooled z test with n per arm is the asked-for 80%
    power = stats.norm.cdf(
        (0.03 - Z975 * math.sqrt(2 * pbar * (1 - pbar) / n)) / math.sqrt((p0 * (1 - p0) + p1 * (1 - p1)) / n)
    )
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
    assert r.power["control_rate"] == pytest.approx(p0) and r.power["n_per_arm"] == 1000
    assert power_by_hand(p0, r.power["mde_absolute"], 1000) == pytest.approx(0.8, abs=1e-9)
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
    late = abtest(
        build_journeys(experiment(40, 40), BP, end=D + timedelta(hours=1)),
        touchpoint="Landing",
        include_in_progress=True,
    )
    assert [v[1] for v in late.variants] == [40, 40]


# -- one power calculation: the MDE and the sample size agree -------------------------------------
def power_by_hand(p0, mde, n, alpha=0.05, two_tails=False):
    """Power of the two-sided pooled z test of two proportions, n per arm (textbook normal approximation):
    the statistic's sd is sqrt(2 pbar qbar / n) under no difference and sqrt((p0 q0 + p1 q1) / n) under mde."""
    p1 = p0 + mde
    pbar = (p0 + p1) / 2
    z = stats.norm.ppf(1 - alpha / 2)
    null_sd, alt_sd = math.sqrt(2 * pbar * (1 - pbar) / n), math.sqrt((p0 * (1 - p0) + p1 * (1 - p1)) / n)
    upper = stats.norm.cdf((mde - z * null_sd) / alt_sd)
    return upper + (stats.norm.cdf((-mde - z * null_sd) / alt_sd) if two_tails else 0.0)


@pytest.mark.parametrize("p0", [0.02, 0.165, 0.5, 0.6])
@pytest.mark.parametrize("n", [41, 1000, 50_000])
@pytest.mark.parametrize(("alpha", "power"), [(0.05, 0.8), (0.01, 0.9)])
def test_mde_and_required_sample_size_round_trip(p0, n, alpha, power):
    mde = minimum_detectable_effect(p0, n, alpha, power)
    assert 0 < mde < 1 - p0
    assert required_sample_size(p0, mde, alpha, power) == pytest.approx(n, abs=1e-6)
    assert power_by_hand(p0, mde, n, alpha) == pytest.approx(power, abs=1e-9)
    assert power_by_hand(p0, mde, n, alpha, two_tails=True) == pytest.approx(power, abs=1e-3)


def test_the_reported_contradiction_is_gone():
    """The audit's case: 41 per arm at a 16.5% control rate. The old MDE, (z + z) sqrt(2 p q / n) = 0.229,
    has 64% power (and needs 59 per arm); the MDE now has 80% power and needs exactly 41."""
    p0, n = 0.165, 41
    old = (Z975 + Z80) * math.sqrt(2 * p0 * (1 - p0) / n)
    assert round(old, 3) == 0.23 and round(power_by_hand(p0, old, n), 2) == 0.64
    assert math.ceil(required_sample_size(p0, old)) == 59
    mde = minimum_detectable_effect(p0, n)
    assert mde > old and power_by_hand(p0, mde, n) == pytest.approx(0.8, abs=1e-9)
    assert math.isnan(minimum_detectable_effect(0.0, n)) and math.isnan(minimum_detectable_effect(0.5, 1))
    assert math.isnan(minimum_detectable_effect(0.9, n))  # not even a rise to 100% is detectable


def test_levels_outside_zero_one_are_refused():
    with pytest.raises(InputError, match="power 1.5"):
        minimum_detectable_effect(0.1, 100, power=1.5)
    with pytest.raises(InputError, match="alpha 0"):
        required_sample_size(0.1, 0.02, alpha=0)


def _ab_workspace(tmp_path, units, conversions):
    """A CSV of landings with a variant column and purchases, ingested by the CLI into a new workspace."""
    from journeymap.workspace import Workspace

    rows = ["customer,time,event,variant"]
    i = 0
    for variant, n in units.items():
        for k in range(n):
            t = D + timedelta(minutes=10 * i)
            rows.append(f"u{i},{t:%Y-%m-%d %H:%M:%S},Landing,{variant}")
            if k < conversions[variant]:
                rows.append(f"u{i},{t + timedelta(minutes=2):%Y-%m-%d %H:%M:%S},Buy,")
            i += 1
    rows.append(f"late,{D + timedelta(days=20):%Y-%m-%d %H:%M:%S},Browse,")  # the data end: every test journey settled
    csv = tmp_path / "events.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    Workspace.init(tmp_path / "ws", blueprint=BP).close()
    return tmp_path / "ws", csv


def test_a_journey_with_two_variants_in_one_second_counts_under_the_first_row(tmp_path):
    """Same-second touches keep the file's order: the variant of the first row wins, whichever it is."""
    from journeymap.workspace import Workspace

    for first, second in (("A", "B"), ("B", "A")):
        csv = tmp_path / f"{first}.csv"
        rows = [
            "customer,time,event,variant",
            f"x,2024-01-01 00:00:00,Landing,{first}",
            f"x,2024-01-01 00:00:00,Landing,{second}",
            "x,2024-01-01 00:01:00,Buy,",
        ]
        rows += [f"{v}{i},2024-01-01 00:0{i}:00,Landing,{v}" for v in "AB" for i in range(3)]
        rows.append("late,2024-02-01 00:00:00,Browse,")
        csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
        ws = Workspace.init(tmp_path / f"ws{first}", blueprint=BP)
        try:
            ws.ingest_events(csv, mapping={"customer_id": "customer", "ts": "time", "touchpoint": "event"})
            r = abtest(build_journeys(ws.events(), ws.blueprint), touchpoint="Landing", con=ws.con)
        finally:
            ws.close()
        conversions = {v: conv for v, _, conv, _ in r.variants}
        assert conversions == {first: 1, second: 0} and r.srm["mixed_units"] == 1


def test_abtest_cli_reports_an_mde_that_needs_exactly_the_arm_size(tmp_path):
    from click.testing import CliRunner

    from journeymap.cli import main

    units, conversions = {"A": 41, "B": 47}, {"A": 7, "B": 12}
    ws, csv = _ab_workspace(tmp_path, units, conversions)

    def run(*args):
        out = CliRunner().invoke(main, ["-w", str(ws), *args])
        assert out.exit_code == 0, out.output
        return out.output

    run("ingest", "events", str(csv), "--map", "customer_id=customer", "--map", "ts=time", "--map", "touchpoint=event")
    power = json.loads(run("abtest", "--touchpoint", "Landing", "--variant", "variant", "--format", "json"))["power"]
    p0, n = 7 / 41, 41  # the control's rate and the smallest arm, from the file
    assert power["control_rate"] == pytest.approx(p0) and power["n_per_arm"] == n
    mde = power["mde_absolute"]
    assert power_by_hand(p0, mde, n) == pytest.approx(0.8, abs=1e-6)
    # the same tool sized for that effect asks for exactly the arm it was computed at
    again = json.loads(
        run("abtest", "--touchpoint", "Landing", "--variant", "variant", "--mde", repr(mde), "--format", "json")
    )["power"]
    assert again["target_mde"] == pytest.approx(mde) and again["required_per_arm"] == n
    bad = CliRunner().invoke(main, ["-w", str(ws), "abtest", "--touchpoint", "Landing", "--power", "80"])
    assert bad.exit_code != 0 and "power 80" in bad.output and "Traceback" not in bad.output
