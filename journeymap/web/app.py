"""The shared web map's application: ``create_app(workspace)`` (served by ``journeymap serve``).

JSON under ``/api/``; OpenAPI at ``/api/openapi.json``. Every response carries a Content-Security-Policy
without inline script, ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``.
Roles: viewer reads; commenter also comments; editor also rebuilds the map and edits the blueprint;
owner also manages members (see docs/web.md).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.exceptions import HTTPException as StarletteHTTPException

from journeymap.errors import InputError
from journeymap.web import auth
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
MAX_COMMENT = 5000

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


def _key_figures(document: str, element: str) -> dict[str, Any]:
    """The element's key figures in the map ``document`` (journeymap.web.figures; {} until that module is there).

    An ``element`` that is no element id is a bad request (400, one sentence).
    """
    try:
        from journeymap.web.figures import key_figures
    except ImportError:
        return {}
    from journeymap.maps.models import JourneyMap

    try:
        return json.loads(json.dumps(key_figures(JourneyMap.from_json(document), element), default=str))
    except ValueError as e:
        raise InputError(str(e)) from None


def _comment(c: Comment) -> dict[str, Any]:
    return {
        "id": c.id,
        "element": c.element,
        "text": c.text,  # stored as given; escaped where it is rendered
        "parent": c.parent_id,
        "resolved": c.resolved,
        "author": c.author.email if c.author else None,
        "created": c.created.isoformat(timespec="seconds") + "Z",
        "figures_then": c.snapshot,
    }


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
    per_email, per_ip = RateLimit(LOGIN_PER_EMAIL), RateLimit(LOGIN_PER_IP)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "The request cannot be served."
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
    @app.post("/api/login", tags=["session"])
    def login(body: Login, request: Request, response: Response) -> dict[str, Any]:
        """Log in: sets the session cookie; returns the CSRF token for state-changing requests."""
        email, ip = body.email.strip().lower(), auth.client_ip(request)
        wait = max(per_email.retry_after(email), per_ip.retry_after(ip))
        if wait:
            raise HTTPException(
                429, f"Too many failed logins; try again in {wait} seconds.", headers={"Retry-After": str(wait)}
            )
        with db.sessions() as s:
            user = s.scalar(select(User).where(User.email == email))
            ok = verify_password(user.password_hash if user else None, body.password)
            audit(s, email, "login" if ok else "login.failed", ip=ip)
            s.commit()
        if not ok or user is None:
            per_email.hit(email)
            per_ip.hit(ip)
            raise HTTPException(401, "The email or password is wrong.")
        token, csrf = auth.start_session(db, user)
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
    def _build(by: str | None) -> MapVersion:
        from journeymap.maps import build_map
        from journeymap.maps.build import score_missing
        from journeymap.voice.scoring import pending
        from journeymap.workspace import Workspace

        with app.state.build_lock:
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
                return version

    def _latest() -> MapVersion:
        with db.sessions() as s:
            v = s.scalar(select(MapVersion).order_by(MapVersion.id.desc()).limit(1))
        return v if v is not None else _build(None)

    @app.get("/api/map", tags=["map"])
    def get_map(who: Viewer) -> Response:
        """The current map (the JourneyMap JSON document); built once from the workspace if none is stored."""
        v = _latest()
        return Response(v.document, media_type="application/json", headers={"X-Map-Version": str(v.id)})

    @app.post("/api/map/rebuild", status_code=201, tags=["map"])
    def rebuild(who: Editor) -> dict[str, Any]:
        """Build the map from the workspace now and store it as a new version."""
        v = _build(who.email)
        return {"version": v.id, "created": v.created.isoformat(timespec="seconds") + "Z"}

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

    # -- comments ---------------------------------------------------------------------------------
    @app.get("/api/comments", tags=["comments"])
    def list_comments(
        who: Viewer, element: Annotated[str | None, Query(max_length=200)] = None
    ) -> list[dict[str, Any]]:
        """The comments (of one element with ``?element=``), oldest first; replies name their parent."""
        with db.sessions() as s:
            q = select(Comment).order_by(Comment.id)
            if element is not None:
                q = q.where(Comment.element == element)
            return [_comment(c) for c in s.scalars(q)]

    @app.post("/api/comments", status_code=201, tags=["comments"])
    def post_comment(body: NewComment, who: Commenter) -> dict[str, Any]:
        """Comment on an element (or reply with ``parent``); the element's key figures are kept with it."""
        with db.sessions() as s:
            if body.parent is not None:
                parent = s.get(Comment, body.parent)
                if parent is None or parent.element != body.element:
                    raise HTTPException(404, f"Comment {body.parent} is not on element {body.element!r}.")
        snapshot = _key_figures(_latest().document, body.element)
        with db.sessions() as s:
            c = Comment(
                element=body.element, text=body.text, parent_id=body.parent, author_id=who.user_id, snapshot=snapshot
            )
            s.add(c)
            s.flush()
            audit(s, who.email, "comment.add", id=c.id, element=body.element)
            s.commit()
            s.refresh(c)
            return _comment(c)

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
            return _comment(c)

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

    return app
