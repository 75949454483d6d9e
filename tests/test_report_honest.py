"""Honest figures (issue 16, item 4), through the user's path: CSVs written here, ingested into a workspace,
the map built, then read as the report reads it.

- emotion is coloured only from ``meta.emotion_min_n`` scored items (``[report] emotion_min_n``);
- no interval is printed from fewer than :data:`~journeymap.report.formatting.MIN_N_INTERVAL` observations;
- a pain point's headline names the friction component that drives its score, with that component's figure;
- the attribution states its denominator, checked against pandas over the ingested events;
- a top pain point that is also a conversion driver carries the purchase-path caveat;
- headline tiles carry the blueprint's targets; reader text holds no internal end-state labels.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

import pandas as pd
import pytest
from conftest import write_csv

from journeymap import engine
from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.maps import JourneyMap, build_map
from journeymap.maps.models import PURCHASE_PATH_CAVEAT
from journeymap.report import formatting as f
from journeymap.report import render_html, render_markdown
from journeymap.workspace import Workspace

T0 = datetime(2025, 1, 1, 8, 0, 0)
LOOKBACK = timedelta(days=30)
MARKETING = {"Ad", "Mail"}
GOAL = "Buy"
# group -> (customers, [(touchpoint, offset from the customer's start)]); one journey per customer (no inactivity
# split): A buys after an ad; B buys with owned touches only; C buys with no touch before; D's ad is 55 days before
# the purchase (outside the 30-day lookback); E gives up at the form; F gives up at the page; G passes by the chat
H, D = timedelta(hours=1), timedelta(days=1)
GROUPS = {
    "A": (40, [("Ad", 0 * H), ("Page", 1 * H), ("Form", 2 * H), ("Buy", 3 * H)]),
    "B": (10, [("Page", 0 * H), ("Form", 1 * H), ("Buy", 2 * H)]),
    "C": (5, [("Buy", 0 * H)]),
    "D": (5, [("Ad", 0 * D), ("Mail", 25 * D), ("Page", 50 * D), ("Form", 55 * D), ("Buy", 55 * D + H)]),
    "E": (40, [("Ad", 0 * H), ("Page", 1 * H), ("Form", 2 * H)]),
    "F": (30, [("Ad", 0 * H), ("Page", 1 * H)]),
    "G": (3, [("Ad", 0 * H), ("Chat", 1 * H), ("Page", 2 * H)]),
}
FORM_COMMENTS = 3
PAGE_COMMENTS = 12


def _blueprint(**targets) -> Blueprint:
    return Blueprint.model_validate(
        {
            "stages": [{"name": "aware"}, {"name": "consider"}, {"name": "compare"}, {"name": "buy"}],
            "touchpoints": [
                {"name": "Ad", "stage": "aware", "channel": "paid search", "kind": "paid", "owner": "Marketing"},
                {"name": "Mail", "stage": "consider", "channel": "email", "kind": "earned", "owner": "CRM"},
                {"name": "Page", "stage": "consider", "channel": "web", "kind": "owned", "owner": "Web"},
                {"name": "Chat", "stage": "compare", "channel": "web", "kind": "owned", "owner": "Service"},
                {"name": "Form", "stage": "buy", "channel": "web", "kind": "owned", "owner": "Checkout team"},
                {"name": "Buy", "stage": "buy", "channel": "web", "kind": "owned", "owner": "Checkout team"},
            ],
            "goals": [{"touchpoint": GOAL}],
            "journey": {"inactivity_gap": "none", "conversion_window": "none", "attribution_lookback": "30d"},
            "targets": targets,
        }
    )


def _events() -> list[dict]:
    rows, i = [], 0
    for group, (count, steps) in GROUPS.items():
        for k in range(count):
            start = T0 + timedelta(hours=7 * i)
            for step, (tp, offset) in enumerate(steps):
                rows.append(
                    {
                        "event_id": f"{group}{k}-{step}",
                        "customer_id": f"{group}{k}",
                        "ts": (start + offset).isoformat(sep=" "),
                        "touchpoint": tp,
                    }
                )
            i += 1
    return rows


def _feedback() -> list[dict]:
    rows = []
    for k in range(FORM_COMMENTS):  # few, all negative: no colour, whatever their mean
        rows.append(
            {
                "feedback_id": f"form{k}",
                "customer_id": f"E{k}",
                "ts": (T0 + timedelta(days=3)).isoformat(),
                "touchpoint": "Form",
                "text": "the form is broken, awful and slow",
                "rating": "1",
                "rating_scale": "5",
                "nps": "",
            }
        )
    for k in range(PAGE_COMMENTS):  # enough to colour; NPS answers for the headline
        rows.append(
            {
                "feedback_id": f"page{k}",
                "customer_id": f"A{k}",
                "ts": (T0 + timedelta(days=4)).isoformat(),
                "touchpoint": "Page",
                "text": "great page, lovely and clear",
                "rating": "5",
                "rating_scale": "5",
                "nps": str([10, 9, 9, 8, 3, 10][k % 6]),
            }
        )
    return rows


def _workspace(path, tmp_path, toml_extra: str = "", **targets) -> Workspace:
    ws = Workspace.init(path)
    ws.save_blueprint(_blueprint(**targets))
    if toml_extra:  # a setting of the [report] section, written as a user would
        cfg = path / "journeymap.toml"
        text = cfg.read_text(encoding="utf-8")
        assert "[report]\n" in text
        cfg.write_text(text.replace("[report]\n", f"[report]\n{toml_extra}\n"), encoding="utf-8")
    ws.ingest_events(write_csv(tmp_path / "events.csv", _events()))
    ws.ingest_feedback(write_csv(tmp_path / "feedback.csv", _feedback()))
    ws.close()
    return Workspace.open(path)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("honest")
    ws = _workspace(tmp / "shop", tmp, conversion_rate=0.5, nps=20)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def doc(shop) -> JourneyMap:
    return build_map(shop, themes=False)


@pytest.fixture(scope="module")
def events_df(shop) -> pd.DataFrame:
    """The ingested events, read back from the warehouse (the peer for the independent computations)."""
    ev = shop.events()
    return engine.execute(ev.select("customer_id", "ts", "touchpoint"), shop.con)


# -- 1. emotion colour only from a stated minimum ---------------------------------------------------
def test_emotion_on_few_comments_has_no_colour_and_says_so(doc):
    assert doc.meta.emotion_min_n == 10
    form, page = doc.touchpoint("Form"), doc.touchpoint("Page")
    assert form.emotion.n == FORM_COMMENTS and page.emotion.n == PAGE_COMMENTS
    assert form.emotion.mean < -0.3  # would be "very negative" with enough comments
    cls = f.emotion_class(form.emotion.mean, form.emotion.n, doc.meta.emotion_min_n)
    assert cls == "emo-few" and f.emotion_class(form.emotion.mean) == "emo-neg2"  # one-argument calls unchanged
    assert (
        f.emotion_word(form.emotion.mean, form.emotion.n, doc.meta.emotion_min_n) == f"few comments ({FORM_COMMENTS})"
    )
    page_cls = f.emotion_class(page.emotion.mean, page.emotion.n, doc.meta.emotion_min_n)
    assert page_cls.startswith("emo-pos") and f.emotion_word(page.emotion.mean, page.emotion.n) in {
        "positive",
        "very positive",
    }
    # the emotion curve keeps the n the renderers test against
    point = next(p for p in doc.emotion_curve.touchpoints if p.name == "Form")
    assert f.emotion_class(point.mean, point.n, doc.meta.emotion_min_n) == "emo-few"


def test_emotion_minimum_is_read_from_journeymap_toml(tmp_path):
    ws = _workspace(tmp_path / "ws", tmp_path, "emotion_min_n = 2")
    try:
        m = build_map(ws, themes=False, personas=False, models=["first"])
        assert m.meta.emotion_min_n == 2
        form = m.touchpoint("Form")
        assert f.emotion_class(form.emotion.mean, form.emotion.n, m.meta.emotion_min_n) == "emo-neg2"
        assert JourneyMap.from_json(m.to_json()).meta.emotion_min_n == 2
        # the builder's argument wins over the file
        assert build_map(ws, themes=False, personas=False, models=["first"], emotion_min_n=7).meta.emotion_min_n == 7
        with pytest.raises(InputError, match=r"emotion_min_n is 0, not a whole number of at least 1; write e\.g\."):
            build_map(ws, emotion_min_n=0)
    finally:
        ws.close()
    cfg = tmp_path / "ws" / "journeymap.toml"
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace("emotion_min_n = 2", 'emotion_min_n = "ten"'), encoding="utf-8"
    )
    ws = Workspace.open(tmp_path / "ws")
    try:
        with pytest.raises(InputError, match=r"\[report\] emotion_min_n in journeymap.toml is 'ten'"):
            build_map(ws)
    finally:
        ws.close()


def test_documents_without_the_new_fields_still_load(doc):
    data = doc.to_dict()
    del data["meta"]["emotion_min_n"]
    for h in data["summary"]["headlines"]:
        del h["target"], h["meets_target"]
    for p in data["pain_points"]:
        del p["driver"], p["caveats"]
    for key in ("converted_journeys", "unattributed", "denominator_note"):
        del data["attribution"][key]
    old = JourneyMap.from_dict(data)
    assert old.meta.emotion_min_n == 10 and old.pain_points[0].driver is None


# -- 2. no interval from fewer than five ------------------------------------------------------------
def test_rates_and_scores_on_three_print_no_interval(doc):
    compare = doc.stage("compare")
    for r in (compare.conversion_to_next, compare.conversion, compare.drop_off):
        assert r.n == GROUPS["G"][0] and r.low is not None  # the document still holds the bounds
        for text in (f.rate(r), f.rate_ci(r), f.rate_short(r)):
            assert "95% CI" not in text and f"{f.pct(r.low)}-{f.pct(r.high)}" not in text, text
            assert f"({r.low * 100:.1f}-{r.high * 100:.1f}%)" not in text, text
        assert f"{r.k} of {r.n}" in f.rate(r) and f.rate_ci(r) == f"{r.k} of {r.n}"
        assert "n too small for an interval" in f.rate(r)
    chat = doc.touchpoint("Chat").figures.conversion
    assert chat.n == 3 and "CI" not in f.rate(chat)
    form = doc.touchpoint("Form").emotion
    assert form.low is not None and "CI" not in f.emotion(form) and "n=3" in f.emotion(form)
    # from five on the interval is back
    big = doc.stage("consider").conversion
    assert big.n >= f.MIN_N_INTERVAL and "95% CI" in f.rate(big)


def test_markdown_and_html_print_no_interval_from_three(doc):
    md = render_markdown(doc)
    row = next(line for line in md.splitlines() if line.startswith("| compare"))
    compare = doc.stage("compare")
    conv = compare.conversion_to_next
    cells = [c.strip() for c in row.strip("|").split("|")]
    # stage, reach (of all journeys: an interval), then the rates of the three journeys reaching it (none)
    assert cells[1] == f.rate(compare.reach) and "95% CI" in cells[1]
    for cell in cells[2:5]:
        assert f"0 of {conv.n}" in cell and "95% CI" not in cell and "n too small for an interval" in cell, row
    html = render_html(doc)
    for r in (conv, doc.touchpoint("Chat").figures.conversion):
        assert f"{f.pct(r.low)}-{f.pct(r.high)}" not in html
        assert f"{r.low * 100:.1f}-{r.high * 100:.1f}%" not in html


# -- 3. pain headlines name their driver ------------------------------------------------------------
def _driver(components: dict) -> str | None:
    parts = {k: max(components.get(f"{k}_component") or 0.0, 0.0) for k in ("exit", "loop", "slow")}
    best = max(parts.values())
    if best <= 0:
        return None
    # ties: exits, then loops, then waits
    return {"exit": "exits", "loop": "loops", "slow": "waits"}[
        next(k for k in ("exit", "loop", "slow") if math.isclose(parts[k], best, abs_tol=1e-9))
    ]


def test_pain_headlines_name_the_driving_component_with_its_own_figure(doc):
    assert doc.pain_points
    seen = set()
    for p in doc.pain_points:
        comp = doc.touchpoint(p.touchpoint).friction.components
        assert p.driver == _driver(comp), (p.touchpoint, comp)
        seen.add(p.driver)
        assert p.headline.startswith(f"{p.touchpoint}: ")
        if p.driver == "exits":
            assert (
                f"{comp['exit_rate'] * 100:.1f}% of touches here end a journey that gives up "
                f"(expected {comp['expected_exit_rate'] * 100:.1f}%)"
            ) in p.headline
        elif p.driver == "loops":
            assert f"{comp['loop_rate'] * 100:.1f}% of journeys come back to it" in p.headline
        elif p.driver == "waits":
            assert re.search(r"the wait around it is [\d.]+x the usual", p.headline)
            figure = float(re.search(r"is ([\d.]+)x", p.headline).group(1))
            assert figure == pytest.approx(comp["slow_ratio"], rel=0.06)
        # the evidence beside the headline leaves out what the headline says, and nothing else
        words = f.pain_words(p.evidence.figures, driver=p.driver)
        gives_up = "of touches here end a journey that gives up" in words
        assert gives_up is (p.driver != "exits" and p.evidence.figures.get("exit_rate") is not None), words
        assert ("the wait around it" in words) is (p.driver != "waits" and (comp.get("slow_ratio") or 0) >= 1.5)
    # the form is where customers give up: its exits drive its score
    form = next(p for p in doc.pain_points if p.touchpoint == "Form")
    assert form.driver == "exits" and "exits" in seen


# -- 4. the attribution's denominator --------------------------------------------------------------
def test_attribution_states_its_denominator_as_pandas_counts_it(doc, events_df):
    ev = events_df.sort_values(["customer_id", "ts"], kind="stable")
    buy = ev[ev.touchpoint == GOAL].groupby("customer_id").ts.min()
    before = ev[ev.customer_id.isin(buy.index) & (ev.touchpoint != GOAL)].copy()
    before["goal_ts"] = before.customer_id.map(buy)
    before = before[before.ts < before.goal_ts]
    credited = before[before.touchpoint.isin(MARKETING)]
    within = credited[credited.goal_ts - credited.ts <= LOOKBACK]
    converted = len(buy)
    no_touch = converted - before.customer_id.nunique()
    no_credited = before.customer_id.nunique() - credited.customer_id.nunique()
    outside = credited.customer_id.nunique() - within.customer_id.nunique()
    attributed = within.customer_id.nunique()
    a = doc.attribution
    assert (converted, no_touch, no_credited, outside) == (60, 5, 10, 5)  # the groups written above
    assert a.converted_journeys == converted and a.conversions == attributed
    assert a.unattributed == {
        "no_touch_before_goal": no_touch,
        "no_credited_touch": no_credited,
        "outside_lookback": outside,
    }
    note = a.denominator_note
    assert note.startswith(f"Credit is shared over {attributed:,} conversions")
    assert f"({converted:,} converted journeys;" in note and "30 days" in note
    for n, words in (
        (no_touch, "no touch before the goal"),
        (no_credited, "no marketing touch"),
        (outside, "marketing touches only more than 30 days before the goal"),
    ):
        assert f"{n:,} had {words}" in note, note


# -- 5. the purchase-path caveat --------------------------------------------------------------------
def test_top_pain_point_that_drives_conversion_carries_the_caveat(doc):
    driving = {d.feature for d in doc.drivers if d.kind == "touchpoint" and d.significant and (d.odds_ratio or 0) > 1}
    rank = {p.touchpoint: p.rank for p in doc.pain_points}
    flagged = []
    for cell in doc.touchpoints():
        lifts = cell.lift is not None and cell.lift.significant and (cell.lift.effect or 0) > 0
        both = rank.get(cell.name, 99) <= 5 and (lifts or cell.name in driving)
        assert (PURCHASE_PATH_CAVEAT in cell.caveats) == both, cell.name
        if both:
            flagged.append(cell.name)
            pain = next(p for p in doc.pain_points if p.touchpoint == cell.name)
            assert PURCHASE_PATH_CAVEAT in pain.caveats
    # the form: most buyers pass it and 40 of 95 journeys give up there
    assert "Form" in flagged
    form = doc.touchpoint("Form")
    assert form.figures.exit_rate > 0.3 and form.lift.significant and form.lift.effect > 0
    assert all(PURCHASE_PATH_CAVEAT not in p.caveats for p in doc.pain_points if p.touchpoint not in flagged)


# -- 6. headline targets ----------------------------------------------------------------------------
def test_headlines_carry_the_blueprint_targets_and_verdicts(doc, shop, events_df):
    heads = {h.key: h for h in doc.summary.headlines}
    conv = heads["conversion"]
    customers = events_df.customer_id.nunique()  # one journey each
    rate_ = events_df[events_df.touchpoint == GOAL].customer_id.nunique() / customers
    assert conv.value == pytest.approx(rate_)
    assert conv.target == shop.blueprint.targets.conversion_rate == 0.5
    assert conv.meets_target is (rate_ >= 0.5)
    scores = [int(r["nps"]) for r in _feedback() if r["nps"]]
    nps = 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)
    assert heads["nps"].value == pytest.approx(nps)
    assert heads["nps"].target == 20 and heads["nps"].meets_target is (nps >= 20)
    assert f.headline_target(conv) == f"target 50.0%, {'met' if conv.meets_target else 'not met'}"
    for key in ("customers", "journeys"):
        assert heads[key].target is None and heads[key].meets_target is None and f.headline_target(heads[key]) == ""


# -- 7. words, not internal labels ------------------------------------------------------------------
def _strings(x, path=()):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _strings(v, (*path, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _strings(v, (*path, i))
    elif isinstance(x, str):
        yield path, x


def test_reader_text_holds_no_internal_end_labels(doc):
    data = doc.to_dict()
    bad = [
        (p, s)
        for p, s in _strings(data)
        if p[:2] not in {("flows", "nodes"), ("flows", "links")}
        and re.search(r"\b(DROPPED|CONVERTED|IN_PROGRESS|START)\b", s)
    ]
    assert bad == []
    names = {c.name for c in doc.touchpoints()}
    ends = {t.target for t in doc.flows.top_transitions if t.target not in names}
    assert ends and ends <= {"Converted", "Gave up", "Still in progress"}
    assert "Gave up" in ends and "Converted" in ends
    # the Sankey keeps its machine labels (the report maps them)
    assert any(n.label == "DROPPED" for n in doc.flows.nodes)
