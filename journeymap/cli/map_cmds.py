"""Map commands: ``map`` (build the JourneyMap document) and ``diff`` (compare two saved maps)."""

from __future__ import annotations

import csv
import io

import click

from journeymap.cli import Context, main, pass_ctx
from journeymap.cli.output import console, err_console, format_option, handle_errors, print_table


@main.command("map")
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
@click.option(
    "--models",
    default=None,
    metavar="LIST",
    help="Attribution models, comma-separated (default: all rule-based, markov, shapley).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the map document (JSON) to this file.",
)
@format_option(choices=("table", "json"))
@pass_ctx
@handle_errors
def map_cmd(ctx: Context, start, end, persona, compare_to, models, output, fmt) -> None:
    """Build the JourneyMap: stages x lanes, emotion curve, pain points, opportunities, personas, evidence.

    The map is one versioned JSON document (schema in docs/map.md) that the report
    renders; --format json prints it, -o saves it (for `journeymap diff` later).

    \b
    Example:
      journeymap map -o map.json
      journeymap map --start 2025-06-01 --end 2025-07-01 --compare-to previous --format json > june.json
      journeymap map --persona "Deal seeker"
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from journeymap.cli.report_cmds import score_first
    from journeymap.maps import build_map

    ws = ctx.scored()
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

        doc = build_map(ws, start=start, end=end, persona=persona, compare_to=compare_to, models=models, progress=tell)
    if output:
        path = doc.save(output)
        err_console.print(f"Map written to {path} ({doc.meta.build_seconds:.1f} s)", highlight=False)
    if fmt == "json":
        click.echo(doc.to_json())
        return
    _print_map(doc)


def _print_map(doc) -> None:
    for s in doc.summary.sentences:
        console.print(f"• {s}", highlight=False)
    from journeymap.report.view import has_goals

    ends = "drop-off" if has_goals(doc) else "ended"
    print_table(
        ["stage", "journeys", "reach", "to next stage", "converts", ends, "after converting", "emotion", "touchpoints"],
        [
            [
                s.name,
                s.reach.k if s.reach else None,
                _pct(s.reach),
                _pct(s.conversion_to_next),
                _pct(s.conversion),
                _pct(s.drop_off),
                _pct(s.after_goal),
                None if s.emotion is None else s.emotion.mean,
                sum(len(lane.touchpoints) for lane in s.lanes),
            ]
            for s in doc.stages
        ],
        title="stages",
    )
    print_table(
        ["rank", "touchpoint", "stage", "owner", "friction x reach", "headline"],
        [[p.rank, p.touchpoint, p.stage, p.owner, p.score, p.headline.split(": ", 1)[-1]] for p in doc.pain_points[:5]],
        title="pain points",
    )
    print_table(
        ["rule", "suggestion", "owner"],
        [[o.rule_id, o.title, o.owner] for o in doc.opportunities[:10]],
        title="opportunities",
    )
    if doc.change is not None:
        sig = [d for d in doc.change.deltas if d.significant][:10]
        print_table(
            ["scope", "name", "metric", "before", "now", "delta", "p"],
            [[d.scope, d.name, d.metric, d.old, d.new, d.delta, d.p] for d in sig],
            title="significant changes vs the previous period",
        )


@main.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False))
@click.argument("new", type=click.Path(exists=True, dir_okay=False))
@click.option("--all", "show_all", is_flag=True, help="Show every delta in the table, not only significant ones.")
@format_option()
@handle_errors
def diff_cmd(old: str, new: str, show_all: bool, fmt: str) -> None:
    """Compare two saved maps: deltas with significance, new and removed touchpoints, pain point ranks.

    \b
    Example:
      journeymap map --end 2025-06-01 -o may.json
      journeymap map --end 2025-07-01 -o june.json
      journeymap diff may.json june.json
      journeymap diff may.json june.json --format csv > changes.csv
    """
    from journeymap.maps import JourneyMap, diff_maps

    d = diff_maps(JourneyMap.load(old), JourneyMap.load(new))
    if fmt == "json":
        click.echo(d.to_json())
        return
    columns = ["scope", "name", "metric", "old", "new", "delta", "low", "high", "p", "significant", "n_old", "n_new"]
    rows = [[getattr(x, c) for c in columns] for x in d.deltas]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        from journeymap.report.safety import csv_cell

        w.writerow(columns)
        w.writerows([[csv_cell(v) for v in r] for r in rows])
        click.echo(buf.getvalue(), nl=False)
        return
    console.print(f"Added touchpoints: {', '.join(d.added_touchpoints) or 'none'}", highlight=False)
    console.print(f"Removed touchpoints: {', '.join(d.removed_touchpoints) or 'none'}", highlight=False)
    shown = rows if show_all else [r for r in rows if r[9]]
    print_table(
        columns[:10],
        [r[:10] for r in shown],
        title="deltas" if show_all else "significant deltas (--all for every one)",
    )
    print_table(
        ["touchpoint", "old rank", "new rank", "moved up"],
        [[r.touchpoint, r.old_rank, r.new_rank, r.change] for r in d.pain_points],
        title="pain points",
    )


def _pct(r) -> str | None:
    return None if r is None or r.value is None else f"{r.value:.1%}"
