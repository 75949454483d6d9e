"""Emotions that matter on a journey, scored per text: delight, trust, frustration,
confusion, anxiety, disappointment.

How they are derived (lexicon-based, no model, no download): each emotion has hand-written
cue words and phrase patterns with weights (``lexicon/emotions.json``): delight from praise
and joy words, emoji and "above and beyond"; trust from reliability, safety, "kept us
informed", recommending and coming back; frustration from anger words, waiting and hold
times, repeat failures ("yet again", "still no"), "no one answers", repeated ``!!``/``??``;
confusion from "don't understand", "how do I", yes/no questions about a rule ("will I still
get ...?"), conflicting information; anxiety from worry words, urgency, "will I make my
connection", tight connections; disappointment from "disappointed", "expected better", "let us
down", lost or damaged bags, taking one's business elsewhere.

Before the cues are counted:

- **sarcasm** frames ("thanks for nothing", "great, another delay", "love how you ...",
  "icing on the cake") add to frustration and cancel the text's delight and trust cues;
- **idioms** are blanked out, so their words count for nothing ("you have no idea how much",
  "hope you have a great day", "no worries"), or count where they mean something: "no idea"
  is confusion only when the writer has none ("I have no idea whether my bag arrived", which
  is anxiety too), frustration when it is someone else ("your agent had no idea").

A negated cue (up to three words back, not across punctuation) counts differently: a negated
delight or trust cue ("not happy", "not reliable") counts towards disappointment, a negated
frustration, anxiety or disappointment word ("not disappointed", "don't worry") counts for
nothing. A **lone praise word in a complaint** is not delight: when a text's delight comes
from a single cue and the text carries a clear complaint (frustration and disappointment cues
of weight 0.8 or more, or a lexicon sentiment below -0.3), its delight is 0. The sum of a
text's cue weights ``w`` becomes a score ``1 - exp(-w)`` in 0..1; the overall lexicon
sentiment then damps emotions of the opposite sign (delight in a very negative text is mostly
sarcasm). How well this does on a hand-labelled set: docs/voice.md, "Emotions".

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
from typing import TypeVar

import numpy as np

from journeymap.ranking import rank_value
from journeymap.stats import EMOTION_THRESHOLD
from journeymap.voice import lexicon
from journeymap.voice.sentiment import LexiconSentiment

EMOTIONS = ("delight", "trust", "frustration", "confusion", "anxiety", "disappointment")
"""The emotion columns, in order."""

_V = TypeVar("_V")  # what a pattern of :func:`_spans` stands for

_POSITIVE = ("delight", "trust")
_NEGATIVE = ("frustration", "disappointment")
_NEGATED = ("frustration", "anxiety", "disappointment")  # negated words of these count for nothing
_NEGATORS = frozenset(
    "not no never isnt isn't wasnt wasn't arent aren't dont don't doesnt doesn't didnt didn't "
    "cant can't cannot wont won't hardly n't lack without nothing nor neither barely".split()
)
_LONE_PRAISE_COMPLAINT = 0.8  # frustration + disappointment weight that makes a lone praise cue a complaint
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
        # sarcasm frames (each: frustration weight) and idioms (each: {emotion index: weight});
        # where two overlap, the earlier one in the file wins
        sarcasm = data.get("sarcasm", {}).get("patterns", {})
        self._sarcasm: list[tuple[re.Pattern, bool, float]] = [(*_bounded(r), w) for r, w in sarcasm.items()]
        idioms = data.get("idioms", {}).get("patterns", {})
        self._idioms: list[tuple[re.Pattern, bool, dict[int, float]]] = [
            (*_bounded(r), {EMOTIONS.index(e): w for e, w in means.items()}) for r, means in idioms.items()
        ]
        self._stem_memo: dict[str, list[tuple[int, float]]] = {}
        self._praise_words = frozenset(w for w, cues in self._words.items() if any(j == 0 for j, _ in cues))
        self._sentiment = LexiconSentiment()
        self._multi_re = re.compile("|".join(re.escape(t) for t in sorted(self._multi, key=len, reverse=True)))

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
        n = len(texts)
        weights = np.zeros((n, len(EMOTIONS)), dtype=np.float64)
        praise = np.zeros(n, dtype=np.int64)  # how many delight cues each text has
        big = "\n".join(prepared)
        starts = np.cumsum([0] + [len(p) + 1 for p in prepared])

        def docs_of(positions: list[int]) -> np.ndarray:
            return np.searchsorted(starts, positions, side="right") - 1

        frustration, delight = EMOTIONS.index("frustration"), EMOTIONS.index("delight")
        sarcastic = np.zeros(n, dtype=bool)
        spans = _spans(self._sarcasm, big)
        for (_a, _b, w), doc in zip(spans, docs_of([s[0] for s in spans]), strict=True):
            weights[doc, frustration] += w
            sarcastic[doc] = True
        big = _blank(big, spans)
        idiom_spans = _spans(self._idioms, big)
        for (_a, _b, means), doc in zip(idiom_spans, docs_of([s[0] for s in idiom_spans]), strict=True):
            for j, w in means.items():
                weights[doc, j] += w
        big = _blank(big, idiom_spans)
        for regex, j, w, bounded in self._patterns:
            found = [m for m in regex.finditer(big) if not (bounded and m.start() and big[m.start() - 1].isalnum())]
            if found:
                docs = docs_of([m.start() for m in found])
                np.add.at(weights[:, j], docs, w)
                if j == delight:  # a phrase around a praise word ("great job") is still one cue
                    fresh = [not any(t in self._praise_words for t in _TOKEN.findall(m.group(0))) for m in found]
                    np.add.at(praise, docs, np.asarray(fresh, dtype=np.int64))
        if self._multi:
            counts = Counter((int(docs_of([m.start()])[0]), m.group(0)) for m in self._multi_re.finditer(big))
            for (doc, token), k in counts.items():
                for j, w in self._multi[token]:
                    weights[doc, j] += w * min(k, 3) ** 0.5
                    praise[doc] += j == delight
        for i in range(n):
            text = big[starts[i] : starts[i + 1] - 1]
            if text.strip():
                praise[i] += self._words_into(text, weights[i])
        # sarcasm cancels the positive cues; a lone praise cue in a complaint is no delight
        for e in _POSITIVE:
            weights[sarcastic, EMOTIONS.index(e)] = 0.0
        complaint = (weights[:, frustration] + weights[:, EMOTIONS.index("disappointment")]) >= (_LONE_PRAISE_COMPLAINT)
        weights[(praise == 1) & (complaint | (sentiment < -0.3)), delight] = 0.0
        scores = 1.0 - np.exp(-weights)
        for e in _POSITIVE:
            j = EMOTIONS.index(e)
            scores[:, j] *= np.where(sentiment < -0.3, 0.4, 1.0)
        for e in _NEGATIVE:
            j = EMOTIONS.index(e)
            scores[:, j] *= np.where(sentiment > 0.3, 0.5, 1.0)
        return scores

    def _words_into(self, text: str, row: np.ndarray) -> int:
        """Add one text's word cues to ``row``; return how many delight cues it has."""
        tokens = _TOKEN.findall(text)
        disappointment = EMOTIONS.index("disappointment")
        praise = 0
        for i, tok in enumerate(tokens):
            cues = self._words.get(tok)
            if cues is None:
                cues = self._stem_memo.get(tok)
                if cues is None:
                    cues = [(j, w) for stem, j, w in self._stems if tok.startswith(stem)]
                    if len(self._stem_memo) < 200_000:
                        self._stem_memo[tok] = cues
            if not cues:
                continue
            negated = False
            for t in reversed(tokens[max(0, i - 3) : i]):  # up to 3 words back, not across punctuation
                if t in _NEGATORS:
                    negated = True
                    break
                if not t[0].isalpha():
                    break
            for j, w in cues:
                if negated and EMOTIONS[j] in _POSITIVE:
                    row[disappointment] += 0.6 * w
                elif negated and EMOTIONS[j] in _NEGATED:
                    continue
                else:
                    row[j] += w
                    praise += EMOTIONS[j] == "delight"
        return praise


def _bounded(regex: str) -> tuple[re.Pattern, bool]:
    """The compiled regex without its leading ``\\b`` (it stops re from skipping ahead), and
    whether it had one (then checked by hand)."""
    bounded = regex.startswith(r"\b")
    return re.compile(regex[2:] if bounded else regex, re.MULTILINE), bounded


def _spans(patterns: list[tuple[re.Pattern, bool, _V]], text: str) -> list[tuple[int, int, _V]]:
    """``(start, end, value)`` of the patterns' matches in ``text``, in order of start; where
    matches overlap, the earlier pattern of the list wins."""
    taken: list[tuple[int, int, _V]] = []
    for regex, bounded, value in patterns:
        for m in regex.finditer(text):
            a, b = m.span()
            if (bounded and a and text[a - 1].isalnum()) or any(a < e and s < b for s, e, _ in taken):
                continue
            taken.append((a, b, value))
    return sorted(taken, key=lambda s: s[0])


def _blank(text: str, spans: list) -> str:
    """``text`` with the spans replaced by as many spaces (offsets unchanged)."""
    if not spans:
        return text
    out, at = [], 0
    for a, b, _ in spans:
        out += [text[at:a], " " * (b - a)]
        at = b
    out.append(text[at:])
    return "".join(out)


def score_emotions(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Emotion scores (0..1) of each text, as ``{emotion: array}``.

    >>> round(float(score_emotions(["I'm worried I will miss my connection"])["anxiety"][0]), 1) > 0.5
    True
    """
    return _scorer().score_dict(texts)


def dominant(scores: Sequence[float], *, threshold: float = EMOTION_THRESHOLD) -> str | None:
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
