"""The summary, meta and change sections: headline numbers and sentences, provenance, change vs a previous map."""

from __future__ import annotations

from journeymap._version import __version__
from journeymap.maps import opportunities as opp
from journeymap.maps.inputs import MapInputs
from journeymap.maps.models import Change, Headline, JourneyMap, Meta, Opportunity, Rate, Summary
from journeymap.maps.sections import grid, voice
from journeymap.maps.sections._memo import memo
from journeymap.maps.sections.words import duration_words, pct
from journeymap.maps.stats import rate
from journeymap.ranking import rank_value


def conversion(inputs: MapInputs) -> Rate:
    """Share of the map's journeys that convert."""
    return rate(inputs.totals.converted, inputs.totals.journeys)


def opportunities(inputs: MapInputs) -> list[Opportunity]:
    """The document's ``opportunities`` (rules of :mod:`journeymap.maps.opportunities` on the evidence)."""
    return opp.opportunities(
        grid.lanes(inputs),
        grid.pain_points(inputs),
        grid.designed_vs_observed(inputs),
        inputs.blueprint,
        conversion(inputs),
    )


def meta(inputs: MapInputs) -> Meta:
    """The document's ``meta`` (``build_seconds`` is set by :func:`journeymap.maps.build.build_map`)."""
    bp = inputs.blueprint
    return Meta(
        workspace=inputs.workspace,
        generated_at=inputs.generated_at,
        period_start=inputs.period_start,
        period_end=inputs.period_end,
        data_start=inputs.data_start,
        data_end=inputs.data_end,
        filters=dict(inputs.filters),
        persona=inputs.persona,
        models=list(inputs.models),
        engine=inputs.engine,
        journey_definition={"goals": bp.goal_touchpoints(), **bp.journey.model_dump(mode="json")},
        journeymap_version=__version__,
        warnings=[*inputs.warnings, *inputs.voice.warnings, *inputs.attribution.warnings],
        compare_to=inputs.compare_to,
        emotion_min_n=inputs.emotion_min_n,
    )


@memo
def change(inputs: MapInputs) -> Change | None:
    """The document's ``change`` against the compared period's map (None when not compared)."""
    if inputs.previous is None:
        return None
    from journeymap.maps.diff import map_deltas

    old = inputs.previous
    current = _uncompared(inputs)
    return Change(
        previous_start=old.meta.period_start,
        previous_end=old.meta.period_end,
        current_start=inputs.period_start,
        current_end=inputs.period_end,
        deltas=map_deltas(old, current),
    )


def _uncompared(inputs: MapInputs) -> JourneyMap:
    """The map before its change section (what the deltas compare with the previous map)."""
    from journeymap.maps.sections import compose

    return compose(inputs, compared=False)


def summary(inputs: MapInputs) -> Summary:
    """The document's ``summary``: headline numbers and sentences (with the change's, when compared)."""
    base = _summary(inputs)
    ch = change(inputs)
    if ch is None:
        return base
    old = inputs.previous
    assert old is not None
    by_key = {d.name: d for d in ch.deltas if d.scope == "headline"}
    heads = [
        h.model_copy(update={"delta": by_key[h.key].delta, "significant": by_key[h.key].significant})
        if h.key in by_key
        else h
        for h in base.headlines
    ]
    sentences = list(base.sentences)
    conv = by_key.get("conversion")
    if conv is not None and conv.delta is not None:
        verdict = "a significant" if conv.significant else "not a significant"
        sentences.append(
            f"Conversion moved {conv.delta * 100:+.1f} points against the previous period "
            f"({pct(conv.old)} to {pct(conv.new)}), {verdict} change."
        )
    return base.model_copy(update={"headlines": heads, "sentences": sentences})


def _summary(inputs: MapInputs) -> Summary:
    bp = inputs.blueprint
    totals, status = inputs.totals, inputs.status
    conv = conversion(inputs)
    view = voice.view(inputs)
    kpis, emotion = view.kpis_at(None, None), view.emotion_at(None, None)
    pain, stages, drivers = grid.pain_points(inputs), grid.stages(inputs), list(inputs.drivers)
    ops = opportunities(inputs)
    heads = [
        Headline(key="customers", label="Customers", value=totals.customers, unit="count"),
        Headline(key="journeys", label="Journeys", value=totals.journeys, unit="count"),
        Headline(
            key="conversion",
            label="Journeys that convert",
            value=conv.value,
            unit="share",
            low=conv.low,
            high=conv.high,
            n=conv.n,
            target=bp.targets.conversion_rate,
            meets_target=None
            if bp.targets.conversion_rate is None or conv.value is None
            else conv.value >= bp.targets.conversion_rate,
        ),
    ]
    for k in kpis:
        heads.append(
            Headline(
                key=k.name,
                label={"nps": "NPS", "csat": "CSAT (% satisfied)", "ces": "Customer effort (1-7)"}[k.name],
                value=k.value,
                unit="score",
                low=k.low,
                high=k.high,
                n=k.n,
                target=k.target,
                meets_target=k.meets_target,
            )
        )
    if emotion is not None:
        heads.append(
            Headline(
                key="emotion",
                label="Mean emotion (-1..+1)",
                value=emotion.mean,
                unit="score",
                low=emotion.low,
                high=emotion.high,
                n=emotion.n,
            )
        )
    if pain:
        heads.append(Headline(key="top_pain_point", label="Top pain point", value=pain[0].touchpoint, unit="text"))
    who = f"the {inputs.persona} persona" if inputs.persona else "all customers"
    s = [
        f"This map covers {totals.journeys:,} journeys of {totals.customers:,} customers "
        f"({who}); {pct(conv.value)} of journeys convert (95% CI {pct(conv.low)}-{pct(conv.high)})."
    ]
    if not bp.goal_touchpoints():  # nothing can convert: journeys end or continue, they do not give up
        s[-1] = (
            f"This map covers {totals.journeys:,} journeys of {totals.customers:,} "
            f"customers ({who}); the blueprint has no goals, so no journey converts: "
            f"{int(status.get('dropped') or 0):,} ended and {int(status.get('in_progress') or 0):,} continued "
            "to the data's end."
        )
    if bp.targets.conversion_rate is not None and conv.value is not None:
        s[-1] += f" The target is {pct(bp.targets.conversion_rate)}" + (
            " and is met." if conv.value >= bp.targets.conversion_rate else " and is not met."
        )
    if pain:
        p = pain[0]
        s.append(
            f"The biggest pain point is {p.touchpoint} ({p.stage or 'no stage'}, owned by {p.owner or 'nobody'}), "
            f"reached by {pct(p.reach)} of journeys"
            + (f"; {p.headline.split(': ', 1)[1]}." if ": " in p.headline else ".")
        )
    # the biggest drop of the stage funnel toward the goal: stages after the goal's follow a conversion and
    # start journeys that rarely convert again, so their drop-off is not customers giving up on buying
    goal_stages = [x.order for x in stages if x.name in {bp.stage_of(g) for g in bp.goal_touchpoints()}]
    last = min(goal_stages) if goal_stages else len(stages)
    steps = [
        (x, x.conversion_to_next, stages[i + 1])
        for i, x in enumerate(stages[:-1])
        if x.order < last
        and stages[i + 1].order <= last
        and x.conversion_to_next is not None
        and x.conversion_to_next.n
    ]
    if steps:
        a, rate_a, z = min(steps, key=lambda p: (rank_value(p[1].value), p[0].order))
        s.append(
            f"The biggest drop is from {a.name} to {z.name}: only {pct(rate_a.value)} of the "
            f"{rate_a.n:,} journeys that reach {a.name} go on to {z.name}."
        )
    after = [(x.name, x.after_goal) for x in stages if x.after_goal is not None and x.after_goal.n]
    if after:  # what converters do next (their later journeys), not "0% go on" within the converting journey
        window = bp.journey.conversion_window
        reach = [
            f"{pct(r.value)} go on to {name}" if i == 0 else f"{pct(r.value)} to {name}"
            for i, (name, r) in enumerate(after)
        ]
        s.append(
            "After converting, "
            + (", ".join(reach[:-1]) + " and " + reach[-1] if len(reach) > 1 else reach[0])
            + (f" within {duration_words(window)}" if window is not None else "")
            + f" (of {after[0][1].n:,} converted journeys; their customers' later journeys)."
        )
    top_tp = [d for d in drivers if d.kind == "touchpoint" and d.significant and (d.odds_ratio or 0) > 1]
    if top_tp:
        d = top_tp[0]
        s.append(
            f"Journeys that include {d.feature} convert with {d.odds_ratio:.1f}x the odds of those that do not "
            "(association, not proof of cause)."
        )
    for k in kpis:
        if k.name == "nps" and k.value is not None:
            s.append(
                f"NPS is {k.value:.0f} (n={k.n})"
                + (f" against a target of {k.target:.0f}." if k.target is not None else ".")
            )
    if ops:
        o = ops[0]
        s.append(f"First opportunity: {o.title}" + (f" (owner: {o.owner})." if o.owner else "."))
    return Summary(sentences=s, headlines=heads)
