"""``journeymap demo``: build a complete demo workspace from generated data."""

from __future__ import annotations

import click

from journeymap.cli import main
from journeymap.cli.output import emit, err_console, format_option, handle_errors


@main.command("demo")
@click.argument("directory", default="demo-workspace", type=click.Path(file_okay=False))
@click.option(
    "--customers",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Customers to simulate (about 5 events each).",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed; the same seed gives the same data.")
@click.option(
    "--events-format",
    "events_format",
    type=click.Choice(["csv", "parquet"]),
    help="File format of the events (default: csv, parquet from 200,000 customers).",
)
@click.option("--force", is_flag=True, help="Replace an existing workspace at DIRECTORY.")
@format_option()
@handle_errors
def demo_cmd(directory: str, customers: int, seed: int, events_format: str | None, force: bool, fmt: str) -> None:
    """Generate the Northwind Clothing demo: source files, blueprint and a loaded workspace.

    The data has planted effects that the analyses find: a friction touchpoint
    (Delivery options: surprise delivery charges), a touchpoint that raises
    conversion (Size guide) and a persona with a distinct path (Store-first shopper).

    \b
    Example:
      journeymap demo shop
      journeymap demo shop --customers 1000000 --force --format json
    """
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from journeymap.demo import create_demo

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=fmt == "json",
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def tell(phase: str, fraction: float) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=1.0)
            bar.update(tasks[phase], completed=fraction)

        summary = create_demo(directory, customers, seed, force=force, fmt=events_format, progress=tell)
    summary = _write_report(summary, quiet=fmt == "json")
    login = _demo_login(summary.workspace)
    if fmt == "table":
        click.echo(f"Demo workspace ready: {summary.workspace}")
    emit(summary, fmt, title="demo workspace")
    if fmt == "table":
        click.echo(f"Report: {summary.files['report']}")
        click.echo(f"Next: journeymap -w {directory} touchpoints")
        if login:
            click.echo(f"Shared web map: journeymap -w {directory} serve   (log in as {login[0]} / {login[1]})")


DEMO_LOGIN = "demo@example.com"


def _demo_login(workspace) -> tuple[str, str] | None:
    """An owner account for the demo's web map with a new random password (None without the web extra)."""
    try:
        from journeymap.web.db import Database
        from journeymap.web.users import add_user, list_users, remove_user
    except ImportError:
        return None
    import secrets

    db = Database.for_workspace(workspace)
    try:
        password = secrets.token_urlsafe(12)
        if any(u["email"] == DEMO_LOGIN for u in list_users(db)):
            remove_user(db, DEMO_LOGIN, by="journeymap demo")
        add_user(db, DEMO_LOGIN, "owner", password, by="journeymap demo")
    finally:
        db.dispose()
    return DEMO_LOGIN, password


def _write_report(summary, quiet: bool):
    """Build the demo's map and write its HTML report into DIR/reports/ (path added to ``files``)."""
    from journeymap.journeys import cache
    from journeymap.maps import build_map
    from journeymap.report import render_html
    from journeymap.workspace import Workspace

    with Workspace.open(summary.workspace) as ws:
        if cache.supported(ws.con):  # the journeys the commands after the demo read
            cache.refresh(ws.con, ws.events(), ws.blueprint)
        if quiet:
            from journeymap.maps.build import score_missing

            score_missing(ws)  # the scoring step before a map (build_map writes nothing)
            doc = build_map(ws)
        else:
            from journeymap.cli.report_cmds import build_with_progress

            doc = build_with_progress(ws)
        path = ws.report_dir / "map.html"
        render_html(doc, path)
    return summary.model_copy(update={"files": {**summary.files, "report": str(path)}})
