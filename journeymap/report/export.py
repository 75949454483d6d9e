"""Write a map in one of the export formats: html, md, csv (a folder), png, pdf."""

from __future__ import annotations

from pathlib import Path

from journeymap.errors import InputError, MissingDependencyError
from journeymap.maps.models import JourneyMap

FORMATS = ("html", "md", "csv", "png", "pdf")
"""Export formats, in the CLI's order."""

SUFFIX = {"html": ".html", "md": ".md", "csv": "", "png": ".png", "pdf": ".pdf"}


def default_name(fmt: str, stem: str = "map") -> str:
    """The file (or folder, for csv) name of an export: ``map.html``, ``map-csv``..."""
    return f"{stem}-csv" if fmt == "csv" else f"{stem}{SUFFIX[fmt]}"


def check_format(fmt: str) -> None:
    """Fail early with what to install when ``fmt`` needs a browser that is missing."""
    if fmt not in FORMATS:
        raise InputError(f"Report format {fmt!r} is not one of {', '.join(FORMATS)}; pick one of them.")
    if fmt in ("png", "pdf"):
        from journeymap.report.browser import missing

        why = missing()
        if why:
            raise MissingDependencyError(why)


def write_report(doc: JourneyMap, output: str | Path, fmt: str = "html") -> Path:
    """Write ``doc`` as ``fmt`` to ``output`` and return the path written.

    PNG and PDF also write the HTML they are taken from, beside them (same name, ``.html``).
    CSV writes one file per table into the folder ``output``.
    """
    from journeymap.report.browser import export_image
    from journeymap.report.html import render_html
    from journeymap.report.markdown import render_markdown
    from journeymap.report.tables import write_csv

    check_format(fmt)
    output = Path(output)
    if fmt == "html":
        render_html(doc, output)
    elif fmt == "md":
        render_markdown(doc, output)
    elif fmt == "csv":
        write_csv(doc, output)
    else:
        html = output.with_suffix(".html")
        render_html(doc, html)
        export_image(html, output, fmt)
    return output
