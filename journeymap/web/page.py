"""The live map page: the file report's map, rendered by the same templates, for the web app.

Differences from the file report (``journeymap.report.render_html``), and only these: the styles and
scripts are files served by the app (:data:`STATIC_FILES`; the page has no inline script, so a
Content-Security-Policy of ``script-src 'self'`` holds), the chart data sits in a
``<script type="application/json">`` (data, never run), ``<body>`` says ``data-mode="web"`` with the
CSRF token, the user and the role, and every element (:func:`journeymap.report.view.element_id`) has
a comment slot that ``report.js`` fills from the API; a commenter (and up) gets a comment box in it, a
viewer only the thread.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from journeymap.maps.models import JourneyMap
from journeymap.report import html as report_html
from journeymap.report import view

ROLES = ("viewer", "commenter", "editor", "owner")
"""The roles, least first; commenting needs ``commenter`` or more."""

_ASSETS = Path(str(resources.files("journeymap.report").joinpath("assets")))

STATIC_FILES: dict[str, tuple[Path, str]] = {
    "report.css": (_ASSETS / "report.css", "text/css; charset=utf-8"),
    "report.js": (_ASSETS / "report.js", "text/javascript; charset=utf-8"),
    "echarts.min.js": (_ASSETS / "echarts.min.js", "text/javascript; charset=utf-8"),
    "login.js": (_ASSETS / "login.js", "text/javascript; charset=utf-8"),
    "curate.js": (_ASSETS / "curate.js", "text/javascript; charset=utf-8"),
}
"""File name -> (path on disk, media type): what the app serves under ``static_url`` for the page."""

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy the map page works under: no inline script; inline *style attributes*
are needed (the map's emotion lane places its points with ``style="left: ..%"``, the grid its column
count), stylesheets and scripts come from :data:`STATIC_FILES`."""


@dataclass(frozen=True)
class StaticFile:
    """One of :data:`STATIC_FILES` read into memory: its bytes, their gzip, media type and content hash."""

    body: bytes
    gz: bytes
    media: str
    hash: str


_static: dict[str, tuple[tuple[int, int], StaticFile]] = {}
_static_lock = threading.Lock()


def static_file(name: str) -> StaticFile | None:
    """:data:`STATIC_FILES`' ``name`` (None if there is no such file), read once (again if it changed on disk)."""
    entry = STATIC_FILES.get(name)
    if entry is None:
        return None
    path, media = entry
    try:
        st = Path(path).stat()
    except OSError:
        return None
    key = (st.st_mtime_ns, st.st_size)
    with _static_lock:
        got = _static.get(name)
        if got is None or got[0] != key:
            body = Path(path).read_bytes()
            f = StaticFile(body, gzip.compress(body, 6, mtime=0), media, hashlib.sha256(body).hexdigest()[:16])
            got = _static[name] = (key, f)
    return got[1]


def static_version() -> str:
    """One hash over every static file (part of the page's ETag)."""
    return hashlib.sha256("".join(f.hash for n in sorted(STATIC_FILES) if (f := static_file(n))).encode()).hexdigest()[
        :16
    ]


def static_href(static_url: str, name: str) -> str:
    """``{static_url}/{name}?v={hash}``: a URL that changes with the file, so browsers may keep it a year."""
    f = static_file(name)
    return f"{static_url.rstrip('/')}/{name}" + (f"?v={f.hash}" if f else "")


def can_comment(role: str) -> bool:
    """Whether ``role`` may comment (commenter, editor, owner)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index("commenter")


def render_map_page(
    doc: JourneyMap,
    *,
    csrf: str,
    user: dict,
    role: str,
    static_url: str,
    api_url: str = "/api",
    map_version: int | None = None,
) -> str:
    """The map page's HTML for ``user`` (a dict with ``email`` and optionally ``name``) in ``role``.

    Parameters
    ----------
    doc
        The map document (the latest version).
    csrf
        The session's CSRF token; ``report.js`` sends it as ``X-CSRF-Token`` on every write.
    user, role
        Who is looking; ``role`` one of :data:`ROLES` (an unknown role is treated as a viewer).
    static_url
        Where :data:`STATIC_FILES` are served (no trailing slash), e.g. ``/static``.
    api_url
        Where the JSON API lives (``report.js`` calls ``{api_url}/comments?element=...``).
    map_version
        The stored version ``doc`` is (``report.js`` compares it with the ``map`` events' version).

    The app renders the page once per (version, role) with ``csrf=""`` and ``user={}``: ``report.js`` then
    reads the CSRF token and the user from ``GET {api_url}/me``, so nothing personal is in the cached HTML.
    """
    commenter = can_comment(role)
    ctx = report_html.page_context(doc)
    touchpoint_ids = {view.element_id("touchpoint", tp.name) for tp in doc.touchpoints()}
    return report_html.render_template(
        "web.html.j2",
        **ctx,
        web=True,
        can_comment=commenter,
        slot_ids=[e for e in view.element_ids(doc) if e not in touchpoint_ids],
        csrf=csrf,
        role=role if role in ROLES else "viewer",
        user_name=str(user.get("name") or user.get("email") or ""),
        static_url=static_url.rstrip("/"),
        static_href=lambda name: static_href(static_url, name),
        api_url=api_url.rstrip("/"),
        map_version="" if map_version is None else str(map_version),
    )


def render_login_page(*, static_url: str, api_url: str = "/api", next_url: str = "/") -> str:
    """The login page: a form that ``login.js`` posts to ``{api_url}/login``, then opens ``next_url``."""
    return report_html.render_template(
        "login.html.j2",
        static_href=lambda name: static_href(static_url, name),
        api_url=api_url.rstrip("/"),
        next_url=next_url,
    )


__all__ = [
    "PAGE_CSP",
    "ROLES",
    "STATIC_FILES",
    "StaticFile",
    "can_comment",
    "render_login_page",
    "render_map_page",
    "static_file",
    "static_href",
    "static_version",
]
