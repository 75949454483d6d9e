"""How figures are written in every export: shares, rates with intervals, durations, scores.

One place so that the HTML, the Markdown and the CSV header notes agree.

Examples
--------
>>> pct(0.1916)
'19.2%'
>>> from journeymap.maps.models import Rate
>>> rate(Rate(k=469, n=2449, value=469 / 2449, low=0.176, high=0.208))
'19.2% (95% CI 17.6%-20.8%; 469 of 2,449)'
>>> duration(347568)
'4.0 d'
>>> score(0.2010, 0.154, 0.248, 506)
'+0.20 (95% CI +0.15 to +0.25; n=506)'

Below :data:`MIN_N_INTERVAL` observations no interval is printed, whatever the document holds:

>>> rate(Rate(k=2, n=3, value=2 / 3, low=0.21, high=0.94))
'66.7% (2 of 3; n too small for an interval)'
>>> score(-0.4, -0.9, 0.1, 3)
'-0.40 (n=3, too small for an interval)'

Emotion is coloured only from ``min_n`` scored items (the document's ``meta.emotion_min_n``):

>>> emotion_class(-0.5, 3), emotion_word(-0.5, 3), emotion_word(-0.5, 12)
('emo-few', 'few comments (3)', 'very negative')
"""

from __future__ import annotations

from typing import Any

from journeymap.maps.models import EMOTION_MIN_N, KPI, Emotion, Estimate, Headline, Lift, Rate

DASH = "–"

MIN_N_INTERVAL = 5
"""Fewest observations behind a figure for its interval to be printed: below it a rate prints its counts
(``2 of 3``) and a score its n, never an interval that would look precise (the document may still hold one)."""

TOO_SMALL = "n too small for an interval"


def interval_ok(n: int | None) -> bool:
    """Whether a figure on ``n`` observations may print its interval (unknown ``n``: yes)."""
    return n is None or n >= MIN_N_INTERVAL


def pct(x: float | None, digits: int = 1) -> str:
    """A fraction as a percentage; an en dash when unknown."""
    return DASH if x is None else f"{x * 100:.{digits}f}%"


def num(x: Any, digits: int = 2) -> str:
    """A count with thousands separators, a float with ``digits`` decimals, text as is."""
    if x is None:
        return DASH
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if x.is_integer() and abs(x) >= 100:
            return f"{int(x):,}"
        return f"{x:,.{digits}f}"
    return str(x)


def signed(x: float | None, digits: int = 2) -> str:
    """A score with its sign (emotion -1..+1, deltas)."""
    return DASH if x is None else f"{x:+.{digits}f}"


def rate(r: Rate | None) -> str:
    """A rate with its Wilson interval and counts."""
    if r is None or r.value is None:
        return DASH if r is None else f"{DASH} (0 of {r.n:,})"
    if not interval_ok(r.n):
        return f"{pct(r.value)} ({r.k:,} of {r.n:,}; {TOO_SMALL})"
    ci = f"95% CI {pct(r.low)}-{pct(r.high)}; " if r.low is not None and r.high is not None else ""
    return f"{pct(r.value)} ({ci}{r.k:,} of {r.n:,})"


def rate_short(r: Rate | None) -> str:
    """A rate in few characters, for the map grid: ``81.0% (78.5-83.2%) 881/1,088``."""
    if r is None or r.value is None:
        return DASH if r is None else f"{DASH} (0/{r.n:,})"
    ci = (
        f" ({r.low * 100:.1f}-{r.high * 100:.1f}%)"
        if r.low is not None and r.high is not None and interval_ok(r.n)
        else ""
    )
    return f"{pct(r.value)}{ci} {r.k:,}/{r.n:,}"


def rate_ci(r: Rate | None) -> str:
    """The interval and counts of a rate on a line of their own: ``95% CI 78.3%-80.9% · 2,944 of 3,698``."""
    if r is None:
        return ""
    if r.value is None:
        return f"0 of {r.n:,}"
    ci = (
        f"95% CI {pct(r.low)}-{pct(r.high)} · " if r.low is not None and r.high is not None and interval_ok(r.n) else ""
    )
    return f"{ci}{r.k:,} of {r.n:,}"


def score(value: float | None, low: float | None, high: float | None, n: int | None, digits: int = 2) -> str:
    """A mean score with its interval and n (none below :data:`MIN_N_INTERVAL` observations)."""
    if value is None:
        return f"{DASH} (n={n or 0:,})"
    if not interval_ok(n):
        return f"{signed(value, digits)} (n={n or 0:,}, too small for an interval)"
    ci = (
        f"95% CI {signed(low, digits)} to {signed(high, digits)}; "
        if low is not None and high is not None
        else "no interval; "
    )
    return f"{signed(value, digits)} ({ci}n={n or 0:,})"


def emotion(e: Emotion | Estimate | None) -> str:
    """An emotion mean (-1..+1) with interval and n."""
    if e is None:
        return DASH
    value = e.mean if isinstance(e, Emotion) else e.value
    return score(value, e.low, e.high, e.n)


def kpi(k: KPI) -> str:
    """A survey KPI with its interval, n and target."""
    digits = 1 if k.name == "ces" else 0
    if k.value is None:
        return f"{k.name.upper()} {DASH} (n={k.n:,})"
    if not interval_ok(k.n):
        ci = f"{TOO_SMALL}; "
    elif k.low is not None and k.high is not None:
        ci = f"95% CI {k.low:.{digits}f} to {k.high:.{digits}f}; "
    else:
        ci = ""
    tgt = ""
    if k.target is not None:
        tgt = f"; target {k.target:g}" + ("" if k.meets_target is None else (" met" if k.meets_target else " not met"))
    small = "; small sample" if k.small_sample else ""
    return f"{k.name.upper()} {k.value:.{digits}f} ({ci}n={k.n:,}{tgt}{small})"


def lift(li: Lift | None) -> str:
    """Exposure lift in percentage points with its interval and q."""
    if li is None or li.effect is None:
        return DASH
    ci = (
        f"95% CI {li.low * 100:+.1f} to {li.high * 100:+.1f} pp; " if li.low is not None and li.high is not None else ""
    )
    q = ("q < 0.001" if li.q < 0.001 else f"q={li.q:.2g}") if li.q is not None else "q n/a"
    sig = ", significant" if li.significant else ", not significant"
    return f"{li.effect * 100:+.1f} pp ({ci}{q}{sig})"


def duration(seconds: float | None) -> str:
    """Seconds in the largest sensible unit."""
    if seconds is None:
        return DASH
    s = float(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(s) >= size:
            return f"{s / size:.1f} {unit}"
    return f"{s:.0f} s"


def headline(value: Any, unit: str) -> str:
    """A headline number in its unit."""
    if value is None:
        return DASH
    if unit == "share":
        return pct(value)
    if unit == "seconds":
        return duration(value)
    if unit == "score":
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"
    return num(value)


def headline_ci(h: Headline) -> str:
    """A headline's interval in its unit (``95% CI 17.7% to 22.0%``); empty without one or below
    :data:`MIN_N_INTERVAL` observations."""
    if h.low is None or h.high is None or not interval_ok(h.n):
        return ""
    return f"95% CI {headline(h.low, h.unit)} to {headline(h.high, h.unit)}"


def headline_target(h: Headline) -> str:
    """A headline's target and verdict: ``target 30.0%, not met``; empty without a target."""
    if h.target is None:
        return ""
    verdict = "" if h.meets_target is None else (", met" if h.meets_target else ", not met")
    if h.key == "csat" and h.target <= 5:  # a CSAT target of 5 or less is a mean rating on 1-5, not a % satisfied
        return f"target mean rating {h.target:g} of 5{verdict}"
    return f"target {headline(h.target, h.unit)}{verdict}"


def emotion_class(mean: float | None, n: int | None = None, min_n: int = EMOTION_MIN_N) -> str:
    """CSS class of the diverging blue (positive) / orange (negative) emotion scale.

    ``emo-few`` (no colour) when ``n`` is given and below ``min_n`` (the document's ``meta.emotion_min_n``).
    """
    if mean is None:
        return "emo-none"
    if n is not None and n < min_n:
        return "emo-few"
    for bound, name in ((-0.3, "emo-neg2"), (-0.05, "emo-neg1"), (0.05, "emo-neutral"), (0.3, "emo-pos1")):
        if mean < bound:
            return name
    return "emo-pos2"


def emotion_word(mean: float | None, n: int | None = None, min_n: int = EMOTION_MIN_N) -> str:
    """The emotion class in words (the label beside the colour); ``few comments (n)`` below ``min_n``."""
    cls = emotion_class(mean, n, min_n)
    if cls == "emo-few":
        return f"few comments ({n:,})"
    return {
        "emo-none": "no feedback",
        "emo-neg2": "very negative",
        "emo-neg1": "negative",
        "emo-neutral": "neutral",
        "emo-pos1": "positive",
        "emo-pos2": "very positive",
    }[cls]


# -- evidence in words (the document's named figures, never shown as key=value) ---------------------
_KPI_LABEL = {"nps": "NPS", "csat": "CSAT", "ces": "Customer effort score"}
_LABELS = {
    "friction": "friction score",
    "reach": "reach",
    "journeys": "journeys",
    "customers": "customers",
    "exit_rate": "touches ending a journey that gives up",
    "expected_exit_rate": "expected",
    "loop_rate": "journeys coming back to it",
    "slow_ratio": "wait around it vs usual",
    "conversion": "conversion",
    "emotion": "emotion",
    "feedback": "feedback items",
    "events": "events",
    "transitions": "transitions",
    "share_of_exits": "share of moves out",
    "target": "target",
}
"""Plain names of evidence figures, for the fallback sentence of figures no rule below knows."""


def _f(figs: dict[str, Any], key: str) -> Any:
    v = figs.get(key)
    return None if v is None or v == "" else v


def _plain_value(key: str, v: Any) -> str:
    if isinstance(v, float) and key in {
        "reach",
        "exit_rate",
        "expected_exit_rate",
        "loop_rate",
        "conversion",
        "share_of_exits",
        "share",
        "exposed_rate",
        "unexposed_rate",
    }:
        return pct(v)
    if key == "emotion" and isinstance(v, (int, float)) and not isinstance(v, bool):
        return signed(float(v))
    return num(v)


def figures_words(figs: dict[str, Any], skip: set[str] | frozenset[str] = frozenset()) -> str:
    """Named figures as 'label value' phrases joined by '; ' (unknown keys: underscores become spaces)."""
    parts = []
    for k, v in figs.items():
        if k in skip or v is None or v == "":
            continue
        label = _LABELS.get(k, k.replace("_", " "))
        parts.append(f"{label} {_plain_value(k, v)}")
    return "; ".join(parts)


def _exits_unscored(figs: dict[str, Any]) -> bool:
    """Exits counted but not scored (``exit_component`` null beside an exit rate): the blueprint has no
    goals, so a journey's last touch is where it ended, not where the customer gave up."""
    return "exit_component" in figs and _f(figs, "exit_component") is None and _f(figs, "exit_rate") is not None


def _keyed_friction_phrases(figs: dict[str, Any]) -> list[tuple[str, str]]:
    """The exit, loop and wait phrases, each with its component's name (``exits``, ``loops``, ``waits``)."""
    out = []
    exit_rate, expected = _f(figs, "exit_rate"), _f(figs, "expected_exit_rate")
    if exit_rate is not None and _exits_unscored(figs):
        out.append(
            (
                "exits",
                f"{pct(exit_rate)} of touches here are the last of a journey that ended (no goals: "
                "not scored as friction)",
            )
        )
    elif exit_rate is not None:
        out.append(
            (
                "exits",
                f"{pct(exit_rate)} of touches here end a journey that gives up"
                + (f" (expected {pct(expected)})" if expected is not None else ""),
            )
        )
    loop, exp_loop = _f(figs, "loop_rate"), _f(figs, "expected_loop_rate")
    if loop:
        out.append(
            (
                "loops",
                f"loop rate (repeat visits in a journey) {pct(loop)}"
                + (f" (expected {pct(exp_loop)})" if exp_loop is not None else ""),
            )
        )
    slow = _f(figs, "slow_ratio")
    if slow is not None and slow >= 1.5:
        out.append(("waits", f"the wait around it is {slow:.1f}× the usual"))
    return out


def _friction_phrases(figs: dict[str, Any]) -> list[str]:
    return [text for _, text in _keyed_friction_phrases(figs)]


def pain_words(figs: dict[str, Any], exits: bool = True, driver: str | None = None, min_n: int = EMOTION_MIN_N) -> str:
    """A pain point's or friction evidence's figures in a sentence (journeys, conversion, emotion).

    ``exits=False`` leaves out the exit rate (when the headline beside it already says it); ``driver``
    (a pain point's ``driver``: ``exits``, ``loops`` or ``waits``) leaves out that component's phrase instead,
    the one its headline says. ``min_n``: the document's ``meta.emotion_min_n``.
    """
    skip = driver if driver is not None else (None if exits else "exits")
    parts = [text for key, text in _keyed_friction_phrases(figs) if key != skip]
    journeys, reach = _f(figs, "journeys"), _f(figs, "reach")
    if journeys is not None:
        parts.append(f"{num(journeys)} journeys" + (f" ({pct(reach)} of all)" if reach is not None else ""))
    conv = _f(figs, "conversion")
    if conv is not None:
        parts.append(f"{pct(conv)} of them convert")
    emo, n = _f(figs, "emotion"), _f(figs, "feedback")
    if emo is not None:
        if emotion_class(emo, None if n is None else int(n), min_n) == "emo-few":
            parts.append(f"emotion {signed(emo)} from few comments ({num(n or 0)})")
        else:
            parts.append(f"emotion {signed(emo)} ({emotion_word(emo)}; {num(n or 0)} feedback items)")
    return "; ".join(parts)


def friction_words(components: dict[str, Any]) -> str:
    """A touchpoint's friction components as a sentence (exit, loop and wait figures against expected)."""
    parts = _friction_phrases(components)
    touches, exits = _f(components, "touches"), _f(components, "exits")
    how = "ended" if _exits_unscored(components) else "gives up"
    if touches is not None:
        parts.append(
            f"{num(int(touches))} touches"
            + (f", {num(int(exits))} of them the last of a journey that {how}" if exits is not None else "")
        )
    # the score is the sum of the components' positive parts, so each share is of those parts: a negative
    # component (better than expected) adds nothing to the score and takes nothing from the others' shares
    # (summing the signed components made the shares of the rest exceed 100%); null components add nothing
    shares = {k: max(_f(components, f"{k}_component") or 0.0, 0.0) for k in ("exit", "loop", "slow")}
    total = sum(shares.values())
    if total > 0:
        names = {"exit": "drop-outs", "loop": "loops", "slow": "waits"}
        parts.append("score from " + ", ".join(f"{names[k]} {v / total:.0%}" for k, v in shares.items() if v > 0))
    return "; ".join(parts) or DASH


def _kpi_words(figs: dict[str, Any]) -> str:
    name = str(_f(figs, "kpi") or "")
    label = _KPI_LABEL.get(name, name.upper())
    value, mean, low, high = _f(figs, "value"), _f(figs, "mean"), _f(figs, "low"), _f(figs, "high")
    n, target = _f(figs, "n"), _f(figs, "target")
    if not interval_ok(None if n is None else int(n)):
        low = high = None
    if name == "csat" and value is not None:
        text = f"{label} {value:.0f}% satisfied"
        ci = f"95% CI {low:.0f}%-{high:.0f}%; " if low is not None and high is not None else ""
        if mean is not None:
            text += f", mean rating {mean:.1f}"
    else:
        digits = 1 if name == "ces" else 0
        text = f"{label} {num(value, digits) if value is not None else DASH}"
        ci = f"95% CI {low:.{digits}f} to {high:.{digits}f}; " if low is not None and high is not None else ""
    text += f" ({ci}n={num(n or 0)})"
    if target is not None:
        text += f" against a target of {target:g}"
    return text


def evidence_words(rule_id: str, figs: dict[str, Any]) -> str:
    """An opportunity's evidence figures in plain words, by the rule that fired.

    >>> evidence_words("back_flow", {"transitions": 216, "share_of_exits": 0.083, "from_stage": "purchase",
    ...                              "to_stage": "consideration"})
    '216 transitions (8.3% of moves out) go back from purchase to consideration'
    """
    if rule_id == "fix_friction":
        text = pain_words(figs)
        theme = _f(figs, "theme")
        if theme:
            text += f"; top complaint: \u201c{theme}\u201d ({num(_f(figs, 'theme_comments') or 0)} comments)"
        rank = _f(figs, "pain_rank")
        return (f"pain point #{rank}: " if rank is not None else "") + text
    if rule_id == "drive_traffic":
        exp, unexp, eff = _f(figs, "exposed_rate"), _f(figs, "unexposed_rate"), _f(figs, "effect")
        lo, hi, q, reach = _f(figs, "effect_low"), _f(figs, "effect_high"), _f(figs, "q"), _f(figs, "reach")
        text = f"journeys that include it convert at {pct(exp)} vs {pct(unexp)} without"
        if eff is not None:
            text += f" ({eff * 100:+.1f} pp" + (
                f", 95% CI {lo * 100:+.1f} to {hi * 100:+.1f} pp" if lo is not None and hi is not None else ""
            )
            text += (f"; q {'< 0.001' if q < 0.001 else f'= {q:.2g}'}" if q is not None else "") + ")"
        if reach is not None:
            text += f"; only {pct(reach)} of journeys reach it"
        return text
    if rule_id == "kpi_below_target":
        return _kpi_words(figs)
    if rule_id == "conversion_below_target":
        conv, lo, hi = _f(figs, "conversion"), _f(figs, "low"), _f(figs, "high")
        text = f"{pct(conv)} of {num(_f(figs, 'journeys') or 0)} journeys convert"
        n = _f(figs, "journeys")
        if lo is not None and hi is not None and interval_ok(None if n is None else int(n)):
            text += f" (95% CI {pct(lo)}-{pct(hi)})"
        return text + (f"; target {pct(_f(figs, 'target'))}" if _f(figs, "target") is not None else "")
    if rule_id == "back_flow":
        return (
            f"{num(_f(figs, 'transitions') or 0)} transitions ({pct(_f(figs, 'share_of_exits'))} of moves out) "
            f"go back from {_f(figs, 'from_stage') or '?'} to {_f(figs, 'to_stage') or '?'}"
        )
    if rule_id == "no_data":
        return "no event reaches it in the period"
    if rule_id == "unmapped":
        return f"{num(_f(figs, 'events') or 0)} events from {num(_f(figs, 'customers') or 0)} customers"
    return figures_words(figs)


def words(key: Any) -> str:
    """An identifier as words: ``last_non_direct`` -> ``last non direct``, ``in_progress`` -> ``in progress``."""
    return str(key).replace("_", " ")


def feature(name: str) -> str:
    """A driver feature in words: ``age_band=65+`` -> ``age band: 65+``; touchpoint names as they are."""
    if "=" not in name:
        return name
    key, value = name.split("=", 1)
    return f"{words(key)}: {value}"


def qvalue(q: float | None) -> str:
    """An adjusted p-value for readers: ``< 0.001`` below a thousandth, else two significant digits."""
    if q is None:
        return DASH
    return "< 0.001" if q < 0.001 else f"{q:.2g}"


def plain_note(text: str) -> str:
    """A note with any Python dict it quotes (``{'lookback': '30d', ...}``) written as words."""
    import ast
    import re

    def repl(m: re.Match[str]) -> str:
        try:
            d = ast.literal_eval(m.group(0))
        except (ValueError, SyntaxError):
            return m.group(0)
        if not isinstance(d, dict):
            return m.group(0)
        return ", ".join(f"{words(k)} {num(v) if not isinstance(v, str) else v}" for k, v in d.items())

    return re.sub(r"\{[^{}]*\}", repl, text or "")


FILTERS = {
    "pct": pct,
    "num": num,
    "signed": signed,
    "rate": rate,
    "rate_short": rate_short,
    "rate_ci": rate_ci,
    "score": score,
    "emotion": emotion,
    "kpi": kpi,
    "lift": lift,
    "duration": duration,
    "headline": headline,
    "headline_ci": headline_ci,
    "headline_target": headline_target,
    "interval_ok": interval_ok,
    "emotion_class": emotion_class,
    "emotion_word": emotion_word,
    "pain_words": pain_words,
    "friction_words": friction_words,
    "figures_words": figures_words,
    "words": words,
    "feature": feature,
    "qvalue": qvalue,
    "plain_note": plain_note,
}
"""Jinja filters, by name."""
