"""Ingest benchmark: rows per second and peak memory, against a peer in the same run.

Generates N events (default 10,000,000) as CSV and Parquet with DuckDB in a temp
folder, ingests each into a fresh workspace in a child process (so peak RSS is the
ingest's own), and compares with a peer that only reads the file into an
in-memory DuckDB table (pandas.read_csv for CSV, pyarrow.parquet.read_table for Parquet).

Besides wall-clock rows per second it prints CPU seconds (user + system, all threads) and
the load average before and after each measurement: on a shared machine the wall-clock
figures move with the load, the CPU seconds much less. ``--threads 1`` runs both sides on
one thread (DuckDB ``threads``, pyarrow ``use_threads=False``; pandas.read_csv has one anyway).

Run: ``.venv/bin/python benchmarks/ingest.py --rows 1000000 [--threads 1] [--formats parquet]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def generate(folder: Path, rows: int) -> dict[str, Path]:
    import duckdb

    db = duckdb.connect()
    db.execute(f"""
        CREATE TABLE g AS SELECT
            'c' || (i % {max(rows // 20, 1)}) AS user_id,
            TIMESTAMP '2024-01-01' + to_seconds(i * 3) AS event_time,
            (['visit', 'search', 'product', 'cart', 'purchase'])[1 + (hash(i) % 5)::INT] AS event_name,
            (['web', 'app', 'email'])[1 + (hash(i + 1) % 3)::INT] AS utm_source,
            's' || (i // 7) AS session_id,
            CASE WHEN i % 50 = 0 THEN round((i % 997) * 1.5, 2) END AS amount,
            'p' || (i % 1000) AS page
        FROM range({rows}) r(i)""")
    out = {"csv": folder / "events.csv", "parquet": folder / "events.parquet"}
    db.execute(f"COPY g TO '{out['csv']}' (HEADER)")
    db.execute(f"COPY g TO '{out['parquet']}' (FORMAT parquet)")
    return out


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _ours(path: str, threads: int | None, queue) -> None:
    from journeymap.workspace import Workspace

    ws = Workspace.init(Path(tempfile.mkdtemp()) / "ws")
    if threads:
        ws.con.con.execute(f"SET threads = {threads}")
    c, t = _cpu(), time.perf_counter()
    r = ws.ingest_events(path)
    seconds, cpu = time.perf_counter() - t, _cpu() - c
    s = r.total
    queue.put(
        {
            "seconds": seconds,
            "cpu": cpu,
            "rows": s.rows_read,
            "loaded": s.loaded,
            "quarantined": s.quarantined,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def _peer(path: str, threads: int | None, queue) -> None:
    import duckdb

    db = duckdb.connect()
    if threads:
        db.execute(f"SET threads = {threads}")
    if path.endswith(".csv"):
        import pandas as pd
    else:
        import pyarrow.parquet as pq
    c, t = _cpu(), time.perf_counter()
    if path.endswith(".csv"):
        df = pd.read_csv(path)
    else:
        df = pq.read_table(path, use_threads=threads != 1)
    db.register("src", df)
    db.execute("CREATE TABLE events AS SELECT * FROM src")
    rows = db.execute("SELECT count(*) FROM events").fetchone()[0]
    queue.put(
        {
            "seconds": time.perf_counter() - t,
            "cpu": _cpu() - c,
            "rows": rows,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def measure(target, path: Path, threads: int | None) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    load = os.getloadavg()[0]
    p = ctx.Process(target=target, args=(str(path), threads, q))
    p.start()
    result = q.get()
    p.join()
    result["load"] = (round(load, 1), round(os.getloadavg()[0], 1))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument(
        "--threads", type=int, default=None, help="DuckDB threads on both sides (default: DuckDB's own, the cores)."
    )
    ap.add_argument("--formats", default="csv,parquet", help="Comma-separated formats to measure (csv, parquet).")
    ap.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = ap.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        files = {k: v for k, v in generate(Path(tmp), args.rows).items() if k in formats}
        figures = {
            "rows": args.rows,
            "threads": args.threads or os.cpu_count(),
            "cores": os.cpu_count(),
            "generate_seconds": round(time.perf_counter() - t, 1),
        }
        for fmt, path in files.items():
            ours, peer = measure(_ours, path, args.threads), measure(_peer, path, args.threads)
            assert ours["rows"] == args.rows and ours["loaded"] == args.rows, ours
            figures[fmt] = {
                "journeymap_rows_per_s": round(ours["rows"] / ours["seconds"]),
                "journeymap_seconds": round(ours["seconds"], 2),
                "journeymap_cpu_seconds": round(ours["cpu"], 2),
                "journeymap_peak_mb": round(ours["peak_mb"]),
                "journeymap_load": ours["load"],
                "peer": "pandas.read_csv" if fmt == "csv" else "pyarrow.parquet.read_table",
                "peer_rows_per_s": round(peer["rows"] / peer["seconds"]),
                "peer_seconds": round(peer["seconds"], 2),
                "peer_cpu_seconds": round(peer["cpu"], 2),
                "peer_peak_mb": round(peer["peak_mb"]),
                "peer_load": peer["load"],
                "speed_ratio_vs_peer": round(peer["seconds"] / ours["seconds"], 2),
                "cpu_ratio_vs_peer": round(peer["cpu"] / ours["cpu"], 2),
                "file_mb": round(path.stat().st_size / 1e6, 1),
            }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"{args.rows:,} events (generated in {figures['generate_seconds']} s), "
            f"{figures['threads']} thread(s) on {figures['cores']} cores"
        )
        for fmt in files:
            f = figures[fmt]
            print(
                f"{fmt:8} journeymap {f['journeymap_rows_per_s']:>10,} rows/s  {f['journeymap_cpu_seconds']:>6} cpu-s  "
                f"peak {f['journeymap_peak_mb']:>5,} MB  load {f['journeymap_load'][0]}->{f['journeymap_load'][1]}  | "
                f"{f['peer']} {f['peer_rows_per_s']:>10,} rows/s  {f['peer_cpu_seconds']:>6} cpu-s  "
                f"peak {f['peer_peak_mb']:>5,} MB  load {f['peer_load'][0]}->{f['peer_load'][1]}  | "
                f"ratio {f['speed_ratio_vs_peer']}x (cpu {f['cpu_ratio_vs_peer']}x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
