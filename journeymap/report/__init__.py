"""Renderers of the JourneyMap document: HTML report, Markdown summary, CSV tables, PNG/PDF.

Renderers only read the document (:class:`journeymap.maps.JourneyMap`); they run no query and
compute no figure.

- :func:`render_html`: one self-contained HTML file (charts, styles, data inlined; works offline);
- :func:`render_markdown`: a Markdown summary;
- :func:`write_csv`: one CSV file per table into a folder;
- :func:`export_image`: PNG or PDF of the HTML through headless Chromium (when installed).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from journeymap.report.browser import export_image
    from journeymap.report.html import ECHARTS_VERSION, render_html
    from journeymap.report.markdown import render_markdown
    from journeymap.report.tables import map_tables, write_csv

_WHERE = {
    "export_image": "browser",
    "ECHARTS_VERSION": "html",
    "render_html": "html",
    "render_markdown": "markdown",
    "map_tables": "tables",
    "write_csv": "tables",
}


def __getattr__(name: str) -> Any:
    """The renderers load on first use: the CLI imports :mod:`journeymap.report.safety` for every
    table it prints, without paying for Jinja and the map models."""
    if name in _WHERE:
        return getattr(importlib.import_module(f"journeymap.report.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'journeymap.report' has no attribute {name!r}")


__all__ = ["ECHARTS_VERSION", "export_image", "map_tables", "render_html", "render_markdown", "write_csv"]
