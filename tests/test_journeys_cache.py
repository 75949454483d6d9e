"""The journeys kept between commands (:mod:`journeymap.journeys.cache`) are never used stale.

Through the command line as a user works: ``journeymap ingest`` stores the journeys; ``touchpoints``
reads them; an edit of ``blueprint.yaml`` (a goal, a touchpoint's stage) or a new ingest gives the
new figures at once; two commands at once agree. Every figure is checked against journeys cut here
by hand from the CSV rows (a goal ends a journey; the data spans days, so no inactivity gap falls).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from journeymap.cli import main
from journeymap.journeys import cache
from journeymap.workspace import Workspace

BLUEPRINT = """\
stages: [{{name: browse}}, {{name: buy}}]
touchpoints:
- {{name: Home, stage: browse}}
- {{name: Cart, stage: {cart_stage}}}
- {{name: Signup, stage: buy}}
- {{name: Buy, stage: buy}}
goals: [{goals}]
journey: {{inactivity_gap: 30d, conversion_window: 30d}}
"""

PATTERNS = [
    ["Home", "Cart", "Buy", "Home"],
    ["Home", "Signup", "Cart"],
    ["Cart", "Cart", "Buy"],
    ["Home", "Home", "Signup", "Buy", "Cart"],
    ["Signup"],
]


def _events(path: Path, customers: range, day: int = 1) -> Path:
    """Each customer follows one of PATTERNS, one touch a minute, on 2024-03-``day``."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "ts", "event"])
        for c in customers:
            for i, tp in enumerate(PATTERNS[c % len(PATTERNS)]):
                w.writerow([f"c{c}", f"2024-03-{day:02d} 10:{i:02d}:00", tp])
    return path


def _write_blueprint(ws: Path, goals: list[str], cart_stage: str = "browse") -> None:
    text = BLUEPRINT.format(goals=", ".join(f"{{touchpoint: {g}}}" for g in goals), cart_stage=cart_stage)
    (ws / "blueprint.yaml").write_text(text, encoding="utf-8")


def _expected(files: list[Path], goals: set[str]) -> dict[str, tuple[int, int, int]]:
    """touchpoint -> (events, journeys, conversions), cutting journeys by hand from the CSV rows."""
    touches: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    n = 0
    for f in files:
        with open(f, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                touches[r["customer_id"]].append((r["ts"], n, r["event"]))
                n += 1
    events: dict[str, int] = defaultdict(int)
    journeys: dict[str, int] = defaultdict(int)
    conversions: dict[str, int] = defaultdict(int)
    for rows in touches.values():
        current: list[str] = []
        cut: list[list[str]] = []
        for _, _, tp in sorted(rows):
            current.append(tp)
            if tp in goals:
                cut.append(current)
                current = []
        if current:
            cut.append(current)
        for j in cut:
            for tp in j:
                events[tp] += 1
            for tp in set(j):
                journeys[tp] += 1
                conversions[tp] += j[-1] in goals
    return {tp: (events[tp], journeys[tp], conversions[tp]) for tp in events}


def _touchpoints(ws: Path, *args: str) -> dict[str, dict[str, str]]:
    out = CliRunner().invoke(main, ["-w", str(ws), "touchpoints", "--format", "csv", *args])
    assert out.exit_code == 0, out.output
    key = "stage" if "stage" in args else "touchpoint"
    return {r[key]: r for r in csv.DictReader(out.stdout.splitlines())}


def _figures(table: dict[str, dict[str, str]]) -> dict[str, tuple[int, int, int]]:
    return {tp: (int(r["events"]), int(r["journeys"]), int(r["conversions"])) for tp, r in table.items()}


def _fresh(ws: Path) -> bool:
    w = Workspace.open(ws, read_only=True)
    try:
        return cache.is_fresh(w.con, w.blueprint)
    finally:
        w.close()


@pytest.fixture
def shop(tmp_path) -> tuple[Path, Path]:
    """A workspace made and loaded through the CLI (goal: Buy); the journeys are stored by the ingest."""
    ws = tmp_path / "shop"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(ws)]).exit_code == 0
    _write_blueprint(ws, ["Buy"])
    first = _events(tmp_path / "first.csv", range(40))
    out = runner.invoke(main, ["-w", str(ws), "ingest", "events", str(first)])
    assert out.exit_code == 0, out.output
    return ws, first


def test_ingest_stores_the_journeys_and_touchpoints_reads_them(shop):
    ws, first = shop
    assert _fresh(ws)
    assert _figures(_touchpoints(ws)) == _expected([first], {"Buy"})
    # the same figures as the journeys computed from the events (a filter that keeps every event)
    assert _touchpoints(ws) == _touchpoints(ws, "--start", "2000-01-01")


def test_blueprint_edits_and_new_ingests_are_never_answered_from_stale_journeys(shop, tmp_path):
    ws, first = shop
    before = _figures(_touchpoints(ws))
    # a goal added by hand: the stored journeys were cut at Buy only, the new figures cut at Signup too
    _write_blueprint(ws, ["Buy", "Signup"])
    assert not _fresh(ws)
    after = _figures(_touchpoints(ws))
    assert after == _expected([first], {"Buy", "Signup"})
    assert after != before
    # a touchpoint moved to another stage: the stage figures follow
    _write_blueprint(ws, ["Buy", "Signup"], cart_stage="buy")
    stages = _figures(_touchpoints(ws, "--node", "stage"))
    assert stages["buy"][0] == sum(v[0] for tp, v in after.items() if tp in ("Cart", "Signup", "Buy"))
    assert stages["browse"][0] == after["Home"][0]
    # a new ingest of more customers stores the journeys again, for the blueprint of now
    second = _events(tmp_path / "second.csv", range(40, 75), day=2)
    out = CliRunner().invoke(main, ["-w", str(ws), "ingest", "events", str(second)])
    assert out.exit_code == 0, out.output
    assert _fresh(ws)
    assert _figures(_touchpoints(ws)) == _expected([first, second], {"Buy", "Signup"})
    # back to the first blueprint: stale again, and the figures are those of all the events now
    _write_blueprint(ws, ["Buy"])
    assert not _fresh(ws)
    assert _figures(_touchpoints(ws)) == _expected([first, second], {"Buy"})


def test_events_loaded_without_storing_the_journeys_are_counted(shop, tmp_path):
    """An ingest through the library (which does not store the journeys) makes the stored ones stale."""
    ws, first = shop
    third = _events(tmp_path / "third.csv", range(100, 130), day=3)
    w = Workspace.open(ws)
    try:
        w.ingest_events(third)
    finally:
        w.close()
    assert not _fresh(ws)
    assert _figures(_touchpoints(ws)) == _expected([first, third], {"Buy"})


def test_an_edit_that_does_not_touch_the_journeys_keeps_them(shop):
    ws, _ = shop
    text = (ws / "blueprint.yaml").read_text(encoding="utf-8")
    (ws / "blueprint.yaml").write_text(text + "targets: {nps: 40}\n", encoding="utf-8")
    assert _fresh(ws)


def test_a_writing_command_stores_journeys_a_reader_only_computes(shop):
    ws, first = shop
    _write_blueprint(ws, ["Buy", "Signup"])
    db = ws / "journeymap.duckdb"
    size = db.stat().st_size
    assert _figures(_touchpoints(ws)) == _expected([first], {"Buy", "Signup"})
    assert not _fresh(ws) and db.stat().st_size == size  # read-only: nothing written
    w = Workspace.open(ws)  # a command holding the warehouse for writing
    try:
        stored = cache.journeys(w.con, w.events(), w.blueprint, writable=True)
        assert int(stored.count().execute()) == sum(len(PATTERNS[c % len(PATTERNS)]) for c in range(40))
    finally:
        w.close()
    assert _fresh(ws)
    assert _figures(_touchpoints(ws)) == _expected([first], {"Buy", "Signup"})


def _jm(ws: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNEYMAP_WORKSPACE", "JOURNEYMAP_DEBUG")}
    env.update(COLUMNS="200", NO_COLOR="1", JOURNEYMAP_LOCK_TIMEOUT="0")
    return subprocess.Popen(
        [sys.executable, "-m", "journeymap", "-w", str(ws), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("stale", [False, True], ids=["stored", "stale"])
def test_two_processes_at_once_agree(shop, stale):
    """Two touchpoints commands at once, with no waiting allowed: neither takes the write lock, both are right."""
    ws, first = shop
    goals = ["Buy", "Signup"] if stale else ["Buy"]
    _write_blueprint(ws, goals)
    assert _fresh(ws) is not stale
    procs = [_jm(ws, "touchpoints", "--format", "csv") for _ in range(2)]
    outs = [(*p.communicate(timeout=240), p.returncode) for p in procs]
    for out, err, rc in outs:
        assert rc == 0, err
        got = {
            r["touchpoint"]: (int(r["events"]), int(r["journeys"]), int(r["conversions"]))
            for r in csv.DictReader(out.splitlines())
        }
        assert got == _expected([first], set(goals))
    assert outs[0][0] == outs[1][0]
