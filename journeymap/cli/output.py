"""Output helpers shared by the commands: ``--format table|csv|json`` and errors at the edge."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from journeymap.errors import JourneymapError
from journeymap.report.safety import display_text
from journeymap.results import Result

FORMATS = ("table", "csv", "json")


class _Console(Console):
    """A console whose text arguments lose terminal escape sequences and invisible characters."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(display_text(o) if isinstance(o, str) else o for o in objects), **kwargs)


# markup off: names from the user's files ("[/bold]", "[link=...]") print as they are; a line that
# styles itself passes markup=True and escapes what it interpolates
console = _Console(stderr=False, soft_wrap=True, markup=False)
err_console = _Console(stderr=True, soft_wrap=True, markup=False)


def format_option(default: str = "table", choices: Sequence[str] = FORMATS) -> Callable:
    """The ``--format`` option every command that prints results has."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help="How to print the results: a table for people, csv or json for scripts.",
    )


def handle_errors(func: Callable) -> Callable:
    """Turn every error into one line on stderr, never a traceback.

    journeymap's own errors and the engine and system errors it knows (a busy or damaged
    warehouse, a full disk, memory) exit 1 with the sentence :func:`journeymap.engine.explain`
    gives; anything else is unexpected and exits 2. ``JOURNEYMAP_DEBUG=1`` shows the traceback.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except Exception as e:
            if os.environ.get("JOURNEYMAP_DEBUG") and not isinstance(e, JourneymapError):
                raise
            from journeymap.engine import explain

            message, code = explain(e)
            err_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, markup=True)
            sys.exit(code)

    return wrapper


def _fmt_cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):  # null or NaN: undefined, shown as a dash (not blank)
        return "–"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    return display_text(str(v))  # no terminal escape sequence, bidi override or zero-width character


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    table = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        table.add_column(display_text(str(c)))
    for row in rows:
        table.add_row(*(_fmt_cell(v) for v in row))
    console.print(table)


def emit(result: Result | dict | list, fmt: str, title: str | None = None) -> None:
    """Print a result, a dict or a list of dicts in the chosen format."""
    if fmt == "json":
        if isinstance(result, Result):
            click.echo(result.to_json())
        else:
            click.echo(json.dumps(result, indent=2, default=str, ensure_ascii=False))
        return
    if isinstance(result, Result):
        tables = result.tables()
        if fmt == "csv":
            click.echo(result.to_csv(), nl=False)
            return
        for name, (columns, rows) in tables.items():
            print_table(columns, rows, title=title or name)
        return
    records = result if isinstance(result, list) else [result]
    columns = list(records[0]) if records else []
    rows = [[r.get(c) for c in columns] for r in records]
    if fmt == "csv":
        import csv
        import io

        from journeymap.report.safety import csv_cell

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([csv_cell(c) for c in columns])
        w.writerows([[csv_cell(v) for v in r] for r in rows])
        click.echo(buf.getvalue(), nl=False)
    else:
        print_table(columns, rows, title=title)
