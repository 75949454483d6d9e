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
        click.option(
            "--where",
            multiple=True,
            metavar="ATTR=VALUE",
            help="Only customers whose attribute has this value (repeatable; same attribute = any of).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def by_option(func: Callable) -> Callable:
    """Add ``--by`` (a breakdown by persona, an event column or a customer attribute)."""
    return click.option(
        "--by",
        "by",
        default=None,
        metavar="NAME",
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
    if not by and not filters.describe():
        from journeymap.journeys import cache

        # every event's journeys as stored in the warehouse, while the events and the blueprint's journey
        # definition are those they were built for; else stored now when this command writes anyway
        stored = cache.cached(ws.con, ws.blueprint)
        if stored is not None:
            return stored
        if not ws.read_only and cache.supported(ws.con):
            return cache.refresh(ws.con, ws.events(), ws.blueprint)
    customers = ws.customers() if (filters.needs_customers or by) else None
    events = apply_filters(ws.events(), filters, customers=customers, blueprint=ws.blueprint)
    if by:
        events = with_dimension(events, by, customers=customers, blueprint=ws.blueprint)
    return build_journeys(events, ws.blueprint)


def filters_for(
    start: str | None = None,
    end: str | None = None,
    persona: Sequence[str] = (),
    where: Sequence[str] | dict[str, Any] = (),
):
    """The :class:`~journeymap.journeys.Filters` the filter options describe (for results' metadata)."""
    from journeymap.journeys import Filters

    where_dict = dict(where) if isinstance(where, dict) else parse_where(where)
    return Filters(start=start or None, end=end or None, personas=tuple(persona), where=where_dict)


def check_names(
    ctx: Context, option: str, *, steps: Sequence[Any] = (), names: Sequence[str] = (), extra: Sequence[str] = ()
) -> None:
    """Stop with one sentence when a step or name refers to a touchpoint (or stage) that does not exist.

    Known touchpoints: the blueprint's and ``extra`` (e.g. path aliases), then, only when a name is not
    among those, the touchpoints present in the workspace's events (one distinct query, before any filter).
    The error names the value and the closest known names (case-insensitive ``difflib``).
    """
    from journeymap.journeys.funnel_steps import check_names as check
    from journeymap.journeys.funnel_steps import present_touchpoints, step_names

    touchpoints, stages = step_names(list(steps))
    touchpoints += [n for n in names if n and n not in touchpoints]
    bp = ctx.ws.blueprint
    if stages:
        check(stages, {s.name for s in bp.stages}, what="stage", option=option)
    known = {t.name for t in bp.touchpoints} | set(extra)
    if any(t not in known for t in touchpoints):
        check(touchpoints, known | present_touchpoints(ctx.ws.events()), what="touchpoint", option=option)


@contextlib.contextmanager
def working(label: str) -> Iterator[None]:
    """A spinner on stderr while the engine works (the analyses run as one query each)."""
    with err_console.status(label, spinner="dots"):
        yield


# -- commands ------------------------------------------------------------------------------------
@main.command("touchpoints")
@filter_options
@by_option
@click.option(
    "--node",
    type=click.Choice(["touchpoint", "stage", "channel"]),
    default="touchpoint",
    show_default=True,
    help="What to aggregate by.",
)
@format_option()
@pass_ctx
@handle_errors
def touchpoints_cmd(ctx: Context, start, end, persona, where, by, node, fmt) -> None:
    """Reach, conversion (with a Wilson interval), position, time to conversion and repeats per touchpoint.

    \b
    Example:
      journeymap touchpoints
      journeymap touchpoints --by persona --start 2024-01-01 --format csv
      journeymap touchpoints --node stage --where region=north
    """
    from journeymap.journeys import touchpoints

    journeys = journeys_for(ctx, start, end, persona, where, by)
    with working("Computing touchpoints"):
        result = touchpoints(journeys, by=BY_COLUMN if by else None, node=node)
    emit(_with_filters(result, start, end, persona, where, by), fmt, title="touchpoints")


@main.command("transitions")
@filter_options
@by_option
@click.option(
    "--node",
    type=click.Choice(["touchpoint", "stage", "channel"]),
    default="touchpoint",
    show_default=True,
    help="What the graph's nodes are.",
)
@click.option("--min-count", type=int, default=1, show_default=True, help="Hide edges seen fewer times.")
@format_option()
@pass_ctx
@handle_errors
def transitions_cmd(ctx: Context, start, end, persona, where, by, node, min_count, fmt) -> None:
    """The directly-follows graph: START -> touches -> CONVERTED / IN_PROGRESS / DROPPED.

    Each edge has its count (transitions), distinct customers, P(next | this) and
    the median and 90th-percentile gap in seconds.

    \b
    Example:
      journeymap transitions --min-count 10
      journeymap transitions --node stage --format csv > stages.csv
      journeymap transitions --persona "Bargain hunter" --start 2024-01-01 --end 2024-04-01
    """
    from journeymap.journeys import transitions

    journeys = journeys_for(ctx, start, end, persona, where, by)
    with working("Computing transitions"):
        result = transitions(journeys, by=BY_COLUMN if by else None, node=node, min_count=min_count)
    emit(_with_filters(result, start, end, persona, where, by), fmt, title="transitions")


@main.command("paths")
@filter_options
@by_option
@click.option("--from", "from_", metavar="TOUCHPOINT", help="Paths from the first touch of this touchpoint.")
@click.option("--to", "to", metavar="TOUCHPOINT", help="Paths up to the first touch of this touchpoint.")
@click.option(
    "--alias",
    multiple=True,
    metavar="'REGEX=ALIAS'",
    help="Rename touchpoints matching REGEX (repeatable; the first match wins).",
)
@click.option(
    "--collapse-repeats/--no-collapse-repeats",
    default=None,
    help="Drop a touch equal to the one before it [default: off for variants, on for --flows].",
)
@click.option("--max-steps", type=int, help="Cut longer paths, marking the cut with '…'.")
@click.option(
    "--top",
    type=int,
    default=20,
    show_default=True,
    help="Variants to show, 0 for all (with --flows: nodes per step; the rest are 'Other').",
)
@click.option("--flows", "show_flows", is_flag=True, help="Show step-by-step flows for a Sankey instead.")
@click.option("--steps", type=int, default=5, show_default=True, help="Steps to show with --flows.")
@click.option(
    "--measure",
    type=click.Choice(["journeys", "customers"]),
    default="journeys",
    show_default=True,
    help="With --flows: what link widths count (journeys = transitions).",
)
@format_option()
@pass_ctx
@handle_errors
def paths_cmd(
    ctx: Context,
    start,
    end,
    persona,
    where,
    by,
    from_,
    to,
    alias,
    collapse_repeats,
    max_steps,
    top,
    show_flows,
    steps,
    measure,
    fmt,
) -> None:
    """Top path variants with journeys, conversions, in progress and dropped; or flows for a Sankey.

    Steps are joined by " > "; with --from and --to the path runs between the two
    and --max-steps collapses the middle as "…".

    \b
    Example:
      journeymap paths --top 10
      journeymap paths --top 0 --format csv > variants.csv
      journeymap paths --alias '^Product=Product page' --collapse-repeats --max-steps 6
      journeymap paths --from Home --to Purchase --format csv
      journeymap paths --flows --steps 4 --top 6 --format json
    """
    from journeymap.journeys import FlowsResult, PathRules, PathsResult, flows, variants

    if top < 0 or (show_flows and top == 0):
        raise InputError(f"--top {top} must be 1 or more{'' if show_flows else ' (or 0 for every variant)'}.")
    collapse = show_flows if collapse_repeats is None else collapse_repeats
    rules = PathRules.parse_aliases(alias, collapse_repeats=collapse, max_steps=max_steps, start=from_, end=to)
    aliases = [name for _, name in rules.aliases]  # --from / --to may name an alias
    check_names(ctx, "--from", names=[from_] if from_ else [], extra=aliases)
    check_names(ctx, "--to", names=[to] if to else [], extra=aliases)
    journeys = journeys_for(ctx, start, end, persona, where, by)
    dim = BY_COLUMN if by else None
    result: FlowsResult | PathsResult
    with working("Computing flows" if show_flows else "Computing path variants"):
        if show_flows:
            result = flows(journeys, rules=rules, by=dim, steps=steps, top=top, measure=measure)
        else:
            result = variants(journeys, rules=rules, by=dim, top=top or None)
    emit(_with_filters(result, start, end, persona, where, by), fmt, title="flows" if show_flows else "paths")


def _with_filters(result, start, end, persona, where, by):
    """The result with the filters and breakdown that produced it in its metadata."""
    meta = {**result.meta, "filters": filters_for(start, end, persona, where).describe()}
    if by:
        meta["by"] = by
    return result.model_copy(update={"meta": meta})
