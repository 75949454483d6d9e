"""The grid: touchpoint cells in journey order (the lanes), stage columns, pain points, designed vs observed.

Pure functions of :class:`~journeymap.maps.inputs.MapInputs` (and, for a persona's grid, of its rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from journeymap.maps.inputs import Attribution, MapInputs, Rows
from journeymap.maps.models import (
    PURCHASE_PATH_CAVEAT,
    BackFlow,
    DesignedVsObserved,
    Driver,
    Evidence,
    Friction,
    Lane,
    Lift,
    PainPoint,
    Quote,
    Rate,
    SkippedStage,
    StageColumn,
    TouchpointCell,
    TouchpointFigures,
    UnmappedTouchpoint,
)
from journeymap.maps.sections import voice
from journeymap.maps.sections._memo import memo
from journeymap.maps.sections.words import driver_words, friction_driver
from journeymap.maps.stats import rate
from journeymap.ranking import rank_value

UNASSIGNED = "unassigned"
"""Lane of touchpoints without a channel."""
TOP_PAIN_POINTS = 10
QUOTES_PER_TOUCHPOINT = 5
CAVEAT_PAIN_RANK = 5
"""Pain points up to this rank that are also conversion drivers carry :data:`PURCHASE_PATH_CAVEAT`."""


def grid(
    inputs: MapInputs,
    view: voice.VoiceView,
    tp_rows: Rows,
    fr_rows: Mapping[str, Mapping[str, Any]],
    stage_rows: Rows,
    stage_tp: Mapping[str, Mapping[str, Any]],
    total_journeys: int,
    *,
    attribution: Attribution | None = None,
    lift_rows: Mapping[str, Mapping[str, Any]] | None = None,
    quotes: Mapping[str, list[Quote]] | None = None,
) -> tuple[list[TouchpointCell], list[StageColumn]]:
    """The touchpoint cells (journey order) and the stage columns with their lanes, from the figures of
    one journeys table (all journeys, or one persona's); ``view`` is the matching feedback scope."""
    bp = inputs.blueprint
    lift_rows, quotes = lift_rows or {}, quotes or {}
    tp_by_name = {r["touchpoint"]: r for r in tp_rows}
    names = [t.name for t in bp.touchpoints] + sorted(n for n in tp_by_name if bp.touchpoint(n) is None)
    cells: list[TouchpointCell] = []
    for name in names:
        bt = bp.touchpoint(name)
        r = tp_by_name.get(name)
        f = fr_rows.get(name)
        figures = TouchpointFigures()
        if r is not None:
            figures = TouchpointFigures(
                events=int(r["events"]),
                customers=int(r["customers"]),
                journeys=int(r["journeys"]),
                share=_f(r["share_of_journeys"]),
                conversion=rate(r["conversions"], r["journeys"], r["rate_low"], r["rate_high"]),
                median_position=_f(r["median_step"]),
                median_time_to_conversion_s=_f(r["median_time_to_conversion_s"]),
                repeat_rate=_f(r["repeat_rate"]),
                exit_rate=_f(f["exit_rate"]) if f else None,
                exits=int(f["exits"]) if f else None,
            )
        cells.append(
            TouchpointCell(
                name=name,
                stage=bt.stage if bt else None,
                post_goal=bool(bt and bt.stage in inputs.post_goal_stages),
                channel=bt.channel if bt else None,
                owner=bt.owner if bt else None,
                kind=bt.kind if bt else None,
                interaction=bt.interaction if bt else "direct",
                in_blueprint=bt is not None,
                has_data=r is not None,
                figures=figures,
                kpis=view.kpis_at("touchpoint", name),
                emotion=view.emotion_at("touchpoint", name),
                friction=_friction(f),
                attribution=attribution.shares_of(name) if attribution else {},
                lift=_lift(lift_rows.get(name)),
                themes=view.themes_at(name),
                quotes=quotes.get(name, []),
            )
        )
    cells = _ordered(cells, inputs.stage_order)

    stages: list[StageColumn] = []
    by_stage = {r["stage"]: r for r in stage_rows}
    for i, st in enumerate(bp.stages):
        r = by_stage.get(st.name)
        lanes: dict[str, list[TouchpointCell]] = {}
        for c in cells:
            if c.stage == st.name:
                lanes.setdefault(c.channel or UNASSIGNED, []).append(c)
        col = StageColumn(
            order=i,
            name=st.name,
            description=st.description,
            post_goal=st.name in inputs.post_goal_stages,
            kpis=view.kpis_at("stage", st.name),
            emotion=view.emotion_at("stage", st.name),
            lanes=[Lane(channel=k, touchpoints=v) for k, v in lanes.items()],
        )
        if r is not None:
            sr = stage_tp.get(st.name, {})
            col = col.model_copy(
                update=dict(
                    reach=rate(r["journeys"], total_journeys),
                    customers=int(sr.get("customers") or 0),
                    # journeys end at the goal: from the goal's stage on, what follows is after_goal
                    conversion_to_next=None
                    if r["to_next"] is None or i == inputs.goal_cut
                    else rate(r["to_next"], r["journeys"], r["next_low"], r["next_high"]),
                    after_goal=after_goal(r),
                    conversion=rate(r["converted"], r["journeys"]),
                    drop_off=rate(r["ended_dropped"], r["journeys"]),
                    median_time_s=_f(sr.get("median_time_to_conversion_s")),
                )
            )
        stages.append(col)
    # touchpoints without a known stage get a lane of their own after the stages
    loose = [c for c in cells if c.stage not in inputs.stage_order]
    if loose:
        lanes = {}
        for c in loose:
            lanes.setdefault(c.channel or UNASSIGNED, []).append(c)
        stages.append(
            StageColumn(
                order=len(stages),
                name="(no stage)",
                description="Touchpoints in the data that the blueprint does not place in a stage.",
                lanes=[Lane(channel=k, touchpoints=v) for k, v in lanes.items()],
            )
        )
    return cells, stages


@memo
def _main(inputs: MapInputs) -> tuple[list[StageColumn], list[PainPoint]]:
    """The map's stage columns and pain points, with the purchase-path caveats."""
    _, stages = grid(
        inputs,
        voice.view(inputs),
        inputs.touchpoints,
        inputs.friction,
        inputs.stage_funnel,
        inputs.stage_figures,
        inputs.totals.journeys,
        attribution=inputs.attribution,
        lift_rows=inputs.lift,
        quotes=voice.quotes(inputs),
    )
    raw = sorted((tp for st in stages for lane in st.lanes for tp in lane.touchpoints), key=lambda c: c.order)
    return with_caveats(stages, pain_points_of(inputs, raw), list(inputs.drivers))


def stages(inputs: MapInputs) -> list[StageColumn]:
    """The document's ``stages``: stage columns in order, each with its lanes of touchpoint cells."""
    return _main(inputs)[0]


def lanes(inputs: MapInputs) -> list[TouchpointCell]:
    """Every touchpoint cell of the map in journey order (the cells of the stages' lanes)."""
    return sorted((tp for st in stages(inputs) for lane in st.lanes for tp in lane.touchpoints), key=lambda c: c.order)


def pain_points(inputs: MapInputs) -> list[PainPoint]:
    """The document's ``pain_points``: ranked by friction x reach, worst first."""
    return _main(inputs)[1]


def pain_points_of(inputs: MapInputs, cells: list[TouchpointCell]) -> list[PainPoint]:
    """The top pain points among ``cells`` (the map's, or a persona's)."""
    scored = [
        (c, c.friction, c.figures.share)
        for c in cells
        if c.friction is not None and c.friction.score > 0 and c.figures.share
    ]
    scored.sort(key=lambda x: (-rank_value(x[1].score * x[2]), x[0].name))
    out = []
    goals = inputs.has_goals
    for i, (c, fr, share) in enumerate(scored[:TOP_PAIN_POINTS]):
        neg = [t for t in c.themes if t.sentiment is not None and t.sentiment < 0]
        # without goals a journey's end is not giving up: no exit figures and no conversion in a pain point
        fig: dict[str, Any] = {
            "friction": round(fr.score, 4),
            "reach": share,
            "journeys": c.figures.journeys,
            "customers": c.figures.customers,
            "exit_rate": c.figures.exit_rate if goals else None,
            "expected_exit_rate": fr.components.get("expected_exit_rate") if goals else None,
            "loop_rate": fr.components.get("loop_rate"),
            "slow_ratio": fr.components.get("slow_ratio"),
            "conversion": c.figures.conversion.value if c.figures.conversion and goals else None,
            "emotion": c.emotion.mean if c.emotion else None,
            "feedback": c.emotion.n if c.emotion else 0,
        }
        # the headline names the component that drives the score, with its own figure against its expectation
        driver = friction_driver(fr.components)
        parts = [driver_words(driver, fr.components, c.post_goal)] if driver else []
        if neg:
            parts.append(f'top complaint: "{neg[0].theme}" ({neg[0].n} comments)')
        quotes = sorted(
            (q for q in c.quotes if (q.sentiment or 0) < 0), key=lambda q: (rank_value(q.sentiment), q.feedback_id)
        )
        out.append(
            PainPoint(
                rank=i + 1,
                touchpoint=c.name,
                stage=c.stage,
                owner=c.owner,
                post_goal=c.post_goal,
                score=fr.score * share,
                friction=fr.score,
                reach=share,
                driver=driver,
                headline=f"{c.name}: " + "; ".join(parts) if parts else c.name,
                themes=neg[:3],
                evidence=Evidence(
                    figures=fig,
                    quotes=quotes[:QUOTES_PER_TOUCHPOINT],
                    note="score = friction score x share of journeys reaching it"
                    + (
                        "; post-purchase touchpoint: exits and loops judged against post-purchase touches"
                        if c.post_goal
                        else ""
                    ),
                ),
            )
        )
    return out


def with_caveats(
    stages: list[StageColumn], pain: list[PainPoint], drivers: list[Driver]
) -> tuple[list[StageColumn], list[PainPoint]]:
    """Stages and pain points with :data:`PURCHASE_PATH_CAVEAT` where a touchpoint is both a top pain point
    (rank <= :data:`CAVEAT_PAIN_RANK`) and a conversion driver: a significant positive exposure lift, or a
    significant touchpoint driver with odds ratio above 1. Touches on the way to the goal are reached by
    most buyers whatever they do for them, so their lift reflects where they sit."""
    driving = {d.feature for d in drivers if d.kind == "touchpoint" and d.significant and (d.odds_ratio or 0) > 1}
    cells = {tp.name: tp for st in stages for lane in st.lanes for tp in lane.touchpoints}
    flagged = set()
    for p in pain:
        cell = cells.get(p.touchpoint)
        lift = cell.lift if cell is not None else None
        lifts = lift is not None and lift.significant and (lift.effect or 0) > 0
        if p.rank <= CAVEAT_PAIN_RANK and (lifts or p.touchpoint in driving):
            flagged.add(p.touchpoint)
    if not flagged:
        return stages, pain

    def caveated(tp: TouchpointCell) -> TouchpointCell:
        return tp.model_copy(update={"caveats": [*tp.caveats, PURCHASE_PATH_CAVEAT]}) if tp.name in flagged else tp

    stages = [
        st.model_copy(
            update={
                "lanes": [
                    lane.model_copy(update={"touchpoints": [caveated(tp) for tp in lane.touchpoints]})
                    for lane in st.lanes
                ]
            }
        )
        for st in stages
    ]
    pain = [
        p.model_copy(update={"caveats": [*p.caveats, PURCHASE_PATH_CAVEAT]}) if p.touchpoint in flagged else p
        for p in pain
    ]
    return stages, pain


def designed_vs_observed(inputs: MapInputs) -> DesignedVsObserved:
    """The document's ``designed_vs_observed``: blueprint touchpoints without data, unmapped touchpoints,
    stages without data, back flows and skipped stages."""
    cells = lanes(inputs)
    order, stage_of = inputs.stage_order, inputs.stage_of
    back = []
    for r in inputs.transitions:
        s, t = stage_of.get(r["source"]), stage_of.get(r["target"])
        if s in order and t in order and order[t] < order[s]:
            back.append(
                BackFlow(
                    source=r["source"],
                    source_stage=s,
                    target=r["target"],
                    target_stage=t,
                    count=int(r["count"]),
                    share=_f(r["probability"]),
                )
            )
    back.sort(key=lambda b: (-b.count, b.source, b.target))
    names = [s.name for s in inputs.blueprint.stages]
    skipped = []
    for r in inputs.stage_transitions:
        s, t = r["source"], r["target"]
        if s in order and t in order and order[t] > order[s] + 1:
            skipped.append(
                SkippedStage(
                    source_stage=s,
                    target_stage=t,
                    skipped=names[order[s] + 1 : order[t]],
                    count=int(r["count"]),
                    share=_f(r["probability"]),
                )
            )
    skipped.sort(key=lambda x: (-x.count, x.source_stage, x.target_stage))
    reached = {c.stage for c in cells if c.has_data}
    return DesignedVsObserved(
        touchpoints_without_data=[c.name for c in cells if c.in_blueprint and not c.has_data],
        unmapped_touchpoints=[
            UnmappedTouchpoint(name=c.name, events=c.figures.events, customers=c.figures.customers)
            for c in cells
            if not c.in_blueprint
        ],
        stages_without_data=[s for s in names if s not in reached],
        back_flows=back[:20],
        skipped_stages=skipped[:20],
    )


def after_goal(r: Mapping[str, Any]) -> Rate | None:
    """A stage funnel row's after-goal figure (stages after the goal's), or None."""
    if r.get("after_goal") is None or r.get("converters") is None:
        return None
    return rate(r["after_goal"], r["converters"], r["after_low"], r["after_high"])


def _friction(f: Mapping[str, Any] | None) -> Friction | None:
    if f is None:
        return None
    keys = (
        "exit_component",
        "loop_component",
        "slow_component",
        "exit_rate",
        "expected_exit_rate",
        "exit_lift",
        "loop_rate",
        "expected_loop_rate",
        "loop_lift",
        "slow_ratio",
        "p90_gap_in_s",
        "p90_gap_out_s",
        "touches",
        "exits",
    )
    return Friction(
        score=float(f["friction_score"] or 0), rank=int(f["rank"]), components={k: _f(f.get(k)) for k in keys}
    )


def _lift(r: Mapping[str, Any] | None) -> Lift | None:
    if r is None:
        return None
    e, u = r["exposed_rate"], r["unexposed_rate"]
    return Lift(
        effect=_f(r["risk_difference"]),
        low=_f(r["rd_low"]),
        high=_f(r["rd_high"]),
        relative=(e / u - 1) if e is not None and u else None,
        p=_f(r["p_value"]),
        q=_f(r["q_value"]),
        significant=bool(r["significant"]),
        exposed=rate(r["exposed_conversions"], r["exposed"]),
        unexposed=rate(r["unexposed_conversions"], r["unexposed"]),
    )


def _ordered(cells: list[TouchpointCell], stage_order: Mapping[str, int]) -> list[TouchpointCell]:
    """Cells in journey order: stage order, then median position (no data last), then name."""

    def key(c: TouchpointCell) -> tuple:
        pos = c.figures.median_position
        return (stage_order.get(c.stage or "", len(stage_order)), pos is None, rank_value(pos), c.name)

    return [c.model_copy(update={"order": i}) for i, c in enumerate(sorted(cells, key=key))]


def _f(x: Any) -> float | None:
    from journeymap.voice.summary import _f as f

    return f(x)
