"""The map pipeline: inputs gathered once, sections rebuilt alone, building writes nothing, the scoring step,
the voice summary shared with ``journeymap voice summary``, and older documents (schema 1 and 2) loading.

Fixtures ``map_v1.json`` and ``map_v2.json`` are ``map_golden.json`` (schema 3) with what each version added taken
out (see :data:`journeymap.maps.models.SCHEMA_VERSION`): for 2, ``after_goal`` and the additions within 3 (meta
``emotion_min_n``; pain point ``driver`` and ``caveats``; cell ``caveats``; headline ``target``/``meets_target``;
attribution ``converted_journeys``/``unattributed``/``denominator_note``); for 1, also ``persona_maps`` and every
``post_goal``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from journeymap import engine
from journeymap.cli import main
from journeymap.demo import create_demo
from journeymap.errors import InputError
from journeymap.maps import SCHEMA_VERSION, JourneyMap, build_map
from journeymap.maps.build import map_inputs, score_missing
from journeymap.maps.sections import SECTIONS, build_section
from journeymap.results import Result
from journeymap.workspace import Workspace

FIXTURES = Path(__file__).parent / "fixtures"
SCORES = "feedback_scores"


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory) -> Path:
    """A small demo, as `journeymap demo` writes it (feedback not scored yet)."""
    path = tmp_path_factory.mktemp("sections") / "shop"
    create_demo(path, 300, seed=5)
    return path


def _texts_without_scores(path: Path) -> int:
    """Feedback ids with text and no lexicon score, counted in pandas from the raw tables."""
    with Workspace.open(path, read_only=True) as ws:
        fb = engine.execute(ws.feedback().select("feedback_id", "text"), ws.con)
        done: set[str] = set()
        if SCORES in engine.list_tables(ws.con):
            s = engine.execute(ws.con.table(SCORES).select("feedback_id", "backend", "language"), ws.con)
            done = set(s[(s.backend == "lexicon") & s.language.notna()].feedback_id)
    has_text = fb.text.notna() & (fb.text.fillna("").str.strip() != "") & fb.feedback_id.notna()
    return len(set(fb[has_text].feedback_id) - done)


# -- building writes nothing; scoring is its own step ------------------------------------------------
def test_build_map_writes_nothing_and_says_what_is_unscored(demo_path):
    unscored = _texts_without_scores(demo_path)
    assert unscored > 20
    with Workspace.open(demo_path, read_only=True) as ws:
        tables = set(engine.list_tables(ws.con))
    with Workspace.open(demo_path, read_only=True) as ws:  # read-only: a write would fail
        doc = build_map(ws, themes=False, personas=False, models=["first"])
    with Workspace.open(demo_path, read_only=True) as ws:
        assert set(engine.list_tables(ws.con)) == tables and SCORES not in tables
    said = [w for w in doc.meta.warnings if "no sentiment score yet" in w]
    assert len(said) == 1 and f"{unscored:,} feedback comments" in said[0]
    assert "journeymap voice sentiment" in said[0]
    # ratings still count: the emotion is there, from the ratings alone
    assert doc.summary.headlines and any(h.key == "emotion" for h in doc.summary.headlines)


def test_map_command_scores_first_and_says_so_once(demo_path, tmp_path):
    unscored = _texts_without_scores(demo_path)
    out = tmp_path / "m.json"
    r = CliRunner().invoke(main, ["-w", str(demo_path), "map", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert f"Scored {unscored:,} feedback items (they had no scores yet)." in r.output
    assert _texts_without_scores(demo_path) == 0
    doc = JourneyMap.load(out)
    assert not [w for w in doc.meta.warnings if "no sentiment score yet" in w]
    again = CliRunner().invoke(main, ["-w", str(demo_path), "map", "--format", "json"])
    assert again.exit_code == 0 and "Scored" not in again.output


# -- sections ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scored(demo_path) -> Path:
    with Workspace.open(demo_path) as ws:
        score_missing(ws)
    return demo_path


def test_each_section_rebuilt_alone_equals_its_part_of_the_map(scored):
    with Workspace.open(scored, read_only=True) as ws:
        doc = build_map(ws, seed=3)
        inputs = map_inputs(ws, seed=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inputs.persona = "x"  # type: ignore[misc]
    full = doc.model_dump()
    for name in SECTIONS:
        part = build_section(name, inputs)
        if name == "lanes":
            assert part == doc.touchpoints() and len(part) >= 10
            continue
        dumped = (
            part.model_dump()
            if hasattr(part, "model_dump")
            else ([p.model_dump() for p in part] if isinstance(part, list) else part)
        )
        if name == "meta":  # when and how long: the only parts that depend on the clock
            for key in ("generated_at", "build_seconds"):
                dumped.pop(key), full["meta"].pop(key)
        assert dumped == full[name], name
    # a section is a pure function of the inputs: again, the same object content
    assert build_section("pain_points", inputs) == doc.pain_points and doc.pain_points
    with pytest.raises(InputError, match="Map section 'nope' is unknown; the sections are: meta, summary"):
        build_section("nope", inputs)


def test_voice_summary_is_the_maps_emotion(scored):
    """`journeymap voice summary` and the map's emotion: one computation (voice.summary); checked against pandas."""
    r = CliRunner().invoke(main, ["-w", str(scored), "voice", "summary", "--by", "touchpoint", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["kind"] == "voice_summary" and data["meta"]["by"] == "touchpoint"
    rows = {row[0]: dict(zip(data["columns"], row, strict=True)) for row in data["rows"]}
    overall = CliRunner().invoke(main, ["-w", str(scored), "voice", "summary", "--format", "json"])
    total = json.loads(overall.output)
    total_row = dict(zip(total["columns"], total["rows"][0], strict=True))
    with Workspace.open(scored, read_only=True) as ws:
        doc = build_map(ws, themes=False, personas=False, models=["first"])
        fb = engine.execute(ws.feedback(), ws.con)
        sc = engine.execute(ws.con.table(SCORES), ws.con)
    head = next(h for h in doc.summary.headlines if h.key == "emotion")
    assert total_row["n"] == head.n and total_row["mean"] == pytest.approx(head.value, rel=1e-6)
    compared = 0
    for cell in doc.touchpoints():
        if cell.emotion is None:
            continue
        row = rows[cell.name]
        assert row["n"] == cell.emotion.n and row["mean"] == pytest.approx(cell.emotion.mean, rel=1e-6)
        assert row["negative_share"] == pytest.approx(cell.emotion.negative_share, rel=1e-6)
        compared += 1
    assert compared >= 5
    # the overall mean, independently: each item's mean of its clamped parts, in pandas
    s = sc[sc.backend == "lexicon"][["feedback_id", "sentiment"]]
    t = fb.merge(s, on="feedback_id", how="left")
    scale = t.rating_scale.astype(float)
    parts = pd.DataFrame(
        {
            "s": t.sentiment.astype(float),
            "r": ((t.rating.astype(float) - 1) / (scale - 1) * 2 - 1).where(scale > 1),
            "nps": (t.nps.astype(float) - 5) / 5,
            "csat": (t.csat.astype(float) - 3) / 2,
            "ces": (t.ces.astype(float) - 4) / 3,
        }
    ).clip(-1, 1)
    item = parts.mean(axis=1, skipna=True)
    assert int(item.notna().sum()) == head.n
    assert float(item.mean()) == pytest.approx(head.value, rel=1e-6)


# -- older documents ----------------------------------------------------------------------------------
def test_schema_1_and_2_documents_load_as_3():
    golden = JourneyMap.load(FIXTURES / "map_golden.json")
    goal_stage = next(
        s.name
        for s in golden.stages
        if any(c.name in golden.meta.journey_definition["goals"] for lane in s.lanes for c in lane.touchpoints)
    )
    for version in (1, 2):
        raw = json.loads((FIXTURES / f"map_v{version}.json").read_text(encoding="utf-8"))
        assert raw["schema_version"] == version
        old = JourneyMap.load(FIXTURES / f"map_v{version}.json")
        assert old.schema_version == SCHEMA_VERSION == old.meta.schema_version
        assert Result.from_dict({"kind": "journey_map", **raw}) == old
        # every figure the old version had is the golden's
        assert [(s.name, s.reach, s.conversion, s.drop_off) for s in old.stages] == [
            (s.name, s.reach, s.conversion, s.drop_off) for s in golden.stages
        ]
        assert [(p.touchpoint, p.score) for p in old.pain_points] == [
            (p.touchpoint, p.score) for p in golden.pain_points
        ]
        assert old.summary.sentences == golden.summary.sentences
        # what it did not have: the version 3 reading
        assert all(s.after_goal is None for s in old.stages)
        assert old.stage(goal_stage).conversion_to_next is None
        assert all(p.driver is None and not p.caveats for p in old.pain_points)
    v1 = JourneyMap.load(FIXTURES / "map_v1.json")
    v2 = JourneyMap.load(FIXTURES / "map_v2.json")
    assert v1.persona_maps == [] and len(v2.persona_maps) == len(golden.persona_maps) > 0
    assert not any(c.post_goal for c in v1.touchpoints()) and any(c.post_goal for c in v2.touchpoints())


def test_a_document_newer_or_without_a_step_is_refused_in_one_sentence():
    raw = json.loads((FIXTURES / "map_v2.json").read_text(encoding="utf-8"))
    for version in (0, SCHEMA_VERSION + 1, "3"):
        with pytest.raises(InputError, match=r"schema_version .* rebuild the map with `journeymap map -o map.json`"):
            JourneyMap.from_dict({**raw, "schema_version": version})


def test_the_maps_thresholds_are_the_stats_modules():
    """No copies: the map's emotion minimum and small-sample size and voice's thresholds are journeymap.stats'."""
    from journeymap import stats
    from journeymap.maps import inputs, models
    from journeymap.voice import emotions, summary

    assert models.EMOTION_MIN_N == stats.EMOTION_MIN_N and inputs.SMALL_N == stats.MIN_N
    assert summary.NEGATIVE == stats.NEGATIVE == stats.NEUTRAL_BAND[0]
    assert summary.EMOTION_THRESHOLD == stats.EMOTION_THRESHOLD == emotions.dominant.__kwdefaults__["threshold"]
