"""The flows section: top transitions and the Sankey of the first steps."""

from __future__ import annotations

from typing import Any

from journeymap.maps.inputs import MapInputs
from journeymap.maps.models import Flows, SankeyLink, SankeyNode, Transition


def end_words(inputs: MapInputs) -> dict[str, str]:
    """The end nodes of transitions (CONVERTED, DROPPED, IN_PROGRESS) in words, with or without goals."""
    from journeymap.journeys.transitions import CONVERTED, DROPPED, IN_PROGRESS

    if inputs.has_goals:
        return {CONVERTED: "Converted", DROPPED: "Gave up", IN_PROGRESS: "Still in progress"}
    return {CONVERTED: "Converted", DROPPED: "Ended", IN_PROGRESS: "Continued"}


def flows(inputs: MapInputs) -> Flows:
    """The document's ``flows``."""
    nodes = [
        SankeyNode(
            id=f"{r['step']}:{r['node']}", label=r["node"], step=int(r["step"]), stage=inputs.stage_of.get(r["node"])
        )
        for r in inputs.flow_nodes
    ]
    links = [
        SankeyLink(
            source=f"{r['step']}:{r['source']}", target=f"{int(r['step']) + 1}:{r['target']}", value=int(r["journeys"])
        )
        for r in inputs.flow_links
    ]
    # end states (CONVERTED/DROPPED/IN_PROGRESS) may appear as targets without a node row
    known = {n.id for n in nodes}
    for link in links:
        if link.target not in known:
            step, _, label = link.target.partition(":")
            nodes.append(SankeyNode(id=link.target, label=label, step=int(step)))
            known.add(link.target)
    real = [r for r in inputs.transitions if r["source"] != "START"]
    top = sorted(real, key=lambda r: (-int(r["count"]), r["source"], r["target"]))[:25]
    ends = end_words(inputs)
    return Flows(
        unit="journeys",
        total=inputs.totals.journeys,
        top_transitions=[
            Transition(
                source=r["source"],
                target=ends.get(r["target"]) or r["target"],
                count=int(r["count"]),
                share=_f(r["probability"]),
                median_gap_s=_f(r["median_gap_s"]),
            )
            for r in top
        ],
        nodes=nodes,
        links=links,
        note="Sankey: first 5 steps of each journey (repeats collapsed), top 8 touchpoints per step, the rest "
        "as 'Other'; link values count journeys (one transition per journey per step). Top transitions "
        "count every transition between consecutive touches, and a journey's last touch to how it ends "
        f"({', '.join(dict.fromkeys(ends.values()))}); journey starts are left out.",
    )


def _f(x: Any) -> float | None:
    from journeymap.voice.summary import _f as f

    return f(x)
