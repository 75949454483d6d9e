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
"""

from __future__ import annotations

from typing import Any

from journeymap.maps.models import KPI, Emotion, Estimate, Lift, Rate

DASH = "–"


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
    ci = f"95% CI {pct(r.low)}-{pct(r.high)}; " if r.low is not None and r.high is not None else ""
    return f"{pct(r.value)} ({ci}{r.k:,} of {r.n:,})"


def rate_short(r: Rate | None) -> str:
    """A rate in few characters, for the map grid: ``81.0% (78.5-83.2%) 881/1,088``."""
    if r is None or r.value is None:
        return DASH if r is None else f"{DASH} (0/{r.n:,})"
    ci = f" ({r.low * 100:.1f}-{r.high * 100:.1f}%)" if r.low is not None and r.high is not None else ""
    return f"{pct(r.value)}{ci} {r.k:,}/{r.n:,}"


def score(value: float | None, low: float | None, high: float | None, n: int | None, digits: int = 2) -> str:
    """A mean score with its interval and n (``n too small`` when there is no interval)."""
    if value is None:
        return f"{DASH} (n={n or 0:,})"
    ci = (f"95% CI {signed(low, digits)} to {signed(high, digits)}; " if low is not None and high is not None
          else "no interval; ")
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
    ci = (f"95% CI {k.low:.{digits}f} to {k.high:.{digits}f}; " if k.low is not None and k.high is not None
          else "")
    tgt = ""
    if k.target is not None:
        tgt = f"; target {k.target:g}" + ("" if k.meets_target is None else (" met" if k.meets_target else " not met"))
    small = "; small sample" if k.small_sample else ""
    return f"{k.name.upper()} {k.value:.{digits}f} ({ci}n={k.n:,}{tgt}{small})"


def lift(li: Lift | None) -> str:
    """Exposure lift in percentage points with its interval and q."""
    if li is None or li.effect is None:
        return DASH
    ci = f"95% CI {li.low * 100:+.1f} to {li.high * 100:+.1f} pp; " if li.low is not None and li.high is not None else ""
    q = f"q={li.q:.2g}" if li.q is not None else "q n/a"
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


def emotion_class(mean: float | None) -> str:
    """CSS class of the diverging blue (positive) / orange (negative) emotion scale."""
    if mean is None:
        return "emo-none"
    for bound, name in ((-0.3, "emo-neg2"), (-0.05, "emo-neg1"), (0.05, "emo-neutral"), (0.3, "emo-pos1")):
        if mean < bound:
            return name
    return "emo-pos2"


def emotion_word(mean: float | None) -> str:
    """The emotion class in words (the label beside the colour)."""
    return {"emo-none": "no feedback", "emo-neg2": "very negative", "emo-neg1": "negative",
            "emo-neutral": "neutral", "emo-pos1": "positive", "emo-pos2": "very positive"}[emotion_class(mean)]


FILTERS = {
    "pct": pct, "num": num, "signed": signed, "rate": rate, "rate_short": rate_short, "score": score, "emotion": emotion, "kpi": kpi,
    "lift": lift, "duration": duration, "headline": headline, "emotion_class": emotion_class,
    "emotion_word": emotion_word,
}
"""Jinja filters, by name."""
