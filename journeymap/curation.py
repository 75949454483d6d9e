"""Drafting a blueprint from the data, and checking a blueprint against it.

:func:`draft_blueprint` proposes touchpoints found in the events, each with its
most common channel and a stage suggested from its name and from where it sits
in customer histories (median normalised position, share of its events after
the customer's first goal), and guesses goals from names and revenue. Whatever
the ``base`` blueprint already curates is kept as it is.

:func:`check_blueprint` compares a blueprint with the data: touchpoints without
data, data touchpoints missing from the blueprint (with event counts), goals
with no events, stages with no touchpoints. Both build Ibis expressions; only
per-touchpoint aggregates come into Python.

Examples
--------
>>> import ibis, datetime as dt
>>> ev = ibis.memtable({"customer_id": ["a", "a", "a", "b", "b"],
...     "ts": [dt.datetime(2024, 1, d) for d in (1, 2, 3, 1, 2)],
...     "touchpoint": ["Search ad", "Basket", "Purchase", "Search ad", "Basket"],
...     "channel": ["paid search", "web", "web", "paid search", "web"],
...     "revenue": [None, None, 30.0, None, None]})
>>> bp = draft_blueprint(ev)
>>> [(t.name, t.stage, t.channel) for t in bp.touchpoints]
[('Search ad', 'awareness', 'paid search'), ('Basket', 'purchase', 'web'), ('Purchase', 'purchase', 'web')]
>>> bp.goal_touchpoints()
['Purchase']
>>> check_blueprint(bp, ev).ok
True
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeymap.blueprint import DEFAULT_STAGES, Blueprint, Goal, Touchpoint, default_blueprint
from journeymap.errors import InputError
from journeymap.results import TableResult

GOAL_PATTERN = re.compile(
    r"\b(purchase[ds]?|order[ _:-]?(completed?|placed|submitted|success)|checkout[ _:-]?(completed?|success)|"
    r"transaction|pos[ _]sale|converted|conversion|subscription[ _]started|sign[ _-]?up completed?)\b",
    re.IGNORECASE,
)
"""Touchpoint names that look like conversions."""

STAGE_WORDS: dict[str, tuple[str, ...]] = {
    "awareness": ("ad", "ads", "advert", "banner", "display", "billboard", "impression", "influencer",
                  "organic", "sponsored", "campaign", "landing", "tv", "radio", "poster", "word of mouth"),
    "consideration": ("product", "homepage", "home", "browse", "catalogue", "catalog", "search", "reviews",
                      "compare", "comparison", "guide", "chat", "store visit", "newsletter", "wishlist",
                      "page", "view", "demo", "trial", "pricing"),
    "purchase": ("cart", "basket", "checkout", "payment", "pay", "order", "purchase", "buy", "delivery options",
                 "shipping options", "quote"),
    "retention": ("delivery", "tracking", "track", "shipping", "return", "returns", "refund", "support",
                  "service", "call", "ticket", "complaint", "loyalty", "reminder", "confirmation", "renewal",
                  "onboarding", "account", "invoice", "reorder"),
    "advocacy": ("refer", "referral", "review", "rating", "share", "mention", "recommend", "testimonial",
                 "ambassador", "social post"),
}
"""Words in a touchpoint's name that suggest its stage (whole words, case-insensitive)."""

PAID_WORDS = ("ad", "ads", "banner", "display", "sponsored", "paid", "billboard", "cpc")
EARNED_WORDS = ("review", "reviews", "referral", "refer", "mention", "organic", "influencer", "word of mouth", "press")


def _has(name: str, words: tuple[str, ...]) -> bool:
    text = re.sub(r"[^a-z0-9]+", " ", name.lower())
    return any(re.search(rf"\b{re.escape(w)}\b", text) for w in words)


def touchpoint_profile(events: ir.Table, goals: list[str] | None = None) -> ir.Table:
    """Per touchpoint: events, customers, top channel, median normalised position, share after first goal.

    ``position`` is where the touch sits in its customer's whole history (0 first,
    1 last); ``after_goal`` the share of its events after the customer's first
    goal (null when no goals are known).
    """
    cols = events.columns
    w = ibis.window(group_by=events.customer_id, order_by=[events.ts])
    n = events.count().over(ibis.window(group_by=events.customer_id))
    goals = list(goals or [])
    t = events.mutate(
        _pos=ibis.ifelse(n > 1, ibis.row_number().over(w).cast("float64") / (n - 1).cast("float64"), 0.5),
        _goal_ts=(events.touchpoint.isin(goals).ifelse(events.ts, ibis.null("timestamp"))
                  .min().over(ibis.window(group_by=events.customer_id))) if goals else ibis.null("timestamp"),
        _rev=(events.revenue.notnull() & (events.revenue > 0)) if "revenue" in cols else ibis.literal(False),
    )
    after = (t._goal_ts.notnull() & (t.ts > t._goal_ts)).cast("float64")
    agg = t.group_by("touchpoint").agg(
        events=t.count(), customers=t.customer_id.nunique(), position=t._pos.median(),
        after_goal=after.mean() if goals else ibis.null("float64"), revenue_share=t._rev.cast("float64").mean(),
    )
    if "channel" in cols:
        ch = events.filter(events.channel.notnull()).group_by(["touchpoint", "channel"]).agg(_n=ibis._.count())
        ch = ch.mutate(_r=ibis.row_number().over(ibis.window(group_by=ch.touchpoint,
                                                             order_by=[ibis.desc(ch._n), ch.channel])))
        ch = ch.filter(ch._r == 0).select(touchpoint=ch.touchpoint, top_channel=ch.channel)
        agg = agg.left_join(ch, "touchpoint").drop("touchpoint_right")
    else:
        agg = agg.mutate(top_channel=ibis.null("string"))
    return agg


def _rows(expr: ir.Table, con: BaseBackend | None) -> list[dict[str, Any]]:
    from journeymap import engine

    df = engine.execute(expr, con)
    return [{k: (None if v != v else v) if isinstance(v, float) else v for k, v in r.items()}
            for r in df.to_dict(orient="records")]


def suggest_stage(name: str, position: float | None, after_goal: float | None, stages: list[str],
                  is_goal: bool = False) -> str:
    """A stage for a touchpoint from its name and where it sits relative to goals.

    >>> s = list(DEFAULT_STAGES)
    >>> suggest_stage("Basket", 0.7, 0.0, s), suggest_stage("Product review", 0.9, 0.95, s)
    ('purchase', 'advocacy')
    >>> suggest_stage("Step 7", 0.1, None, s), suggest_stage("Order tracking", 0.8, 0.9, s)
    ('awareness', 'retention')
    """
    standard = [s for s in DEFAULT_STAGES if s in stages]
    if is_goal and "purchase" in stages:
        return "purchase"
    if after_goal is not None and after_goal >= 0.5:
        for stage in ("advocacy", "retention"):
            if stage in stages and (stage == "retention" or _has(name, STAGE_WORDS["advocacy"])):
                return stage
    for stage in ("purchase", "awareness", "consideration"):
        if stage in standard and _has(name, STAGE_WORDS[stage]):
            if stage == "purchase" and _has(name, ("delivery", "tracking")) and not _has(name, ("options",)):
                continue
            return stage
    if after_goal is None:  # no goals: names of later stages, then position
        for stage in ("retention", "advocacy"):
            if stage in standard and _has(name, STAGE_WORDS[stage]):
                return stage
    pos = 0.5 if position is None else float(position)
    pre = [s for s in ("awareness", "consideration", "purchase") if s in stages]
    if len(pre) == 3:
        return pre[0] if pos < 0.2 else pre[1] if pos < 0.6 else pre[2]
    return stages[min(len(stages) - 1, int(pos * len(stages)))]


def _kind(name: str, channel: str | None) -> str:
    if _has(name, PAID_WORDS) or channel in ("paid search", "display", "paid social"):
        return "paid"
    if _has(name, EARNED_WORDS):
        return "earned"
    return "owned"


def draft_blueprint(events: ir.Table, base: Blueprint | None = None, *, con: BaseBackend | None = None,
                    min_events: int = 1) -> Blueprint:
    """A blueprint drafted from the events, keeping everything curated in ``base``.

    Parameters
    ----------
    events : the ``events`` table (``customer_id``, ``ts``, ``touchpoint``; ``channel``, ``revenue`` used if there).
    base : the current blueprint; its stages, touchpoints, goals and everything else are kept as they are.
    con : backend to run on (default: the one ``events`` is bound to).
    min_events : touchpoints with fewer events are left out.

    Returns
    -------
    Blueprint
        ``base`` plus one drafted touchpoint per data touchpoint it lacks (stage, channel, kind,
        keywords, a description saying it was drafted), and guessed goals when ``base`` has none.
    """
    for col in ("customer_id", "ts", "touchpoint"):
        if col not in events.columns:
            raise InputError(f"events lack the column {col!r}; draft from the workspace's events table.")
    base = base or default_blueprint()
    stages = base.stage_names()
    profile = _rows(touchpoint_profile(events, base.goal_touchpoints()), con)
    profile = sorted((p for p in profile if p["touchpoint"] is not None and p["events"] >= min_events),
                     key=lambda p: (p["position"] if p["position"] is not None else 0.5, -p["events"]))
    goals = [g.model_copy() for g in base.goals]
    if not goals:
        goals = [Goal(touchpoint=p["touchpoint"], value="revenue" if (p["revenue_share"] or 0) > 0 else None)
                 for p in profile if GOAL_PATTERN.search(p["touchpoint"]) or (p["revenue_share"] or 0) > 0.5]
        if goals:  # positions relative to the guessed goals
            profile_g = {p["touchpoint"]: p for p in _rows(
                touchpoint_profile(events, [g.touchpoint for g in goals]), con)}
            for p in profile:
                p["after_goal"] = profile_g[p["touchpoint"]]["after_goal"]
    goal_names = {g.touchpoint for g in goals}
    known = {t.name.lower() for t in base.touchpoints}
    drafted = [
        Touchpoint(
            name=p["touchpoint"],
            stage=suggest_stage(p["touchpoint"], p["position"], p["after_goal"] if goal_names else None,
                                stages, p["touchpoint"] in goal_names) if stages else None,
            channel=p["top_channel"], kind=_kind(p["touchpoint"], p["top_channel"]),
            description=f"Drafted from data: {p['events']:,} events from {p['customers']:,} customers.",
            keywords=sorted({w for w in re.findall(r"[a-z]{3,}", p["touchpoint"].lower())}),
        )
        for p in profile if p["touchpoint"].lower() not in known
    ]
    data = base.model_dump()
    data["touchpoints"] = [*data["touchpoints"], *(t.model_dump() for t in drafted)]
    data["goals"] = [g.model_dump() for g in goals]
    return Blueprint.model_validate(data)


class BlueprintCheck(TableResult):
    """Problems found comparing a blueprint with the data (``kind`` ``blueprint_check``).

    Columns: ``severity`` (error, warning, info), ``check``, ``name``, ``events``, ``message``.
    """

    kind: ClassVar[str] = "blueprint_check"

    @property
    def ok(self) -> bool:
        """True when no problem is an error."""
        return not any(r[0] == "error" for r in self.rows)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["severity"] == "error"]


CHECK_COLUMNS = ["severity", "check", "name", "events", "message"]


def check_blueprint(blueprint: Blueprint, events: ir.Table, feedback: ir.Table | None = None, *,
                    con: BaseBackend | None = None) -> BlueprintCheck:
    """Compare ``blueprint`` with the data and list what does not line up.

    Errors: a goal with no events (nothing can convert). Warnings: data
    touchpoints missing from the blueprint (with event counts), feedback
    touchpoints missing from it, stages with no touchpoints, touchpoints without
    a stage, no goals. Info: blueprint touchpoints without data (fine for a
    billboard or word of mouth).
    """
    counts = {r["touchpoint"]: int(r["events"]) for r in _rows(
        events.group_by("touchpoint").agg(events=events.count()), con) if r["touchpoint"] is not None}
    fb_counts: dict[str, int] = {}
    if feedback is not None and "touchpoint" in feedback.columns:
        f = feedback.filter(feedback.touchpoint.notnull())
        fb_counts = {r["touchpoint"]: int(r["rows"]) for r in _rows(f.group_by("touchpoint").agg(rows=f.count()), con)}
    names = set(blueprint.touchpoint_names())
    rows: list[list[Any]] = []
    for g in blueprint.goals:
        if counts.get(g.touchpoint, 0) == 0:
            rows.append(["error", "goal without events", g.touchpoint, 0,
                         f"goal {g.touchpoint!r} has no events, so no journey can convert; fix its name or "
                         "its touchpoint's match rules"])
    if not blueprint.goals:
        rows.append(["warning", "no goals", "", None,
                     "the blueprint has no goals, so nothing counts as a conversion; add one under goals"])
    for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        if name not in names:
            rows.append(["warning", "data touchpoint not in blueprint", name, n,
                         f"{n:,} events have touchpoint {name!r}, which the blueprint lacks; add it "
                         "(journeymap blueprint draft) or a match rule that maps it"])
    for name, n in sorted(fb_counts.items(), key=lambda kv: -kv[1]):
        if name not in names:
            rows.append(["warning", "feedback touchpoint not in blueprint", name, n,
                         f"{n:,} feedback rows name touchpoint {name!r}, which the blueprint lacks; add it"])
    for stage in blueprint.stage_names():
        if not any(t.stage == stage for t in blueprint.touchpoints):
            rows.append(["warning", "stage without touchpoints", stage, None,
                         f"stage {stage!r} has no touchpoints; give it some or remove it"])
    for t in blueprint.touchpoints:
        if t.stage is None:
            rows.append(["warning", "touchpoint without stage", t.name, counts.get(t.name, 0),
                         f"touchpoint {t.name!r} has no stage; set its stage"])
        if t.name not in counts:
            rows.append(["info", "touchpoint without data", t.name, 0,
                         f"touchpoint {t.name!r} has no events (fine for offline touchpoints such as a "
                         "billboard); otherwise check its match rules"])
    order = {"error": 0, "warning": 1, "info": 2}
    rows.sort(key=lambda r: order[r[0]])
    return BlueprintCheck(columns=CHECK_COLUMNS, rows=rows, meta={
        "touchpoints": len(names), "data_touchpoints": len(counts),
        "errors": sum(r[0] == "error" for r in rows), "warnings": sum(r[0] == "warning" for r in rows)})
