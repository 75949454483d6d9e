"""Benchmark: building the JourneyMap of a demo workspace, against the same map with journeys not materialised.

- **journeymap**: ``build_map(ws)`` as shipped: the filtered events are cut into journeys
  once, kept as a temporary table, and every analysis (touchpoints, stages, friction,
  transitions, flows, attribution, drivers, lift, personas) reads that table; feedback is
  linked, scored and kept once too.
- **peer**: the same ``build_map`` with nothing materialised, so every analysis rebuilds the
  journeys from the events, as running the CLI commands one by one does.

Both runs build the same document (the script checks their pain points, stages and touchpoint
figures agree). The workspace is made by ``journeymap demo`` with ``--customers`` (190,000
customers give about 1M events) unless it exists. Feedback scores are computed before timing
(scoring is incremental: a workspace scores each comment once). Prints the per-step times of
the shipped build, both totals, the ratio, the load average, and the CPU time of each build (on a
shared machine the wall time depends on the load; CPU time / 2 bounds it below on 2 idle cores).

Usage::

    .venv/bin/python benchmarks/map_build.py --workspace /tmp/map-1m --customers 190000
    .venv/bin/python benchmarks/map_build.py --workspace /tmp/map-demo --customers 5000 --no-peer
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import time
from pathlib import Path


def build(ws, materialise: bool):
    from journeymap.maps import build as B

    steps: list[tuple[str, float]] = []
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()

    def progress(label, done, total):
        steps.append((label, time.perf_counter() - t0))

    original = B._temp_table
    if not materialise:

        @contextlib.contextmanager
        def passthrough(table, con, what):
            yield table

        B._temp_table = passthrough
    try:
        doc = B.build_map(ws, progress=progress)
    finally:
        B._temp_table = original
    total = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(
        f"  cpu time (all threads): {cpu:.2f} s; on 2 idle cores the wall time is between {cpu / 2:.1f} s "
        f"and {cpu:.1f} s"
    )
    marks = [*steps, ("end", total)]
    per_step = [(a[0], b[1] - a[1]) for a, b in zip(marks, marks[1:], strict=False)]
    return doc, total, per_step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", default="/tmp/journeymap-map-bench")
    ap.add_argument("--customers", type=int, default=190_000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--no-peer", action="store_true", help="Time the shipped build only.")
    args = ap.parse_args()

    from journeymap import engine
    from journeymap.demo import create_demo
    from journeymap.voice.scoring import score_feedback
    from journeymap.workspace import Workspace

    path = Path(args.workspace)
    if not (path / "journeymap.toml").exists():
        t = time.perf_counter()
        create_demo(path, args.customers, seed=args.seed)
        print(f"demo workspace with {args.customers:,} customers made in {time.perf_counter() - t:.1f} s")
    ws = Workspace.open(path)
    events = int(engine.execute(ws.events().count(), ws.con))
    feedback = int(engine.execute(ws.feedback().count(), ws.con))
    score_feedback(ws.con, backend="lexicon", workspace=ws)
    print(f"workspace {path}: {events:,} events, {feedback:,} feedback rows; cpus={os.cpu_count()}")

    print(f"load average before: {os.getloadavg()}")
    doc, total, steps = build(ws, materialise=True)
    print(f"journeymap build_map: {total:.2f} s")
    for label, seconds in steps:
        print(f"  {label:12s} {seconds:6.2f} s")
    if not args.no_peer:
        peer, peer_total, _ = build(ws, materialise=False)
        assert [p.touchpoint for p in peer.pain_points] == [p.touchpoint for p in doc.pain_points]
        assert [s.reach for s in peer.stages] == [s.reach for s in doc.stages]
        assert [c.figures for c in peer.touchpoints()] == [c.figures for c in doc.touchpoints()]
        print(f"peer (journeys rebuilt per analysis): {peer_total:.2f} s")
        print(f"ratio peer / journeymap: {peer_total / total:.2f}x")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
