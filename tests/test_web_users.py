"""People and the web app's database: ``journeymap demo``'s login, ``journeymap users``, argon2id hashes,
the Alembic migrations (SQLite in the workspace; PostgreSQL in tests/test_web_postgres.py)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")
from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from journeymap.cli import main  # noqa: E402
from tests.test_web_support import PASSWORD, add_user, login, serve_process  # noqa: E402

TP = "touchpoint:Size%20guide"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``journeymap demo`` as a user runs it; returns (workspace, printed email, printed password)."""
    ws = tmp_path_factory.mktemp("web-users") / "shop"
    r = CliRunner().invoke(main, ["demo", str(ws), "--customers", "200"])
    assert r.exit_code == 0, r.output
    m = re.search(r"serve\s+\(log in as (\S+) / (\S+)\)", r.output)
    assert m, r.output
    return ws, m.group(1), m.group(2)


def test_the_demo_prints_an_owner_login_that_works(demo):
    from journeymap.web.app import create_app

    ws, email, password = demo
    c = TestClient(create_app(ws))
    r = c.post("/api/login", json={"email": email, "password": password})
    assert r.status_code == 200 and r.json()["role"] == "owner"
    assert c.post("/api/login", json={"email": email, "password": password + "x"}).status_code == 401
    assert (ws / ".journeymap-web.sqlite").is_file()
    assert ".journeymap-web.sqlite*" in (ws / ".gitignore").read_text().splitlines()  # hashes never go to git


def _run(ws: Path, *args: str, stdin: str | None = None):
    return CliRunner().invoke(main, ["-w", str(ws), "users", *args], input=stdin)


def test_users_add_list_role_remove_and_their_one_sentence_errors(demo):
    ws = demo[0]
    r = add_user(ws, "Ana@Example.com", "commenter")
    assert r.exit_code == 0, r.output
    listed = json.loads(_run(ws, "list", "--format", "json").output)
    assert {"email": "ana@example.com", "role": "commenter"}.items() <= next(
        u for u in listed if u["email"] == "ana@example.com"
    ).items()
    cases = {
        ("add", "bo@example.com", "--role", "admin", "--password-stdin"): "Role 'admin' is not one of viewer",
        ("add", "not-an-email", "--role", "viewer", "--password-stdin"): "is not an email address",
        ("add", "ana@example.com", "--role", "viewer", "--password-stdin"): "exists already",
        ("remove", "zed@example.com"): "No user 'zed@example.com'",
        ("role", "ana@example.com", "emperor"): "Role 'emperor' is not one of",
    }
    for args, words in cases.items():
        r = _run(ws, *args, stdin=PASSWORD + "\n")
        assert r.exit_code == 1, (args, r.output)
        assert words in r.output and "Traceback" not in r.output, r.output
        assert len(r.output.strip().splitlines()) == 1, r.output  # one sentence
    r = _run(ws, "add", "short@example.com", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert r.exit_code == 1 and "8 to 1024 characters" in r.output
    assert _run(ws, "role", "ana@example.com", "editor").exit_code == 0
    from journeymap.web.app import create_app

    c = TestClient(create_app(ws))
    login(c, "ana@example.com")
    assert c.get("/api/me").json()["role"] == "editor"
    assert _run(ws, "remove", "ana@example.com").exit_code == 0
    assert c.get("/api/me").status_code == 401  # the session went with the user
    assert "ana@example.com" not in _run(ws, "list", "--format", "json").output


def test_passwords_are_stored_as_argon2id_hashes_only(demo):
    from sqlalchemy import select

    from journeymap.web.db import Database, User

    ws = demo[0]
    assert add_user(ws, "hash@example.com", "viewer").exit_code == 0
    db = Database.for_workspace(ws)
    with db.sessions() as s:
        stored = s.scalar(select(User.password_hash).where(User.email == "hash@example.com"))
    db.dispose()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PASSWORD.encode() not in (ws / ".journeymap-web.sqlite").read_bytes()


def test_the_schema_comes_from_the_migrations_not_create_all(demo):
    import sqlalchemy as sa

    import journeymap.web
    from journeymap.web.db import MIGRATIONS, Database, database_url

    ws = demo[0]
    db = Database.for_workspace(ws)
    insp = sa.inspect(db.engine)
    assert {"users", "sessions", "api_tokens", "comments", "map_versions", "audit_log"} <= set(insp.get_table_names())
    with db.engine.connect() as con:
        version = con.execute(sa.text("select version_num from alembic_version")).scalar()
    newest = [p.stem.split("_")[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py")]
    assert version == max(newest)  # the newest migration file's revision (0001, 0002, ...)
    db.dispose()
    src = Path(journeymap.web.__file__).parent
    assert not [p for p in src.rglob("*.py") if ".create_all(" in p.read_text(encoding="utf-8")]
    assert database_url(ws) == f"sqlite:///{ws.resolve() / '.journeymap-web.sqlite'}"


def test_the_database_url_comes_from_journeymap_toml(tmp_path):
    from journeymap.web.db import database_url

    (tmp_path / "journeymap.toml").write_text('[web]\ndatabase_url = "postgresql+psycopg://u@h/db"\n')
    assert database_url(tmp_path) == "postgresql+psycopg://u@h/db"


def test_journeymap_serve_answers_over_http(demo):
    """``journeymap serve`` as a process on a free port: login and the security headers over real HTTP."""
    import time

    import httpx

    ws, email, password = demo
    port = _free_port()
    proc = serve_process(ws, port)
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
        while True:
            try:
                r = httpx.post(f"{url}/api/login", json={"email": email, "password": password}, timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()[-2000:]
                time.sleep(0.3)
        assert r.status_code == 200 and r.json()["role"] == "owner"
        assert "httponly" in r.headers["set-cookie"].lower()
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        assert httpx.get(f"{url}/api/me", timeout=5).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# PostgreSQL: tests/test_web_postgres.py runs these users, the API scenario and concurrent writes against a
# real server the test starts, and on SQLite, the same figures on both.
