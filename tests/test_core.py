"""Core types: errors, durations, blueprint files, typed results, engine URLs, workspace discovery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeymap import engine
from journeymap.blueprint import Blueprint, format_duration, parse_duration
from journeymap.errors import (
    BlueprintError,
    InputError,
    JourneymapError,
    MissingDependencyError,
    WorkspaceError,
)
from journeymap.results import Result, TableResult, registered_kinds
from journeymap.workspace import Workspace


def test_errors_inherit_the_builtin_they_refine():
    assert issubclass(InputError, ValueError) and issubclass(InputError, JourneymapError)
    assert issubclass(BlueprintError, InputError)
    assert issubclass(WorkspaceError, FileNotFoundError)
    assert issubclass(MissingDependencyError, ImportError)


@given(st.integers(min_value=1, max_value=10**7))
def test_duration_round_trip(seconds):
    d = timedelta(seconds=seconds)
    assert parse_duration(format_duration(d)) == d


@pytest.mark.parametrize(
    "text,expected",
    [
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("90 m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        (3600, timedelta(hours=1)),
        ("none", None),
        (0, None),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


def test_blueprint_yaml_round_trip(tmp_path):
    bp = Blueprint.model_validate(
        {
            "stages": [{"name": "awareness"}, {"name": "purchase"}],
            "touchpoints": [
                {
                    "name": "Ad",
                    "stage": "awareness",
                    "channel": "display",
                    "kind": "paid",
                    "match": [{"event_regex": "^ad_", "where": {"utm_medium": ["cpc"]}}],
                },
                {"name": "Buy", "stage": "purchase", "channel": "web"},
            ],
            "goals": [{"touchpoint": "Buy"}],
            "journey": {"inactivity_gap": "12h"},
        }
    )
    path = tmp_path / "blueprint.yaml"
    bp.save(path)
    assert Blueprint.load(path) == bp
    assert "inactivity_gap: 12h" in path.read_text()


@pytest.mark.parametrize(
    "text,line,words",
    [
        ("stages:\n  - name: a\ntouchpoints:\n  - name: x\n    stage: b\n", 5, "not among the stages"),
        ("stages:\n  - name: a\n    colour: red\n", 3, "not a blueprint key"),
        ("journey:\n  inactivity_gap: 3 parsecs\n", 2, "not understood"),
        ("touchpoints:\n  - name: x\n    kind: bought\n", 3, "'owned', 'paid' or 'earned'"),
        ("goals:\n  - touchpoint: Nope\ntouchpoints:\n  - name: x\n", 2, "not a touchpoint"),
        ("stages:\n  - name: a\n  - name: a\n", 1, "defined twice"),
        ("stages: [\n", 2, "YAML cannot be read"),
    ],
)
def test_blueprint_errors_name_the_line_and_the_fix(text, line, words):
    with pytest.raises(BlueprintError) as info:
        Blueprint.from_yaml(text)
    msg = str(info.value)
    assert f"line {line}" in msg and words in msg


def test_missing_blueprint_file_says_how_to_make_one(tmp_path):
    with pytest.raises(BlueprintError, match="journeymap init"):
        Blueprint.load(tmp_path / "nope.yaml")


class _Demo(TableResult):
    kind = "test_demo"


def test_results_round_trip_and_tables():
    r = _Demo(columns=["a", "b"], rows=[[1, "x"], [2, None]], meta={"n": 2})
    again = Result.from_json(r.to_json())
    assert again == r and type(again) is _Demo
    assert r.to_frame().shape == (2, 2)
    assert r.to_csv() == "a,b\n1,x\n2,\n"
    assert registered_kinds()["test_demo"] is _Demo


def test_results_replace_nan_with_null():
    r = _Demo(columns=["a"], rows=[[float("nan")]])
    assert '"rows": [\n    [\n      null' in r.to_json()


def test_unknown_result_kind_is_clear():
    with pytest.raises(InputError, match="unknown"):
        Result.from_dict({"kind": "nope"})


def test_engine_urls(tmp_path):
    con = engine.connect(f"duckdb:///{tmp_path.name}/x.duckdb", base=tmp_path.parent)
    assert con.name == "duckdb"
    assert (tmp_path / "x.duckdb").exists()
    con.disconnect()
    abs_con = engine.connect(f"duckdb:///{tmp_path}/y.duckdb")
    assert (tmp_path / "y.duckdb").exists()
    abs_con.disconnect()


def test_workspace_memory_limit_reaches_duckdb_and_a_bad_one_is_named(tmp_path):
    ws = Workspace.init(tmp_path / "shop")
    limit = ws.con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
    ws.close()
    assert limit == "1.3 GiB"  # DuckDB shows the default 1500MB (10^6 bytes) in GiB
    toml = tmp_path / "shop" / "journeymap.toml"
    toml.write_text(toml.read_text().replace("memory_limit = '1500MB'", "memory_limit = '4GB'"))
    ws = Workspace.open(tmp_path / "shop")
    assert ws.con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0] == "3.7 GiB"
    ws.close()
    toml.write_text(toml.read_text().replace("memory_limit = '4GB'", "memory_limit = 'lots'"))
    with pytest.raises(InputError, match=r"memory_limit 'lots' .*journeymap.toml"):
        _ = Workspace.open(tmp_path / "shop").con


def test_unknown_engine_names_the_extra():
    with pytest.raises(JourneymapError):
        engine.connect("nosuchengine://host/db")


def test_workspace_init_open_and_discovery(tmp_path, monkeypatch):
    ws = Workspace.init(tmp_path / "shop")
    assert ws.events().count().execute() == 0
    ws.close()
    monkeypatch.chdir(tmp_path / "shop" / "reports")
    monkeypatch.delenv("JOURNEYMAP_WORKSPACE", raising=False)
    assert Workspace.open().path == (tmp_path / "shop").resolve()
    monkeypatch.setenv("JOURNEYMAP_WORKSPACE", str(tmp_path / "shop"))
    assert Workspace.open().path == (tmp_path / "shop").resolve()
    with pytest.raises(WorkspaceError, match="not a journeymap workspace"):
        Workspace.open(tmp_path)
    with pytest.raises(WorkspaceError, match="already a journeymap workspace"):
        Workspace.init(tmp_path / "shop")


def test_pseudonym_key_is_made_once_and_kept_out_of_git(tmp_path):
    ws = Workspace.init(tmp_path / "p", pseudonymise=True)
    key = ws.pseudonym_key()
    assert key is not None and len(key) == 32
    assert Workspace.open(tmp_path / "p").pseudonym_key() == key
    assert ".journeymap-key" in (tmp_path / "p" / ".gitignore").read_text()
    assert Workspace.init(tmp_path / "q").pseudonym_key() is None
