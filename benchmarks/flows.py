"""Benchmark: journeys + transitions + variants + a 4-step funnel + stage funnel, against pm4py.

Generates N events (default 10M, about 2.3M customers) with a Markov chain over
touchpoints into Parquet, then, each in its own process so peak memory is its own:

- journeymap on DuckDB (2 threads): build journeys, the transitions table, the top
  variants, a 4-step funnel and the stage funnel, all from the Parquet file;
- a hand-written DuckDB directly-follows query (LAG + GROUP BY), as a calibration of the
  machine at that moment (other work on the cores stretches every figure alike);
- pm4py: format_dataframe + discover_dfg, and get_variants, on the same events.

Prints each timing (wall and CPU seconds), the ratio, each side's peak memory (max RSS),
the targets met or not, and the load average at the start and the end. Two totals: the
whole set (the journeys built, as the first command after an ingest of old, or the ingest
itself, pays; then every analysis) and the *warm* set (the analyses alone, reading the
journeys kept in the warehouse, as every later command does: ``journeymap.journeys.cache``).
pm4py's total (format_dataframe, its own "build", included) is compared with both.

Usage::

    .venv/bin/python benchmarks/flows.py                 # 10M events
    .venv/bin/python benchmarks/flows.py --events 1000000
    .venv/bin/python benchmarks/flows.py --events 1000000 --skip-pm4py
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TOUCHPOINTS = [
    "Search ad",
    "Social ad",
    "Email",
    "Home",
    "Category",
    "Product",
    "Reviews",
    "Compare",
    "Cart",
    "Checkout",
    "Purchase",
    "Support chat",
    "Help page",
    "Store visit",
    "App open",
]
STAGES = {
    "Search ad": "awareness",
    "Social ad": "awareness",
    "Email": "awareness",
    "Home": "consideration",
    "Category": "consideration",
    "Product": "consideration",
    "Reviews": "consideration",
    "Compare": "consideration",
    "Help page": "consideration",
    "Cart": "purchase",
    "Checkout": "purchase",
    "Purchase": "purchase",
    "Support chat": "service",
    "Store visit": "service",
    "App open": "service",
}
BLUEPRINT = {
    "stages": [{"name": s} for s in ("awareness", "consideration", "purchase", "service")],
    "touchpoints": [{"name": t, "stage": s} for t, s in STAGES.items()],
    "goals": [{"touchpoint": "Purchase"}],
    "journey": {"inactivity_gap": "30d", "conversion_window": "30d"},
}
FUNNEL = ["Home", "Product", "Cart", "Purchase"]
EVENTS_PER_CUSTOMER = 4.35
MEMORY_LIMIT = os.environ.get("JOURNEYMAP_BENCH_MEMORY", "1200MB")


def generate(n_events: int, path: Path, seed: int = 7) -> None:
    """Write ``n_events`` events (customer_id, ts, touchpoint, event_id, revenue) to Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    k = len(TOUCHPOINTS)
    trans = rng.dirichlet(np.full(k, 0.3), size=k)
    funnel_idx = [TOUCHPOINTS.index(t) for t in FUNNEL]
    for a, b in zip(funnel_idx, funnel_idx[1:], strict=False):
        trans[a, b] += 1.0
    trans /= trans.sum(axis=1, keepdims=True)
    cum = trans.cumsum(axis=1)
    n_customers = int(n_events / EVENTS_PER_CUSTOMER)
    lengths = rng.geometric(1 / EVENTS_PER_CUSTOMER, size=n_customers)
    lengths = np.minimum(lengths, 60)
    scale = n_events / lengths.sum()
    lengths = np.maximum(1, np.round(lengths * scale).astype(np.int64))
    total = int(lengths.sum())
    cust = np.repeat(np.arange(n_customers), lengths)
    starts = np.cumsum(lengths) - lengths
    pos = np.arange(total) - np.repeat(starts, lengths)
    state = np.empty(total, dtype=np.int16)
    state[starts] = rng.choice([0, 1, 2, 3], size=n_customers, p=[0.35, 0.25, 0.2, 0.2])
    for step in range(1, int(lengths.max())):
        idx = np.flatnonzero(pos == step)
        if idx.size == 0:
            break
        u = rng.random(idx.size)
        prev = state[idx - 1]
        state[idx] = (u[:, None] > cum[prev]).sum(axis=1).clip(max=k - 1)
    gaps = rng.exponential(2 * 86400, size=total)
    gaps[rng.random(total) < 0.03] += 45 * 86400
    gaps[starts] = rng.uniform(0, 150 * 86400, size=n_customers)
    t0 = np.datetime64("2024-01-01T00:00:00", "s").astype(np.int64)
    # cumulative gaps within each customer: cumsum over all, minus the cumsum before the customer
    cs = np.cumsum(gaps)
    ts = t0 + (cs - np.repeat(cs[starts] - gaps[starts], lengths)).astype(np.int64)
    names = np.array(TOUCHPOINTS, dtype=object)
    tp = names[state]
    revenue = np.where(tp == "Purchase", 50.0, np.nan)
    table = pa.table(
        {
            "customer_id": pa.array(np.char.add("c", cust.astype("U8")).astype(object)),
            "ts": pa.array(ts.astype("datetime64[s]")).cast(pa.timestamp("us")),
            "touchpoint": pa.array(tp),
            "event_id": pa.array(np.char.zfill(np.arange(total).astype("U10"), 10).astype(object)),
            "revenue": pa.array(revenue, mask=np.isnan(revenue)),
        }
    )
    pq.write_table(table, path, row_group_size=1_000_000)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_CPU = [0.0]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _step(name: str, seconds: float, **extra) -> None:
    """Report one finished step as a JSON line (the parent keeps them even if a later step times out).

    ``cpu_s`` is the CPU time the step used (all threads): a figure that holds when
    other work shares the cores and wall-clock times stretch.
    """
    now = _cpu()
    cpu, _CPU[0] = now - _CPU[0], now
    print(json.dumps({"step": name, "seconds": seconds, "cpu_s": cpu, "peak_mb": _peak_mb(), **extra}), flush=True)


def run_ours(path: Path) -> None:
    """Time journeymap on DuckDB (2 threads), each analysis on the journeys built once."""
    import ibis

    from journeymap.blueprint import Blueprint
    from journeymap.journeys import build_journeys, transitions, variants

    con = ibis.duckdb.connect()
    # 2 threads (the target machine); a memory limit so DuckDB spills to disk rather than grow past it,
    # into a folder of its own (the default, ./.tmp, is shared by every in-memory DuckDB started here)
    spill = tempfile.mkdtemp(prefix="flows-spill-")
    atexit.register(shutil.rmtree, spill, ignore_errors=True)
    con.raw_sql(
        f"SET threads = 2; SET TimeZone = 'UTC'; SET memory_limit = '{MEMORY_LIMIT}'; "
        f"SET temp_directory = '{spill}'; SET preserve_insertion_order = false"
    )
    events = con.read_parquet(str(path), table_name="events")
    bp = Blueprint.model_validate(BLUEPRINT)

    # Build the journeys once and keep them, as an analyst session (or the map) would.
    _CPU[0] = _cpu()
    t = time.perf_counter()
    journeys = build_journeys(events, bp)
    # kept in a compressed in-memory database: uncompressed, 10M journey rows outgrow the memory
    # limit and every later query would read them back from spill files
    con.raw_sql("ATTACH ':memory:' AS kept (COMPRESS)")
    con.raw_sql(f"CREATE TABLE kept.j AS {con.compile(journeys)}")
    jt = con.table("j", database="kept")
    jcount = con.execute(jt.filter(jt.step == 1).count())
    _step("journeys", time.perf_counter() - t, journeys=int(jcount))
    t = time.perf_counter()
    tr = transitions(jt, con=con)
    _step("transitions", time.perf_counter() - t, edges=len(tr.rows))
    t = time.perf_counter()
    va = variants(jt, top=20, con=con)
    _step("variants (top 20)", time.perf_counter() - t, variants=va.meta.get("variants"))
    _time_part_b(jt, bp, con)


def _time_part_b(jt, bp, con) -> None:
    """Time part B's 4-step funnel and stage funnel (journeymap.journeys.funnels / stages)."""
    from journeymap.errors import JourneymapError

    try:
        from journeymap.journeys import funnels, stages
    except ImportError:
        _step("funnels", 0.0, note="journeymap.journeys.funnels / stages not available: not timed")
        return
    for name, call in (
        ("funnel (4 steps)", lambda: funnels.funnel(jt, FUNNEL, con=con)),
        ("stage funnel", lambda: stages.stage_funnel(jt, bp, con=con)),
    ):
        t = time.perf_counter()
        try:
            call()
        except (AttributeError, TypeError, JourneymapError) as e:
            _step(name, time.perf_counter() - t, note=f"failed: {str(e).splitlines()[0]}")
        else:
            _step(name, time.perf_counter() - t)


def run_pm4py(path: Path) -> None:
    """Time pm4py's format_dataframe + discover_dfg and get_variants on the same events."""
    import contextlib
    import io

    import pandas as pd

    with contextlib.redirect_stdout(io.StringIO()):
        import pm4py
    df = pd.read_parquet(path, columns=["customer_id", "ts", "touchpoint"])
    _CPU[0] = _cpu()
    t = time.perf_counter()
    log = pm4py.format_dataframe(df, case_id="customer_id", activity_key="touchpoint", timestamp_key="ts")
    _step("format_dataframe", time.perf_counter() - t)
    t = time.perf_counter()
    dfg, _, _ = pm4py.discover_dfg(log)
    _step("discover_dfg", time.perf_counter() - t, edges=len(dfg))
    t = time.perf_counter()
    var = pm4py.get_variants(log)
    _step("get_variants", time.perf_counter() - t, variants=len(var))


def run_sql(path: Path) -> None:
    """Calibration: a hand-written DuckDB directly-follows query (LAG + GROUP BY) on the same file and settings.

    It is the floor for one pass in order over the events on this machine at this moment, so the
    figures above can be read against it when other work shares the cores.
    """
    import duckdb

    spill = tempfile.mkdtemp(prefix="flows-spill-")
    atexit.register(shutil.rmtree, spill, ignore_errors=True)
    con = duckdb.connect()
    con.execute(
        f"SET threads = 2; SET memory_limit = '{MEMORY_LIMIT}'; SET temp_directory = '{spill}'; "
        "SET preserve_insertion_order = false"
    )
    _CPU[0] = _cpu()
    t = time.perf_counter()
    edges = con.execute(
        "SELECT prev, touchpoint, count(*) FROM (SELECT touchpoint, lag(touchpoint) OVER "
        "(PARTITION BY customer_id ORDER BY ts, event_id) AS prev FROM read_parquet(?)) GROUP BY ALL",
        [str(path)],
    ).fetchall()
    _step("LAG + GROUP BY", time.perf_counter() - t, edges=len(edges))


def _child(part: str, path: Path, timeout: float) -> list[dict]:
    """Run one part in its own process; its finished steps (all of them unless it timed out)."""
    cmd = [sys.executable, __file__, "--part", part, "--data", str(path)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
        stdout, failed = res.stdout, (f"exit {res.returncode}: {res.stderr[-2000:]}" if res.returncode else None)
    except subprocess.TimeoutExpired as e:
        raw = e.stdout or b""
        stdout = raw.decode() if isinstance(raw, bytes) else raw
        failed = f"stopped after {timeout:.0f} s"
    steps = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    if failed:
        steps.append(
            {"step": "(rest)", "seconds": float("nan"), "cpu_s": float("nan"), "peak_mb": float("nan"), "note": failed}
        )
    return steps


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=10_000_000, help="events to generate (default 10M)")
    ap.add_argument("--data", type=Path, help="use this Parquet file instead of generating one")
    ap.add_argument("--skip-pm4py", action="store_true", help="time journeymap only")
    ap.add_argument("--timeout", type=float, default=600, help="seconds allowed per side (default 600)")
    ap.add_argument("--part", choices=["ours", "pm4py", "sql", "generate"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.part == "generate":
        generate(args.events, args.data)
        return
    if args.part:
        {"ours": run_ours, "pm4py": run_pm4py, "sql": run_sql}[args.part](args.data)
        return
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp:
        path = args.data or Path(tmp) / "events.parquet"
        if args.data is None:
            t = time.perf_counter()
            # in a process of its own: Linux keeps a process's peak RSS across exec, so the
            # children started later would otherwise report the generator's memory as theirs
            subprocess.run(
                [sys.executable, __file__, "--part", "generate", "--data", str(path), "--events", str(args.events)],
                check=True,
            )
            print(f"generated {args.events:,} events in {time.perf_counter() - t:.1f} s -> {path}")
        ours = _report("journeymap (DuckDB, 2 threads)", _child("ours", path, args.timeout))
        _report("hand-written DuckDB SQL (calibration)", _child("sql", path, args.timeout))
        peak = max((v for v in ours["peak"].values() if v == v), default=float("nan"))
        for kind in ("wall", "cpu"):  # the set once the journeys are kept (built by the last ingest)
            ours[kind]["warm"] = ours[kind]["total"] - ours[kind].get("journeys", float("nan"))
        print(
            f"  {'warm (kept journeys)':<20} {ours['wall']['warm']:8.2f} s wall {ours['cpu']['warm']:8.2f} s cpu"
            "  the set once the journeys are kept (ingest builds them; every later command reads them)"
        )
        if "(rest)" in ours["wall"]:
            print("targets: not judged, the journeymap run failed (see above)")
        else:
            print(
                f"targets: whole set {ours['wall']['total']:.1f} s wall (<= 10 s: {ours['wall']['total'] <= 10}), "
                f"warm {ours['wall']['warm']:.1f} s wall (<= 10 s: {ours['wall']['warm'] <= 10}), "
                f"peak {peak:,.0f} MB (<= 2048 MB: {peak <= 2048})"
            )
        if not args.skip_pm4py:
            theirs = _report("pm4py", _child("pm4py", path, args.timeout))
            same = ("journeys", "transitions", "variants (top 20)")
            for kind in ("wall", "cpu"):
                if not (ours[kind]["total"] > 0 and theirs[kind]["total"] > 0):
                    break
                ours_same = sum(ours[kind].get(k, float("nan")) for k in same)
                print(
                    f"ratio pm4py / journeymap ({kind} time): journeys + transitions + variants "
                    f"{theirs[kind]['total'] / ours_same:.1f}x; whole set "
                    f"{theirs[kind]['total'] / ours[kind]['total']:.1f}x (target >= 8x); warm set "
                    f"{theirs[kind]['total'] / ours[kind]['warm']:.1f}x"
                )
        print("load average (1, 5, 15 min) at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


def _report(title: str, steps: list[dict]) -> dict:
    """Print one side's steps (wall and CPU seconds), totals and peak memory; return the figures."""
    peak = max((s["peak_mb"] for s in steps if s["peak_mb"] == s["peak_mb"]), default=float("nan"))
    print(f"{title}: peak memory {peak:,.0f} MB")
    out: dict = {"wall": {}, "cpu": {}, "peak": {}}
    for s in steps:
        extra = ", ".join(
            f"{k} {v:,}" if isinstance(v, int) else f"{k}: {v}"
            for k, v in s.items()
            if k not in ("step", "seconds", "cpu_s", "peak_mb")
        )
        print(f"  {s['step']:<20} {s['seconds']:8.2f} s wall {s['cpu_s']:8.2f} s cpu  {extra}")
        out["wall"][s["step"]], out["cpu"][s["step"]], out["peak"][s["step"]] = s["seconds"], s["cpu_s"], s["peak_mb"]
    for kind in ("wall", "cpu"):
        out[kind]["total"] = sum(v for v in out[kind].values() if v == v)
    print(f"  {'total':<20} {out['wall']['total']:8.2f} s wall {out['cpu']['total']:8.2f} s cpu")
    return out


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
