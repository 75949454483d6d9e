"""Real time on the shared map: ``GET /api/events`` (Server-Sent Events) over real HTTP, and the live page
in Chromium with two people at once.

A workspace is made the user's way (``journeymap demo`` copy, ``journeymap users add``), served by
uvicorn on a free loopback port (in a thread, or as ``journeymap serve``), and read with httpx
streams or two Playwright browser contexts. Asserted: events arrive within a second of the change,
presence lists who has the page open, a stream ends (and leaves the viewers) when its client goes,
holds no database connection, and does not keep the server from stopping; on the page a comment
posted by one person appears on another's page without reload, a viewer has no comment box and gets
403 from the API, hostile text stays text; axe finds no WCAG 2.1 A/AA violation on the map page and
the login page at desktop and phone sizes.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
import httpx  # noqa: E402

from tests.test_web_support import PASSWORD, add_user, serve_process, users_per_role  # noqa: E402

TP = "touchpoint:Size%20guide"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert t.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        from journeymap.web import events

        events.hub(app).close()  # as journeymap serve does on Ctrl+C
        server.should_exit = True
        t.join(timeout=15)
        assert not t.is_alive(), "the server did not stop with event streams open"


def http_login(base: str, email: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=base, timeout=10)
    r = c.post("/api/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return c, r.json()["csrf"]


def serve(ws, port: int, email: str) -> tuple[subprocess.Popen, httpx.Client]:
    """``journeymap -w WS serve --port PORT`` as a process, and a client logged in as ``email`` once it answers."""
    proc = serve_process(ws, port)
    deadline = time.monotonic() + 60
    while True:
        try:
            return proc, http_login(f"http://127.0.0.1:{port}", email)[0]
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(proc.stderr.read().decode()[-2000:]) from None
            time.sleep(0.3)


class Events:
    """One open ``GET /api/events`` stream read in a thread: ``(seconds since open, event, data)`` as they come."""

    def __init__(self, client: httpx.Client):
        self.got: list[tuple[float, str, dict]] = []
        self.comments: list[str] = []
        self.status: int | None = None
        self.ended = False
        self._opened = threading.Event()
        self._stop = threading.Event()
        self._client = client
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._opened.wait(10), "the event stream did not open"

    def _run(self) -> None:
        try:
            with self._client.stream("GET", "/api/events", timeout=httpx.Timeout(10, read=None)) as r:
                self.status, self.headers = r.status_code, r.headers
                self._sock = r.extensions["network_stream"].get_extra_info("socket")
                self._opened.set()
                event = None
                for line in r.iter_lines():
                    if line.startswith(":"):
                        self.comments.append(line)
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:") and event:
                        self.got.append((time.monotonic() - self._t0, event, json.loads(line[5:])))
                        event = None
        except httpx.HTTPError:
            if not self._stop.is_set():
                raise
        finally:
            self.ended = True

    def wait(self, event: str, pred=lambda d: True, timeout: float = 5.0) -> tuple[float, dict]:
        """The first ``event`` whose data satisfies ``pred``: (when it came, monotonic; data)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, e, d in list(self.got):
                if e == event and pred(d):
                    return self._t0 + t, d
            time.sleep(0.01)
        raise AssertionError(f"no {event} event within {timeout} s; got {self.got}")

    def close(self) -> None:
        """Hang up, as a closed tab does (the socket is shut, which wakes the reading thread)."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self._client.close()
        assert not self._thread.is_alive(), "the client did not close its stream"


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo_copy):
    from journeymap.web.app import create_app

    ws = demo_copy(tmp_path_factory.mktemp("web-live") / "shop", customers=300)
    users = users_per_role(ws)
    app = create_app(ws)
    app.state.latest_map()  # the first map version, built once
    with live_server(app) as base:
        yield ws, app, users, base


def test_events_carry_comments_maps_and_presence_within_a_second(site):
    from journeymap.web import events

    _, app, users, base = site
    viewer = Events(http_login(base, users["viewer"])[0])
    try:
        assert viewer.status == 200 and viewer.headers["content-type"].startswith("text/event-stream")
        assert viewer.headers["cache-control"] == "no-store"
        viewer.wait("presence", lambda d: users["viewer"] in d["viewers"])
        commenter, csrf = http_login(base, users["commenter"])
        other = Events(http_login(base, users["commenter"])[0])
        _, d = viewer.wait("presence", lambda d: d["viewers"] == sorted([users["viewer"], users["commenter"]]))
        t0 = time.monotonic()
        r = commenter.post("/api/comments", json={"element": TP, "text": "live?"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201
        at, d = viewer.wait("comment", lambda d: d["id"] == r.json()["id"])
        print(f"comment event reached another stream {1000 * (at - t0):.0f} ms after the POST was sent")
        assert d["element"] == TP and at - t0 <= 1.0
        # resolve is an event too
        cid = r.json()["id"]
        assert commenter.patch(
            f"/api/comments/{cid}", json={"resolved": True}, headers={"X-CSRF-Token": csrf}
        ).is_success
        viewer.wait("comment", lambda d: d["id"] == cid, timeout=2)
        # the commenter's page closes: the viewer list drops them
        other.close()
        viewer.wait("presence", lambda d: d["viewers"] == [users["viewer"]])
        # a rebuild reaches every page with its version
        editor, ecsrf = http_login(base, users["editor"])
        r = editor.post("/api/map/rebuild", headers={"X-CSRF-Token": ecsrf}, timeout=180)  # a map build
        done = time.monotonic()
        assert r.status_code == 201
        at, d = viewer.wait("map", lambda d: d["version"] == r.json()["version"], timeout=5)
        assert at - done <= 1.0 and d["by"] == users["editor"]
        # a curation edit (published by the blueprint routes) goes through the same hub, from any thread
        threading.Thread(target=events.publish, args=(app, "blueprint", {"touchpoint": "X", "version": "v"})).start()
        viewer.wait("blueprint", lambda d: d["touchpoint"] == "X", timeout=1)
    finally:
        viewer.close()
    deadline = time.monotonic() + 5
    while events.hub(app).viewers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events.hub(app).viewers() == [] and not events.hub(app)._subscribers  # every stream ended


def test_streams_send_heartbeats_and_hold_no_database_connection(site, monkeypatch):
    from journeymap.web import events

    _, app, users, base = site
    monkeypatch.setattr(events, "HEARTBEAT", 0.3)
    streams = [Events(http_login(base, users[role])[0]) for role in ("viewer", "owner", "commenter")]
    try:
        for s in streams:
            s.wait("presence", lambda d: len(d["viewers"]) == 3)
        time.sleep(0.8)
        assert all(s.comments.count(": heartbeat") >= 1 for s in streams), [s.comments for s in streams]
        assert app.state.db.engine.pool.checkedout() == 0  # three open streams, no connection held
        # reads still answer while streams are open
        c, _ = http_login(base, users["viewer"])
        assert c.get("/api/map").status_code == 200
    finally:
        for s in streams:
            s.close()


def test_events_need_a_signed_in_user(site):
    _, _, _, base = site
    r = httpx.get(f"{base}/api/events", timeout=5)
    assert r.status_code == 401 and r.json()["detail"].endswith(".")
    r = httpx.get(f"{base}/api/events", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert r.status_code == 401


def test_journeymap_serve_stops_promptly_with_an_event_stream_open(demo_copy, tmp_path):
    """``journeymap serve`` as a process: a page's open stream does not keep Ctrl+C (SIGINT) from stopping it."""
    ws = demo_copy(tmp_path / "shop", customers=200)
    assert add_user(ws, "v@example.com", "viewer").exit_code == 0
    port = free_port()
    proc, client = serve(ws, port, "v@example.com")
    try:
        stream = Events(client)
        stream.wait("presence")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
        took = time.monotonic() - t0
        print(f"journeymap serve stopped {took:.1f} s after SIGINT with a stream open")
        assert took < 8
        err = proc.stderr.read().decode()
        assert "Traceback" not in err, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- the live page in Chromium: two people, a viewer, hostile text, axe -----------------------------

from journeymap.report.browser import CHROMIUM_FLAGS, chromium_path, missing  # noqa: E402
from tests.test_report_a11y import AXE, WCAG_TAGS  # noqa: E402
from tests.test_report_hostile import BIDI, IMG, INVISIBLE, SCRIPT  # noqa: E402

browser_test = pytest.mark.skipif(missing() is not None, reason=f"no headless browser: {missing()}")
DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def served(tmp_path_factory, demo_copy):
    """``journeymap serve`` as a process over a demo copy with one user per role; yields (base URL, users)."""
    ws = demo_copy(tmp_path_factory.mktemp("web-live-page") / "shop", customers=300)
    users = users_per_role(ws)
    port = free_port()
    proc, c = serve(ws, port, users["viewer"])
    base = f"http://127.0.0.1:{port}"
    try:
        assert c.get("/api/map", timeout=120).status_code == 200  # the first map version, built once
        c.close()
        yield base, users
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


class Person:
    """One browser context (its own cookies): logs in through the login page and keeps the map page open."""

    def __init__(self, chromium, base: str, email: str, viewport: dict = DESKTOP, bypass_csp: bool = False):
        self.ctx = chromium.new_context(viewport=viewport, bypass_csp=bypass_csp)
        self.page = self.ctx.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.csp: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.csp.append(m.text) if "Content Security Policy" in m.text else None)
        self.page.goto(f"{base}/")
        assert self.page.url == f"{base}/login"  # not signed in: the login page
        self.page.wait_for_selector("body[data-ready='1']")
        self.page.fill("#jm-email", email)
        self.page.fill("#jm-password", PASSWORD)
        self.page.click("#jm-login-form button[type=submit]")
        self.page.wait_for_url(f"{base}/", timeout=30_000)
        self.page.wait_for_selector("body[data-ready='1'][data-live='1']", timeout=30_000)

    def open(self, element: str) -> None:
        """Open an element's details panel with its comment thread (a touchpoint card or another element)."""
        target = self.page.locator(f'[data-element="{element}"]:visible').first
        target.scroll_into_view_if_needed()
        target.click()
        self.page.wait_for_selector("#details .jm-thread li", timeout=10_000)

    def thread(self) -> list[str]:
        return self.page.locator("#details .jm-text").all_text_contents()

    def close(self) -> None:
        self.ctx.close()


@pytest.mark.browser
@browser_test
def test_a_comment_reaches_the_other_page_without_reload_and_presence_shows_both(served, chromium):
    base, users = served
    a = Person(chromium, base, users["commenter"])
    b = Person(chromium, base, users["editor"])
    try:
        both = ", ".join(sorted([users["commenter"], users["editor"]]))
        for p in (a, b):
            p.page.wait_for_function(
                "w => document.getElementById('jm-viewers').textContent === w", arg=both, timeout=5_000
            )
        b.page.evaluate("window.__same_page = 1")
        a.open(TP)
        b.open(TP)
        text = f"live from A {time.time_ns()}"
        a.page.fill("#details .jm-comment-form:not(.jm-reply-form) textarea", text)
        t0 = time.monotonic()
        a.page.click("#details .jm-comment-form:not(.jm-reply-form) button[type=submit]")
        b.page.wait_for_function(
            "t => [...document.querySelectorAll('#details .jm-text')].some(e => e.textContent === t)",
            arg=text,
            polling=10,
            timeout=5_000,
        )
        took = time.monotonic() - t0
        print(f"\ncomment posted in page A shown in page B after {1000 * took:.0f} ms (no reload)")
        assert took <= 1.5
        assert b.page.evaluate("window.__same_page") == 1  # the same page, not reloaded
        assert text in a.thread()
        # B leaves: A's page says so
        b.close()
        a.page.wait_for_function(
            "w => document.getElementById('jm-viewers').textContent === w", arg=users["commenter"], timeout=5_000
        )
        assert a.errors == [] and a.csp == [] and a.dialogs == []
    finally:
        a.close()
        with contextlib.suppress(Exception):
            b.close()


@pytest.mark.browser
@browser_test
def test_a_viewer_has_no_comment_box_and_the_api_refuses_their_post(served, chromium):
    base, users = served
    v = Person(chromium, base, users["viewer"])
    try:
        v.open(TP)
        assert v.page.locator("textarea, .jm-comment-form").count() == 0
        status = v.page.evaluate(
            """async () => {
                 const me = await (await fetch('/api/me')).json();
                 const r = await fetch('/api/comments', {method: 'POST', credentials: 'same-origin',
                   headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf},
                   body: JSON.stringify({element: 'touchpoint:Size%20guide', text: 'sneaky'})});
                 return [me.role, r.status, (await r.json()).detail];
               }"""
        )
        assert status[:2] == ["viewer", 403] and status[2] == "This needs the commenter role or higher; you are viewer."
        assert "sneaky" not in "".join(v.thread())
        assert v.errors == [] and v.csp == []
    finally:
        v.close()


@pytest.mark.browser
@browser_test
def test_hostile_comment_text_and_mentions_render_as_text(served, chromium):
    base, users = served
    a = Person(chromium, base, users["commenter"])
    b = Person(chromium, base, users["viewer"])
    try:
        element = a.page.locator("[data-element^='stage:']").first.get_attribute("data-element")
        a.open(element)
        b.open(element)
        text = f"{IMG} @viewer {BIDI}x {SCRIPT} cc @editor<img src=y onerror=alert(9)> <b>bold</b> @ghost @own{BIDI}er"
        a.page.fill("#details .jm-comment-form:not(.jm-reply-form) textarea", text)
        a.page.click("#details .jm-comment-form:not(.jm-reply-form) button[type=submit]")
        shown = INVISIBLE.sub("", text)
        for p in (a, b):
            p.page.wait_for_function(
                "t => [...document.querySelectorAll('#details .jm-text')].some(e => e.textContent === t)",
                arg=shown,
                timeout=5_000,
            )
            item = p.page.locator("#details .jm-text", has_text="bold").last
            assert item.locator("img, script, b").count() == 0  # text, not markup
            assert item.locator("mark.jm-mention").all_text_contents() == [
                "@viewer",
                "@editor",
                "@owner",
            ]  # @ghost: no member; the bidi character inside @own…er is dropped, as shown
            assert p.page.evaluate("typeof window.__pwned") == "undefined"
            assert p.page.evaluate("document.querySelectorAll('#details img').length") == 0
            assert p.dialogs == [] and p.errors == [] and p.csp == []
            assert all(u.startswith(base) for u in p.requests), [u for u in p.requests if not u.startswith(base)]
        # the viewer was mentioned: their page lists it
        b.page.wait_for_selector("#jm-me:not([hidden]) .jm-mention-link", timeout=5_000)
    finally:
        a.close()
        b.close()


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))  # the context bypasses the page's CSP for this test script only
    return page.evaluate(
        """async (tags) => {
             const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
             return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
               targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
           }""",
        WCAG_TAGS,
    )


@pytest.mark.browser
@browser_test
@pytest.mark.skipif(not AXE.is_file(), reason="axe-core not installed: run npm ci (package.json)")
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440x900", "390x844"])
def test_axe_finds_no_violation_on_the_login_page_and_the_live_page(served, chromium, viewport):
    base, users = served
    ctx = chromium.new_context(viewport=viewport, bypass_csp=True)
    try:
        login_page = ctx.new_page()
        login_page.goto(f"{base}/login")
        login_page.wait_for_selector("body[data-ready='1']")
        found = {"login": _axe(login_page)}
        login_page.fill("#jm-email", users["commenter"])
        login_page.fill("#jm-password", "wrong password!")
        login_page.click("#jm-login-form button[type=submit]")
        login_page.wait_for_function("document.getElementById('jm-login-error').textContent !== ''")
        assert login_page.locator("#jm-login-error").text_content() == "The email or password is wrong."
        found["login, refused"] = _axe(login_page)
        login_page.close()
        p = Person.__new__(Person)  # the same steps, in this context that lets axe in
        p.ctx, p.page = ctx, ctx.new_page()
        p.page.goto(f"{base}/login")
        p.page.fill("#jm-email", users["commenter"])
        p.page.fill("#jm-password", PASSWORD)
        p.page.click("#jm-login-form button[type=submit]")
        p.page.wait_for_url(f"{base}/")
        p.page.wait_for_selector("body[data-ready='1'][data-live='1']")
        found["map page"] = _axe(p.page)
        p.open(TP)
        found["map page, a thread open"] = _axe(p.page)
    finally:
        ctx.close()
    bad = {k: v for k, v in found.items() if v}
    assert not bad, bad
