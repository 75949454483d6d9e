"""Benchmark: every attribution model in one run vs pandas path building + ChannelAttribution.

Generates ``--events`` events (touches over 10 channels, some followed by a
purchase) into a Parquet file, then runs each side in its own process so that
peak memory (max RSS of that process) is measured separately:

Peak memory is each side's own high-water mark of resident memory (VmHWM).

- **journeymap**: read the Parquet file in DuckDB, build journeys, then
  ``attribute()`` with first, last, last non-direct, linear, time decay, U, J,
  inverse J, participation, Markov (order 1, exact) and Shapley (exact).
- **peer**: pandas reads the file, sorts, cuts journeys at purchases, builds
  ``" > "``-joined path strings and aggregates them; ChannelAttribution's
  ``heuristic_models`` and ``markov_model`` (defaults) run on the paths.

Both sides use the same journey definition (split at the goal, no inactivity
gap, no lookback); the script checks that first/last/linear credits agree.

Usage::

    .venv/bin/python benchmarks/attribution.py --events 1000000
    .venv/bin/python benchmarks/attribution.py --events 10000000 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from journeymap.engine import DEFAULT_MEMORY_LIMIT

CHANNELS = ["search", "social", "email", "display", "affiliate", "direct", "video", "referral", "sms", "push"]
MODELS = [
    "first",
    "last",
    "last_non_direct",
    "linear",
    "time_decay",
    "position",
    "j_shaped",
    "inverse_j",
    "participation",
    "markov",
    "shapley",
]


def generate(n_events: int, path: Path, seed: int = 0) -> int:
    """Write about ``n_events`` events to ``path`` (Parquet); return the exact count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_touch = int(n_events / 1.05)
    n_cust = max(1, n_touch // 5)
    cust = np.sort(rng.integers(0, n_cust, size=n_touch))
    gaps = rng.exponential(3600 * 20, size=n_touch)
    start = rng.uniform(0, 86400 * 300, size=n_cust)
    t = np.cumsum(gaps)
    first = np.searchsorted(cust, np.arange(n_cust))
    base = np.concatenate([[0.0], t])[first][cust]
    ts = start[cust] + t - base
    chan = rng.choice(len(CHANNELS), size=n_touch, p=np.array([20, 15, 15, 10, 5, 12, 8, 6, 5, 4]) / 100)
    p_buy = np.array([0.06, 0.03, 0.08, 0.02, 0.05, 0.07, 0.03, 0.04, 0.05, 0.02])[chan]
    buy = rng.random(n_touch) < p_buy
    nb = int(buy.sum())
    all_cust = np.concatenate([cust, cust[buy]])
    all_ts = np.concatenate([ts, ts[buy] + 60])
    tp = np.concatenate([chan, np.full(nb, len(CHANNELS))])
    revenue = np.concatenate([np.full(n_touch, np.nan), rng.gamma(2.0, 40.0, size=nb)])
    order = np.lexsort((all_ts, all_cust))
    names = np.array([*CHANNELS, "Buy"], dtype=object)
    epoch = np.datetime64("2024-01-01T00:00:00", "us")
    table = pa.table(
        {
            "customer_id": pa.array(np.char.add("c", all_cust[order].astype(str))),
            "ts": pa.array(epoch + (all_ts[order] * 1e6).astype("timedelta64[us]")),
            "touchpoint": pa.array(names[tp[order]].astype(str)),
            "revenue": pa.array(revenue[order], mask=np.isnan(revenue[order])),
            "event_id": pa.array(np.char.zfill(np.arange(len(order)).astype(str), 9)),
        }
    )
    pq.write_table(table, path)
    return len(order)


def run_ours(path: str, threads: int, memory: str | None = None) -> dict:
    import ibis

    from journeymap.attribution import AttributionSettings, attribute
    from journeymap.blueprint import Blueprint
    from journeymap.journeys import build_journeys

    t0 = time.perf_counter()
    con = ibis.duckdb.connect()
    con.raw_sql(f"SET threads = {threads}")
    if memory:
        con.raw_sql(f"SET memory_limit = '{memory}'")
    bp = Blueprint.model_validate(
        {
            "touchpoints": [*({"name": c, "channel": c, "kind": "paid"} for c in CHANNELS), {"name": "Buy"}],
            "goals": [{"touchpoint": "Buy"}],
            "journey": {"inactivity_gap": None, "conversion_window": None, "attribution_lookback": None},
        }
    )
    events = con.read_parquet(path)
    journeys = build_journeys(events, bp)
    result = attribute(journeys, MODELS, blueprint=bp, con=con, settings=AttributionSettings(include_in_progress=True))
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "credits": {f"{r[0]}|{r[1]}": r[2] for r in result.credits},
        "diagnostics": {k: v for k, v in result.diagnostics.items() if k != "warnings"},
    }


def run_peer(path: str) -> dict:
    import pandas as pd
    from ChannelAttribution import heuristic_models, markov_model

    t0 = time.perf_counter()
    df = pd.read_parquet(path).sort_values(["customer_id", "ts", "event_id"], kind="stable")
    df["goal"] = df["touchpoint"] == "Buy"
    prev_goal = df.groupby("customer_id", sort=False)["goal"].shift(fill_value=False)
    df["journey"] = prev_goal.astype("int64").groupby(df["customer_id"], sort=False).cumsum()
    df["value"] = df["revenue"].where(df["goal"], 0.0).fillna(0.0)
    key = ["customer_id", "journey"]
    per = df.groupby(key, sort=False).agg(conv=("goal", "max"), value=("value", "sum"))
    touches = df[~df["goal"]]
    paths = touches.groupby(key, sort=False)["touchpoint"].agg(" > ".join).to_frame("path").join(per)
    paths["null"] = (~paths["conv"]).astype("int64")
    paths["conv"] = paths["conv"].astype("int64")
    agg = paths.groupby("path", as_index=False).agg(
        total_conversions=("conv", "sum"), total_conversion_value=("value", "sum"), total_null=("null", "sum")
    )
    t_paths = time.perf_counter() - t0
    t1 = time.perf_counter()
    h = heuristic_models(agg, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False)
    t_h = time.perf_counter() - t1
    t2 = time.perf_counter()
    m = markov_model(
        agg,
        "path",
        "total_conversions",
        var_value="total_conversion_value",
        var_null="total_null",
        verbose=False,
        flg_pro=False,
    )
    t_m = time.perf_counter() - t2
    credits = {}
    for col, model in (
        ("first_touch_conversions", "first"),
        ("last_touch_conversions", "last"),
        ("linear_touch_conversions", "linear"),
    ):
        credits.update({f"{model}|{c}": float(v) for c, v in zip(h["channel_name"], h[col], strict=True)})
    credits.update({f"markov|{c}": float(v) for c, v in zip(m["channel_name"], m["total_conversions"], strict=True)})
    return {
        "seconds": time.perf_counter() - t0,
        "paths_s": t_paths,
        "heuristics_s": t_h,
        "markov_s": t_m,
        "credits": credits,
        "n_paths": len(agg),
    }


def _peak_mib() -> float | None:
    """This process's peak resident memory (VmHWM), in MiB.

    Read in the child itself: the ``ru_maxrss`` that ``wait4`` reports for a child
    also counts the pages the parent had when it forked (here the generated data).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _child(side: str, path: str, threads: int, memory: str | None = None) -> tuple[dict, float, float]:
    cmd = [sys.executable, __file__, "--child", side, "--file", path, "--threads", str(threads)]
    if memory:
        cmd += ["--memory", memory]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "POLARS_MAX_THREADS": str(threads)}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{side} failed (status {status})")
    out = json.loads(Path(path + f".{side}.json").read_text())
    cpu = usage.ru_utime + usage.ru_stime  # the whole child, imports and reading included
    return out, out["peak_mib"] or usage.ru_maxrss / 1024, cpu  # KiB -> MiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", choices=["ours", "peer"])
    ap.add_argument("--file")
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument(
        "--memory",
        default=DEFAULT_MEMORY_LIMIT,
        help="DuckDB memory_limit for journeymap (it spills to disk beyond); default: a workspace's "
        f"default, {DEFAULT_MEMORY_LIMIT}; 'none' for DuckDB's own (80%% of RAM)",
    )
    args = ap.parse_args()
    if args.memory and args.memory.lower() == "none":
        args.memory = None
    if args.child:
        out = run_ours(args.file, args.threads, args.memory) if args.child == "ours" else run_peer(args.file)
        out["peak_mib"] = _peak_mib()
        Path(args.file + f".{args.child}.json").write_text(json.dumps(out))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.parquet"
        n = generate(args.events, path)
        print(
            f"events: {n:,} ({path.stat().st_size / 2**20:.0f} MiB parquet), threads: {args.threads}, "
            f"DuckDB memory_limit: {args.memory or 'default'}, load average: {_load()}"
        )
        ours, ours_mb, ours_cpu = _child("ours", str(path), args.threads, args.memory)
        print(
            f"journeymap  {ours['seconds']:7.2f} s  peak {ours_mb:7.0f} MiB  CPU {ours_cpu:6.1f} s  "
            f"(all {len(MODELS)} models; {ours['diagnostics']['paths']:,} paths, "
            f"{ours['diagnostics']['conversions']:,.0f} conversions)"
        )
        if args.skip_peer:
            return
        peer, peer_mb, peer_cpu = _child("peer", str(path), args.threads)
        print(
            f"peer        {peer['seconds']:7.2f} s  peak {peer_mb:7.0f} MiB  CPU {peer_cpu:6.1f} s  "
            f"(pandas paths {peer['paths_s']:.2f} s, "
            f"heuristic_models {peer['heuristics_s']:.2f} s, markov_model {peer['markov_s']:.2f} s; "
            f"{peer['n_paths']:,} paths)"
        )
        ratio = peer["seconds"] / ours["seconds"]
        print(
            f"ratio       {ratio:7.1f}x faster end to end (CPU seconds of each whole process, "
            f"peer / ours = {peer_cpu / ours_cpu:.1f}x)"
        )
        _agreement(ours["credits"], peer["credits"])
        print(
            f"target      >= 5x faster: {'met' if ratio >= 5 else 'MISSED'}; peak <= 2048 MiB: "
            f"{'met' if ours_mb <= 2048 else 'MISSED'}; load average at the end: {_load()}"
        )


def _load() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine slows both sides)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _agreement(ours: dict, peer: dict) -> None:
    for model in ("first", "last", "linear", "markov"):
        keys = [k for k in peer if k.startswith(model + "|")]
        diff = max(abs(ours.get(k, 0.0) - peer[k]) / max(peer[k], 1.0) for k in keys)
        print(f"agreement   {model:7s} largest relative difference {diff:.2e}")


if __name__ == "__main__":
    main()
