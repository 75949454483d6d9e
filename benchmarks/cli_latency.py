"""Benchmark: how long a command takes from the shell (issue 17, "fast commands").

Builds a workspace of about 10,000 events in a temporary folder (``journeymap demo --customers 2000``),
then runs, as subprocesses, ``journeymap --help`` and ``journeymap touchpoints`` (``--runs`` times each,
after one warm-up run) and prints the median wall time and CPU time (user + system) of each against
the targets: ``--help`` <= 0.4 s and ``touchpoints`` <= 1.0 s wall on an idle machine. For comparison
it also times ``touchpoints --start 1900-01-01`` (the same figures, computed from the events, as
before the journeys were kept between commands). Last, the top offenders of ``python -X importtime``
for both commands: the packages whose modules took the most import time (self time summed).

On a shared machine the wall time depends on the load (printed): a command here is mostly one
thread, so its CPU time is what its wall time would be on an idle machine, and the verdict says
both. The workspace is removed at the end; the whole run takes well under two minutes.

Usage::

    .venv/bin/python benchmarks/cli_latency.py
    .venv/bin/python benchmarks/cli_latency.py --runs 3 --customers 2000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HELP_TARGET_S = 0.4
TOUCHPOINTS_TARGET_S = 1.0
TIMEOUT_S = 60


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNEYMAP_WORKSPACE", "JOURNEYMAP_DEBUG")}
    env.update(NO_COLOR="1", COLUMNS="160")
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "journeymap", *args]


def timed(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd`` once: its wall time and CPU time (user + system, the child's own), in seconds."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        raise
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime


def measure(cmd: list[str], runs: int) -> tuple[float, float, list[float]]:
    """Median wall and CPU time of ``runs`` runs (after one warm-up run), and the walls."""
    timed(cmd)  # warm-up: the OS file cache, Python's bytecode cache
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = timed(cmd)
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus), walls


def import_offenders(cmd: list[str], top: int = 10) -> list[tuple[str, float, int]]:
    """``python -X importtime``: the ``top`` packages by import self time (summed over their modules)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd[1:]],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=TIMEOUT_S,
        check=False,
    )
    self_us: dict[str, int] = defaultdict(int)
    modules: dict[str, int] = defaultdict(int)
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line.split("|")
        if len(parts) != 3:
            continue
        name = parts[2].strip()
        package = name.split(".")[0]
        self_us[package] += int(parts[0].split(":")[1])
        modules[package] += 1
    ranked = sorted(self_us.items(), key=lambda kv: -kv[1])[:top]
    return [(name, us / 1e6, modules[name]) for name, us in ranked]


def verdict(wall: float, cpu: float, target: float) -> str:
    if wall <= target:
        return "PASS"
    if cpu <= target:
        return "PASS on CPU time (wall over the target: the machine is busy)"
    return "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Timed runs per command (default 5).")
    parser.add_argument("--customers", type=int, default=2000, help="Demo customers (2000 give about 10,000 events).")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="journeymap-latency-") as folder:
        ws = Path(folder) / "shop"
        t0 = time.perf_counter()
        subprocess.run(
            _command("demo", str(ws), "--customers", str(args.customers), "--format", "json"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=_env(),
            timeout=240,
            check=True,
        )
        events = _count_events(ws)
        print(
            f"workspace: {events:,} events ({args.customers} demo customers), made in {time.perf_counter() - t0:.1f} s"
        )
        cases = [
            ("journeymap --help", _command("--help"), HELP_TARGET_S),
            ("journeymap touchpoints", _command("-w", str(ws), "touchpoints"), TOUCHPOINTS_TARGET_S),
            (
                "touchpoints --start 1900-01-01 (journeys computed, for comparison)",
                _command("-w", str(ws), "touchpoints", "--start", "1900-01-01"),
                None,
            ),
        ]
        print(f"\n{'command':<68} {'wall (median)':>14} {'cpu (median)':>13}  target  verdict")
        for label, cmd, target in cases:
            wall, cpu, walls = measure(cmd, args.runs)
            shown = f"<= {target:.1f} s" if target else "-"
            judged = verdict(wall, cpu, target) if target else ""
            print(f"{label:<68} {wall:>12.3f} s {cpu:>11.3f} s  {shown:<7} {judged}")
            print(f"{'':<4}walls: {', '.join(f'{w:.3f}' for w in walls)}")
        for label, cmd in (
            ("journeymap --help", _command("--help")),
            ("journeymap touchpoints", _command("-w", str(ws), "touchpoints")),
        ):
            print(f"\npython -X importtime, {label}: top packages by import self time")
            for name, seconds, count in import_offenders(cmd):
                print(f"  {name:<28} {seconds * 1000:8.1f} ms  ({count} modules)")
    print(
        f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"benchmark took {time.perf_counter() - started:.0f} s"
    )


def _count_events(ws: Path) -> int:
    from journeymap.workspace import Workspace

    w = Workspace.open(ws, read_only=True)
    try:
        return int(w.con.raw_sql("SELECT count(*) FROM events").fetchone()[0])
    finally:
        w.close()


if __name__ == "__main__":
    main()
