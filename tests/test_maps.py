"""The JourneyMap document: round trip, golden JSON, figures reconciled with the analytics and with pandas,
the planted truths of the demo, change vs a previous period, diff, personas, designed vs observed, CLI.

Golden file: tests/fixtures/map_golden.json is the map of ``create_demo(800 customers, seed 11)``.
Refresh it after an intended change with::

    JOURNEYMAP_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_maps.py -k golden

and review the diff before committing.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from pydantic import ValidationError
from scipy import stats

from journeymap import engine
from journeymap.blueprint import Blueprint
from journeymap.cli import main
from journeymap.demo import PLANTED, create_demo
from journeymap.errors import InputError
from journeymap.maps import SCHEMA_VERSION, JourneyMap, build_map, diff_maps, json_schema
from journeymap.maps.build import score_missing
from journeymap.workspace import Workspace

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = FIXTURES / "map_golden.json"
GOLDEN_CUSTOMERS, GOLDEN_SEED = 800, 11
# parts of the document that depend on when and where it was built, not on the data
VOLATILE = {("meta", "generated_at"), ("meta", "build_seconds"), ("meta", "workspace")}
VOLATILE_KEYS = {"time", "source", "ingest_id"}  # ingest log entries: clock, tmp paths, random ids


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    path = tmp_path_factory.mktemp("maps") / "shop"
    create_demo(path, GOLDEN_CUSTOMERS, seed=GOLDEN_SEED)
    w = Workspace.open(path)
    score_missing(w)  # the scoring step `journeymap map` runs first; build_map itself writes nothing
    yield w
    w.close()


@pytest.fixture(scope="module")
def doc(demo_ws) -> JourneyMap:
    return build_map(demo_ws)


@pytest.fixture(scope="module")
def journeys_df(demo_ws) -> pd.DataFrame:
    """The journeys of the demo, as the CLI builds them, in pandas (the peer for reconciliation)."""
    from journeymap.journeys import build_journeys

    j = build_journeys(demo_ws.events(), demo_ws.blueprint)
    return engine.execute(
        j.select("customer_id", "journey_id", "step", "touchpoint", "stage", "converted", "ts"), demo_ws.con
    )


# -- the document --------------------------------------------------------------------------------
def test_round_trip_is_equal(doc, tmp_path):
    assert JourneyMap.from_json(doc.to_json()) == doc
    path = doc.save(tmp_path / "m" / "map.json")
    assert JourneyMap.load(path) == doc
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION


def test_other_schema_version_is_refused_clearly(doc):
    data = json.loads(doc.to_json())
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(InputError, match=rf"schema_version {SCHEMA_VERSION + 1} .*rebuild the map"):
        JourneyMap.from_dict(data)
    with pytest.raises(InputError, match="not a JourneyMap document"):
        JourneyMap.from_dict({"kind": "touchpoints"})
    with pytest.raises(InputError, match="does not exist"):
        JourneyMap.load("/nonexistent/map.json")


def test_document_is_frozen_and_every_field_documented(doc):
    with pytest.raises(ValidationError, match="frozen"):
        doc.meta = None  # type: ignore[misc]
    schema = json_schema()
    assert str(SCHEMA_VERSION) in schema["title"]
    undocumented = [
        f"{name}.{field}"
        for name, d in schema["$defs"].items()
        if "properties" in d
        for field, p in d["properties"].items()
        if not p.get("description")
    ]
    undocumented += [f for f, p in schema["properties"].items() if not p.get("description")]
    assert undocumented == []


def test_fixture_example_loads():
    m = JourneyMap.load(FIXTURES / "map_small.json")
    assert m.pain_points and m.stages and m.personas


# -- golden ----------------------------------------------------------------------------------------
def _close(a, b, path=()):
    """Differences between two JSON values (floats to 1e-6 relative), skipping volatile parts."""
    if path[:2] in VOLATILE or (path and path[-1] in VOLATILE_KEYS):
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{'/'.join(map(str, path))}: keys {sorted(set(a) ^ set(b))}"] if set(a) != set(b) else []
        for k in set(a) & set(b):
            out += _close(a[k], b[k], (*path, k))
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{'/'.join(map(str, path))}: {len(a)} items vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _close(x, y, (*path, i))]
    if isinstance(a, float) or isinstance(b, float):
        if (
            isinstance(a, (int, float))
            and isinstance(b, (int, float))
            and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
        ):
            return []
    elif a == b:
        return []
    return [f"{'/'.join(map(str, path))}: {a!r} != {b!r}"]


def test_golden_map(doc):
    data = json.loads(doc.to_json())
    if os.environ.get("JOURNEYMAP_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    diffs = _close(golden, data)
    assert diffs == [], f"{len(diffs)} differences, first: {diffs[:10]}; refresh with JOURNEYMAP_UPDATE_GOLDEN=1"


# -- reconciliation --------------------------------------------------------------------------------
def test_touchpoint_reach_and_conversion_match_pandas(doc, journeys_df):
    j = journeys_df
    total = j.journey_id.nunique()
    per = j.groupby("touchpoint").agg(
        journeys=("journey_id", "nunique"), customers=("customer_id", "nunique"), events=("journey_id", "size")
    )
    conv = j.drop_duplicates(["journey_id", "touchpoint"]).groupby("touchpoint").converted.sum()
    cells = {c.name: c for c in doc.touchpoints() if c.has_data}
    assert set(cells) == set(per.index)
    for name, row in per.iterrows():
        f = cells[name].figures
        assert (f.journeys, f.customers, f.events) == (row.journeys, row.customers, row.events)
        assert f.share == pytest.approx(row.journeys / total)
        assert f.conversion.k == conv[name] and f.conversion.n == row.journeys
        assert f.conversion.low < f.conversion.value < f.conversion.high or f.conversion.value in (0, 1)


def _after_goal_peer(j: pd.DataFrame, stage: str, window) -> tuple[int, int]:
    """pandas: converted journeys whose customer touches ``stage`` in a later journey within ``window``."""
    j = j.assign(no=j.journey_id.str.rsplit(":", n=1).str[1].astype(int))
    conv = (
        j[j.converted.fillna(False).astype(bool)]
        .groupby("journey_id", as_index=False)
        .agg(customer_id=("customer_id", "first"), no=("no", "first"), t=("ts", "max"))
    )
    m = conv.merge(j[j.stage == stage][["customer_id", "no", "ts"]], on="customer_id", suffixes=("", "_l"))
    m = m[(m.no_l > m.no) & (m.ts <= m.t + window)]
    return m.journey_id.nunique(), len(conv)


def test_stage_figures_match_the_stage_funnel(doc, demo_ws, journeys_df):
    from journeymap.journeys import build_journeys, stage_funnel

    sf = {
        r["stage"]: r
        for r in stage_funnel(
            build_journeys(demo_ws.events(), demo_ws.blueprint), demo_ws.blueprint, con=demo_ws.con
        ).records()
    }
    j = journeys_df
    total = j.journey_id.nunique()
    for st in doc.stages:
        r = sf[st.name]
        assert st.reach.k == r["journeys"] == j[j.stage == st.name].journey_id.nunique()
        assert st.reach.n == total
        if st.name == "purchase":  # the goal's stage: journeys end there, what follows is after_goal
            assert st.conversion_to_next is None and r["after_goal"] is None
        elif r["to_next"] is not None:
            assert st.conversion_to_next.value == pytest.approx(r["rate_to_next"])
            assert (
                st.drop_off.value == pytest.approx(1 - st.conversion_to_next.value)
                or st.drop_off.k == r["ended_dropped"]
            )
        if r["after_goal"] is not None:  # stages after the goal's: converters reaching them afterwards
            assert (
                (st.after_goal.k, st.after_goal.n)
                == (r["after_goal"], r["converters"])
                == _after_goal_peer(j, st.name, demo_ws.blueprint.journey.conversion_window)
            )
        else:
            assert st.after_goal is None
        assert st.conversion.k == r["converted"]
    # lanes hold every touchpoint of the stage exactly once, grouped by channel
    bp = demo_ws.blueprint
    for st in doc.stages:
        names = [t.name for lane in st.lanes for t in lane.touchpoints]
        assert sorted(names) == sorted(t.name for t in bp.touchpoints if t.stage == st.name)
        for lane in st.lanes:
            assert {t.channel for t in lane.touchpoints} == {lane.channel}


def test_headline_conversion_and_emotion_match_hand_computation(doc, demo_ws, journeys_df):
    j = journeys_df.drop_duplicates("journey_id")
    conv = next(h for h in doc.summary.headlines if h.key == "conversion")
    assert conv.value == pytest.approx(j.converted.mean()) and conv.n == len(j)
    # the emotion of a touchpoint is the mean item score of its linked feedback; recompute one by hand
    from journeymap.voice.linking import link_feedback
    from journeymap.voice.scoring import scores

    fb = link_feedback(demo_ws.feedback(), demo_ws.blueprint, con=demo_ws.con)
    df = engine.execute(fb, demo_ws.con).merge(
        engine.execute(scores(demo_ws.con, "lexicon"), demo_ws.con)[["feedback_id", "sentiment"]], how="left"
    )
    df = df[df.link_touchpoint == PLANTED["friction_touchpoint"]]
    parts = pd.DataFrame(
        {
            "s": df.sentiment,
            "r": ((df.rating - 1) / (df.rating_scale - 1) * 2 - 1).where(df.rating_scale > 1),
            "nps": (df.nps.astype(float) - 5) / 5,
            "csat": (df.csat.astype(float) - 3) / 2,
            "ces": (df.ces.astype(float) - 4) / 3,
        }
    )
    item = parts.mean(axis=1, skipna=True).dropna()
    e = doc.touchpoint(PLANTED["friction_touchpoint"]).emotion
    assert e.n == len(item) and e.mean == pytest.approx(item.mean())
    half = 1.959963984540054 * item.std(ddof=1) / math.sqrt(len(item))
    assert (e.low, e.high) == pytest.approx((item.mean() - half, item.mean() + half))


# -- truth on the demo -----------------------------------------------------------------------------
def test_planted_friction_is_a_top3_pain_point_with_the_complaint_quoted(doc):
    top3 = [p.touchpoint for p in doc.pain_points[:3]]
    assert PLANTED["friction_touchpoint"] in top3
    pain = next(p for p in doc.pain_points if p.touchpoint == PLANTED["friction_touchpoint"])
    words = [w.lower() for w in PLANTED["complaint_keywords"]]
    quoted = [q.text.lower() for q in pain.evidence.quotes]
    assert any(any(w in q for w in words) for q in quoted), quoted
    assert all(q.feedback_id for q in pain.evidence.quotes)
    cell = doc.touchpoint(PLANTED["friction_touchpoint"])
    assert 3 <= len(cell.quotes) <= 5
    assert any(any(w in q.text.lower() for w in words) for q in cell.quotes)
    # the opportunity names the owner team and cites the complaint
    fix = next(o for o in doc.opportunities if o.rule_id == "fix_friction" and o.touchpoint == pain.touchpoint)
    assert fix.owner == cell.owner and fix.evidence.quotes


def test_planted_lift_touchpoint_is_a_top_driver(doc):
    tp_drivers = [d.feature for d in doc.drivers if d.kind == "touchpoint" and d.significant]
    assert PLANTED["lift_touchpoint"] in tp_drivers[:3], tp_drivers
    lift = doc.touchpoint(PLANTED["lift_touchpoint"]).lift
    assert lift.significant and lift.effect > 0 and lift.low > 0


def test_designed_vs_observed_finds_blueprint_touchpoints_without_data(doc):
    dvo = doc.designed_vs_observed
    assert set(PLANTED["no_data_touchpoints"]) <= set(dvo.touchpoints_without_data)
    assert all(not doc.touchpoint(n).has_data for n in dvo.touchpoints_without_data)
    no_data = {o.touchpoint for o in doc.opportunities if o.rule_id == "no_data"}
    assert no_data == set(dvo.touchpoints_without_data)


def test_personas_are_compared_and_a_persona_map_differs(doc, demo_ws):
    names = [p.name for p in doc.personas]
    assert PLANTED["distinct_persona"] in names
    assert sum(p.customers for p in doc.personas) == next(
        h.value for h in doc.summary.headlines if h.key == "customers"
    )
    one = build_map(demo_ws, persona=PLANTED["distinct_persona"], themes=False)
    assert one.meta.persona == PLANTED["distinct_persona"] and one.personas == []
    col = next(p for p in doc.personas if p.name == PLANTED["distinct_persona"])
    assert one.summary.headlines[0].value == col.customers
    first = PLANTED["distinct_persona_first_touchpoint"]
    share_one, share_all = one.touchpoint(first).figures.share, doc.touchpoint(first).figures.share
    assert share_one > 2 * share_all
    assert col.top_paths[0].startswith(first)


def _grid_figures(stages):
    """Everything figure-like in a grid (stage figures; per touchpoint figures, friction, KPIs, emotion), as JSON."""
    out = {}
    for st in stages:
        out[f"stage {st.name}"] = st.model_dump(mode="json", exclude={"lanes", "description"})
        for lane in st.lanes:
            for c in lane.touchpoints:
                out[f"touchpoint {c.name}"] = {
                    "stage": st.name,
                    "lane": lane.channel,
                    **c.model_dump(mode="json", include={"order", "figures", "friction", "kpis", "emotion"}),
                }
    return out


def test_persona_maps_equal_the_single_persona_map(doc, demo_ws):
    names = [p.name for p in doc.personas]
    assert [m.persona for m in doc.persona_maps] == names
    distinct = PLANTED["distinct_persona"]
    pm = next(m for m in doc.persona_maps if m.persona == distinct)
    one = build_map(demo_ws, persona=distinct, themes=False)
    assert one.persona_maps == []
    # the persona's grid, computed from the shared journeys, equals the map built for that persona alone
    assert _close(_grid_figures(pm.stages), _grid_figures(one.stages)) == []
    assert _close(pm.emotion_curve.model_dump(mode="json"), one.emotion_curve.model_dump(mode="json")) == []
    assert [p.touchpoint for p in pm.pain_points] == [p.touchpoint for p in one.pain_points]
    assert (
        _close(
            [[p.score, p.friction, p.reach] for p in pm.pain_points],
            [[p.score, p.friction, p.reach] for p in one.pain_points],
        )
        == []
    )
    assert pm.journeys == one.summary.headlines[1].value and pm.customers == one.summary.headlines[0].value
    head = next(h for h in one.summary.headlines if h.key == "conversion")
    assert (pm.conversion.value, pm.conversion.low, pm.conversion.high) == (head.value, head.low, head.high)
    # ... and differs from the overall grid; the comparison column's pain points are the grid's
    assert _close(_grid_figures(pm.stages), _grid_figures(doc.stages)) != []
    assert pm.stages[0].reach.value != doc.stages[0].reach.value
    col = next(p for p in doc.personas if p.name == distinct)
    assert col.top_pain_points == [p.touchpoint for p in pm.pain_points[:3]]
    # the persona maps add up to the overall map: journeys, and per touchpoint journeys reached
    assert sum(m.journeys for m in doc.persona_maps) == doc.summary.headlines[1].value
    for c in doc.touchpoints():
        per = [
            cell
            for m in doc.persona_maps
            for st in m.stages
            for lane in st.lanes
            for cell in lane.touchpoints
            if cell.name == c.name
        ]
        assert sum(x.figures.journeys for x in per) == c.figures.journeys, c.name


def test_summary_drop_and_post_purchase_pain_points(doc, demo_ws, journeys_df):
    from journeymap.journeys import friction

    bp = demo_ws.blueprint
    order = [s.name for s in bp.stages]
    goal = min(order.index(bp.stage_of(g)) for g in bp.goal_touchpoints())
    assert PLANTED["friction_touchpoint"] == doc.pain_points[0].touchpoint
    # the drop sentence names the worst step of the stage funnel up to the goal's stage, hand-computed
    j = journeys_df.assign(key=journeys_df.customer_id.astype(str) + "/" + journeys_df.journey_id.astype(str))
    steps = []
    for i in range(goal):
        first = j[j.stage == order[i]].groupby("key").step.min()
        last_next = j[j.stage == order[i + 1]].groupby("key").step.max()
        on = (last_next.reindex(first.index) > first).sum()  # touching this stage and later the next one
        steps.append((on / len(first), i))
    rate_, i = min(steps)
    sentence = next(x for x in doc.summary.sentences if x.startswith("The biggest drop"))
    assert f"from {order[i]} to {order[i + 1]}: only {rate_ * 100:.1f}% " in sentence, sentence
    assert not any(order[k] in sentence for k in range(goal + 1, len(order)))
    # post-purchase flags follow the goal's stage
    post = set(order[goal + 1 :])
    assert {s.name for s in doc.stages if s.post_goal} == post
    assert all(p.post_goal == (p.stage in post) for p in doc.pain_points)
    assert any(p.post_goal for p in doc.pain_points)
    assert all(o.post_goal == (o.stage in post) for o in doc.opportunities if o.rule_id == "fix_friction")
    # a post-purchase touchpoint's exits are judged against post-purchase touches only: the same expectation as
    # friction() on the post-purchase touches alone
    jt = build_journeys_of(demo_ws)
    alone = {r["touchpoint"]: r for r in friction(jt.filter(jt.stage.isin(sorted(post))), con=demo_ws.con).records()}
    for p in doc.pain_points:
        if p.post_goal:
            cell = doc.touchpoint(p.touchpoint)
            assert math.isclose(
                cell.friction.components["expected_exit_rate"], alone[p.touchpoint]["expected_exit_rate"], rel_tol=1e-9
            )
            assert "post-purchase" in p.headline and "gives up" not in p.headline


def build_journeys_of(ws):
    from journeymap.journeys import build_journeys

    return build_journeys(ws.events(), ws.blueprint)


# -- change over time ------------------------------------------------------------------------------
def _z_test(k1, n1, k2, n2):
    p = (k1 + k2) / (n1 + n2)
    z = (k2 / n2 - k1 / n1) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return k2 / n2 - k1 / n1, 2 * stats.norm.sf(abs(z))


def test_compare_to_previous_matches_hand_computation(demo_ws):
    from journeymap.journeys import Filters, apply_filters, build_journeys

    m = build_map(
        demo_ws,
        start="2025-07-01",
        end="2025-10-01",
        compare_to="previous",
        themes=False,
        personas=False,
        models=["first"],
    )
    # the previous period has the same length (92 days) and ends where the current one starts
    assert m.change.previous_start == datetime(2025, 3, 31) and m.change.previous_end == datetime(2025, 7, 1)

    def period(a, b):
        ev = apply_filters(demo_ws.events(), Filters(start=a, end=b))
        j = engine.execute(build_journeys(ev, demo_ws.blueprint).select("journey_id", "converted"), demo_ws.con)
        j = j.drop_duplicates("journey_id")
        return int(j.converted.sum()), len(j)

    k1, n1 = period(datetime(2025, 3, 31), datetime(2025, 7, 1))
    k2, n2 = period(datetime(2025, 7, 1), datetime(2025, 10, 1))
    d = next(x for x in m.change.deltas if x.scope == "headline" and x.name == "conversion")
    delta, p = _z_test(k1, n1, k2, n2)
    assert (d.n_old, d.n_new) == (n1, n2)
    assert d.delta == pytest.approx(delta) and d.p == pytest.approx(p) and d.significant == (p < 0.05)
    head = next(h for h in m.summary.headlines if h.key == "conversion")
    assert head.delta == pytest.approx(delta)


def test_diff_of_two_maps_matches_hand_computation(demo_ws):
    old = build_map(demo_ws, end="2025-05-01", themes=False, personas=False, models=["first"])
    new = build_map(demo_ws, start="2025-05-01", themes=False, personas=False, models=["first"])
    d = diff_maps(old, new)
    tp = PLANTED["friction_touchpoint"]
    a, b = old.touchpoint(tp).figures.conversion, new.touchpoint(tp).figures.conversion
    delta = next(x for x in d.deltas if x.scope == "touchpoint" and x.name == tp and x.metric == "conversion")
    hand_delta, hand_p = _z_test(a.k, a.n, b.k, b.n)
    assert delta.delta == pytest.approx(hand_delta) and delta.p == pytest.approx(hand_p)
    se = math.sqrt(a.value * (1 - a.value) / a.n + b.value * (1 - b.value) / b.n)
    assert (delta.low, delta.high) == pytest.approx(
        (hand_delta - 1.959963984540054 * se, hand_delta + 1.959963984540054 * se)
    )
    old_rank = {p.touchpoint: p.rank for p in old.pain_points}
    new_rank = {p.touchpoint: p.rank for p in new.pain_points}
    for r in d.pain_points:
        assert (r.old_rank, r.new_rank) == (old_rank.get(r.touchpoint), new_rank.get(r.touchpoint))
    # a map against itself: no change anywhere
    same = diff_maps(new, new)
    assert same.added_touchpoints == same.removed_touchpoints == []
    assert all(x.delta == 0 for x in same.deltas) and not any(x.significant for x in same.deltas)


def test_added_and_removed_touchpoints(doc):
    cells = doc.touchpoints()
    gone = next(c for c in cells if c.has_data)
    stages = [
        s.model_copy(
            update={
                "lanes": [
                    lane.model_copy(
                        update={
                            "touchpoints": [
                                t.model_copy(update={"has_data": False}) if t.name == gone.name else t
                                for t in lane.touchpoints
                            ]
                        }
                    )
                    for lane in s.lanes
                ]
            }
        )
        for s in doc.stages
    ]
    older = doc.model_copy(update={"stages": stages})
    d = diff_maps(older, doc)
    assert d.added_touchpoints == [gone.name] and d.removed_touchpoints == []


# -- designed vs observed on a hand-made workspace -----------------------------------------------
def test_back_flows_skipped_stages_and_unmapped_touchpoints(ws, tmp_path):
    bp = Blueprint.model_validate(
        {
            "stages": [{"name": "aware"}, {"name": "consider"}, {"name": "buy"}],
            "touchpoints": [
                {"name": "Ad", "stage": "aware", "channel": "paid", "owner": "Marketing"},
                {"name": "Page", "stage": "consider", "channel": "web", "owner": "Web"},
                {"name": "Poster", "stage": "aware", "channel": "outdoor"},
                {"name": "Buy", "stage": "buy", "channel": "web"},
            ],
            "goals": [{"touchpoint": "Buy"}],
            "journey": {"inactivity_gap": "none", "conversion_window": "none"},
        }
    )
    ws.save_blueprint(bp)
    rows = [  # a: Ad > Page > Ad > Buy (one back-flow Page->Ad); b: Ad > Buy (skips consider); c: Ad > Mystery
        ("a", 1, "Ad"),
        ("a", 2, "Page"),
        ("a", 3, "Ad"),
        ("a", 4, "Buy"),
        ("b", 1, "Ad"),
        ("b", 2, "Buy"),
        ("c", 1, "Ad"),
        ("c", 2, "Mystery"),
    ]
    pd.DataFrame(
        [{"customer_id": c, "ts": f"2025-01-0{d} 10:00:00", "touchpoint": t, "event_id": f"{c}{d}"} for c, d, t in rows]
    ).to_csv(tmp_path / "events.csv", index=False)
    ws.ingest_events(tmp_path / "events.csv")
    m = build_map(Workspace.open(ws.path), themes=False)
    dvo = m.designed_vs_observed
    assert dvo.touchpoints_without_data == ["Poster"]
    assert [(u.name, u.events, u.customers) for u in dvo.unmapped_touchpoints] == [("Mystery", 1, 1)]
    assert [(b.source, b.target, b.count, b.share) for b in dvo.back_flows] == [("Page", "Ad", 1, 1.0)]
    assert [(s.source_stage, s.target_stage, s.skipped, s.count) for s in dvo.skipped_stages] == [
        ("aware", "buy", ["consider"], 2)
    ]
    rules = {o.rule_id for o in m.opportunities}
    assert {"no_data", "unmapped"} <= rules
    assert "back_flow" not in rules  # one transition back is listed, but too few to act on
    assert m.touchpoint("Mystery").in_blueprint is False and m.data_quality.rows["events"] == 8


def test_a_period_without_events_gives_an_empty_map(demo_ws):
    m = build_map(demo_ws, start="2031-01-01", themes=False)
    assert all(not c.has_data for c in m.touchpoints()) and m.pain_points == [] and m.drivers == []
    assert next(h.value for h in m.summary.headlines if h.key == "journeys") == 0
    assert any("No journeys" in w for w in m.meta.warnings)
    assert JourneyMap.from_json(m.to_json()) == m


# -- CLI -------------------------------------------------------------------------------------------
def test_cli_map_and_diff(demo_ws, tmp_path):
    w = str(demo_ws.path)
    out = CliRunner().invoke(
        main,
        [
            "-w",
            w,
            "map",
            "--end",
            "2025-05-01",
            "--models",
            "first",
            "-o",
            str(tmp_path / "old.json"),
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    m = JourneyMap.from_json(out.stdout)
    assert m == JourneyMap.load(tmp_path / "old.json")
    out = CliRunner().invoke(
        main, ["-w", w, "map", "--start", "2025-05-01", "--models", "first", "-o", str(tmp_path / "new.json")]
    )
    assert out.exit_code == 0, out.output
    assert "pain points" in out.stdout and "opportunities" in out.stdout
    out = CliRunner().invoke(main, ["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"), "--format", "csv"])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0].startswith("scope,name,metric,old,new,delta")
    expected = diff_maps(JourneyMap.load(tmp_path / "old.json"), JourneyMap.load(tmp_path / "new.json"))
    assert len(lines) == 1 + len(expected.deltas)
    out = CliRunner().invoke(main, ["-w", w, "map", "--compare-to", "2025"])
    assert out.exit_code == 1 and "START:END" in out.output


# -- opportunity rules on hand-made cells ------------------------------------------------------------
def test_opportunity_rules_fire_on_their_evidence_only():
    from journeymap.maps.models import (
        KPI,
        BackFlow,
        DesignedVsObserved,
        Lift,
        Rate,
        TouchpointCell,
        TouchpointFigures,
    )
    from journeymap.maps.opportunities import opportunities

    bp = Blueprint.model_validate(
        {
            "stages": [{"name": "look"}, {"name": "buy"}],
            "touchpoints": [
                {"name": "Guide", "stage": "look", "owner": "Content"},
                {"name": "Home", "stage": "look", "owner": "Web"},
                {"name": "Pay", "stage": "buy", "owner": "Payments"},
            ],
            "goals": [{"touchpoint": "Pay"}],
            "targets": {"nps": 30, "conversion_rate": 0.5},
        }
    )
    lift = Lift(effect=0.2, low=0.1, high=0.3, q=0.001, significant=True)

    def cell(name, stage, share, journeys, lift=None, kpis=()):
        return TouchpointCell(
            name=name,
            stage=stage,
            owner=bp.touchpoint(name).owner,
            kpis=list(kpis),
            lift=lift,
            figures=TouchpointFigures(journeys=journeys, share=share),
        )

    cells = [
        cell(
            "Guide",
            "look",
            0.10,
            100,
            lift,
            [KPI(name="nps", value=10, n=200, small_sample=False, target=30, meets_target=False)],
        ),
        cell(
            "Home",
            "look",
            0.60,
            600,
            lift,
            [KPI(name="nps", value=10, n=5, small_sample=True, target=30, meets_target=False)],
        ),
        cell("Pay", "buy", 0.10, 100, lift),
    ]
    dvo = DesignedVsObserved(
        back_flows=[
            BackFlow(source="Pay", source_stage="buy", target="Home", target_stage="look", count=50, share=0.2),
            BackFlow(source="Pay", source_stage="buy", target="Guide", target_stage="look", count=3, share=0.2),
        ]
    )
    ops = opportunities(cells, [], dvo, bp, Rate(k=300, n=1000, value=0.3))
    got = {(o.rule_id, o.touchpoint) for o in ops}
    # low reach and significant lift before the goal's stage; not Home (reach 60%), not Pay (goal stage)
    assert ("drive_traffic", "Guide") in got and ("drive_traffic", "Home") not in got
    assert ("drive_traffic", "Pay") not in got
    drive = next(o for o in ops if o.rule_id == "drive_traffic")
    assert drive.owner == "Content" and drive.priority == pytest.approx(100 * 0.2)
    # KPI below target on a real sample only
    assert ("kpi_below_target", "Guide") in got and ("kpi_below_target", "Home") not in got
    conv = next(o for o in ops if o.rule_id == "conversion_below_target")
    assert conv.priority == pytest.approx((0.5 - 0.3) * 1000)
    backs = [o for o in ops if o.rule_id == "back_flow"]
    assert [(o.touchpoint, o.evidence.figures["transitions"]) for o in backs] == [("Pay", 50)]
    assert [o.priority for o in ops] == sorted((o.priority for o in ops), reverse=True)


# -- Spark -----------------------------------------------------------------------------------------
@pytest.mark.spark
@pytest.mark.slow
def test_spark_map_has_the_same_pain_points_and_reach_as_duckdb(spark_con, tmp_path):
    """A small demo in a Spark workspace (spark://local[2]) maps like the same data on DuckDB (about 4 min on the
    shared 2-core machine: the map runs a few hundred Spark jobs)."""
    from journeymap import schema
    from journeymap.demo import demo_blueprint, write_sources

    files = write_sources(tmp_path / "data", 300, 5)
    duck_ws = Workspace.init(tmp_path / "duck", blueprint=demo_blueprint())
    spark_ws = Workspace.init(tmp_path / "spark", blueprint=demo_blueprint(), url="spark://local[2]")
    try:
        for w in (duck_ws, spark_ws):  # the same files ingested into each workspace, the user's way
            w.ingest_customers(files["customers"])
            w.ingest_events(files["events"])
            w.ingest_feedback(files["feedback"])
        for name in schema.TABLES:
            assert engine.execute(spark_ws.table(name).count(), spark_ws.con) == engine.execute(
                duck_ws.table(name).count(), duck_ws.con
            ), name
        for w in (duck_ws, spark_ws):
            score_missing(w)  # the scoring step (on each engine), then the map
        maps = {
            n: build_map(w, themes=False, models=["first", "linear"])
            for n, w in (("duckdb", duck_ws), ("spark", spark_ws))
        }
    finally:
        duck_ws.close()
        spark_ws.close()
    duck, spark = maps["duckdb"], maps["spark"]
    assert spark.meta.engine == "pyspark" and duck.meta.engine == "duckdb"
    assert [p.touchpoint for p in spark.pain_points] == [p.touchpoint for p in duck.pain_points]
    assert (
        _close(
            [[p.score, p.friction, p.reach] for p in spark.pain_points],
            [[p.score, p.friction, p.reach] for p in duck.pain_points],
        )
        == []
    )
    assert (
        _close(
            {c.name: c.figures.model_dump(mode="json") for c in spark.touchpoints()},
            {c.name: c.figures.model_dump(mode="json") for c in duck.touchpoints()},
        )
        == []
    )
    assert (
        _close(
            [s.model_dump(mode="json", include={"reach", "conversion_to_next", "drop_off"}) for s in spark.stages],
            [s.model_dump(mode="json", include={"reach", "conversion_to_next", "drop_off"}) for s in duck.stages],
        )
        == []
    )
    assert _close(_grid_figures(spark.persona_maps[0].stages), _grid_figures(duck.persona_maps[0].stages)) == []
