"""Commands for funnels and what drives them: ``funnel``, ``stages``, ``friction``, ``retention``, ``drivers``.

Each loads events, filters them and builds journeys through the shared
:func:`~journeymap.cli.journeys_cmds.journeys_for`, so their figures reconcile
with ``touchpoints``, ``transitions`` and ``paths``.
"""

from __future__ import annotations

import click

from journeymap.cli import Context, main, pass_ctx
from journeymap.cli.journeys_cmds import (
    BY_COLUMN,
    _with_filters,
    by_option,
    check_names,
    filter_options,
    journeys_for,
    working,
)
from journeymap.cli.output import emit, err_console, format_option, handle_errors
from journeymap.errors import InputError


def _by_step(value: str) -> str | int:
    value = value.strip()
    if value.isdigit():
        return int(value)
    if value not in ("first", "last"):
        raise InputError(f"--by-step {value!r} is not first, last or a step number; write e.g. --by-step 2.")
    return value


def _step_limits(values) -> dict[int, str]:
    out = {}
    for item in values:
        n, sep, limit = item.partition("=")
        if not sep or not n.strip().isdigit():
            raise InputError(f"--step-limit {item!r} is not STEP=DURATION; write it like --step-limit 3=2h.")
        out[int(n)] = limit.strip()
    return out


@main.command("funnel")
@click.argument("steps", nargs=-1, required=True, metavar="STEP STEP ...")
@click.option(
    "--order",
    type=click.Choice(["ordered", "strict", "any"]),
    default="ordered",
    show_default=True,
    help="ordered: later, anything between; strict: the very next event; any: in any order.",
)
@click.option(
    "--window",
    default="14d",
    show_default=True,
    help="Conversion window from step 1 to the last step (e.g. 7d, 12h; 'none' for no limit).",
)
@click.option(
    "--step-limit",
    multiple=True,
    metavar="N=DURATION",
    help="Time allowed from the previous step to step N (repeatable).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="STEP[:remove|stop]",
    help="Exclusion step: remove customers who do it between the steps, or stop counting them there.",
)
@click.option("--optional", multiple=True, metavar="STEP", help="A middle step (number or name) that is optional.")
@click.option("--open", "open_", is_flag=True, help="Let customers enter at any step (open funnel).")
@click.option("--totals", is_flag=True, help="Count re-entries after converting or timing out, not unique customers.")
@click.option(
    "--unit",
    type=click.Choice(["customer", "journey"]),
    default="customer",
    show_default=True,
    help="Funnel customers, or each journey on its own.",
)
@by_option
@click.option(
    "--by-step",
    default="first",
    show_default=True,
    help="Take the breakdown value at the first, last or a numbered step.",
)
@click.option("--customers-at", metavar="STEP", help="List the customer ids that reached this step instead.")
@click.option("--dropped", is_flag=True, help="With --customers-at: those who dropped off after the step.")
@click.option(
    "--in-progress",
    "in_progress",
    is_flag=True,
    help="With --customers-at: those who stopped after the step with their window still open.",
)
@filter_options
@format_option()
@pass_ctx
@handle_errors
def funnel_cmd(
    ctx: Context,
    steps,
    order,
    window,
    step_limit,
    exclude,
    optional,
    open_,
    totals,
    unit,
    by,
    by_step,
    customers_at,
    dropped,
    in_progress,
    start,
    end,
    persona,
    where,
    fmt,
) -> None:
    """Count customers through STEPs: rates with intervals, drop-off, in progress, time to convert.

    A STEP is a touchpoint (Checkout), a stage (stage:purchase) or a filter on
    event columns or properties (Checkout[channel=app], [plan=gold]). The same
    step twice must happen twice. In progress (window still open at the data's
    end) is shown apart from dropped.

    \b
    Example:
      journeymap funnel Home "Product page" Checkout Purchase
      journeymap funnel Home Checkout Purchase --window 7d --exclude Support:stop --by persona
      journeymap funnel stage:awareness stage:purchase --order any --format csv
      journeymap funnel Home Checkout Purchase --customers-at Checkout --dropped --format csv
    """
    from journeymap.journeys.funnel_steps import Exclusion
    from journeymap.journeys.funnels import funnel, funnel_customers

    check_names(ctx, "Funnel step", steps=list(steps))
    check_names(ctx, "--exclude", steps=[Exclusion.parse(x) for x in exclude])
    journeys = journeys_for(ctx, start, end, persona, where, by)
    options = dict(
        order=order,
        window=window,
        exclude=list(exclude),
        optional=list(optional),
        step_limits=_step_limits(step_limit),
        open=open_,
        totals=totals,
        unit=unit,
        by=BY_COLUMN if by else None,
        by_step=_by_step(by_step),
    )
    if customers_at:
        outcome = "dropped" if dropped else "in_progress" if in_progress else "reached"
        with working("Finding customers"):
            ids = funnel_customers(journeys, list(steps), step=customers_at, outcome=outcome, **options)
        emit([{"customer_id": i} for i in ids], fmt, title=f"customers {outcome} at {customers_at}")
        return
    if dropped or in_progress:
        raise InputError("--dropped and --in-progress go with --customers-at STEP; add it.")
    with working("Computing the funnel"):
        result = funnel(journeys, list(steps), **options)
    emit(_with_filters(result, start, end, persona, where, by), fmt, title="funnel")


@main.command("stages")
@filter_options
@by_option
@format_option()
@pass_ctx
@handle_errors
def stages_cmd(ctx: Context, start, end, persona, where, by, fmt) -> None:
    """The stage funnel: journeys reaching each blueprint stage, stage-to-stage conversion, in progress apart.

    \b
    Example:
      journeymap stages
      journeymap stages --by persona --format csv
    """
    from journeymap.journeys.stages import stage_funnel

    journeys = journeys_for(ctx, start, end, persona, where, by)
    with working("Computing the stage funnel"):
        result = stage_funnel(journeys, ctx.ws.blueprint, by=BY_COLUMN if by else None)
    emit(_with_filters(result, start, end, persona, where, by), fmt, title="stages")


@main.command("friction")
@filter_options
@by_option
@click.option(
    "--node",
    type=click.Choice(["touchpoint", "stage", "channel"]),
    default="touchpoint",
    show_default=True,
    help="What to rank.",
)
@click.option("--top", type=int, default=None, help="Show only the first N (of each breakdown value).")
@format_option()
@pass_ctx
@handle_errors
def friction_cmd(ctx: Context, start, end, persona, where, by, node, top, fmt) -> None:
    """Rank touchpoints by friction: exits against expectation, loops, slow transitions; every component shown.

    \b
    Example:
      journeymap friction --top 5
      journeymap friction --persona "Bargain hunter" --format json
      journeymap friction --by persona --top 3 --format csv
    """
    from journeymap.journeys.friction import friction

    journeys = journeys_for(ctx, start, end, persona, where, by)
    with working("Computing friction"):
        # without goals every journey just ends: exits are counted, not scored as giving up
        result = friction(
            journeys, node=node, by=BY_COLUMN if by else None, goals=bool(ctx.ws.blueprint.goal_touchpoints())
        )
    if top is not None:  # the first N of each breakdown value
        kept = [row for row, t in zip(result.rows, result.typed_rows(), strict=True) if t.rank <= top]
        result = result.model_copy(update={"rows": kept})
    emit(_with_filters(result, start, end, persona, where, by), fmt, title="friction")


@main.command("retention")
@filter_options
@by_option
@click.option("--start-event", metavar="STEP", help="Cohort by the first of this event [default: the first goal].")
@click.option("--return-event", metavar="STEP", help="What counts as coming back [default: the start event].")
@click.option("--period", type=click.Choice(["day", "week", "month"]), default="week", show_default=True)
@click.option("--periods", type=int, default=8, show_default=True, help="How many periods to show after the first.")
@click.option("--on-or-after", is_flag=True, help="Count a return in the period or any later one.")
@click.option("--recurring", is_flag=True, help="Recurring cohorts: a customer joins every period they start in.")
@format_option()
@pass_ctx
@handle_errors
def retention_cmd(
    ctx: Context,
    start,
    end,
    persona,
    where,
    by,
    start_event,
    return_event,
    period,
    periods,
    on_or_after,
    recurring,
    fmt,
) -> None:
    """Cohort retention (on, or on or after, each period) and the repeat-purchase rate.

    \b
    Example:
      journeymap retention
      journeymap retention --start-event "Sign up" --return-event Purchase --period month --on-or-after
      journeymap retention --by persona --period month --format csv > retention.csv
    """
    from journeymap.journeys.retention import retention

    check_names(ctx, "--start-event", steps=[start_event] if start_event else [])
    check_names(ctx, "--return-event", steps=[return_event] if return_event else [])
    journeys = journeys_for(ctx, start, end, persona, where, by)
    with working("Computing retention"):
        result = retention(
            journeys,
            start=start_event,
            return_event=return_event,
            goals=ctx.ws.blueprint.goal_touchpoints(),
            period=period,
            on_or_after=on_or_after,
            recurring=recurring,
            periods=periods,
            by=BY_COLUMN if by else None,
        )
    emit(_with_filters(result, start, end, persona, where, by), fmt, title="retention")


@main.command("drivers")
@filter_options
@click.option(
    "--step",
    "steps",
    multiple=True,
    metavar="STEP",
    help="Test a funnel's entries (repeat for each step) instead of all journeys.",
)
@click.option("--window", default="14d", show_default=True, help="With --step: the funnel's conversion window.")
@click.option(
    "--attribute",
    "attributes",
    multiple=True,
    help="Customer attributes to test [default: those with at most 20 values].",
)
@click.option("--min-count", type=int, default=5, show_default=True, help="Skip features fewer customers have.")
@format_option()
@pass_ctx
@handle_errors
def drivers_cmd(ctx: Context, start, end, persona, where, steps, window, attributes, min_count, fmt) -> None:
    """What converters do or are more than non-converters: odds ratios, intervals, Fisher p, BH-adjusted p.

    \b
    Example:
      journeymap drivers
      journeymap drivers --step Home --step Checkout --step Purchase --window 7d --format csv
      journeymap drivers --attribute region --attribute plan --min-count 20
    """
    from journeymap.journeys.drivers import drivers

    check_names(ctx, "--step", steps=list(steps))
    journeys = journeys_for(ctx, start, end, persona, where)
    funnel_opts = {"steps": list(steps), "window": window} if steps else {}
    with working("Computing drivers"):
        result = drivers(
            journeys,
            customers=ctx.ws.customers(),
            attributes=list(attributes) or None,
            min_count=min_count,
            **funnel_opts,
        )
    meta = result.meta
    if meta.get("converters") in (0, meta.get("customers")):  # a group is empty: say why the odds ratios are blank
        err_console.print(f"Note: {meta['note']}.", highlight=False, markup=False)
    emit(_with_filters(result, start, end, persona, where, None), fmt, title="drivers")
