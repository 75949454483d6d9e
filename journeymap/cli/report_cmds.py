"""``journeymap report``: render the JourneyMap as HTML, Markdown, CSV tables, PNG or PDF."""

from __future__ import annotations

import json
from pathlib import Path

import click

from journeymap.cli import Context, main, pass_ctx
from journeymap.cli.output import err_console, handle_errors

REPORT_FORMATS = ("html", "md", "csv", "png", "pdf")


def build_with_progress(ws, **options):
    """``maps.build_map`` with a progress bar on stderr."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from journeymap.maps import build_map

    score_first(ws)
    with Progress(
        TextColumn("Building the map: {task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("start", total=1.0)

        def tell(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done / max(total, 1))

        return build_map(ws, progress=tell, **options)


def score_first(ws) -> None:
    """The scoring step before a map: score feedback without scores yet and say so in one line."""
    from journeymap.maps.build import score_missing

    n = score_missing(ws)
    if n:
        err_console.print(f"Scored {n:,} feedback items (they had no scores yet).", highlight=False, markup=False)


@main.command("report")
@click.option(
    "-o",
    "--output",
    type=click.Path(writable=True),
    default=None,
    help="File to write (a folder for csv). Default: the workspace's reports/ folder, map.<format>.",
)
@click.option(
    "--from",
    "from_json",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Render this saved map (from `journeymap map -o`) instead of building one.",
)
@click.option("--start", help="Only events on or after this date (YYYY-MM-DD or ISO time).")
@click.option("--end", help="Only events before this date (exclusive).")
@click.option("--persona", default=None, help="The map of one persona's customers (blueprint persona name).")
@click.option(
    "--compare-to",
    "compare_to",
    default=None,
    metavar="previous|START:END",
    help="Add the change against the period of equal length before (previous) or given dates.",
)
@click.option("--models", default=None, metavar="LIST", help="Attribution models, comma-separated.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(REPORT_FORMATS)),
    default="html",
    show_default=True,
    help="html: one self-contained file; md: Markdown summary; csv: one file per table; "
    "png/pdf: via headless Chromium.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON (path, format, bytes).")
@pass_ctx
@handle_errors
def report_cmd(ctx: Context, output, from_json, start, end, persona, compare_to, models, fmt, as_json) -> None:
    """Render the journey map as a report: HTML (offline, one file), Markdown, CSV, PNG or PDF.

    Builds the map of the workspace (like `journeymap map`) unless --from gives a
    saved one, writes the report and prints its path. PNG and PDF need Playwright
    and Chromium (pip install 'journeymap[report]'; apt-get install chromium).

    \b
    Example:
      journeymap report                           # reports/map.html in the workspace
      journeymap report -o board.html --compare-to previous
      journeymap report --from june.json --format md -o june.md
      journeymap report --format csv -o tables/   # one CSV per table
      journeymap report --format pdf
    """
    from journeymap.maps import JourneyMap
    from journeymap.report.export import check_format, default_name, write_report

    check_format(fmt)  # a missing browser fails before the (long) build
    if from_json:
        doc = JourneyMap.load(from_json)
    else:
        doc = build_with_progress(
            ctx.scored(), start=start, end=end, persona=persona, compare_to=compare_to, models=models
        )
    if output is None:
        output = _report_dir(ctx) / default_name(fmt)
    path = write_report(doc, output, fmt)
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    if as_json:
        click.echo(
            json.dumps(
                {"path": str(path), "format": fmt, "bytes": size, "build_seconds": doc.meta.build_seconds}, indent=2
            )
        )
    else:
        click.echo(str(path))


def _report_dir(ctx: Context) -> Path:
    """The workspace's reports folder; ./reports when a saved map is rendered outside any workspace."""
    from journeymap.errors import WorkspaceError

    try:
        return ctx.ws.report_dir
    except WorkspaceError:
        return Path("reports")
