"""Benchmark: the shared web map under load (issue 18): 50 people reading the map and commenting for 60 s.

Makes the demo workspace in a temporary folder (``journeymap demo``, its default size unless
``--customers``; or a copy of ``--workspace``, without its web database), adds ``--users`` members
with the commenter role (through the library, as ``journeymap users add`` does), starts ``journeymap
serve`` as a subprocess on a free loopback port and waits for it. Then ``--users`` simulated people
(asyncio + one ``httpx.AsyncClient`` each, with its own cookie) log in and loop for ``--duration``
seconds: ``GET /api/me`` (the floor: the cheapest authenticated route, measured in the same run),
``GET /api/map``, ``GET /`` (the map page; skipped when the server answers 404), ``GET
/api/comments``, and in about one iteration in ``--write-every`` a ``POST /api/comments`` with a
unique text; between iterations each person pauses ``--think`` seconds on average (uniform from half
to one and a half times; 0: no pause, the server's saturation). People arrive one by one over
``--ramp`` seconds (default 0.3 s apart, at most a third of the run): a login is an argon2id
verification, about 0.2 s of CPU by design, and 50 at the same instant would queue for seconds on a
small machine (login has its own 30 s timeout and no latency target).

Bounded and self-stopping: every request has a timeout (``--timeout``), the whole run a request
cap (``--max-requests``), the load stops at ``--duration``; the server is stopped on exit, on an
error and on Ctrl-C or SIGTERM, and the temporary folder removed.

Printed: per route the request count, p50, p95 and max latency, errors (any unexpected status or
transport error) and p95 against its target (reads 200 ms, comment writes 300 ms; login is an
argon2id hash by design and has no target), the floor ratio (route p95 / ``GET /api/me`` p95), the
total throughput, the machine's load and the CPU the server and this client used. Then the
exactly-once check: every comment whose POST was answered 201 must be stored exactly once, and no
comment stored that was not acknowledged; a comment whose POST timed out may or may not be stored
(counted apart). Exit 1 on any error or a lost, doubled or unacknowledged comment; a latency over
its target is printed, not an exit status.

Usage::

    .venv/bin/python benchmarks/web_load.py                       # 50 people, 60 s
    .venv/bin/python benchmarks/web_load.py --duration 20 --think 0 --format json
    .venv/bin/python benchmarks/web_load.py --database-url postgresql+psycopg://...   # app state on PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

READ_TARGET_MS = 200.0
WRITE_TARGET_MS = 300.0
LOGIN_GAP_S = 0.3  # default arrival gap between people (--ramp = users x this, at most a third of the run)
LOGIN_TIMEOUT_S = 30.0  # an argon2id verification is ~0.2 s of CPU by design; a burst of logins queues
PASSWORD = "load-test password"
ELEMENTS = ("touchpoint:Size%20guide", "stage:purchase", "touchpoint:Product%20page", "stage:awareness")
FLOOR = "GET /api/me"
ROUTES = ("POST /api/login", FLOOR, "GET /api/map", "GET /", "GET /api/comments", "POST /api/comments")
TARGETS = {r: READ_TARGET_MS for r in ROUTES if r.startswith("GET")} | {"POST /api/comments": WRITE_TARGET_MS}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNEYMAP_WORKSPACE", "JOURNEYMAP_DEBUG")}
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(NO_COLOR="1", COLUMNS="160")
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (nearest rank) of ``values``, None for none."""
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))]


# -- the workspace and the server ------------------------------------------------------------------


def make_workspace(
    root: Path, customers: int | None, users: int, database_url: str | None, source: Path | None = None
) -> Path:
    """``journeymap demo`` into ``root/shop`` (or a copy of ``source`` without its web database), then
    ``users`` commenters (load0@example.com ...)."""
    ws = root / "shop"
    if source is not None:
        import tomllib

        config = source / "journeymap.toml"
        data = tomllib.loads(config.read_text(encoding="utf-8")) if config.is_file() else None
        if data is None:
            raise SystemExit(f"--workspace {source} has no journeymap.toml; give a journeymap workspace folder.")
        if data.get("web", {}).get("database_url"):
            raise SystemExit(
                f"--workspace {source} sets [web] database_url; the benchmark writes users and comments into the "
                "app's database, so give a workspace without it (and --database-url for a throwaway database)."
            )
        shutil.copytree(source, ws, ignore=shutil.ignore_patterns(".journeymap-web.sqlite*"))
    else:
        cmd = [sys.executable, "-m", "journeymap", "demo", str(ws)]
        if customers:
            cmd += ["--customers", str(customers)]
        r = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=600)
        if r.returncode:
            raise SystemExit(f"journeymap demo failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-500:]}")
    if database_url:
        config = ws / "journeymap.toml"
        text = config.read_text(encoding="utf-8") if config.exists() else ""
        config.write_text(text.rstrip("\n") + f'\n\n[web]\ndatabase_url = "{database_url}"\n', encoding="utf-8")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from journeymap.web.db import Database
    from journeymap.web.users import add_user

    db = Database.for_workspace(ws)  # migrates, as journeymap users add does
    try:
        for i in range(users):
            add_user(db, f"load{i}@example.com", "commenter", PASSWORD, by="benchmarks/web_load.py")
    finally:
        db.dispose()
    return ws


class Server:
    """``journeymap -w WS serve --port PORT`` as a child process; :meth:`stop` always ends it."""

    def __init__(self, ws: Path, port: int, log: Path):
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "journeymap", "-w", str(ws), "serve", "--port", str(port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_env(),
            start_new_session=True,  # Ctrl-C reaches us; we stop it (and only it) in stop()
        )
        self.cpu_s: float | None = None

    def wait_ready(self, timeout: float = 120.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"journeymap serve exited ({self.proc.returncode}): {self.tail()}")
            try:
                if httpx.get(f"{self.url}/api/me", timeout=2).status_code == 401:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"journeymap serve did not answer within {timeout:.0f} s: {self.tail()}")
            time.sleep(0.2)

    def tail(self) -> str:
        self._log.flush()
        return self.log.read_text(errors="replace").strip()[-800:]

    def cpu_now(self) -> float | None:
        """The server's CPU seconds so far (user + system), from /proc; None where there is none."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


# -- the simulated people --------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)  # POSTs answered 201
    uncertain: list[str] = field(default_factory=list)  # POSTs that timed out or lost their connection
    refused: list[str] = field(default_factory=list)  # POSTs answered with another status
    requests: int = 0
    page_missing: bool = False
    warmup_s: float = 0.0

    def error(self, route: str, what: str) -> None:
        self.errors[route] += 1
        if len(self.error_samples) < 10:
            self.error_samples.append(f"{route}: {what}")


async def _call(client: Any, tally: Tally, route: str, expect: int, **kw: Any) -> Any:
    import httpx

    method, path = route.split(" ", 1)
    tally.requests += 1
    t0 = time.perf_counter()
    try:
        r = await client.request(method, path, **kw)
    except httpx.TransportError as e:  # a timeout included: counted, and its latency is the timeout
        tally.latencies[route].append((time.perf_counter() - t0) * 1000)
        tally.error(route, type(e).__name__)
        return e
    tally.latencies[route].append((time.perf_counter() - t0) * 1000)
    if r.status_code != expect:
        tally.error(route, f"HTTP {r.status_code} {r.text[:120]}")
    return r


async def person(i: int, url: str, args: argparse.Namespace, tally: Tally, stop_at: float, run: str) -> None:
    import httpx

    rng = random.Random(f"{run}-{i}")
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    await asyncio.sleep(i * args.ramp / args.users)  # people arrive over --ramp seconds, not all at once
    async with httpx.AsyncClient(base_url=url, timeout=args.timeout, limits=limits) as c:
        r = await _call(
            c,
            tally,
            "POST /api/login",
            200,
            json={"email": f"load{i}@example.com", "password": PASSWORD},
            timeout=max(args.timeout, LOGIN_TIMEOUT_S),
        )
        if not isinstance(r, httpx.Response) or r.status_code != 200:
            return
        csrf = r.json()["csrf"]
        n = 0
        while time.monotonic() < stop_at and tally.requests < args.max_requests:
            await _call(c, tally, FLOOR, 200)
            await _call(c, tally, "GET /api/map", 200)
            if not tally.page_missing:
                await _call(c, tally, "GET /", 200)
            await _call(c, tally, "GET /api/comments", 200)
            if rng.random() < 1 / args.write_every and time.monotonic() < stop_at:
                text = f"load {run} person {i} #{n} <b>&amp;</b>"
                n += 1
                r = await _call(
                    c,
                    tally,
                    "POST /api/comments",
                    201,
                    json={"element": rng.choice(ELEMENTS), "text": text},
                    headers={"X-CSRF-Token": csrf},
                )
                if isinstance(r, httpx.Response):
                    (tally.acked if r.status_code == 201 else tally.refused).append(text)
                else:
                    tally.uncertain.append(text)
            if args.think > 0:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * args.think)


async def load(url: str, args: argparse.Namespace, run: str) -> tuple[Tally, float]:
    import httpx

    tally = Tally()
    w0 = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:  # warm-up, not counted: the first map build
        r = await c.post("/api/login", json={"email": "load0@example.com", "password": PASSWORD})
        r.raise_for_status()
        (await c.get("/api/map")).raise_for_status()
        page = await c.get("/")
        tally.page_missing = page.status_code == 404
        if not tally.page_missing:
            page.raise_for_status()
    t0 = time.monotonic()
    tally.warmup_s = t0 - w0
    stop_at = t0 + args.duration
    people = [asyncio.create_task(person(i, url, args, tally, stop_at, run)) for i in range(args.users)]
    # bounded: a person stops at the deadline after its current request (at most --timeout later)
    done, pending = await asyncio.wait(people, timeout=args.duration + 4 * args.timeout + 30)
    for t in pending:
        t.cancel()
    for t in done:
        if t.exception() is not None:
            raise t.exception()  # type: ignore[misc]
    return tally, time.monotonic() - t0


def exactly_once(url: str, tally: Tally, run: str) -> dict[str, Any]:
    """Every 201 comment stored exactly once; nothing stored that was not acknowledged (timeouts apart)."""
    import httpx

    with httpx.Client(base_url=url, timeout=120) as c:
        c.post("/api/login", json={"email": "load0@example.com", "password": PASSWORD}).raise_for_status()
        r = c.get("/api/comments")
        r.raise_for_status()
    stored = Counter(x["text"] for x in r.json() if x["text"].startswith(f"load {run} "))
    acked, uncertain = Counter(tally.acked), set(tally.uncertain)
    lost = sorted(t for t in acked if stored[t] == 0)
    doubled = sorted(t for t in stored if stored[t] > 1)
    unacked = sorted(t for t in stored if t not in acked and t not in uncertain)
    return {
        "acknowledged": sum(acked.values()),
        "stored": sum(stored.values()),
        "lost": len(lost),
        "duplicated": len(doubled),
        "stored_unacknowledged": len(unacked),
        "timed_out": len(uncertain),
        "timed_out_stored": sum(1 for t in uncertain if stored[t]),
        "refused": len(tally.refused),
        "ok": not lost and not doubled and not unacked and len(acked) == sum(acked.values()),
        "examples": (lost + doubled + unacked)[:5],
    }


# -- the report ------------------------------------------------------------------------------------


def summarize(tally: Tally, elapsed: float, args: argparse.Namespace) -> dict[str, Any]:
    floor = _pct(tally.latencies.get(FLOOR, []), 0.95)
    routes: dict[str, Any] = {}
    for route in ROUTES:
        if route == "GET /" and tally.page_missing:
            routes[route] = {"skipped": "the server answers 404 (no map page yet)"}
            continue
        lat = tally.latencies.get(route, [])
        p95, target = _pct(lat, 0.95), TARGETS.get(route)
        routes[route] = {
            "count": len(lat),
            "p50_ms": _pct(lat, 0.50),
            "p95_ms": p95,
            "max_ms": max(lat) if lat else None,
            "errors": tally.errors[route],
            "target_p95_ms": target,
            "p95_over_target": None if p95 is None or target is None else p95 / target,
            "p95_over_floor": None if p95 is None or not floor else p95 / floor,
        }
    total = sum(len(v) for v in tally.latencies.values())
    met = all(r.get("p95_over_target") is None or r["p95_over_target"] <= 1.0 for r in routes.values() if "count" in r)
    return {
        "routes": routes,
        "requests": total,
        "errors": sum(tally.errors.values()),
        "error_samples": tally.error_samples,
        "seconds": elapsed,
        "throughput_rps": total / elapsed if elapsed else None,
        "latency_targets_met": met,
        "capped": tally.requests >= args.max_requests,
    }


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def _ratio(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}×"


def print_table(result: dict[str, Any]) -> None:
    s, m, once = result["summary"], result["machine"], result["exactly_once"]
    a = result["settings"]
    where = (
        f"demo of {a['customers'] or 'default'} customers"
        if a["workspace"] == "journeymap demo"
        else f"a copy of {a['workspace']}"
    )
    print(
        f"journeymap serve under load: {a['users']} people arriving over {a['ramp_s']:.0f} s, {s['seconds']:.0f} s, "
        f"think {a['think']} s, "
        f"a comment every ~{a['write_every']} iterations; {where}; "
        f"app database {a['database']}"
    )
    head = f"{'route':<22}{'count':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'errors':>8}{'target':>8}"
    print(head + f"{'p95/target':>12}{'p95/floor':>11}")
    for route, r in s["routes"].items():
        if "skipped" in r:
            print(f"{route:<22}  skipped: {r['skipped']}")
            continue
        target = "–" if r["target_p95_ms"] is None else f"{r['target_p95_ms']:.0f}"
        print(
            f"{route:<22}{r['count']:>8}{_ms(r['p50_ms']):>9}{_ms(r['p95_ms']):>9}{_ms(r['max_ms']):>9}"
            f"{r['errors']:>8}{target:>8}{_ratio(r['p95_over_target']):>12}{_ratio(r['p95_over_floor']):>11}"
        )
    print(
        f"total: {s['requests']} requests, {s['throughput_rps']:.1f} requests/s, {s['errors']} errors"
        + (" (stopped at the request cap)" if s["capped"] else "")
    )
    for e in s["error_samples"]:
        print(f"  error: {e}")
    print(
        f"machine: {m['cpus']} CPUs, load average {m['load_before'][0]:.2f} before, {m['load_after'][0]:.2f} after "
        f"(1 min); CPU used: server {_ms(m['server_cpu_s'])} s, this client {m['client_cpu_s']:.1f} s"
    )
    print(
        f"exactly once: {once['acknowledged']} comments acknowledged (201), {once['stored']} stored: "
        f"{once['lost']} lost, {once['duplicated']} doubled, {once['stored_unacknowledged']} stored without a 201; "
        f"{once['timed_out']} timed out ({once['timed_out_stored']} of them stored), {once['refused']} refused"
        f" -> {'OK' if once['ok'] else 'FAILED ' + '; '.join(once['examples'])}"
    )
    verdict = "hold" if s["latency_targets_met"] else "MISSED (p95/target > 1 above)"
    print(
        f"targets (p95 <= {READ_TARGET_MS:.0f} ms reads, <= {WRITE_TARGET_MS:.0f} ms writes, 0 errors): "
        f"latency {verdict}; errors {'0' if not s['errors'] else s['errors']}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    p.add_argument("--users", type=int, default=50, help="simulated people, each logged in (default 50)")
    p.add_argument("--think", type=float, default=1.0, help="mean pause between iterations, s (default 1; 0: none)")
    p.add_argument("--write-every", type=float, default=5.0, help="a comment in ~1 of N iterations (default 5)")
    p.add_argument(
        "--ramp",
        type=float,
        default=None,
        help="people arrive over this many s (default: 0.3 s apart, at most duration/3)",
    )
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, s (default 10)")
    p.add_argument("--max-requests", type=int, default=200_000, help="stop after this many requests")
    p.add_argument("--customers", type=int, default=None, help="demo size (default: journeymap demo's)")
    p.add_argument("--workspace", type=Path, default=None, help="serve a copy of this workspace instead of a new demo")
    p.add_argument("--database-url", default=None, help="[web] database_url for the app (default: SQLite)")
    p.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--keep", action="store_true", help="keep the temporary workspace and the server log")
    args = p.parse_args(argv)
    for name in ("duration", "timeout", "write_every"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be more than 0, not {getattr(args, name)}")
    if args.ramp is None:  # about 3 logins a second (each ~0.2 s of argon2id CPU), at most a third of the run
        args.ramp = min(args.users * LOGIN_GAP_S, args.duration / 3)
    if args.users < 1 or args.think < 0 or args.ramp < 0 or args.ramp >= args.duration or args.max_requests < 1:
        p.error("--users and --max-requests must be at least 1, --think at least 0, --ramp under --duration")
    try:
        import httpx  # noqa: F401
    except ImportError:
        p.error("the web extra is not installed; pip install -e '.[web]'")

    def _term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt  # the same clean-up as Ctrl-C

    signal.signal(signal.SIGTERM, _term)
    root = Path(tempfile.mkdtemp(prefix="jm-web-load-"))
    server: Server | None = None
    try:
        if args.format == "table":
            print("making the demo workspace and the users ...", file=sys.stderr)
        t = time.monotonic()
        ws = make_workspace(root, args.customers, args.users, args.database_url, args.workspace)
        phases = {"workspace_and_users_s": time.monotonic() - t}
        t = time.monotonic()
        server = Server(ws, args.port or _free_port(), root / "serve.log")
        server.wait_ready()
        phases["server_start_s"] = time.monotonic() - t
        run = uuid.uuid4().hex[:8]
        load_before, cpu0 = os.getloadavg(), server.cpu_now()
        client0 = resource.getrusage(resource.RUSAGE_SELF)
        tally, elapsed = asyncio.run(load(server.url, args, run))
        client1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu1, load_after = server.cpu_now(), os.getloadavg()
        t = time.monotonic()
        once = exactly_once(server.url, tally, run)
        phases |= {"first_map_and_page_s": tally.warmup_s, "check_s": time.monotonic() - t}
        result = {
            "settings": {
                "users": args.users,
                "duration_s": args.duration,
                "think": args.think,
                "ramp_s": args.ramp,
                "write_every": args.write_every,
                "timeout_s": args.timeout,
                "customers": args.customers,
                "workspace": str(args.workspace) if args.workspace else "journeymap demo",
                "database": (args.database_url or "sqlite").split("://")[0],
            },
            "summary": summarize(tally, elapsed, args),
            "exactly_once": once,
            "machine": {
                "cpus": os.cpu_count(),
                "load_before": load_before,
                "load_after": load_after,
                "server_cpu_s": None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
                "client_cpu_s": (client1.ru_utime + client1.ru_stime) - (client0.ru_utime + client0.ru_stime),
            },
            "phases": phases,
        }
        if args.format == "json":
            print(json.dumps(result, indent=2))
        else:
            print_table(result)
        return 0 if once["ok"] and result["summary"]["errors"] == 0 else 1
    except KeyboardInterrupt:
        print("interrupted; the server is stopped", file=sys.stderr)
        return 130
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept: {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
