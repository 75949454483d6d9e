"""Drafting a blueprint from the data, and checking a blueprint against it.

:func:`draft_blueprint` proposes touchpoints found in the events, each with its
most common channel and a stage suggested from its name and from where it sits
in customer histories (median normalised position, share of its events after
the customer's first goal), guesses goals from names (:func:`goal_name`) and from
revenue where revenue is a transaction (most events carry none), and proposes the
inactivity gap and conversion window from the data's gaps and span
(:func:`propose_journey_settings`). Whatever the ``base`` blueprint already
curates is kept as it is. :func:`draft_report` gives the share of journeys each
goal setting converts, and warnings.

:func:`check_blueprint` compares a blueprint with the data: touchpoints without
data, data touchpoints missing from the blueprint (with event counts), goals
with no events, stages with no touchpoints, journey settings that split most
customers or leave most journeys in progress. Everything is Ibis expressions;
only aggregates (per touchpoint, quantiles, counts) come into Python.

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

import math
import re
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeymap.blueprint import (
    DEFAULT_STAGES,
    Blueprint,
    Goal,
    JourneySettings,
    Touchpoint,
    default_blueprint,
)
from journeymap.errors import InputError
from journeymap.results import TableResult, TableRow
from journeymap.schema import touch_order

GOAL_WORDS = frozenset(
    {
        "purchase",
        "purchased",
        "purchases",
        "order",
        "orders",
        "ordered",
        "payment",
        "payments",
        "billed",
        "booking",
        "bookings",
        "booked",
        "reservation",
        "subscribe",
        "subscribed",
        "subscription",
        "signup",
        "signups",
        "enrolled",
        "enrolment",
        "enrollment",
        "transaction",
        "transactions",
        "conversion",
        "converted",
        "sale",
    }
)
"""Words that make a touchpoint name a goal (whole words, case-insensitive; ``Online order``, ``BILLED``)."""

GOAL_PHRASES = re.compile(
    r"\b(sign(ed)? up|check ?out (complete|completed|completion|success|successful|succeeded|done|finished|"
    r"confirmed)|(invoice|bill) paid)\b"
)
"""Phrases that make a name a goal (on the name's lower-case words joined by spaces)."""

NOT_GOAL_WORDS = frozenset(
    {
        # looking at, or asking about, a goal rather than reaching it
        "view",
        "viewed",
        "history",
        "status",
        "track",
        "tracking",
        "tracked",
        "page",
        "form",
        "screen",
        "step",
        "details",
        "info",
        "method",
        "methods",
        "review",
        "search",
        "lookup",
        "list",
        "help",
        "faq",
        "support",
        "question",
        "enquiry",
        "inquiry",
        "complaint",
        "request",
        "requested",
        "reminder",
        "due",
        "overdue",
        "pending",
        "attempt",
        "attempted",
        "retry",
        "add",
        "edit",
        "edited",
        "change",
        "changed",
        "update",
        "updated",
        "remove",
        "removed",
        "delete",
        "deleted",
        # a goal undone, failed or refused
        "cancel",
        "cancelled",
        "canceled",
        "cancellation",
        "return",
        "returned",
        "returns",
        "refund",
        "refunded",
        "refunds",
        "fail",
        "failed",
        "failure",
        "declined",
        "decline",
        "rejected",
        "reject",
        "denied",
        "error",
        "expired",
        "abandon",
        "abandoned",
        "reversal",
        "reversed",
        "chargeback",
        "unpaid",
        # messages and what follows a goal
        "confirmation",
        "email",
        "mail",
        "sms",
        "notification",
        "letter",
        "shipped",
        "shipping",
        "delivered",
        "delivery",
        "dispatched",
        # advertising a sale
        "ad",
        "ads",
        "advert",
        "banner",
        "campaign",
        "promo",
        "promotion",
        "newsletter",
    }
)
"""Words that keep a name from being a goal (``View order history``, ``Payment failed``, ``Order tracking``)."""


def goal_name(name: str) -> bool:
    """Whether a touchpoint's name says it is a conversion (word-based, case-insensitive).

    >>> [goal_name(n) for n in ("Online order", "BILLED", "Payment", "checkout_completed", "SignUp")]
    [True, True, True, True, True]
    >>> [goal_name(n) for n in ("View order history", "Checkout", "Payment failed", "Reorder reminder")]
    [False, False, False, False]
    """
    words = _words(name)
    if not words or NOT_GOAL_WORDS.intersection(words):
        return False
    return bool(GOAL_WORDS.intersection(words)) or bool(GOAL_PHRASES.search(" ".join(words)))


def _words(name: str) -> list[str]:
    """Lower-case words of a name, splitting camelCase, snake_case and punctuation."""
    return re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).lower())


STAGE_WORDS: dict[str, tuple[str, ...]] = {
    "awareness": (
        "ad",
        "ads",
        "advert",
        "banner",
        "display",
        "billboard",
        "impression",
        "influencer",
        "organic",
        "sponsored",
        "campaign",
        "landing",
        "tv",
        "radio",
        "poster",
        "word of mouth",
    ),
    "consideration": (
        "product",
        "homepage",
        "home",
        "browse",
        "catalogue",
        "catalog",
        "search",
        "reviews",
        "compare",
        "comparison",
        "guide",
        "chat",
        "store visit",
        "newsletter",
        "wishlist",
        "page",
        "view",
        "demo",
        "trial",
        "pricing",
    ),
    "purchase": (
        "cart",
        "basket",
        "checkout",
        "payment",
        "pay",
        "order",
        "purchase",
        "buy",
        "delivery options",
        "shipping options",
        "quote",
    ),
    "retention": (
        "delivery",
        "tracking",
        "track",
        "shipping",
        "return",
        "returns",
        "refund",
        "support",
        "service",
        "call",
        "ticket",
        "complaint",
        "loyalty",
        "reminder",
        "confirmation",
        "renewal",
        "onboarding",
        "account",
        "invoice",
        "reorder",
    ),
    "advocacy": (
        "refer",
        "referral",
        "review",
        "rating",
        "share",
        "mention",
        "recommend",
        "testimonial",
        "ambassador",
        "social post",
    ),
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
    goal (null when no goals are known); ``revenue_share`` and ``revenue_events``
    the share and number of its events with a positive revenue.
    """
    cols = events.columns
    w = ibis.window(group_by=events.customer_id, order_by=touch_order(events))
    n = events.count().over(ibis.window(group_by=events.customer_id))
    goals = list(goals or [])
    t = events.mutate(
        _pos=ibis.ifelse(n > 1, ibis.row_number().over(w).cast("float64") / (n - 1).cast("float64"), 0.5),
        _goal_ts=(
            events.touchpoint.isin(goals)
            .ifelse(events.ts, ibis.null("timestamp"))
            .min()
            .over(ibis.window(group_by=events.customer_id))
        )
        if goals
        else ibis.null("timestamp"),
        _rev=(events.revenue.notnull() & (events.revenue > 0)) if "revenue" in cols else ibis.literal(False),
    )
    after = (t._goal_ts.notnull() & (t.ts > t._goal_ts)).cast("float64")
    agg = t.group_by("touchpoint").agg(
        events=t.count(),
        customers=t.customer_id.nunique(),
        position=t._pos.median(),
        after_goal=after.mean() if goals else ibis.null("float64"),
        revenue_share=t._rev.cast("float64").mean(),
        revenue_events=t._rev.cast("int64").sum(),
    )
    if "channel" in cols:
        ch = events.filter(events.channel.notnull()).group_by(["touchpoint", "channel"]).agg(_n=ibis._.count())
        ch = ch.mutate(
            _r=ibis.row_number().over(ibis.window(group_by=ch.touchpoint, order_by=[ibis.desc(ch._n), ch.channel]))
        )
        ch = ch.filter(ch._r == 0).select(touchpoint=ch.touchpoint, top_channel=ch.channel)
        agg = agg.left_join(ch, "touchpoint").drop("touchpoint_right")
    else:
        agg = agg.mutate(top_channel=ibis.null("string"))
    return agg


def _rows(expr: ir.Table, con: BaseBackend | None) -> list[dict[str, Any]]:
    from journeymap import engine

    df = engine.execute(expr, con)
    return [
        {k: (None if v != v else v) if isinstance(v, float) else v for k, v in r.items()}
        for r in df.to_dict(orient="records")
    ]


def suggest_stage(
    name: str, position: float | None, after_goal: float | None, stages: list[str], is_goal: bool = False
) -> str:
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


def _kind(name: str, channel: str | None) -> Literal["owned", "paid", "earned"]:
    if _has(name, PAID_WORDS) or channel in ("paid search", "display", "paid social"):
        return "paid"
    if _has(name, EARNED_WORDS):
        return "earned"
    return "owned"


REVENUE_MOST = 0.5
"""Revenue makes goals only when at most this share of the log's events carry it (else it is a price column)."""

GAP_QUANTILE = 0.9
"""The proposed inactivity gap covers this quantile of the customers' longest gaps (so it splits about 1 in 10)."""

WINDOW_SPAN_SHARE = 0.25
"""The proposed conversion window is at most this share of the data's span."""

CONVERT_HIGH = 0.6
"""A goal setting that converts more than this share of journeys is warned about (so is one that converts none)."""

_M, _H, _D = 60, 3600, 86400
READABLE = (
    60,
    2 * _M,
    5 * _M,
    10 * _M,
    15 * _M,
    30 * _M,
    _H,
    2 * _H,
    3 * _H,
    6 * _H,
    12 * _H,
    _D,
    2 * _D,
    3 * _D,
    5 * _D,
    7 * _D,
    14 * _D,
    30 * _D,
    60 * _D,
    90 * _D,
    180 * _D,
    365 * _D,
)
"""Durations the proposals round to (seconds; beyond a year, whole years of 365 days)."""


def readable_duration(seconds: float, *, up: bool) -> timedelta | None:
    """``seconds`` rounded up (or down) to a readable duration of :data:`READABLE`.

    Rounding down below a minute keeps whole seconds; below a second gives None.

    >>> from journeymap.blueprint import format_duration
    >>> [format_duration(readable_duration(x * 86400, up=True)) for x in (0.003, 2.6, 45.7, 400)]
    ['5m', '3d', '60d', '730d']
    >>> [format_duration(readable_duration(x, up=False)) for x in (1.5 * 86400, 261, 42.5)], readable_duration(0.4, up=False)
    (['1d', '2m', '42s'], None)
    """
    seconds = float(seconds)
    year = READABLE[-1]
    if up:
        if seconds > year:
            return timedelta(seconds=math.ceil(seconds / year) * year)
        return timedelta(seconds=next(r for r in READABLE if r >= seconds))
    if seconds >= year:
        return timedelta(seconds=math.floor(seconds / year) * year)
    below = [r for r in READABLE if r <= seconds]
    if below:
        return timedelta(seconds=below[-1])
    return timedelta(seconds=math.floor(seconds)) if seconds >= 1 else None


@dataclass(frozen=True)
class JourneyProposal:
    """Journey settings read from the data's own gaps and span (:func:`propose_journey_settings`)."""

    inactivity_gap: timedelta | None
    """The gap quantile rounded up to a readable duration; None when it is as long as the data's span."""
    conversion_window: timedelta | None
    """The gap (or the span, without one) capped at a quarter of the span, rounded down; None for no span."""
    gap_quantile_s: float | None
    """The :data:`GAP_QUANTILE` quantile of each customer's longest gap between consecutive touches, seconds."""
    customers: int
    """Customers with at least two timed touches (those the gaps come from)."""
    span_s: float | None
    """Seconds from the first to the last event."""

    def as_dict(self) -> dict[str, Any]:
        from journeymap.blueprint import format_duration

        return {
            "inactivity_gap": format_duration(self.inactivity_gap) or "none",
            "conversion_window": format_duration(self.conversion_window) or "none",
            "gap_quantile": GAP_QUANTILE,
            "gap_quantile_s": self.gap_quantile_s,
            "customers_with_gaps": self.customers,
            "span_s": self.span_s,
        }

    def describe(self) -> str:
        """One sentence saying where the two settings come from."""
        if self.span_s is None:
            return "the events have no times, so the journey settings are left as they are"
        gap = (
            f"{GAP_QUANTILE:.0%} of the {self.customers:,} customers with several touches have no gap longer "
            f"than {_human(self.gap_quantile_s)}"
            if self.gap_quantile_s is not None
            else "no customer has two timed touches"
        )
        return f"{gap}, and the data spans {_human(self.span_s)}"


def _human(seconds: float | None) -> str:
    """A duration for a sentence: ``45.7 days``, ``3.2 hours``, ``4.3 minutes``, ``12 seconds``."""
    if seconds is None:
        return "nothing"
    for size, unit in ((_D, "days"), (_H, "hours"), (_M, "minutes")):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} seconds"


def propose_journey_settings(events: ir.Table, con: BaseBackend | None = None) -> JourneyProposal:
    """Inactivity gap and conversion window from the data's own gaps and span (two aggregates).

    The gap is the :data:`GAP_QUANTILE` quantile of each customer's longest gap between
    consecutive touches, rounded up to a readable duration, so it splits about one
    customer in ten (none when it reaches the data's span: nothing would be split). The
    window is that gap, at most :data:`WINDOW_SPAN_SHARE` of the span, rounded down, so
    only journeys that ended near the data's end count as in progress.

    >>> import ibis, datetime as dt
    >>> ev = ibis.memtable({"customer_id": ["a", "a", "b", "b", "c"], "touchpoint": ["x"] * 5,
    ...     "ts": [dt.datetime(2024, 1, d) for d in (1, 3, 1, 21, 9)]})
    >>> p = propose_journey_settings(ev)  # 90% of longest gaps under 18.2 days: 30d, not less than the span
    >>> p.inactivity_gap, p.conversion_window.days, p.customers, p.span_s / 86400
    (None, 5, 2, 20.0)
    """
    t = events.filter(events.ts.notnull())
    secs = t.ts.epoch_seconds()
    w = ibis.window(group_by=t.customer_id, order_by=touch_order(t))
    t = t.mutate(_gap=(secs - secs.lag().over(w)).cast("float64"))
    per = t.group_by(_c=t.customer_id).agg(_n=t.count(), _max_gap=t._gap.max())
    per = per.filter(per._n >= 2)
    q = per.agg(customers=per.count(), gap_q=per._max_gap.quantile(GAP_QUANTILE))
    span = events.agg(_first=events.ts.min(), _last=events.ts.max())
    span = span.select(span_s=(span._last.epoch_seconds() - span._first.epoch_seconds()).cast("float64"))
    row = _rows(q.cross_join(span), con)[0]
    customers, gap_q, span_s = int(row["customers"] or 0), row["gap_q"], row["span_s"]
    if span_s is None:
        return JourneyProposal(None, None, None, 0, None)
    gap = None
    if customers and gap_q is not None:
        gap = readable_duration(max(float(gap_q), 1.0), up=True)
        if gap is not None and gap.total_seconds() >= span_s:  # no customer's gap can be longer: nothing to split
            gap = None
    base = gap.total_seconds() if gap is not None else span_s
    window = readable_duration(min(base, WINDOW_SPAN_SHARE * span_s), up=False)
    return JourneyProposal(gap, window, None if gap_q is None else float(gap_q), customers, float(span_s))


@dataclass
class Draft:
    """What :func:`draft` found: the drafted blueprint and the evidence for its goals and settings."""

    blueprint: Blueprint
    goal_reasons: dict[str, str]
    """Per goal: ``name`` (its name says so), ``revenue`` (its events carry revenue, most others do not), ``kept``."""
    proposal: JourneyProposal
    settings_proposed: bool
    """Whether the blueprint's journey settings are the proposal (False: the base's were kept)."""
    revenue_share: float
    """Share of all events with a positive revenue."""


def draft_blueprint(
    events: ir.Table, base: Blueprint | None = None, *, con: BaseBackend | None = None, min_events: int = 1
) -> Blueprint:
    """A blueprint drafted from the events, keeping everything curated in ``base`` (:func:`draft`'s blueprint).

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
        keywords, a description saying it was drafted), guessed goals when ``base`` has none, and
        journey settings read from the data when ``base`` has the defaults.
    """
    return draft(events, base, con=con, min_events=min_events).blueprint


def draft(
    events: ir.Table, base: Blueprint | None = None, *, con: BaseBackend | None = None, min_events: int = 1
) -> Draft:
    """Draft a blueprint from the events and say why (see :func:`draft_blueprint`).

    Goals, when ``base`` has none: touchpoints whose name says so (:func:`goal_name`), and
    touchpoints whose events mostly carry revenue while most events of the log do not
    (revenue there is a transaction, not a price column on every view). Journey settings,
    when ``base`` has the defaults: :func:`propose_journey_settings`.
    """
    for col in ("customer_id", "ts", "touchpoint"):
        if col not in events.columns:
            raise InputError(f"events lack the column {col!r}; draft from the workspace's events table.")
    base = base or default_blueprint()
    stages = base.stage_names()
    profile = _rows(touchpoint_profile(events, base.goal_touchpoints()), con)
    all_events = sum(int(p["events"]) for p in profile)
    revenue_share = sum(int(p["revenue_events"] or 0) for p in profile) / all_events if all_events else 0.0
    transactional = revenue_share <= REVENUE_MOST
    profile = sorted(
        (p for p in profile if p["touchpoint"] is not None and p["events"] >= min_events),
        key=lambda p: (p["position"] if p["position"] is not None else 0.5, -p["events"], p["touchpoint"]),
    )
    goals = [g.model_copy() for g in base.goals]
    reasons = dict.fromkeys((g.touchpoint for g in goals), "kept")
    if not goals:
        for p in profile:
            name, share = p["touchpoint"], p["revenue_share"] or 0
            if goal_name(name):
                reasons[name] = "name"
            elif transactional and share > 0.5 and not NOT_GOAL_WORDS.intersection(_words(name)):
                reasons[name] = "revenue"
            else:
                continue
            goals.append(Goal(touchpoint=name, value="revenue" if share > 0 else None))
        if goals:  # positions relative to the guessed goals
            profile_g = {
                p["touchpoint"]: p for p in _rows(touchpoint_profile(events, [g.touchpoint for g in goals]), con)
            }
            for p in profile:
                p["after_goal"] = profile_g[p["touchpoint"]]["after_goal"]
    goal_names = {g.touchpoint for g in goals}
    known = {t.name.lower() for t in base.touchpoints}
    drafted = [
        Touchpoint(
            name=p["touchpoint"],
            stage=suggest_stage(
                p["touchpoint"],
                p["position"],
                p["after_goal"] if goal_names else None,
                stages,
                p["touchpoint"] in goal_names,
            )
            if stages
            else None,
            channel=p["top_channel"],
            kind=_kind(p["touchpoint"], p["top_channel"]),
            description=f"Drafted from data: {p['events']:,} events from {p['customers']:,} customers.",
            keywords=sorted({w for w in re.findall(r"[a-z]{3,}", p["touchpoint"].lower())}),
        )
        for p in profile
        if p["touchpoint"].lower() not in known
    ]
    proposal = propose_journey_settings(events, con)
    data = base.model_dump()
    data["touchpoints"] = [*data["touchpoints"], *(t.model_dump() for t in drafted)]
    data["goals"] = [g.model_dump() for g in goals]
    proposed = base.journey == JourneySettings() and proposal.span_s is not None
    if proposed:
        data["journey"] = {
            **data["journey"],
            "inactivity_gap": proposal.inactivity_gap,
            "conversion_window": proposal.conversion_window,
        }
    return Draft(Blueprint.model_validate(data), reasons, proposal, proposed, revenue_share)


def goal_conversion(events: ir.Table, goals: list[str], journey: JourneySettings) -> dict[str, Any]:
    """Journeys and converted journeys when ``goals`` are the goals (journeys built as every analysis builds them)."""
    from journeymap.journeys.journeys import JourneyRules, build_journeys, status_counts

    rules = JourneyRules(
        goals=tuple(goals), inactivity_gap=journey.inactivity_gap, conversion_window=journey.conversion_window
    )
    counts = status_counts(build_journeys(events, rules=rules))
    total = sum(counts.values())
    return {
        "goals": list(goals),
        "journeys": total,
        "converted": counts["converted"],
        "in_progress": counts["in_progress"],
        "share": counts["converted"] / total if total else None,
    }


def draft_report(events: ir.Table, result: Draft) -> dict[str, Any]:
    """The share of journeys each goal setting of a draft converts, and the warnings (one sentence each).

    ``conversion`` is all the goals together; ``goals`` each goal alone (with why it is a
    goal). A setting that converts more than :data:`CONVERT_HIGH` of the journeys, or none,
    is warned about, and so are journey settings that split most customers or leave most
    journeys in progress (:func:`journey_setting_warnings`).
    """
    bp = result.blueprint
    names = bp.goal_touchpoints()
    together = goal_conversion(events, names, bp.journey)
    per_goal = []
    for g in bp.goals:
        alone = together if len(names) == 1 else goal_conversion(events, [g.touchpoint], bp.journey)
        per_goal.append(
            {
                "touchpoint": g.touchpoint,
                "reason": result.goal_reasons.get(g.touchpoint, "kept"),
                "value": g.value,
                "journeys": alone["journeys"],
                "converted": alone["converted"],
                "share": alone["share"],
            }
        )
    warnings: list[str] = []
    n, share = together["journeys"], together["share"]
    if not names:
        warnings.append(
            f"No goal was found, so 0% of the {n:,} journeys convert; name the touchpoint that "
            "completes a journey under goals in blueprint.yaml."
        )
    elif share is not None and share == 0:
        warnings.append(
            f"The goals ({', '.join(names)}) convert 0% of the {n:,} journeys; check their names "
            "under goals in blueprint.yaml."
        )
    elif share is not None and share > CONVERT_HIGH:
        warnings.append(
            f"The goals ({', '.join(names)}) convert {share:.1%} of the {n:,} journeys, more than "
            f"{CONVERT_HIGH:.0%}, so some are probably steps rather than conversions; remove those "
            "from goals in blueprint.yaml."
        )
    if len(names) > 1:
        for pg in per_goal:
            if pg["share"] is not None and pg["share"] > CONVERT_HIGH:
                warnings.append(
                    f"Goal {pg['touchpoint']!r} alone converts {pg['share']:.1%} of the "
                    f"{pg['journeys']:,} journeys, more than {CONVERT_HIGH:.0%}; remove it from goals "
                    "if it is a step rather than a conversion."
                )
    warnings += [r[3] for r in journey_setting_warnings(bp, events, result.proposal, counts=together)]
    return {
        "conversion": together,
        "goals": per_goal,
        "journey": {
            **{k: v or "none" for k, v in bp.model_dump(mode="json")["journey"].items()},
            "proposed": result.settings_proposed,
            "proposal": result.proposal.as_dict(),
            "basis": result.proposal.describe(),
        },
        "revenue_share": result.revenue_share,
        "warnings": warnings,
    }


def journey_setting_warnings(
    blueprint: Blueprint,
    events: ir.Table,
    proposal: JourneyProposal | None = None,
    *,
    con: BaseBackend | None = None,
    counts: dict[str, Any] | None = None,
) -> list[list[Any]]:
    """Check rows (severity, check, name, events, message) for journey settings the data contradicts.

    The inactivity gap splits most customers: of the customers with at least two touches,
    more than half have more than one journey when only the gap cuts them (goals aside).
    Most journeys in progress: over half the journeys (as every analysis builds them) end
    "in progress" under the conversion window. ``counts`` reuses a :func:`goal_conversion`
    of the blueprint's goals and settings.
    """
    from journeymap.blueprint import format_duration
    from journeymap.journeys.journeys import JourneyRules, build_journeys

    settings = blueprint.journey
    rows: list[list[Any]] = []

    def suggested() -> JourneyProposal:
        nonlocal proposal
        proposal = proposal or propose_journey_settings(events, con)
        return proposal

    if settings.inactivity_gap is not None:
        j = build_journeys(
            events, rules=JourneyRules(goals=(), inactivity_gap=settings.inactivity_gap, conversion_window=None)
        )
        per = j.group_by(_c=j.customer_id).agg(_n=j.count(), _j=j.journey_no.max())
        per = per.filter(per._n >= 2)
        r = _rows(per.agg(customers=per.count(), split=(per._j > 1).cast("int64").sum()), con)[0]
        customers, split = int(r["customers"] or 0), int(r["split"] or 0)
        if customers and split > customers / 2:
            gap = format_duration(settings.inactivity_gap)
            better = format_duration(suggested().inactivity_gap) or "none"
            rows.append(
                [
                    "warning",
                    "inactivity gap splits customers",
                    gap,
                    None,
                    f"The inactivity gap {gap} splits {split:,} of the {customers:,} customers with several "
                    f"touches ({split / customers:.0%}) into more than one journey; raise "
                    f"journey.inactivity_gap (the data suggests {better}) or set it to none.",
                ]
            )
    if settings.conversion_window is not None:
        counts = counts or goal_conversion(events, blueprint.goal_touchpoints(), settings)
        n, open_ = counts["journeys"], counts["in_progress"]
        if n and open_ > n / 2:
            window = format_duration(settings.conversion_window)
            better = format_duration(suggested().conversion_window) or "none"
            span = _human(suggested().span_s)
            rows.append(
                [
                    "warning",
                    "journeys in progress",
                    window,
                    None,
                    f'{open_:,} of the {n:,} journeys ({open_ / n:.0%}) end "in progress" because their '
                    f"last touch is within the conversion window {window} of the data's end (the data spans "
                    f"{span}); shorten journey.conversion_window (the data suggests {better}).",
                ]
            )
    return rows


@dataclass(frozen=True)
class CheckRow(TableRow):
    """One problem of :class:`BlueprintCheck`."""

    severity: Literal["error", "warning", "info"]
    check: str
    name: str
    events: int | None
    message: str


class BlueprintCheck(TableResult):
    """Problems found comparing a blueprint with the data (``kind`` ``blueprint_check``).

    Columns: ``severity`` (error, warning, info), ``check``, ``name``, ``events``, ``message``.
    """

    kind: ClassVar[str] = "blueprint_check"
    Row: ClassVar[type[TableRow]] = CheckRow

    @property
    def ok(self) -> bool:
        """True when no problem is an error."""
        return not any(r.severity == "error" for r in self.typed_rows())

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["severity"] == "error"]


CHECK_COLUMNS = list(CheckRow.columns())


def check_blueprint(
    blueprint: Blueprint, events: ir.Table, feedback: ir.Table | None = None, *, con: BaseBackend | None = None
) -> BlueprintCheck:
    """Compare ``blueprint`` with the data and list what does not line up.

    Errors: a goal with no events (nothing can convert). Warnings: data
    touchpoints missing from the blueprint (with event counts), feedback
    touchpoints missing from it, stages with no touchpoints, touchpoints without
    a stage, no goals, an inactivity gap that splits most customers and a
    conversion window that leaves most journeys in progress
    (:func:`journey_setting_warnings`). Info: blueprint touchpoints without data
    (fine for a billboard or word of mouth).
    """
    counts = {
        r["touchpoint"]: int(r["events"])
        for r in _rows(events.group_by("touchpoint").agg(events=events.count()), con)
        if r["touchpoint"] is not None
    }
    fb_counts: dict[str, int] = {}
    if feedback is not None and "touchpoint" in feedback.columns:
        f = feedback.filter(feedback.touchpoint.notnull())
        fb_counts = {r["touchpoint"]: int(r["rows"]) for r in _rows(f.group_by("touchpoint").agg(rows=f.count()), con)}
    names = set(blueprint.touchpoint_names())
    rows: list[list[Any]] = []
    for g in blueprint.goals:
        if counts.get(g.touchpoint, 0) == 0:
            rows.append(
                [
                    "error",
                    "goal without events",
                    g.touchpoint,
                    0,
                    f"goal {g.touchpoint!r} has no events, so no journey can convert; fix its name or "
                    "its touchpoint's match rules",
                ]
            )
    if not blueprint.goals:
        rows.append(
            [
                "warning",
                "no goals",
                "",
                None,
                "the blueprint has no goals, so nothing counts as a conversion; add one under goals",
            ]
        )
    for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        if name not in names:
            rows.append(
                [
                    "warning",
                    "data touchpoint not in blueprint",
                    name,
                    n,
                    f"{n:,} events have touchpoint {name!r}, which the blueprint lacks; add it "
                    "(journeymap blueprint draft) or a match rule that maps it",
                ]
            )
    for name, n in sorted(fb_counts.items(), key=lambda kv: -kv[1]):
        if name not in names:
            rows.append(
                [
                    "warning",
                    "feedback touchpoint not in blueprint",
                    name,
                    n,
                    f"{n:,} feedback rows name touchpoint {name!r}, which the blueprint lacks; add it",
                ]
            )
    for stage in blueprint.stage_names():
        if not any(t.stage == stage for t in blueprint.touchpoints):
            rows.append(
                [
                    "warning",
                    "stage without touchpoints",
                    stage,
                    None,
                    f"stage {stage!r} has no touchpoints; give it some or remove it",
                ]
            )
    for t in blueprint.touchpoints:
        if t.stage is None:
            rows.append(
                [
                    "warning",
                    "touchpoint without stage",
                    t.name,
                    counts.get(t.name, 0),
                    f"touchpoint {t.name!r} has no stage; set its stage",
                ]
            )
        if t.name not in counts:
            rows.append(
                [
                    "info",
                    "touchpoint without data",
                    t.name,
                    0,
                    f"touchpoint {t.name!r} has no events (fine for offline touchpoints such as a "
                    "billboard); otherwise check its match rules",
                ]
            )
    if counts:
        rows += journey_setting_warnings(blueprint, events, con=con)
    order = {"error": 0, "warning": 1, "info": 2}
    rows.sort(key=lambda r: order[r[0]])
    return BlueprintCheck(
        columns=CHECK_COLUMNS,
        rows=rows,
        meta={
            "touchpoints": len(names),
            "data_touchpoints": len(counts),
            "errors": sum(r[0] == "error" for r in rows),
            "warnings": sum(r[0] == "warning" for r in rows),
        },
    )


# -- the draft a command writes ---------------------------------------------------------------------
def is_curated(blueprint: Blueprint) -> bool:
    """True when ``blueprint`` holds anything beyond what ``journeymap init`` writes (its name aside)."""
    default = default_blueprint()
    return blueprint.model_copy(update={"name": default.name}) != default


@dataclass(frozen=True)
class DraftOutcome:
    """What :func:`write_draft` did: the drafted blueprint, where it was written and a JSON-ready summary."""

    blueprint: Blueprint
    base: Blueprint
    """The blueprint the draft started from (its goals kept when it had some)."""
    written: Path | None
    """The file the draft was written to; None when it was not written (the caller prints it)."""
    summary: dict[str, Any]
    """``written``, ``touchpoints_added``, ``channels``, ``stages`` (added per stage), ``goals_guessed``,
    ``touchpoints`` (the added ones), and :func:`draft_report`'s ``conversion``, ``goals``, ``journey``,
    ``warnings``."""

    @property
    def added(self) -> list[Touchpoint]:
        """The drafted touchpoints the base blueprint lacked."""
        known = set(self.base.touchpoint_names())
        return [t for t in self.blueprint.touchpoints if t.name not in known]


def write_draft(
    events: ir.Table,
    base: Blueprint,
    *,
    target: Path | None,
    blueprint_path: Path | None = None,
    con: BaseBackend | None = None,
    min_events: int = 1,
    force: bool = False,
) -> DraftOutcome:
    """Draft a blueprint from the events (:func:`draft`), report on it and write it to ``target``.

    Parameters
    ----------
    events : the workspace's ``events`` table.
    base : the current blueprint; everything it curates is kept.
    target : the file to write; None writes nothing (the caller prints :attr:`DraftOutcome.blueprint`).
    blueprint_path : the workspace's blueprint.yaml: a curated blueprint there is not overwritten unless
        ``force`` (the old file is then kept as ``blueprint.yaml.bak``; the content is kept, the comments
        are not).
    con, min_events : as for :func:`draft`.

    Raises
    ------
    InputError
        When there are no events, or ``target`` is the curated workspace blueprint and ``force`` is off.
    """
    from journeymap import engine

    if int(engine.execute(events.count(), con)) == 0:
        raise InputError(
            "The workspace has no events to draft from; load some first with: journeymap ingest events FILE"
        )
    result = draft(events, base=base, con=con, min_events=min_events)
    bp = result.blueprint
    report = draft_report(events, result)
    if target is not None:
        is_workspace_file = blueprint_path is not None and target.resolve() == Path(blueprint_path).resolve()
        if target.exists() and is_workspace_file and is_curated(base) and not force:
            raise InputError(
                f"{target} already holds a curated blueprint; write the draft elsewhere with -o draft.yaml, "
                "or pass --force to rewrite it (its content is kept, its comments are not)."
            )
        if target.exists() and force:
            shutil.copyfile(target, target.with_name(target.name + ".bak"))
        bp.save(target)
    known = set(base.touchpoint_names())
    added = [t for t in bp.touchpoints if t.name not in known]
    summary = {
        "written": None if target is None else str(target),
        "touchpoints_added": len(added),
        "channels": sorted({t.channel for t in added if t.channel}),
        "stages": {s: sum(t.stage == s for t in added) for s in bp.stage_names()},
        "goals_guessed": [g.touchpoint for g in bp.goals] if not base.goals else [],
        "touchpoints": [
            {"name": t.name, "stage": t.stage, "channel": t.channel, "kind": t.kind, "description": t.description}
            for t in added
        ],
        **report,
    }
    return DraftOutcome(bp, base, target, summary)
