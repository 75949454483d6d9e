"""Authorization over every route x {anonymous, viewer, commenter, editor, owner}.

The routes come from the app itself: a route without an entry in :data:`POLICY` fails the test, so a
new route cannot ship without its rule. Allowed callers get the route's success status; anonymous
callers get 401; signed-in callers below the route's role get 403. State-changing routes also refuse
a signed-in session that sends no CSRF token (403), whatever its role.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from tests.test_web_live import live_server  # noqa: E402
from tests.test_web_support import PASSWORD, login, users_per_role  # noqa: E402

CALLERS = ("anonymous", "viewer", "commenter", "editor", "owner")
RANK = {c: i for i, c in enumerate(CALLERS)}
TP = "touchpoint:Size%20guide"
_n = itertools.count()


def _member(app) -> str:
    """A throwaway member for the routes that change or remove one (so 403 is the role, not a 404)."""
    from journeymap.web.users import add_user

    email = f"m{next(_n)}@example.com"
    add_user(app.state.db, email, "viewer", PASSWORD)
    return email


def _blueprint_version(app) -> str:
    """The blueprint's current version: the first 16 hex digits of blueprint.yaml's SHA-256."""
    import hashlib

    return hashlib.sha256((app.state.workspace / "blueprint.yaml").read_bytes()).hexdigest()[:16]


def _conflict(app) -> int:
    """An open kept conflict of the editor (the owner may drop anyone's), made for the DELETE route."""
    from sqlalchemy import select

    from journeymap.web.db import BlueprintConflict, User

    with app.state.db.sessions() as s:
        editor = s.scalar(select(User.id).where(User.email == "editor@example.com"))
        row = BlueprintConflict(user_id=editor, touchpoint="Size guide", base_version="0", current_version="1")
        s.add(row)
        s.commit()
        return row.id


def _first_version(app) -> int:
    from sqlalchemy import func, select

    from journeymap.web.db import MapVersion

    with app.state.db.sessions() as s:
        return int(s.scalar(select(func.min(MapVersion.id))))


Request = Callable[[Any, dict], tuple[str, dict | None]]
# (method, path) -> (least caller allowed, success status, request maker: (app, ids) -> (url, json))
POLICY: dict[tuple[str, str], tuple[str, int, Request]] = {
    ("GET", "/api/openapi.json"): ("anonymous", 200, lambda app, ids: ("/api/openapi.json", None)),
    ("POST", "/api/login"): (
        "anonymous",
        200,
        lambda app, ids: ("/api/login", {"email": "viewer@example.com", "password": PASSWORD}),
    ),
    ("POST", "/api/logout"): ("viewer", 200, lambda app, ids: ("/api/logout", None)),
    ("GET", "/api/me"): ("viewer", 200, lambda app, ids: ("/api/me", None)),
    ("POST", "/api/tokens"): ("viewer", 201, lambda app, ids: ("/api/tokens", {"name": "matrix"})),
    ("GET", "/api/map"): ("viewer", 200, lambda app, ids: ("/api/map", None)),
    ("POST", "/api/map/rebuild"): ("editor", 201, lambda app, ids: ("/api/map/rebuild", None)),
    ("GET", "/api/versions"): ("viewer", 200, lambda app, ids: ("/api/versions", None)),
    ("GET", "/api/comments"): ("viewer", 200, lambda app, ids: (f"/api/comments?element={TP}", None)),
    ("POST", "/api/comments"): ("commenter", 201, lambda app, ids: ("/api/comments", {"element": TP, "text": "m"})),
    ("PATCH", "/api/comments/{comment_id}"): (
        "commenter",
        200,
        lambda app, ids: (f"/api/comments/{ids['comment']}", {"resolved": True}),
    ),
    ("GET", "/api/members"): ("owner", 200, lambda app, ids: ("/api/members", None)),
    ("POST", "/api/members"): (
        "owner",
        201,
        lambda app, ids: (
            "/api/members",
            {"email": f"n{next(_n)}@example.com", "role": "viewer", "password": PASSWORD},
        ),
    ),
    ("PATCH", "/api/members/{email}"): (
        "owner",
        200,
        lambda app, ids: (f"/api/members/{_member(app)}", {"role": "commenter"}),
    ),
    ("DELETE", "/api/members/{email}"): ("owner", 200, lambda app, ids: (f"/api/members/{_member(app)}", None)),
    ("GET", "/api/audit"): ("owner", 200, lambda app, ids: ("/api/audit", None)),
    # the pages, their files and the live events
    ("GET", "/"): ("viewer", 200, lambda app, ids: ("/", None)),
    ("GET", "/login"): ("anonymous", 200, lambda app, ids: ("/login", None)),
    ("GET", "/static/{name}"): ("anonymous", 200, lambda app, ids: ("/static/report.js", None)),
    ("GET", "/api/events"): ("viewer", 200, lambda app, ids: ("/api/events", None)),
    # curation together and versions (journeymap/web/api_blueprint.py)
    ("GET", "/api/blueprint"): ("viewer", 200, lambda app, ids: ("/api/blueprint", None)),
    ("GET", "/api/blueprint/changes"): ("viewer", 200, lambda app, ids: ("/api/blueprint/changes", None)),
    ("GET", "/api/blueprint/conflicts"): ("editor", 200, lambda app, ids: ("/api/blueprint/conflicts", None)),
    ("PATCH", "/api/blueprint/touchpoints/{name:path}"): (
        "editor",
        200,
        lambda app, ids: (
            "/api/blueprint/touchpoints/Size%20guide",
            {"base_version": _blueprint_version(app), "changes": {"description": "matrix"}},
        ),
    ),
    ("DELETE", "/api/blueprint/conflicts/{conflict_id}"): (
        "editor",
        200,
        lambda app, ids: (f"/api/blueprint/conflicts/{_conflict(app)}", None),
    ),
    ("GET", "/api/versions/{a}/diff/{b}"): (
        "viewer",
        200,
        lambda app, ids: (f"/api/versions/{_first_version(app)}/diff/{_first_version(app)}", None),
    ),
}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
ANONYMOUS = {("GET", "/"): 303}
"""Routes that answer an anonymous caller with something else than 401: the map page sends them to log in."""
STREAMING = {("GET", "/api/events")}
"""Routes whose success never ends (Server-Sent Events): called over real HTTP, the stream closed once it opens."""


def app_routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app answers (HEAD and OPTIONS follow GET and are not separate rules)."""
    out = set()
    for route in app.routes:
        for method in getattr(route, "methods", None) or ():
            if method not in ("HEAD", "OPTIONS"):
                out.add((method, route.path))
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo_copy):
    from journeymap.web.app import create_app

    ws = demo_copy(tmp_path_factory.mktemp("web-authz") / "shop", customers=300)
    users = users_per_role(ws)
    app = create_app(ws)
    c = TestClient(app)
    h = {"X-CSRF-Token": login(c, users["commenter"])}
    assert c.get("/api/map").status_code == 200  # the first version, built once
    comment = c.post("/api/comments", json={"element": TP, "text": "to resolve"}, headers=h).json()["id"]
    with live_server(app) as base:  # for the event stream, which needs real HTTP
        yield app, users, {"comment": comment, "base": base}


def test_every_route_has_a_rule_and_every_rule_a_route(site):
    app, _, _ = site
    routes = app_routes(app)
    missing = sorted(routes - POLICY.keys())
    assert not missing, f"routes without an authorization rule in POLICY: {missing}"
    assert not sorted(POLICY.keys() - routes), "rules for routes the app no longer has"


class _Answer:
    def __init__(self, status_code: int, body: bytes):
        self.status_code, self.text = status_code, body.decode("utf-8", "replace")

    def json(self):
        import json

        return json.loads(self.text)


def _stream(base: str, users, caller: str, url: str) -> _Answer:
    import httpx

    with httpx.Client(base_url=base, timeout=10) as c:
        if caller != "anonymous":
            assert c.post("/api/login", json={"email": users[caller], "password": PASSWORD}).status_code == 200
        with c.stream("GET", url) as r:
            if r.status_code == 200:
                assert r.headers["content-type"].startswith("text/event-stream")
                return _Answer(200, b"")  # open: leaving the block hangs up
            return _Answer(r.status_code, r.read())


def _call(app, users, caller: str, key: tuple[str, str], ids: dict, *, csrf: bool = True):
    method, _ = key
    url, body = POLICY[key][2](app, ids)
    if key in STREAMING:
        return _stream(ids["base"], users, caller, url)
    c = TestClient(app, follow_redirects=False)
    headers = {}
    if caller != "anonymous":
        token = login(c, users[caller])
        if csrf:
            headers["X-CSRF-Token"] = token
    return c.request(method, url, json=body, headers=headers)


def test_authorization_matrix_every_route_x_every_caller(site):
    app, users, ids = site
    routes = sorted(app_routes(app) & POLICY.keys())
    wrong = []
    for key in routes:
        least, ok, _ = POLICY[key]
        for caller in CALLERS:
            if RANK[caller] >= RANK[least]:
                expected = ok
            elif caller == "anonymous" and key in ANONYMOUS:
                expected = ANONYMOUS[key]
            else:
                expected = 401 if caller == "anonymous" else 403
            r = _call(app, users, caller, key, ids)
            if r.status_code != expected:
                wrong.append(f"{key[0]} {key[1]} as {caller}: {r.status_code} (expected {expected}) {r.text[:120]}")
            if key == ("GET", "/") and expected == 303:
                assert r.headers["location"] == "/login"
            if expected in (401, 403):
                assert r.json()["detail"].endswith("."), r.text  # one sentence, not a stack
    size = len(routes) * len(CALLERS)
    assert size >= 20 * 5
    assert not wrong, "\n".join(wrong)
    print(f"authorization matrix: {len(routes)} routes x {len(CALLERS)} callers = {size} cases")


def test_state_changing_routes_refuse_a_session_without_csrf(site):
    app, users, ids = site
    for key in sorted(app_routes(app) & POLICY.keys()):
        least, _, _ = POLICY[key]
        if key[0] not in UNSAFE or least == "anonymous":
            continue
        r = _call(app, users, "owner", key, ids, csrf=False)
        assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"], (key, r.text)
