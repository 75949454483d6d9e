"""Shared fixtures: a fresh workspace, the shared datasets, and one ``con`` per engine."""

from __future__ import annotations

import csv
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPARK_TEST_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
SHARED_DATA = Path(os.environ.get("JOURNEYMAP_SHARED_DATA", ROOT.parent / "shared" / "data"))


def write_csv(path: Path, rows: list[dict]) -> Path:
    """Write dict rows as a UTF-8 CSV with a header (the keys of the first row); return ``path``."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


# The six journeys the path, transition and touchpoint tests share (goal Buy, gap 30d, window 7d,
# data end day 43):
#   a1 Ad > Site > Site > Buy (converted)   a2 Site (dropped)   a3 Ad (in progress)
#   b1 Ad > Site (dropped)   c1 Ad > Site (in progress)   d1 Ad > Buy (converted)
SIX_JOURNEYS_START = datetime(2024, 3, 1)


def day(n: float) -> datetime:
    """``n`` days after :data:`SIX_JOURNEYS_START`."""
    return SIX_JOURNEYS_START + timedelta(days=n)


SIX_JOURNEYS = [
    ("a", day(0), "Ad"),
    ("a", day(1), "Site"),
    ("a", day(1.5), "Site"),
    ("a", day(2), "Buy"),
    ("a", day(3), "Site"),
    ("a", day(43), "Ad"),
    ("b", day(0), "Ad"),
    ("b", day(5), "Site"),
    ("c", day(40), "Ad"),
    ("c", day(41), "Site"),
    ("d", day(10), "Ad"),
    ("d", day(10.5), "Buy"),
]
SIX_JOURNEYS_SETTINGS = {
    "goals": [{"touchpoint": "Buy"}],
    "journey": {"inactivity_gap": "30d", "conversion_window": "7d"},
}


def six_journeys_events(channel: bool = False):
    """:data:`SIX_JOURNEYS` as an events table (ids in row order; ``channel``: paid for Ad, web otherwise)."""
    import ibis

    cols = {
        "customer_id": [r[0] for r in SIX_JOURNEYS],
        "ts": [r[1] for r in SIX_JOURNEYS],
        "touchpoint": [r[2] for r in SIX_JOURNEYS],
        "event_id": [f"{i:03d}" for i in range(len(SIX_JOURNEYS))],
    }
    if channel:
        cols["channel"] = ["paid" if r[2] == "Ad" else "web" for r in SIX_JOURNEYS]
    return ibis.memtable(cols)


@pytest.fixture
def ws(tmp_path):
    """A fresh, empty workspace on an embedded DuckDB file."""
    from journeymap.workspace import Workspace

    w = Workspace.init(tmp_path / "ws")
    yield w
    w.close()


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory):
    """Each demo workspace made once per session, the user's way (``journeymap demo``).

    A function ``(customers=5000, seed=42) -> Path``. The folder it returns is shared by every test
    of the session: treat it as read-only, or take a copy with ``demo_copy`` (a copy is much
    cheaper than a new demo).
    """
    from click.testing import CliRunner

    from journeymap.cli import main

    made: dict[tuple[int, int], Path] = {}
    root = tmp_path_factory.mktemp("demo-cache")

    def get(customers: int = 5000, seed: int = 42) -> Path:
        if (customers, seed) not in made:
            path = root / f"c{customers}-s{seed}" / "shop"
            args = ["demo", str(path), "--customers", str(customers), "--seed", str(seed)]
            r = CliRunner().invoke(main, args)
            assert r.exit_code == 0, r.output
            made[customers, seed] = path
        return made[customers, seed]

    return get


@pytest.fixture(scope="session")
def demo_copy(demo_workspace):
    """A function ``(dest, customers=5000, seed=42) -> dest``: a private copy of a demo at ``dest``.

    The copy is the demo as ``journeymap demo`` leaves it (nothing scored, no reports), whatever
    other tests did with their own copies.
    """

    def copy(dest: Path, customers: int = 5000, seed: int = 42) -> Path:
        shutil.copytree(demo_workspace(customers, seed), dest)
        return Path(dest)

    return copy


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory, demo_copy) -> Path:
    """The default demo as a user makes it: ``journeymap demo`` then ``journeymap report`` (one per session).

    Returns the HTML report's path; the workspace is its folder's parent's ``shop``.
    """
    from click.testing import CliRunner

    from journeymap.cli import main

    ws = demo_copy(tmp_path_factory.mktemp("demo-report") / "shop")
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

    # A test session's JVM is short-lived: its optimising JIT compiler (C2) and G1's threads cost
    # more CPU than they save, so the suite's Spark runs with the quick compiler only and the serial
    # collector: the 44 Spark tests took 22% less JVM CPU time (193 s against 249 s) in the same
    # wall time (177 s against 180 s on 2 cores); the same queries, the same results. A
    # JAVA_TOOL_OPTIONS set by the caller wins.
    own = "JAVA_TOOL_OPTIONS" not in os.environ
    if own:
        os.environ["JAVA_TOOL_OPTIONS"] = SPARK_TEST_JAVA_OPTIONS
    try:
        return connect_spark("local[2]")
    finally:
        if own:
            os.environ.pop("JAVA_TOOL_OPTIONS", None)


@pytest.fixture(scope="session")
def duckdb_con():
    from journeymap.engine import connect

    return connect("duckdb://")


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def con(request):
    """One connection per engine: the analytics suite runs on each."""
    return request.getfixturevalue(f"{request.param}_con")
