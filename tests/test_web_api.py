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


# -- the page, the login page, static files, caching ------------------------------------------------


def _srcs(html: str) -> list[str]:
    import re

    return re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)


def test_the_page_for_the_signed_in_and_the_login_page_for_anyone_else(site):
    from journeymap.web.app import CSP
    from journeymap.web.page import PAGE_CSP

    _, app, users = site
    anon = client(app, follow_redirects=False)
    r = anon.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = anon.get("/login")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CSP  # no inline script or style on the login page
    html = r.text
    assert '<form id="jm-login-form"' in html and 'type="password"' in html and "<script>" not in html
    assert [s.split("?")[0] for s in _srcs(html)] == ["data:,", "/static/report.css", "/static/login.js"]  # icon empty
    pages = {}
    for role in ("viewer", "commenter"):
        c = client(app)
        csrf = login(c, users[role])
        r = c.get("/")
        assert r.status_code == 200 and r.headers["content-security-policy"] == PAGE_CSP
        assert users[role] not in r.text and csrf not in r.text  # nothing personal: the HTML is shared by a role
        assert 'data-csrf=""' in r.text and f'data-role="{role}"' in r.text
        assert TP in r.text  # the map's elements
        pages[role] = r
        again = c.get("/", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and not again.content
    assert ("<textarea" in pages["viewer"].text, "<textarea" in pages["commenter"].text) == (False, True)
    other = client(app)
    login(other, users["editor"])
    assert other.get("/").headers["etag"] != pages["viewer"].headers["etag"]  # one page per role
    # the static files the page names: their media types, a year of caching for the hashed URL
    from journeymap.web.page import STATIC_FILES

    c = client(app)
    for src in [s for s in _srcs(pages["commenter"].text) if s.startswith("/static/")]:
        name = src.split("?")[0].removeprefix("/static/")
        r = c.get(src, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200, src
        assert r.headers["content-type"] == STATIC_FILES[name][1]
        assert r.content == open(STATIC_FILES[name][0], "rb").read()  # noqa: SIM115  (decoded from gzip)
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable", src
        assert r.headers.get("content-encoding") == "gzip"
        plain = c.get(f"/static/{name}")
        assert plain.headers["cache-control"] == "public, no-cache"  # no hash: revalidate
        assert c.get(f"/static/{name}", headers={"If-None-Match": plain.headers["etag"]}).status_code == 304
    r = c.get("/static/..%2Fapp.py")
    assert r.status_code == 404 and r.json()["detail"].endswith(".")
    assert c.get("/static/secret.txt").status_code == 404


def test_the_map_is_served_from_memory_with_an_etag_until_a_new_version(site, monkeypatch):
    from sqlalchemy import event, insert, select

    import journeymap.web.app as web_app
    from journeymap.web.db import MapVersion

    _, app, users = site
    c = client(app)
    h = {"X-CSRF-Token": login(c, users["editor"])}
    first = c.get("/api/map")
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(app.state.db.engine, "before_cursor_execute", seen)
    try:
        for _ in range(5):
            r = c.get("/api/map", headers={"Accept-Encoding": "gzip"})
            assert r.status_code == 200 and r.content == first.content
            assert r.headers["content-encoding"] == "gzip" and r.headers["etag"] == first.headers["etag"]
        assert c.get("/api/map", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    finally:
        event.remove(app.state.db.engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "map_versions.document" in s]  # not read from the database again
    # a version stored by another process is seen after REVALIDATE seconds
    monkeypatch.setattr(web_app, "REVALIDATE", 0.0)
    with app.state.db.sessions() as s:
        doc = s.scalar(select(MapVersion.document).order_by(MapVersion.id.desc()).limit(1))
        s.execute(insert(MapVersion).values(document=doc))
        s.commit()
        newest = s.scalar(select(MapVersion.id).order_by(MapVersion.id.desc()).limit(1))
    assert c.get("/api/map").headers["x-map-version"] == str(newest)
    r = c.post("/api/map/rebuild", headers=h)
    assert c.get("/api/map").headers["etag"] == f'"map-{r.json()["version"]}"'


# -- comments: was and now, mentions ----------------------------------------------------------------


def test_mentions_of_members_are_kept_and_listed_for_the_one_mentioned(site):
    ws, app, users = site
    for email, role in (("ana@example.com", "viewer"), ("sam@one.example", "viewer"), ("sam@two.example", "viewer")):
        assert add_user(ws, email, role).exit_code == 0
    c = client(app)
    h = {"X-CSRF-Token": login(c, users["commenter"])}
    text = (
        "@ana please look, cc @EDITOR@example.com and @ghost; @sam is two people; "
        "mail me at x@ana, @ana<img src=x onerror=alert(1)>"
    )
    r = c.post("/api/comments", json={"element": TP, "text": text}, headers=h)
    assert r.status_code == 201
    made = r.json()
    assert made["mentions"] == ["ana@example.com", "editor@example.com"] and made["text"] == text
    assert "_mentions" not in made["figures_then"]
    ana = client(app)
    login(ana, "ana@example.com")
    mine = ana.get("/api/comments", params={"mentioning": "me"}).json()
    assert made["id"] in [m["id"] for m in mine] and all("ana@example.com" in m["mentions"] for m in mine)
    viewer = client(app)
    login(viewer, users["viewer"])
    assert made["id"] not in [m["id"] for m in viewer.get("/api/comments", params={"mentioning": "me"}).json()]
    listed = viewer.get("/api/comments", params={"element": TP}).json()
    assert next(x for x in listed if x["id"] == made["id"])["mentions"] == made["mentions"]
    r = viewer.get("/api/comments", params={"mentioning": "you"})
    assert r.status_code == 400 and r.json()["detail"] == "mentioning='you' is not known; use mentioning=me."


def test_a_comment_survives_a_rebuild_and_reads_was_and_now(demo_copy, tmp_path):
    """Comment, change the blueprint, rebuild: the comment keeps its id and element, and its figures of then
    stand beside today's (checked against the two map documents' own numbers)."""
    import yaml

    from journeymap.web.app import create_app

    ws = demo_copy(tmp_path / "shop", customers=300)
    users = users_per_role(ws)
    app = create_app(ws)
    c = client(app)
    h = {"X-CSRF-Token": login(c, users["editor"])}
    before = c.get("/api/map").json()
    first = before["stages"][0]
    sid = f"stage:{first['name']}"
    made = c.post("/api/comments", json={"element": sid, "text": "reach looks low"}, headers=h).json()
    assert made["changes"] == [] and made["figures_then"]["reach"]["value"] == first["reach"]["value"]
    # move the first stage's busiest touchpoint to the second stage
    bp_path = ws / "blueprint.yaml"
    bp = yaml.safe_load(bp_path.read_text(encoding="utf-8"))
    second = [s["name"] if isinstance(s, dict) else s for s in bp["stages"]][1]
    moved = max((tp for ln in first["lanes"] for tp in ln["touchpoints"]), key=lambda t: t["figures"]["journeys"])
    next(t for t in bp["touchpoints"] if t["name"] == moved["name"])["stage"] = second
    bp_path.write_text(yaml.safe_dump(bp, allow_unicode=True, sort_keys=False), encoding="utf-8")
    r = c.post("/api/map/rebuild", headers=h)
    assert r.status_code == 201
    after = c.get("/api/map").json()
    old = first["reach"]["value"]
    new = next(s for s in after["stages"] if s["name"] == first["name"])["reach"]["value"]
    assert old != new
    thread = c.get("/api/comments", params={"element": sid}).json()
    assert [x["id"] for x in thread] == [made["id"]]
    got = thread[0]
    assert got["figures_then"]["reach"]["value"] == old and got["figures_now"]["reach"]["value"] == new
    assert f"reach was {100 * old:.1f}%, now {100 * new:.1f}%" in got["changes"]
    page = c.get("/").text
    assert f'data-element="{sid}"' in page and f'data-map-version="{r.json()["version"]}"' in page


def test_the_comment_list_follows_every_change_even_from_another_process(site):
    """The list is kept in memory until the audit log moves: a resolve, a new comment, and a change written by
    another process (with its audit row, as every change is) all show at the next read."""
    from sqlalchemy import update

    from journeymap.web.db import Comment, audit

    _, app, users = site
    c = client(app)
    h = {"X-CSRF-Token": login(c, users["commenter"])}
    made = c.post("/api/comments", json={"element": TP, "text": "cached?"}, headers=h).json()
    assert c.get("/api/comments").json()[-1]["id"] == made["id"]
    c.patch(f"/api/comments/{made['id']}", json={"resolved": True}, headers=h)
    assert next(x for x in c.get("/api/comments").json() if x["id"] == made["id"])["resolved"] is True
    with app.state.db.sessions() as s:  # another process moves the comment (a rename) and audits it
        s.execute(update(Comment).where(Comment.id == made["id"]).values(element="stage:purchase"))
        audit(s, "other process", "blueprint.edit")
        s.commit()
    listed = {x["id"]: x for x in c.get("/api/comments").json()}
    assert listed[made["id"]]["element"] == "stage:purchase"
    assert made["id"] in [x["id"] for x in c.get("/api/comments", params={"element": "stage:purchase"}).json()]
    assert made["id"] not in [x["id"] for x in c.get("/api/comments", params={"element": TP}).json()]
