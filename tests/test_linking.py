"""Linking feedback to touchpoints: explicit > keywords > similarity > unassigned."""

from __future__ import annotations

import ibis
import pytest

from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.voice.linking import link_feedback, link_summary, touchpoint_keywords

BP = Blueprint.model_validate(
    {
        "touchpoints": [
            {"name": "Baggage claim", "keywords": ["lost bag", "luggage", "suitcase"]},
            {"name": "Check-in", "description": "airport counter and online check in before the flight, boarding pass"},
            {"name": "Refund desk", "keywords": ["refund", "money back"]},
        ]
    }
)


def _fb():
    return ibis.memtable(
        {
            "feedback_id": ["e", "k1", "k2", "amb", "s", "u", "nid"],
            "touchpoint": ["Refund desk", None, "", None, None, None, None],
            "text": [
                "my luggage was lost",  # explicit wins over the keyword
                "where is my SUITCASE??",  # keyword
                "I want my money back",  # keyword (multi-word), empty touchpoint counts as missing
                "refund for the lost bag and the luggage",  # two baggage keywords beat one refund keyword
                "could not print my boarding pass at the counter",  # similarity
                "nice weather today",  # nothing
                None,
            ],
        }
    )


def _links(**kw):
    df = link_feedback(_fb(), BP, **kw).execute()
    return {r.feedback_id: (r.link_touchpoint, r.link_method, r.link_confidence) for r in df.itertuples()}


def test_precedence_and_confidence():
    got = _links()
    assert got["e"] == ("Refund desk", "explicit", 1.0)
    assert got["k1"] == ("Baggage claim", "keyword", 1.0)
    assert got["k2"] == ("Refund desk", "keyword", 1.0)
    tp, method, conf = got["amb"]
    assert (tp, method) == ("Baggage claim", "keyword") and conf == pytest.approx(2 / 3)
    tp, method, conf = got["s"]
    assert (tp, method) == ("Check-in", "similarity") and 0.15 <= conf <= 1
    assert got["u"] == ("unassigned", "unassigned", 0.0)
    assert got["nid"] == ("unassigned", "unassigned", 0.0)


def test_threshold_and_no_similarity():
    assert _links(threshold=0.99)["s"] == ("unassigned", "unassigned", 0.0)
    assert _links(backend="none")["s"][1] == "unassigned"
    with pytest.raises(InputError, match="argument backend"):
        link_feedback(_fb(), BP, backend="magic")


def test_keywords_are_whole_words_and_include_name_words():
    assert touchpoint_keywords(BP.touchpoints[0]) == [
        "lost bag",
        "luggage",
        "suitcase",
        "baggage claim",
        "baggage",
        "claim",
    ]
    fb = ibis.memtable(
        {
            "feedback_id": ["1", "2"],
            "touchpoint": [None, None],
            "text": ["refunded? refundable!", "the baggage area was a mess"],
        }
    ).cast({"touchpoint": "string"})
    df = link_feedback(fb, BP, backend="none").execute().set_index("feedback_id")
    assert df.loc["1", "link_method"] == "unassigned"  # 'refund' does not match inside 'refunded'
    assert df.loc["2", "link_touchpoint"] == "Baggage claim"


def test_summary_counts_every_row():
    s = link_summary(link_feedback(_fb(), BP))
    assert sum(r["n"] for r in s.records()) == 7
    methods = {r["method"] for r in s.records()}
    assert methods == {"explicit", "keyword", "similarity", "unassigned"}
