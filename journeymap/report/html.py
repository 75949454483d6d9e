"""The HTML report: one self-contained file (styles, scripts, chart library and data inlined).

Examples
--------
>>> from journeymap.maps import JourneyMap
>>> doc = JourneyMap.model_validate({"meta": {"workspace": "shop", "generated_at": "2026-01-01T00:00:00Z"}})
>>> html = render_html(doc)
>>> html.startswith("<!DOCTYPE html>") and "https://" not in html.split("<script")[0]
True
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import IO

import jinja2
import markupsafe

from journeymap.maps.models import JourneyMap
from journeymap.report import formatting, view
from journeymap.safety import display_text

ECHARTS_VERSION = "6.1.0"
"""Version of the vendored Apache ECharts (``assets/echarts.min.js``, from ``npm pack echarts``)."""


def _asset(name: str) -> str:
    return resources.files("journeymap.report").joinpath("assets", name).read_text(encoding="utf-8")


def _finalize(value: object) -> object:
    """Every ``{{ ... }}`` output: text without invisible characters (:func:`journeymap.safety.display_text`).

    Markup (``| safe``: the inlined CSS, scripts and the already cleaned JSON; a macro's output, whose
    own ``{{ }}`` went through here) is left as it is.
    """
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return display_text(value)
    return value


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("journeymap.report", "templates"),
        autoescape=True,  # customer text (quotes, names) is escaped everywhere
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,  # bidi overrides and zero-width characters never reach the page
    )
    env.filters.update(formatting.FILTERS)
    env.globals["element_id"] = view.element_id  # one stable id per map element, file report and web page alike
    return env


def render_template(name: str, **context: object) -> str:
    """Render one of the report's templates (``report.html.j2``, ``web.html.j2``) with the report's environment."""
    return _environment().get_template(name).render(**context)


def _inline_script(js: str) -> str:
    """Script text that cannot close its own ``<script>`` element early."""
    return js.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def _period(doc: JourneyMap) -> str:
    m = doc.meta
    start = m.period_start or m.data_start
    end = m.period_end or m.data_end
    fmt = "%Y-%m-%d"
    return f"{start.strftime(fmt) if start else '…'} to {end.strftime(fmt) if end else '…'}"


def page_context(doc: JourneyMap) -> dict[str, object]:
    """What the map's body template (``_body.html.j2``) reads, the same for the file report and the web page."""
    return {
        "doc": doc,
        "g": view.grid(doc),
        "persona_grids": view.persona_grids(doc),
        "persona_maps": list(getattr(doc, "persona_maps", None) or []),
        "opportunity_rows": view.opportunity_rows(doc),
        "sections": view.SECTIONS,
        "words": view.outcome_words(doc),
        "period": _period(doc),
        "echarts_version": ECHARTS_VERSION,
        "data_json": view.script_json(view.chart_data(doc)),
        "nav_labels": view.NAV_LABELS,
        "min_n": view.emotion_min_n(doc),
        "emotion_lane": view.emotion_lane,
        "emotion_style": view.emotion_style,
        "caveated": {tp.name: tp.caveats for tp in doc.touchpoints() if tp.caveats},
    }


def render_html(doc: JourneyMap, path_or_file: str | Path | IO[str] | None = None) -> str:
    """Render the map as one self-contained HTML file that works offline.

    Parameters
    ----------
    doc
        The :class:`~journeymap.maps.JourneyMap` to render (only read, nothing is computed).
    path_or_file
        Where to write: a path (folders are created) or a text file object; None = only return it.

    Returns
    -------
    str
        The HTML text.
    """
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            **page_context(doc),
            web=False,
            can_comment=False,
            slot_ids=[],
            css=_asset("report.css"),
            echarts_js=_inline_script(_asset("echarts.min.js")),
            report_js=_inline_script(_asset("report.js")),
        )
    )
    if isinstance(path_or_file, (str, Path)):
        path = Path(path_or_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    elif path_or_file is not None:
        path_or_file.write(html)
    return html


__all__ = ["ECHARTS_VERSION", "page_context", "render_html", "render_template"]
