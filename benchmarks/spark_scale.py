"""Benchmark: how ingest, flows, attribution and the map grow with the data, on Spark (local[2]) beside DuckDB.

For each size (default 1M, 5M and 20M events) it generates events with the Markov-chain generator
of ``benchmarks/flows.py`` (same seed, same shape: about 4.35 events per customer, 15 touchpoints,
a Purchase goal with revenue), then for each engine makes a workspace the user's way and times each
step as a ``journeymap`` process, exactly as a user would type it:

- ``ingest``:      ``journeymap init WS [--url spark://local[2]]`` (blueprint of the generator's
                   touchpoints), then ``journeymap -w WS ingest events events.parquet --format json``;
- ``flows``:       ``transitions``, ``paths``, ``funnel Home Product Cart Purchase`` and ``stages``
                   (each ``--format json``; the step is their sum, each also reported);
- ``attribution``: ``attribution --format json`` (every model);
- ``map``:         ``map --format json``.

No feedback is loaded: the map is built with its voice sections empty (the map needs no feedback),
so the figures are those of the event analytics. Each step's wall seconds, CPU seconds (the
process and every process under it, the Spark JVM included: this script makes itself the
"child subreaper" so an orphaned JVM is reaped, and counted, here) and peak memory (the largest
single process's max RSS) are recorded. Then a growth table: seconds per step per size, seconds
per 1M events, the growth exponent between consecutive sizes (log(t2/t1) / log(n2/n1): 1 is
linear) and Spark/DuckDB. At the smallest size the two engines' transitions (every edge's count)
must be equal, so the timings compare like with like.

A step slower than ``--timeout-per-step`` is stopped; that engine then skips the bigger sizes
(said in the output, with the time projected from the measured exponent, or linear where
only one size was measured). Nothing is left behind: the workspaces, the generated data and the
processes' temporary files live in one folder removed at the end (``--data-dir`` keeps the
generated files for a later run instead).

Usage::

    .venv/bin/python benchmarks/spark_scale.py                                    # 1M, 5M, 20M; both engines
    .venv/bin/python benchmarks/spark_scale.py --sizes 1000000 --format json
    .venv/bin/python benchmarks/spark_scale.py --sizes 5000000 --engines spark --steps ingest,flows
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flows  # noqa: E402  (the generator and blueprint of benchmarks/flows.py)

STEPS = ("ingest", "flows", "attribution", "map")
ENGINES = ("duckdb", "spark")
URLS = {"duckdb": None, "spark": "spark://local[2]"}
FLOW_COMMANDS: dict[str, list[str]] = {
    "transitions": ["transitions"],
    "paths": ["paths"],
    "funnel": ["funnel", *flows.FUNNEL],
    "stages": ["stages"],
}
_RUNNING: list[int] = []
"""Process group of the ``journeymap`` process now running (killed if this script is stopped)."""


def _subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux), so their CPU time reaches us."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _kill_running() -> None:
    for pgid in list(_RUNNING):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    _reap(deadline=time.monotonic() + 5)


def _reap(deadline: float, until: int | None = None) -> tuple[list[Any], int | None]:
    """Reap children until ``until`` has exited and no other is left (or the deadline); their rusages."""
    usages: list[Any] = []
    status: int | None = None
    while True:
        block = until is not None and status is None
        try:
            pid, st, ru = os.wait4(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:  # children left, none exited yet (an orphaned JVM shutting down)
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
            continue
        usages.append(ru)
        if pid == until:
            status = os.waitstatus_to_exitcode(st)
    return usages, status


def jm(args: list[str], *, tmp: Path, timeout: float, env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``journeymap ARGS`` in a process group of its own; wall, CPU (it and its descendants), peak RSS."""
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNEYMAP_WORKSPACE", "JAVA_TOOL_OPTIONS")}
    env.update({"TMPDIR": str(tmp), "COLUMNS": "200", "PYTHONWARNINGS": "ignore", **(env_extra or {})})
    out, err = tmp / "stdout.txt", tmp / "stderr.txt"
    t0 = time.perf_counter()
    with out.open("wb") as fo, err.open("wb") as fe:
        proc = subprocess.Popen(
            [sys.executable, "-m", "journeymap", *args], stdout=fo, stderr=fe, env=env, start_new_session=True
        )
    _RUNNING.append(proc.pid)
    timed_out = False
    usages: list[Any] = []
    status: int | None = None
    try:
        while status is None:
            left = timeout - (time.perf_counter() - t0)
            if left <= 0:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                more, status = _reap(time.monotonic() + 10, until=proc.pid)
                usages += more
                break
            # poll: wait4 on any child (an orphaned JVM may be reaped here too)
            try:
                pid, st, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(min(0.2, left))
                continue
            usages.append(ru)
            if pid == proc.pid:
                status = os.waitstatus_to_exitcode(st)
        wall = time.perf_counter() - t0
        # the JVM may outlive the Python process by a moment: reap it too (its CPU counts)
        more, _ = _reap(time.monotonic() + 20)
        usages += more
    finally:
        _RUNNING.remove(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # nothing of this step may keep running
        except (ProcessLookupError, PermissionError):
            pass
        proc.returncode = status if status is not None else -9
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(sum(r.ru_utime + r.ru_stime for r in usages), 3),
        "peak_mb": round(max((r.ru_maxrss for r in usages), default=0) / 1024, 1),
        "processes": len(usages),
        "rc": status,
        "timed_out": timed_out,
        "stdout": out.read_text(encoding="utf-8", errors="replace"),
        "stderr": err.read_text(encoding="utf-8", errors="replace")[-2000:],
    }


def _folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def _make_workspace(ws: Path, engine: str, tmp: Path) -> None:
    import yaml

    args = ["init", str(ws)] + (["--url", URLS[engine]] if URLS[engine] else [])
    done = jm(args, tmp=tmp, timeout=300)
    if done["rc"] != 0:
        raise SystemExit(f"journeymap init failed: {done['stderr']}")
    doc = {"version": 1, "name": "bench", **flows.BLUEPRINT}
    (ws / "blueprint.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def run_engine(engine: str, n: int, data: Path, steps: list[str], root: Path, timeout: float) -> dict[str, Any]:
    """One engine at one size: a fresh workspace, each step timed; the transitions kept for the check."""
    tmp = root / f"tmp-{engine}-{n}"
    tmp.mkdir()
    ws = root / f"ws-{engine}-{n}"
    _make_workspace(ws, engine, tmp)
    res: dict[str, Any] = {"engine": engine, "events": n, "steps": {}, "notes": []}
    w = ["-w", str(ws)]
    plan: dict[str, dict[str, list[str]]] = {
        "ingest": {"ingest": [*w, "ingest", "events", str(data), "--format", "json"]},
        "flows": {k: [*w, *v, "--format", "json"] for k, v in FLOW_COMMANDS.items()},
        "attribution": {"attribution": [*w, "attribution", "--format", "json"]},
        "map": {"map": [*w, "map", "--format", "json"]},
    }
    for step in ("ingest", *[s for s in STEPS if s != "ingest"]):
        if step not in steps and not (step == "ingest"):
            continue
        parts: dict[str, Any] = {}
        failed = None
        for label, args in plan[step].items():
            done = jm(args, tmp=tmp, timeout=timeout)
            parts[label] = {k: done[k] for k in ("wall_s", "cpu_s", "peak_mb", "processes")}
            if done["timed_out"]:
                failed = f"{label} stopped after {timeout:.0f} s (--timeout-per-step)"
                break
            if done["rc"] != 0:
                failed = f"{label} failed (exit {done['rc']}): {done['stderr'].strip().splitlines()[-1:]}"
                break
            if label == "ingest":
                total = json.loads(done["stdout"])["total"]
                res["loaded"] = total["loaded"]
                res["quarantined"] = total["quarantined"]
            if label == "transitions":
                doc = json.loads(done["stdout"])
                cols = doc["columns"]
                res["transitions"] = sorted(
                    [r[cols.index("source")], r[cols.index("target")], r[cols.index("count")]] for r in doc["rows"]
                )
        entry = {
            "wall_s": round(sum(p["wall_s"] for p in parts.values()), 3),
            "cpu_s": round(sum(p["cpu_s"] for p in parts.values()), 3),
            "peak_mb": max((p["peak_mb"] for p in parts.values()), default=0.0),
            "parts": parts,
        }
        if failed:
            entry["failed"] = failed
            res["notes"].append(f"{engine} {n:,}: {failed}")
        if step in steps:
            res["steps"][step] = entry
        if failed and step == "ingest":
            break
    store = ws / "spark-warehouse" / "events" if engine == "spark" else ws / "journeymap.duckdb"
    if engine == "spark" and store.exists():
        res["store_mb"] = round(_folder_mb(store), 2)
        res["store_what"] = "events Parquet (current version folder) on disk"
    elif store.exists():
        res["store_mb"] = round(store.stat().st_size / 1e6, 2)
        res["store_what"] = "the whole DuckDB file (events, journeys kept, ingest log)"
    shutil.rmtree(ws, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return res


def exponent(n1: float, t1: float, n2: float, t2: float) -> float | None:
    if t1 > 0 and t2 > 0 and n1 != n2:
        return math.log(t2 / t1) / math.log(n2 / n1)
    return None


def growth(runs: list[dict[str, Any]], steps: list[str]) -> list[dict[str, Any]]:
    """One row per engine, step and size: wall, CPU, s per 1M events, exponent from the size before, Spark/DuckDB."""
    rows = []
    by = {(r["engine"], r["events"]): r for r in runs}
    for engine in ENGINES:
        sizes = sorted(n for (e, n) in by if e == engine)
        for step in steps:
            prev = None
            for n in sizes:
                s = by[(engine, n)]["steps"].get(step)
                if not s or s.get("failed"):
                    continue
                row = {
                    "engine": engine,
                    "step": step,
                    "events": n,
                    "wall_s": s["wall_s"],
                    "cpu_s": s["cpu_s"],
                    "peak_mb": s["peak_mb"],
                    "wall_s_per_1m": round(s["wall_s"] / (n / 1e6), 3),
                    "exponent": None,
                    "spark_over_duckdb": None,
                }
                if prev:
                    e = exponent(prev[0], prev[1], n, s["wall_s"])
                    row["exponent"] = round(e, 3) if e is not None else None
                    e_cpu = exponent(prev[0], prev[2], n, s["cpu_s"])
                    row["exponent_cpu"] = round(e_cpu, 3) if e_cpu is not None else None
                d = by.get(("duckdb", n), {}).get("steps", {}).get(step)
                if engine == "spark" and d and not d.get("failed") and d["wall_s"] > 0:
                    row["spark_over_duckdb"] = round(s["wall_s"] / d["wall_s"], 2)
                rows.append(row)
                prev = (n, s["wall_s"], s["cpu_s"])
    return rows


def project(rows: list[dict[str, Any]], engine: str, step: str, n: int) -> float | None:
    """Seconds projected for ``n`` events from the biggest measured size and the last exponent (else 1)."""
    mine = [r for r in rows if r["engine"] == engine and r["step"] == step]
    if not mine:
        return None
    last = mine[-1]
    e = last["exponent"] if last["exponent"] is not None else 1.0
    return last["wall_s"] * (n / last["events"]) ** e


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000000,5000000,20000000", help="events per run, comma-separated")
    ap.add_argument("--steps", default=",".join(STEPS), help="of " + ",".join(STEPS) + " (ingest always runs)")
    ap.add_argument("--engines", default=",".join(ENGINES), help="duckdb, spark or both")
    ap.add_argument("--timeout-per-step", type=float, default=1800, help="seconds one command may take (1800)")
    ap.add_argument("--data-dir", type=Path, help="keep (and reuse) the generated events-N.parquet files here")
    ap.add_argument("--format", choices=["table", "json"], default="table")
    ap.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="run nothing: combine earlier --format json outputs into one growth table (sizes not in them projected)",
    )
    ap.add_argument("--part", choices=["generate"], help=argparse.SUPPRESS)
    ap.add_argument("--events", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.part == "generate":
        flows.generate(args.events, args.out)
        return 0
    try:
        sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    except ValueError:
        ap.error(f"--sizes {args.sizes!r}: give whole numbers of events, e.g. --sizes 1000000,5000000")
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if bad := [s for s in steps if s not in STEPS] + [e for e in engines if e not in ENGINES]:
        ap.error(f"unknown step or engine {', '.join(bad)}: steps are {', '.join(STEPS)}; engines {', '.join(ENGINES)}")
    if not sizes or min(sizes) < 100:
        ap.error("--sizes: give at least 100 events per size")

    if args.merge:
        return _merged(args.merge, sizes, args.format)
    reaper = _subreaper()
    root = Path(tempfile.mkdtemp(prefix="spark-scale-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    atexit.register(_kill_running)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = {"load_avg_start": [round(x, 2) for x in os.getloadavg()], "started_at": time.strftime("%H:%M:%S")}
    runs: list[dict[str, Any]] = []
    notes: list[str] = [] if reaper else ["not a Linux subreaper: the Spark JVM's CPU may be missing from cpu_s"]
    stopped: dict[str, str] = {}
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if args.format == "json" else print
    try:
        for n in sizes:
            if all(e in stopped for e in engines):
                break
            data = (args.data_dir or root) / f"events-{n}.parquet"
            if not data.exists():
                data.parent.mkdir(parents=True, exist_ok=True)
                t = time.perf_counter()
                part = data.with_suffix(".part")
                cmd = [sys.executable, __file__, "--part", "generate", "--events", str(n), "--out", str(part)]
                subprocess.run(cmd, check=True)
                part.rename(data)
                say(f"generated {n:,} events in {time.perf_counter() - t:.1f} s ({data.stat().st_size / 1e6:.1f} MB)")
            for engine in engines:
                if engine in stopped:
                    notes.append(f"{engine} {n:,}: skipped ({stopped[engine]})")
                    continue
                say(f"{engine} {n:,} events: {', '.join(steps)} ...")
                r = run_engine(engine, n, data, steps, root, args.timeout_per_step)
                r["parquet_source_mb"] = round(data.stat().st_size / 1e6, 2)
                runs.append(r)
                for step, s in r["steps"].items():
                    say(f"  {step:<12} {s['wall_s']:9.2f} s wall {s['cpu_s']:9.2f} s cpu {s['peak_mb']:8.0f} MB")
                notes += r["notes"]
                if r["notes"]:
                    stopped[engine] = f"a step failed or exceeded --timeout-per-step at {n:,} events"
            if not args.data_dir:
                data.unlink(missing_ok=True)
    finally:
        _kill_running()
    doc = summarise(runs, sizes, steps, engines, notes, started)
    if args.format == "json":
        print(json.dumps(doc, indent=2))
    else:
        _table(doc)
    return 0


def _merged(files: list[Path], sizes: list[int], fmt: str) -> int:
    docs = []
    for f in files:
        try:
            docs.append(json.loads(f.read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            raise SystemExit(
                f"--merge {f}: not a JSON output of this benchmark ({e}); run it with --format json."
            ) from None
    runs: list[dict[str, Any]] = []
    for r in (r for d in docs for r in d["runs"]):  # one engine and size in several files: steps combined
        same = next((x for x in runs if (x["engine"], x["events"]) == (r["engine"], r["events"])), None)
        if same is None:
            runs.append(r)
            continue
        for step, s in r["steps"].items():
            if step not in same["steps"] or same["steps"][step].get("failed"):
                same["steps"][step] = s
    steps = [s for s in STEPS if any(s in d["steps"] for d in docs)]
    engines = [e for e in ENGINES if any(r["engine"] == e for r in runs)]
    notes = [n for d in docs for n in d["notes"]]
    started = {"load_avg_start": docs[0]["load_avg_start"], "started_at": docs[0]["started_at"]}
    agree = next((d["agreement"] for d in docs if d.get("agreement")), None)
    doc = summarise(runs, sorted(set(sizes) | {r["events"] for r in runs}), steps, engines, notes, started, agree)
    doc["load_avg_end"] = docs[-1]["load_avg_end"]
    doc["merged_from"] = [str(f) for f in files]
    if fmt == "json":
        print(json.dumps(doc, indent=2))
    else:
        _table(doc)
    return 0


def summarise(
    runs: list[dict[str, Any]],
    sizes: list[int],
    steps: list[str],
    engines: list[str],
    notes: list[str],
    started: dict[str, Any],
    agree: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The document printed: the runs, the growth table, the engines' agreement, projections for sizes not run."""
    rows = growth(runs, steps)
    # the two engines must agree at the smallest size both ran (every transition's count)
    both = sorted(
        {r["events"] for r in runs if r["engine"] == "duckdb"} & {r["events"] for r in runs if r["engine"] == "spark"}
    )
    if both:
        d, s = (next(r for r in runs if r["engine"] == e and r["events"] == both[0]) for e in ("duckdb", "spark"))
        if "transitions" in d and "transitions" in s:
            agree = {
                "events": both[0],
                "transitions_equal": d["transitions"] == s["transitions"],
                "edges": len(d["transitions"]),
                "loaded_equal": d.get("loaded") == s.get("loaded"),
            }
    projections = []
    for engine in engines:
        measured = {(r["step"], r["events"]) for r in rows if r["engine"] == engine}
        for n in sizes:
            for step in steps:
                if (step, n) in measured:
                    continue
                p = project(rows, engine, step, n)
                if p is not None:
                    projections.append({"engine": engine, "step": step, "events": n, "projected_wall_s": round(p, 1)})
    for r in runs:
        r.pop("transitions", None)
    doc = {
        **started,
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        "sizes": sizes,
        "steps": steps,
        "engines": engines,
        "runs": runs,
        "growth": rows,
        "agreement": agree,
        "projections": projections,
        "notes": notes,
    }
    return doc


def _table(doc: dict[str, Any]) -> None:
    print("load average (1, 5, 15 min) at start: {} {} {}".format(*doc["load_avg_start"]))
    print(
        f"{'engine':<7} {'step':<12} {'events':>11} {'wall s':>9} {'cpu s':>9} {'peak MB':>8} "
        f"{'s / 1M':>8} {'exponent':>9} {'spark/duckdb':>13}"
    )
    for r in doc["growth"]:
        e = "" if r["exponent"] is None else f"{r['exponent']:.2f}"
        ratio = "" if r["spark_over_duckdb"] is None else f"{r['spark_over_duckdb']:.1f}x"
        print(
            f"{r['engine']:<7} {r['step']:<12} {r['events']:>11,} {r['wall_s']:>9.1f} {r['cpu_s']:>9.1f} "
            f"{r['peak_mb']:>8.0f} {r['wall_s_per_1m']:>8.2f} {e:>9} {ratio:>13}"
        )
    for r in doc["runs"]:
        print(
            f"{r['engine']} {r['events']:,}: stored {r.get('store_mb', float('nan')):.1f} MB ({r.get('store_what')}); "
            f"source Parquet {r['parquet_source_mb']:.1f} MB; loaded {r.get('loaded')}"
        )
        for step, s in r["steps"].items():
            if len(s["parts"]) > 1:
                print("  " + step + ": " + ", ".join(f"{k} {v['wall_s']:.1f} s" for k, v in s["parts"].items()))
    if doc["agreement"]:
        a = doc["agreement"]
        print(
            f"engines agree at {a['events']:,} events: transitions equal {a['transitions_equal']} "
            f"({a['edges']} edges), loaded equal {a['loaded_equal']}"
        )
    for p in doc["projections"]:
        print(f"not run: {p['engine']} {p['step']} at {p['events']:,} events, projected {p['projected_wall_s']:.0f} s")
    for note in doc["notes"]:
        print("note: " + note)
    print("load average (1, 5, 15 min) at end: {} {} {}".format(*doc["load_avg_end"]))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
