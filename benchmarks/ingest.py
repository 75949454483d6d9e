"""Ingest benchmark: rows per second and peak memory, against a peer in the same run.

Generates N events (default 10,000,000) as CSV and Parquet with DuckDB in a temp
folder, ingests each into a fresh workspace in a child process (so peak RSS is the
ingest's own), and compares with a peer that only reads the file into an
in-memory DuckDB table (pandas.read_csv for CSV, pyarrow.parquet.read_table for Parquet).

Run: ``.venv/bin/python benchmarks/ingest.py --rows 1000000``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
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


def _ours(path: str, queue) -> None:
    from journeymap.workspace import Workspace

    ws = Workspace.init(Path(tempfile.mkdtemp()) / "ws")
    t = time.perf_counter()
    r = ws.ingest_events(path)
    seconds = time.perf_counter() - t
    s = r.total
    queue.put({"seconds": seconds, "rows": s.rows_read, "loaded": s.loaded, "quarantined": s.quarantined,
               "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def _peer(path: str, queue) -> None:
    import duckdb

    t = time.perf_counter()
    if path.endswith(".csv"):
        import pandas as pd

        df = pd.read_csv(path)
    else:
        import pyarrow.parquet as pq

        df = pq.read_table(path)
    db = duckdb.connect()
    db.register("src", df)
    db.execute("CREATE TABLE events AS SELECT * FROM src")
    rows = db.execute("SELECT count(*) FROM events").fetchone()[0]
    queue.put({"seconds": time.perf_counter() - t, "rows": rows,
               "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def measure(target, path: Path) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(str(path), q))
    p.start()
    result = q.get()
    p.join()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        files = generate(Path(tmp), args.rows)
        figures = {"rows": args.rows, "generate_seconds": round(time.perf_counter() - t, 1)}
        for fmt, path in files.items():
            ours, peer = measure(_ours, path), measure(_peer, path)
            assert ours["rows"] == args.rows and ours["loaded"] == args.rows, ours
            figures[fmt] = {
                "journeymap_rows_per_s": round(ours["rows"] / ours["seconds"]),
                "journeymap_seconds": round(ours["seconds"], 2),
                "journeymap_peak_mb": round(ours["peak_mb"]),
                "peer": "pandas.read_csv" if fmt == "csv" else "pyarrow.parquet.read_table",
                "peer_rows_per_s": round(peer["rows"] / peer["seconds"]),
                "peer_peak_mb": round(peer["peak_mb"]),
                "speed_ratio_vs_peer": round(peer["seconds"] / ours["seconds"], 2),
                "file_mb": round(path.stat().st_size / 1e6, 1),
            }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{args.rows:,} events (generated in {figures['generate_seconds']} s)")
        for fmt in files:
            f = figures[fmt]
            print(f"{fmt:8} journeymap {f['journeymap_rows_per_s']:>12,} rows/s  peak {f['journeymap_peak_mb']:>6,} MB  | "
                  f"{f['peer']} {f['peer_rows_per_s']:>12,} rows/s  peak {f['peer_peak_mb']:>6,} MB  | "
                  f"ratio {f['speed_ratio_vs_peer']}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
