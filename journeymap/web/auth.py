"""Who is asking: session cookies with a CSRF token, personal API tokens, roles, and login rate limits.

A browser logs in with ``POST /api/login`` and gets an HttpOnly, SameSite=Lax session cookie (Secure
behind HTTPS) and a CSRF token; every state-changing request of that session must send the token as
``X-CSRF-Token``. Scripts send ``Authorization: Bearer <token>`` (a personal API token); a bearer
token is not sent by browsers on their own, so it needs no CSRF token.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from fastapi import HTTPException, Request
from sqlalchemy import delete, select

from journeymap.web.db import RANK, ApiToken, Database, Session, User, now, token_hash

COOKIE = "journeymap_session"
SESSION_TTL = timedelta(hours=12)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Principal:
    user_id: int
    email: str
    role: str
    via: str  # "session" or "token"
    csrf: str | None = None


def is_https(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or proto == "https"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def start_session(db: Database, user: User) -> tuple[str, str]:
    """A new session for ``user``: (cookie token, CSRF token); only the cookie token's hash is stored."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with db.sessions() as s:
        s.execute(delete(Session).where(Session.expires < now()))  # expired sessions go at the next login
        s.add(Session(token_hash=token_hash(token), csrf=csrf, user_id=user.id, expires=now() + SESSION_TTL))
        s.commit()
    return token, csrf


def end_session(db: Database, token: str | None) -> None:
    if not token:
        return
    with db.sessions() as s:
        row = s.scalar(select(Session).where(Session.token_hash == token_hash(token)))
        if row is not None:
            s.delete(row)
            s.commit()


def principal(request: Request) -> Principal | None:
    """The signed-in user of this request (API token first, then the session cookie), or None."""
    db: Database = request.app.state.db
    auth = request.headers.get("authorization", "")
    with db.sessions() as s:
        if auth.lower().startswith("bearer "):
            tok = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(auth[7:].strip())))
            if tok is None:
                raise HTTPException(401, "The API token is not valid; create a new one with POST /api/tokens.")
            return Principal(tok.user.id, tok.user.email, tok.user.role, "token")
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        row = s.scalar(select(Session).where(Session.token_hash == token_hash(cookie)))
        if row is None or row.expires < now():
            return None
        return Principal(row.user.id, row.user.email, row.user.role, "session", row.csrf)


def check_csrf(request: Request, who: Principal) -> None:
    if request.method in UNSAFE and who.via == "session":
        sent = request.headers.get("x-csrf-token", "")
        if not who.csrf or not secrets.compare_digest(sent, who.csrf):
            raise HTTPException(403, "This request needs the X-CSRF-Token header that POST /api/login returned.")


def require(role: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency: the signed-in user, holding ``role`` or a higher one (401/403 otherwise)."""

    def dependency(request: Request) -> Principal:
        who = principal(request)
        if who is None:
            raise HTTPException(401, "Log in first (POST /api/login) or send an API token.")
        check_csrf(request, who)
        if RANK.get(who.role, -1) < RANK[role]:
            raise HTTPException(403, f"This needs the {role} role or higher; you are {who.role}.")
        return who

    dependency.__name__ = f"require_{role}"
    return dependency


class RateLimit:
    """At most ``limit`` events per key in ``window`` seconds (in memory, per process)."""

    def __init__(self, limit: int, window: float = 60.0):
        self.limit, self.window = limit, window
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again (0: now)."""
        with self._lock:
            q = self._events[key]
            t = time.monotonic()
            while q and q[0] <= t - self.window:
                q.popleft()
            if len(q) < self.limit:
                return 0
            return max(1, int(q[0] + self.window - t + 0.999))

    def hit(self, key: str) -> None:
        with self._lock:
            self._events[key].append(time.monotonic())
