"""Attribution commands: ``attribution``, ``lift``, ``hypothesis``, ``abtest``.

Thin commands over :mod:`journeymap.attribution`: parse the options, make one
library call, format the result.
"""

from __future__ import annotations

import click

from journeymap.cli import Context, main, pass_ctx
from journeymap.cli.journeys_cmds import filter_options, journeys_for, working
from journeymap.cli.output import emit, format_option, handle_errors
from journeymap.errors import InputError


def _floats(text: str | None, option: str) -> list[float] | None:
    if not text:
        return None
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise InputError(f"{option} {text!r} must be numbers separated by commas, e.g. 0.3,0.4,0.3.") from None


@main.command("attribution")
@filter_options
@click.option(
    "--models",
    default="first,last,last_non_direct,linear,time_decay,position,markov,shapley",
    show_default=True,
    help="Comma-separated: first, last, last_non_direct, linear, time_decay, position (U), j_shaped, "
    "inverse_j, custom (with --custom-weights), participation, markov, shapley; or 'all' "
    "(every model but custom).",
)
@click.option("--order", type=click.IntRange(1, 4), default=1, show_default=True, help="Markov chain order.")
@click.option(
    "--lookback",
    default=None,
    help="Touches this long before a conversion count, e.g. 30d, 12h "
    "[default: the blueprint's attribution_lookback, 30d].",
)
@click.option(
    "--level",
    type=click.Choice(["channel", "touchpoint"]),
    default="channel",
    show_default=True,
    help="Credit channels or individual touchpoints.",
)
@click.option(
    "--container",
    type=click.Choice(["journey", "customer"]),
    default="journey",
    show_default=True,
    help="A conversion sees the touches of its journey, or of the customer across journeys.",
)
@click.option("--value", "by_value", is_flag=True, help="Shares by conversion value instead of conversions.")
@click.option(
    "--include-service",
    is_flag=True,
    help="Credit service touchpoints (support, onboarding) too, not only marketing ones.",
)
@click.option("--half-life", default="7d", show_default=True, help="Half-life of the time_decay model.")
@click.option("--custom-weights", metavar="FIRST,MIDDLE,LAST", help="Weights of the custom model (normalised).")
@click.option(
    "--paths",
    "paths_file",
    type=click.Path(dir_okay=False),
    help="Attribute an aggregated path file in the ChannelAttribution format instead of the workspace.",
)
@click.option(
    "--bootstrap",
    type=click.IntRange(0, 10000),
    default=0,
    show_default=True,
    help="Replicates for Markov and Shapley intervals (resampling journeys).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (bootstrap, sampled Shapley).")
@click.option("--ordered", is_flag=True, help="Add ordered Shapley: credit by position of first appearance.")
@click.option(
    "--keep-repeats", is_flag=True, help="Markov reads a > a > b as it is (default: as a > b, like ChannelAttribution)."
)
@format_option()
@pass_ctx
@handle_errors
def attribution_cmd(
    ctx: Context,
    start,
    end,
    persona,
    where,
    models,
    order,
    lookback,
    level,
    container,
    by_value,
    include_service,
    half_life,
    custom_weights,
    paths_file,
    bootstrap,
    seed,
    ordered,
    keep_repeats,
    fmt,
) -> None:
    """Credit conversions to channels or touchpoints with rule-based, Markov and Shapley models.

    Prints credits per model and channel (conversions, value, share and, with
    --bootstrap, intervals), the models side by side, Markov removal effects and
    diagnostics. --format csv prints the credits table (model,channel,conversions,value,share,...).

    \b
    Example:
      journeymap attribution
      journeymap attribution --models first,last,linear,markov --order 2 --lookback 14d
      journeymap attribution --level touchpoint --include-service --bootstrap 200 --format csv
      journeymap attribution --paths paths.csv --models all --format json
    """
    from journeymap.attribution import AttributionSettings, attribute, read_path_file

    settings = AttributionSettings(
        lookback=lookback, level=level, container=container, include_service=include_service, half_life=half_life
    )
    kwargs = dict(
        order=order,
        value=by_value,
        bootstrap=bootstrap,
        seed=seed,
        ordered=ordered,
        custom_weights=_floats(custom_weights, "--custom-weights"),
        collapse_repeats=not keep_repeats,
    )
    with working("Attributing conversions"):
        if paths_file:
            result = attribute(read_path_file(paths_file), models, settings=settings, **kwargs)
        else:
            ws = ctx.ws
            journeys = journeys_for(ctx, start, end, persona, where)
            result = attribute(journeys, models, blueprint=ws.blueprint, settings=settings, con=ws.con, **kwargs)
    emit(result, fmt, title=None)


@main.command("lift")
@filter_options
@click.option("--touchpoint", "touchpoints", multiple=True, help="Only these touchpoints (repeatable).")
@click.option(
    "--strata",
    default="persona,first_stage",
    show_default=True,
    help="What to stratify by: persona, first_stage, both or 'none'.",
)
@click.option("--alpha", type=float, default=0.05, show_default=True, help="False discovery rate for 'significant'.")
@format_option()
@pass_ctx
@handle_errors
def lift_cmd(ctx: Context, start, end, persona, where, touchpoints, strata, alpha, fmt) -> None:
    """Exposure lift per touchpoint: conversion of journeys with vs without it (association, not cause).

    Stratified by persona and first stage (Cochran-Mantel-Haenszel odds ratio and
    risk difference with intervals), p-values, and Benjamini-Hochberg q-values
    across touchpoints.

    \b
    Example:
      journeymap lift
      journeymap lift --touchpoint Webinar --touchpoint "Live chat" --format json
      journeymap lift --strata first_stage --alpha 0.1 --format csv
    """
    from journeymap.attribution.lift import lift

    ws = ctx.ws
    journeys = journeys_for(ctx, start, end, persona, where)
    with working("Computing exposure lift"):
        result = lift(
            journeys,
            ws.customers(),
            ws.blueprint,
            touchpoints=list(touchpoints) or None,
            strata=_strata(strata),
            alpha=alpha,
            con=ws.con,
        )
    emit(result, fmt, title="lift (association, not cause)")


@main.command("hypothesis")
@click.argument("touchpoint")
@filter_options
@click.option(
    "--strata",
    default="persona,first_stage",
    show_default=True,
    help="What to stratify by: persona, first_stage, both or 'none'.",
)
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Significance level.")
@format_option()
@pass_ctx
@handle_errors
def hypothesis_cmd(ctx: Context, touchpoint, start, end, persona, where, strata, alpha, fmt) -> None:
    """Answer "do customers who see TOUCHPOINT convert more?" with effect, interval, p and sample sizes.

    \b
    Example:
      journeymap hypothesis Webinar
      journeymap hypothesis "Live chat" --persona "Bargain hunter" --format json
    """
    from journeymap.attribution.lift import hypothesis

    ws = ctx.ws
    journeys = journeys_for(ctx, start, end, persona, where)
    with working("Testing"):
        result = hypothesis(
            journeys, touchpoint, ws.customers(), ws.blueprint, strata=_strata(strata), alpha=alpha, con=ws.con
        )
    if fmt == "table":
        click.echo(result.answer)
    emit(result, fmt, title="hypothesis")


@main.command("abtest")
@filter_options
@click.option(
    "--variant",
    default="variant",
    show_default=True,
    help="Event column or key of the JSON properties that holds the variant.",
)
@click.option("--touchpoint", help="The tested touchpoint (only its events assign variants).")
@click.option("--control", help="The control variant [default: the first in sort order].")
@click.option("--split", metavar="W1,W2,...", help="Planned split per variant in sort order [default: equal].")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Significance level (two-sided).")
@click.option("--power", type=float, default=0.8, show_default=True, help="Power for MDE and sample size.")
@click.option("--mde", type=float, help="Absolute effect to size the test for [default: 10% of the control rate].")
@format_option()
@pass_ctx
@handle_errors
def abtest_cmd(
    ctx: Context, start, end, persona, where, variant, touchpoint, control, split, alpha, power, mde, fmt
) -> None:
    """A/B test of a touchpoint's variants: conversion per variant, difference, z test, SRM and power.

    \b
    Example:
      journeymap abtest --touchpoint "Landing page" --variant variant
      journeymap abtest --variant checkout_version --control old --split 50,50 --format json
    """
    from journeymap.attribution.abtest import abtest

    ws = ctx.ws
    journeys = journeys_for(ctx, start, end, persona, where)
    with working("Analysing the test"):
        result = abtest(
            journeys,
            variant=variant,
            touchpoint=touchpoint,
            control=control,
            split=_floats(split, "--split"),
            alpha=alpha,
            power=power,
            mde=mde,
            con=ws.con,
        )
    emit(result, fmt, title="abtest")


def _strata(text: str) -> tuple[str, ...]:
    if text.strip().lower() == "none":
        return ()
    return tuple(s.strip() for s in text.split(",") if s.strip())
