"""A workspace cloned from git: ``journeymap.toml`` and ``blueprint.yaml`` (what the workspace's own
``.gitignore`` lets through), no warehouse and no key. Ingest creates the tables and loads; every other
command says in one sentence that there is no data yet, never a raw DuckDB CatalogException.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from journeymap.cli import main
from tests.conftest import write_csv


def _events(path: Path) -> Path:
    rows = []
    for i in range(30):
        steps = ["Home", "Search", "Checkout", "Purchase"][: 1 + i % 4]
        rows += [
            {"customer_id": f"C{i:03d}", "ts": f"2025-02-{1 + i % 27:02d} 10:{k:02d}:00", "touchpoint": tp}
            for k, tp in enumerate(steps)
        ]
    return write_csv(path, rows)


def _git_clone(src: Path, dst: Path) -> list[str]:
    """Copy what git would hold: every file of ``src`` the workspace's ``.gitignore`` does not ignore."""
    patterns = [
        p.strip().rstrip("/")
        for p in (src / ".gitignore").read_text(encoding="utf-8").splitlines()
        if p.strip() and not p.startswith("#")
    ]
    copied = []
    for f in sorted(src.rglob("*")):
        rel = f.relative_to(src)
        if not f.is_file() or any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in patterns):
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dst / rel)
        copied.append(rel.as_posix())
    return copied


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


WAREHOUSES = {
    "duckdb:///journeymap.duckdb": "journeymap.duckdb",
    "duckdb:///warehouse/jm.duckdb": "warehouse/jm.duckdb",
}


@pytest.fixture(params=list(WAREHOUSES), ids=["default", "sub-folder"])
def clone(tmp_path, request) -> tuple[Path, Path, Path]:
    """(clone folder, events file, its warehouse path): a workspace made and loaded, then copied the way git
    would; with the default warehouse and one in a sub-folder (git keeps no empty folder)."""
    src, dst = tmp_path / "origin", tmp_path / "clone"
    events = _events(tmp_path / "events.csv")
    assert _run("init", str(src), "--url", request.param).exit_code == 0
    r = _run("-w", str(src), "ingest", "events", str(events))
    assert r.exit_code == 0, r.output
    dst.mkdir()
    copied = _git_clone(src, dst)
    assert {"journeymap.toml", "blueprint.yaml"} <= set(copied)
    assert not any(c.endswith(".duckdb") or "key" in c for c in copied), copied
    return dst, events, dst / WAREHOUSES[request.param]


def _one_sentence(output: str) -> str:
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in output and "Catalog" not in output, output
    return lines[0]


@pytest.mark.parametrize(
    "command", [["touchpoints", "--format", "json"], ["map"], ["info"], ["stages"], ["voice", "quotes"]]
)
def test_commands_on_a_clone_without_data_say_so(clone, command):
    ws, _, warehouse = clone
    r = _run("-w", str(ws), *command)
    assert r.exit_code == 1
    line = _one_sentence(r.output)
    assert "does not exist yet" in line and "journeymap ingest events FILE" in line
    assert not warehouse.exists()  # reading made no warehouse


def test_ingest_into_a_clone_creates_the_tables_and_loads(clone):
    ws, events, warehouse = clone
    r = _run("-w", str(ws), "ingest", "events", str(events), "--format", "json")
    assert r.exit_code == 0, r.output
    with events.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    report = json.loads(r.stdout)
    assert report["total"]["loaded"] == len(rows) and report["total"]["quarantined"] == 0
    r = _run("-w", str(ws), "touchpoints", "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    got = {row[0]: row[doc["columns"].index("events")] for row in doc["rows"]}
    assert got == dict(Counter(row["touchpoint"] for row in rows))
    info = json.loads(_run("-w", str(ws), "info", "--format", "json").output)
    assert info["tables"]["events"] == len(rows) and info["tables"]["feedback"] == 0
    assert warehouse.is_file()


def test_a_warehouse_without_tables_is_no_data_yet_then_ingest_fills_it(clone):
    """A DuckDB file made outside journeymap (or a first ingest stopped before its tables): reading
    commands say there is no data yet; ingest creates the tables."""
    import duckdb

    ws, events, warehouse = clone
    warehouse.parent.mkdir(exist_ok=True)
    duckdb.connect(str(warehouse)).close()
    r = _run("-w", str(ws), "touchpoints")
    assert r.exit_code == 1
    line = _one_sentence(r.output)
    assert "no events table yet" in line and "journeymap ingest events FILE" in line
    assert _run("-w", str(ws), "ingest", "events", str(events)).exit_code == 0
    r = _run("-w", str(ws), "touchpoints", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.output)["rows"], r.output


def test_a_pseudonymising_clone_without_its_key_names_key_import(tmp_path):
    src, dst = tmp_path / "origin", tmp_path / "clone"
    events = _events(tmp_path / "events.csv")
    assert _run("init", str(src), "--pseudonymise").exit_code == 0
    assert (src / ".journeymap-key").is_file()
    assert _run("-w", str(src), "ingest", "events", str(events)).exit_code == 0
    dst.mkdir()
    assert ".journeymap-key" not in _git_clone(src, dst)
    r = _run("-w", str(dst), "ingest", "events", str(events))
    assert r.exit_code == 1
    line = _one_sentence(r.output)
    assert "journeymap key import" in line and "journeymap key new" in line
    key = _run("-w", str(src), "key", "export")
    assert key.exit_code == 0
    (tmp_path / "k.txt").write_text(key.output, encoding="utf-8")
    assert _run("-w", str(dst), "key", "import", str(tmp_path / "k.txt")).exit_code == 0
    assert _run("-w", str(dst), "ingest", "events", str(events)).exit_code == 0
    a = json.loads(_run("-w", str(src), "touchpoints", "--format", "json").output)
    b = json.loads(_run("-w", str(dst), "touchpoints", "--format", "json").output)
    assert a["rows"] == b["rows"]  # same key, same pseudonyms, same figures
