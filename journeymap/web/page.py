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
}
"""File name -> (path on disk, media type): what the app serves under ``static_url`` for the page."""

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy the map page works under: no inline script; inline *style attributes*
are needed (the map's emotion lane places its points with ``style="left: ..%"``, the grid its column
count), stylesheets and scripts come from :data:`STATIC_FILES`."""


def can_comment(role: str) -> bool:
    """Whether ``role`` may comment (commenter, editor, owner)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index("commenter")


def render_map_page(
    doc: JourneyMap, *, csrf: str, user: dict, role: str, static_url: str, api_url: str = "/api"
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
        api_url=api_url.rstrip("/"),
    )


__all__ = ["PAGE_CSP", "ROLES", "STATIC_FILES", "can_comment", "render_map_page"]
