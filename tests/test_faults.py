"""kill -9 during an ingest, at every phase and during the commit: the workspace is never partial.

A driver process ingests a large generated file into a workspace that already holds rows (events,
quarantined rows, ingest_log) and prints each phase as it starts (``read``, ``load``, ``check``,
``quarantine``, ``done``), ``commit`` just before the transaction's COMMIT (it can pause there),
and ``committed`` after it. The test kills it with SIGKILL at a phase, in the pause before COMMIT, or
at moments during COMMIT, then asserts that every table equals its state before (or, killed during
COMMIT, either that state or the complete ingest: never part of it), and that ingesting the file
again counts right: rows read = loaded + quarantined + duplicate, with the numbers the file holds.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from journeymap.workspace import Workspace

TABLES = ("events", "feedback", "customers", "quarantine", "ingest_log")
ROWS = 300_000
BAD = 3  # rows with an unreadable time, quarantined

DRIVER = textwrap.dedent("""
    import contextlib, sys, time
    from journeymap import engine
    from journeymap.workspace import Workspace

    ws_path, src, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
    original = engine.transaction

    @contextlib.contextmanager
    def hooked(con):
        with original(con):
            yield
            print("commit", flush=True)
            time.sleep(pause)
        print("committed", flush=True)

    engine.transaction = hooked
    ws = Workspace.open(ws_path)
    report = ws.ingest_events(src, progress=lambda source, phase, f: print(phase, flush=True))
    print("report", report.total.rows_read, report.total.loaded, report.total.quarantined, flush=True)
""")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNEYMAP_WORKSPACE", "JOURNEYMAP_DEBUG")}
    env.update(JOURNEYMAP_LOCK_TIMEOUT="10")
    return env


def snapshot(ws: Path) -> dict[str, list[str]]:
    """Every row of every table, sorted, read with duckdb directly (a killed process's WAL replayed)."""
    con = duckdb.connect(str(ws / "journeymap.duckdb"), read_only=True)
    try:
        return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}
    finally:
        con.close()


@pytest.fixture(scope="module")
def large_file(tmp_path_factory) -> Path:
    """ROWS events (about 21 MB), BAD of them with an unreadable time, spread over the file."""
    path = tmp_path_factory.mktemp("faults") / "large.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "ts", "event", "page"])
        for i in range(ROWS):
            ts = (
                "not a time"
                if i % (ROWS // BAD) == ROWS // (2 * BAD)
                else f"2024-06-01 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
            )
            w.writerow([f"k{i % 5000}", ts, ("visit", "search", "cart")[i % 3], f"/p/{i}"])
    return path


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """A workspace holding events, a quarantined row and two ingest_log rows."""
    root = tmp_path_factory.mktemp("faults_ws")
    ws = Workspace.init(root / "seed")
    a = root / "a.csv"
    a.write_text("customer_id,ts,event\ns1,2024-05-01 10:00,visit\ns1,bad,visit\ns2,2024-05-01 11:00,cart\n")
    ws.ingest_events(a)
    fb = root / "fb.csv"
    fb.write_text("customer_id,ts,text\ns1,2024-05-02,fine\n")
    ws.ingest("feedback", [fb])
    ws.close()
    return root / "seed"


def _driver(ws: Path, src: Path, pause: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(ws), str(src), str(pause)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _wait_for(p: subprocess.Popen, marker: str, timeout: float = 240) -> list[str]:
    """Lines the driver printed up to and including ``marker``."""
    seen: list[str] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = p.stdout.readline()
        if not line:
            raise AssertionError(f"the driver ended before {marker!r}: {seen}; {p.stderr.read()}")
        seen.append(line.strip())
        if line.strip() == marker:
            return seen
    raise AssertionError(f"no {marker!r} within {timeout} s: {seen}")


def _kill(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=60)
    p.stdout.close()
    p.stderr.close()


def _reingest(ws: Path, src: Path) -> dict:
    """Ingest ``src`` again with the CLI (a fresh process) and return its total."""
    run = subprocess.run(
        [sys.executable, "-m", "journeymap", "-w", str(ws), "ingest", "events", str(src), "--format", "json"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return json.loads(run.stdout)["total"]


def _copy(seeded: Path, tmp_path: Path) -> Path:
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(seeded, ws)
    return ws


@pytest.mark.slow
@pytest.mark.parametrize("phase, delay", [("read", 0.0), ("load", 0.3), ("check", 0.0), ("quarantine", 0.0)])
def test_kill_during_load_leaves_the_workspace_as_before(seeded, large_file, tmp_path, phase, delay):
    ws = _copy(seeded, tmp_path)
    before = snapshot(ws)
    p = _driver(ws, large_file, pause=0)
    _wait_for(p, phase)
    time.sleep(delay)
    _kill(p)
    assert snapshot(ws) == before
    total = _reingest(ws, large_file)
    assert (total["rows_read"], total["loaded"], total["quarantined"], total["duplicate"]) == (ROWS, ROWS - BAD, BAD, 0)
    assert len(snapshot(ws)["events"]) == len(before["events"]) + ROWS - BAD


@pytest.mark.slow
def test_kill_just_before_commit_leaves_the_workspace_as_before(seeded, large_file, tmp_path):
    ws = _copy(seeded, tmp_path)
    before = snapshot(ws)
    p = _driver(ws, large_file, pause=30)
    lines = _wait_for(p, "commit")
    assert lines[-2] == "done"  # every row is written, inside the transaction
    _kill(p)
    assert snapshot(ws) == before
    total = _reingest(ws, large_file)
    assert (total["rows_read"], total["loaded"], total["quarantined"], total["duplicate"]) == (ROWS, ROWS - BAD, BAD, 0)


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.002, 0.005, 0.01, 0.03])  # the COMMIT takes about 10 ms here
def test_kill_during_commit_is_all_or_nothing(seeded, large_file, tmp_path, delay):
    ws = _copy(seeded, tmp_path)
    before = snapshot(ws)
    p = _driver(ws, large_file, pause=0)
    _wait_for(p, "commit")
    time.sleep(delay)
    _kill(p)
    after = snapshot(ws)
    if after == before:  # killed before the commit took
        total = _reingest(ws, large_file)
        assert (total["rows_read"], total["loaded"], total["quarantined"], total["duplicate"]) == (
            ROWS,
            ROWS - BAD,
            BAD,
            0,
        )
        return
    # the commit took: all of it (every good row, every bad row, one ingest_log row), nothing else changed
    grew = {t: len(after[t]) - len(before[t]) for t in TABLES}
    assert grew == {"events": ROWS - BAD, "feedback": 0, "customers": 0, "quarantine": BAD, "ingest_log": 1}
    assert set(before["events"]) <= set(after["events"]) and set(before["quarantine"]) <= set(after["quarantine"])
    total = _reingest(ws, large_file)
    assert (total["rows_read"], total["loaded"], total["quarantined"], total["duplicate"]) == (ROWS, 0, 0, ROWS)


@pytest.mark.slow
def test_cli_killed_at_moments_never_leaves_part_of_a_file(seeded, large_file, tmp_path):
    """The real command, killed with SIGKILL after 0.5, 1.5 and 3 seconds: before, or all of it."""
    ws = _copy(seeded, tmp_path)
    before = snapshot(ws)
    outcomes = []
    for delay in (0.5, 1.5, 3.0):
        p = subprocess.Popen(
            [sys.executable, "-m", "journeymap", "-w", str(ws), "ingest", "events", str(large_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_env(),
        )
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
        now = snapshot(ws)
        if now == before:
            outcomes.append("before")
            continue
        assert len(now["events"]) == len(before["events"]) + ROWS - BAD
        assert len(now["ingest_log"]) == len(before["ingest_log"]) + 1
        outcomes.append("all")
        break
    total = _reingest(ws, large_file)
    assert total["rows_read"] == total["loaded"] + total["quarantined"] + total["duplicate"] == ROWS
    loaded_before = outcomes[-1] == "all"
    assert total["duplicate"] == (ROWS if loaded_before else 0)
