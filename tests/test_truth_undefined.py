"""Honest when something is undefined (issue 13, items 7-9), through the path a user takes.

Each test writes a CSV to disk, ingests it (``Workspace.ingest_events``), sets the blueprint and runs
the command (``journeymap ... --format json|csv`` through click's runner), then compares with a hand
computation:

- no data is not the maximum: a friction component with nothing to measure is null, not the cap;
  Wilson bounds lie in [0, 1] and are exactly 0 / 1 at 0 / n successes; friction shares add up to 100%;
- no goals: journeys "ended" or "continued", never "gave up"; no odds ratio where a group is empty;
- funnels list every step (0 where no one reached it); an unknown or mis-cased touchpoint or stage
  name stops with one line naming it and the closest names.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import ibis
import pytest
from click.testing import CliRunner

from journeymap.blueprint import Blueprint
from journeymap.cli import main
from journeymap.workspace import Workspace

D = datetime(2024, 3, 1, 9)


def _workspace(tmp_path: Path, rows: list[tuple[str, datetime, str]], blueprint: dict | None = None) -> Workspace:
    """``rows`` (customer, time, touchpoint) written to a CSV, ingested into a fresh workspace."""
    path = tmp_path / "events.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "ts", "touchpoint"])
        w.writerows((c, t.strftime("%Y-%m-%d %H:%M:%S"), tp) for c, t, tp in rows)
    ws = Workspace.init(tmp_path / "ws")
    if blueprint is not None:
        ws.save_blueprint(Blueprint.model_validate(blueprint))
    report = ws.ingest_events(path)
    assert report.total.loaded == len(rows)
    return ws


def _run(ws: Workspace, *args: str, code: int = 0) -> str:
    out = CliRunner().invoke(main, ["-w", str(ws.path), *args])
    assert out.exit_code == code, out.output
    return out.stdout  # notes go to stderr


def _json(ws: Workspace, *args: str) -> dict:
    return json.loads(_run(ws, *args, "--format", "json"))


def _records(doc: dict) -> list[dict]:
    return [dict(zip(doc["columns"], r, strict=True)) for r in doc["rows"]]


NO_GAP = {"journey": {"inactivity_gap": None, "conversion_window": None}}
"""No goals, no gap: one journey per customer, every journey settled (how process logs are read)."""


# -- 7. no data is not the maximum ----------------------------------------------------------------
def test_friction_slow_component_is_null_without_gaps(tmp_path):
    """Every touch of a journey at the same second: no wait anywhere, so no slow signal (it was the cap, 3)."""
    rows = [
        ("c1", D, "Home"),
        ("c1", D, "Form"),
        ("c1", D, "Form"),
        ("c2", D + timedelta(hours=1), "Home"),
        ("c2", D + timedelta(hours=1), "Form"),
        ("c3", D + timedelta(hours=2), "Home"),
    ]
    ws = _workspace(tmp_path, rows, NO_GAP)
    got = {r["touchpoint"]: r for r in _records(_json(ws, "friction"))}
    assert set(got) == {"Home", "Form"}
    for r in got.values():
        assert r["slow_ratio"] is None and r["slow_component"] is None
        # the score is the sum of the positive parts of what exists: here the loops alone
        assert r["friction_score"] == pytest.approx(max(r["loop_component"], 0.0))
    # Form: c1 repeats it; 1 looping pair of 5 (journey, touchpoint) pairs; Form in 2 journeys
    assert got["Form"]["loop_component"] == pytest.approx(math.log2(2 / (2 * 1 / 5 + 1)))
    ws.close()


def test_friction_exit_component_is_null_when_every_journey_is_in_progress(tmp_path):
    rows = [("c1", D, "Home"), ("c1", D + timedelta(hours=1), "Form"), ("c2", D, "Home")]
    ws = _workspace(tmp_path, rows, {"journey": {"inactivity_gap": None, "conversion_window": "30d"}})
    for r in _records(_json(ws, "friction")):
        assert r["touches"] == 0 and r["exits"] == 0
        assert r["exit_rate"] is None and r["exit_component"] is None  # no settled journey: no signal, not 0
    ws.close()


def test_friction_table_shows_undefined_as_a_dash(tmp_path):
    rows = [("c1", D, "Home"), ("c1", D, "Form"), ("c2", D, "Home")]
    ws = _workspace(tmp_path, rows, NO_GAP)
    ws.close()
    env = {**os.environ, "COLUMNS": "600"}
    out = subprocess.run(
        [sys.executable, "-m", "journeymap", "-w", str(ws.path), "friction"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if "Form" in x)
    cells = [c.strip() for c in line.split("│")[1:-1]]
    header = next(x for x in out.splitlines() if "slow_component" in x)
    cols = [c.strip() for c in header.split("┃")[1:-1]]
    assert cells[cols.index("slow_component")] == "–" and cells[cols.index("slow_ratio")] == "–"


def _wilson_log() -> tuple[list[tuple[str, datetime, str]], list[int]]:
    """For each n: a touchpoint no journey of which converts (``NeverN``) and one all of which do (``AlwaysN``).

    At these n the floating-point Wilson bounds of 0/n and n/n miss 0 and 1 by one bit (-1.4e-17,
    0.9999999999999999, 1.0000000000000002).
    """
    sizes = [10, 13, 16, 21, 37]
    rows = []
    for n in sizes:
        for i in range(n):
            rows += [(f"never{n}-{i}", D, f"Never{n}"), (f"never{n}-{i}", D + timedelta(hours=1), "Leave")]
            rows += [(f"always{n}-{i}", D, f"Always{n}"), (f"always{n}-{i}", D + timedelta(hours=1), "Buy")]
    return rows, sizes


def test_wilson_bounds_are_within_0_and_1_and_exact_at_the_edges(tmp_path):
    rows, sizes = _wilson_log()
    bp = {"goals": [{"touchpoint": "Buy"}], "journey": {"inactivity_gap": None, "conversion_window": "1d"}}
    ws = _workspace(tmp_path, rows, bp)
    got = {r["touchpoint"]: r for r in _records(_json(ws, "touchpoints"))}
    for r in got.values():
        assert 0.0 <= r["rate_low"] <= r["conversion_rate"] <= r["rate_high"] <= 1.0
    for n in sizes:
        never, always = got[f"Never{n}"], got[f"Always{n}"]
        assert (never["conversions"], never["journeys"], always["conversions"], always["journeys"]) == (0, n, n, n)
        assert never["rate_low"] == 0.0 and always["rate_high"] == 1.0
        # the other bound is Wilson's: z^2 / (n + z^2) for 0 of n, n / (n + z^2) for n of n
        z2 = 1.959963984540054**2
        assert never["rate_high"] == pytest.approx(z2 / (n + z2))
        assert always["rate_low"] == pytest.approx(n / (n + z2))
    ws.close()


def test_map_rates_are_within_0_and_1(tmp_path):
    rows, _ = _wilson_log()
    bp = {
        "stages": [{"name": "look"}, {"name": "buy"}],
        "touchpoints": [{"name": "Buy", "stage": "buy"}, {"name": "Leave", "stage": "look"}],
        "goals": [{"touchpoint": "Buy"}],
        "journey": {"inactivity_gap": None, "conversion_window": "1d"},
    }
    ws = _workspace(tmp_path, rows, bp)
    out = tmp_path / "map.json"
    _run(ws, "map", "-o", str(out))
    text = out.read_text(encoding="utf-8")
    doc = json.loads(text)

    def rates(x):
        if isinstance(x, dict):
            if {"k", "n", "low", "high"} <= set(x):
                yield x
            for v in x.values():
                yield from rates(v)
        elif isinstance(x, list):
            for v in x:
                yield from rates(v)

    found = list(rates(doc))
    assert found
    for r in found:
        if r["low"] is not None:
            assert 0.0 <= r["low"] <= r["high"] <= 1.0
            assert (r["k"] != 0 or r["low"] == 0.0) and (r["k"] != r["n"] or r["high"] == 1.0)
    assert "e-1" not in text.replace("e-10", "")  # no -4e-19-like bound anywhere (e-1x exponents)
    ws.close()


def test_friction_shares_add_up_to_the_score(tmp_path):
    """The share of the score from drop-outs, loops and waits is of the score (the positive parts): at most 100%.

    Summing the signed components made a touchpoint better than expected on exits (a negative exit
    component) show its loops and waits at more than 100%.
    """
    from journeymap.report.formatting import friction_words

    # B: every journey loops on it and waits 10h before it; nobody ends there (exits far below expected)
    rows = []
    for i in range(6):
        t = D + timedelta(days=i)
        rows += [
            (f"c{i}", t, "A"),
            (f"c{i}", t + timedelta(hours=10), "B"),
            (f"c{i}", t + timedelta(hours=11), "B"),
            (f"c{i}", t + timedelta(hours=12), "C"),
        ]
    rows += [(f"d{i}", D + timedelta(days=i), "A") for i in range(4)]
    rows += [(f"d{i}", D + timedelta(days=i, hours=1), "C") for i in range(4)]
    bp = {"goals": [{"touchpoint": "Buy"}], "journey": {"inactivity_gap": None, "conversion_window": "1d"}}
    ws = _workspace(tmp_path, rows, bp)
    got = {r["touchpoint"]: r for r in _records(_json(ws, "friction"))}
    b = got["B"]
    assert b["exit_component"] < 0 < b["loop_component"] and b["slow_component"] > 0
    assert b["friction_score"] == pytest.approx(b["loop_component"] + b["slow_component"])
    text = friction_words(b)
    shares = dict(part.rsplit(" ", 1) for part in text.split("score from ")[1].split(", "))
    assert set(shares) == {"loops", "waits"}
    assert int(shares["loops"].rstrip("%")) == round(100 * b["loop_component"] / b["friction_score"])
    assert int(shares["waits"].rstrip("%")) == round(100 * b["slow_component"] / b["friction_score"])
    assert sum(int(v.rstrip("%")) for v in shares.values()) in (99, 100, 101)  # rounding
    ws.close()


def test_friction_slow_null_on_each_engine(con):
    """The null rules are Ibis expressions: the same on DuckDB and Spark (0/0 is NaN on one, null on the other)."""
    from journeymap.journeys import JourneyRules, build_journeys
    from journeymap.journeys.friction import friction

    ev = ibis.memtable(
        {
            "customer_id": ["a", "a", "a", "b", "b"],
            "ts": [D] * 5,
            "touchpoint": ["Home", "Form", "Form", "Home", "Form"],
            "event_id": list("12345"),
        }
    )
    j = build_journeys(ev, rules=JourneyRules(inactivity_gap=None, conversion_window=None))
    r = friction(j, goals=False, con=con)
    for row in r.records():
        assert row["slow_ratio"] is None and row["slow_component"] is None and row["exit_component"] is None
        assert row["friction_score"] == pytest.approx(max(row["loop_component"], 0.0))


# -- 8. no goals ----------------------------------------------------------------------------------
def _process_log() -> list[tuple[str, datetime, str]]:
    """A ticket log: every case ends at Close (the discharge); some loop on Wait."""
    rows = []
    for i in range(30):
        t = D + timedelta(days=i % 10, hours=i)
        steps = ["Open", "Assign"] + (["Wait", "Assign", "Wait"] if i % 3 == 0 else []) + ["Resolve", "Close"]
        for tp in steps:
            t += timedelta(hours=5 if tp == "Wait" else 1)  # waiting takes long
            rows.append((f"case{i:02d}", t, tp))
    return rows


NO_GOALS_BP = {
    "stages": [{"name": "intake"}, {"name": "work"}, {"name": "done"}],
    "touchpoints": [
        {"name": "Open", "stage": "intake"},
        {"name": "Assign", "stage": "work"},
        {"name": "Wait", "stage": "work"},
        {"name": "Resolve", "stage": "work"},
        {"name": "Close", "stage": "done"},
    ],
    "goals": [],
    "journey": {"inactivity_gap": None, "conversion_window": None},
}


def test_no_goals_journeys_end_they_do_not_give_up(tmp_path):
    ws = _workspace(tmp_path, _process_log(), NO_GOALS_BP)
    # friction: exits are counted (every case ends at Close) but not scored
    doc = _json(ws, "friction")
    assert doc["meta"]["goals"] is False and "not scored" in doc["meta"]["exits"]
    got = {r["touchpoint"]: r for r in _records(doc)}
    assert got["Close"]["exits"] == 30 and got["Close"]["exit_rate"] == 1.0
    assert all(r["exit_component"] is None for r in got.values())
    assert got["Close"]["friction_score"] == pytest.approx(
        max(got["Close"]["loop_component"], 0.0) + max(got["Close"]["slow_component"] or 0.0, 0.0)
    )
    # the map: no pain point or sentence presents an ending as giving up
    out = tmp_path / "map.json"
    _run(ws, "map", "-o", str(out))
    m = json.loads(out.read_text(encoding="utf-8"))
    sentences = " ".join(m["summary"]["sentences"])
    assert "no goals" in sentences and "30 ended and 0 continued" in sentences
    for p in m["pain_points"]:
        assert "end a journey" not in p["headline"] and p["evidence"]["figures"].get("exit_rate") is None
    text = json.dumps(m, ensure_ascii=False).lower()
    assert "gives up" not in text and "gave up" not in text and "giving up" not in text
    assert not any(o["title"].startswith("Reduce drop-outs") for o in m["opportunities"])
    # the Markdown report says the same
    md = tmp_path / "map.md"
    _run(ws, "report", "--from", str(out), "--format", "md", "-o", str(md))
    report = md.read_text(encoding="utf-8").lower()
    assert "gives up" not in report and "gave up" not in report and "no goals" in report
    assert "drop off" not in report and "| end |" in report
    # and the HTML report: the flow's outcome nodes and the stage tables say ended / continued
    html_path = tmp_path / "map.html"
    _run(ws, "report", "--from", str(out), "-o", str(html_path))
    html = html_path.read_text(encoding="utf-8")
    assert '"outcomes":{"dropped":"Ended","in_progress":"Continued","drop_off":"End"}' in html
    assert "Gave up" not in html.replace('["Gave up"', "") and "Drop off" not in html
    # the pain points are the loops (10 of 30 cases go Assign > Wait > Assign > Wait), not the discharge:
    # Close ends every case (exits scored, its exit component would be the cap) but it does not loop and
    # it is the only touchpoint of its stage (its wait is the usual one): friction 0
    assert got["Close"]["friction_score"] == 0.0
    assert {p["touchpoint"] for p in m["pain_points"]} == {"Assign", "Wait"}
    ws.close()


def test_words_for_exits_not_scored():
    """The touchpoint details' sentence: 'ended' where exits were counted but not scored (no goals)."""
    from journeymap.report.formatting import friction_words

    no_goals = {
        "exit_component": None,
        "loop_component": 0.5,
        "slow_component": None,
        "exit_rate": 1.0,
        "touches": 30,
        "exits": 30,
        "loop_rate": 0.1,
        "expected_loop_rate": 0.05,
    }
    text = friction_words(no_goals)
    assert "gives up" not in text and "30 of them the last of a journey that ended" in text
    assert "score from loops 100%" in text
    with_goals = {**no_goals, "exit_component": 1.0, "expected_exit_rate": 0.5}
    assert "gives up" in friction_words(with_goals)


@pytest.mark.parametrize("everyone_converts", [False, True])
def test_drivers_no_odds_ratio_when_a_group_is_empty(tmp_path, everyone_converts):
    rows = []
    for i in range(12):
        t = D + timedelta(days=i)
        rows += [(f"c{i}", t, "Ad" if i % 2 else "Mail"), (f"c{i}", t + timedelta(hours=1), "Site")]
        if everyone_converts:
            rows.append((f"c{i}", t + timedelta(hours=2), "Buy"))
    goals = [{"touchpoint": "Buy"}] if everyone_converts else []
    ws = _workspace(tmp_path, rows, {"goals": goals, "journey": {"inactivity_gap": None, "conversion_window": None}})
    doc = _json(ws, "drivers", "--min-count", "1")
    got = {r["feature"]: r for r in _records(doc)}
    assert set(got) == {"touchpoint=Ad", "touchpoint=Mail", "touchpoint=Site"}
    assert doc["meta"]["converters"] == (12 if everyone_converts else 0) and doc["meta"]["customers"] == 12
    for r in got.values():
        assert r["odds_ratio"] is None and r["or_low"] is None and r["or_high"] is None
        assert r["p_value"] == pytest.approx(1.0) and r["significant"] is False
    assert got["touchpoint=Ad"]["exposed"] == 6
    group = "non-converters" if everyone_converts else "converters"
    assert f"no {group} among the 12 customers" in doc["meta"]["note"]
    # the table says why the odds ratios are blank
    out = CliRunner().invoke(main, ["-w", str(ws.path), "drivers", "--min-count", "1"])
    assert out.exit_code == 0 and f"no {group}" in out.output
    ws.close()


def test_drivers_no_odds_ratio_for_a_feature_everyone_has(tmp_path):
    rows = []
    for i in range(12):
        t = D + timedelta(days=i)
        rows += [(f"c{i}", t, "Site"), (f"c{i}", t + timedelta(hours=1), "Ad" if i % 2 else "Mail")]
        if i % 3 == 0:
            rows.append((f"c{i}", t + timedelta(hours=2), "Buy"))
    ws = _workspace(
        tmp_path,
        rows,
        {"goals": [{"touchpoint": "Buy"}], "journey": {"inactivity_gap": None, "conversion_window": None}},
    )
    got = {r["feature"]: r for r in _records(_json(ws, "drivers", "--min-count", "1"))}
    assert got["touchpoint=Site"]["exposed"] == 12 and got["touchpoint=Site"]["odds_ratio"] is None
    # Ad: converters c3, c9 of 6; Mail: c0, c6 of 6 -> OR = (2*4)/(4*2) = 1 with a real interval
    ad = got["touchpoint=Ad"]
    assert (ad["exposed"], ad["exposed_converters"]) == (6, 2)
    assert ad["odds_ratio"] == pytest.approx(1.0) and ad["or_low"] < 1 < ad["or_high"]
    ws.close()


# -- 9. funnels -----------------------------------------------------------------------------------
FUNNEL_ROWS = [
    ("a", D, "Visit"),
    ("a", D + timedelta(hours=1), "Cart"),
    ("b", D, "Visit"),
    ("b", D + timedelta(hours=2), "Cart"),
    ("c", D, "Visit"),
    ("d", D, "Cart"),
    ("e", D, "BILLED"),
]
"""Visit > Cart > Checkout > BILLED: 3 enter, 2 reach Cart, nobody Checkout (absent) or BILLED after Cart."""
FUNNEL_BP = {
    "touchpoints": [{"name": "Visit"}, {"name": "Cart"}, {"name": "Checkout"}, {"name": "BILLED"}],
    "journey": {"inactivity_gap": None, "conversion_window": None},
}


def test_funnel_lists_steps_never_reached_with_zero(tmp_path):
    from journeymap.journeys import build_journeys
    from journeymap.journeys.funnels import funnel

    ws = _workspace(tmp_path, FUNNEL_ROWS, FUNNEL_BP)
    steps = ["Visit", "Cart", "Checkout", "BILLED"]
    # the library
    lib = funnel(build_journeys(ws.events(), ws.blueprint), steps, window=None).records()
    # the CLI, as JSON and as CSV
    doc = _json(ws, "funnel", *steps, "--window", "none")
    text = _run(ws, "funnel", *steps, "--window", "none", "--format", "csv")
    csv_rows = list(csv.DictReader(io.StringIO(text)))
    for got in (lib, _records(doc)):
        assert [r["step"] for r in got] == [1, 2, 3, 4]
        assert [r["name"] for r in got] == steps
        assert [r["reached"] for r in got] == [3, 2, 0, 0]
        assert [r["rate_overall"] for r in got] == [1.0, pytest.approx(2 / 3), 0.0, 0.0]
        assert [r["rate_from_previous"] for r in got] == [None, pytest.approx(2 / 3), 0.0, None]
        assert got[2]["overall_low"] == 0.0 and got[3]["overall_low"] == 0.0
        assert got[1]["dropped"] == 2 and got[0]["dropped"] == 1 and got[2]["dropped"] == got[3]["dropped"] == 0
    assert [int(r["reached"]) for r in csv_rows] == [3, 2, 0, 0]
    assert [r["name"] for r in csv_rows] == steps
    assert doc["meta"]["converted"] == 0 and doc["meta"]["dropped"] == 3
    ws.close()


@pytest.mark.parametrize(
    ("args", "value", "closest"),
    [
        (["funnel", "Visit", "BILED"], "BILED", "BILLED"),
        (["funnel", "Visit", "billed"], "billed", "BILLED"),
        (["funnel", "Visit", "Cart", "--exclude", "Vist:stop"], "Vist", "Visit"),
        (["funnel", "stage:purchse", "Cart"], "purchse", "purchase"),
        (["paths", "--from", "Vist"], "Vist", "Visit"),
        (["paths", "--to", "CART"], "CART", "Cart"),
        (["retention", "--start-event", "BILED"], "BILED", "BILLED"),
        (["retention", "--start-event", "Visit", "--return-event", "Carts"], "Carts", "Cart"),
        (["drivers", "--step", "Visit", "--step", "BILED"], "BILED", "BILLED"),
    ],
)
def test_unknown_name_is_one_clear_error(tmp_path, args, value, closest):
    bp = {**FUNNEL_BP, "stages": [{"name": "browse"}, {"name": "purchase"}]}
    ws = _workspace(tmp_path, FUNNEL_ROWS, {k: v for k, v in bp.items() if k != "touchpoints"})
    out = CliRunner().invoke(main, ["-w", str(ws.path), *args])
    assert out.exit_code == 1, out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output
    assert f"{value!r}" in lines[0] and f"{closest!r}" in lines[0]
    ws.close()


def test_names_from_the_blueprint_or_an_alias_are_known(tmp_path):
    """A blueprint touchpoint absent from the events is a real step (0 reach), and --from may name an alias."""
    ws = _workspace(tmp_path, FUNNEL_ROWS, FUNNEL_BP)
    got = _records(_json(ws, "funnel", "Visit", "Checkout", "--window", "none"))
    assert [r["reached"] for r in got] == [3, 0]
    paths = _records(_json(ws, "paths", "--alias", "^Vis=Landing", "--from", "Landing"))
    assert paths and all(r["path"].startswith("Landing") for r in paths)
    ws.close()


def test_unknown_name_without_close_names_lists_the_known_ones(tmp_path):
    ws = _workspace(tmp_path, FUNNEL_ROWS, {"journey": {"inactivity_gap": None, "conversion_window": None}})
    out = CliRunner().invoke(main, ["-w", str(ws.path), "funnel", "Visit", "Xyzzy"])
    assert out.exit_code == 1
    assert "'Xyzzy'" in out.output and "'BILLED', 'Cart', 'Visit'" in out.output
    ws.close()
