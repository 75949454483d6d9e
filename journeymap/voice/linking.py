"""Link each feedback row to the touchpoint it is about, with the method and a confidence.

Precedence, first that applies wins:

1. ``explicit`` (confidence 1): the row's own ``touchpoint`` column is filled.
2. ``keyword``: the text mentions the touchpoint's blueprint ``keywords``, its full name, or
   a distinctive word of its name (4+ letters, not a stop word), as whole words, ignoring
   case. The touchpoint with the most distinct matching keywords wins (ties: blueprint
   order); confidence = its share of all keyword matches in the text (1 when unambiguous).
3. ``similarity``: cosine similarity between the text and the touchpoint's name, description
   and keywords is at least ``threshold``: TF-IDF word 1-2 grams without the ``nlp`` extra
   (default threshold :data:`THRESHOLDS` ``["tfidf"]``), MiniLM embeddings with it
   (``["embedding"]``); confidence = the similarity.
4. ``unassigned`` (confidence 0).

Steps 1-2 are Ibis expressions run by the engine; step 3 brings only the still unassigned
texts (with a ``feedback_id``) to Python in batches, in ``feedback_id`` order, so the batches
(and the TF-IDF each is fitted with) do not depend on the order rows were stored in. Similarities
are rounded to 9 decimals before the best touchpoint is picked (ties: blueprint order) and
compared with the threshold, so float noise cannot change a link.

Examples
--------
>>> import ibis
>>> from journeymap.blueprint import Blueprint
>>> bp = Blueprint.model_validate({"touchpoints": [
...     {"name": "Baggage claim", "keywords": ["lost bag", "luggage"]},
...     {"name": "Check-in", "description": "airport desk and online check in before the flight"}]})
>>> fb = ibis.memtable({"feedback_id": ["1", "2", "3", "4"], "touchpoint": ["Check-in", None, None, None],
...                     "text": ["ok", "my LUGGAGE never came", "the online check in page failed", "hello"]})
>>> out = link_feedback(fb, bp).order_by("feedback_id").execute()
>>> out[["link_touchpoint", "link_method"]].values.tolist()
[['Check-in', 'explicit'], ['Baggage claim', 'keyword'], ['Check-in', 'similarity'], ['unassigned', 'unassigned']]
"""

from __future__ import annotations

import re
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np

from journeymap import engine
from journeymap.blueprint import Blueprint, Touchpoint
from journeymap.errors import InputError
from journeymap.ranking import RANK_DECIMALS
from journeymap.voice.results import LinkRow, LinkSummary

METHODS = ("explicit", "keyword", "similarity", "unassigned")
THRESHOLDS = {"tfidf": 0.15, "embedding": 0.35}
"""Default similarity thresholds per backend."""
UNASSIGNED = "unassigned"
_STOP = frozenset(
    "the and for with from your our this that page desk online service services customer team "
    "store shop app web site email call".split()
)


def touchpoint_keywords(tp: Touchpoint) -> list[str]:
    """The phrases that link a text to ``tp``: its keywords, its name, distinctive name words.

    >>> touchpoint_keywords(Touchpoint(name="Baggage claim", keywords=["lost bag"]))
    ['lost bag', 'baggage claim', 'baggage', 'claim']
    """
    out = [k.strip().lower() for k in tp.keywords if k.strip()]
    name = tp.name.strip().lower()
    out.append(name)
    words = re.findall(r"[a-z][a-z'\-]+", name)
    if len(words) > 1:
        out.extend(w for w in words if len(w) >= 4 and w not in _STOP)
    seen: dict[str, None] = {}
    for k in out:
        seen.setdefault(k, None)
    return list(seen)


def _phrase_regex(phrase: str) -> str:
    parts = [re.escape(p) for p in phrase.split()]
    return r"(?i)(^|[^a-z0-9])" + r"[\s\-]+".join(parts) + r"($|[^a-z0-9])"


def keyword_links(feedback: ir.Table, blueprint: Blueprint, *, skip: ir.BooleanValue | None = None) -> ir.Table:
    """``feedback`` with ``kw_touchpoint`` and ``kw_confidence`` (null where no keyword matches).

    Rows where ``skip`` holds are not searched (no keyword link), e.g. rows that name their touchpoint.
    """
    text = feedback.text.fill_null("")
    if skip is not None:
        text = ibis.ifelse(skip, ibis.literal(""), text)
    hits = []
    for tp in blueprint.touchpoints:
        kws = touchpoint_keywords(tp)
        h = sum((text.re_search(_phrase_regex(k)).cast("int64") for k in kws), ibis.literal(0, "int64"))
        hits.append((tp.name, h))
    if not hits:
        return feedback.mutate(kw_touchpoint=ibis.null("string"), kw_confidence=ibis.null("float64"))
    # Each touchpoint's hits appear once in one GREATEST over "hits * base + rank" (ties go to the
    # first touchpoint), so engines that inline projections do not run every regex once per CASE branch.
    base = len(hits) + 1
    enc = [h * base + (base - 1 - i) for i, (_, h) in enumerate(hits)]
    t = feedback.mutate(
        _kw_best=ibis.greatest(*enc) if len(enc) > 1 else enc[0],
        _kw_total=sum((h for _, h in hits), ibis.literal(0, "int64")),
    )
    best = (t._kw_best // base).cast("int64")
    index = (base - 1 - t._kw_best % base).cast("int64")
    choice = ibis.ifelse(
        best > 0,
        index.substitute({i: name for i, (name, _) in enumerate(hits)}, else_=ibis.null("string")),
        ibis.null("string"),
    )
    conf = ibis.cases((best > 0, best.cast("float64") / t._kw_total.cast("float64")), else_=ibis.null("float64"))
    return t.mutate(kw_touchpoint=choice, kw_confidence=conf).drop("_kw_best", "_kw_total")


def touchpoint_documents(blueprint: Blueprint) -> list[str]:
    """The text each touchpoint is compared with: name, description, keywords."""
    return [" ".join([tp.name, tp.description, *tp.keywords]) for tp in blueprint.touchpoints]


def similarity(texts: list[str], documents: list[str], *, backend: str = "tfidf", embedder: Any = None) -> np.ndarray:
    """Cosine similarity of each text to each document (texts × documents).

    >>> s = similarity(["the gate agent was rude"], ["gate boarding agent", "refund payment"])
    >>> bool(s[0, 0] > s[0, 1])
    True
    """
    if backend == "tfidf":
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(ngram_range=(1, 2), stop_words="english", sublinear_tf=True, min_df=1)
        vec.fit(list(texts) + list(documents))
        return (vec.transform(texts) @ vec.transform(documents).T).toarray()
    if backend == "embedding":
        if embedder is None:
            from journeymap.voice.embeddings import Embedder

            embedder = Embedder()
        return embedder.encode(texts) @ embedder.encode(documents).T
    raise InputError(f"Similarity backend {backend!r} is unknown (argument backend); use tfidf or embedding.")


def link_feedback(
    feedback: ir.Table,
    blueprint: Blueprint,
    *,
    backend: str = "tfidf",
    threshold: float | None = None,
    embedder: Any = None,
    con: Any = None,
    batch_size: int = 20000,
    materialize: Any = None,
) -> ir.Table:
    """``feedback`` with ``link_touchpoint``, ``link_method`` and ``link_confidence``.

    Parameters
    ----------
    feedback : ibis.Table
        Needs ``feedback_id``, ``touchpoint`` and ``text``.
    blueprint : Blueprint
    backend : {"tfidf", "embedding", "none"}
        Similarity step (``"none"`` skips it).
    threshold : float, optional
        Least similarity to link (default :data:`THRESHOLDS` of the backend).
    embedder : Embedder, optional
        For ``backend="embedding"`` (e.g. one with the workspace's cache).
    con : ibis backend, optional
        Where to run the step that brings unassigned texts to Python.
    materialize : callable, optional
        ``materialize(table) -> table``, e.g. one making a temporary table: applied to the
        keyword-linked feedback before the similarity step, so the keyword regexes run once.
    """
    if backend not in (*THRESHOLDS, "none"):
        raise InputError(f"Linking backend {backend!r} is unknown (argument backend); use tfidf, embedding or none.")
    tp = feedback.touchpoint.cast("string")
    explicit = tp.notnull() & (tp.strip() != "")
    t = keyword_links(feedback, blueprint, skip=explicit)
    t = t.mutate(
        link_touchpoint=ibis.cases(
            (explicit, tp), (t.kw_touchpoint.notnull(), t.kw_touchpoint), else_=ibis.null("string")
        ),
        link_method=ibis.cases((explicit, "explicit"), (t.kw_touchpoint.notnull(), "keyword"), else_=UNASSIGNED),
        link_confidence=ibis.cases((explicit, 1.0), (t.kw_touchpoint.notnull(), t.kw_confidence), else_=0.0),
    ).drop("kw_touchpoint", "kw_confidence")
    if materialize is not None:
        t = materialize(t)
    if backend != "none" and blueprint.touchpoints:
        sims = _similarity_links(t, blueprint, backend, threshold, embedder, con, batch_size)
        if sims is not None:
            j = t.left_join(sims, t.feedback_id == sims.sim_id)
            t = j.mutate(
                link_touchpoint=ibis.coalesce(j.link_touchpoint, j.sim_touchpoint),
                link_method=ibis.cases(
                    (j.sim_touchpoint.notnull() & (j.link_method == UNASSIGNED), "similarity"), else_=j.link_method
                ),
                link_confidence=ibis.cases(
                    (j.sim_touchpoint.notnull() & (j.link_method == UNASSIGNED), j.sim_confidence),
                    else_=j.link_confidence,
                ),
            ).drop("sim_id", "sim_touchpoint", "sim_confidence")
    return t.mutate(link_touchpoint=t.link_touchpoint.fill_null(UNASSIGNED))


def _similarity_links(t, blueprint, backend, threshold, embedder, con, batch_size):
    threshold = THRESHOLDS[backend] if threshold is None else threshold
    todo = (
        t.filter((t.link_method == UNASSIGNED) & t.feedback_id.notnull() & t.text.notnull())
        .select("feedback_id", "text")
        .order_by("feedback_id")
    )
    arrow = engine.to_pyarrow(todo, con) if con is not None else todo.to_pyarrow()
    if arrow.num_rows == 0:
        return None
    docs = touchpoint_documents(blueprint)
    names = np.array(blueprint.touchpoint_names(), dtype=object)
    ids, tps, confs = [], [], []
    for start in range(0, arrow.num_rows, batch_size):
        part = arrow.slice(start, batch_size)
        sim = np.round(
            similarity(part.column("text").to_pylist(), docs, backend=backend, embedder=embedder), RANK_DECIMALS
        )
        best = sim.argmax(axis=1)  # ties: the first touchpoint in blueprint order
        score = sim[np.arange(len(best)), best]
        keep = score >= threshold
        ids.extend(np.array(part.column("feedback_id").to_pylist(), dtype=object)[keep])
        tps.extend(names[best[keep]])
        confs.extend(score[keep].astype(float))
    if not ids:
        return None
    return ibis.memtable(
        {"sim_id": list(ids), "sim_touchpoint": list(tps), "sim_confidence": [round(c, 4) for c in confs]}
    )


def link_summary(links: ir.Table, con: Any = None) -> LinkSummary:
    """Counts of linked rows per touchpoint and method, with the mean confidence."""
    agg = (
        links.group_by(["link_touchpoint", "link_method"])
        .aggregate(n=links.count(), mean_confidence=links.link_confidence.mean())
        .order_by(["link_touchpoint", "link_method"])
    )
    df = engine.execute(agg, con)
    rows = [[r.link_touchpoint, r.link_method, int(r.n), round(float(r.mean_confidence), 4)] for r in df.itertuples()]
    return LinkSummary(columns=list(LinkRow.columns()), rows=rows, meta={"methods": list(METHODS)})
