"""Word lists and patterns for the lexicon sentiment and emotion scorers (package data).

The files are plain text, written by hand for customer-service text, and read once:

- ``sentiment.txt``: word and valence (-4..4); a trailing ``*`` matches any ending.
- ``patterns.txt``: valence, a tab, a regex on lower-cased text (service failures, waiting,
  cancellations, thanks and praise).
- ``emoji.txt``: emoji and emoticons with a valence.
- ``normalise.txt``: regex repairs applied before scoring.
- ``emotions.json``: per emotion, words and regex patterns with weights.

Examples
--------
>>> words()["worst"]
-3.2
>>> len(patterns()) > 50
True
"""

from __future__ import annotations

import functools
import json
import re
from importlib.resources import files


def _lines(name: str) -> list[str]:
    text = (files(__name__) / name).read_text(encoding="utf-8")
    return [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


@functools.cache
def words() -> dict[str, float]:
    """Whole words and their valence (entries ending in ``*`` are in :func:`prefixes`)."""
    out = {}
    for ln in _lines("sentiment.txt"):
        word, value = ln.rsplit(None, 1)
        if not word.endswith("*"):
            out[word] = float(value)
    return out


@functools.cache
def prefixes() -> tuple[tuple[str, float], ...]:
    """Word stems (``disappoint*``) and their valence, longest first."""
    out = []
    for ln in _lines("sentiment.txt"):
        word, value = ln.rsplit(None, 1)
        if word.endswith("*"):
            out.append((word[:-1], float(value)))
    return tuple(sorted(out, key=lambda p: -len(p[0])))


@functools.cache
def patterns() -> tuple[tuple[re.Pattern, float], ...]:
    """Phrase patterns and their valence, in file order (earlier ones win where they overlap)."""
    out = []
    for ln in _lines("patterns.txt"):
        value, regex = ln.split("\t", 1)
        out.append((re.compile(regex), float(value)))
    return tuple(out)


@functools.cache
def emoji() -> dict[str, float]:
    """Emoji and emoticons with their valence."""
    out = {}
    for ln in _lines("emoji.txt"):
        token, value = ln.rsplit(None, 1)
        out[token.strip()] = float(value)
    return out


@functools.cache
def normalisers() -> tuple[tuple[re.Pattern, str], ...]:
    """Regex repairs applied to a text before it is scored."""
    out = []
    for ln in _lines("normalise.txt"):
        regex, repl = ln.split("\t", 1)
        out.append((re.compile(regex, re.IGNORECASE), repl))
    return tuple(out)


@functools.cache
def emotions() -> dict[str, dict]:
    """Per emotion: ``words`` (word -> weight) and ``patterns`` (regex -> weight)."""
    return json.loads((files(__name__) / "emotions.json").read_text(encoding="utf-8"))
