"""``journeymap ingest events|feedback|customers FILE...``: load files into the warehouse."""

from __future__ import annotations

import click

from journeymap.cli import Context, main, pass_ctx
from journeymap.cli.output import emit, err_console, format_option, handle_errors

_FORMATS = ("csv", "tsv", "parquet", "json", "ndjson")


def _progress_bar():
    """A rich progress bar on stderr, one task per file, and the callback that drives it."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[phase]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    tasks: dict[str, int] = {}

    def callback(source: str, phase: str, fraction: float) -> None:
        if source not in tasks:
            tasks[source] = bar.add_task(source.rsplit("/", 1)[-1], total=1.0, phase=phase)
        bar.update(tasks[source], completed=fraction, phase=phase)

    return bar, callback


@main.command("ingest")
@click.argument("table", type=click.Choice(["events", "feedback", "customers"]))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="TARGET=COLUMN",
    help="Map a canonical column to a source column, e.g. --map customer_id=cookie (repeatable).",
)
@click.option("--ts-format", help="strptime format of the timestamp column, e.g. '%d/%m/%Y %H:%M'.")
@click.option("--tz", help="IANA time zone of times without an offset (default: the workspace's default_tz).")
@click.option(
    "--source-format",
    type=click.Choice(_FORMATS),
    help="Read the files as this format instead of guessing from the extension.",
)
@click.option(
    "--kind",
    type=click.Choice(["survey", "review", "ticket", "chat", "social", "interview", "other"]),
    help="Feedback kind for files without a kind column (feedback only).",
)
@click.option(
    "--ts-default",
    metavar="load|DATE",
    help="Time of feedback rows in files without a date column: 'load' (now) or a date, e.g. 2024-05-01 (feedback only).",
)
@format_option(default="table", choices=("table", "json"))
@pass_ctx
@handle_errors
def ingest_cmd(
    ctx: Context,
    table: str,
    files: tuple[str, ...],
    maps: tuple[str, ...],
    ts_format: str | None,
    tz: str | None,
    source_format: str | None,
    kind: str | None,
    ts_default: str | None,
    fmt: str,
) -> None:
    """Load event, feedback or customer files; bad rows go to quarantine with a reason.

    Every file of one call is loaded in one transaction. For each file, rows read =
    loaded + quarantined + duplicate; re-loading a file adds nothing.

    \b
    Example:
      journeymap ingest events web.csv.gz app.parquet --map customer_id=cookie
      journeymap ingest feedback Tweets.csv --map ts=tweet_created --kind social
      journeymap ingest feedback reviews.csv --kind review --ts-default load
      journeymap ingest customers crm.csv --format json
      journeymap quarantine --summary
    """
    from journeymap.ingest import parse_map_flags

    mapping = parse_map_flags(maps)
    bar, callback = _progress_bar()
    with bar:
        report = ctx.writer().ingest(
            table,
            list(files),
            mapping=mapping,
            ts_format=ts_format,
            tz=tz,
            fmt=source_format,
            progress=callback,
            **({"kind": kind} if kind else {}),
            **({"ts_default": ts_default} if ts_default else {}),
        )
    _store_journeys(ctx)
    if fmt == "json":
        data = report.to_dict()
        data["total"] = report.total.model_dump(include={"rows_read", "loaded", "quarantined", "duplicate", "seconds"})
        emit(data, "json")
    else:
        emit(report, fmt, title=f"ingest into {table}")
        for s in report.sources:
            if s.guessed:
                guessed = ", ".join(f"{k}={s.mapping[k]}" for k in s.guessed)
                err_console.print(f"{s.source}: guessed {guessed}; override with --map TARGET=COLUMN", highlight=False)


class _Taken(Exception):
    """Another process took the warehouse between the ingest and the storing of the journeys."""


def _give_up(line: str) -> None:
    raise _Taken(line)


def _store_journeys(ctx: Context) -> None:
    """Store the journeys of every event for the commands that follow (:mod:`journeymap.journeys.cache`).

    The warehouse is closed first and opened again (closing checkpoints it, so the blocks the ingest
    freed hold the journeys instead of growing the file). When another process takes it in between,
    or storing fails, the ingest stands (it is committed) and the next commands compute the journeys.
    """
    from journeymap import engine
    from journeymap.engine.fetch import table
    from journeymap.journeys import cache

    ws = ctx.writer()
    if getattr(ws, "is_spark", False) or not cache.supported(ws.con):  # Spark keeps no journeys: start no JVM
        return
    blueprint = ws.blueprint
    ws.close()
    try:
        con = engine.connect(
            ws.settings.url, base=ws.path, memory_limit=ws.settings.memory_limit, read_only=False, on_wait=_give_up
        )
    except (_Taken, engine.WorkspaceBusyError):
        return
    try:
        with err_console.status("Storing the journeys for the next commands", spinner="dots"):
            cache.refresh(con, table(con, "events"), blueprint)
    except Exception as e:  # the loaded data stays; the next commands build the journeys themselves
        err_console.print(
            f"The journeys were not stored ({engine.explain(e)[0]}); commands compute them until the next ingest.",
            highlight=False,
        )
    finally:
        engine.disconnect(con)
