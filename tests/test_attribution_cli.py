"""The attribution, lift, hypothesis and abtest commands: formats, options, path files, clean errors."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from journeymap.blueprint import Blueprint
from journeymap.cli import main

D = datetime(2024, 3, 1)


@pytest.fixture
def shop(ws):
    rng = np.random.default_rng(3)
    rows = []
    for i in range(400):
        t = D + timedelta(days=float(i) / 10)
        seen = [tp for tp in ("Search ad", "Email", "Webinar") if rng.random() < 0.5] or ["Search ad"]
        for k, tp in enumerate(seen):
            props = json.dumps({"variant": "A" if i % 2 else "B"}) if tp == "Search ad" else None
            rows.append((f"c{i}", t + timedelta(hours=k), tp, None, props))
        if rng.random() < (0.5 if "Webinar" in seen else 0.15):
            rows.append((f"c{i}", t + timedelta(hours=5), "Buy", 20.0, None))
    events = pd.DataFrame(rows, columns=["customer_id", "ts", "touchpoint", "revenue", "properties"])
    events = events.assign(
        channel=None, session_id=None, event_id=[f"{i:05d}" for i in range(len(events))], source="test"
    )
    ws.con.insert(
        "events",
        events[
            ["customer_id", "ts", "touchpoint", "channel", "session_id", "revenue", "properties", "event_id", "source"]
        ],
    )
    ws.save_blueprint(
        Blueprint.model_validate(
            {
                "stages": [{"name": "awareness"}, {"name": "purchase"}],
                "touchpoints": [
                    {"name": "Search ad", "channel": "search", "kind": "paid", "stage": "awareness"},
                    {"name": "Email", "channel": "email", "kind": "owned", "marketing": True, "stage": "awareness"},
                    {"name": "Webinar", "channel": "events", "kind": "owned", "stage": "awareness"},
                    {"name": "Buy", "channel": "web", "stage": "purchase"},
                ],
                "goals": [{"touchpoint": "Buy"}],
                "journey": {"inactivity_gap": "30d", "conversion_window": "2d"},
            }
        )
    )
    return ws


def invoke(ws, *args, code=0):
    out = CliRunner().invoke(main, ["-w", str(ws.path), *args])
    assert out.exit_code == code, out.output
    return out.output


def test_attribution_csv_and_json(shop):
    rows = list(csv.DictReader(io.StringIO(invoke(shop, "attribution", "--format", "csv"))))
    assert list(rows[0])[:5] == ["model", "channel", "conversions", "value", "share"]
    models = {r["model"] for r in rows}
    assert models == {"first", "last", "last_non_direct", "linear", "time_decay", "position", "markov", "shapley"}
    assert {r["channel"] for r in rows} == {"search", "email"}  # Webinar is not marketing
    for m in models:
        assert sum(float(r["share"]) for r in rows if r["model"] == m) == pytest.approx(1.0)
    data = json.loads(
        invoke(
            shop,
            "attribution",
            "--models",
            "linear,markov",
            "--include-service",
            "--level",
            "touchpoint",
            "--bootstrap",
            "20",
            "--order",
            "2",
            "--format",
            "json",
        )
    )
    assert data["kind"] == "attribution" and data["meta"]["order"] == 2
    assert {r[1] for r in data["credits"]} == {"Search ad", "Email", "Webinar"}
    assert all(r[5] is not None for r in data["credits"] if r[0] == "markov")


def test_attribution_table_and_path_file(shop, tmp_path):
    out = invoke(shop, "attribution", "--models", "first,shapley", "--container", "customer", "--lookback", "7d")
    assert "comparison" in out and "diagnostics" in out
    f = tmp_path / "paths.csv"
    f.write_text("path,total_conversions,total_conversion_value,total_null\na > b,3,30,1\nb,1,5,4\n")
    rows = list(
        csv.DictReader(
            io.StringIO(invoke(shop, "attribution", "--paths", str(f), "--models", "last", "--format", "csv"))
        )
    )
    assert {(r["channel"], float(r["conversions"])) for r in rows} == {("a", 0.0), ("b", 4.0)}


def test_attribution_errors_are_one_line(shop):
    out = invoke(shop, "attribution", "--models", "first,bogus", code=1)
    assert "'bogus'" in out and "Traceback" not in out
    out = invoke(shop, "attribution", "--lookback", "soon", code=1)
    assert "lookback" in out


def test_lift_hypothesis_abtest(shop):
    rows = list(csv.DictReader(io.StringIO(invoke(shop, "lift", "--format", "csv"))))
    web = next(r for r in rows if r["touchpoint"] == "Webinar")
    assert web["significant"] == "True" and float(web["risk_difference"]) > 0
    out = invoke(shop, "hypothesis", "Webinar")
    assert "convert more" in out and "Association, not cause" in out
    data = json.loads(invoke(shop, "abtest", "--touchpoint", "Search ad", "--format", "json"))
    assert data["kind"] == "abtest" and [v[0] for v in data["variants"]] == ["A", "B"]
    assert invoke(shop, "hypothesis", "Nope", code=1).count("\n") <= 3


@pytest.mark.parametrize("command", ["attribution", "lift", "hypothesis", "abtest"])
def test_help_has_an_example(command):
    out = CliRunner().invoke(main, [command, "--help"])
    assert out.exit_code == 0 and "Example:" in out.output


def test_paths_file_from_channelattribution_equals_its_heuristics(shared_data):
    """`--paths FILE` on ChannelAttribution's own sample: the CSV equals its heuristic_models."""
    ca = pytest.importorskip("ChannelAttribution")
    file = shared_data / "channelattribution_paths" / "data.csv"
    out = CliRunner().invoke(
        main, ["attribution", "--paths", str(file), "--models", "first,last,linear", "--format", "csv"]
    )
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    theirs = ca.heuristic_models(
        pd.read_csv(file), "path", "total_conversions", var_value="total_conversion_value", flg_pro=False
    ).set_index("channel_name")
    names = {"first": "first_touch", "last": "last_touch", "linear": "linear_touch"}
    assert len(rows) == 3 * len(theirs)
    for r in rows:
        for what in ("conversions", "value"):
            assert float(r[what]) == pytest.approx(
                theirs.loc[r["channel"], f"{names[r['model']]}_{what}"], rel=1e-12, abs=1e-9
            )
