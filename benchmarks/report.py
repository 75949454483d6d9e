"""Benchmark: the HTML report of a 1M-event workspace (``build_map`` + ``render_html``), target <= 20 s.

Steps, each timed on the same machine in the same run:

1. **ingest**: ``journeymap demo`` data for ``--customers`` customers (about 5.3 events each;
   187,000 give about 1M events), generated and loaded into the workspace (skipped, and not
   timed, when the workspace exists);
2. **report** (own process, so its peak memory is its own): ``build_map(ws)`` then
   ``render_html`` into a file; run twice, the first build also scores the feedback (scores are
   kept in the workspace), the second is what a later ``journeymap report`` costs (``--rescore``
   drops the kept scores first, so a kept workspace measures the first build again);
3. **peer** (own process): a hand-written DuckDB query of the report's headline figures on the
   same warehouse (customers, journeys cut at the 30-day inactivity gap, journeys reaching the
   goal), the least any report of these events must do.

Prints each time, the ratios report / peer and report / ingest, peak memory (max RSS) of the
report process, the HTML size, the target met or not, and the load average at start and end
(others share the machine; CPU seconds are printed too since they depend less on the load).

Usage::

    .venv/bin/python benchmarks/report.py                        # 1M events in a temp folder
    .venv/bin/python benchmarks/report.py --workspace /tmp/rep-1m --keep
    .venv/bin/python benchmarks/report.py --workspace /tmp/rep-1m --rescore   # again, scoring included
    .venv/bin/python benchmarks/report.py --customers 20000      # quick run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 20.0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def step_ingest(workspace: str, customers: str) -> dict:
    """Generate the demo data and load it (own process: no DuckDB lock is left behind)."""
    from journeymap.demo import create_demo

    c0, t0 = _cpu(), time.perf_counter()
    create_demo(workspace, int(customers), force=True)
    return {"total_s": time.perf_counter() - t0, "cpu_s": _cpu() - c0}


def step_report(workspace: str, out: str, rescore: str = "") -> dict:
    """build_map + render_html, twice; returns the timings (run in its own process)."""
    from journeymap.maps import build_map
    from journeymap.report import render_html
    from journeymap.workspace import Workspace

    runs = []
    with Workspace.open(workspace) as ws:
        if rescore:  # the first build scores every comment again, as on a new workspace
            ws.con.drop_table("feedback_scores", force=True)
        for _ in range(2):
            c0, t0 = _cpu(), time.perf_counter()
            doc = build_map(ws)
            t1 = time.perf_counter()
            render_html(doc, out)
            t2 = time.perf_counter()
            runs.append({"build_s": t1 - t0, "render_s": t2 - t1, "total_s": t2 - t0, "cpu_s": _cpu() - c0})
    heads = {h.key: h.value for h in doc.summary.headlines}
    return {
        "runs": runs,
        "bytes": Path(out).stat().st_size,
        "events": doc.data_quality.rows.get("events"),
        "headlines": {k: heads.get(k) for k in ("customers", "journeys", "conversion")},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


PEER_SQL = """
WITH e AS (
  SELECT customer_id, ts, event_id, touchpoint, touchpoint IN ({goals}) AS is_goal,
         epoch(ts) - LAG(epoch(ts)) OVER w AS gap_s, LAG(touchpoint IN ({goals})) OVER w AS prev_goal
  FROM events WINDOW w AS (PARTITION BY customer_id ORDER BY ts, event_id)),
j AS (
  SELECT customer_id, is_goal,
         SUM(CASE WHEN gap_s IS NULL OR prev_goal OR gap_s > {gap_s} THEN 1 ELSE 0 END)
           OVER (PARTITION BY customer_id ORDER BY ts, event_id ROWS UNBOUNDED PRECEDING) AS journey
  FROM e),
per_journey AS (SELECT customer_id, journey, BOOL_OR(is_goal) AS converted FROM j GROUP BY ALL)
SELECT COUNT(DISTINCT customer_id) AS customers, COUNT(*) AS journeys, COUNT_IF(converted) AS converting
FROM per_journey
"""


def step_peer(workspace: str) -> dict:
    """The headline figures by one hand-written DuckDB query on the workspace's warehouse."""
    import duckdb

    from journeymap.workspace import Workspace

    with Workspace.open(workspace) as ws:
        goals = [g.touchpoint for g in ws.blueprint.goals]
        gap = ws.blueprint.journey.inactivity_gap
        db = ws.path / ws.settings.url.split("///", 1)[1]
    con = duckdb.connect(str(db), read_only=True, config={"threads": 2})
    sql = PEER_SQL.format(
        goals=", ".join("'" + g.replace("'", "''") + "'" for g in goals),
        gap_s=gap.total_seconds() if gap is not None else "'infinity'::DOUBLE",
    )
    c0, t0 = _cpu(), time.perf_counter()
    customers, journeys, converting = con.execute(sql).fetchone()
    took = time.perf_counter() - t0
    return {
        "total_s": took,
        "cpu_s": _cpu() - c0,
        "customers": customers,
        "journeys": journeys,
        "conversion": converting / journeys if journeys else None,
    }


def _child(step: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--step", step, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"step {step} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", help="Workspace folder (made when missing; default: a temp folder).")
    ap.add_argument("--customers", type=int, default=187_000, help="Demo customers (187,000 = about 1M events).")
    ap.add_argument("--keep", action="store_true", help="Keep a temp workspace.")
    ap.add_argument(
        "--rescore",
        action="store_true",
        help="Drop the workspace's kept feedback scores first (the first build scores again).",
    )
    ap.add_argument("--step", choices=["ingest", "report", "peer"], help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.step:
        step = {"ingest": step_ingest, "report": step_report, "peer": step_peer}[a.step]
        print(json.dumps(step(*a.args)))
        return

    load0 = os.getloadavg()
    tmp = None
    if a.workspace:
        ws = Path(a.workspace)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="jm-report-bench-"))
        ws = tmp / "ws"
    ingest_s = None
    try:
        if not (ws / "journeymap.toml").is_file():
            ingest_s = _child("ingest", str(ws), str(a.customers))["total_s"]
        rep = _child("report", str(ws), str(ws / "reports" / "bench.html"), "1" if a.rescore else "")
        peer = _child("peer", str(ws))
    finally:
        if tmp is not None and not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    load1 = os.getloadavg()

    first, second = rep["runs"]
    print(f"workspace: {ws} ({rep['events']:,} events, {rep['headlines']['customers']:,} customers)")
    if ingest_s is not None:
        print(f"ingest (generate + load the demo):   {ingest_s:7.2f} s")
    for name, r in (("report, first (scores feedback)", first), ("report, again (scores kept)", second)):
        print(
            f"{name:35s} {r['total_s']:7.2f} s  (build_map {r['build_s']:.2f} s + render_html "
            f"{r['render_s']:.2f} s; cpu {r['cpu_s']:.1f} s)"
        )
    print(f"peer: DuckDB headline query         {peer['total_s']:7.2f} s  (cpu {peer['cpu_s']:.1f} s)")
    print(
        f"headlines, report vs peer: customers {rep['headlines']['customers']} vs {peer['customers']}; "
        f"journeys {rep['headlines']['journeys']} vs {peer['journeys']}; conversion "
        f"{rep['headlines']['conversion']:.4f} vs {peer['conversion']:.4f}"
    )
    print(f"ratio report (first) / peer query:  {first['total_s'] / peer['total_s']:7.1f}x")
    if ingest_s is not None:
        print(f"ratio report (first) / ingest:      {first['total_s'] / ingest_s:7.2f}x")
    print(f"peak memory of the report process: {rep['peak_rss_mb']:.0f} MB; HTML {rep['bytes'] / 1e6:.2f} MB")
    met = "met" if first["total_s"] <= TARGET_S else "NOT met"
    print(
        f"target report <= {TARGET_S:.0f} s on 2 cores: {met} ({first['total_s']:.1f} s first, "
        f"{second['total_s']:.1f} s again)"
    )
    print(
        f"load average (1, 5, 15 min): start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; "
        f"end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
