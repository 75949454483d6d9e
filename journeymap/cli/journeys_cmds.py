"""Journey commands: ``touchpoints``, ``transitions``, ``paths``; and the shared "events -> journeys" step.

Every journey analysis command (here and in :mod:`journeymap.cli.funnel_cmds`)
loads events, filters them and builds journeys the same way, through
:func:`journeys_for` and the :func:`filter_options` decorator, so their figures
reconcile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click

from journeymap.cli import Context, main, pass_ctx
from journeymap.cli.output import emit, err_console, format_option, handle_errors
from journeymap.errors import InputError

BY_COLUMN = "dimension"
"""The column :func:`journeys_for` adds when a breakdown (``--by``) is asked for."""


# -- the shared step: load events -> filter -> build journeys ------------------------------------
def parse_where(values: Sequence[str]) -> dict[str, Any]:
    """``["plan=gold", "plan=silver", "region=north"]`` -> ``{"plan": ["gold", "silver"], "region": "north"}``.

    >>> parse_where(["plan=gold", "plan=silver", "region=north"])
    {'plan': ['gold', 'silver'], 'region': 'north'}
    """
    out: dict[str, Any] = {}
    for item in values:
        attr, sep, value = item.partition("=")
        if not sep or not attr.strip():
            raise InputError(f"--where {item!r} is not attr=value; write it like --where plan=gold.")
        attr = attr.strip()
        if attr in out:
            prev = out[attr]
            out[attr] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[attr] = value
    return out


def filter_options(func: Callable) -> Callable:
    """Add ``--start``, ``--end``, ``--persona`` and ``--where`` to a command.

    The command receives ``start``, ``end``, ``persona`` (a tuple) and
    ``where`` (a tuple of ``attr=value``); pass them on to :func:`journeys_for`.
    """
    options = [
        click.option("--start", help="Only events on or after this date (YYYY-MM-DD or ISO time)."),
        click.option("--end", help="Only events before this date (exclusive)."),
        click.option("--persona", multiple=True, help="Only customers of this persona (repeatable)."),
        click.option("--where", multiple=True, metavar="ATTR=VALUE",
                     help="Only customers whose attribute has this value (repeatable; same attribute = any of)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def by_option(func: Callable) -> Callable:
    """Add ``--by`` (a breakdown by persona, an event column or a customer attribute)."""
    return click.option(
        "--by", "by", default=None, metavar="NAME",
        help="Break figures down by persona, an event column (channel...) or a customer attribute.",
    )(func)


def journeys_for(
    ctx: Context,
    start: str | None = None,
    end: str | None = None,
    persona: Sequence[str] = (),
    where: Sequence[str] | dict[str, Any] = (),
    by: str | None = None,
):
    """The workspace's events, filtered, cut into journeys (an Ibis table, nothing executed but the data's end).

    With ``by``, the journeys carry a ``dimension`` column (:data:`BY_COLUMN`)
    to break figures down by. The filters are the same for every command.
    """
    from journeymap.journeys import apply_filters, build_journeys, with_dimension

    ws = ctx.ws
    filters = filters_for(start, end, persona, where)
    customers = ws.customers() if (filters.needs_customers or by) else None
    events = apply_filters(ws.events(), filters, customers=customers, blueprint=ws.blueprint)
    if by:
        events = with_dimension(events, by, customers=customers, blueprint=ws.blueprint)
    return build_journeys(events, ws.blueprint)


def filters_for(start: str | None = None, end: str | None = None, persona: Sequence[str] = (),
                where: Sequence[str] | dict[str, Any] = ()):
    """The :class:`~journeymap.journeys.Filters` the filter options describe (for results' metadata)."""
    from journeymap.journeys import Filters

    where_dict = dict(where) if isinstance(where, dict) else parse_where(where)
    return Filters(start=start or None, end=end or None, personas=tuple(persona), where=where_dict)


@contextlib.contextmanager
def working(label: str) -> Iterator[None]:
    """A spinner on stderr while the engine works (the analyses run as one query each)."""
    with err_console.status(label, spinner="dots"):
        yield
