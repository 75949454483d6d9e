"""Themes: groups of similar comments, with readable labels, sentiment, touchpoints, trend and quotes.

How themes are found (:class:`ThemeModel`):

1. Texts are cleaned for clustering only: URLs, ``@handles``, ``#`` and HTML entities go.
2. ``backend="tfidf"`` (no extra needed): TF-IDF of word 1-2 grams (words of any script,
   accents kept; each text's own language's stop words removed: English for English texts,
   a short list for Portuguese, Spanish, French and German, none for other languages; sublinear
   tf, words in over half the texts dropped) factorised by NMF into
   ``k`` topics; each comment joins its strongest topic.
   ``backend="embedding"`` (``nlp`` extra): MiniLM sentence embeddings, centred, next to
   half-weighted TF-IDF (100 SVD dimensions), clustered by k-means. On the negative airline
   tweets against ``negativereason`` this scores NMI 0.26 where embeddings alone score 0.24
   and TF-IDF + k-means 0.15 (see ``benchmarks/voice_themes_eval.py``).
3. ``k`` is given (``n_themes``) or chosen by the silhouette of k-means on a 2,000-text
   sample over ``min_themes..max_themes``.
4. Labels are key phrases (2-3 word n-grams) ranked by class-based TF-IDF (c-TF-IDF, as
   in BERTopic): frequent in the theme, rare in the others; a phrase sharing a word with a
   better one is skipped so the label says different things.
5. Representative quotes are the comments closest to the theme's centre (strongest NMF
   weight, or highest cosine to the centroid), redacted, duplicates dropped.

Languages come from :mod:`journeymap.voice.language` (the ``language`` stored with the scores, or
detected here); a text too short to tell is read as the set's main language.

``find_themes(..., sentiment="negative")`` keeps a comment by its rating where it has one
(``rating`` on its scale, else ``csat``, else ``nps``: up to 40% of the scale negative, up to 60%
neutral, above positive; NPS 0-6 / 7-8 / 9-10) and by its text's sentiment label otherwise, so
a 4-5 star review never joins a negative theme or quotes one.

Everything is seeded (``seed``): the same texts give the same themes. Every ranking has a full,
rounded key (:mod:`journeymap.ranking`), so float noise (BLAS kernels, float32) cannot reorder
it: texts are read in ``feedback_id`` order; identical texts of a theme share one centrality;
quotes rank on centrality rounded to 5 decimals, then ``feedback_id``; key phrases on their
c-TF-IDF rounded to 9 decimals, then the phrase; ``k`` on the silhouette rounded to 6 decimals
(then the smaller ``k``).

Curating themes in ``blueprint.yaml`` (``themes:``, :class:`~journeymap.blueprint.ThemeRule`),
applied on every run so they stick:

- ``pinned: true`` with ``keywords``: a fixed theme. Comments that mention one of its keywords
  (whole words, any case) join it before clustering (first pinned rule wins).
- ``merge: [label or key phrase, ...]``: discovered themes whose label or one of whose key
  phrases is listed join this theme, named ``name``.
- ``keywords`` without ``pinned``: rename. The discovered theme whose key phrases contain the
  most of these keywords takes the name ``name``.

Examples
--------
>>> texts = ["lost my bag at the airport", "bag lost again, no baggage claim help",
...          "lost bag and nobody called", "the crew was lovely and kind",
...          "lovely crew, kind staff", "crew lovely and very kind"] * 3
>>> m = ThemeModel(n_themes=2, seed=0).fit(texts)
>>> sorted(set(m.labels_.tolist()))
[0, 1]
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import ibis.expr.types as ir
import numpy as np

from journeymap import engine
from journeymap.blueprint import Blueprint, ThemeRule
from journeymap.errors import InputError, NotFittedError
from journeymap.ranking import FLOAT32_RANK_DECIMALS, rank_value
from journeymap.voice.language import UNDETERMINED
from journeymap.voice.results import Quote, Theme, ThemeSet

BACKENDS = ("tfidf", "embedding")
PERIODS = {"day": "D", "week": "W", "month": "M"}
UNASSIGNED = "unassigned"

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"@\w+")
_SPACE = re.compile(r"\s+")
_TOKEN = r"(?u)\b[^\W\d_][^\W_]+\b"
"""Words of 2+ characters that start with a letter (no bare numbers in labels)."""


_STOP = {
    # Short lists of function words; negations (não, no, pas, nicht, kein) are kept: "não recebi" is the complaint.
    "pt": "a à ao aos as às o os um uma uns umas de do da dos das dum duma em no na nos nas num numa por pelo pela "
    "pelos pelas para pra com e ou que se mas como é foi ser são era está estava estão eu me meu minha meus "
    "minhas você vocês ele ela eles elas lhe isso isto esse essa este esta aquele aquela seu sua seus suas já "
    "ainda muito muita também só até quando onde ter tem tinha há pois porque então mais mesmo sobre obrigado "
    "obrigada vc",
    "es": "el la los las un una unos unas de del al en con por para y o que se pero como es fue ser son era está "
    "estaba yo me mi mis tu su sus nos le les lo esto eso este esta ese esa ya muy también solo hasta cuando "
    "donde tener tiene había hay porque pues más gracias",
    "fr": "le la les un une des de du au aux en dans par pour avec et ou que qui se ne mais comme est était être "
    "sont je me mon ma mes tu ton ta vous votre vos il elle ils elles lui leur ce cet cette ces ça déjà très "
    "aussi seulement quand où avoir ai avait il y a car donc plus merci",
    "de": "der die das den dem des ein eine einen einem einer und oder aber als wie ist war sind sein ich mich mir "
    "mein meine du dein sie ihr ihre er es wir uns euch zu im am an auf aus bei mit nach von vor für um über "
    "dass sehr auch nur schon noch wenn wo hat habe hatte gibt denn danke",
}
"""Stop words of the languages other than English that themes know (lower case)."""
_JOIN = {
    "pt": "de do da dos das no na nos nas em com para sem e",
    "es": "de del en con para sin y",
    "fr": "de du des en avec pour sans et",
    "de": "mit für ohne und von zum zur im am",
}
"""Per language: stop words a 3-word phrase may keep in the middle ("entrega no prazo")."""


def stop_words(language: str = "en") -> list[str]:
    """The stop words of ``language``: for English sklearn's list plus the stubs contractions leave
    (``don``, ``ve``, ``ll``...); a short list for pt, es, fr and de; none for other languages.

    >>> "the" in stop_words(), "de" in stop_words("pt"), "não" in stop_words("pt"), stop_words("ja")
    (True, True, False, [])
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    if language in _STOP:
        return sorted(set(_STOP[language].split()))
    if language not in ("en", UNDETERMINED):
        return []
    stubs = {
        "don",
        "ve",
        "ll",
        "re",
        "didn",
        "doesn",
        "isn",
        "wasn",
        "won",
        "aren",
        "couldn",
        "wouldn",
        "shouldn",
        "haven",
        "hasn",
        "im",
        "ive",
        "dont",
        "cant",
        "just",
        "amp",
        "thanks",
        "thank",
    }
    return sorted(ENGLISH_STOP_WORDS | stubs)


@functools.lru_cache(maxsize=32)
def _stop(language: str) -> frozenset[str]:
    return frozenset(stop_words(language))


def _joiners(language: str) -> frozenset[str]:
    return _JOINERS | frozenset(_JOIN.get(language, "").split()) if language in _JOIN else _JOINERS


def text_languages(texts: Sequence[str], languages: Sequence[str | None] | None = None) -> list[str]:
    """The language of each text (given, or detected), ``und`` read as the main language of the set.

    >>> text_languages(["ok", "O pedido chegou antes do prazo, muito bom"])
    ['pt', 'pt']
    """
    from journeymap.voice.language import detect, main_language

    langs = list(languages) if languages is not None else detect(texts)
    langs = [lang if isinstance(lang, str) and lang else UNDETERMINED for lang in langs]
    main = main_language(langs)
    main = "en" if main == UNDETERMINED else main
    return [main if lang == UNDETERMINED else lang for lang in langs]


def _terms(text: str, language: str) -> list[str]:
    """Word 1-2 grams of a cleaned text for TF-IDF: lower-cased words (any script), the language's stop words
    dropped before the pairs are made (as scikit-learn does with ``stop_words``)."""
    stop = _stop(language)
    words = [w for w in re.findall(_TOKEN, text.lower()) if w not in stop]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def _given(doc: list[str]) -> list[str]:
    return doc


def clean_text(text: str | None) -> str:
    """A text as themes see it: no URLs, no ``@handles``, no ``#``, entities decoded.

    >>> clean_text("@united my bag!! #lostbag http://t.co/x1 &amp; more")
    'my bag!! lostbag & more'
    """
    if not text:
        return ""
    t = _URL.sub(" ", str(text))
    t = _HANDLE.sub(" ", t)
    t = t.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("#", "")
    return _SPACE.sub(" ", t).strip()


# -- the model -----------------------------------------------------------------------------------
class ThemeModel:
    """Cluster texts into themes and label them with key phrases (scikit-learn style).

    Parameters
    ----------
    backend : {"tfidf", "embedding"}
    n_themes : int, optional
        Number of themes; None chooses it by silhouette in ``min_themes..max_themes``.
    seed : int
        Seed of every random step.
    embedder : Embedder, optional
        For ``backend="embedding"`` (give one with the workspace's cache).
    n_phrases : int
        Key phrases kept per theme.

    Attributes
    ----------
    labels_ : ndarray of int
        The theme of each text.
    centrality_ : ndarray of float
        How close each text is to its theme's centre (higher is closer).
    key_phrases_ : list of list of str
        Key phrases of each theme, best first.
    n_themes_ : int

    Examples
    --------
    >>> ThemeModel(backend="bert")
    Traceback (most recent call last):
    ...
    journeymap.errors.InputError: Theme backend 'bert' is unknown (argument backend); use tfidf or embedding.
    """

    def __init__(
        self,
        backend: str = "tfidf",
        *,
        n_themes: int | None = None,
        seed: int = 0,
        embedder: Any = None,
        min_themes: int = 4,
        max_themes: int = 12,
        n_phrases: int = 5,
        max_features: int = 30000,
    ):
        if backend not in BACKENDS:
            raise InputError(f"Theme backend {backend!r} is unknown (argument backend); use tfidf or embedding.")
        if n_themes is not None and n_themes < 1:
            raise InputError(f"n_themes={n_themes!r} must be at least 1; pass a positive number or None.")
        self.backend = backend
        self.n_themes = n_themes
        self.seed = seed
        self.embedder = embedder
        self.min_themes = min_themes
        self.max_themes = max_themes
        self.n_phrases = n_phrases
        self.max_features = max_features

    def fit(self, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> ThemeModel:
        """Find the themes of ``texts`` (``languages``: each text's language, detected when not given)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        cleaned = [clean_text(t) for t in texts]
        n = len(cleaned)
        if n == 0:
            raise InputError("There are no texts to find themes in (argument texts); pass at least one comment.")
        langs = text_languages(cleaned, languages)
        vec = TfidfVectorizer(
            analyzer=_given,
            sublinear_tf=True,
            min_df=2 if n >= 50 else 1,
            max_df=0.5 if n >= 50 else 1.0,
            max_features=self.max_features,
            dtype=np.float32,
        )
        try:
            X = vec.fit_transform([_terms(t, lang) for t, lang in zip(cleaned, langs, strict=True)])
        except ValueError:  # nothing but stop words
            X = None
        k = self._k(X, cleaned)
        if X is None or X.shape[1] == 0 or k == 1:
            self.labels_ = np.zeros(n, dtype=int)
            self.centrality_ = np.zeros(n)
        elif self.backend == "tfidf":
            self._fit_nmf(X, k)
        else:
            self._fit_embedding(X, cleaned, k)
        self.centrality_ = _shared_centrality(cleaned, self.labels_, np.asarray(self.centrality_, dtype=np.float64))
        self.n_themes_ = int(self.labels_.max()) + 1
        # labels and key phrases are read from redacted text: personal data never names a theme
        from journeymap.voice.redact import redact

        self.key_phrases_ = key_phrases(
            [clean_text(redact(t)) for t in texts],
            self.labels_,
            self.n_themes_,
            n_phrases=self.n_phrases,
            languages=langs,
        )
        return self

    def _k(self, X, cleaned: list[str]) -> int:
        n = len(cleaned)
        if self.n_themes is not None:
            return max(1, min(self.n_themes, n))
        if X is None or n < 3 * self.min_themes:
            return 1 if n < 6 else min(self.min_themes, n // 3) or 1
        return choose_k(X, self.min_themes, min(self.max_themes, n // 3), seed=self.seed)

    def _fit_nmf(self, X, k: int) -> None:
        from sklearn.decomposition import NMF

        k = min(k, _distinct_rows(X))  # no more themes than distinct comments
        W = NMF(k, init="nndsvda", random_state=self.seed, max_iter=300).fit_transform(X)
        self.labels_ = _relabel(W.argmax(axis=1), k)
        norms = np.linalg.norm(W, axis=1)
        self.centrality_ = W.max(axis=1) / np.maximum(norms, 1e-12)

    def _fit_embedding(self, X, cleaned: list[str], k: int) -> None:
        from sklearn.cluster import KMeans
        from sklearn.decomposition import TruncatedSVD
        from sklearn.preprocessing import normalize

        embedder = self.embedder
        if embedder is None:
            from journeymap.voice.embeddings import Embedder

            embedder = Embedder()
        E = np.asarray(embedder.encode(cleaned), dtype=np.float64)
        E = normalize(E - E.mean(axis=0))
        dims = min(100, X.shape[1] - 1, X.shape[0] - 1)
        parts = [E]
        if dims >= 2:
            parts.append(0.5 * normalize(TruncatedSVD(dims, random_state=self.seed).fit_transform(X)))
        H = np.hstack(parts)
        k = min(k, _distinct_rows(H))  # fewer distinct comments than themes: one theme per distinct comment at most
        km = KMeans(k, n_init=4, random_state=self.seed).fit(H)
        self.labels_ = _relabel(km.labels_, k)
        centres = np.stack([H[self.labels_ == c].mean(axis=0) for c in range(int(self.labels_.max()) + 1)])
        c = normalize(centres)[self.labels_]
        self.centrality_ = (normalize(H) * c).sum(axis=1)

    def _check(self) -> None:
        if not hasattr(self, "labels_"):
            raise NotFittedError("This ThemeModel is not fitted yet; call fit(texts) first.")


def _shared_centrality(cleaned: Sequence[str], labels: np.ndarray, centrality: np.ndarray) -> np.ndarray:
    """Centrality with identical texts of a theme given one value (their largest).

    Identical rows of the TF-IDF matrix should get identical NMF weights, but blocked float32
    kernels can compute them a last bit apart, which would reorder the theme's quotes.

    >>> _shared_centrality(["a b", "A b", "c"], np.array([0, 0, 0]), np.array([0.5, 0.50000001, 0.2])).tolist()
    [0.50000001, 0.50000001, 0.2]
    """
    best: dict[tuple[int, str], float] = {}
    keys = [(int(lab), text.lower()) for lab, text in zip(labels, cleaned, strict=True)]
    for key, c in zip(keys, centrality, strict=True):
        if c > best.get(key, -np.inf):
            best[key] = float(c)
    return np.array([best[key] for key in keys], dtype=np.float64)


def _distinct_rows(M: np.ndarray) -> int:
    """How many distinct rows ``M`` has (to 12 decimals: identical comments embed to identical rows).

    >>> _distinct_rows(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    2
    """
    import scipy.sparse as sp

    if sp.issparse(M):  # TF-IDF rows: compare their non-zero columns and values, never densify
        csr = sp.csr_matrix(M)  # (typed as an array; already CSR from TF-IDF)
        ptr = csr.indptr
        return len(
            {
                (csr.indices[a:b].tobytes(), np.round(csr.data[a:b], 6).tobytes())
                for a, b in zip(ptr[:-1], ptr[1:], strict=True)
            }
        )
    return int(len(np.unique(np.round(np.asarray(M, dtype=np.float64), 12), axis=0)))


def _relabel(labels: np.ndarray, k: int) -> np.ndarray:
    """Renumber themes by size (largest first, ties by first appearance): stable across runs."""
    sizes = np.bincount(labels, minlength=k)
    first = np.array([np.argmax(labels == c) if sizes[c] else len(labels) for c in range(k)])
    order = sorted((c for c in range(k) if sizes[c]), key=lambda c: (-sizes[c], first[c]))
    mapping = np.full(k, -1)
    mapping[order] = np.arange(len(order))
    return mapping[labels]


def choose_k(X, lo: int, hi: int, *, seed: int = 0, sample: int = 2000) -> int:
    """The k in ``lo..hi`` with the best silhouette of k-means on a sample of ``X`` (SVD-reduced)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import normalize

    if hi <= lo:
        return max(1, hi)
    rng = np.random.default_rng(seed)
    rows = rng.choice(X.shape[0], size=min(sample, X.shape[0]), replace=False)
    dims = min(50, X.shape[1] - 1, len(rows) - 1)
    if dims < 2:
        return lo
    Z = normalize(TruncatedSVD(dims, random_state=seed).fit_transform(X[np.sort(rows)]))
    hi = min(hi, _distinct_rows(Z))  # k-means cannot find more clusters than distinct points
    if hi <= lo:
        return max(1, hi)
    best, best_k = -1.0, lo
    for k in range(lo, hi + 1):
        lab = KMeans(k, n_init=2, random_state=seed).fit_predict(Z)
        if len(set(lab)) < 2:
            continue
        s = round(float(silhouette_score(Z, lab, random_state=seed)), 6)  # ties (and noise) keep the smaller k
        if s > best:
            best, best_k = s, k
    return best_k


def key_phrases(
    texts: Sequence[str], labels: np.ndarray, k: int, *, n_phrases: int = 5, languages: Sequence[str] | None = None
) -> list[list[str]]:
    """Key phrases (2-3 word n-grams) per theme by class-based TF-IDF, best first (each text's
    phrases made with its language's stop words; ``languages`` detected when not given).

    >>> key_phrases(["lost bag again", "lost bag today", "great crew today", "great crew again"],
    ...             np.array([0, 0, 1, 1]), 2, n_phrases=1)
    [['lost bag'], ['great crew']]
    """
    from sklearn.feature_extraction.text import CountVectorizer

    n = len(texts)
    langs = text_languages(texts, languages)
    sw = frozenset().union(*(_stop(lang) for lang in set(langs))) if langs else _stop("en")
    vec = CountVectorizer(analyzer=_given, min_df=2 if n >= 50 else 1, binary=True, max_features=50000)
    try:
        C = vec.fit_transform(
            [_phrases_of(t, _stop(lang), _joiners(lang)) for t, lang in zip(texts, langs, strict=True)]
        )
    except ValueError:
        return [[] for _ in range(k)]
    vocab = vec.get_feature_names_out()
    onehot = np.zeros((n, k), dtype=np.float32)
    onehot[np.arange(n), labels] = 1
    df_c = np.asarray((C.T @ onehot).T, dtype=np.float64)  # k × vocab: documents of the theme with the phrase
    size = onehot.sum(axis=0, dtype=np.float64)[:, None]
    total = df_c.sum(axis=0)
    score = (df_c / np.maximum(size, 1)) * np.log1p((n / max(k, 1)) / np.maximum(total, 1))
    rounded = np.round(score, 9)
    out = []
    for c in range(k):
        chosen: list[str] = []
        used: set[str] = set()
        # best score first (rounded: float noise does not reorder), then the phrase (vocab is alphabetical)
        for j in np.lexsort((np.arange(len(vocab)), -rounded[c])):
            if rounded[c, j] <= 0 or len(chosen) >= n_phrases:
                break
            tokens = vocab[j].split()
            words = {w for w in tokens if w not in sw}
            if words & used or len(set(tokens)) < len(tokens):  # no "flight flight", no word twice across phrases
                continue
            chosen.append(str(vocab[j]))
            used |= words
        out.append(chosen)
    return out


_BREAK = re.compile(r"[.!?,;:()\[\]{}\"\n|/]+|\s[-–—]\s")


_JOINERS = frozenset({"on", "at", "in", "of", "for", "to", "with", "and", "from", "by", "per", "no"})
"""Stop words a 3-word phrase may keep in the middle ("waited on hold"); others ("cost was nasty") break it."""


def _phrases_of(text: str, stop: frozenset[str], joiners: frozenset[str] = _JOINERS) -> list[str]:
    """Candidate key phrases of a text: 2-3 word runs that do not cross punctuation and neither start nor
    end with a stop word; a joining word inside is kept ("waited on hold", "charge at checkout").

    >>> _phrases_of("The postage cost was a nasty surprise, at the end!", frozenset(stop_words()))
    ['postage cost', 'nasty surprise']
    """
    out: list[str] = []
    for segment in _BREAK.split(text.lower()):
        toks = re.findall(_TOKEN, segment)
        for size in (2, 3):
            for i in range(len(toks) - size + 1):
                g = toks[i : i + size]
                if g[0] not in stop and g[-1] not in stop and (size == 2 or g[1] not in stop or g[1] in joiners):
                    out.append(" ".join(g))
    return out


# -- curated rules -------------------------------------------------------------------------------
def pinned_matches(texts: Sequence[str], rules: Sequence[ThemeRule]) -> list[str | None]:
    """The pinned rule each text belongs to (first whose keyword it mentions), or None.

    >>> r = [ThemeRule(name="Refunds", keywords=["refund", "money back"], pinned=True)]
    >>> pinned_matches(["Where is my REFUND?", "great crew"], r)
    ['Refunds', None]
    """
    pins = [(r.name, _keyword_regex(r.keywords)) for r in rules if r.pinned and r.keywords]
    out: list[str | None] = []
    for t in texts:
        low = (t or "").lower()
        out.append(next((name for name, rx in pins if rx.search(low)), None))
    return out


def _keyword_regex(keywords: Sequence[str]) -> re.Pattern:
    alts = "|".join(r"[\s\-]+".join(re.escape(w) for w in k.lower().split()) for k in keywords if k.strip())
    return re.compile(rf"(?<![a-z0-9])(?:{alts})(?![a-z0-9])")


def rule_names(labels: list[str], phrases: list[list[str]], rules: Sequence[ThemeRule]) -> list[tuple[str, str]]:
    """``(name, origin)`` for each discovered theme after the blueprint's merges and renames.

    >>> rules = [ThemeRule(name="Delays", merge=["late flight"]), ThemeRule(name="Bags", keywords=["bag"])]
    >>> rule_names(["late flight", "lost bag", "crew"], [["late flight"], ["lost bag"], ["nice crew"]], rules)
    [('Delays', 'merged'), ('Bags', 'renamed'), ('crew', 'discovered')]
    """
    out = [(label, "discovered") for label in labels]
    for i, (label, ph) in enumerate(zip(labels, phrases, strict=True)):
        keys = {label.lower(), *(p.lower() for p in ph)}
        rule = next((r for r in rules if not r.pinned and any(m.lower() in keys for m in r.merge)), None)
        if rule is not None:
            out[i] = (rule.name, "merged")
    for rule in rules:
        if rule.pinned or not rule.keywords:
            continue
        best, best_score = None, 0
        for i, ph in enumerate(phrases):
            if out[i][1] != "discovered":
                continue
            words = " " + " ".join(ph).lower() + " "
            score = sum(
                1
                for kw in rule.keywords
                if f" {kw.lower().strip()} " in words or any(kw.lower().strip() == p.lower() for p in ph)
            )
            if score > best_score:
                best, best_score = i, score
        if best is not None:
            out[best] = (rule.name, "renamed")
    return out


# -- themes of a set of comments -----------------------------------------------------------------
def themes_from_texts(
    feedback_ids: Sequence[str],
    texts: Sequence[str],
    *,
    ts: Sequence[Any] | None = None,
    touchpoints: Sequence[str | None] | None = None,
    sentiment: Sequence[float] | None = None,
    rules: Sequence[ThemeRule] = (),
    backend: str = "tfidf",
    n_themes: int | None = None,
    seed: int = 0,
    embedder: Any = None,
    period: str = "month",
    n_quotes: int = 5,
    languages: Sequence[str | None] | None = None,
) -> ThemeSet:
    """Themes of comments given as Python lists (see :func:`find_themes` for a warehouse table).

    ``languages``: each comment's language (see :mod:`journeymap.voice.language`), detected when not given.

    Examples
    --------
    >>> ids = [str(i) for i in range(12)]
    >>> texts = ["my refund never came", "lost bag again", "lost bag at baggage claim"] * 4
    >>> rules = [ThemeRule(name="Refunds", keywords=["refund"], pinned=True)]
    >>> ts = themes_from_texts(ids, texts, rules=rules, n_themes=1)
    >>> [(t.name, t.origin, t.size) for t in ts.themes]
    [('lost bag / baggage claim', 'discovered', 8), ('Refunds', 'pinned', 4)]
    """
    ids = [str(i) for i in feedback_ids]
    texts = ["" if t is None else str(t) for t in texts]
    if len(ids) != len(texts):
        raise InputError(f"Got {len(ids)} feedback ids but {len(texts)} texts; pass one id per text.")
    n = len(texts)
    pinned = pinned_matches(texts, rules)
    names = np.array([p if p is not None else "" for p in pinned], dtype=object)
    origin = np.array(["pinned" if p is not None else "" for p in pinned], dtype=object)
    centrality = np.zeros(n)
    free = np.array([p is None for p in pinned])
    labels_by_name: dict[str, tuple[str, list[str]]] = {}
    if free.sum() > 0:
        idx = np.flatnonzero(free)
        model = ThemeModel(backend, n_themes=n_themes, seed=seed, embedder=embedder).fit(
            [texts[i] for i in idx.tolist()], None if languages is None else [languages[i] for i in idx.tolist()]
        )
        labels = [_label(ph, c) for c, ph in enumerate(model.key_phrases_)]
        named = rule_names(labels, model.key_phrases_, rules)
        for c, (name, how) in enumerate(named):
            members = idx[model.labels_ == c]
            names[members] = name
            origin[members] = how
            centrality[members] = model.centrality_[model.labels_ == c]
            prev = labels_by_name.get(name)
            if prev is None:
                labels_by_name[name] = (labels[c], model.key_phrases_[c])
            else:  # two themes under one name (a merge, or the same label): each label and phrase once
                label = prev[0] if labels[c] in prev[0].split(" + ") else f"{prev[0]} + {labels[c]}"
                labels_by_name[name] = (label, prev[1] + [p for p in model.key_phrases_[c] if p not in prev[1]])
    for rule in rules:
        if rule.pinned and rule.name not in labels_by_name:
            labels_by_name[rule.name] = (" / ".join(rule.keywords[:3]), list(rule.keywords))
    themes = []
    for name, (label, phrases) in labels_by_name.items():
        members = np.flatnonzero(names == name)
        if len(members) == 0:
            continue
        how = min(Counter(origin[members]).items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if how == "pinned" and np.any(centrality[members] == 0):
            centrality[members] = _pinned_centrality([texts[i] for i in members])
        themes.append(
            _theme(
                name,
                label,
                how,
                phrases[:8],
                members,
                n,
                ids,
                texts,
                ts,
                touchpoints,
                sentiment,
                centrality,
                period,
                n_quotes,
            )
        )
    themes.sort(key=lambda t: (-t.size, t.name))
    meta = {"backend": backend, "seed": seed, "n_themes": n_themes, "period": period, "rules": [r.name for r in rules]}
    return ThemeSet(themes=themes, n_comments=n, unthemed=0, meta=meta)


def _label(phrases: list[str], c: int) -> str:
    return " / ".join(phrases[:2]) if phrases else f"theme {c + 1}"


def _pinned_centrality(texts: list[str]) -> np.ndarray:
    """For pinned themes: shorter texts that are closest to the theme's mean TF-IDF come first."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        X = TfidfVectorizer().fit_transform([clean_text(t) for t in texts])
    except ValueError:
        return np.ones(len(texts))
    centre = np.asarray(X.mean(axis=0)).ravel()
    return np.asarray(X @ centre).ravel() + 1e-9


def _theme(
    name, label, how, phrases, members, n, ids, texts, ts, touchpoints, sentiment, centrality, period, n_quotes
) -> Theme:
    sent = None
    if sentiment is not None:
        vals = np.asarray([sentiment[i] for i in members], dtype=float)
        vals = vals[~np.isnan(vals)]
        sent = float(vals.mean()) if len(vals) else None
    tps: dict[str, int] = {}
    if touchpoints is not None:
        tps = dict(
            sorted(Counter((touchpoints[i] or UNASSIGNED) for i in members).items(), key=lambda kv: (-kv[1], kv[0]))
        )
    trend: dict[str, int] = {}
    if ts is not None:
        trend = dict(sorted(Counter(_period(ts[i], period) for i in members if ts[i] is not None).items()))
    return Theme(
        name=name,
        label=label,
        origin=how,
        key_phrases=phrases,
        size=len(members),
        share=len(members) / max(n, 1),
        sentiment=sent,
        touchpoints=tps,
        trend=trend,
        quotes=_quotes(members, ids, texts, touchpoints, sentiment, centrality, n_quotes),
        feedback_ids=[ids[i] for i in members],
    )


def _quotes(members, ids, texts, touchpoints, sentiment, centrality, n_quotes) -> list[Quote]:
    from journeymap.voice.redact import redact

    # closest to the centre first (rounded: noise in float32 weights does not reorder), then feedback id
    order = sorted(members, key=lambda i: (-rank_value(centrality[i], FLOAT32_RANK_DECIMALS), ids[i]))
    seen: set[str] = set()
    out = []
    for i in order:
        text = redact(texts[i]) or ""
        key = clean_text(text).lower()
        if not key or key in seen:
            continue
        seen.add(key)
        s = None if sentiment is None or _isnan(sentiment[i]) else float(sentiment[i])
        out.append(
            Quote(
                feedback_id=ids[i], text=text, sentiment=s, touchpoint=None if touchpoints is None else touchpoints[i]
            )
        )
        if len(out) >= n_quotes:
            break
    return out


def _isnan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _period(value: Any, period: str) -> str:
    import pandas as pd

    t = pd.Timestamp(value)
    if period == "day":
        return t.strftime("%Y-%m-%d")
    if period == "week":
        return (t - pd.Timedelta(days=t.weekday())).strftime("%Y-%m-%d")
    return t.strftime("%Y-%m-01")


def find_themes(
    feedback: ir.Table,
    *,
    blueprint: Blueprint | None = None,
    scores: ir.Table | None = None,
    sentiment: str | None = None,
    backend: str = "tfidf",
    n_themes: int | None = None,
    seed: int = 0,
    embedder: Any = None,
    period: str = "month",
    n_quotes: int = 5,
    con: Any = None,
) -> ThemeSet:
    """Themes of the comments in ``feedback`` (rows with text and a ``feedback_id``).

    Parameters
    ----------
    feedback : ibis.Table
        The ``feedback`` table (or a filtered part); a ``link_touchpoint`` column (from
        :func:`journeymap.voice.linking.link_feedback`) is used for touchpoints when present.
    blueprint : Blueprint, optional
        Its ``themes:`` rules are applied (pin, merge, rename).
    scores : ibis.Table, optional
        ``feedback_scores`` rows of one backend (``journeymap.voice.scoring.scores``); without
        it sentiment is computed with the lexicon backend.
    sentiment : {"negative", "neutral", "positive"}, optional
        Only comments with this sentiment: by the rating where a comment has one (see
        :func:`rating_labels`), by its sentiment label otherwise.
    backend, n_themes, seed, embedder
        See :class:`ThemeModel`.
    period : {"day", "week", "month"}
        Length of the trend's periods.
    n_quotes : int
        Representative quotes per theme (3-5 is what readers take in).
    """
    if period not in PERIODS:
        raise InputError(f"Period {period!r} is unknown (argument period); use one of {', '.join(PERIODS)}.")
    fb = feedback.filter(feedback.text.notnull(), feedback.feedback_id.notnull())
    tp = fb.link_touchpoint if "link_touchpoint" in fb.columns else fb.touchpoint
    cols = {
        "feedback_id": fb.feedback_id,
        "text": fb.text,
        "ts": fb.ts,
        "tp": tp.cast("string"),
        **{c: fb[c].cast("float64") for c in RATING_COLUMNS if c in fb.columns},
    }
    t = fb.select(**cols)
    if scores is not None:
        extra = {"language": scores.language} if "language" in scores.columns else {}
        s = scores.select(
            sid=scores.feedback_id, sentiment=scores.sentiment, sentiment_label=scores.sentiment_label, **extra
        )
        t = t.left_join(s, t.feedback_id == s.sid).drop("sid")
    df = engine.execute(t.order_by("feedback_id"), con)
    texts = df["text"].tolist()
    if scores is None:
        from journeymap.voice.sentiment import LexiconSentiment, labels

        model = LexiconSentiment()
        values = model.score(texts) if texts else np.zeros(0)
        df["sentiment"] = values
        df["sentiment_label"] = labels(values, neutral=model.neutral) if texts else []
    if sentiment is not None:
        by_rating = rating_labels(*(df[c] if c in df.columns else [None] * len(df) for c in RATING_COLUMNS))
        label = [r if r is not None else x for r, x in zip(by_rating, df["sentiment_label"].tolist(), strict=True)]
        df = df[np.asarray([x == sentiment for x in label], dtype=bool)].reset_index(drop=True)
    if df.empty:
        raise InputError(
            "No feedback with text matches (feedback table, sentiment filter); ingest comments or loosen the filter."
        )
    return themes_from_texts(
        df["feedback_id"].tolist(),
        df["text"].tolist(),
        ts=df["ts"].tolist(),
        touchpoints=[None if _isnan(x) else x for x in df["tp"].tolist()],
        sentiment=df["sentiment"].astype(float).tolist(),
        rules=blueprint.themes if blueprint else (),
        backend=backend,
        n_themes=n_themes,
        seed=seed,
        embedder=embedder,
        period=period,
        n_quotes=n_quotes,
        languages=df["language"].tolist() if "language" in df.columns else None,
    )


RATING_COLUMNS = ("rating", "rating_scale", "csat", "nps")


def rating_labels(rating=None, rating_scale=None, csat=None, nps=None) -> list[str | None]:
    """The sentiment each row's rating stands for, None where it has none.

    ``rating`` on its ``rating_scale`` (without a scale: out of 5 when every rating lies in 1..5,
    out of 10 when in 0..10, else out of the highest): up to 40% of the scale negative (1-2 of 5),
    up to 60% neutral (3 of 5), above positive (4-5 of 5); else CSAT (1-5) likewise; else NPS
    0-6 negative, 7-8 neutral, 9-10 positive.

    >>> rating_labels([1, 3, 4, None, None], None, [None, None, None, 5, None], [None, None, None, None, 7])
    ['negative', 'neutral', 'positive', 'positive', 'neutral']
    """
    import pandas as pd

    cols = [c for c in (rating, rating_scale, csat, nps) if c is not None]
    n = len(cols[0]) if cols else 0

    def num(c) -> np.ndarray:
        if c is None:
            return np.full(n, np.nan)
        return pd.to_numeric(pd.Series(list(c), dtype=object), errors="coerce").to_numpy(dtype=float)

    r, scale, cs, ps = num(rating), num(rating_scale), num(csat), num(nps)
    have = r[~np.isnan(r)]
    guess = (
        5.0
        if have.size and have.min() >= 1 and have.max() <= 5
        else 10.0
        if have.size and have.min() >= 0 and have.max() <= 10
        else float(have.max())
        if have.size
        else 5.0
    )
    scale = np.where(np.isnan(scale) | (scale <= 0), guess, scale)
    share = np.where(np.isnan(r), cs / 5.0, r / scale)
    by_share = np.where(share <= 0.4 + 1e-9, "negative", np.where(share <= 0.6 + 1e-9, "neutral", "positive"))
    by_nps = np.where(ps <= 6, "negative", np.where(ps <= 8, "neutral", "positive"))
    out = np.where(~np.isnan(share), by_share, np.where(~np.isnan(ps), by_nps, ""))
    return [x or None for x in out.tolist()]
