"""Blueprint commands: ``blueprint draft|check|show|validate``."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from journeymap.cli import Context, main, pass_ctx
from journeymap.cli.output import (
    console,
    emit,
    err_console,
    format_option,
    handle_errors,
    print_table,
)


@main.group("blueprint")
def blueprint() -> None:
    """The Customer Touchpoint Blueprint (blueprint.yaml): draft it from the data, check it, show it.

    \b
    Example:
      journeymap blueprint draft
      journeymap blueprint check --strict
      journeymap blueprint validate blueprint.yaml
    """


@blueprint.command("draft")
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="FILE",
    help="Write the draft here instead of the workspace's blueprint.yaml ('-' prints it).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Rewrite a curated blueprint.yaml (its content is kept, its comments are not; "
    "the old file is kept as blueprint.yaml.bak).",
)
@click.option(
    "--min-events",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Leave out data touchpoints with fewer events.",
)
@format_option(choices=("table", "json"))
@pass_ctx
@handle_errors
def draft_cmd(ctx: Context, output: str | None, force: bool, min_events: int, fmt: str) -> None:
    """Draft the blueprint from the events: touchpoints, channels, stages, goals and journey settings.

    Each data touchpoint the blueprint lacks is added with its most common
    channel and a stage suggested from its name and from where it sits relative
    to the goals. Goals, when there are none, come from names (order, purchase,
    payment, booking, signup, billed...) and from revenue where most events carry
    none. The inactivity gap and conversion window, when they are the defaults,
    come from the data's own gaps and span. Everything the blueprint already
    curates is kept as it is. The draft prints the share of journeys the goals
    convert and warns above 60% or at 0%.

    \b
    Example:
      journeymap blueprint draft                 # a new workspace: writes blueprint.yaml
      journeymap blueprint draft -o draft.yaml   # review a draft next to a curated blueprint
      journeymap blueprint draft -o - | less
    """
    from pathlib import Path

    from journeymap.curation import write_draft

    ws = ctx.ws
    target = None if output == "-" else (Path(output) if output else ws.blueprint_path)
    outcome = write_draft(
        ws.events(),
        ws.blueprint,
        target=target,
        blueprint_path=ws.blueprint_path,
        con=ws.con,
        min_events=min_events,
        force=force,
    )
    bp, base, info = outcome.blueprint, outcome.base, outcome.summary
    added, guessed = outcome.added, info["goals_guessed"]
    if target is None:
        click.echo(bp.to_yaml(), nl=False)
    if fmt == "json":
        if target is None:  # the YAML went to stdout; keep the summary off it
            err_console.print_json(data=info)
        else:
            emit(info, "json")
        return
    out = err_console if target is None else console
    rows = [[t["name"], t["stage"], t["channel"], t["kind"], t["description"]] for t in info["touchpoints"]]
    if target is not None:
        print_table(["touchpoint", "stage", "channel", "kind", "found"], rows, title="drafted touchpoints")
    per_stage = ", ".join(f"{s} {n}" for s, n in info["stages"].items())
    out.print(
        f"Found {len(added)} new touchpoints on {len(info['channels'])} channels ({per_stage}); "
        + (
            f"goals kept: {', '.join(base.goal_touchpoints())}."
            if base.goals
            else f"goals guessed: {', '.join(guessed) or 'none'}."
        ),
        highlight=False,
    )
    conv = info["conversion"]
    if info["goals"]:
        goal_rows = [
            [g["touchpoint"], g["reason"], g["journeys"], g["converted"], _share(g["share"])] for g in info["goals"]
        ]
        if target is not None:
            print_table(["goal", "from", "journeys", "converted", "share"], goal_rows, title="goals (each alone)")
    if conv["share"] is not None:
        out.print(
            f"With these goals {conv['converted']:,} of {conv['journeys']:,} journeys convert "
            f"({_share(conv['share'])}).",
            highlight=False,
        )
    j = info["journey"]
    out.print(
        f"Journey settings {'proposed' if j['proposed'] else 'kept'}: inactivity_gap {j['inactivity_gap']}, "
        f"conversion_window {j['conversion_window']} ({j['basis']}"
        + (
            ""
            if j["proposed"]
            else f"; the data suggests {j['proposal']['inactivity_gap']} and {j['proposal']['conversion_window']}"
        )
        + ").",
        highlight=False,
    )
    for w in info["warnings"]:
        out.print(f"[bold yellow]Warning:[/] {escape(w)}", highlight=False, markup=True)
    if target is not None:
        out.print(
            f"Draft written to {target}; review the stages, then run: journeymap blueprint check", highlight=False
        )


def _share(x: float | None) -> str:
    """A share as a percentage with one decimal (``12.5%``), empty when undefined."""
    return "" if x is None else f"{x:.1%}"


@blueprint.command("check")
@click.option("--strict", is_flag=True, help="Exit with status 1 when there are errors or warnings.")
@format_option()
@pass_ctx
@handle_errors
def check_cmd(ctx: Context, strict: bool, fmt: str) -> None:
    """Check the blueprint against the data: touchpoints without data, data without touchpoints, goals.

    Errors: goals with no events. Warnings: data or feedback touchpoints missing
    from the blueprint, stages without touchpoints, touchpoints without a stage,
    no goals, an inactivity gap that splits most customers into several
    journeys, a conversion window that leaves over half the journeys "in
    progress". Info: blueprint touchpoints with no events (fine for offline ones).

    \b
    Example:
      journeymap blueprint check
      journeymap blueprint check --strict --format json > check.json
    """
    from journeymap.curation import check_blueprint

    ws = ctx.ws
    result = check_blueprint(ws.blueprint, ws.events(), ws.feedback(), con=ws.con)
    emit(result, fmt, title="blueprint check")
    errors, warnings = result.meta["errors"], result.meta["warnings"]
    if fmt == "table":
        console.print(
            f"{errors} errors, {warnings} warnings, {len(result.rows) - errors - warnings} notes.", highlight=False
        )
    if strict and errors + warnings:
        err_console.print(
            f"Blueprint check failed: {errors} errors and {warnings} warnings (--strict).", highlight=False
        )
        sys.exit(1)


@blueprint.command("show")
@format_option()
@pass_ctx
@handle_errors
def show_cmd(ctx: Context, fmt: str) -> None:
    """Show the blueprint: stages with their touchpoints, goals, personas, journey settings.

    --format json dumps the whole validated blueprint; csv gives one row per touchpoint.

    \b
    Example:
      journeymap blueprint show
      journeymap blueprint show --format json > blueprint.json
    """
    bp = ctx.ws.blueprint
    if fmt == "json":
        emit(bp.model_dump(mode="json"), "json")
        return
    goals = set(bp.goal_touchpoints())
    tps = [
        {
            "touchpoint": t.name,
            "stage": t.stage,
            "channel": t.channel,
            "interaction": t.interaction,
            "kind": t.kind,
            "owner": t.owner,
            "goal": t.name in goals,
        }
        for t in bp.touchpoints
    ]
    if fmt == "csv":
        emit(tps, "csv")
        return
    stage_rows = [[s.name, ", ".join(t.name for t in bp.touchpoints if t.stage == s.name)] for s in bp.stages]
    unstaged = [t.name for t in bp.touchpoints if t.stage is None]
    if unstaged:
        stage_rows.append(["(no stage)", ", ".join(unstaged)])
    print_table(["stage", "touchpoints"], stage_rows, title=f"{bp.name}: stages")
    print_table(["goal", "value"], [[g.touchpoint, g.value] for g in bp.goals], title="goals")
    print_table(
        ["persona", "rules", "description"],
        [[p.name, ", ".join(f"{k}={v}" for k, v in p.where.items()), p.description] for p in bp.personas],
        title="personas",
    )
    j = bp.model_dump(mode="json")["journey"]
    console.print("Journey settings: " + ", ".join(f"{k} {v or 'none'}" for k, v in j.items()), highlight=False)


@blueprint.command("validate")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@handle_errors
@click.pass_obj
def validate_cmd(obj: Context, file: str | None) -> None:
    """Validate a blueprint file: print OK, or the error with its line number and the fix (exit 1).

    FILE defaults to the workspace's blueprint.yaml.

    \b
    Example:
      journeymap blueprint validate blueprint.yaml
      journeymap blueprint validate draft.yaml && cp draft.yaml blueprint.yaml
    """
    from journeymap.blueprint import Blueprint

    path = file or str(obj.ws.blueprint_path)
    bp = Blueprint.load(path)
    click.echo(
        f"OK: {path}: {len(bp.stages)} stages, {len(bp.touchpoints)} touchpoints, "
        f"{len(bp.goals)} goals, {len(bp.personas)} personas."
    )
