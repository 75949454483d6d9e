"""The funnel, stages, friction, retention and drivers commands: formats, options, filters, clean errors."""

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
ROWS = [
    ("a", 0, "Ad"),
    ("a", 1, "Site"),
    ("a", 2, "Buy"),
    ("a", 20, "Buy"),
    ("b", 0, "Ad"),
    ("b", 1, "Site"),
    ("b", 1.5, "Support"),
    ("c", 0, "Site"),
    ("c", 1, "Ad"),
    ("d", 38, "Ad"),
    ("e", 0, "Ad"),
    ("e", 1, "Buy"),
    ("f", 40, "Ad"),
]


@pytest.fixture
def shop(ws):
    events = pd.DataFrame(
        {
            "customer_id": [r[0] for r in ROWS],
            "ts": [D + timedelta(days=r[1]) for r in ROWS],
            "touchpoint": [r[2] for r in ROWS],
            "channel": ["app" if r[0] in "ae" else "web" for r in ROWS],
            "session_id": None,
            "revenue": [50.0 if r[2] == "Buy" else None for r in ROWS],
            "properties": None,
            "event_id": [f"{i:03d}" for i in range(len(ROWS))],
            "source": "test",
        }
    )
    ws.con.insert("events", events)
    customers = pd.DataFrame(
        {"customer_id": list("abcdef"), "source": "test", "segment": ["vip", "vip", "new", "new", "new", "new"]}
    )
    ws.con.create_table("customers", customers, overwrite=True)
    ws.save_blueprint(
        Blueprint.model_validate(
            {
                "stages": [{"name": "aware"}, {"name": "consider"}, {"name": "buy"}],
                "touchpoints": [
                    {"name": "Ad", "stage": "aware"},
                    {"name": "Site", "stage": "consider"},
                    {"name": "Buy", "stage": "buy"},
                    {"name": "Support"},
                ],
                "personas": [{"name": "VIP", "where": {"segment": "vip"}}],
                "goals": [{"touchpoint": "Buy"}],
                "journey": {"inactivity_gap": "30d", "conversion_window": "7d"},
            }
        )
    )
    return ws


def invoke(ws, *args, code=0):
    out = CliRunner().invoke(main, ["-w", str(ws.path), *args])
    assert out.exit_code == code, out.output
    return out.output


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_funnel_csv_counts(shop):
    got = rows(invoke(shop, "funnel", "Ad", "Site", "Buy", "--format", "csv"))
    assert [int(r["reached"]) for r in got] == [6, 2, 1]
    assert [int(r["in_progress"]) for r in got] == [2, 0, 0]  # d and f entered within 14 days of the end
    assert list(got[0])[:4] == ["step", "name", "optional", "reached"]


def test_funnel_options(shop):
    got = rows(
        invoke(
            shop,
            "funnel",
            "Ad",
            "Site",
            "Buy",
            "--exclude",
            "Support:stop",
            "--optional",
            "Site",
            "--window",
            "none",
            "--format",
            "csv",
        )
    )
    assert [int(r["reached"]) for r in got] == [6, 2, 2]  # Site counts between Ad and Buy (a) or the stop (b)
    data = json.loads(
        invoke(shop, "funnel", "stage:aware", "stage:buy", "--order", "any", "--unit", "journey", "--format", "json")
    )
    assert data["kind"] == "funnel" and data["meta"]["unit"] == "journey"
    assert [r[3] for r in data["rows"]] == [7, 2]  # 7 journeys (a has two); a:1 and e:1 touch both stages


def test_funnel_breakdown_and_filters(shop):
    got = rows(invoke(shop, "funnel", "Ad", "Buy", "--by", "persona", "--format", "csv"))
    vip = [int(r["reached"]) for r in got if r["dimension"] == "VIP"]
    assert vip == [2, 1]
    got = rows(invoke(shop, "funnel", "Ad", "Buy", "--by", "channel", "--by-step", "2", "--format", "csv"))
    assert {r["dimension"] for r in got} == {"app", "(not reached)"}
    got = rows(invoke(shop, "funnel", "Ad", "Buy", "--persona", "VIP", "--format", "csv"))
    assert [int(r["reached"]) for r in got] == [2, 1]


def test_funnel_customers_at(shop):
    got = rows(invoke(shop, "funnel", "Ad", "Site", "Buy", "--customers-at", "Site", "--dropped", "--format", "csv"))
    assert [r["customer_id"] for r in got] == ["b"]
    got = rows(invoke(shop, "funnel", "Ad", "Site", "Buy", "--customers-at", "1", "--in-progress", "--format", "csv"))
    assert [r["customer_id"] for r in got] == ["d", "f"]


def test_funnel_errors_are_one_line(shop):
    out = invoke(shop, "funnel", "Ad", "Buy", "--by-step", "middle", code=1)
    assert "--by-step 'middle'" in out
    out = invoke(shop, "funnel", "Ad", "Buy", "--dropped", code=1)
    assert "--customers-at" in out


def test_stages_command(shop):
    st = rows(invoke(shop, "stages", "--format", "csv"))
    assert [r["stage"] for r in st] == ["aware", "consider", "buy"]
    assert [int(r["journeys"]) for r in st] == [6, 3, 3]


def test_friction_command(shop):
    fr = json.loads(invoke(shop, "friction", "--format", "json", "--top", "2"))
    assert fr["kind"] == "friction" and len(fr["rows"]) == 2


def test_retention_command(shop):
    re_ = rows(invoke(shop, "retention", "--period", "week", "--periods", "3", "--format", "csv"))
    assert list(re_[0]) == ["cohort", "cohort_size", "period", "customers", "rate", "complete"]
    assert sum(int(r["cohort_size"]) for r in re_ if r["period"] == "0") == 2  # a and e bought


def test_drivers_command(shop):
    dr = json.loads(invoke(shop, "drivers", "--min-count", "1", "--format", "json"))
    assert any(r[0] == "segment=vip" for r in dr["rows"])
    assert "Benjamini-Hochberg" in dr["meta"]["multiple_testing"]


def test_drivers_command_over_a_funnel(shop):
    dr = rows(invoke(shop, "drivers", "--step", "Ad", "--step", "Buy", "--min-count", "1", "--format", "csv"))
    assert "touchpoint=Ad" not in {r["feature"] for r in dr}


@pytest.mark.parametrize("command", ["funnel", "stages", "friction", "retention", "drivers"])
def test_help_has_an_example(command):
    out = CliRunner().invoke(main, [command, "--help"])
    assert out.exit_code == 0 and "Example:" in out.output


def test_friction_and_retention_break_down_by_persona(shop):
    fr = rows(invoke(shop, "friction", "--by", "persona", "--top", "1", "--format", "csv"))
    assert list(fr[0])[0] == "dimension"
    assert sorted(r["dimension"] for r in fr) == ["VIP", "other"]  # the first of each persona
    re_ = rows(invoke(shop, "retention", "--by", "segment", "--periods", "3", "--format", "csv"))
    assert list(re_[0])[:2] == ["dimension", "cohort"]
    sizes = {r["dimension"]: int(r["cohort_size"]) for r in re_ if r["period"] == "0"}
    assert sizes == {"vip": 1, "new": 1}  # a (vip) and e (new) bought
