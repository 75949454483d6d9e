"""Vectorised simulation of the demo business: every customer stepped at once.

Each customer belongs to a persona; a journey is a walk on the persona's Markov
chain over the pre-purchase touchpoints (see :mod:`journeymap.demo.business`)
until ``Purchase`` or exit. A purchase is followed by retention and advocacy
touches and, with the persona's repeat chance, another journey weeks later;
some customers who left come back after more than the inactivity gap. The loop
runs over steps and journeys, never over customers or events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from journeymap.demo import business as b

START = np.datetime64("2025-01-01T00:00:00", "s").astype(np.int64)
END = np.datetime64("2025-12-31T23:59:59", "s").astype(np.int64)
DAY = 86400
MAX_STEPS = 30
MAX_JOURNEYS = 5

TP_INDEX = {t.name: i for i, t in enumerate(b.TOUCHPOINTS)}
CHAIN_TO_TP = np.array([TP_INDEX[n] for n in b.CHAIN] + [-1])
CHANNELS = tuple(dict.fromkeys([t.channel for t in b.TOUCHPOINTS] + ["direct", "app", "store"]))
CHANNEL_INDEX = {c: i for i, c in enumerate(CHANNELS)}
TP_CHANNEL = np.array([CHANNEL_INDEX[t.channel] for t in b.TOUCHPOINTS])
ONWARD = np.array([b.S["Basket"]] * b.EXIT)
"""Where a customer who used the size guide goes instead of leaving (the planted lift)."""
ONWARD[[b.S["Basket"], b.S[b.FRICTION], b.S["Checkout"]]] = [b.S[b.FRICTION], b.S["Checkout"], b.PURCHASE]


@dataclass
class Sim:
    """Columns of the simulated events and per-journey experiences (numpy arrays)."""

    events: dict[str, np.ndarray]
    journeys: dict[str, np.ndarray]


class _Log:
    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {}

    def add(self, **cols: np.ndarray) -> None:
        for k, v in cols.items():
            self.parts.setdefault(k, []).append(np.asarray(v))

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) for k, v in self.parts.items()}


def _gaps(rng: np.random.Generator, src: np.ndarray) -> np.ndarray:
    """Seconds between a touch in chain state ``src`` and the next one."""
    n = len(src)
    gap = rng.lognormal(np.log(75.0), 0.9, n)
    ads = src <= b.S["Influencer post"]
    gap[ads] = rng.lognormal(np.log(6.0), 0.4, int(ads.sum()))
    later = ~ads & (rng.random(n) < 0.15)
    gap[later] = rng.uniform(0.3, 3.0, int(later.sum())) * DAY
    slow = src == b.S[b.FRICTION]
    gap[slow] = rng.lognormal(np.log(1500.0), 1.0, int(slow.sum()))
    later = slow & (rng.random(n) < 0.5)
    gap[later] = rng.uniform(3.0, 14.0, int(later.sum())) * DAY
    return gap.astype(np.int64) + 1


def simulate(persona: np.ndarray, rng: np.random.Generator) -> Sim:
    """Simulate every journey of customers whose persona indexes are ``persona``."""
    n = len(persona)
    cum = b.transition_matrices()
    entry = b.entry_matrix()
    ev, jr = _Log(), _Log()
    session = np.zeros(n, dtype=np.int64)
    t0 = START + (rng.random(n) ** 1.2 * (END - START - 20 * DAY)).astype(np.int64)
    t0 += (rng.normal(14, 3.5, n).clip(0, 23.5) * 3600).astype(np.int64) - t0 % DAY
    who = np.arange(n)
    start = t0
    bought = np.zeros(n, dtype=bool)
    for j in range(MAX_JOURNEYS):
        if not len(who):
            break
        _walk(rng, who, start, persona[who], j, bought[who], cum, entry, session, ev, jr)
        last = jr.parts
        conv, t_end = last["converted"][-1], last["t_end"][-1]
        bought[who[conv]] = True
        again = rng.random(len(who)) < np.where(conv, _repeat(persona[who]), 0.3)
        gap = np.where(conv, rng.uniform(14, 90, len(who)), rng.uniform(35, 120, len(who))) * DAY
        start = t_end + gap.astype(np.int64)
        keep = again & (start < END)
        who, start = who[keep], start[keep]
        session[who] += 1
    events = ev.arrays()
    inside = events["ts"] <= END
    return Sim({k: v[inside] for k, v in events.items()}, jr.arrays())


def _repeat(persona: np.ndarray) -> np.ndarray:
    return np.array([p.repeat for p in b.PERSONAS])[persona]


def _walk(rng, who, start, persona, j, bought, cum, entry, session, ev, jr) -> None:
    m = len(who)
    t = start.copy()
    if j > 0:  # a third of the returning buyers come back through a reorder reminder email
        rem = bought & (rng.random(m) < 0.35)
        ev.add(
            cust=who[rem],
            tp=np.full(rem.sum(), TP_INDEX["Reorder reminder"]),
            ts=t[rem],
            journey=np.full(rem.sum(), j),
            session=session[who[rem]],
            channel=np.full(rem.sum(), CHANNEL_INDEX["email"]),
            revenue=np.full(rem.sum(), np.nan),
        )
        t[rem] += rng.integers(60, 3 * 3600, rem.sum())
    state = (rng.random(m)[:, None] > entry[persona]).sum(axis=1)
    prev = np.full(m, -1)
    flags = {k: np.zeros(m, dtype=bool) for k in ("friction", "friction_loop", "lift", "chat", "store")}
    friction_ts = np.zeros(m, dtype=np.int64)
    steps = np.zeros(m, dtype=np.int64)
    exit_state = np.full(m, -1)
    alive = np.ones(m, dtype=bool)
    first = True
    for _ in range(MAX_STEPS):
        idx = np.flatnonzero(alive)
        if not len(idx):
            break
        s = state[idx]
        chan = TP_CHANNEL[CHAIN_TO_TP[s]].copy()
        if first:
            chan[s == b.S["Homepage"]] = CHANNEL_INDEX["direct"]
        is_buy = s == b.PURCHASE
        chan[is_buy] = _purchase_channel(persona[idx[is_buy]], prev[idx[is_buy]])
        revenue = np.full(len(idx), np.nan)
        value = np.array([p.order_value for p in b.PERSONAS])[persona[idx[is_buy]]]
        revenue[is_buy] = np.round(value * rng.lognormal(0, 0.45, int(is_buy.sum())), 2)
        ev.add(
            cust=who[idx],
            tp=CHAIN_TO_TP[s],
            ts=t[idx],
            journey=np.full(len(idx), j),
            session=session[who[idx]],
            channel=chan,
            revenue=revenue,
        )
        steps[idx] += 1
        at_f = s == b.S[b.FRICTION]
        flags["friction_loop"][idx] |= at_f & flags["friction"][idx]
        flags["friction"][idx] |= at_f
        friction_ts[idx[at_f]] = t[idx[at_f]]
        flags["lift"][idx] |= s == b.S[b.LIFT]
        flags["chat"][idx] |= s == b.S["Live chat"]
        flags["store"][idx] |= s == b.S["Store visit"]
        first = False
        done = is_buy
        nxt = (rng.random(len(idx))[:, None] > cum[persona[idx], s]).sum(axis=1)
        gap = _gaps(rng, s)
        session[who[idx]] += gap > 1800
        nxt[done] = b.PURCHASE
        # the planted lift: after the size guide, 60% of the would-be exits go on to the next step
        rescue = flags["lift"][idx] & (nxt == b.EXIT) & (rng.random(len(idx)) < 0.6)
        nxt[rescue] = ONWARD[s[rescue]]
        exit_state[idx[nxt == b.EXIT]] = s[nxt == b.EXIT]
        alive[idx[done | (nxt == b.EXIT)]] = False
        moving = ~done & (nxt != b.EXIT)
        prev[idx[moving]] = s[moving]
        t[idx[moving]] += gap[moving]
        state[idx[moving]] = nxt[moving]
    converted = state == b.PURCHASE
    post = _after_purchase(
        rng, who[converted], t[converted], persona[converted], flags["friction_loop"][converted], j, session, ev
    )
    t_end = t.copy()
    t_end[converted] = post.pop("t_end")
    full = {k: np.zeros(m, dtype=bool) for k in post}
    for k, v in post.items():
        full[k][converted] = v
    jr.add(
        cust=who,
        journey=np.full(m, j),
        persona=persona,
        t_start=start,
        t_end=t_end,
        t_buy=t,
        converted=converted,
        steps=steps,
        exit_state=exit_state,
        friction_ts=friction_ts,
        **flags,
        **full,
    )


def _purchase_channel(persona: np.ndarray, prev: np.ndarray) -> np.ndarray:
    chan = np.full(len(persona), CHANNEL_INDEX["web"])
    app = np.array([p.purchase_channel == "app" for p in b.PERSONAS])[persona]
    chan[app] = CHANNEL_INDEX["app"]
    chan[prev == b.S["Store visit"]] = CHANNEL_INDEX["store"]
    chan[prev == b.S["App browse"]] = CHANNEL_INDEX["app"]
    return chan


def _after_purchase(rng, who, t, persona, looped, j, session, ev) -> dict[str, np.ndarray]:
    """Retention and advocacy touches after a purchase; returns what happened, per buyer."""
    m = len(who)
    loyal = persona == 1
    late = rng.random(m) < 0.12
    plan = [
        ("Order confirmation", np.ones(m, dtype=bool), (30, 120)),
        ("Delivery tracking", rng.random(m) < 0.7, (3 * 3600, DAY)),
        ("Delivery tracking", late & (rng.random(m) < 0.8), (DAY, 2 * DAY)),
        ("Customer service call", rng.random(m) < np.where(late, 0.55, 0.06), (DAY + 3600, 2 * DAY)),
        ("Returns portal", rng.random(m) < 0.12, (DAY, 2 * DAY)),
        ("Loyalty programme", rng.random(m) < np.where(loyal, 0.6, 0.15), (600, DAY)),
        ("Product review", rng.random(m) < np.where(late | looped, 0.3, 0.18), (DAY, 2 * DAY)),
        ("Referral", rng.random(m) < np.where(loyal, 0.2, 0.05) * ~late, (DAY, 2 * DAY)),
        ("Social mention", rng.random(m) < np.where(late, 0.12, 0.04), (DAY, 2 * DAY)),
    ]
    out: dict[str, np.ndarray] = {"late": late}
    t_end = t.copy()
    for name, mask, (lo, hi) in plan:
        when = t[mask] + rng.integers(lo, hi, int(mask.sum()))
        k = int(mask.sum())
        ev.add(
            cust=who[mask],
            tp=np.full(k, TP_INDEX[name]),
            ts=when,
            journey=np.full(k, j),
            session=session[who[mask]] + 1 + np.arange(k) % 1,
            channel=np.full(k, TP_CHANNEL[TP_INDEX[name]]),
            revenue=np.full(k, np.nan),
        )
        t_end[mask] = np.maximum(t_end[mask], when)
        key = {
            "Customer service call": "called",
            "Returns portal": "returned",
            "Product review": "reviewed",
            "Social mention": "mentioned",
            "Loyalty programme": "loyalty",
            "Referral": "referred",
        }.get(name)
        if key:
            out[key] = mask
    session[who] += 2
    out["t_end"] = t_end
    return out
