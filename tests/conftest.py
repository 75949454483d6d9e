"""Shared fixtures: a fresh workspace, the shared datasets, and one ``con`` per engine."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("JOURNEYMAP_SHARED_DATA", ROOT.parent / "shared" / "data"))


def write_csv(path: Path, rows: list[dict]) -> Path:
    """Write dict rows as a UTF-8 CSV with a header (the keys of the first row); return ``path``."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture
def ws(tmp_path):
    """A fresh, empty workspace on an embedded DuckDB file."""
    from journeymap.workspace import Workspace

    w = Workspace.init(tmp_path / "ws")
    yield w
    w.close()


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory) -> Path:
    """The default demo as a user makes it: ``journeymap demo`` then ``journeymap report`` (one per session).

    Returns the HTML report's path; the workspace is its folder's parent's ``shop``.
    """
    from click.testing import CliRunner

    from journeymap.cli import main

    ws = tmp_path_factory.mktemp("demo-report") / "shop"
    r = CliRunner().invoke(main, ["demo", str(ws)])
    assert r.exit_code == 0, r.output
    out = ws.parent / "map.html"
    r = CliRunner().invoke(main, ["-w", str(ws), "report", "--output", str(out)])
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that use it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data is absent ({SHARED_DATA}); these tests need the shared datasets")
    return SHARED_DATA


def _spark_available() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ModuleNotFoundError:
        return "pyspark is not installed (pip install 'journeymap[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (Spark needs Java 17)"
    return None


@pytest.fixture(scope="session")
def spark_con():
    reason = _spark_available()
    if reason:
        pytest.skip(reason)
    from journeymap.engine import connect_spark

    return connect_spark("local[2]")


@pytest.fixture(scope="session")
def duckdb_con():
    from journeymap.engine import connect

    return connect("duckdb://")


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def con(request):
    """One connection per engine: the analytics suite runs on each."""
    return request.getfixturevalue(f"{request.param}_con")
