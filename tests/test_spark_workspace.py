"""A Spark workspace through the CLI, as a user works it, against a DuckDB workspace of the same files.

One flow, each step a separate ``journeymap`` process: ``journeymap demo`` writes the source files
and loads them into a DuckDB workspace; ``journeymap init --url spark://local[2]`` makes a Spark
workspace, which ingests the same files (and a file with bad rows) and builds the map and the
report. The map must equal DuckDB's (figures to 1e-9), the bad rows must be quarantined with the
same reasons, a re-ingest must add nothing, a refused ingest must leave the tables as they were,
later processes must see the tables, and no Spark scratch folder may be left behind.

Spark Connect (``sc://``) is tested as far as its settings and its one-sentence error.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from journeymap.engine.spark_store import CATALOG, STAGING_PREFIX
from tests.conftest import _spark_available

pytestmark = [pytest.mark.spark, pytest.mark.slow]

TIMES: dict[str, float] = {}
"""Wall seconds of each CLI call (printed at the end, with -s)."""

BAD_EVENTS = (
    '"user","event_time","event","channel","utm_source","utm_medium","utm_campaign","session","order_value","device"\n'
    '"B1",2025-03-01 10:00:00,"landing","web",,,,"B1-0",,\n'  # 1: good
    '"",2025-03-01 10:01:00,"landing","web",,,,"x-0",,\n'  # 2: missing customer id
    '"B3",not a time,"landing","web",,,,"B3-0",,\n'  # 3: unparseable timestamp
    '"B4",2025-03-01 10:02:00,"","web",,,,"B4-0",,\n'  # 4: missing event name
    '"B5",1850-01-01 00:00:00,"landing","web",,,,"B5-0",,\n'  # 5: implausible year
    '"B6",2025-03-01 10:03:00,"basket","web",,,,"B6-0",lots,\n'  # 6: revenue not a number
    '"B7",2025-03-01 10:04:00,"basket","web",,,,"B7-0",1,,extra\n'  # 7: malformed line (11 fields)
    '"B8",2025-03-01 10:05:00,"checkout","web",,,,"B8-0",12.5,\n'  # 8: good
)
EXPECTED_BAD = {2: "missing customer id", 3: "unparseable timestamp", 4: "missing event name", 5: "implausible year"}
"""File rows and the start of their reason (rows 6 and 7: a number and a malformed-line reason)."""

MAP_META = {"generated_at", "engine", "workspace", "build_seconds", "ingest_id", "time"}
"""Map fields that differ by run or by workspace name, not by figures."""


TMP: list[Path] = []
"""The temporary folder ($TMPDIR) of the processes the flow starts: none may leave anything in it."""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNEYMAP_WORKSPACE", "JAVA_TOOL_OPTIONS")}
    env["COLUMNS"] = "200"
    if TMP:
        env["TMPDIR"] = str(TMP[0])
    return env


def jm_together(calls: dict[str, tuple[str, ...]]) -> dict[str, subprocess.CompletedProcess]:
    """Run several ``journeymap`` processes at once (readers of one workspace share it); wait for all."""
    t0 = time.perf_counter()
    procs = {
        label: subprocess.Popen(
            [sys.executable, "-m", "journeymap", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for label, args in calls.items()
    }
    out = {}
    for label, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=900)
        TIMES[label] = round(time.perf_counter() - t0, 1)
        out[label] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        assert proc.returncode == 0, f"{label} failed ({proc.returncode}): {stderr[-2000:]}"
    return out


def jm(*args: str, label: str | None = None, ok: bool = True) -> subprocess.CompletedProcess:
    """Run ``journeymap ARGS`` as its own process; its wall time goes to TIMES under ``label``."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "journeymap", *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
        check=False,
    )
    if label:
        TIMES[label] = round(time.perf_counter() - t0, 1)
    if ok:
        assert done.returncode == 0, f"journeymap {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}"
    return done


def ingest(ws: Path, table: str, path: Path, label: str | None = None) -> dict:
    return json.loads(jm("-w", str(ws), "ingest", table, str(path), "--format", "json", label=label).stdout)["total"]


def map_diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two map documents differ: figures beyond 1e-9 relative, any other value; meta fields skipped."""
    out: list[str] = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in MAP_META:
                continue
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'DuckDB' if k in a else 'Spark'}")
            else:
                out += map_diff(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items against {len(b)}"]
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += map_diff(x, y, f"{path}[{i}]")
    elif isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        if not (math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))):
            out.append(f"{path}: {a!r} against {b!r}")
    elif a != b:
        out.append(f"{path}: {str(a)[:80]!r} against {str(b)[:80]!r}")
    return out


@pytest.fixture(scope="module")
def flow(tmp_path_factory, request) -> dict[str, Any]:
    """Both workspaces, the same files loaded, the bad file ingested into each (CLI calls only)."""
    reason = _spark_available()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("spark_ws")
    (root / "tmp").mkdir()
    TMP[:] = [root / "tmp"]
    request.addfinalizer(TMP.clear)
    request.addfinalizer(lambda: print("\nwall seconds of the CLI calls:", json.dumps(TIMES)))
    duck, spark = root / "duck", root / "spark"
    demo = json.loads(
        jm("demo", str(duck), "--customers", "300", "--seed", "7", "--format", "json", label="duckdb demo").stdout
    )
    files = {k: Path(demo["files"][k]) for k in ("customers", "events", "feedback")}
    jm("init", str(spark), "--url", "spark://local[2]", label="spark init")
    shutil.copy(duck / "blueprint.yaml", spark / "blueprint.yaml")
    loaded = {t: ingest(spark, t, files[t], label=f"spark ingest {t}") for t in ("customers", "events", "feedback")}
    bad = root / "events_bad.csv"
    bad.write_text(BAD_EVENTS, encoding="utf-8")
    bad_counts = {"duckdb": ingest(duck, "events", bad), "spark": ingest(spark, "events", bad, "spark ingest bad")}
    again = {
        "duckdb": ingest(duck, "events", files["events"]),
        "spark": ingest(spark, "events", files["events"], label="spark ingest events again"),
    }
    # new processes read what the ingest processes published; the Spark map and report at once
    # (two readers of the Spark workspace), beside DuckDB's map
    report = root / "spark-report.html"
    built = jm_together(
        {
            "spark map": ("-w", str(spark), "map", "--format", "json"),
            "spark report": ("-w", str(spark), "report", "-o", str(report)),
            "duckdb map": ("-w", str(duck), "map", "--format", "json"),
        }
    )
    return {
        "root": root,
        "duck": duck,
        "spark": spark,
        "demo": demo,
        "files": files,
        "loaded": loaded,
        "bad": bad,
        "bad_counts": bad_counts,
        "again": again,
        "built": built,
        "report": report,
    }


def test_spark_ingest_counts_match_the_duckdb_demo(flow):
    rows = flow["demo"]["rows"]
    for table in ("customers", "events", "feedback"):
        got = flow["loaded"][table]
        assert got["loaded"] == rows[table], table
        assert got["rows_read"] == got["loaded"] + got["quarantined"] + got["duplicate"]
    # the same events again: every row is a duplicate of one already there (identity), nothing loaded
    for again in flow["again"].values():
        assert again["loaded"] == 0 and again["duplicate"] == again["rows_read"] == rows["events"]


def test_bad_rows_quarantined_alike(flow):
    counts = flow["bad_counts"]
    assert counts["spark"] == {**counts["duckdb"], "seconds": counts["spark"]["seconds"]}
    assert (counts["spark"]["rows_read"], counts["spark"]["loaded"], counts["spark"]["quarantined"]) == (8, 2, 6)

    out = jm("-w", str(flow["duck"]), "quarantine", "--source", str(flow["bad"]), "--limit", "0", "--format", "json")
    duck_rows = sorted((r["row_number"], r["reason"], r["raw"]) for r in json.loads(out.stdout))
    # the Spark warehouse's quarantine, read from its Parquet files as the catalog names them (not through journeymap)
    import duckdb

    wh = flow["spark"] / "spark-warehouse"
    folder = wh / json.loads((wh / CATALOG).read_text(encoding="utf-8"))["tables"]["quarantine"]
    spark_rows = sorted(
        duckdb.execute(
            "SELECT row_number, reason, raw FROM read_parquet(?) WHERE source = ?",
            [str(folder / "*.parquet"), str(flow["bad"])],
        ).fetchall()
    )
    assert spark_rows == duck_rows
    reasons = {n: reason for n, reason, _ in spark_rows}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7]
    for n, start in EXPECTED_BAD.items():
        assert reasons[n].startswith(start), (n, reasons[n])
    assert "order_value" in reasons[6] or "revenue" in reasons[6], reasons[6]
    assert reasons[7].startswith("malformed line"), reasons[7]


def test_spark_map_equals_duckdb_map(flow):
    spark_map = json.loads(flow["built"]["spark map"].stdout)
    duck_map = json.loads(flow["built"]["duckdb map"].stdout)
    assert spark_map["meta"]["engine"] == "pyspark" and duck_map["meta"]["engine"] == "duckdb"
    assert duck_map["stages"] and duck_map["flows"], "the map is empty: nothing was compared"
    diffs = map_diff(duck_map, spark_map)
    # ties at a top-N cut (a persona's top 3 paths) are broken by journey id, the same on both engines
    assert diffs == [], f"{len(diffs)} differences: {diffs[:10]}"


def test_spark_report_is_written(flow):
    assert str(flow["report"]) in flow["built"]["spark report"].stdout
    html = flow["report"].read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and len(html) > 10_000
    assert "Delivery options" in html  # the demo's planted friction touchpoint, from the Spark warehouse


def test_spark_output_is_quiet(flow):
    spark_map = json.loads(flow["built"]["spark map"].stdout)
    assert spark_map["summary"]  # stdout is the JSON document alone
    for label in ("spark map", "spark report"):
        stderr = flow["built"][label].stderr
        for noise in ("WARN", "log4j", "Picked up", "SparkContext", "Stage ", "Traceback"):
            assert noise not in stderr, (label, stderr[:500])


def test_a_refused_ingest_leaves_the_tables(flow):
    spark = flow["spark"]
    catalog = (spark / "spark-warehouse" / CATALOG).read_text(encoding="utf-8")
    broken = flow["root"] / "events_unclosed.csv"
    broken.write_text(flow["files"]["events"].read_text(encoding="utf-8") + '"B9",2025-03-01 10:00:00,"landing\n')
    done = jm("-w", str(spark), "ingest", "events", str(broken), ok=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (spark / "spark-warehouse" / CATALOG).read_text(encoding="utf-8") == catalog
    assert not list((spark / "spark-warehouse").glob(f"{STAGING_PREFIX}*"))


def test_no_spark_scratch_left(flow):
    # runs last in this module: every Spark process above has ended, each with $TMPDIR set to TMP
    assert list(TMP[0].iterdir()) == []
    left = (
        list((flow["spark"] / ".journeymap-spark").glob("run-*"))
        if (flow["spark"] / ".journeymap-spark").exists()
        else []
    )
    assert left == []
    assert not list((flow["spark"] / "spark-warehouse").glob(f"{STAGING_PREFIX}*"))


def test_spark_connect_url_is_checked(tmp_path):
    done = jm("init", str(tmp_path / "a"), "--url", "sc://", ok=False)
    assert done.returncode == 1 and "names no host" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "a").exists()  # nothing half-written
    jm("init", str(tmp_path / "b"), "--url", "sc://127.0.0.1:9")
    assert "spark_dir" in (tmp_path / "b" / "journeymap.toml").read_text(encoding="utf-8")
    done = jm("-w", str(tmp_path / "b"), "info", ok=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    try:
        import grpc  # noqa: F401

        assert "Cannot reach the Spark Connect server 'sc://127.0.0.1:9'" in done.stderr, done.stderr
    except ModuleNotFoundError:
        assert "pip install 'pyspark[connect]'" in done.stderr, done.stderr


def test_a_session_without_workspace_leaves_no_scratch(tmp_path):
    """``connect_spark`` (the test suite's and a library user's session) removes its scratch at exit."""
    reason = _spark_available()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    code = (
        "from journeymap.engine import connect_spark, execute\n"
        "con = connect_spark('local[2]')\n"
        "t = con.sql('SELECT 1 AS x UNION ALL SELECT 2 AS x')\n"
        "print(int(execute(t.x.sum(), con)))\n"
    )
    env = {**_env(), "TMPDIR": str(tmp)}
    env.pop("JOURNEYMAP_SPARK_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "3"
    assert list(tmp.iterdir()) == []
    for noise in ("WARN", "log4j", "Picked up"):
        assert noise not in done.stderr, done.stderr[:500]


def test_ingest_into_a_spark_session_without_workspace_is_told() -> None:
    from journeymap.engine.loader import loader_for
    from journeymap.errors import InputError

    class Session:  # a Spark connection made outside a workspace: no warehouse folder to publish into
        name = "pyspark"

    with pytest.raises(InputError, match=r"^Ingest into Spark needs a Spark workspace \(journeymap init DIR --url"):
        loader_for(Session())
