"""The voice CLI: help with examples, json/csv output, labels."""

from __future__ import annotations

import json

import ibis
import pytest
from click.testing import CliRunner

from journeymap.blueprint import Blueprint
from journeymap.cli import main

COMMANDS = ["kpis", "sentiment", "emotions", "themes", "quotes", "impact", "drivers"]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_has_an_example(cmd):
    out = CliRunner().invoke(main, ["voice", cmd, "--help"])
    assert out.exit_code == 0 and "Example:" in out.output
    if cmd != "drivers":
        assert "--format" in out.output


def test_label_help():
    out = CliRunner().invoke(main, ["label", "--help"])
    assert out.exit_code == 0 and "Example:" in out.output


@pytest.fixture
def fed(ws):
    texts = (
        ["my lost bag never came to baggage claim", "lost bag again, baggage claim was chaos"] * 10
        + ["still waiting for my refund", "refund request ignored for weeks"] * 10
        + ["friendly crew and a smooth flight", "thanks to the friendly crew"] * 10
    )
    n = len(texts)
    fb = ibis.memtable(
        {
            "feedback_id": [f"f{i}" for i in range(n)],
            "ts": [f"2024-0{1 + i % 3}-10" for i in range(n)],
            "text": texts,
            "touchpoint": [None] * n,
            "nps": [2 if i < 40 else 10 for i in range(n)],
            "csat": [1 if i < 40 else 5 for i in range(n)],
        }
    ).cast({"ts": "timestamp", "nps": "int16", "csat": "int16", "touchpoint": "string"})
    cols = [c for c in ws.feedback().columns if c in fb.columns]
    ws.con.insert("feedback", fb.select(*cols))
    bp = Blueprint.model_validate(
        {
            "touchpoints": [
                {"name": "Baggage claim", "stage": "retention", "keywords": ["lost bag"]},
                {"name": "Refunds", "stage": "retention", "keywords": ["refund"]},
                {"name": "Flight", "stage": "purchase", "keywords": ["crew"]},
            ],
            "themes": [{"name": "Money back", "keywords": ["refund"], "pinned": True}],
        }
    )
    ws.save_blueprint(bp)
    return ws


def _run(ws, *args):
    out = CliRunner().invoke(main, ["-w", str(ws.path), *args])
    assert out.exit_code == 0, out.output
    return out.output


def test_kpis_json_by_touchpoint_uses_links(fed):
    data = json.loads(_run(fed, "voice", "kpis", "--by", "touchpoint", "--format", "json", "--min-n", "15"))
    assert data["kind"] == "voice_kpis"
    rows = [dict(zip(data["columns"], r, strict=True)) for r in data["rows"]]
    nps = {r["touchpoint"]: r for r in rows if r["metric"] == "nps"}
    assert nps["Baggage claim"]["n"] == 20 and nps["Baggage claim"]["value"] == -100.0
    assert nps["Flight"]["value"] == 100.0 and nps["Flight"]["too_small"] is False
    stage = json.loads(_run(fed, "voice", "kpis", "--by", "stage", "--format", "json"))
    assert {r[0] for r in stage["rows"]} == {"retention", "purchase"}
    csv_out = _run(fed, "voice", "kpis", "--by", "period", "--format", "csv")
    assert csv_out.splitlines()[0].startswith("period,metric,n,value,low,high,too_small")


def test_sentiment_and_emotions(fed):
    data = json.loads(_run(fed, "voice", "sentiment", "--by", "touchpoint", "--format", "json"))
    rows = {r[0]: dict(zip(data["columns"], r, strict=True)) for r in data["rows"]}
    assert rows["Flight"]["sentiment"] > 0 > rows["Refunds"]["sentiment"]
    assert sum(r["n"] for r in rows.values()) == 60
    emo = json.loads(_run(fed, "voice", "emotions", "--format", "json"))
    assert emo["columns"][:2] == ["n", "delight"] and emo["rows"][0][0] == 60


def test_themes_quotes_impact(fed):
    data = json.loads(_run(fed, "voice", "themes", "--k", "2", "--format", "json"))
    names = {t["name"]: t for t in data["themes"]}
    assert names["Money back"]["size"] == 20 and names["Money back"]["origin"] == "pinned"
    assert names["Money back"]["touchpoints"] == {"Refunds": 20}
    assert "Money back" in _run(fed, "voice", "themes", "--k", "2")
    quotes = json.loads(_run(fed, "voice", "quotes", "--k", "2", "--theme", "Money back", "--format", "json"))
    assert 1 <= len(quotes) <= 5 and all(q["theme"] == "Money back" for q in quotes)
    imp = json.loads(_run(fed, "voice", "impact", "--k", "2", "--format", "json"))
    rec = {(r[0], r[1]): dict(zip(imp["columns"], r, strict=True)) for r in imp["rows"]}
    # all: 40 detractors, 20 promoters of 60 -> -33.3; without the 20 refund comments: 20 vs 20 -> 0
    assert rec[("Money back", "nps")]["impact"] == pytest.approx(-100 / 3)
    bad = CliRunner().invoke(main, ["-w", str(fed.path), "voice", "quotes", "--k", "2", "--theme", "nope"])
    assert bad.exit_code == 1 and "'nope'" in bad.output


def test_label_stores_corrections(fed):
    out = json.loads(_run(fed, "label", "f0", "f1", "--as", "negative", "--format", "json"))
    assert out["labelled"] == 2
    from journeymap.voice.sentiment import read_labels

    df = read_labels(fed)
    assert df["feedback_id"].tolist() == ["f0", "f1"] and set(df["label"]) == {"negative"}
    bad = CliRunner().invoke(main, ["-w", str(fed.path), "label", "zzz", "--as", "positive"])
    assert bad.exit_code == 1 and "'zzz'" in bad.output


def test_drivers_on_a_csv(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    a, b = rng.integers(1, 6, size=(2, 200))
    pd.DataFrame({"seat": a, "food": b, "overall": 2 * a + b + rng.normal(size=200)}).to_csv(
        tmp_path / "s.csv", index=False
    )
    out = CliRunner().invoke(
        main,
        [
            "voice",
            "drivers",
            str(tmp_path / "s.csv"),
            "--target",
            "overall",
            "--rating",
            "seat",
            "--rating",
            "food",
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["rows"][0][0] == "seat" and data["meta"]["n"] == 200
