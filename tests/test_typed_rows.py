"""Typed rows: every table result kind declares a ``Row`` whose fields are its columns.

Each kind is made the way a user makes it (the demo workspace, then ``journeymap <command> --format
json``), loaded back from that JSON, and read through :meth:`TableResult.typed_rows`: the row model's
fields must be the table's columns (after any breakdown column), the typed rows must give back the
stored rows value for value, and the JSON must be what the command printed (typed rows change no
serialisation).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import random
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
from click.testing import CliRunner

from journeymap.cli import main
from journeymap.results import Result, TableResult, TableRow, registered_kinds, typed_rows

MODULES = (
    "journeys.touchpoints",
    "journeys.funnels",
    "journeys.drivers",
    "journeys.friction",
    "journeys.transitions",
    "journeys.retention",
    "journeys.stages",
    "journeys.paths",
    "attribution.results",
    "voice.results",
    "voice.summary",
    "curation",
)
PENDING: set[str] = set()
"""Kinds whose row model another change adds; the test fails once they have one, so the name is taken off then."""
OWN_GROUP = {"voice_summary"}
"""Kinds whose group column is one of their own fields (``group``), with or without ``by``."""

# command -> the kinds it makes; a few twice (with and without a breakdown)
COMMANDS: list[list[str]] = [
    ["touchpoints"],
    ["touchpoints", "--by", "persona"],
    ["touchpoints", "--node", "stage"],
    ["funnel", "Product page", "Basket", "Checkout"],
    ["funnel", "Product page", "Basket", "--by", "persona"],
    ["drivers"],
    ["friction"],
    ["transitions"],
    ["retention"],
    ["stages"],
    ["stages", "--by", "persona"],
    ["paths"],
    ["lift"],
    ["hypothesis", "Live chat"],
    ["voice", "kpis"],
    ["voice", "kpis", "--by", "touchpoint"],
    ["voice", "sentiment"],
    ["voice", "emotions"],
    ["voice", "impact"],
    ["voice", "summary"],
    ["voice", "summary", "--by", "touchpoint"],
    ["blueprint", "check"],
]


def _import_all() -> None:
    for m in MODULES:
        importlib.import_module(f"journeymap.{m}")


def _table_kinds() -> dict[str, type[TableResult]]:
    _import_all()
    # the package's kinds only: tests register their own (test_core's "test_demo"), in whatever order they ran
    return {
        k: c
        for k, c in registered_kinds().items()
        if issubclass(c, TableResult) and k != "table" and c.__module__.startswith("journeymap.")
    }


def _run(ws: Path, args: list[str]) -> dict[str, Any]:
    r = CliRunner().invoke(main, ["-w", str(ws), *args, "--format", "json"])
    assert r.exit_code == 0, (args, r.output)
    return json.loads(r.stdout)


def _ok(value: Any, hint: Any) -> bool:
    """``value`` fits the annotation ``hint`` (ints pass as floats; Literal by value)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_ok(value, h) for h in get_args(hint))
    if hint is type(None):
        return value is None
    if str(origin) == "typing.Literal":
        return value in get_args(hint)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


@pytest.fixture(scope="module")
def made(demo_report, tmp_path_factory) -> dict[str, list[tuple[list[str], dict[str, Any]]]]:
    """Every kind the commands make, as the JSON documents they printed."""
    ws = demo_report.parent / "shop"
    out: dict[str, list[tuple[list[str], dict[str, Any]]]] = {}
    for args in COMMANDS:
        doc = _run(ws, args)
        out.setdefault(doc["kind"], []).append((args, doc))
    # key drivers from a survey file, as a user passes one
    rng = random.Random(7)
    survey = tmp_path_factory.mktemp("survey") / "survey.csv"
    lines = ["overall,seat,food,staff"]
    for _ in range(80):
        a, b, c = (rng.randint(1, 5) for _ in range(3))
        lines.append(f"{min(5, max(1, round(0.5 * a + 0.3 * c + rng.random())))},{a},{b},{c}")
    survey.write_text("\n".join(lines) + "\n")
    args = [
        "voice",
        "drivers",
        str(survey),
        "--target",
        "overall",
        "--rating",
        "seat",
        "--rating",
        "food",
        "--rating",
        "staff",
    ]
    doc = _run(ws, args)
    out.setdefault(doc["kind"], []).append((args, doc))
    # feedback linked to touchpoints (the library call the map makes)
    from journeymap.voice.linking import link_feedback, link_summary
    from journeymap.workspace import Workspace

    w = Workspace.open(ws, read_only=True)
    try:
        doc = link_summary(link_feedback(w.feedback(), w.blueprint, con=w.con), con=w.con).to_dict()
    finally:
        w.close()
    out.setdefault(doc["kind"], []).append((["link_summary"], doc))
    return out


def test_every_table_kind_declares_a_row_model():
    kinds = _table_kinds()
    assert len(kinds) >= 17
    missing = sorted(k for k, c in kinds.items() if c.Row is None)
    assert missing == sorted(PENDING & set(kinds)), "declare a Row (a TableRow dataclass) on these kinds"
    for kind, cls in kinds.items():
        if cls.Row is None:
            continue
        assert issubclass(cls.Row, TableRow) and dataclasses.is_dataclass(cls.Row), kind
        assert cls.Row.__dataclass_params__.frozen, kind
        row_fields = [f.name for f in dataclasses.fields(cls.Row) if f.name != "breakdown"]
        assert list(cls.Row.columns()) == row_fields and len(set(row_fields)) == len(row_fields), kind


def test_row_fields_are_the_columns_of_every_kind_as_made(made):
    kinds = _table_kinds()
    assert set(kinds) - PENDING <= set(made), f"kinds not made by any command here: {set(kinds) - set(made)}"
    for kind, docs in made.items():
        cls = kinds[kind]
        for args, doc in docs:
            result = Result.from_dict(doc)
            assert isinstance(result, cls)
            own = list(cls.Row.columns())
            lead = len(result.columns) - len(own)
            by = doc["meta"].get("by")
            assert lead == (0 if by is None or kind in OWN_GROUP else 1), (args, result.columns)
            tail = result.columns[lead:]
            assert all(c == f or f in cls.Row.renamed for c, f in zip(tail, own, strict=True)), (args, tail, own)
            rows = result.typed_rows()
            assert len(rows) == len(result.rows) > 0, args
            assert [r.values() for r in rows] == result.rows, args
            hints = get_type_hints(cls.Row)
            for r, raw in zip(rows, result.records(), strict=True):
                for name in own:
                    if name in raw:
                        assert getattr(r, name) == raw[name], (args, name)
                    assert _ok(getattr(r, name), hints[name]), (args, name, getattr(r, name), hints[name])
                if lead:
                    assert list(r.breakdown) == result.columns[:lead]
            # typed rows read; they do not change what is stored or printed
            assert json.loads(result.to_json()) == doc, args
            assert "Row" not in doc


def test_second_tables_have_row_models_too(made):
    for args, doc in made["funnel"]:
        r = Result.from_dict(doc)
        hist = r.typed_histogram()
        assert [h.values() for h in hist] == r.histogram_rows and hist, args
        assert all(h.bin_end_s is None or h.bin_end_s > h.bin_start_s for h in hist)
    r = Result.from_dict(made["retention"][0][1])
    rep = r.typed_repeat()
    assert [x.values() for x in rep] == r.repeat_rows and rep
    assert all(x.repeat_buyers <= x.buyers for x in rep)


def test_attribute_reads_agree_with_an_independent_count(made):
    """What a consumer reads by attribute is the figure itself: conversions / journeys, rates within bounds."""
    for _args, doc in made["touchpoints"]:
        for r in Result.from_dict(doc).typed_rows():
            assert r.conversion_rate == pytest.approx(r.conversions / r.journeys)
            assert r.rate_low <= r.conversion_rate <= r.rate_high
    errors = [r for r in Result.from_dict(made["blueprint_check"][0][1]).typed_rows() if r.severity == "error"]
    assert Result.from_dict(made["blueprint_check"][0][1]).ok == (not errors)


def test_a_table_that_does_not_match_its_row_model_is_refused_in_one_sentence():
    from journeymap.errors import InputError
    from journeymap.journeys.transitions import TransitionRow

    with pytest.raises(InputError, match="do not end with the columns of TransitionRow"):
        typed_rows(TransitionRow, ["source", "target"], [["a", "b"]])
    with pytest.raises(InputError, match="declares no row model"):
        TableResult(columns=["a"], rows=[[1]]).typed_rows()
