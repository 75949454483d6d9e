"""The shared web map's application: ``create_app(workspace)`` (served by ``journeymap serve``).

JSON under ``/api/``; OpenAPI at ``/api/openapi.json``. Every response carries a Content-Security-Policy
without inline script, ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``.
Roles: viewer reads; commenter also comments; editor also rebuilds the map and edits the blueprint;
owner also manages members (see docs/web.md).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from journeymap.errors import InputError
from journeymap.maps.models import JourneyMap
from journeymap.web import auth, events, page
from journeymap.web.auth import COOKIE, SESSION_TTL, Principal, RateLimit, require
from journeymap.web.db import ApiToken, AuditLog, Comment, Database, MapVersion, User, audit, new_token
from journeymap.web.db import token_hash as hash_token
from journeymap.web.users import add_user, check_role, describe, remove_user, set_role, verify_password

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
LOGIN_PER_EMAIL = 5  # failed logins per email per minute
LOGIN_PER_IP = 20  # failed logins per client address per minute (several people may share one)
LOGIN_HASH_THREADS = 1  # password checks at once (each takes a core for ~0.2 s)
MAX_COMMENT = 5000
REVALIDATE = 2.0  # seconds the in-memory latest map is trusted before one cheap check of the newest version id
GZIP_MIN = 1024  # bytes: smaller bodies go as they are

Viewer = Annotated[Principal, Depends(require("viewer"))]
Commenter = Annotated[Principal, Depends(require("commenter"))]
Editor = Annotated[Principal, Depends(require("editor"))]
Owner = Annotated[Principal, Depends(require("owner"))]


class Login(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class NewComment(BaseModel):
    element: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=MAX_COMMENT)
    parent: int | None = None


class CommentChange(BaseModel):
    resolved: bool


class NewMember(BaseModel):
    email: str = Field(max_length=254)
    role: str
    password: str = Field(max_length=1024)


class RoleChange(BaseModel):
    role: str


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=100)


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _gzip(body: bytes) -> bytes | None:
    return gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN else None


def _encoded(request: Request, body: bytes, gz: bytes | None, media: str, headers: dict[str, str]) -> Response:
    """``body`` (or its gzip ``gz`` when the client takes gzip), answering 304 to a matching ``If-None-Match``."""
    etag = headers.get("ETag")
    if etag and etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    headers = {**headers, "Vary": "Accept-Encoding"}
    if gz is not None and "gzip" in request.headers.get("accept-encoding", "").lower():
        return Response(gz, media_type=media, headers={**headers, "Content-Encoding": "gzip"})
    return Response(body, media_type=media, headers=headers)


@dataclass
class Latest:
    """The newest map version, held in memory: its JSON (and gzip), the parsed document, the key figures
    per element and the rendered page per role are each made once and shared by every request."""

    id: int
    created: str
    body: bytes
    gz: bytes | None = None
    _doc: JourneyMap | None = None
    _figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    _pages: dict[str, tuple[bytes, bytes | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def etag(self) -> str:
        return f'"map-{self.id}"'

    @property
    def doc(self) -> JourneyMap:
        with self._lock:
            if self._doc is None:
                self._doc = JourneyMap.from_json(self.body.decode("utf-8"))
            return self._doc

    def figures(self, element: str) -> dict[str, Any]:
        """The element's key figures now (journeymap.web.figures); raises InputError for a bad element id."""
        got = self._figures.get(element)
        if got is None:
            from journeymap.web.figures import key_figures

            try:
                got = json.loads(json.dumps(key_figures(self.doc, element), default=str))
            except ValueError as e:
                raise InputError(str(e)) from None
            self._figures[element] = got
        return got

    def page(self, role: str) -> tuple[bytes, bytes | None]:
        """The map page for ``role`` (nothing per person in it: report.js asks ``/api/me``)."""
        role = role if role in page.ROLES else "viewer"
        got = self._pages.get(role)
        if got is None:
            doc = self.doc
            with self._lock:  # one render per role and version, however many ask at once
                got = self._pages.get(role)
                if got is None:
                    html = page.render_map_page(
                        doc, csrf="", user={}, role=role, static_url="/static", map_version=self.id
                    ).encode("utf-8")
                    got = self._pages[role] = (html, _gzip(html))
        return got


class MapCache:
    """The latest :class:`Latest`; a rebuild in this process replaces it at once, one in another process
    (several workers, a shared PostgreSQL) is seen within :data:`REVALIDATE` seconds."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cur: Latest | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def put(self, v: MapVersion) -> Latest:
        body = v.document.encode("utf-8")
        cur = Latest(v.id, v.created.isoformat(timespec="seconds") + "Z", body, _gzip(body))
        with self._lock:
            if self._cur is None or self._cur.id <= cur.id:
                self._cur, self._checked = cur, time.monotonic()
            return self._cur

    def invalidate(self) -> None:
        with self._lock:
            self._cur, self._checked = None, 0.0

    def get(self) -> Latest | None:
        """The newest stored version (None when no map is stored yet)."""
        with self._lock:
            cur = self._cur
            if cur is not None and time.monotonic() - self._checked < REVALIDATE:
                return cur
        with self.db.sessions() as s:
            newest = s.scalar(select(func.max(MapVersion.id)))
            if newest is None:
                return None
            if cur is not None and cur.id == newest:
                with self._lock:
                    self._checked = time.monotonic()
                return cur
            v = s.get(MapVersion, newest)
            assert v is not None
            return self.put(v)


_MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9._%+-]+(?:@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)?)")
MENTIONS_KEY = "_mentions"  # kept in the comment's JSON column beside the figures of then


def find_mentions(text: str, emails: list[str]) -> list[str]:
    """The members ``@``-mentioned in ``text``, as emails, first mention first: ``@ana@example.com``
    (a member's email) or ``@ana`` (the part before the ``@`` of exactly one member's email); case does
    not matter, an unknown name stays plain text.

    >>> find_mentions("ask @Ana and @bo@example.com, not @zed or me@x.org", ["ana@example.com", "bo@example.com"])
    ['ana@example.com', 'bo@example.com']
    """
    from journeymap.safety import display_text

    text = display_text(text)  # as the page shows it: an invisible character inside a name breaks the mention
    by_email = {e.lower(): e for e in emails}
    by_name: dict[str, list[str]] = {}
    for e in emails:
        by_name.setdefault(e.split("@", 1)[0].lower(), []).append(e)
    out: list[str] = []
    for m in _MENTION.finditer(text):
        word = m.group(1).rstrip(".").lower()
        hit = by_email.get(word) if "@" in word else None
        if hit is None and "@" not in word and len(by_name.get(word, ())) == 1:
            hit = by_name[word][0]
        if hit is not None and hit not in out:
            out.append(hit)
    return out


COMMENT_COLUMNS = (
    Comment.id,
    Comment.element,
    Comment.text,
    Comment.parent_id,
    Comment.resolved,
    Comment.created,
    Comment.snapshot,
    User.email,
)


def _comment_row(row: Any, now: Latest | None) -> dict[str, Any]:
    """A comment as the API gives it, from a row of :data:`COMMENT_COLUMNS` (author's email last)."""
    from journeymap.web.figures import compare

    cid, element, text, parent, resolved, created, snapshot, author = row
    snapshot = dict(snapshot or {})
    mentions = list(snapshot.pop(MENTIONS_KEY, None) or [])
    figures_now: dict[str, Any] = {}
    if now is not None:
        try:
            figures_now = now.figures(element)
        except InputError:
            figures_now = {}
    return {
        "id": cid,
        "element": element,
        "text": text,  # stored as given; escaped where it is rendered
        "parent": parent,
        "resolved": resolved,
        "author": author,
        "created": created.isoformat(timespec="seconds") + "Z",
        "mentions": mentions,
        "figures_then": snapshot,
        "figures_now": figures_now,
        "changes": compare(snapshot, figures_now) if now is not None else [],
    }


def _comment(c: Comment, now: Latest | None) -> dict[str, Any]:
    author = c.author.email if c.author else None
    return _comment_row((c.id, c.element, c.text, c.parent_id, c.resolved, c.created, c.snapshot, author), now)


class CommentCache:
    """Every comment as the API gives it, kept while nothing changed: the key is the newest audit row's id
    (every change to a comment, a member or the blueprint writes one, in the same transaction, from any
    process) and the map version (``figures_now``/``changes``). A rebuild of the list reuses each comment's
    entry when its row and the map version are the same."""

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._list: list[dict[str, Any]] = []
        self._by_row: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._body: bytes | None = None
        self._lock = threading.Lock()

    def get(self, db: Database, now: Latest | None) -> list[dict[str, Any]]:
        version = now.id if now is not None else None
        with db.sessions() as s:
            stamp = s.scalar(select(func.max(AuditLog.id)))
            with self._lock:
                if self._key == (stamp, version):
                    return self._list
            rows = s.execute(
                select(*COMMENT_COLUMNS).outerjoin(User, User.id == Comment.author_id).order_by(Comment.id)
            ).all()
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        out = []
        for row in rows:
            key = (version, row[0], row[1], row[3], row[4], row[7], row[2])  # the fields that can change
            c = self._by_row.get(key)
            if c is None:
                c = _comment_row(tuple(row), now)
            seen[key] = c
            out.append(c)
        with self._lock:
            self._key, self._list, self._by_row, self._body = (stamp, version), out, seen, None
        return out

    def body(self, db: Database, now: Latest | None) -> bytes:
        """:meth:`get` as JSON, serialized once per change."""
        out = self.get(db, now)
        with self._lock:
            if self._body is None or self._list is not out:
                self._body = _json(out)
            return self._body


class _SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` (and ``Cache-Control: no-store`` under ``/api/``) to every response that
    does not set them itself; plain ASGI, so streams (``/api/events``) pass through untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith("/api/")

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in self._extra if k not in have]
                if api and b"cache-control" not in have:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def run(app: FastAPI, *, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn until Ctrl+C (``journeymap serve``). Open event streams never end on their
    own: the first Ctrl+C (or SIGTERM) closes them at once, so the server stops without waiting on pages."""
    import asyncio

    import uvicorn

    hub = events.hub(app)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            try:  # in the signal handler: no lock taken here, the loop closes the hub
                asyncio.get_running_loop().call_soon_threadsafe(hub.close)
            except RuntimeError:
                pass
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app, host=host, port=port, proxy_headers=True, log_level="info", timeout_graceful_shutdown=5
    )
    Server(config).run()


def create_app(workspace: str | Path, *, database: str | None = None) -> FastAPI:
    """The web app over ``workspace``; its database (``database`` or the workspace's) is migrated first."""
    ws_path = Path(workspace).resolve()
    db = Database(database) if database else Database.for_workspace(ws_path)
    app = FastAPI(
        title="journeymap",
        summary="The shared customer journey map: read, comment, curate.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the interactive docs load inline script from a CDN, which the CSP forbids
        redoc_url=None,
    )
    app.state.db = db
    app.state.workspace = ws_path
    app.state.build_lock = threading.Lock()
    events.hub(app)  # made here, before any thread can race to make it
    per_email, per_ip = RateLimit(LOGIN_PER_EMAIL), RateLimit(LOGIN_PER_IP)

    app.add_middleware(_SecurityHeaders)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "The request cannot be served."
        if exc.status_code == 404 and detail == "Not Found":  # no such route: one sentence, like the others
            detail = "There is nothing at this address; check it (the map is at /, the API under /api/)."
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            detail = f"{request.method} is not allowed at this address."
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "the request"
        msg = str(first.get("msg", "is not valid")).rstrip(".")
        return JSONResponse({"detail": f"{where}: {msg}; fix it and send again."}, status_code=422)

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    # -- sessions ---------------------------------------------------------------------------------
    # Password hashes (argon2id, ~0.2 CPU-s each) run on a pool of their own: a burst of logins waits on
    # itself instead of taking every worker thread that reads the map (measured by benchmarks/web_load.py).
    hash_pool = ThreadPoolExecutor(max_workers=LOGIN_HASH_THREADS, thread_name_prefix="jm-login")
    app.state.hash_pool = hash_pool

    def _find_user(email: str) -> User | None:
        with db.sessions() as s:
            return s.scalar(select(User).where(User.email == email))

    def _login_audit(email: str, ok: bool, ip: str) -> None:
        with db.sessions() as s:
            audit(s, email, "login" if ok else "login.failed", ip=ip)
            s.commit()

    @app.post("/api/login", tags=["session"])
    async def login(body: Login, request: Request, response: Response) -> dict[str, Any]:
        """Log in: sets the session cookie; returns the CSRF token for state-changing requests."""
        email, ip = body.email.strip().lower(), auth.client_ip(request)
        wait = max(per_email.retry_after(email), per_ip.retry_after(ip))
        if wait:
            raise HTTPException(
                429, f"Too many failed logins; try again in {wait} seconds.", headers={"Retry-After": str(wait)}
            )
        user = await run_in_threadpool(_find_user, email)
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(hash_pool, verify_password, user.password_hash if user else None, body.password)
        await run_in_threadpool(_login_audit, email, ok, ip)
        if not ok or user is None:
            per_email.hit(email)
            per_ip.hit(ip)
            raise HTTPException(401, "The email or password is wrong.")
        token, csrf = await run_in_threadpool(auth.start_session, db, user)
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(SESSION_TTL.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=auth.is_https(request),
            path="/",
        )
        return {"csrf": csrf, "user": user.email, "role": user.role}

    @app.post("/api/logout", tags=["session"])
    def logout(who: Viewer, request: Request, response: Response) -> dict[str, str]:
        """End this session (its cookie stops working)."""
        auth.end_session(db, request.cookies.get(COOKIE))
        with db.sessions() as s:
            audit(s, who.email, "logout")
            s.commit()
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=auth.is_https(request))
        return {"status": "logged out"}

    @app.get("/api/me", tags=["session"])
    def me(who: Viewer) -> dict[str, Any]:
        """Who is signed in, their role, and (for a session) the CSRF token."""
        return {"user": who.email, "role": who.role, "csrf": who.csrf}

    @app.post("/api/tokens", status_code=201, tags=["session"])
    def create_token(body: NewToken, who: Viewer) -> dict[str, Any]:
        """A personal API token for scripts (shown once; send it as ``Authorization: Bearer``)."""
        token = new_token()
        with db.sessions() as s:
            row = ApiToken(token_hash=hash_token(token), name=body.name, user_id=who.user_id)
            s.add(row)
            audit(s, who.email, "token.create", name=body.name)
            s.commit()
            return {"id": row.id, "name": row.name, "token": token}

    # -- the map ----------------------------------------------------------------------------------
    maps = app.state.maps = MapCache(db)

    def _build(by: str | None) -> Latest:
        """Build the map from the workspace, store it as a new version, tell every open page."""
        from journeymap.maps import build_map
        from journeymap.maps.build import score_missing
        from journeymap.voice.scoring import pending
        from journeymap.workspace import Workspace

        with app.state.build_lock:
            if by is None and (cur := maps.get()) is not None:  # another request built the first one meanwhile
                return cur
            with Workspace.open(ws_path, read_only=True) as ws:
                if pending(ws.con, "lexicon"):  # the scoring step before a map writes the scores once
                    ws.reopen(read_only=False)
                    score_missing(ws)
                    ws.reopen(read_only=True)
                doc = build_map(ws)
            with db.sessions() as s:
                author = s.scalar(select(User.id).where(User.email == by)) if by else None
                version = MapVersion(document=doc.to_json(indent=None), author_id=author)
                s.add(version)
                s.flush()
                audit(s, by, "map.rebuild", version=version.id)
                s.commit()
            latest = maps.put(version)
        events.publish(app, "map", {"version": latest.id, "by": by})
        return latest

    def _latest() -> Latest:
        return maps.get() or _build(None)

    app.state.build_map = _build  # for the curation routes: a rebuild after a blueprint edit
    app.state.latest_map = _latest

    @app.get("/api/map", tags=["map"])
    def get_map(who: Viewer, request: Request) -> Response:
        """The current map (the JourneyMap JSON document); built once from the workspace if none is stored.

        Header ``X-Map-Version``; ``ETag`` per version (``If-None-Match`` gets 304); gzip when asked for."""
        v = _latest()
        headers = {"X-Map-Version": str(v.id), "ETag": v.etag, "Cache-Control": "private, no-cache"}
        return _encoded(request, v.body, v.gz, "application/json", headers)

    @app.post("/api/map/rebuild", status_code=201, tags=["map"])
    def rebuild(who: Editor) -> dict[str, Any]:
        """Build the map from the workspace now and store it as a new version (every open page hears of it)."""
        v = _build(who.email)
        return {"version": v.id, "created": v.created}

    @app.get("/api/versions", tags=["map"])
    def versions(who: Viewer) -> list[dict[str, Any]]:
        """Every stored map version, newest first."""
        with db.sessions() as s:
            rows = s.execute(
                select(MapVersion.id, MapVersion.created, User.email)
                .outerjoin(User, User.id == MapVersion.author_id)
                .order_by(MapVersion.id.desc())
            ).all()
        return [{"id": i, "created": c.isoformat(timespec="seconds") + "Z", "by": e} for i, c, e in rows]

    # -- the page, its files, the login page ------------------------------------------------------
    def _signed_in(request: Request) -> Principal | None:
        try:
            return auth.principal(request)
        except HTTPException:  # a bad API token: treated as nobody on the pages
            return None

    @app.get("/", include_in_schema=False)
    def map_page(request: Request) -> Response:
        """The live map page; anyone not signed in goes to the login page."""
        who = _signed_in(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
        v = _latest()
        role = who.role if who.role in page.ROLES else "viewer"
        html, gz = v.page(role)
        headers = {
            "Content-Security-Policy": page.PAGE_CSP,
            "Cache-Control": "private, no-cache",
            "ETag": f'"page-{v.id}-{role}-{page.static_version()}"',
        }
        return _encoded(request, html, gz, "text/html; charset=utf-8", headers)

    login_html: list[bytes] = []

    @app.get("/login", include_in_schema=False)
    def login_page() -> Response:
        """The login form (``login.js`` posts it to ``/api/login``, then opens the map)."""
        if not login_html:
            login_html.append(page.render_login_page(static_url="/static").encode("utf-8"))
        return Response(login_html[0], media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str, request: Request, v: str | None = None) -> Response:
        """The page's styles and scripts (:data:`journeymap.web.page.STATIC_FILES`); with ``?v=`` of the
        file's current hash they may be cached for a year, otherwise revalidated by ETag."""
        f = page.static_file(name)
        if f is None:
            raise HTTPException(404, f"There is no static file {name!r}.")
        cache = "public, max-age=31536000, immutable" if v == f.hash else "public, no-cache"
        return _encoded(request, f.body, f.gz, f.media, {"ETag": f'"{f.hash}"', "Cache-Control": cache})

    # -- live events ------------------------------------------------------------------------------
    @app.get("/api/events", tags=["live"], response_class=StreamingResponse)
    async def live_events(who: Viewer) -> StreamingResponse:
        """Server-Sent Events: ``comment``, ``blueprint``, ``map`` and ``presence`` (who is viewing), as they
        happen; a heartbeat comment line every 15 seconds. Holds no database session."""
        return StreamingResponse(
            events.stream(app, who.email),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # -- comments ---------------------------------------------------------------------------------
    comments = app.state.comments = CommentCache()

    def _emails() -> list[str]:
        with db.sessions() as s:
            return list(s.scalars(select(User.email)))

    @app.get("/api/comments", tags=["comments"], response_model=list[dict[str, Any]])
    def list_comments(
        who: Viewer,
        element: Annotated[str | None, Query(max_length=200)] = None,
        mentioning: Annotated[str | None, Query(max_length=10)] = None,
    ) -> Response:
        """The comments (of one element with ``?element=``; those that mention you with ``?mentioning=me``),
        oldest first; replies name their parent. Each has ``changes``: its figures of then against today's."""
        if mentioning not in (None, "me"):
            raise InputError(f"mentioning={mentioning!r} is not known; use mentioning=me.")
        if element is None and not mentioning:
            return Response(comments.body(db, maps.get()), media_type="application/json")
        out = comments.get(db, maps.get())
        if element is not None:
            out = [c for c in out if c["element"] == element]
        if mentioning:
            out = [c for c in out if who.email in c["mentions"]]
        # plain JSON, serialized once (the list can be long; it needs no model validation on the way out)
        return Response(_json(out), media_type="application/json")

    @app.post("/api/comments", status_code=201, tags=["comments"])
    def post_comment(body: NewComment, who: Commenter) -> dict[str, Any]:
        """Comment on an element (or reply with ``parent``); the element's key figures are kept with it, and
        the members it ``@``-mentions (by email, or by the name before the ``@``)."""
        with db.sessions() as s:
            if body.parent is not None:
                parent = s.get(Comment, body.parent)
                if parent is None or parent.element != body.element:
                    raise HTTPException(404, f"Comment {body.parent} is not on element {body.element!r}.")
        latest = _latest()
        snapshot = dict(latest.figures(body.element))
        mentions = find_mentions(body.text, _emails()) if "@" in body.text else []
        if mentions:
            snapshot[MENTIONS_KEY] = mentions
        with db.sessions() as s:
            c = Comment(
                element=body.element, text=body.text, parent_id=body.parent, author_id=who.user_id, snapshot=snapshot
            )
            s.add(c)
            s.flush()
            audit(s, who.email, "comment.add", id=c.id, element=body.element)
            s.commit()
            s.refresh(c)
            out = _comment(c, latest)
        events.publish(app, "comment", {"element": c.element, "id": c.id, "by": who.email})
        return out

    @app.patch("/api/comments/{comment_id}", tags=["comments"])
    def change_comment(comment_id: int, body: CommentChange, who: Commenter) -> dict[str, Any]:
        """Resolve (``{"resolved": true}``) or reopen a comment."""
        with db.sessions() as s:
            c = s.get(Comment, comment_id)
            if c is None:
                raise HTTPException(404, f"There is no comment {comment_id}.")
            c.resolved = body.resolved
            audit(s, who.email, "comment.resolve" if body.resolved else "comment.reopen", id=c.id)
            s.commit()
            s.refresh(c)
            out = _comment(c, maps.get())
        events.publish(app, "comment", {"element": out["element"], "id": out["id"], "by": who.email})
        return out

    # -- members (owner) --------------------------------------------------------------------------
    def _owners_left(s: Any, without: str) -> int:
        return int(s.scalar(select(func.count()).select_from(User).where(User.role == "owner", User.email != without)))

    @app.get("/api/members", tags=["members"])
    def members(who: Owner) -> list[dict[str, Any]]:
        """The members and their roles."""
        with db.sessions() as s:
            return [describe(u) for u in s.scalars(select(User).order_by(User.email))]

    @app.post("/api/members", status_code=201, tags=["members"])
    def add_member(body: NewMember, who: Owner) -> dict[str, Any]:
        """Add a member with a role and a first password."""
        return add_user(db, body.email, body.role, body.password, by=who.email)

    @app.patch("/api/members/{email}", tags=["members"])
    def change_member(email: str, body: RoleChange, who: Owner) -> dict[str, Any]:
        """Change a member's role (the last owner stays an owner)."""
        check_role(body.role)
        with db.sessions() as s:
            if body.role != "owner" and not _owners_left(s, email.lower()):
                raise HTTPException(409, "That is the last owner; make someone else owner first.")
        return set_role(db, email, body.role, by=who.email)

    @app.delete("/api/members/{email}", tags=["members"])
    def delete_member(email: str, who: Owner) -> dict[str, str]:
        """Remove a member (their comments stay, without an author)."""
        with db.sessions() as s:
            if not _owners_left(s, email.lower()):
                raise HTTPException(409, "That is the last owner; make someone else owner first.")
        remove_user(db, email, by=who.email)
        return {"status": "removed"}

    @app.get("/api/audit", tags=["members"])
    def audit_log(who: Owner, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        """The newest audit rows: who changed what, when."""
        with db.sessions() as s:
            rows = s.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit))
            return [
                {"when": r.when.isoformat(timespec="seconds") + "Z", "who": r.who, "what": r.what, "detail": r.detail}
                for r in rows
            ]

    from journeymap.web import api_blueprint  # curation together and versions: the blueprint's routes

    api_blueprint.install(app)
    return app
