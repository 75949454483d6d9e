"""Sentiment of feedback text in -1..1, with a label, behind a backend interface.

Three backends share one interface (:class:`SentimentBackend`: ``score(texts)`` gives
an array in -1..1, ``classify(texts)`` gives labels):

``"lexicon"`` (default, no download, no torch)
    A hand-written lexicon and rules for customer-service text: negation, intensifiers,
    but-clauses, capitals and exclamation marks, emoji and emoticons, and phrase patterns
    for service failures that plain lexicons miss ("still waiting", "3 hours on hold",
    "lost my bag", "cancelled again", "no one answers"), and for thanks and praise.
``"embedding"`` (``nlp`` extra)
    Zero-shot: cosine similarity of the text's MiniLM embedding to prototype sentences
    of each class.
``"trained"`` (``nlp`` extra)
    Learns from the user: labelled examples (or corrections) stored in the workspace
    (``labels/sentiment.csv``) train a light logistic head on the embeddings plus the
    lexicon's features.

Examples
--------
>>> b = get_backend("lexicon")
>>> s = b.score(["Still waiting on hold after 3 hours", "Thanks, the crew was amazing!", "Flight 22 to Boston"])
>>> [label(x) for x in s]
['negative', 'positive', 'neutral']
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from journeymap import stats
from journeymap.errors import InputError
from journeymap.voice import lexicon

LABELS = ("negative", "neutral", "positive")
"""The classes the models learn and users label."""
STORED_LABELS = (*LABELS, "mixed")
"""Every ``sentiment_label`` a stored score can have: the classes plus ``mixed`` (praise and complaint
in one comment; its ``sentiment`` still says which side weighs more)."""
BACKENDS = ("lexicon", "embedding", "trained")
NEUTRAL_BAND = stats.NEUTRAL_BAND
"""Scores strictly inside this band are labelled neutral (:data:`journeymap.stats.NEUTRAL_BAND`)."""


def label(score: float, *, neutral: tuple[float, float] = NEUTRAL_BAND) -> str:
    """The label of a sentiment score: ``negative``, ``neutral`` or ``positive``.

    >>> label(-0.4), label(0.0), label(0.3)
    ('negative', 'neutral', 'positive')
    """
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return "neutral"
    if score <= neutral[0]:
        return "negative"
    if score >= neutral[1]:
        return "positive"
    return "neutral"


def labels(scores: Sequence[float] | np.ndarray, *, neutral: tuple[float, float] = NEUTRAL_BAND) -> list[str]:
    """:func:`label` for many scores.

    >>> labels([-1.0, 0.01, 0.9])
    ['negative', 'neutral', 'positive']
    """
    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=0.0)
    out = np.where(s <= neutral[0], "negative", np.where(s >= neutral[1], "positive", "neutral"))
    return out.tolist()


@runtime_checkable
class SentimentBackend(Protocol):
    """What every sentiment backend offers."""

    name: str

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Sentiment of each text in -1..1 (float64 array)."""
        ...

    def classify(self, texts: Sequence[str]) -> list[str]:
        """The label of each text."""
        ...


# -- the lexicon backend -----------------------------------------------------------------------

_NEGATORS = frozenset(
    "not no never none nobody nothing neither nor without hardly barely isnt isn't wasnt wasn't "
    "arent aren't dont don't doesnt doesn't didnt didn't cant can't cannot couldnt couldn't "
    "wont won't wouldnt wouldn't shouldnt shouldn't havent haven't hasnt hasn't hadnt hadn't "
    "aint ain't n't".split()
)
_BOOSTERS = {
    "very": 0.3,
    "so": 0.25,
    "really": 0.3,
    "extremely": 0.5,
    "super": 0.35,
    "totally": 0.3,
    "absolutely": 0.4,
    "incredibly": 0.4,
    "truly": 0.3,
    "completely": 0.35,
    "utterly": 0.45,
    "seriously": 0.3,
    "most": 0.25,
    "such": 0.25,
    "too": 0.2,
    "beyond": 0.3,
    "highly": 0.3,
    "especially": 0.2,
    "sooo": 0.4,
    "soooo": 0.45,
    "mega": 0.3,
    "freaking": 0.35,
    "fucking": 0.45,
    "damn": 0.3,
    "ridiculously": 0.45,
    "insanely": 0.4,
    "just": 0.0,
}
_DAMPERS = {
    "kinda": -0.3,
    "kind": -0.2,
    "slightly": -0.4,
    "somewhat": -0.3,
    "bit": -0.3,
    "little": -0.25,
    "fairly": -0.2,
    "pretty": 0.0,
    "almost": -0.2,
    "barely": -0.5,
}
_COURTESY = frozenset("thanks thank thx thnx thanx ty cheers appreciate appreciated please welcome".split())
_CONTRAST = frozenset({"but", "however", "yet", "although", "though", "except", "unfortunately"})
_SCALE = 15.0  # VADER's normalisation: s / sqrt(s^2 + 15)

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"(?<![\w@])@\w+")
_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_REPEAT = re.compile(r"(\w)\1{2,}")
_NEWLINES = re.compile(r"[\r\n]+")
_LETTER = re.compile(r"[^\W\d_]")
_UPPER = re.compile(r"[A-Z\u00c0-\u00de]")


def _fast_patterns() -> list[tuple[re.Pattern, float, bool]]:
    """The phrase patterns, each with a leading ``\\b`` moved out (checked in Python).

    Python's ``re`` cannot skip ahead to a pattern's possible first letters when it starts
    with ``\\b``; without it, scanning is several times faster.
    """
    out = []
    for regex, value in lexicon.patterns():
        src = regex.pattern
        bounded = src.startswith(r"\b")
        out.append((re.compile(src[2:] if bounded else src, re.MULTILINE), value, bounded))
    return out


def _token_regex() -> re.Pattern:
    emo = sorted(lexicon.emoji(), key=len, reverse=True)
    alts = "|".join(re.escape(e) for e in emo)
    return re.compile(rf"({alts})|([a-z][a-z'\-]*[a-z]|[a-z])|(\d+)|([!?])|([.;\n]+)")


class LexiconSentiment:
    """Rule-based sentiment for customer-service text; needs no model and no download.

    Parameters
    ----------
    neutral : (float, float)
        Band of scores labelled neutral.

    Examples
    --------
    >>> b = LexiconSentiment()
    >>> round(float(b.score(["I lost my bag again"])[0]), 2) < 0
    True
    >>> b.classify(["you guys are amazing, thank you!"])
    ['positive']
    """

    name = "lexicon"
    languages = ("en",)
    """Languages it reads; scoring never applies it to another (see :func:`backend_for_language`)."""

    def __init__(self, *, neutral: tuple[float, float] = NEUTRAL_BAND):
        self.neutral = neutral
        self._words = lexicon.words()
        self._prefixes = lexicon.prefixes()
        self._emoji = lexicon.emoji()
        self._norm = lexicon.normalisers()
        self._patterns = _fast_patterns()
        self._tokens = _token_regex()
        strong = sorted(
            (w for w, v in self._words.items() if len(w) >= 4 and abs(v) >= 1.5 and w.isalpha()),
            key=len,
            reverse=True,
        )
        self._strong = re.compile("|".join(strong))
        self._compound_cache: dict[str, float] = {}
        self._memo: dict[str, float] = {}

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Sentiment of each text in -1..1 (0.0 for empty or missing text)."""
        return self._batch(texts)[:, 0].copy()

    def classify(self, texts: Sequence[str], *, mixed: bool = False) -> list[str]:
        """The label of each text (see :func:`label`); with ``mixed``, :func:`lexicon_labels`."""
        if mixed:
            return lexicon_labels(self.features(texts), neutral=self.neutral)
        return labels(self.score(texts), neutral=self.neutral)

    def features(self, texts: Sequence[str]) -> np.ndarray:
        """Per text: score, positive sum, negative sum, pattern sum, '?' count, '!' count.

        The trained backend learns on these beside the embeddings.
        """
        return self._batch(texts)

    def score_one(self, text: str | None) -> float:
        """Sentiment of one text in -1..1."""
        return float(self._batch(["" if text is None else text])[0, 0])

    # -- rules -----------------------------------------------------------------------------------
    def _prepare(self, text: str | None) -> str:
        if text is None or not isinstance(text, str):
            return ""
        text = _URL.sub(" ", text)
        text = _HANDLE.sub(" ", text)
        for regex, repl in self._norm:
            text = regex.sub(repl, text)
        text = _HASHTAG.sub(lambda m: " " + _CAMEL.sub(" ", m.group(1)) + " ", text)
        text = _NEWLINES.sub(" ", text)
        return text if len(text.lower()) == len(text) else text.lower()  # keep offsets aligned

    def _batch(self, texts: Sequence[str], chunk: int = 2000) -> np.ndarray:
        out = np.zeros((len(texts), 6), dtype=np.float64)
        for start in range(0, len(texts), chunk):
            out[start : start + chunk] = self._chunk(texts[start : start + chunk])
        return out

    def _chunk(self, texts: Sequence[str]) -> np.ndarray:
        """Score texts joined into one string: each regex scans the chunk once."""
        prepared = [self._prepare(t) for t in texts]
        orig = "\n".join(prepared)
        big = orig.lower()
        starts = np.cumsum([0] + [len(p) + 1 for p in prepared])
        items: list[list[tuple[int, float, int]]] = [[] for _ in prepared]
        covered = bytearray(len(big))
        for regex, value, bounded in self._patterns:
            for m in regex.finditer(big):
                s, e = m.span()
                if e == s or (bounded and s and big[s - 1].isalnum()) or covered.find(1, s, e) != -1:
                    continue
                covered[s:e] = b"\x01" * (e - s)
                items[int(np.searchsorted(starts, s, side="right")) - 1].append((s, value, 1))
        per_doc: list[list[re.Match]] = [[] for _ in prepared]
        doc = 0
        for m in self._tokens.finditer(big):
            while m.start() >= starts[doc + 1]:
                doc += 1
            per_doc[doc].append(m)
        rows = [self._score_doc(orig, prepared[d], items[d], per_doc[d], covered) for d in range(len(prepared))]
        return np.array(rows, dtype=np.float64).reshape(len(prepared), 6)

    def _score_doc(self, orig, text, items, tokens, covered):
        if not text.strip():
            return (0.0,) * 6
        n_letters = len(_LETTER.findall(text))
        shouting = n_letters > 0 and len(_UPPER.findall(text)) / n_letters > 0.6
        words = [m.group(2) or "" for m in tokens]
        items = list(items)
        for i, m in enumerate(tokens):
            if covered[m.start()]:
                continue
            if m.group(1):
                items.append((m.start(), self._emoji[m.group(1)], 0))
                continue
            word = m.group(2)
            if not word:
                continue
            value = self._valence(word)
            if value == 0.0:
                continue
            raw = orig[m.start() : m.end()]
            if not shouting and len(raw) > 2 and raw.isupper():
                value *= 1.25
            kind = 2 if word in _COURTESY else 0
            items.append((m.start(), self._modify(value, words, i), kind))
        text_low = text.lower()
        return self._combine(text_low, items, tokens, words)

    def _valence(self, word: str) -> float:
        v = self._memo.get(word)
        if v is None:
            v = self._lookup(word)
            if len(self._memo) < 200_000:
                self._memo[word] = v
        return v

    def _lookup(self, word: str) -> float:
        v = self._words.get(word)
        if v is not None:
            return v
        w2 = _REPEAT.sub(r"\1\1", word)
        v = self._words.get(w2)
        if v is None and w2 != word:
            v = self._words.get(_REPEAT.sub(r"\1", word))
        if v is not None:
            return v * 1.15 if w2 != word else v  # "soooo good", "loooove"
        for stem, value in self._prefixes:
            if word.startswith(stem):
                return value
        return self._compound(word)

    def _compound(self, word: str) -> float:
        """Valence of a run-together hashtag ("worstcustomerservice"): its strongest word."""
        if len(word) < 9 or "'" in word:
            return 0.0
        found = self._compound_cache.get(word)
        if found is None:
            hits = [self._words[m] for m in self._strong.findall(word)]
            found = max(hits, key=abs) if hits else 0.0
            if len(self._compound_cache) < 100_000:
                self._compound_cache[word] = found
        return found

    def _modify(self, value: float, words: list[str], i: int) -> float:
        boost = 0.0
        for back in (1, 2):
            if i - back >= 0:
                w = words[i - back]
                boost += _BOOSTERS.get(w, 0.0) / back + _DAMPERS.get(w, 0.0) / back
        value *= 1.0 + boost
        for back in (1, 2, 3):
            if i - back >= 0 and words[i - back] in _NEGATORS:
                return -0.6 * value if value > 0 else -0.25 * value
            if i - back >= 0 and words[i - back] in _CONTRAST:
                break
        return value

    def _combine(self, low, items, tokens, words):
        # but-clauses: what comes after "but" counts more than what comes before it.
        contrast = [m.start() for m, w in zip(tokens, words, strict=True) if w in ("but", "however")]
        if contrast:
            cut = contrast[-1]
            items = [(p, v * (0.5 if p < cut else 1.4), f) for p, v, f in items]
        if sum(v for _, v, _ in items if v < 0) <= -1.5:
            # a thank-you closing a complaint is politeness, not praise
            items = [(p, v * 0.3 if k == 2 else v, k) for p, v, k in items]
        if "?" in low:
            # customer questions are requests: praise words in them count less
            items = [(p, v * 0.6 if v > 0 else v, k) for p, v, k in items]
        pos = sum(v for _, v, _ in items if v > 0)
        neg = sum(v for _, v, _ in items if v < 0)
        pat = sum(v for _, v, k in items if k == 1)
        total = pos + neg
        bangs = min(low.count("!"), 4)
        questions = low.count("?")
        if total:
            total += math.copysign(0.25 * bangs, total)
        s = total / math.sqrt(total * total + _SCALE)
        return (max(-1.0, min(1.0, s)), pos, neg, pat, float(questions), float(bangs))


MIXED_CLAUSE = 1.0
"""Lexicon: a comment is ``mixed`` when its praise and its complaint each weigh at least this..."""
MIXED_RATIO = 0.4
"""...and the weaker side is at least this share of the stronger one."""


def lexicon_labels(features: np.ndarray, *, neutral: tuple[float, float] = NEUTRAL_BAND) -> list[str]:
    """Labels from :meth:`LexiconSentiment.features`: :func:`labels` of the score, or ``mixed``.

    ``mixed`` where the text has both praise and complaint of weight (positive sum and negative
    sum each at least :data:`MIXED_CLAUSE` in size, the weaker at least :data:`MIXED_RATIO` of
    the stronger), e.g. "The staff were lovely, but the room was dirty and noisy."

    >>> lex = LexiconSentiment()
    >>> lexicon_labels(lex.features(["Lovely staff, but the room was dirty and noisy.", "Lovely staff!"]))
    ['mixed', 'positive']
    """
    f = np.asarray(features, dtype=np.float64).reshape(-1, 6)
    out = labels(f[:, 0], neutral=neutral)
    pos, neg = f[:, 1], -f[:, 2]
    big = np.maximum(pos, neg)
    both = (pos >= MIXED_CLAUSE) & (neg >= MIXED_CLAUSE) & (np.minimum(pos, neg) >= MIXED_RATIO * big)
    return ["mixed" if m else x for m, x in zip(both.tolist(), out, strict=True)]


# -- embedding backends (nlp extra) ------------------------------------------------------------

PROTOTYPES = {
    "negative": [
        "This is the worst service I have ever had.",
        "I have been waiting for hours and still no answer.",
        "My flight was cancelled and nobody helped me.",
        "You lost my bag and no one will tell me where it is.",
        "I was on hold for hours, this is unacceptable.",
        "The staff were rude and unhelpful.",
        "I want a refund, you charged me twice.",
        "Delayed again, I missed my connection.",
        "Very disappointed, never again.",
        "Your website keeps failing and I can't get through to anyone.",
    ],
    "neutral": [
        "How do I change my booking?",
        "What time does the flight leave?",
        "Can I bring my dog on board?",
        "Please send me the confirmation number.",
        "Is there wifi on this flight?",
        "I sent you a direct message with my details.",
        "Which terminal do you fly from?",
        "Do you fly to Denver in the summer?",
        "I am travelling next week with two bags.",
        "Here is my reference number.",
    ],
    "positive": [
        "Thank you so much, the crew was amazing!",
        "Great service, you made my day.",
        "Love flying with you, best airline ever.",
        "The agent was very helpful and kind, thanks!",
        "Smooth flight and friendly staff.",
        "Thanks for the quick response, problem solved.",
        "Excellent experience, I will fly with you again.",
        "Kudos to the team at the gate, above and beyond.",
        "Wonderful trip, everything went perfectly.",
        "I appreciate your help, you are the best!",
    ],
}
"""Prototype sentences of each class for the zero-shot ``embedding`` backend."""


def _embedder(workspace: Any = None, embedder: Any = None):
    from journeymap.voice import embeddings

    if embedder is not None:
        return embedder
    cache = embeddings.workspace_cache_dir(workspace) if workspace is not None else None
    return embeddings.Embedder(cache_dir=cache)


class PrototypeSentiment:
    """Zero-shot sentiment from MiniLM embeddings: similarity to prototype sentences per class.

    A text's similarity to a class is the mean of its 3 closest prototypes; a softmax over the
    classes (``temperature``) gives probabilities and the score is P(positive) - P(negative).

    Examples
    --------
    >>> PrototypeSentiment().classify(["you lost my bag"])   # doctest: +SKIP
    ['negative']
    """

    name = "embedding"
    languages = ("en",)  # MiniLM (all-MiniLM-L6-v2) and English prototypes

    def __init__(
        self,
        *,
        workspace: Any = None,
        embedder: Any = None,
        temperature: float = 0.05,
        prototypes: dict[str, list[str]] | None = None,
    ):
        self.embedder = _embedder(workspace, embedder)
        self.temperature = temperature
        self.prototypes = prototypes or PROTOTYPES
        self._proto = {k: self.embedder.encode(v) for k, v in self.prototypes.items()}

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities per text, columns in :data:`LABELS` order."""
        emb = self.embedder.encode(list(texts))
        sims = []
        for lab in LABELS:
            s = emb @ self._proto[lab].T
            k = min(3, s.shape[1])
            sims.append(np.sort(s, axis=1)[:, -k:].mean(axis=1))
        z = np.stack(sims, axis=1) / self.temperature
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) - P(negative) per text."""
        p = self.predict_proba(texts)
        return p[:, 2] - p[:, 0]

    def classify(self, texts: Sequence[str]) -> list[str]:
        """The most probable class per text."""
        return [LABELS[i] for i in self.predict_proba(texts).argmax(axis=1)]


LABEL_FILE = "labels/sentiment.csv"
"""Where a workspace keeps the sentiment labels users give (relative to the workspace)."""


def add_labels(
    workspace: Any,
    texts: Sequence[str],
    values: Sequence[str],
    *,
    feedback_ids: Sequence[str | None] | None = None,
) -> int:
    """Store labelled examples (or corrections) for the ``trained`` backend; returns how many.

    A later label for the same text replaces an earlier one.

    Examples
    --------
    >>> import tempfile, types
    >>> ws = types.SimpleNamespace(path=tempfile.mkdtemp())
    >>> add_labels(ws, ["lost my bag", "great crew"], ["negative", "positive"])
    2
    >>> read_labels(ws)["label"].tolist()
    ['negative', 'positive']
    """
    import csv
    from datetime import UTC, datetime
    from pathlib import Path

    if len(texts) != len(values):
        raise InputError(f"Got {len(texts)} texts but {len(values)} labels; pass one label per text.")
    for v in values:
        if v not in LABELS:
            raise InputError(f"Label {v!r} is not a sentiment label (argument labels); use one of {', '.join(LABELS)}.")
    ids = list(feedback_ids) if feedback_ids is not None else [None] * len(texts)
    path = Path(workspace.path) / LABEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with path.open("a", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["text", "label", "feedback_id", "added_at"])
        for t, v, i in zip(texts, values, ids, strict=True):
            w.writerow([t, v, "" if i is None else i, now])
    return len(texts)


def read_labels(workspace: Any):
    """The workspace's sentiment labels as a DataFrame (text, label, feedback_id, added_at); last wins."""
    from pathlib import Path

    import pandas as pd

    path = Path(workspace.path) / LABEL_FILE
    if not path.exists():
        return pd.DataFrame(columns=["text", "label", "feedback_id", "added_at"])
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return df.drop_duplicates("text", keep="last").reset_index(drop=True)


def _lexicon_features(lex: LexiconSentiment, texts: Sequence[str]) -> np.ndarray:
    f = lex.features(texts)
    s = f[:, 0]
    band = np.stack([s <= lex.neutral[0], s >= lex.neutral[1]], axis=1).astype(float)
    return np.hstack([f[:, :1], np.tanh(f[:, 1:4] / 4), np.minimum(f[:, 4:6], 3) / 3, band])


class TrainedSentiment:
    """Sentiment learnt from a workspace's own labels: two light heads, averaged.

    One logistic regression on the MiniLM embeddings and one on the lexicon's features
    (score, positive and negative sums, pattern sum, ``?`` and ``!``), both with balanced
    class weights; their probabilities are averaged. Labels live in ``labels/sentiment.csv``
    (see :func:`add_labels`).

    Parameters
    ----------
    embedder : Embedder, optional
    C : float
        Inverse regularisation of the embedding head.

    Examples
    --------
    >>> m = TrainedSentiment().fit(texts, labels)        # doctest: +SKIP
    >>> m.classify(["still waiting for my refund"])        # doctest: +SKIP
    ['negative']
    """

    name = "trained"
    languages = ("en",)  # English MiniLM embeddings and English lexicon features
    min_labels = 6

    def __init__(self, *, embedder: Any = None, workspace: Any = None, C: float = 3.0):
        self.embedder = _embedder(workspace, embedder)
        self.C = C
        self._lex = LexiconSentiment()

    @classmethod
    def from_workspace(cls, workspace: Any, **options: Any) -> TrainedSentiment:
        """Fit on the labels stored in ``workspace``."""
        if workspace is None:
            raise InputError(
                "The 'trained' sentiment backend needs a workspace (argument workspace) to read labels from; pass one."
            )
        df = read_labels(workspace)
        model = cls(workspace=workspace, **options)
        return model.fit(df["text"].tolist(), df["label"].tolist())

    def fit(self, texts: Sequence[str], values: Sequence[str]) -> TrainedSentiment:
        """Learn from labelled texts; returns self."""
        from sklearn.linear_model import LogisticRegression

        values = list(values)
        classes = sorted(set(values))
        if len(values) < self.min_labels or len(classes) < 2:
            raise InputError(
                f"The 'trained' sentiment backend has {len(values)} labels in {len(classes)} classes; "
                f"label at least {self.min_labels} texts in at least 2 classes (journeymap label, or add_labels())."
            )
        emb = self.embedder.encode(list(texts))
        lex = _lexicon_features(self._lex, list(texts))
        self.emb_head_ = LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000).fit(emb, values)
        self.lex_head_ = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(lex, values)
        self.classes_ = self.emb_head_.classes_
        self.n_labels_ = len(values)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities per text, columns in :data:`LABELS` order (0 for a class never labelled)."""
        if not hasattr(self, "classes_"):
            from journeymap.errors import NotFittedError

            raise NotFittedError("This TrainedSentiment is not fitted yet; call fit(texts, labels) first.")
        texts = list(texts)
        p = (
            self.emb_head_.predict_proba(self.embedder.encode(texts))
            + self.lex_head_.predict_proba(_lexicon_features(self._lex, texts))
        ) / 2
        return _in_label_order(p, self.classes_)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) - P(negative) per text."""
        p = self.predict_proba(texts)
        return p[:, 2] - p[:, 0]

    def classify(self, texts: Sequence[str]) -> list[str]:
        """The most probable class per text."""
        return [LABELS[i] for i in self.predict_proba(texts).argmax(axis=1)]


def _in_label_order(p: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """A classifier's probabilities (columns in ``classes`` order) with columns in :data:`LABELS`
    order, 0 for a label the classifier never saw."""
    out = np.zeros((p.shape[0], len(LABELS)))
    for j, c in enumerate(classes):
        out[:, LABELS.index(c)] = p[:, j]
    return out


# -- the ratings model: learnt from the workspace's own rated comments --------------------------

MIN_RATINGS = 300
"""Rated comments a workspace needs before its own ratings model replaces the lexicon."""
HELDOUT_SHARE = 0.2
"""Share of the rated comments held out to measure the ratings model (chosen by feedback id)."""
LABEL_WEIGHT = 3.0
"""Weight of a ``journeymap label`` correction against one rating in the ratings model."""
MIXED_PROBABILITY = 0.3
"""Ratings model: ``mixed`` where P(positive) and P(negative) both reach this."""


def heldout(feedback_ids: Sequence[str]) -> np.ndarray:
    """Whether each rated comment is held out of the ratings model's training (a boolean array).

    Chosen by the id alone (md5 of the feedback id, one in five), so the same comments stay held
    out when more feedback arrives and any reader can tell which they were.

    >>> heldout(["fb-1", "fb-2", "fb-3", "fb-4", "fb-5", "fb-6"]).tolist()
    [False, False, False, True, False, False]
    """
    import hashlib

    cut = int(HELDOUT_SHARE * 1000)
    return np.fromiter(
        (int(hashlib.md5(str(i).encode("utf-8")).hexdigest()[:8], 16) % 1000 < cut for i in feedback_ids),
        dtype=bool,
        count=len(feedback_ids),
    )


class _CharNgrams:
    """TF-IDF of character n-grams within words (sklearn's ``char_wb``), the same numbers faster.

    Fitting is sklearn's (``CountVectorizer(analyzer="char_wb")`` and ``TfidfTransformer``:
    exactly ``TfidfVectorizer``). ``transform`` counts each distinct word's n-grams once and
    multiplies a documents x words count matrix by a words x n-grams one: ``char_wb`` n-grams
    never cross words, so the counts are the same as sklearn's, 2.5-4.5x faster on reviews.
    """

    def __init__(self, ngram_range: tuple[int, int], min_df: int, max_features: int):
        from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

        self.ngram_range = ngram_range
        self.count = CountVectorizer(
            analyzer="char_wb", ngram_range=ngram_range, min_df=min_df, max_features=max_features, dtype=np.float32
        )
        self.tfidf = TfidfTransformer(sublinear_tf=True)
        self._words: dict[str, list[tuple[int, int]]] = {}

    def fit_transform(self, texts: list[str]):
        out = self.tfidf.fit_transform(self.count.fit_transform(texts))
        self.vocabulary_ = self.count.vocabulary_
        return out

    def transform(self, texts: list[str]):
        return self.tfidf.transform(self._counts(texts))

    def _word(self, word: str) -> list[tuple[int, int]]:
        from collections import Counter

        w = " " + word + " "
        lo, hi = self.ngram_range
        grams = Counter(w[i : i + k] for k in range(lo, hi + 1) for i in range(len(w) - k + 1))
        v = self.vocabulary_
        return [(v[g], c) for g, c in grams.items() if g in v]

    def _counts(self, texts: list[str]):
        from scipy.sparse import csr_matrix

        words: dict[str, int] = {}
        indptr, idx = [0], []
        for t in texts:
            for w in t.lower().split():
                j = words.get(w)
                if j is None:
                    j = words[w] = len(words)
                idx.append(j)
            indptr.append(len(idx))
        docs = csr_matrix(
            (np.ones(len(idx), np.float32), np.asarray(idx, np.int64), np.asarray(indptr, np.int64)),
            shape=(len(texts), len(words)),
        )
        docs.sum_duplicates()
        if len(self._words) > 500_000:
            self._words.clear()
        rows, cols, vals = [0], [], []
        for w in words:
            hit = self._words.get(w)
            if hit is None:
                hit = self._words[w] = self._word(w)
            for j, c in hit:
                cols.append(j)
                vals.append(c)
            rows.append(len(cols))
        grams = csr_matrix(
            (np.asarray(vals, np.float32), np.asarray(cols, np.int64), np.asarray(rows, np.int64)),
            shape=(len(words), len(self.vocabulary_)),
        )
        out = (docs @ grams).tocsr()
        out.sort_indices()
        return out


class RatingsSentiment:
    """Sentiment learnt from ratings: TF-IDF of character (2-5, within words) and word (1-2)
    n-grams, and a logistic regression with balanced class weights.

    Character n-grams carry any language (Portuguese, German, ...) and misspellings; no lexicon
    and no model download are needed. ``classify`` gives the most probable class, or ``mixed``
    where P(positive) and P(negative) both reach :data:`MIXED_PROBABILITY` (praise and complaint
    in one comment; the English lexicon is not consulted, the text may be in any language).

    Examples
    --------
    >>> texts = ["great, love it", "awful, broken", "it is ok", "love it, great", "broken again, awful", "ok I guess"] * 5
    >>> y = ["positive", "negative", "neutral"] * 10
    >>> m = RatingsSentiment(min_df=1).fit(texts, y)
    >>> m.classify(["love it", "awful"])
    ['positive', 'negative']
    """

    name = "ratings"
    # Set by :func:`fit_ratings_model` (absent on a model fitted directly; callers use getattr).
    heldout_ids_: frozenset[str]
    n_heldout_: int
    n_rated_: int
    n_labels_: int
    heldout_macro_f1_: float | None
    heldout_accuracy_: float | None

    def __init__(self, *, C: float = 1.0, min_df: int = 2, max_char_features: int = 300_000):
        self.C = C
        self.min_df = min_df
        self.max_char_features = max_char_features

    def _vectorizers(self, n: int):
        from sklearn.feature_extraction.text import TfidfVectorizer

        min_df = self.min_df if n >= 50 * self.min_df else 1
        chars = _CharNgrams((2, 5), min_df, self.max_char_features)
        words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df, dtype=np.float32)
        return chars, words

    def _matrix(self, texts: list[str], fit: bool = False):
        from scipy.sparse import hstack

        texts = ["" if t is None else str(t) for t in texts]
        if fit:
            return hstack([v.fit_transform(texts) for v in self.vectorizers_]).tocsr()
        return hstack([v.transform(texts) for v in self.vectorizers_]).tocsr()

    def fit(
        self, texts: Sequence[str], values: Sequence[str], sample_weight: Sequence[float] | None = None
    ) -> RatingsSentiment:
        """Learn from texts and their classes (from ratings, or labels); returns self."""
        from sklearn.linear_model import LogisticRegression

        texts, values = list(texts), list(values)
        classes = sorted(set(values))
        if len(classes) < 2:
            raise InputError(
                f"The ratings model needs comments of at least 2 classes; all {len(values)} are {classes[0]!r}. "
                "Add comments with other ratings, or keep the lexicon."
                if classes
                else "The ratings model got no rated comments; add rated feedback, or keep the lexicon."
            )
        self.vectorizers_ = self._vectorizers(len(texts))
        x = self._matrix(texts, fit=True)
        self.head_ = LogisticRegression(C=self.C, class_weight="balanced", max_iter=3000)
        self.head_.fit(x, values, sample_weight=None if sample_weight is None else np.asarray(sample_weight, float))
        self.classes_ = self.head_.classes_
        self.n_train_ = len(values)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities per text, columns in :data:`LABELS` order (0 for a class never seen)."""
        if not hasattr(self, "classes_"):
            from journeymap.errors import NotFittedError

            raise NotFittedError("This RatingsSentiment is not fitted yet; call fit(texts, labels) first.")
        texts = list(texts)
        return _in_label_order(self.head_.predict_proba(self._matrix(texts)), self.classes_)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) - P(negative) per text."""
        p = self.predict_proba(texts)
        return p[:, 2] - p[:, 0]

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable class per text (never ``mixed``)."""
        return [LABELS[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def classify(self, texts: Sequence[str]) -> list[str]:
        """The most probable class per text, or ``mixed`` (see the class)."""
        return self.score_and_classify(texts)[1]

    def score_and_classify(self, texts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """Scores and labels in one pass."""
        texts = list(texts)
        p = self.predict_proba(texts)
        out = [LABELS[i] for i in p.argmax(axis=1)]
        both = (p[:, 0] >= MIXED_PROBABILITY) & (p[:, 2] >= MIXED_PROBABILITY)
        labs = ["mixed" if b else o for b, o in zip(both.tolist(), out, strict=True)]
        return p[:, 2] - p[:, 0], labs


def rating_classes(
    rating: Sequence[float | None] | None = None,
    rating_scale: Sequence[float | None] | None = None,
    nps: Sequence[float | None] | None = None,
    csat: Sequence[float | None] | None = None,
) -> list[str | None]:
    """The sentiment class each rating stands for (None where the row has no rating).

    ``rating`` on its ``rating_scale`` (an unscaled rating counts as out of 5 when every rating
    lies in 1..5, out of 10 when in 0..10, else out of the highest): up to 40% of the scale
    negative, up to 60% neutral, above positive (1-2 of 5 negative, 3 neutral, 4-5 positive);
    CSAT 1-5 likewise; NPS 0-6 negative, 7-8 neutral, 9-10 positive. The first present wins.

    >>> rating_classes(rating=[1, 3, 5, None, None], nps=[None, None, None, 8, None], csat=[None, None, None, None, 2])
    ['negative', 'neutral', 'positive', 'neutral', 'negative']
    >>> rating_classes(rating=[4, 7, 10], rating_scale=[10, 10, 10])
    ['negative', 'positive', 'positive']
    """
    import pandas as pd

    cols = [c for c in (rating, rating_scale, nps, csat) if c is not None]
    n = len(cols[0]) if cols else 0

    def num(c):
        return pd.to_numeric(
            pd.Series(list(c) if c is not None else [None] * n, dtype=object), errors="coerce"
        ).to_numpy(float)

    r, scale, p, c = num(rating), num(rating_scale), num(nps), num(csat)
    have = r[~np.isnan(r)]
    guess = (
        5.0
        if have.size and have.min() >= 1 and have.max() <= 5
        else (10.0 if have.size and have.min() >= 0 and have.max() <= 10 else (float(have.max()) if have.size else 5.0))
    )
    scale = np.where(np.isnan(scale) | (scale <= 0), guess, scale)

    def by_share(x, s):
        f = x / s
        return np.where(
            np.isnan(x), None, np.where(f <= 0.4 + 1e-9, "negative", np.where(f <= 0.6 + 1e-9, "neutral", "positive"))
        )

    out = by_share(r, scale)
    out = np.where(out == None, by_share(c, np.full(n, 5.0)), out)  # noqa: E711 (elementwise)
    # numpy's stubs take no None in where(); at run time it makes an object array, as wanted here
    from_nps = np.where(np.isnan(p), None, np.where(p <= 6, "negative", np.where(p <= 8, "neutral", "positive")))  # type: ignore[call-overload]
    out = np.where(out == None, from_nps, out)  # noqa: E711
    return [None if x is None else str(x) for x in out.tolist()]


def fit_ratings_model(
    feedback_ids: Sequence[str],
    texts: Sequence[str],
    classes: Sequence[str],
    *,
    labelled_texts: Sequence[str] = (),
    labelled: Sequence[str] = (),
    **options: Any,
) -> RatingsSentiment:
    """Train the ratings model on the rated comments not :func:`heldout`, plus the user's labels
    (each weighing :data:`LABEL_WEIGHT`), and measure it on the held-out ones.

    The model gets ``heldout_ids_`` (the held-out feedback ids), ``n_heldout_``,
    ``heldout_macro_f1_`` and ``heldout_accuracy_`` (None when none is held out; macro over
    the classes the held-out ratings have; the labels :meth:`RatingsSentiment.classify` gives,
    ``mixed`` counted as neutral), and ``n_labels_``.
    """
    from sklearn.metrics import accuracy_score, f1_score

    ids, texts, classes = list(feedback_ids), list(texts), list(classes)
    out = heldout(ids)
    train = [i for i, h in enumerate(out.tolist()) if not h]
    test = [i for i, h in enumerate(out.tolist()) if h]
    x = [texts[i] for i in train] + list(labelled_texts)
    y = [classes[i] for i in train] + list(labelled)
    w = [1.0] * len(train) + [LABEL_WEIGHT] * len(labelled)
    model = RatingsSentiment(**options).fit(x, y, sample_weight=w)
    model.heldout_ids_ = frozenset(ids[i] for i in test)
    model.n_heldout_ = len(test)
    model.n_rated_ = len(ids)
    model.n_labels_ = len(labelled)
    model.heldout_macro_f1_ = model.heldout_accuracy_ = None
    if test:
        truth = [classes[i] for i in test]
        # what scoring stores, with a mixed comment counted as neutral (neither side wins)
        pred = ["neutral" if x == "mixed" else x for x in model.classify([texts[i] for i in test])]
        model.heldout_macro_f1_ = round(float(f1_score(truth, pred, labels=sorted(set(truth)), average="macro")), 4)
        model.heldout_accuracy_ = round(float(accuracy_score(truth, pred)), 4)
    return model


# -- registry ----------------------------------------------------------------------------------


def backend_for_language(language: str, workspace: Any = None) -> SentimentBackend | None:
    """The backend for rows in ``language`` when the chosen one does not read it (its ``languages``).

    Scoring (:mod:`journeymap.voice.scoring`) asks this for each such language: the workspace's
    ratings model (learnt from its own rated comments, any language) when it has one; None
    leaves the rows unscored, with the reason. A backend without a ``languages`` attribute
    reads every language.

    >>> backend_for_language("pt") is None
    True
    """
    return None


def get_backend(name: str = "lexicon", workspace: Any = None, **options: Any) -> SentimentBackend:
    """The sentiment backend called ``name``.

    Parameters
    ----------
    name : {"lexicon", "embedding", "trained"}
    workspace : Workspace, optional
        Where the embedding cache and the labels of the ``trained`` backend live.
    **options
        Passed to the backend (e.g. ``embedder=`` for the embedding backends).

    Examples
    --------
    >>> get_backend().name
    'lexicon'
    """
    if name == "lexicon":
        return LexiconSentiment(**options)
    if name == "embedding":
        return PrototypeSentiment(workspace=workspace, **options)
    if name == "trained":
        return TrainedSentiment.from_workspace(workspace, **options)
    raise InputError(f"Sentiment backend {name!r} is unknown (argument backend); use one of {', '.join(BACKENDS)}.")
