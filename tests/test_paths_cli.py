"""The touchpoints, transitions and paths commands: formats, filters, breakdowns, clean errors."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

import pandas as pd
import pytest
from click.testing import CliRunner

from journeymap.blueprint import Blueprint
from journeymap.cli import main

D = datetime(2024, 3, 1)
ROWS = [  # the same journeys as tests/test_paths.py
    ("a", 0, "Ad"),
    ("a", 1, "Site"),
    ("a", 1.5, "Site"),
    ("a", 2, "Buy"),
    ("a", 3, "Site"),
    ("a", 43, "Ad"),
    ("b", 0, "Ad"),
    ("b", 5, "Site"),
    ("c", 40, "Ad"),
    ("c", 41, "Site"),
    ("d", 10, "Ad"),
    ("d", 10.5, "Buy"),
]


@pytest.fixture
def shop(ws):
    events = pd.DataFrame(
        {
            "customer_id": [r[0] for r in ROWS],
            "ts": [D + timedelta(days=r[1]) for r in ROWS],
            "touchpoint": [r[2] for r in ROWS],
            "channel": ["paid" if r[2] == "Ad" else "web" for r in ROWS],
            "session_id": None,
            "revenue": [50.0 if r[2] == "Buy" else None for r in ROWS],
            "properties": None,
            "event_id": [f"{i:03d}" for i in range(len(ROWS))],
            "source": "test",
        }
    )
    ws.con.insert("events", events)
    customers = pd.DataFrame(
        {"customer_id": ["a", "b", "c", "d"], "source": "test", "segment": ["vip", "new", "new", "new"]}
    )
    ws.con.create_table("customers", customers, overwrite=True)
    ws.save_blueprint(
        Blueprint.model_validate(
            {
                "personas": [],
                "goals": [{"touchpoint": "Buy"}],
                "journey": {"inactivity_gap": "30d", "conversion_window": "7d"},
            }
        )
    )
    return ws


def invoke(ws, *args):
    out = CliRunner().invoke(main, ["-w", str(ws.path), *args])
    assert out.exit_code == 0, out.output
    return out.output


def test_transitions_csv(shop):
    rows = list(csv.DictReader(io.StringIO(invoke(shop, "transitions", "--format", "csv"))))
    assert list(rows[0]) == ["source", "target", "count", "customers", "probability", "median_gap_s", "p90_gap_s"]
    got = {(r["source"], r["target"]): int(r["count"]) for r in rows}
    assert got[("START", "Ad")] == 5 and got[("Buy", "CONVERTED")] == 2


def test_paths_json_and_options(shop):
    data = json.loads(invoke(shop, "paths", "--format", "json"))
    assert data["kind"] == "paths"
    paths = {r[0]: r[1] for r in data["rows"]}
    assert paths["Ad > Site"] == 2
    text = invoke(shop, "paths", "--format", "csv", "--alias", "^(Ad|Site)$=Pre", "--collapse-repeats")
    assert text.splitlines()[0].startswith("path,journeys,conversions")
    assert {line.split(",")[0] for line in text.splitlines()[1:]} == {"Pre > Buy", "Pre"}
    between = invoke(shop, "paths", "--format", "csv", "--from", "Ad", "--to", "Buy", "--max-steps", "2")
    assert "Ad > … > Buy" in between


def test_flows_and_date_filter(shop):
    data = json.loads(invoke(shop, "paths", "--flows", "--steps", "3", "--top", "1", "--format", "json"))
    assert data["kind"] == "flows" and data["measure"] == "journeys"
    filtered = json.loads(invoke(shop, "transitions", "--end", "2024-03-05", "--format", "json"))
    assert filtered["meta"]["filters"] == {"end": "2024-03-05"}
    counts = {(r[0], r[1]): r[2] for r in filtered["rows"]}
    assert counts[("START", "Ad")] == 2  # a and b only


def test_touchpoints_table_and_breakdown(shop):
    assert "touchpoints" in invoke(shop, "touchpoints")
    data = json.loads(invoke(shop, "touchpoints", "--by", "channel", "--format", "json"))
    assert data["columns"][:2] == ["dimension", "touchpoint"] and data["meta"]["by"] == "channel"


def test_where_and_by_customer_attribute(shop):
    vip = json.loads(invoke(shop, "paths", "--where", "segment=vip", "--format", "json"))
    assert {r[0]: r[1] for r in vip["rows"]} == {"Ad > Site > Site > Buy": 1, "Site": 1, "Ad": 1}
    assert vip["meta"]["filters"] == {"where": {"segment": "vip"}}
    by = json.loads(invoke(shop, "transitions", "--by", "segment", "--format", "json"))
    counts = {(r[0], r[1], r[2]): r[3] for r in by["rows"]}
    assert counts[("vip", "START", "Ad")] == 2 and counts[("new", "START", "Ad")] == 3


def test_bad_option_is_one_clear_line(shop):
    out = CliRunner().invoke(main, ["-w", str(shop.path), "paths", "--alias", "nope"])
    assert out.exit_code == 1 and "is not regex=Alias" in out.output and "Traceback" not in out.output
    out = CliRunner().invoke(main, ["-w", str(shop.path), "transitions", "--where", "segment"])
    assert out.exit_code == 1 and "is not attr=value" in out.output
