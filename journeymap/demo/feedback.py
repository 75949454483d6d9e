"""Feedback of the demo business: survey scores and free text that follow from what happened.

A customer who gave up at the delivery step because of the surprise delivery
charge complains about that charge (in a ticket, a chat, a post or an abandon
survey); a late parcel brings a tracking complaint and a low CSAT; a smooth
purchase brings praise and a high NPS. Texts are assembled from varied parts,
some with typos, some plainly neutral.
"""

from __future__ import annotations

import numpy as np

from journeymap.demo import business as b
from journeymap.demo.simulate import DAY

COMPLAINT_KEYWORDS = ("delivery charge", "shipping fee", "hidden", "surprise", "postage")

TEXTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "delivery_charge": (
        ("Really annoyed.", "Not impressed.", "Why?", "Honestly,", "", "Ugh.", "Gave up on my order."),
        (
            "The delivery charge only appeared at the very last step",
            "a surprise delivery charge of £6.95 at checkout",
            "hidden shipping fee added after I'd filled my basket",
            "the postage cost was a nasty surprise at the end",
            "£4.99 delivery charge on a £20 order, hidden until checkout",
            "shipping fee popped up out of nowhere",
            "delivery charge not shown anywhere until the delivery step",
            "the surprise delivery charge put me off",
        ),
        (
            "so I left.",
            "- abandoned my basket.",
            "Show it upfront please!",
            "Will buy elsewhere.",
            "",
            "Very misleading.",
            "Feels like a trick.",
        ),
    ),
    "delivery_charge_bought": (
        ("Bought it in the end, but", "Order placed, however", "Fine overall but"),
        (
            "that delivery charge was a surprise",
            "the hidden shipping fee annoyed me",
            "postage should be shown on the product page",
        ),
        ("", "!", "- please be upfront about delivery costs."),
    ),
    "late": (
        ("My parcel is late.", "Still waiting for my order.", "Where is my parcel??", "Courier useless."),
        (
            "Tracking said Tuesday, it's now Saturday",
            "tracking hasn't updated for 4 days",
            "the courier marked it delivered but nothing arrived",
            "promised next day, took a week",
        ),
        ("and nobody answers.", "Not happy.", "", "3 hours on hold to find out nothing.", "Sort it out."),
    ),
    "praise": (
        ("Love it!", "Great shop.", "Really pleased.", "Excellent.", "", "Five stars."),
        (
            "Quality is lovely and it arrived quickly",
            "fits perfectly and looks great",
            "easy to order and the parcel came next day",
            "good value and well made",
            "the jumper is even nicer than in the photos",
        ),
        ("Will order again.", "Thanks!", "", "Recommended to my sister.", ":)"),
    ),
    "size_guide": (
        ("The size guide was spot on.", "Used the fit guide -", "Measurements guide helped a lot."),
        (
            "ordered my usual size after checking and it fits perfectly",
            "no need to return anything this time",
            "finally jeans that fit first time",
        ),
        ("", "Brilliant.", "Thank you."),
    ),
    "chat": (
        ("The chat agent was", "Stylist on the chat was", "Live chat:"),
        ("really helpful and quick", "friendly and sorted my question", "helpful, answered within a minute"),
        ("", "Thanks.", "great service."),
    ),
    "store": (
        ("Staff in the store were", "Lovely shop,", "Visited the store -"),
        ("friendly and helpful with sizes", "tidy fitting rooms and helpful staff", "quick at the till"),
        ("", "Will be back.", "Good."),
    ),
    "call": (
        ("Called customer service.", "Phoned about my order.", "Rang the helpline."),
        ("The agent sorted it eventually", "waited ages on hold but got a refund", "they were polite but slow"),
        ("", "OK in the end.", "Could be faster."),
    ),
    "returns": (
        ("Returned a jacket.", "Returns were", "Sent back the trainers."),
        ("refund took 10 days", "easy with the printed label", "the returns portal was simple enough"),
        ("", "Fine.", "a bit slow."),
    ),
    "neutral": (
        ("", "", "Ordered a hoodie.", "Bought a shirt for work."),
        (
            "It arrived on Thursday",
            "it was ok",
            "does the job",
            "average experience",
            "nothing special",
            "came in a paper bag",
        ),
        ("", "- no complaints.", "Fine."),
    ),
}

# topic -> (sentiment used for scores, touchpoint, feedback kinds to draw from)
TOPICS = {
    "delivery_charge": (-1, b.FRICTION, ("ticket", "chat", "social", "survey")),
    "delivery_charge_bought": (-0.5, b.FRICTION, ("review", "survey")),
    "late": (-1, "Delivery tracking", ("ticket", "social", "survey", "review")),
    "praise": (1, "Product review", ("review", "survey", "social")),
    "size_guide": (1, b.LIFT, ("review", "survey")),
    "chat": (1, "Live chat", ("survey", "chat")),
    "store": (1, "Store visit", ("survey", "review")),
    "call": (0, "Customer service call", ("survey",)),
    "returns": (0, "Returns portal", ("survey",)),
    "neutral": (0, "Purchase", ("survey", "review")),
}


def _typo(rng: np.random.Generator, text: str) -> str:
    if len(text) < 8:
        return text
    i = int(rng.integers(1, len(text) - 2))
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _texts(rng: np.random.Generator, topic: str, n: int) -> list[str]:
    openers, cores, closers = TEXTS[topic]
    o = rng.integers(0, len(openers), n)
    c = rng.integers(0, len(cores), n)
    z = rng.integers(0, len(closers), n)
    typo = rng.random(n) < 0.07
    out = []
    for i in range(n):
        text = " ".join(p for p in (openers[o[i]], cores[c[i]], closers[z[i]]) if p)
        text = text[0].upper() + text[1:]
        out.append(_typo(rng, text) if typo[i] else text)
    return out


def make_feedback(rng: np.random.Generator, jr: dict[str, np.ndarray]) -> dict[str, list | np.ndarray]:
    """Feedback rows (columns as lists/arrays) from the per-journey experiences ``jr``."""
    conv = jr["converted"]
    friction_drop = jr["friction"] & ~conv
    wants = {
        "delivery_charge": friction_drop & (rng.random(len(conv)) < 0.35),
        "delivery_charge_bought": conv & jr["friction_loop"] & (rng.random(len(conv)) < 0.25),
        "late": jr["late"] & (rng.random(len(conv)) < 0.5),
        "praise": conv & ~jr["late"] & ~jr["friction_loop"] & (rng.random(len(conv)) < 0.12),
        "size_guide": conv & jr["lift"] & (rng.random(len(conv)) < 0.1),
        "chat": jr["chat"] & (rng.random(len(conv)) < 0.15),
        "store": jr["store"] & (rng.random(len(conv)) < 0.08),
        "call": jr["called"] & (rng.random(len(conv)) < 0.3),
        "returns": jr["returned"] & (rng.random(len(conv)) < 0.3),
        "neutral": conv & (rng.random(len(conv)) < 0.06),
    }
    cols: dict[str, list] = {k: [] for k in ("row", "topic", "kind", "touchpoint", "text", "ts")}
    for topic, mask in wants.items():
        rows = np.flatnonzero(mask)
        _, tp, kinds = TOPICS[topic]
        base = np.where(topic.startswith("delivery_charge"), jr["friction_ts"][rows], jr["t_buy"][rows])
        if topic in ("late", "call", "returns"):
            base = jr["t_buy"][rows] + 6 * DAY
        cols["row"].append(rows)
        cols["topic"].append(np.full(len(rows), topic))
        cols["kind"].append(np.array(kinds)[rng.integers(0, len(kinds), len(rows))])
        cols["touchpoint"].append(np.full(len(rows), tp))
        cols["text"].append(np.array(_texts(rng, topic, len(rows)), dtype=object))
        cols["ts"].append(base + rng.integers(600, 2 * DAY, len(rows)))
    fb = {k: np.concatenate(v) for k, v in cols.items()}
    # transactional surveys without text, so KPIs have volume at several touchpoints
    bought = np.flatnonzero(conv & (rng.random(len(conv)) < 0.25))
    fb = _append(fb, bought, "survey", "Purchase", jr["t_buy"][bought] + DAY, "nps_only")
    eff = np.flatnonzero(jr["friction"] & (rng.random(len(conv)) < 0.12))
    fb = _append(fb, eff, "survey", b.FRICTION, jr["friction_ts"][eff] + 3600, "ces_only")
    fb["customer"] = jr["cust"][fb["row"]]
    _scores(rng, fb, jr)
    return fb


def _append(fb, rows, kind, tp, ts, topic):
    extra = {
        "row": rows,
        "topic": np.full(len(rows), topic),
        "kind": np.full(len(rows), kind),
        "touchpoint": np.full(len(rows), tp),
        "text": np.full(len(rows), None, dtype=object),
        "ts": ts,
    }
    return {k: np.concatenate([fb[k], extra[k]]) for k in fb}


def _scores(rng: np.random.Generator, fb: dict, jr: dict) -> None:
    """NPS, CSAT and CES on the survey rows, driven by the topic and the journey."""
    n = len(fb["row"])
    sentiment = np.array([TOPICS[t][0] if t in TOPICS else 0.0 for t in fb["topic"]])
    bad = jr["late"][fb["row"]] | jr["friction_loop"][fb["row"]]
    sentiment = np.where(fb["topic"] == "nps_only", np.where(bad, -0.6, 0.5), sentiment)
    survey = fb["kind"] == "survey"
    tp = fb["touchpoint"]
    nps = np.clip(np.round(rng.normal(7.6 + 2.2 * sentiment, 1.4)), 0, 10)
    csat = np.clip(np.round(rng.normal(3.9 + 1.1 * sentiment, 0.7)), 1, 5)
    effort = np.where(tp == b.FRICTION, -1.8, 0.0) + 0.8 * sentiment
    ces = np.clip(np.round(rng.normal(5.6 + effort, 1.0)), 1, 7)
    asks_nps = survey & np.isin(tp, ["Purchase", "Product review", "Customer service call", "Delivery tracking"])
    asks_csat = survey & np.isin(
        tp, ["Purchase", "Delivery tracking", "Live chat", "Customer service call", "Store visit", b.LIFT]
    )
    asks_ces = survey & np.isin(tp, [b.FRICTION, "Returns portal", "Customer service call"])
    asks_csat &= fb["topic"] != "nps_only"
    fb["nps"] = np.where(asks_nps, nps, np.nan)
    fb["csat"] = np.where(asks_csat, csat, np.nan)
    fb["ces"] = np.where(asks_ces, ces, np.nan)
    stars = np.clip(np.round(rng.normal(3.6 + 1.5 * sentiment, 0.6)), 1, 5)
    fb["stars"] = np.where(fb["kind"] == "review", stars, np.nan)
    del n
