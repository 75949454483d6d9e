"""The web app on PostgreSQL and on SQLite, through the user's path, the same scenario on both.

A real PostgreSQL server (Debian's ``postgresql`` package: ``initdb`` and ``pg_ctl``, run as the
``postgres`` user when we are root) starts in a temp folder, listening on a unix socket only; each
backend gets a ``journeymap demo`` workspace whose ``journeymap.toml`` says ``[web] database_url``
(PostgreSQL) or nothing (the SQLite default). Then, as a user would: ``journeymap users add`` (which
runs the migrations), login, comments with replies and resolve, the figures kept with a comment, map
versions, the audit log, and concurrent comment writes that must each be stored exactly once.
The tests skip, with the reason, only where psycopg or the server's programs are missing or the
server does not start.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")
from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from journeymap.cli import main  # noqa: E402
from tests.test_web_support import add_user, login, users_per_role  # noqa: E402

TP = "touchpoint:Size%20guide"
STAGE = "stage:purchase"
HOSTILE = '<script>alert(1)</script> & "quotes" \' \u202e ünïcödé 🚀'
BACKENDS = ("sqlite", "postgresql")
WRITERS, PER_WRITER = 8, 10


# -- a PostgreSQL server of the test's own ---------------------------------------------------------


def pg_program(name: str) -> str | None:
    """``name`` (initdb, pg_ctl) on PATH, else in Debian's /usr/lib/postgresql/<version>/bin (newest)."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3]))
    return versions[-1] if versions else None


def pg_skip_reason() -> str | None:
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed (pip install -e '.[web]'); the PostgreSQL tests need it"
    if not (pg_program("initdb") and pg_program("pg_ctl")):
        return "PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql; .ci/run does)"
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as (apt-get install postgresql)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A throwaway PostgreSQL cluster: unix socket in its own folder, no TCP, trust auth, no fsync."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="jm-pg-"))  # short: a socket path has at most 107 bytes
        self.data, self.sock, self.port = self.root / "data", self.root / "sock", _free_port()
        self.sock.mkdir()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root
            for p in (self.root, self.sock):
                shutil.chown(p, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def start(self, fsync: bool = False) -> str | None:
        """Start the server (``fsync`` off for tests, on for benchmarks); None, or why it did not start."""
        initdb, pg_ctl = pg_program("initdb"), pg_program("pg_ctl")
        r = subprocess.run(
            [*self.as_user, str(initdb), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
            + ["--no-sync"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if r.returncode:
            return f"initdb failed: {(r.stderr or r.stdout).strip()[-300:]}"
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses='' -c fsync={'on' if fsync else 'off'}"
        opts += " -c max_connections=200"
        r = subprocess.run(
            [*self.as_user, str(pg_ctl), "-D", str(self.data), "-o", opts, "-w", "-t", "60"]
            + ["-l", str(self.root / "log"), "start"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if r.returncode:
            log = (self.root / "log").read_text(errors="replace") if (self.root / "log").exists() else ""
            return f"the PostgreSQL server did not start: {(r.stderr + log).strip()[-300:]}"
        return None

    def create_database(self, name: str) -> str:
        """A new database; returns its SQLAlchemy URL (psycopg 3 over the unix socket)."""
        import psycopg

        with psycopg.connect(host=str(self.sock), port=self.port, user="postgres", dbname="postgres") as con:
            con.autocommit = True
            con.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@/{name}?host={self.sock}&port={self.port}"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self.as_user, str(pg_program("pg_ctl")), "-D", str(self.data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres():
    reason = pg_skip_reason()
    if reason:
        pytest.skip(reason)
    server = PostgresServer()
    try:
        why = server.start()
        if why:
            pytest.skip(why)
        yield server
    finally:
        server.stop()


# -- one demo workspace per backend, set up the user's way -----------------------------------------


def _point_at(ws: Path, url: str) -> None:
    """Add ``[web] database_url`` to the workspace's journeymap.toml, as a user edits it."""
    config = ws / "journeymap.toml"
    text = config.read_text(encoding="utf-8") if config.exists() else ""
    assert "[web]" not in text
    config.write_text(text.rstrip("\n") + f'\n\n[web]\ndatabase_url = "{url}"\n', encoding="utf-8")


@pytest.fixture(scope="module")
def sites(tmp_path_factory, demo_copy, request):
    """backend -> (workspace, app, role -> email), made on first use of each backend."""
    made: dict[str, tuple[Path, object, dict[str, str]]] = {}

    def get(backend: str):
        if backend not in made:
            from journeymap.web.app import create_app

            ws = demo_copy(tmp_path_factory.mktemp(f"web-{backend}") / "shop", customers=300)
            if backend == "postgresql":
                _point_at(ws, request.getfixturevalue("postgres").create_database("journeymap"))
            users = users_per_role(ws)  # journeymap users add: the first command migrates the database
            made[backend] = (ws, create_app(ws), users)
        return made[backend]

    yield get
    for _, app, _ in made.values():
        app.state.db.dispose()  # type: ignore[attr-defined]


@pytest.fixture(params=BACKENDS)
def site(request, sites):
    return request.param, *sites(request.param)


# -- the tests -------------------------------------------------------------------------------------


def test_the_workspace_database_is_the_configured_backend_at_the_newest_migration(site):
    import sqlalchemy as sa
    from alembic.script import ScriptDirectory

    from journeymap.web.db import MIGRATIONS

    backend, ws, app, _ = site
    engine = app.state.db.engine
    assert engine.dialect.name == backend
    if backend == "postgresql":  # the demo's own SQLite file (made before the URL was set) gets no one new
        with sqlite3.connect(ws / ".journeymap-web.sqlite") as con:
            assert "viewer@example.com" not in {e for (e,) in con.execute("select email from users")}
    tables = set(sa.inspect(engine).get_table_names())
    assert {"users", "sessions", "api_tokens", "comments", "map_versions", "audit_log"} <= tables
    with engine.connect() as con:
        version = con.execute(sa.text("select version_num from alembic_version")).scalar()
    assert version == ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if backend == "sqlite":  # concurrent people: readers never wait for a writer, writers queue (not fail)
        with engine.connect() as con:
            assert con.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert con.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
            assert con.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    listed = json.loads(CliRunner().invoke(main, ["-w", str(ws), "users", "list", "--format", "json"]).output)
    assert {(u["email"], u["role"]) for u in listed} >= {(f"{r}@example.com", r) for r in ("viewer", "owner")}


def _raw_touchpoint(document: str, name: str) -> dict:
    """The touchpoint ``name`` of the map JSON, read with json (not the app's models)."""
    doc = json.loads(document)
    for stage in doc["stages"]:
        for lane in stage["lanes"]:
            for tp in lane["touchpoints"]:
                if tp["name"] == name:
                    return tp
    raise AssertionError(f"no touchpoint {name!r} in the map")


def _scenario(app, users: dict[str, str]) -> dict:
    """Login, comment, reply, resolve, reopen, list, rebuild, versions, audit; what a backend must agree on."""
    commenter, viewer, owner = TestClient(app), TestClient(app), TestClient(app)
    h = {"X-CSRF-Token": login(commenter, users["commenter"])}
    login(viewer, users["viewer"])
    oh = {"X-CSRF-Token": login(owner, users["owner"])}
    doc = viewer.get("/api/map")
    assert doc.status_code == 200
    r = commenter.post("/api/comments", json={"element": TP, "text": HOSTILE}, headers=h)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["text"] == HOSTILE and first["author"] == users["commenter"]
    reply = commenter.post("/api/comments", json={"element": TP, "text": "a reply", "parent": first["id"]}, headers=h)
    assert reply.status_code == 201 and reply.json()["parent"] == first["id"]
    on_stage = commenter.post("/api/comments", json={"element": STAGE, "text": "stage note"}, headers=h)
    assert on_stage.status_code == 201
    assert commenter.patch(f"/api/comments/{first['id']}", json={"resolved": True}, headers=h).json()["resolved"]
    assert viewer.post("/api/comments", json={"element": TP, "text": "no"}).status_code == 403
    thread = viewer.get("/api/comments", params={"element": TP}).json()
    assert [(c["id"], c["parent"], c["resolved"]) for c in thread][-2:] == [
        (first["id"], None, True),
        (reply.json()["id"], first["id"], False),
    ]
    # the figures kept with the comment are those of the map served then, read here without the app's models
    raw = _raw_touchpoint(doc.text, "Size guide")
    then = thread[-2]["figures_then"]
    assert then["conversion"]["value"] == raw["figures"]["conversion"]["value"]
    assert then["reach"]["value"] == raw["figures"]["share"] and then["reach"]["k"] == raw["figures"]["journeys"]
    before = [v["id"] for v in viewer.get("/api/versions").json()]
    editor = TestClient(app)
    rebuilt = editor.post("/api/map/rebuild", headers={"X-CSRF-Token": login(editor, users["editor"])})
    assert rebuilt.status_code == 201
    after = viewer.get("/api/versions").json()
    assert [v["id"] for v in after] == [rebuilt.json()["version"], *before] and after[0]["by"] == users["editor"]
    assert viewer.get("/api/map").headers["x-map-version"] == str(rebuilt.json()["version"])
    rows = owner.get("/api/audit", params={"limit": 1000}, headers=oh).json()
    mine = [r for r in rows if r["detail"].get("id") in (first["id"], reply.json()["id"])]
    assert sorted(r["what"] for r in mine) == ["comment.add", "comment.add", "comment.resolve"]
    return {
        "figures_then": {c["element"]: c["figures_then"] for c in (first, on_stage.json())},
        "thread_texts": [c["text"] for c in thread[-2:]],
        "audit_kinds": sorted({r["what"] for r in rows}),
        "versions_added": len(after) - len(before),
    }


RESULTS: dict[str, dict] = {}


def test_the_api_scenario_through_the_users_path(site):
    backend, _, app, users = site
    RESULTS[backend] = _scenario(app, users)


def test_postgresql_keeps_the_same_figures_as_sqlite(sites):
    """Both backends, from identical demo workspaces, store and return the same figures to the last digit."""
    if pg_skip_reason():
        pytest.skip(pg_skip_reason())
    for backend in BACKENDS:
        if backend not in RESULTS:
            RESULTS[backend] = _scenario(sites(backend)[1], sites(backend)[2])
    sqlite, pg = RESULTS["sqlite"], RESULTS["postgresql"]
    assert sqlite["figures_then"][TP] and sqlite["figures_then"][STAGE]  # something to compare
    assert pg == sqlite


def test_concurrent_comments_are_each_stored_exactly_once(site):
    """WRITERS people post PER_WRITER comments each at the same time; every 201 is one row, no more."""
    backend, ws, app, _ = site
    for i in range(WRITERS):
        assert add_user(ws, f"w{i}@example.com", "commenter").exit_code == 0
    start = threading.Barrier(WRITERS)
    tag = f"{backend}-{os.getpid()}"

    def write(i: int) -> list[tuple[int, str, int]]:
        c = TestClient(app)
        h = {"X-CSRF-Token": login(c, f"w{i}@example.com")}
        start.wait(timeout=60)
        out = []
        for j in range(PER_WRITER):
            text = f"load {tag} {i}-{j}"
            r = c.post("/api/comments", json={"element": TP, "text": text}, headers=h)
            out.append((r.status_code, text, r.json().get("id", -1)))
        return out

    with ThreadPoolExecutor(WRITERS) as pool:
        posted = [x for chunk in pool.map(write, range(WRITERS)) for x in chunk]
    assert {status for status, _, _ in posted} == {201}, [p for p in posted if p[0] != 201][:3]
    reader = TestClient(app)
    login(reader, "w0@example.com")
    stored = [c for c in reader.get("/api/comments").json() if c["text"].startswith(f"load {tag} ")]
    texts = sorted(c["text"] for c in stored)
    assert texts == sorted(t for _, t, _ in posted)  # each exactly once: none lost, none doubled
    assert len(texts) == len(set(texts)) == WRITERS * PER_WRITER
    assert sorted(c["id"] for c in stored) == sorted(i for _, _, i in posted)
    assert {c["author"] for c in stored} == {f"w{i}@example.com" for i in range(WRITERS)}


def test_an_unreachable_postgresql_is_one_sentence_and_nothing_written(tmp_path, demo_copy):
    ws = demo_copy(tmp_path / "shop", customers=300)
    _point_at(ws, f"postgresql+psycopg://nobody:s3cret-pw@127.0.0.1:{_free_port()}/journeymap?connect_timeout=3")
    before = sorted(p.name for p in ws.iterdir())
    r = add_user(ws, "ana@example.com", "viewer")
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert "database_url" in r.output and "127.0.0.1" in r.output
    assert sorted(p.name for p in ws.iterdir()) == before  # no SQLite file made instead
    assert "s3cret-pw" not in r.output and "***" in r.output  # the URL's password is not shown
