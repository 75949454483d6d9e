"""Emotions that matter on a journey, scored per text: delight, trust, frustration,
confusion, anxiety, disappointment.

How they are derived (lexicon-based, no model, no download): each emotion has hand-written
cue words and phrase patterns with weights (``lexicon/emotions.json``): delight from praise
and joy words, emoji and "above and beyond"; trust from reliability, safety and "kept us
informed"; frustration from anger words, waiting and hold times, repeat failures ("yet
again", "still no"), "no one answers", repeated ``!!``/``??``; confusion from questions,
"don't understand", "how do I", conflicting information; anxiety from worry words, urgency,
"will I make my connection", tight connections; disappointment from "disappointed",
"expected better", "let us down", lost or damaged bags. A negated delight or trust cue ("not
happy", "not reliable") counts towards disappointment instead. The sum of a text's cue
weights ``w`` becomes a score ``1 - exp(-w)`` in 0..1; the overall lexicon sentiment then
damps emotions of the opposite sign (delight in a very negative text is mostly sarcasm).

Examples
--------
>>> s = EmotionScorer().score_dict(["Still on hold after 2 hours!!", "How do I change my seat?"])
>>> bool(s["frustration"][0] > 0.5), bool(s["confusion"][1] > 0.5)
(True, True)
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from journeymap.ranking import rank_value
from journeymap.voice import lexicon
from journeymap.voice.sentiment import LexiconSentiment

EMOTIONS = ("delight", "trust", "frustration", "confusion", "anxiety", "disappointment")
"""The emotion columns, in order."""

_POSITIVE = ("delight", "trust")
_NEGATIVE = ("frustration", "disappointment")
_NEGATORS = frozenset(
    "not no never isnt isn't wasnt wasn't arent aren't dont don't doesnt doesn't didnt didn't "
    "cant can't cannot wont won't hardly".split()
)
_TOKEN = re.compile(r"[a-z][a-z'\-]*[a-z]|[a-z]|[^\w\s]")


class EmotionScorer:
    """Score texts for the six journey emotions (each in 0..1).

    Examples
    --------
    >>> sc = EmotionScorer()
    >>> m = sc.score(["I am so disappointed, you lost my bag"])
    >>> m.shape
    (1, 6)
    >>> EMOTIONS[int(m[0].argmax())]
    'disappointment'
    """

    def __init__(self) -> None:
        data = lexicon.emotions()
        self._words: dict[str, list[tuple[int, float]]] = {}
        self._stems: list[tuple[str, int, float]] = []
        self._multi: dict[str, list[tuple[int, float]]] = {}  # emoji / emoticons: not words
        self._patterns: list[tuple[re.Pattern, int, float, bool]] = []
        for j, emo in enumerate(EMOTIONS):
            for word, w in data[emo]["words"].items():
                if word.endswith("*"):
                    self._stems.append((word[:-1], j, w))
                elif re.fullmatch(r"[a-z][a-z'\-]*", word):
                    self._words.setdefault(word, []).append((j, w))
                else:
                    self._multi.setdefault(word, []).append((j, w))
            for regex, w in data[emo]["patterns"].items():
                # a leading \b stops re from skipping ahead; it is checked in _chunk instead
                bounded = regex.startswith(r"\b")
                src = regex[2:] if bounded else regex
                self._patterns.append((re.compile(src, re.MULTILINE), j, w, bounded))
        self._sentiment = LexiconSentiment()
        self._multi_re = re.compile(
            "|".join(re.escape(t) for t in sorted(self._multi, key=len, reverse=True))
        )

    def score(self, texts: Sequence[str], *, sentiment: np.ndarray | None = None) -> np.ndarray:
        """An ``n × 6`` float array in 0..1, columns in :data:`EMOTIONS` order.

        ``sentiment`` may pass the texts' lexicon sentiment when it is already computed.
        """
        texts = list(texts)
        if sentiment is None:
            sentiment = self._sentiment.score(texts)
        out = np.zeros((len(texts), len(EMOTIONS)), dtype=np.float64)
        for start in range(0, len(texts), 2000):
            part = slice(start, start + 2000)
            out[part] = self._chunk(texts[part], np.asarray(sentiment)[part])
        return out

    def score_dict(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Scores as ``{emotion: array}``."""
        m = self.score(texts)
        return {e: m[:, j] for j, e in enumerate(EMOTIONS)}

    def _chunk(self, texts: list, sentiment: np.ndarray) -> np.ndarray:
        prepared = [self._sentiment._prepare(t).lower() for t in texts]
        weights = np.zeros((len(texts), len(EMOTIONS)), dtype=np.float64)
        big = "\n".join(prepared)
        starts = np.cumsum([0] + [len(p) + 1 for p in prepared])
        for regex, j, w, bounded in self._patterns:
            hits = [
                m.start()
                for m in regex.finditer(big)
                if not (bounded and m.start() and big[m.start() - 1].isalnum())
            ]
            if hits:
                docs = np.searchsorted(starts, hits, side="right") - 1
                np.add.at(weights[:, j], docs, w)
        if self._multi:
            counts = Counter(
                (int(np.searchsorted(starts, m.start(), side="right")) - 1, m.group(0))
                for m in self._multi_re.finditer(big)
            )
            for (doc, token), n in counts.items():
                for j, w in self._multi[token]:
                    weights[doc, j] += w * min(n, 3) ** 0.5
        for i, text in enumerate(prepared):
            if text:
                self._words_into(text, weights[i])
        scores = 1.0 - np.exp(-weights)
        for e in _POSITIVE:
            j = EMOTIONS.index(e)
            scores[:, j] *= np.where(sentiment < -0.3, 0.4, 1.0)
        for e in _NEGATIVE:
            j = EMOTIONS.index(e)
            scores[:, j] *= np.where(sentiment > 0.3, 0.5, 1.0)
        return scores

    def _words_into(self, text: str, row: np.ndarray) -> None:
        tokens = _TOKEN.findall(text)
        disappointment = EMOTIONS.index("disappointment")
        for i, tok in enumerate(tokens):
            cues = self._words.get(tok)
            if cues is None:
                cues = [(j, w) for stem, j, w in self._stems if tok.startswith(stem)]
            if not cues:
                continue
            negated = any(t in _NEGATORS for t in tokens[max(0, i - 2) : i])
            for j, w in cues:
                if negated and EMOTIONS[j] in _POSITIVE:
                    row[disappointment] += 0.6 * w
                elif not negated:
                    row[j] += w


def score_emotions(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Emotion scores (0..1) of each text, as ``{emotion: array}``.

    >>> round(float(score_emotions(["I'm worried I will miss my connection"])["anxiety"][0]), 1) > 0.5
    True
    """
    return _scorer().score_dict(texts)


def dominant(scores: Sequence[float], *, threshold: float = 0.4) -> str | None:
    """The strongest emotion of one text's scores, or None when none reaches ``threshold``.

    >>> dominant([0.1, 0.0, 0.8, 0.2, 0.0, 0.3])
    'frustration'
    >>> dominant([0.1] * 6) is None
    True
    """
    values = list(scores)
    j = min(range(len(values)), key=lambda i: (-rank_value(values[i]), i))  # rounded, then EMOTIONS order
    return EMOTIONS[j] if values[j] >= threshold and not math.isnan(values[j]) else None


_SCORER: EmotionScorer | None = None


def _scorer() -> EmotionScorer:
    global _SCORER
    if _SCORER is None:
        _SCORER = EmotionScorer()
    return _SCORER
