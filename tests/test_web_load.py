"""``benchmarks/web_load.py`` as a user runs it, briefly: it serves a demo, loads it, and checks every comment.

Five people for five seconds (a copy of a small demo): the run must exit 0, report every route with consistent
figures, and its exactly-once check must have found each acknowledged comment stored once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

ROOT = Path(__file__).resolve().parents[1]
ROUTES = ("POST /api/login", "GET /api/me", "GET /api/map", "GET /", "GET /api/comments", "POST /api/comments")


def test_the_load_benchmark_runs_and_every_comment_is_stored_exactly_once(tmp_path, demo_copy):
    ws = demo_copy(tmp_path / "shop", customers=300)  # journeymap demo's workspace (made once per session)
    cmd = [sys.executable, str(ROOT / "benchmarks" / "web_load.py"), "--duration", "5", "--users", "5"]
    cmd += ["--workspace", str(ws), "--think", "0.2", "--write-every", "2", "--format", "json"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    out = json.loads(r.stdout)
    routes = out["summary"]["routes"]
    assert set(routes) == set(ROUTES)
    counted = {k: v for k, v in routes.items() if "count" in v}
    assert set(routes) - set(counted) <= {"GET /"}  # the map page may be missing only as a 404, said so
    assert all("404" in v["skipped"] for k, v in routes.items() if k not in counted)
    assert counted["POST /api/login"]["count"] == 5 and counted["GET /api/me"]["count"] >= 5
    for name, v in counted.items():
        assert v["errors"] == 0, name
        assert 0 < v["p50_ms"] <= v["p95_ms"] <= v["max_ms"], name
        if v["target_p95_ms"]:
            assert v["p95_over_target"] == pytest.approx(v["p95_ms"] / v["target_p95_ms"])
    assert out["summary"]["requests"] == sum(v["count"] for v in counted.values())
    assert out["summary"]["errors"] == 0
    once = out["exactly_once"]
    assert once["ok"] and once["lost"] == once["duplicated"] == once["stored_unacknowledged"] == 0
    assert once["acknowledged"] == counted["POST /api/comments"]["count"] > 0
    assert once["stored"] == once["acknowledged"] + once["timed_out_stored"]
    assert not (ws / ".journeymap-web.sqlite").exists() or "load0@example.com" not in (
        ws / ".journeymap-web.sqlite"
    ).read_bytes().decode("latin-1")  # it served a copy: the workspace given is untouched


def test_the_load_benchmark_refuses_a_workspace_whose_web_database_is_elsewhere(tmp_path):
    (tmp_path / "journeymap.toml").write_text('[web]\ndatabase_url = "postgresql://team@db/prod"\n')
    cmd = [sys.executable, str(ROOT / "benchmarks" / "web_load.py"), "--workspace", str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "sets [web] database_url" in r.stderr and "--database-url" in r.stderr
