"""Workspace commands: ``init``, ``info``, ``quarantine``."""

from __future__ import annotations

import click

from journeymap.cli import Context, main, pass_ctx
from journeymap.cli.output import emit, format_option, handle_errors


@main.command("init")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--url", help="Warehouse URL (default: a DuckDB file in the workspace).")
@click.option(
    "--pseudonymise/--no-pseudonymise", default=False, help="Hash customer ids at ingest with a workspace key."
)
@click.option("--force", is_flag=True, help="Overwrite the settings and blueprint of an existing workspace.")
@format_option(default="table", choices=("table", "json"))
@handle_errors
def init_cmd(directory: str, url: str | None, pseudonymise: bool, force: bool, fmt: str) -> None:
    """Create a workspace: journeymap.toml, blueprint.yaml and an empty warehouse.

    \b
    Example:
      journeymap init shop
      journeymap init shop --url spark://local[2]
    """
    from journeymap.workspace import Workspace

    ws = Workspace.init(directory, url=url, pseudonymise=pseudonymise, force=force)
    info = {"workspace": str(ws.path), "warehouse": ws.settings.url, "blueprint": str(ws.blueprint_path)}
    ws.close()
    if fmt == "json":
        emit(info, "json")
    else:
        click.echo(f"Created workspace {ws.path}\n  warehouse: {ws.settings.url}\n  blueprint: {ws.blueprint_path}")


@main.command("info")
@format_option()
@pass_ctx
@handle_errors
def info_cmd(ctx: Context, fmt: str) -> None:
    """Show what a workspace holds: rows per table, blueprint size, warehouse.

    \b
    Example:
      journeymap -w shop info --format json
    """
    from journeymap import schema

    ws = ctx.ws
    rows = [{"table": name, "rows": int(ws.table(name).count().execute())} for name in schema.TABLES]
    if fmt == "json":
        bp = ws.blueprint
        emit(
            {
                "workspace": str(ws.path),
                "warehouse": ws.settings.url,
                "tables": {r["table"]: r["rows"] for r in rows},
                "stages": len(bp.stages),
                "touchpoints": len(bp.touchpoints),
                "personas": len(bp.personas),
            },
            "json",
        )
    else:
        emit(rows, fmt, title=f"{ws.path} ({ws.settings.url})")


@main.command("quarantine")
@click.option("--source", help="Only rows from this source file.")
@click.option(
    "--table",
    "table_name",
    type=click.Choice(["events", "feedback", "customers"]),
    help="Only rows meant for this table.",
)
@click.option("--limit", type=int, default=50, show_default=True, help="Rows to show (0: all).")
@click.option("--summary", is_flag=True, help="Count rows per reason instead of listing them.")
@format_option()
@pass_ctx
@handle_errors
def quarantine_cmd(
    ctx: Context, source: str | None, table_name: str | None, limit: int, summary: bool, fmt: str
) -> None:
    """List the rows that could not be loaded, with the reason for each.

    \b
    Example:
      journeymap quarantine --summary
      journeymap quarantine --source events.csv --format csv > bad_rows.csv
    """
    q = ctx.ws.quarantine()
    if source:
        q = q.filter(q.source.endswith(source))
    if table_name:
        q = q.filter(q.table == table_name)
    if summary:
        q = q.group_by(["table", "reason"]).agg(rows=q.count()).order_by([q.table, q.reason])
    else:
        q = q.select("source", "table", "row_number", "reason", "raw").order_by(["source", "row_number"])
    df = q.execute(limit=limit or None) if not summary else q.execute()
    emit(df.to_dict(orient="records"), fmt, title="quarantine")


@main.group("key")
def key_group() -> None:
    """The workspace's pseudonymisation key (.journeymap-key, never in git).

    \b
    Example:
      journeymap key export > shop.key        # on the machine that has the key
      journeymap key import shop.key          # in a fresh clone of the same workspace
    """


@key_group.command("export")
@pass_ctx
@handle_errors
def key_export_cmd(ctx: Context) -> None:
    """Print the key (keep it as secret as the customer ids it protects).

    \b
    Example:
      journeymap key export > shop.key
    """
    click.echo(ctx.ws.export_key())


@key_group.command("import")
@click.argument("file", type=click.File("r"))
@click.option("--force", is_flag=True, help="Replace a different key this workspace already has.")
@pass_ctx
@handle_errors
def key_import_cmd(ctx: Context, file, force: bool) -> None:
    """Install a key exported from another copy of this workspace (FILE, or - for standard input).

    \b
    Example:
      journeymap key import shop.key
    """
    ctx.ws.import_key(file.read(), force=force)
    click.echo("Key installed: customer ids get the same pseudonyms as in the workspace it came from.")


@key_group.command("new")
@click.option("--force", is_flag=True, help="Replace the key this workspace already has.")
@pass_ctx
@handle_errors
def key_new_cmd(ctx: Context, force: bool) -> None:
    """Make a new random key (the same customers then get other pseudonyms than with an old key).

    \b
    Example:
      journeymap key new
    """
    ctx.ws.new_key(force=force)
    click.echo("New key made in .journeymap-key (keep it out of git; copy it with `journeymap key export`).")
