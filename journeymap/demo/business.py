"""The demo business: a multi-channel clothing retailer, its touchpoints, personas and blueprint.

Everything the simulation needs is declared here as data: the touchpoints with
their raw event names, the per-persona Markov chain over the pre-purchase
touchpoints, and the blueprint that maps the raw events back to touchpoints.

Examples
--------
>>> bp = demo_blueprint()
>>> len(bp.touchpoints) >= 20, bp.goal_touchpoints()
(True, ['Purchase'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from journeymap.blueprint import Blueprint

FRICTION = "Delivery options"
LIFT = "Size guide"
DISTINCT_PERSONA = "Store-first shopper"
GOAL = "Purchase"


@dataclass(frozen=True)
class TP:
    """A demo touchpoint: blueprint fields plus how its raw events look."""

    name: str
    stage: str
    channel: str
    kind: str
    owner: str
    description: str
    keywords: tuple[str, ...]
    event: str | None = None
    """Raw event name (None: no data, or see ``regex``)."""
    regex: str | None = None
    where: tuple[tuple[str, str], ...] = ()
    interaction: str = "direct"


TOUCHPOINTS: tuple[TP, ...] = (
    TP(
        "Billboard",
        "awareness",
        "outdoor",
        "paid",
        "Brand marketing",
        "Roadside and station posters in the big cities.",
        ("billboard", "poster"),
        interaction="indirect",
    ),
    TP(
        "Word of mouth",
        "awareness",
        "offline",
        "earned",
        "Brand marketing",
        "Friends and family recommending the shop.",
        ("friend", "recommended", "word of mouth"),
        interaction="indirect",
    ),
    TP(
        "Search ad",
        "awareness",
        "paid search",
        "paid",
        "Performance marketing",
        "Paid search ads on Google and Bing.",
        ("ad", "google", "search"),
        event="ad_click",
        where=(("utm_medium", "cpc"),),
    ),
    TP(
        "Social ad",
        "awareness",
        "social",
        "paid",
        "Performance marketing",
        "Paid ads on Instagram, TikTok and Facebook.",
        ("instagram", "tiktok", "ad"),
        event="ad_click",
        where=(("utm_medium", "paid_social"),),
    ),
    TP(
        "Display banner",
        "awareness",
        "display",
        "paid",
        "Performance marketing",
        "Programmatic display and retargeting banners.",
        ("banner", "retargeting"),
        event="ad_click",
        where=(("utm_medium", "display"),),
    ),
    TP(
        "Organic search",
        "awareness",
        "search",
        "earned",
        "SEO",
        "Unpaid results in search engines.",
        ("google", "seo"),
        event="landing",
        where=(("utm_medium", "organic"),),
    ),
    TP(
        "Influencer post",
        "awareness",
        "social",
        "earned",
        "Brand marketing",
        "Creators wearing our clothes.",
        ("influencer", "creator"),
        event="landing",
        where=(("utm_medium", "influencer"),),
    ),
    TP(
        "Newsletter",
        "consideration",
        "email",
        "owned",
        "CRM",
        "Weekly newsletter with new arrivals and offers.",
        ("newsletter", "email", "offer"),
        event="email_click",
        where=(("utm_campaign", "newsletter"),),
    ),
    TP(
        "Homepage",
        "consideration",
        "web",
        "owned",
        "E-commerce",
        "The shop's home page.",
        ("homepage", "website"),
        event="page_view:/",
    ),
    TP(
        "Customer reviews",
        "consideration",
        "web",
        "earned",
        "E-commerce",
        "Ratings and reviews on product pages.",
        ("reviews", "ratings", "stars"),
        regex=r"^page_view:/product/[^/]+/reviews$",
    ),
    TP(
        "Product page",
        "consideration",
        "web",
        "owned",
        "E-commerce",
        "Product detail pages.",
        ("product", "photos", "price"),
        regex=r"^page_view:/product/[^/]+$",
    ),
    TP(
        "App browse",
        "consideration",
        "app",
        "owned",
        "Mobile",
        "Browsing the catalogue in the mobile app.",
        ("app", "browse"),
        event="app:screen_view",
    ),
    TP(
        "Store visit",
        "consideration",
        "store",
        "owned",
        "Retail operations",
        "A visit to one of the 40 stores.",
        ("store", "shop", "staff", "fitting room"),
        event="store:visit",
    ),
    TP(
        "Size guide",
        "consideration",
        "web",
        "owned",
        "E-commerce",
        "Interactive size and fit guide with body measurements.",
        ("size", "fit", "measurements"),
        event="page_view:/help/size-guide",
    ),
    TP(
        "Live chat",
        "consideration",
        "chat",
        "owned",
        "Customer service",
        "Chat with a stylist or agent on the website.",
        ("chat", "agent", "stylist"),
        event="chat:started",
    ),
    TP(
        "Basket",
        "purchase",
        "web",
        "owned",
        "E-commerce",
        "The shopping basket.",
        ("basket", "cart"),
        event="page_view:/basket",
    ),
    TP(
        "Delivery options",
        "purchase",
        "web",
        "owned",
        "E-commerce",
        "Checkout step where the delivery method and its charge are chosen.",
        ("delivery", "shipping", "charge", "fee", "postage"),
        event="page_view:/checkout/delivery",
    ),
    TP(
        "Checkout",
        "purchase",
        "web",
        "owned",
        "E-commerce",
        "Payment step of the checkout.",
        ("payment", "card", "checkout"),
        event="page_view:/checkout/payment",
    ),
    TP(
        "Purchase",
        "purchase",
        "web",
        "owned",
        "E-commerce",
        "An order placed online, in the app or at a till.",
        ("order", "bought", "purchase"),
        regex=r"^(order_completed|pos_sale)$",
    ),
    TP(
        "Order confirmation",
        "retention",
        "email",
        "owned",
        "CRM",
        "Order confirmation email.",
        ("confirmation", "receipt"),
        event="email_open",
        where=(("utm_campaign", "order_confirmation"),),
    ),
    TP(
        "Delivery tracking",
        "retention",
        "app",
        "owned",
        "Logistics",
        "Parcel tracking in the app and by SMS.",
        ("parcel", "courier", "tracking", "late"),
        event="app:track_order",
    ),
    TP(
        "Customer service call",
        "retention",
        "phone",
        "owned",
        "Customer service",
        "Calls to the contact centre.",
        ("call", "phone", "hold"),
        event="call:inbound",
    ),
    TP(
        "Returns portal",
        "retention",
        "web",
        "owned",
        "Logistics",
        "Online returns and refunds.",
        ("return", "refund", "exchange"),
        event="page_view:/returns",
    ),
    TP(
        "Loyalty programme",
        "retention",
        "app",
        "owned",
        "CRM",
        "Points and member perks in the app.",
        ("points", "loyalty", "member"),
        event="app:loyalty",
    ),
    TP(
        "Reorder reminder",
        "retention",
        "email",
        "owned",
        "CRM",
        "Email reminding customers of their favourites.",
        ("reminder", "reorder"),
        event="email_click",
        where=(("utm_campaign", "reorder"),),
    ),
    TP(
        "Product review",
        "advocacy",
        "web",
        "earned",
        "E-commerce",
        "A review written by the customer after buying.",
        ("review", "stars"),
        event="review:submitted",
    ),
    TP(
        "Referral",
        "advocacy",
        "web",
        "earned",
        "CRM",
        "Refer-a-friend codes sent by customers.",
        ("refer", "friend", "code"),
        event="referral:sent",
    ),
    TP(
        "Social mention",
        "advocacy",
        "social",
        "earned",
        "Social media",
        "Customers posting about the shop.",
        ("post", "tagged", "mention"),
        event="social:mention",
    ),
)

BY_NAME = {t.name: t for t in TOUCHPOINTS}

# The pre-purchase chain: states 0..len-1, then EXIT; PURCHASE ends the walk converted.
CHAIN = (
    "Search ad",
    "Social ad",
    "Display banner",
    "Organic search",
    "Influencer post",
    "Newsletter",
    "Homepage",
    "Product page",
    "App browse",
    "Store visit",
    "Size guide",
    "Customer reviews",
    "Live chat",
    "Basket",
    "Delivery options",
    "Checkout",
    "Purchase",
)
S = {name: i for i, name in enumerate(CHAIN)}
EXIT = len(CHAIN)
PURCHASE = S["Purchase"]

_ENTRY = {"Product page": 0.5, "Homepage": 0.2, "Customer reviews": 0.05, "App browse": 0.05, "EXIT": 0.2}
BASE: dict[str, dict[str, float]] = {
    **{a: dict(_ENTRY) for a in ("Search ad", "Social ad", "Display banner", "Organic search", "Influencer post")},
    "Newsletter": {"Product page": 0.45, "Homepage": 0.15, "App browse": 0.1, "EXIT": 0.3},
    "Homepage": {"Product page": 0.6, "Customer reviews": 0.08, "Size guide": 0.06, "Live chat": 0.04, "EXIT": 0.22},
    "Product page": {
        "Product page": 0.15,
        "Size guide": 0.1,
        "Customer reviews": 0.1,
        "Basket": 0.24,
        "Live chat": 0.04,
        "Homepage": 0.05,
        "EXIT": 0.32,
    },
    "App browse": {"App browse": 0.2, "Product page": 0.15, "Basket": 0.3, "Size guide": 0.05, "EXIT": 0.3},
    "Store visit": {"Purchase": 0.45, "Product page": 0.12, "Store visit": 0.03, "EXIT": 0.4},
    "Size guide": {"Basket": 0.62, "Product page": 0.2, "Customer reviews": 0.05, "EXIT": 0.13},
    "Customer reviews": {"Product page": 0.45, "Basket": 0.22, "Size guide": 0.06, "EXIT": 0.27},
    "Live chat": {"Basket": 0.35, "Product page": 0.37, "Live chat": 0.04, "EXIT": 0.24},
    "Basket": {"Delivery options": 0.8, "Product page": 0.08, "EXIT": 0.12},
    "Delivery options": {"Checkout": 0.3, "Delivery options": 0.13, "Basket": 0.1, "EXIT": 0.47},
    "Checkout": {"Purchase": 0.9, "Delivery options": 0.04, "EXIT": 0.06},
}


@dataclass(frozen=True)
class PersonaSpec:
    """A persona of the demo: who they are and how they move."""

    name: str
    segment: str
    share: float
    description: str
    entry: dict[str, float]
    overrides: dict[str, dict[str, float]]
    age_bands: tuple[str, ...]
    plans: tuple[str, ...]
    purchase_channel: str
    order_value: float
    repeat: float
    """Chance of another purchase journey after a purchase."""


PERSONAS: tuple[PersonaSpec, ...] = (
    PersonaSpec(
        "Deal seeker",
        "value",
        0.3,
        "Price-sensitive, arrives through ads, abandons at extra costs.",
        {"Search ad": 0.35, "Social ad": 0.25, "Display banner": 0.25, "Organic search": 0.15},
        {"Delivery options": {"Checkout": 0.25, "Delivery options": 0.13, "Basket": 0.08, "EXIT": 0.54}},
        ("18-24", "25-34", "35-44"),
        ("none",),
        "web",
        35.0,
        0.2,
    ),
    PersonaSpec(
        "Loyal regular",
        "loyal",
        0.2,
        "Member who comes back through email and the app.",
        {"Newsletter": 0.4, "Homepage": 0.3, "App browse": 0.2, "Search ad": 0.1},
        {"Basket": {"Delivery options": 0.85, "EXIT": 0.08, "Product page": 0.07}},
        ("35-44", "45-54"),
        ("member", "member+"),
        "web",
        65.0,
        0.55,
    ),
    PersonaSpec(
        "Store-first shopper",
        "traditional",
        0.2,
        "Discovers in print and buys at the till.",
        {"Store visit": 0.75, "Display banner": 0.1, "Homepage": 0.1, "Newsletter": 0.05},
        {
            "Store visit": {"Purchase": 0.6, "Store visit": 0.04, "Product page": 0.08, "EXIT": 0.28},
            "Product page": {
                "Store visit": 0.3,
                "Basket": 0.12,
                "EXIT": 0.4,
                "Size guide": 0.08,
                "Customer reviews": 0.1,
            },
        },
        ("45-54", "55-64", "65+"),
        ("none", "member"),
        "store",
        55.0,
        0.3,
    ),
    PersonaSpec(
        "Mobile native",
        "mobile",
        0.2,
        "Young, social-led, lives in the app.",
        {"Social ad": 0.4, "Influencer post": 0.3, "App browse": 0.3},
        {"Product page": {"App browse": 0.25, "Size guide": 0.1, "Basket": 0.2, "Customer reviews": 0.1, "EXIT": 0.35}},
        ("18-24", "25-34"),
        ("none", "member"),
        "app",
        40.0,
        0.3,
    ),
    PersonaSpec(
        "Business buyer",
        "b2b",
        0.1,
        "Buys workwear for a team; researches and asks questions.",
        {"Search ad": 0.5, "Homepage": 0.3, "Organic search": 0.2},
        {
            "Product page": {
                "Live chat": 0.15,
                "Size guide": 0.1,
                "Basket": 0.25,
                "Customer reviews": 0.05,
                "EXIT": 0.3,
                "Product page": 0.15,
            }
        },
        ("35-44", "45-54"),
        ("business",),
        "web",
        180.0,
        0.35,
    ),
)

REGIONS = ("North", "South", "East", "West", "London")
PRODUCTS = (
    "linen-shirt",
    "denim-jacket",
    "wool-jumper",
    "chinos",
    "rain-coat",
    "summer-dress",
    "trainers",
    "ankle-boots",
    "puffer-jacket",
    "cotton-tee",
    "hoodie",
    "work-trousers",
    "blazer",
    "swim-shorts",
    "knit-cardigan",
    "leather-belt",
    "scarf",
    "polo-shirt",
    "jeans-slim",
    "jeans-straight",
)


def transition_matrices() -> np.ndarray:
    """Cumulative transition probabilities, shape (personas, states, states + 1) (last column: exit).

    >>> cum = transition_matrices()
    >>> cum.shape[0] == len(PERSONAS), bool(np.allclose(cum[:, :-1, -1], 1.0))
    (True, True)
    """
    n = len(CHAIN)
    out = np.zeros((len(PERSONAS), n, n + 1))
    for p, spec in enumerate(PERSONAS):
        for src, row in BASE.items():
            row = spec.overrides.get(src, row)
            for dst, w in row.items():
                out[p, S[src], EXIT if dst == "EXIT" else S[dst]] = w
        out[p, PURCHASE, PURCHASE] = 1.0
    out /= out.sum(axis=2, keepdims=True)
    return np.cumsum(out, axis=2)


def entry_matrix() -> np.ndarray:
    """Cumulative entry probabilities per persona, shape (personas, states)."""
    out = np.zeros((len(PERSONAS), len(CHAIN)))
    for p, spec in enumerate(PERSONAS):
        for name, w in spec.entry.items():
            out[p, S[name]] = w
    out /= out.sum(axis=1, keepdims=True)
    return np.cumsum(out, axis=1)


def demo_blueprint() -> Blueprint:
    """The curated blueprint of the demo business (stages, touchpoints, goals, personas, sources)."""
    tps = []
    for t in TOUCHPOINTS:
        match = []
        if t.event or t.regex:
            rule: dict = {"event": t.event} if t.event else {"event_regex": t.regex}
            if t.where:
                rule["where"] = dict(t.where)
            match.append(rule)
        tps.append(
            {
                "name": t.name,
                "stage": t.stage,
                "channel": t.channel,
                "interaction": t.interaction,
                "kind": t.kind,
                "owner": t.owner,
                "description": t.description,
                "keywords": list(t.keywords),
                "match": match,
            }
        )
    return Blueprint.model_validate(
        {
            "name": "Northwind Clothing (demo)",
            "stages": [
                {"name": "awareness", "description": "Customers hear of us."},
                {"name": "consideration", "description": "They look, compare and ask."},
                {"name": "purchase", "description": "They buy.", "goal": "Purchase"},
                {"name": "retention", "description": "Delivery, service, coming back."},
                {"name": "advocacy", "description": "They recommend us."},
            ],
            "touchpoints": tps,
            "goals": [{"touchpoint": GOAL, "value": "revenue"}],
            "personas": [
                {"name": p.name, "description": p.description, "where": {"segment": p.segment}} for p in PERSONAS
            ],
            "journey": {"inactivity_gap": "30d", "conversion_window": "30d", "attribution_lookback": "30d"},
            "targets": {"nps": 30, "csat": 4.2, "ces": 5.5, "conversion_rate": 0.3},
            "sources": [
                {
                    "pattern": "events*",
                    "table": "events",
                    "map": {
                        "customer_id": "user",
                        "ts": "event_time",
                        "touchpoint": "event",
                        "channel": "channel",
                        "session_id": "session",
                        "revenue": "order_value",
                    },
                },
                {
                    "pattern": "feedback*",
                    "table": "feedback",
                    "map": {
                        "customer_id": "customer",
                        "ts": "submitted_at",
                        "text": "comment",
                        "feedback_id": "response_id",
                    },
                },
                {"pattern": "customers*", "table": "customers", "map": {"customer_id": "customer_id"}},
            ],
        }
    )
