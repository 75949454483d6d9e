"""The demo business: determinism, sizes, and the planted effects measured with plain pandas."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from journeymap.blueprint import Blueprint
from journeymap.cli import main
from journeymap.demo import (
    PLANTED,
    DemoData,
    DemoSummary,
    create_demo,
    demo_blueprint,
    generate,
    write_sources,
)
from journeymap.errors import InputError, WorkspaceError
from journeymap.results import Result


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate(6000, seed=7)


@pytest.fixture(scope="module")
def ev(data) -> pd.DataFrame:
    return data.events.to_pandas()


@pytest.fixture(scope="module")
def journeys(ev) -> pd.DataFrame:
    """One row per (customer, journey): converted, last pre-purchase touch, touchpoints touched."""
    ev = ev.sort_values(["user", "journey", "event_time"], kind="stable")
    g = ev.groupby(["user", "journey"], sort=False)
    out = pd.DataFrame({"converted": g.touchpoint.agg(lambda s: (s == "Purchase").any())})
    out["last"] = g.touchpoint.last()
    return out


def test_same_seed_same_data_and_other_seed_other_data():
    a, b, c = generate(800, seed=3), generate(800, seed=3), generate(800, seed=4)
    assert a.events.equals(b.events) and a.feedback.equals(b.feedback) and a.customers.equals(b.customers)
    assert not a.events.equals(c.events)


def test_sizes_touchpoints_channels_personas(data, ev):
    bp = demo_blueprint()
    assert len(bp.touchpoints) >= 20
    assert {t.stage for t in bp.touchpoints} == {"awareness", "consideration", "purchase", "retention", "advocacy"}
    channels = set(ev.channel)
    assert len(channels) >= 8
    assert {"paid search", "social", "display", "email", "web", "app", "store", "phone", "chat", "direct"} <= channels
    assert len(bp.personas) >= 4
    assert set(data.customers.to_pandas().segment) == {p.where["segment"] for p in bp.personas}
    for t in bp.touchpoints:
        assert t.stage and t.channel and t.kind and t.owner and t.description and t.keywords, t.name
    with_data = set(ev.touchpoint)
    assert set(PLANTED["no_data_touchpoints"]) == set(bp.touchpoint_names()) - with_data
    assert bp.goal_touchpoints() == ["Purchase"] and bp.goals[0].value == "revenue"


def test_purchases_have_revenue_and_repeat(ev):
    buys = ev[ev.touchpoint == "Purchase"]
    assert buys.order_value.notna().all() and (buys.order_value > 0).all()
    assert ev[ev.touchpoint != "Purchase"].order_value.isna().all()
    per_customer = buys.groupby("user").size()
    assert (per_customer >= 2).sum() > 0.05 * len(per_customer)
    assert set(buys.channel) == {"web", "app", "store"}


def test_surveys_and_free_text(data):
    fb = data.feedback.to_pandas()
    for score, scale in (("nps", (0, 10)), ("csat", (1, 5)), ("ces", (1, 7))):
        answered = fb[fb[score].notna()]
        assert answered.touchpoint.nunique() >= 2, score
        assert answered[score].between(*scale).all()
    texts = fb.comment.dropna()
    assert texts.nunique() > 0.5 * len(texts)  # varied, not one sentence per case
    assert set(fb.kind) >= {"survey", "review", "ticket", "chat", "social"}
    assert fb[fb.topic == "neutral"].comment.notna().all()


def test_feedback_follows_experience(data):
    fb = data.feedback.to_pandas()
    negative, positive = fb[fb.topic.isin(["delivery_charge", "late"])], fb[fb.topic.isin(["praise", "size_guide"])]
    assert negative.rating.mean() < 2.5 < positive.rating.mean()
    nps = fb[fb.nps.notna()]
    assert nps[nps.topic == "late"].nps.mean() < nps[nps.topic == "praise"].nps.mean()


def test_planted_friction_has_highest_exit_rate(ev, journeys):
    dropped = journeys[~journeys.converted]
    pre = ev[
        ev.touchpoint.isin(
            [
                "Product page",
                "Basket",
                "Delivery options",
                "Checkout",
                "Homepage",
                "Customer reviews",
                "Size guide",
                "Live chat",
                "App browse",
            ]
        )
    ]
    touches = pre.groupby("touchpoint").size()
    exits = dropped["last"].value_counts().reindex(touches.index, fill_value=0)
    rate = (exits / touches).sort_values(ascending=False)
    assert rate.index[0] == PLANTED["friction_touchpoint"], rate
    # loops: the friction touchpoint repeats at once more often than any other touchpoint
    s = ev.sort_values(["user", "event_time"], kind="stable")
    same = (s.touchpoint == s.touchpoint.shift()) & (s.user == s.user.shift())
    loops = (s[same].touchpoint.value_counts() / s.touchpoint.value_counts()).fillna(0)
    assert loops.drop(["Product page", "App browse"]).idxmax() == PLANTED["friction_touchpoint"]


def test_planted_friction_is_slow(ev):
    s = ev.sort_values(["user", "event_time"], kind="stable")
    gap = (s.event_time.shift(-1) - s.event_time).dt.total_seconds()
    same = s.user == s.user.shift(-1)
    p90 = gap[same].groupby(s.touchpoint[same]).quantile(0.9)
    pre = p90.drop(
        [
            "Order confirmation",
            "Delivery tracking",
            "Customer service call",
            "Returns portal",
            "Loyalty programme",
            "Product review",
            "Referral",
            "Social mention",
            "Purchase",
        ],
        errors="ignore",
    )
    assert pre.idxmax() == PLANTED["friction_touchpoint"]


def test_planted_lift_touchpoint_converts_more_within_each_persona(data, ev, journeys):
    seg = data.customers.to_pandas().set_index("customer_id").segment
    touched = ev[ev.touchpoint == PLANTED["lift_touchpoint"]].groupby(["user", "journey"]).size()
    browsed = ev[ev.touchpoint == "Product page"].groupby(["user", "journey"]).size()
    j = journeys.loc[journeys.index.isin(browsed.index)].copy()  # journeys that reached a product page
    j["lift"] = j.index.isin(touched.index)
    j["segment"] = seg.reindex(j.index.get_level_values("user")).to_numpy()
    rates = j.groupby(["segment", "lift"]).converted.mean().unstack()
    assert (rates[True] > rates[False] + 0.05).all(), rates
    overall = j.groupby("lift").converted.mean()
    assert overall[True] > 1.5 * overall[False]


def test_planted_persona_has_a_distinct_path(data, ev):
    seg = data.customers.to_pandas().set_index("customer_id").segment
    first = ev[ev.journey == 0].sort_values(["user", "event_time"]).groupby("user").touchpoint.first()
    share = (first == PLANTED["distinct_persona_first_touchpoint"]).groupby(seg.reindex(first.index)).mean()
    distinct = next(p.where["segment"] for p in demo_blueprint().personas if p.name == PLANTED["distinct_persona"])
    assert share[distinct] > 0.5
    assert share.drop(distinct).max() < 0.1
    buys = ev[ev.touchpoint == "Purchase"]
    store_share = (buys.channel == "store").groupby(seg.reindex(buys.user).to_numpy()).mean()
    assert store_share.idxmax() == distinct


def test_complaint_words_concentrate_on_the_friction_touchpoint(data):
    fb = data.feedback.to_pandas()
    text = fb.comment.fillna("").str.lower()
    hit = text.str.contains("|".join(PLANTED["complaint_keywords"]))
    assert hit.sum() > 50
    at = fb.loc[hit & fb.touchpoint.notna(), "touchpoint"]
    assert (at == PLANTED["friction_touchpoint"]).mean() > 0.95
    friction_texts = text[(fb.touchpoint == PLANTED["friction_touchpoint"]) & (text != "")]
    assert friction_texts.str.contains("|".join(PLANTED["complaint_keywords"])).mean() > 0.9


def test_blueprint_maps_every_raw_event():
    bp = demo_blueprint()
    assert Blueprint.from_yaml(bp.to_yaml()) == bp
    names = {t.name for t in bp.touchpoints if t.match}
    assert len(names) == len(bp.touchpoints) - 2


def test_write_sources_drops_truth_columns(tmp_path):
    files = write_sources(tmp_path, 300, seed=1, fmt="parquet")
    cols = pd.read_parquet(files["events"]).columns
    assert "touchpoint" not in cols and "journey" not in cols and {"user", "event_time", "event"} <= set(cols)
    assert "topic" not in pd.read_csv(files["feedback"]).columns
    with pytest.raises(InputError, match="'xlsx'"):
        write_sources(tmp_path, 10, fmt="xlsx")
    with pytest.raises(InputError, match="customers=0"):
        generate(0)


def test_create_demo_loads_everything_and_force_replaces(tmp_path):
    from journeymap.workspace import Workspace

    path = tmp_path / "shop"
    s = create_demo(path, 400, seed=5)
    data = generate(400, seed=5)
    assert s.rows["events"] == data.events.num_rows and s.rows["quarantine"] == 0
    assert s.rows["feedback"] == data.feedback.num_rows and s.rows["customers"] == 400
    with Workspace.open(path) as ws:
        got = ws.events().touchpoint.value_counts().execute().set_index("touchpoint").touchpoint_count
        want = data.events.to_pandas().touchpoint.value_counts()
        assert got.sort_index().to_dict() == want.sort_index().to_dict()  # match rules give the truth
        assert ws.blueprint == demo_blueprint()
    assert Result.from_json(s.to_json()) == s and isinstance(s, DemoSummary)
    with pytest.raises(WorkspaceError, match="--force"):
        create_demo(path, 100)
    create_demo(path, 100, force=True)
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(WorkspaceError, match="not a journeymap workspace"):
        create_demo(other, 100, force=True)
    assert (other / "keep.txt").exists()


def test_cli_demo_json_and_help(tmp_path):
    r = CliRunner().invoke(main, ["demo", str(tmp_path / "d"), "--customers", "200", "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["rows"]["customers"] == 200 and out["planted"]["lift_touchpoint"] == PLANTED["lift_touchpoint"]
    r = CliRunner().invoke(main, ["demo", str(tmp_path / "d"), "--customers", "200"])
    assert r.exit_code == 1 and "--force" in r.output
    h = CliRunner().invoke(main, ["demo", "--help"])
    assert h.exit_code == 0 and "Example:" in h.output


def test_chunks_do_not_change_the_data(monkeypatch):
    import journeymap.demo as demo

    whole = generate(500, seed=9)
    monkeypatch.setattr(demo, "CHUNK", 200)
    parts = generate(500, seed=9)
    assert parts.customers.num_rows == 500
    assert not parts.events.equals(whole.events)  # chunks have their own streams; CHUNK is part of the recipe
    assert np.array_equal(
        parts.customers.column("customer_id").to_numpy(zero_copy_only=False),
        whole.customers.column("customer_id").to_numpy(zero_copy_only=False),
    )
