"""Rule-based attribution: hand-computed cases, ChannelAttribution's heuristic_models, settings, results.

Hand cases and the peer comparisons run on DuckDB; the whole attribute() call runs on Spark too and
equals DuckDB there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeymap.attribution import (
    AttributionResult,
    AttributionSettings,
    attribute,
    attribution_touches,
    heuristic_credits,
    read_path_file,
)
from journeymap.attribution.paths import Paths, aggregate_paths, path_touches
from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.journeys import build_journeys
from journeymap.results import Result

D = datetime(2024, 3, 1)
ALL = ["first", "last", "last_non_direct", "linear", "time_decay", "position", "j_shaped", "inverse_j", "participation"]


def day(n: float) -> datetime:
    return D + timedelta(days=n)


BP = Blueprint.model_validate(
    {
        "stages": [{"name": "awareness"}, {"name": "purchase"}],
        "touchpoints": [
            {"name": "Search ad", "channel": "search", "kind": "paid", "stage": "awareness"},
            {"name": "Email", "channel": "email", "kind": "owned", "marketing": True},
            {"name": "Direct visit", "channel": "direct", "kind": "owned", "marketing": True},
            {"name": "Social", "channel": "social", "kind": "earned"},
            {"name": "Support call", "channel": "phone", "kind": "owned"},
            {"name": "Buy", "channel": "web", "stage": "purchase"},
        ],
        "goals": [{"touchpoint": "Buy"}],
        "journey": {"inactivity_gap": "60d", "conversion_window": "7d", "attribution_lookback": "30d"},
    }
)

ROWS = [  # customer, day, touchpoint, revenue
    ("a", 0, "Search ad", None),
    ("a", 1, "Email", None),
    ("a", 2, "Support call", None),
    ("a", 3, "Direct visit", None),
    ("a", 4, "Buy", 100.0),
    ("b", 0, "Direct visit", None),
    ("b", 1, "Direct visit", None),
    ("b", 8, "Buy", 40.0),
    ("c", 0, "Social", None),
    ("c", 1, "Search ad", None),
    ("c", 2, "Social", None),
    ("c", 2.5, "Buy", 60.0),
    ("d", 0, "Search ad", None),
    ("d", 1, "Email", None),  # dropped, never converts
    ("e", -40, "Email", None),
    ("e", 0, "Social", None),
    ("e", 1, "Buy", 10.0),  # Email outside 30d
]


def events(rows=ROWS):
    return ibis.memtable(
        pd.DataFrame(
            {
                "customer_id": [r[0] for r in rows],
                "ts": [day(r[1]) for r in rows],
                "touchpoint": [r[2] for r in rows],
                "revenue": [r[3] for r in rows],
                "event_id": [f"{r[0]}{i:03d}" for i, r in enumerate(rows)],
            }
        ).astype({"revenue": "float64"})
    )


def credits(con, models, settings=None, **kw):
    con = con if con is not None else ibis.duckdb.connect()
    j = build_journeys(events(), BP, end=day(100))
    t = attribution_touches(j, BP, settings or AttributionSettings())
    df = con.execute(heuristic_credits(t, models, **kw))
    return {
        (m, c): (round(float(x), 9), round(float(v), 9))
        for m, c, x, v in zip(df.model, df.channel, df.conversions, df.value, strict=True)
        if x or v
    }


def test_hand_computed_models():
    got = credits(None, ALL)
    # paths: a = search, email, direct (100); b = direct, direct (40); c = social, search, social (60);
    # e = social (10; the email 41 days before is outside the lookback)
    assert got[("first", "search")] == (1.0, 100.0)
    assert got[("first", "direct")] == (1.0, 40.0)
    assert got[("first", "social")] == (2.0, 70.0)
    assert got[("last", "direct")] == (2.0, 140.0)
    # last non-direct: a -> email; b is all direct -> direct
    assert got[("last_non_direct", "email")] == (1.0, 100.0)
    assert got[("last_non_direct", "direct")] == (1.0, 40.0)
    assert got[("linear", "social")] == (round(2 / 3 + 1, 9), round(60 * 2 / 3 + 10, 9))
    # U: a 0.4/0.2/0.4, b 0.5/0.5, c 0.4/0.2/0.4, e 1
    assert got[("position", "search")] == (round(0.4 + 0.2, 9), round(40 + 12, 9))
    assert got[("position", "direct")] == (1.4, 80.0)
    assert got[("j_shaped", "direct")] == (round(0.6 + 1.0, 9), round(60 + 40, 9))
    assert got[("inverse_j", "search")] == (round(0.6 + 0.2, 9), round(60 + 12, 9))
    assert got[("participation", "social")] == (2.0, 70.0)
    assert got[("participation", "direct")] == (2.0, 140.0)
    # time decay, a: touches 4, 3 and 1 days before; half-life 7 days
    w = np.array([2 ** (-4 / 7), 2 ** (-3 / 7), 2 ** (-1 / 7)])
    assert got[("time_decay", "search")][0] == pytest.approx(w[0] / w.sum() + _c_search_decay(), abs=1e-9)
    assert ("time_decay", "phone") not in got  # service touchpoints are left out by default


def _c_search_decay() -> float:
    w = np.array([2 ** (-2.5 / 7), 2 ** (-1.5 / 7), 2 ** (-0.5 / 7)])
    return w[1] / w.sum()


def test_every_model_sums_to_the_totals():
    got = credits(ibis.duckdb.connect(), ALL + ["custom"], custom_weights=(1, 2, 1))
    for m in ALL + ["custom"]:
        conv = sum(v[0] for (mm, _), v in got.items() if mm == m)
        val = sum(v[1] for (mm, _), v in got.items() if mm == m)
        if m == "participation":
            assert conv == pytest.approx(7.0)  # distinct channels: a 3, b 1, c 2, e 1
        else:
            assert (conv, val) == (pytest.approx(4.0), pytest.approx(210.0))


def test_custom_weights_are_normalised():
    got = credits(ibis.duckdb.connect(), ["custom"], custom_weights=(1, 2, 1))
    assert got[("custom", "email")][0] == pytest.approx(0.5)  # a's middle: 2/4
    assert got[("custom", "search")][0] == pytest.approx(0.25 + 0.5)


def test_include_service_and_level_and_lookback():
    con = ibis.duckdb.connect()
    got = credits(con, ["linear"], AttributionSettings(include_service=True))
    assert got[("linear", "phone")] == (0.25, 25.0)
    got = credits(con, ["first"], AttributionSettings(level="touchpoint", lookback="60d"))
    assert got[("first", "Email")] == (1.0, 10.0)  # e's email is in a 60-day lookback
    got = credits(con, ["first"], AttributionSettings(lookback="36h"))
    assert got[("first", "direct")] == (1.0, 100.0)  # a: only the direct visit 1 day before


def test_customer_container_reaches_across_journeys():
    rows = [("x", 0, "Search ad", None), ("x", 1, "Buy", 5.0), ("x", 2, "Email", None), ("x", 3, "Buy", 7.0)]
    j = build_journeys(events(rows), BP, end=day(10))
    con = ibis.duckdb.connect()
    s = AttributionSettings(container="customer")
    df = con.execute(heuristic_credits(attribution_touches(j, BP, s), ["linear"]))
    got = dict(zip(df.channel, df.conversions, strict=True))
    assert got == pytest.approx({"search": 1.5, "email": 0.5})  # the 2nd conversion sees both touches
    jd = con.execute(heuristic_credits(attribution_touches(j, BP), ["linear"]))
    assert dict(zip(jd.channel, jd.conversions, strict=True)) == pytest.approx({"search": 1.0, "email": 1.0})


def test_non_converting_paths_are_kept():
    j = build_journeys(events(), BP, end=day(100))
    paths = aggregate_paths(attribution_touches(j, BP), ibis.duckdb.connect())
    seqs = dict(zip(paths.sequences(), zip(paths.conversions, paths.nulls, strict=True), strict=True))
    assert seqs[("search", "email")] == (0.0, 1.0)
    assert seqs[("search", "email", "direct")] == (1.0, 0.0)
    assert paths.total_conversions == 4.0


# -- ChannelAttribution ------------------------------------------------------------------------------
def _ca_heuristics(frame: pd.DataFrame) -> pd.DataFrame:
    ca = pytest.importorskip("ChannelAttribution")
    out = ca.heuristic_models(frame, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False)
    return out.set_index("channel_name")


def _compare(result: AttributionResult, ca: pd.DataFrame) -> None:
    names = {"first": "first_touch", "last": "last_touch", "linear": "linear_touch"}
    for model, prefix in names.items():
        for what in ("conversions", "value"):
            ours = result.credit(model, what)
            for ch in ca.index:
                assert ours.get(ch, 0.0) == pytest.approx(ca.loc[ch, f"{prefix}_{what}"], abs=1e-9, rel=1e-12)


def test_heuristics_equal_channelattribution_on_its_sample(shared_data, capsys):
    file = shared_data / "channelattribution_paths" / "data.csv"
    result = attribute(read_path_file(file), ["first", "last", "linear"])
    _compare(result, _ca_heuristics(pd.read_csv(file)))


def synthetic_events(n_customers: int, seed: int = 1) -> pd.DataFrame:
    """Random journeys over 6 channels, some converting (a generated sample for peer checks)."""
    rng = np.random.default_rng(seed)
    channels = ["search", "email", "social", "display", "direct", "affiliate"]
    rows = []
    for c in range(n_customers):
        n = int(rng.integers(1, 7))
        t = rng.uniform(0, 200, size=n).cumsum() / 10
        for i in range(n):
            rows.append((f"c{c}", D + timedelta(days=float(t[i])), channels[int(rng.integers(6))], None))
        if rng.random() < 0.35:
            rows.append((f"c{c}", D + timedelta(days=float(t[-1]) + 0.5), "Buy", float(rng.integers(5, 100))))
    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "touchpoint", "revenue"])
    frame["event_id"] = [f"e{i:07d}" for i in range(len(frame))]
    return frame


def test_heuristics_equal_channelattribution_on_generated_journeys():
    frame = synthetic_events(400)
    bp = Blueprint.model_validate(
        {"goals": [{"touchpoint": "Buy"}], "journey": {"inactivity_gap": None, "attribution_lookback": None}}
    )
    con = ibis.duckdb.connect()
    j = build_journeys(ibis.memtable(frame), bp)
    result = attribute(
        j,
        ["first", "last", "linear"],
        blueprint=bp,
        con=con,
        settings=AttributionSettings(lookback=None, include_in_progress=True),
    )
    touches = con.execute(attribution_touches(j, bp, AttributionSettings(include_in_progress=True)))
    touches = touches.sort_values(["path_id", "pos"])
    paths = touches.groupby("path_id").agg(
        path=("channel", " > ".join),
        total_conversions=("conversions", "max"),
        total_conversion_value=("value", "max"),
        total_null=("nulls", "max"),
    )
    paths = paths.groupby("path", as_index=False).sum()
    assert paths.total_conversions.sum() > 50
    _compare(result, _ca_heuristics(paths))


# -- results, settings, errors ------------------------------------------------------------------------
def test_result_round_trip_tables_and_csv():
    p = Paths.from_sequences([["a", "b"], ["b"]], conversions=[3, 1], value=[30, 5], nulls=[2, 4])
    r = attribute(p, "first,linear,markov,shapley", bootstrap=20, ordered=True)
    assert Result.from_json(r.to_json()) == r
    assert set(r.tables()) == {"attribution", "comparison", "removal_effects", "ordered_shapley", "diagnostics"}
    head = r.to_csv().splitlines()[0]
    assert head.startswith("model,channel,conversions,value,share")
    for m in r.models():
        assert sum(r.credit(m, "share").values()) == pytest.approx(1.0)
    lo, hi = r.credit("markov", "conversions_low"), r.credit("markov", "conversions_high")
    assert all(lo[c] <= r.credit("markov")[c] + 1e-9 <= hi[c] + 2e-9 for c in lo)


def test_value_shares_and_time_decay_dropped_for_path_files():
    p = Paths.from_sequences([["a", "b"], ["b"]], conversions=[1, 1], value=[30, 10])
    r = attribute(p, ["last", "time_decay"], value=True)
    assert r.models() == ["last"]
    assert r.credit("last", "share") == pytest.approx({"a": 0.0, "b": 1.0})
    assert any("time_decay" in w for w in r.diagnostics["warnings"])
    r = attribute(p, ["first"], value=True)
    assert r.credit("first", "share") == pytest.approx({"a": 0.75, "b": 0.25})


def test_bad_settings_and_models_are_clear_errors():
    with pytest.raises(InputError, match="'wat'"):
        attribute(Paths.from_sequences([["a"]], conversions=[1]), "first,wat")
    with pytest.raises(InputError, match="lookback"):
        AttributionSettings(lookback="soon")
    with pytest.raises(InputError, match="custom_weights"):
        attribute(Paths.from_sequences([["a"]], conversions=[1]), ["custom"], custom_weights=(1, 2))


def test_empty_and_no_conversions_give_defined_answers():
    empty = attribute(Paths.from_sequences([], conversions=[]), ["first", "markov", "shapley"])
    assert empty.credits == [] and empty.diagnostics["paths"] == 0
    none = attribute(Paths.from_sequences([["a", "b"]], conversions=[0], nulls=[5]), ["linear", "markov", "shapley"])
    assert all(r[2] == 0.0 for r in none.credits)
    assert any("No conversions" in w for w in none.diagnostics["warnings"])


def test_path_touches_round_trip():
    p = Paths.from_sequences([["a", "b", "a"], ["c"]], conversions=[2, 0], nulls=[1, 3])
    df = path_touches(p).execute().sort_values(["path_id", "pos"])
    assert df.channel.tolist() == ["a", "b", "a", "c"] and df.pos.tolist() == [1, 2, 3, 1]


def _path_rows(p: Paths):
    return sorted(zip(p.sequences(), p.conversions, p.nulls, np.round(p.value, 9), strict=True))


def test_packed_path_codes_equal_ordered_lists():
    frame = synthetic_events(300, seed=9)
    bp = Blueprint.model_validate({"goals": [{"touchpoint": "Buy"}], "journey": {"inactivity_gap": None}})
    con = ibis.duckdb.connect()
    t = attribution_touches(build_journeys(ibis.memtable(frame), bp), bp, AttributionSettings(include_in_progress=True))
    t = con.create_table("touches", t, temp=True)
    assert _path_rows(aggregate_paths(t, con, "codes")) == _path_rows(aggregate_paths(t, con, "lists"))


def test_long_paths_fall_back_to_lists():
    rows = [("z", i / 10, "Search ad" if i % 2 else "Email", None) for i in range(200)] + [("z", 21, "Buy", 1.0)]
    j = build_journeys(events(rows), BP, end=day(100))
    con = ibis.duckdb.connect()
    t = attribution_touches(j, BP, AttributionSettings(lookback=None))
    p = aggregate_paths(t, con)
    assert p.sequences() == [tuple(["email", "search"] * 100)]
    with pytest.raises(InputError, match="too long"):
        aggregate_paths(t, con, "codes")


# -- every model: properties, edge cases, Spark ---------------------------------------------------------
PATH_MODELS = [
    "first",
    "last",
    "last_non_direct",
    "linear",
    "position",
    "j_shaped",
    "inverse_j",
    "custom",
    "participation",
    "markov",
    "shapley",
]

rows_strategy = st.lists(
    st.tuples(
        st.lists(st.sampled_from(["a", "b", "c", "direct"]), min_size=1, max_size=5),
        st.integers(0, 4),
        st.integers(0, 4),
    ),
    min_size=1,
    max_size=6,
).filter(lambda rows: sum(r[1] for r in rows) > 0)


def _by_channel(r: AttributionResult, model: str) -> dict[str, tuple[float, float]]:
    return {c: (v, r.credit(model, "value")[c]) for c, v in r.credit(model).items()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows_strategy)
def test_properties_of_every_model(rows):
    """Credits sum to the totals, are never negative, and relabelling the channels permutes them."""
    seqs, conv, nulls = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
    value = [7.5 * c for c in conv]
    p = Paths.from_sequences(seqs, conv, value=value, nulls=nulls)
    r = attribute(p, PATH_MODELS, custom_weights=(1, 3, 2), order=2)
    total_c, total_v = sum(conv), sum(value)
    for m in PATH_MODELS:
        credit = _by_channel(r, m)
        assert all(c >= -1e-12 and v >= -1e-12 for c, v in credit.values()), m
        if m == "participation":  # 1 to each distinct channel of a converting path
            want = sum(len(set(s)) * c for s, c in zip(seqs, conv, strict=True))
            assert sum(c for c, _ in credit.values()) == pytest.approx(want), m
        else:
            assert sum(c for c, _ in credit.values()) == pytest.approx(total_c), m
            assert sum(v for _, v in credit.values()) == pytest.approx(total_v), m
    # relabel: a->zz, b->direct, c->a, direct->b (sort order and the direct channel both change)
    rename = {"a": "zz", "b": "direct", "c": "a", "direct": "b"}
    q = Paths.from_sequences([[rename[c] for c in s] for s in seqs], conv, value=value, nulls=nulls)
    rq = attribute(q, [m for m in PATH_MODELS if m != "last_non_direct"], custom_weights=(1, 3, 2), order=2)
    for m in rq.models():
        got = _by_channel(rq, m)
        for c, (cv, vv) in _by_channel(r, m).items():
            assert got[rename[c]] == pytest.approx((cv, vv), abs=1e-9), (m, c)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(1, 6), st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=5).filter(
        lambda rows: sum(r[1] for r in rows) > 0
    ),
    st.integers(1, 4),
)
def test_one_channel_gets_everything_property(rows, order):
    conv = [r[1] for r in rows]
    p = Paths.from_sequences(
        [["only"] * r[0] for r in rows], conv, value=[3.0 * c for c in conv], nulls=[r[2] for r in rows]
    )
    r = attribute(p, PATH_MODELS, custom_weights=(2, 1, 1), order=order, collapse_repeats=order % 2 == 0)
    for m in PATH_MODELS:
        assert r.credit(m) == {"only": pytest.approx(sum(conv))}, m
        assert r.credit(m, "value") == {"only": pytest.approx(3.0 * sum(conv))}, m


def test_one_channel_gets_everything_in_every_model():
    rows = [
        ("a", 0, "Email", None),
        ("a", 1, "Email", None),
        ("a", 2, "Buy", 30.0),
        ("b", 0, "Email", None),
        ("b", 3, "Buy", 12.0),
        ("c", 0, "Email", None),
    ]
    j = build_journeys(events(rows), BP, end=day(100))
    r = attribute(j, "all", blueprint=BP, con=ibis.duckdb.connect(), order=3, bootstrap=20)
    assert set(r.models()) == {*ALL, "markov", "shapley"}  # 'all' names custom only with its weights
    for m in r.models():
        assert r.credit(m) == {"email": pytest.approx(2.0)}, m
        assert r.credit(m, "value") == {"email": pytest.approx(42.0)}, m
        assert r.credit(m, "share") == {"email": pytest.approx(1.0)}, m
    assert any("one channel" in w for w in r.diagnostics["warnings"])


def test_empty_and_non_converting_journeys_give_defined_answers():
    con = ibis.duckdb.connect()
    nothing = events([("a", 0, "Email", None)]).filter(ibis.literal(False))
    r = attribute(
        build_journeys(nothing, BP, end=day(1)), ["first", "linear", "markov", "shapley"], blueprint=BP, con=con
    )
    assert r.credits == [] and r.diagnostics["paths"] == 0 and r.diagnostics["conversions"] == 0
    assert any("No paths" in w for w in r.diagnostics["warnings"])
    dropped = [("a", 0, "Email", None), ("a", 1, "Search ad", None), ("b", 0, "Social", None)]
    r = attribute(
        build_journeys(events(dropped), BP, end=day(100)),
        ["first", "linear", "markov", "shapley"],
        blueprint=BP,
        con=con,
        bootstrap=10,
    )
    assert r.diagnostics["paths"] == 2 and r.diagnostics["non_converting"] == 2.0
    assert {row[0] for row in r.credits} == {"markov", "shapley"}  # rule-based models credit converting paths
    assert all(row[2] == 0.0 and row[4] == 0.0 for row in r.credits)
    assert any("No conversions" in w for w in r.diagnostics["warnings"])


def test_diagnostics_by_hand():
    con = ibis.duckdb.connect()
    j = build_journeys(events(), BP, end=day(100))
    d = attribute(j, ["first"], blueprint=BP, con=con).diagnostics
    # converting paths: a (3 touches), b (2), c (3), e (1); dropped: d (2)
    assert (d["paths"], d["journeys"], d["channels"], d["conversions"]) == (5, 5.0, 4, 4.0)
    assert d["conversion_value"] == 210.0 and d["non_converting"] == 1.0
    assert d["single_touch_share"] == 0.25 and d["mean_path_length"] == pytest.approx((3 + 2 + 3 + 1 + 2) / 5)
    assert d["unattributed_conversions"] == 0.0
    assert any("Only 4 conversions" in w for w in d["warnings"])
    # a 12-hour lookback: a's last touch is 1 day before, b's 7 days, e's 1 day; c's social 12 h before stays
    d = attribute(j, ["first"], blueprint=BP, con=con, settings=AttributionSettings(lookback="12h")).diagnostics
    assert d["unattributed_conversions"] == 3.0 and d["conversions"] == 1.0
    assert any("no credited touch" in w for w in d["warnings"])


@pytest.mark.spark
def test_attribute_on_spark_equals_duckdb(spark_con):
    """The whole attribute() call (touches, packed paths, rule-based models, Markov, Shapley) on Spark."""
    models = [*ALL, "markov", "shapley"]
    got = {}
    for name, con in (("duckdb", ibis.duckdb.connect()), ("spark", spark_con)):
        got[name] = attribute(build_journeys(events(), BP, end=day(100)), models, blueprint=BP, con=con, order=2)
    duck, spark = got["duckdb"], got["spark"]
    assert spark.models() == models and spark.diagnostics == duck.diagnostics
    for m in models:
        for what in ("conversions", "value", "share"):
            assert spark.credit(m, what) == pytest.approx(duck.credit(m, what), abs=1e-9), (m, what)
    assert spark.credit("first") == pytest.approx({"search": 1.0, "direct": 1.0, "social": 2.0, "email": 0.0})
