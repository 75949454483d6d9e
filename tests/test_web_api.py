"""The web app's API through the user's path: ``journeymap demo``, ``journeymap users add``, then HTTP.

Login cookie flags, CSRF, login rate limits, comments with the element's figures, API tokens, map
versions, the audit log and the security headers.
"""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")
from fastapi.testclient import TestClient  # noqa: E402

from tests.test_web_support import PASSWORD, add_user, login, users_per_role  # noqa: E402

TP = "touchpoint:Size%20guide"
HOSTILE = '<script>alert(1)</script> & "quotes" \' \u202e <img src=x onerror=alert(2)>'


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo_copy):
    from journeymap.web.app import create_app

    ws = demo_copy(tmp_path_factory.mktemp("web-api") / "shop", customers=300)
    users = users_per_role(ws)
    app = create_app(ws)
    with TestClient(app) as warm:  # the first map version, built once for the module
        login(warm, users["viewer"])
        assert warm.get("/api/map").status_code == 200
    return ws, app, users


def client(app, **kw) -> TestClient:
    return TestClient(app, **kw)


def test_login_sets_an_httponly_samesite_cookie_and_returns_the_csrf_token(site):
    _, app, users = site
    c = client(app)
    r = c.post("/api/login", json={"email": users["editor"], "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["user"] == "editor@example.com" and body["role"] == "editor" and len(body["csrf"]) >= 32
    cookie = r.headers["set-cookie"].lower()
    assert "journeymap_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "path=/" in cookie and "secure" not in cookie  # plain http on loopback
    # behind a TLS proxy, or on https, the cookie is Secure
    r = client(app).post(
        "/api/login", json={"email": users["editor"], "password": PASSWORD}, headers={"X-Forwarded-Proto": "https"}
    )
    assert "; secure" in r.headers["set-cookie"].lower()
    r = client(app, base_url="https://testserver").post(
        "/api/login", json={"email": users["editor"], "password": PASSWORD}
    )
    assert "; secure" in r.headers["set-cookie"].lower()
    assert body["csrf"] not in r.headers["set-cookie"]  # the CSRF token is not the cookie


def test_state_changes_need_the_csrf_token_of_the_session(site):
    _, app, users = site
    c = client(app)
    csrf = login(c, users["commenter"])
    new = {"element": TP, "text": "needs a token"}
    r = c.post("/api/comments", json=new)
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    assert c.post("/api/comments", json=new, headers={"X-CSRF-Token": "x" + csrf}).status_code == 403
    other = client(app)
    other_csrf = login(other, users["commenter"])  # another session's token does not fit this one
    assert c.post("/api/comments", json=new, headers={"X-CSRF-Token": other_csrf}).status_code == 403
    assert c.post("/api/comments", json=new, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert c.get("/api/comments", params={"element": TP}).status_code == 200  # reads need none


def test_wrong_password_is_401_and_the_sixth_attempt_429_even_with_the_right_password(site):
    ws, app, _ = site
    assert add_user(ws, "target@example.com", "viewer").exit_code == 0
    c = client(app)
    for _ in range(5):
        r = c.post("/api/login", json={"email": "target@example.com", "password": "wrong password"})
        assert r.status_code == 401 and r.json()["detail"] == "The email or password is wrong."
        assert "set-cookie" not in r.headers
    r = c.post("/api/login", json={"email": "Target@Example.com", "password": PASSWORD})
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60 and "try again in" in r.json()["detail"]
    assert "set-cookie" not in r.headers
    # an unknown email is the same 401 (no hint which emails exist)
    r = c.post("/api/login", json={"email": "nobody@example.com", "password": "wrong password"})
    assert r.status_code == 401 and r.json()["detail"] == "The email or password is wrong."


def test_failed_logins_are_also_limited_per_client_address(site):
    from journeymap.web.app import LOGIN_PER_IP, create_app

    ws, _, users = site
    c = client(create_app(ws))  # its own limiter
    for i in range(LOGIN_PER_IP):
        assert c.post("/api/login", json={"email": f"u{i}@example.com", "password": "wrong!"}).status_code == 401
    r = c.post("/api/login", json={"email": users["owner"], "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_comments_round_trip_with_replies_resolve_reopen_and_the_figures_of_then(site):
    _, app, users = site
    c = client(app)
    h = {"X-CSRF-Token": login(c, users["commenter"])}
    r = c.post("/api/comments", json={"element": TP, "text": HOSTILE}, headers=h)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["text"] == HOSTILE  # stored as given; escaped where it is shown
    assert first["author"] == "commenter@example.com" and first["resolved"] is False and first["parent"] is None
    try:
        import journeymap.web.figures  # noqa: F401
    except ImportError:
        assert first["figures_then"] == {}
    else:  # the Size guide's reach and conversion when the comment was written
        assert 0 < first["figures_then"]["reach"]["value"] <= 1
        assert 0 <= first["figures_then"]["conversion"]["value"] <= 1
    reply = c.post("/api/comments", json={"element": TP, "text": "a reply", "parent": first["id"]}, headers=h).json()
    assert reply["parent"] == first["id"]
    # a reply must be on its parent's element
    r = c.post("/api/comments", json={"element": "stage:purchase", "text": "x", "parent": first["id"]}, headers=h)
    assert r.status_code == 404 and r.json()["detail"].endswith(".")
    listed = client(app)
    login(listed, users["viewer"])
    thread = listed.get("/api/comments", params={"element": TP}).json()
    assert [x["id"] for x in thread][-2:] == [first["id"], reply["id"]]
    assert all(x["element"] == TP for x in thread)
    assert listed.get("/api/comments", params={"element": "theme:nothing-here"}).json() == []
    r = c.patch(f"/api/comments/{first['id']}", json={"resolved": True}, headers=h)
    assert r.status_code == 200 and r.json()["resolved"] is True
    r = c.patch(f"/api/comments/{first['id']}", json={"resolved": False}, headers=h)
    assert r.json()["resolved"] is False
    assert c.patch("/api/comments/999999", json={"resolved": True}, headers=h).status_code == 404
    # bad input: one sentence and the right status
    r = c.post("/api/comments", json={"element": TP, "text": "x" * 5001}, headers=h)
    assert r.status_code == 422 and r.json()["detail"].count(";") == 1 and "text" in r.json()["detail"]
    r = c.post("/api/comments", json={"element": TP, "text": ""}, headers=h)
    assert r.status_code == 422
    r = c.post("/api/comments", json={"element": "nonsense", "text": "x"}, headers=h)
    assert r.status_code in (201, 400)  # 400 once the figures module knows element ids
    if r.status_code == 400:
        assert "not a map element id" in r.json()["detail"]


def test_an_api_token_works_without_cookie_and_without_csrf(site):
    _, app, users = site
    c = client(app)
    h = {"X-CSRF-Token": login(c, users["commenter"])}
    assert c.post("/api/tokens", json={"name": "script"}).status_code == 403  # CSRF applies to the session
    r = c.post("/api/tokens", json={"name": "script"}, headers=h)
    assert r.status_code == 201
    token = r.json()["token"]
    bare = client(app)
    bearer = {"Authorization": f"Bearer {token}"}
    assert bare.get("/api/me", headers=bearer).json()["user"] == "commenter@example.com"
    r = bare.post("/api/comments", json={"element": TP, "text": "from a script"}, headers=bearer)
    assert r.status_code == 201 and r.json()["author"] == "commenter@example.com"
    assert "set-cookie" not in r.headers and not bare.cookies
    # the token carries its user's role: a commenter's token cannot rebuild
    assert bare.post("/api/map/rebuild", headers=bearer).status_code == 403
    r = bare.get("/api/me", headers={"Authorization": "Bearer " + token[:-2] + "xx"})
    assert r.status_code == 401
    assert bare.get("/api/me").status_code == 401


def test_logout_ends_the_session(site):
    _, app, users = site
    c = client(app)
    csrf = login(c, users["viewer"])
    assert c.get("/api/me").status_code == 200
    cookie = c.cookies.get("journeymap_session")
    assert c.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    again = client(app)
    again.cookies.set("journeymap_session", cookie)  # the old cookie, replayed
    assert again.get("/api/me").status_code == 401


def test_an_expired_session_is_refused_and_cleared_at_the_next_login(site):
    from datetime import timedelta

    from sqlalchemy import select, update

    from journeymap.web.db import Session, now, token_hash

    _, app, users = site
    c = client(app)
    login(c, users["viewer"])
    key = token_hash(c.cookies.get("journeymap_session"))
    with app.state.db.sessions() as s:
        s.execute(update(Session).where(Session.token_hash == key).values(expires=now() - timedelta(seconds=1)))
        s.commit()
    assert c.get("/api/me").status_code == 401
    login(client(app), users["viewer"])
    with app.state.db.sessions() as s:
        assert s.scalar(select(Session).where(Session.token_hash == key)) is None


def test_map_versions_rebuild_and_the_map_document(site):
    from journeymap.maps.models import JourneyMap

    _, app, users = site
    c = client(app)
    h = {"X-CSRF-Token": login(c, users["editor"])}
    r = c.get("/api/map")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = JourneyMap.from_json(r.text)
    assert any(tp.name == "Size guide" for tp in doc.touchpoints())
    before = c.get("/api/versions").json()
    r = c.post("/api/map/rebuild", headers=h)
    assert r.status_code == 201
    after = c.get("/api/versions").json()
    assert [v["id"] for v in after] == [r.json()["version"]] + [v["id"] for v in before]
    assert after[0]["by"] == "editor@example.com"
    assert c.get("/api/map").headers["x-map-version"] == str(r.json()["version"])


def test_every_response_has_the_security_headers(site):
    from journeymap.web.app import CSP

    _, app, users = site
    c = client(app)
    login(c, users["viewer"])
    for r in (c.get("/api/map"), c.get("/api/nothing"), c.get("/api/openapi.json"), client(app).get("/api/me")):
        assert r.headers["content-security-policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
    spec = c.get("/api/openapi.json").json()
    assert {"/api/login", "/api/map", "/api/comments", "/api/versions", "/api/tokens"} <= set(spec["paths"])


def test_the_audit_log_records_logins_user_changes_and_state_changes(site):
    _, app, users = site
    owner = client(app)
    h = {"X-CSRF-Token": login(owner, users["owner"])}
    client(app).post("/api/login", json={"email": users["viewer"], "password": "not it!"})
    r = owner.post(
        "/api/members", json={"email": "new@example.com", "role": "commenter", "password": PASSWORD}, headers=h
    )
    assert r.status_code == 201 and r.json()["role"] == "commenter"
    assert owner.patch("/api/members/new@example.com", json={"role": "editor"}, headers=h).json()["role"] == "editor"
    assert owner.delete("/api/members/new@example.com", headers=h).status_code == 200
    assert owner.delete("/api/members/demo@example.com", headers=h).status_code == 200  # journeymap demo's owner
    r = owner.delete("/api/members/owner@example.com", headers=h)
    assert r.status_code == 409 and "last owner" in r.json()["detail"]  # the last owner stays
    assert owner.patch("/api/members/owner@example.com", json={"role": "viewer"}, headers=h).status_code == 409
    r = owner.post("/api/members", json={"email": "x@example.com", "role": "king", "password": PASSWORD}, headers=h)
    assert r.status_code == 400 and "king" in r.json()["detail"]
    c = client(app)
    ch = {"X-CSRF-Token": login(c, users["commenter"])}
    cid = c.post("/api/comments", json={"element": TP, "text": "audited"}, headers=ch).json()["id"]
    rows = owner.get("/api/audit", params={"limit": 1000}).json()
    seen = {(r["who"], r["what"]) for r in rows}
    assert ("cli", "user.add") in seen  # journeymap users add
    assert ("owner@example.com", "login") in seen and ("viewer@example.com", "login.failed") in seen
    assert ("owner@example.com", "user.add") in seen and ("owner@example.com", "user.role") in seen
    assert ("owner@example.com", "user.remove") in seen and ("journeymap demo", "user.add") in seen
    assert any(r["what"] == "comment.add" and r["detail"].get("id") == cid for r in rows)
