"""Opportunities: a small set of explicit rules that turn the map's evidence into suggestions.

Each rule has an id, fires on figures already in the map, names the owner team
(the touchpoint's owner in the blueprint) and cites its evidence:

- ``fix_friction``: a top-5 pain point with a negative theme -> "Fix THEME at TOUCHPOINT"
  (without a negative theme, by its largest friction component: "Reduce drop-outs at",
  "Find out why customers go round in circles at", "Shorten the wait around"); priority =
  journeys reaching it x the larger excess of its exit or loop rate over expected.
- ``drive_traffic``: a touchpoint before the goal's stage whose exposure lift is significant
  (BH q < 0.05, effect > 0) but that fewer than a quarter of journeys reach ->
  "Drive more customers to TOUCHPOINT"; priority = journeys reaching it x effect (the extra
  conversions if its reach doubled, were the association causal).
- ``kpi_below_target``: a touchpoint or stage KPI (not a small sample) below the blueprint's
  target -> "Raise KPI at PLACE".
- ``conversion_below_target``: overall conversion below the target.
- ``back_flow``: at least 5% (and 10) of transitions out of a touchpoint go back to an earlier stage ->
  "Find out why customers go back from X to Y".
- ``no_data``: a blueprint touchpoint without events -> "Measure TOUCHPOINT (no events in the data)".
- ``unmapped``: events at a touchpoint the blueprint does not define -> "Add TOUCHPOINT to the blueprint".
"""

from __future__ import annotations

from typing import Any

from journeymap.maps.models import (
    DesignedVsObserved,
    Evidence,
    Opportunity,
    PainPoint,
    Rate,
    TouchpointCell,
)
from journeymap.ranking import rank_value

LOW_REACH = 0.25
"""drive_traffic fires for touchpoints that fewer than this share of journeys reach."""
BACK_FLOW_SHARE = 0.05
"""back_flow fires when at least this share of transitions out of a touchpoint go back."""
BACK_FLOW_MIN = 10
"""back_flow also needs at least this many transitions (a handful is noise)."""
KPI_NAMES = {"nps": "NPS", "csat": "CSAT", "ces": "customer effort score"}


def opportunities(
    cells: list[TouchpointCell],
    pain: list[PainPoint],
    dvo: DesignedVsObserved,
    blueprint: Any,
    conversion: Rate | None = None,
) -> list[Opportunity]:
    """All rules' suggestions, highest priority first (rounded to 9 decimals), then rule id, title and touchpoint."""
    by_name = {c.name: c for c in cells}
    out: list[Opportunity] = []
    out += _fix_friction(pain, by_name)
    out += _drive_traffic(cells, blueprint)
    out += _kpi_below_target(cells, blueprint)
    if (
        conversion is not None
        and conversion.value is not None
        and blueprint.targets.conversion_rate is not None
        and conversion.value < blueprint.targets.conversion_rate
    ):
        target = blueprint.targets.conversion_rate
        out.append(
            Opportunity(
                rule_id="conversion_below_target",
                title=f"Raise conversion from {conversion.value:.1%} to the {target:.1%} target",
                priority=(target - conversion.value) * conversion.n,
                evidence=Evidence(
                    figures={
                        "conversion": conversion.value,
                        "low": conversion.low,
                        "high": conversion.high,
                        "journeys": conversion.n,
                        "target": target,
                    },
                    note="journeys converting / all journeys, 95% Wilson interval",
                ),
            )
        )
    for b in dvo.back_flows:
        if b.share is not None and b.share >= BACK_FLOW_SHARE and b.count >= BACK_FLOW_MIN:
            cell = by_name.get(b.source)
            post = bool(cell and cell.post_goal)
            # from a post-purchase touchpoint, going back to an earlier stage is a customer shopping again
            title = (
                (
                    f"See whether customers coming back from {b.source} to {b.target} buy again "
                    "(after a purchase: a repeat-purchase loop, not a step back)"
                )
                if post
                else f"Find out why customers go back from {b.source} to {b.target}"
            )
            out.append(
                Opportunity(
                    rule_id="back_flow",
                    title=title,
                    post_goal=post,
                    owner=cell.owner if cell else None,
                    touchpoint=b.source,
                    stage=b.source_stage,
                    priority=float(b.count),
                    evidence=Evidence(
                        figures={
                            "transitions": b.count,
                            "share_of_exits": b.share,
                            "from_stage": b.source_stage,
                            "to_stage": b.target_stage,
                        },
                        note="transitions from a touchpoint to one in an earlier stage of the blueprint",
                    ),
                )
            )
    for name in dvo.touchpoints_without_data:
        cell = by_name.get(name)
        out.append(
            Opportunity(
                rule_id="no_data",
                title=f"Measure {name}: the blueprint has it but no event reaches it",
                owner=cell.owner if cell else None,
                touchpoint=name,
                stage=cell.stage if cell else None,
                priority=0.0,
                evidence=Evidence(figures={"events": 0}, note="blueprint touchpoint without events in the period"),
            )
        )
    for u in dvo.unmapped_touchpoints:
        out.append(
            Opportunity(
                rule_id="unmapped",
                title=f"Add {u.name} to the blueprint (seen in the data, not designed)",
                touchpoint=u.name,
                priority=float(u.customers),
                evidence=Evidence(
                    figures={"events": u.events, "customers": u.customers},
                    note="touchpoint in the events that the blueprint does not define",
                ),
            )
        )
    out.sort(key=lambda o: (-rank_value(o.priority), o.rule_id, o.title, o.touchpoint or ""))
    return out


def _fix_friction(pain: list[PainPoint], by_name: dict[str, TouchpointCell]) -> list[Opportunity]:
    out = []
    for p in pain[:5]:
        cell = by_name[p.touchpoint]
        journeys = cell.figures.journeys
        comp = cell.friction.components if cell.friction else {}
        exit_excess = (cell.figures.exit_rate or 0) - (comp.get("expected_exit_rate") or 0)
        loop_excess = (comp.get("loop_rate") or 0) - (comp.get("expected_loop_rate") or 0)
        lost = max(0.0, journeys * max(exit_excess, loop_excess))
        if p.themes:
            t = p.themes[0]
            title = f'Fix "{t.theme}" at {p.touchpoint}'
        else:
            parts = {k: comp.get(f"{k}_component") or 0 for k in ("exit", "loop", "slow")}
            # the component the pain point's headline names (its driver), else the largest
            main = {"exits": "exit", "loops": "loop", "waits": "slow"}.get(p.driver or "") or max(
                parts, key=lambda k: (rank_value(parts[k]), k == "exit", k == "loop")
            )
            title = {
                "exit": f"Win back customers whose post-purchase journey ends at {p.touchpoint}"
                if p.post_goal
                else f"Reduce drop-outs at {p.touchpoint}",
                "loop": f"Find out why customers go round in circles at {p.touchpoint}",
                "slow": f"Shorten the wait around {p.touchpoint}",
            }[main]
        out.append(
            Opportunity(
                rule_id="fix_friction",
                title=title,
                owner=p.owner,
                touchpoint=p.touchpoint,
                stage=p.stage,
                post_goal=p.post_goal,
                priority=lost,
                evidence=Evidence(
                    figures={
                        **p.evidence.figures,
                        "pain_rank": p.rank,
                        "theme": p.themes[0].theme if p.themes else None,
                        "theme_comments": p.themes[0].n if p.themes else None,
                    },
                    quotes=p.evidence.quotes[:3],
                    note="pain point (friction x reach) with its most frequent negative theme; "
                    "priority = journeys reaching it x the larger excess of exit or loop rate over expected",
                ),
            )
        )
    return out


def _drive_traffic(cells: list[TouchpointCell], blueprint: Any) -> list[Opportunity]:
    stages = [s.name for s in blueprint.stages]
    goal_stages = [
        stages.index(blueprint.stage_of(g)) for g in blueprint.goal_touchpoints() if blueprint.stage_of(g) in stages
    ]
    cut = min(goal_stages) if goal_stages else len(stages)
    out = []
    for c in cells:
        lift, share = c.lift, c.figures.share
        if lift is None or not lift.significant or (lift.effect or 0) <= 0 or share is None or share >= LOW_REACH:
            continue
        if c.stage in stages and stages.index(c.stage) >= cut:
            continue
        gain = c.figures.journeys * (lift.effect or 0)
        out.append(
            Opportunity(
                rule_id="drive_traffic",
                title=f"Drive more customers to {c.name}",
                owner=c.owner,
                touchpoint=c.name,
                stage=c.stage,
                priority=gain,
                evidence=Evidence(
                    figures={
                        "reach": share,
                        "effect": lift.effect,
                        "effect_low": lift.low,
                        "effect_high": lift.high,
                        "q": lift.q,
                        "exposed_rate": lift.exposed.value if lift.exposed else None,
                        "unexposed_rate": lift.unexposed.value if lift.unexposed else None,
                    },
                    note="significant exposure lift (stratified by persona and first stage, BH q < 0.05) "
                    f"and reach below {LOW_REACH:.0%}; priority = journeys reaching it x effect; "
                    "association, test it before you scale it",
                ),
            )
        )
    return out


def _kpi_below_target(cells: list[TouchpointCell], blueprint: Any) -> list[Opportunity]:
    out = []
    for c in cells:
        for k in c.kpis:
            if k.meets_target is False and not k.small_sample:
                shown = k.mean if (k.name == "csat" and k.target is not None and k.target <= 5) else k.value
                out.append(
                    Opportunity(
                        rule_id="kpi_below_target",
                        title=f"Raise {KPI_NAMES[k.name]} at {c.name} ({shown:.1f} against a target of {k.target:g})",
                        owner=c.owner,
                        touchpoint=c.name,
                        stage=c.stage,
                        priority=float(k.n),
                        evidence=Evidence(
                            figures={
                                "kpi": k.name,
                                "value": k.value,
                                "mean": k.mean,
                                "low": k.low,
                                "high": k.high,
                                "n": k.n,
                                "target": k.target,
                            },
                            quotes=[q for q in c.quotes if (q.sentiment or 0) < 0][:2],
                            note="KPI of feedback linked to the touchpoint vs the blueprint's target",
                        ),
                    )
                )
    return out
