"""Privacy on by default: personal data planted in feedback never reaches a theme label, a key phrase,
a quote, the map JSON, the HTML / Markdown / CSV report or the `voice themes` / `quotes` / `impact` /
`emotions` / `sentiment` output.

A demo workspace gets extra feedback rows, each carrying one kind of personal data (e-mail, phone,
card, IBAN with and without spaces, SSN, date of birth, card expiry and CVV, street addresses, UK /
US / EU postcodes, names, a dotted @handle); the rows repeat with small changes so that their words
would make key phrases (as `delivery to downing` and `doe orders` did). Every export is then read as
text and searched for each planted value (case-insensitive), and the words of names and streets
one by one, while the words around them must still be there.
"""

from __future__ import annotations

import csv
import json
import re

import pytest
from click.testing import CliRunner

from journeymap.cli import main
from journeymap.demo import create_demo
from journeymap.voice.redact import redact
from journeymap.workspace import Workspace

# (template, planted values that must vanish, surrounding words that must stay)
PLANTED = [
    (
        "Refund never arrived, please refund to IBAN GB82 WEST 1234 5698 7654 32 asap",
        ["GB82 WEST 1234 5698 7654 32", "GB82", "WEST 1234"],
        ["refund never arrived", "asap"],
    ),
    (
        "Refund never arrived, send it to DE89370400440532013000 today",
        ["DE89370400440532013000", "DE89"],
        ["refund never arrived", "today"],
    ),
    (
        "Delivery to 10 Downing Street was left outside in the rain",
        ["10 Downing Street", "Downing"],
        ["was left outside in the rain"],
    ),
    (
        "Delivery to 221B Baker St was left outside in the rain",
        ["221B Baker St", "Baker", "221B"],
        ["was left outside in the rain"],
    ),
    (
        "Parcel for Rua Augusta 123, Lisboa was left outside in the rain",
        ["Rua Augusta 123", "Augusta"],
        ["was left outside in the rain", "Lisboa"],
    ),
    (
        "Courier lost my parcel, postcode SW1A 2AA is not hard to find",
        ["SW1A 2AA", "SW1A"],
        ["courier lost my parcel", "is not hard to find"],
    ),
    ("Courier lost my parcel in Springfield, IL 62704 again", ["62704"], ["courier lost my parcel", "Springfield"]),
    (
        "Courier lost my parcel at 75008 Paris and 1012 AB Amsterdam",
        ["75008", "1012 AB"],
        ["courier lost my parcel", "Paris", "Amsterdam"],
    ),
    (
        "Jane Doe orders keep getting cancelled, my name is Jane Doe",
        ["Jane Doe", "Doe"],
        ["orders keep getting cancelled", "my name is"],
    ),
    (
        "Mrs Whitmore at checkout was rude about the payment failing",
        ["Whitmore"],
        ["at checkout was rude about the payment failing"],
    ),
    ("Payment failing at checkout every time. Thanks, Priya", ["Priya"], ["payment failing at checkout every time"]),
    (
        "Payment failing at checkout with card 4111 1111 1111 1111 exp 12/27 CVV 737",
        ["4111 1111 1111 1111", "12/27", "737"],
        ["payment failing at checkout with card"],
    ),
    (
        "Account locked, SSN 219-09-9999 and DOB 01/02/1980 were rejected",
        ["219-09-9999", "01/02/1980"],
        ["account locked", "were rejected"],
    ),
    (
        "Account locked, born on 14 March 1975 and still no access",
        ["14 March 1975"],
        ["account locked", "and still no access"],
    ),
    (
        "Account locked, mail jane.doe@example.com or call +44 20 7946 0958",
        ["jane.doe@example.com", "+44 20 7946 0958", "7946"],
        ["account locked", "mail", "or call"],
    ),
    (
        "Account locked, ask @mike.t who had the same problem",
        ["@mike.t", "mike.t", "mike"],
        ["account locked", "who had the same problem"],
    ),
]
COPIES = 8  # each template this many times (with an order number), so that its words could make key phrases
NAME_WORDS = ["downing", "baker", "augusta", "doe", "whitmore", "priya", "mike"]
"""Names and street names: none of these words may appear anywhere (whole words, any case)."""


def _rows(customers: list[str], touchpoints: list[str]) -> list[dict]:
    rows = []
    for i, (template, _, _) in enumerate(PLANTED):
        for j in range(COPIES):
            n = i * COPIES + j
            rows.append(
                {
                    "response_id": f"PII-{n:04d}",
                    "customer": customers[n % len(customers)],
                    "submitted_at": f"2025-{1 + n % 11:02d}-{1 + n % 27:02d} 12:00:00",
                    "kind": "review",
                    "touchpoint": touchpoints[n % len(touchpoints)],
                    "channel": "web",
                    "comment": f"Order {50000 + n}: {template}",
                    "nps": "",
                    "csat": "1",
                    "ces": "",
                    "rating": "1",
                    "rating_scale": "5",
                }
            )
    return rows


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, str]:
    """Every export of a demo workspace with the planted rows, as text by name."""
    root = tmp_path_factory.mktemp("privacy")
    path = root / "shop"
    create_demo(path, 600, seed=5)
    with open(path / "data" / "feedback.csv", newline="", encoding="utf-8") as f:
        demo = list(csv.DictReader(f))
    customers = sorted({r["customer"] for r in demo})
    touchpoints = ["Checkout", "Delivery options", "Order tracking", "Returns"]
    known = {r["touchpoint"] for r in demo}
    touchpoints = [t for t in touchpoints if t in known] or sorted(known)[:3]
    planted = root / "planted.csv"
    rows = _rows(customers, touchpoints)
    with open(planted, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    ws = Workspace.open(path)
    try:
        ws.ingest_feedback(planted)
    finally:
        ws.close()

    out: dict[str, str] = {}
    runner = CliRunner()

    def run(name: str, *args: str) -> str:
        r = runner.invoke(main, ["-w", str(path), *args], catch_exceptions=False)
        assert r.exit_code == 0, (name, r.output)
        out[name] = r.output
        return r.output

    run("map table", "map", "-o", str(root / "map.json"))
    out["map json"] = (root / "map.json").read_text(encoding="utf-8")
    run("report html", "report", "--from", str(root / "map.json"), "-o", str(root / "map.html"))
    out["report html"] = (root / "map.html").read_text(encoding="utf-8")
    run("report md", "report", "--from", str(root / "map.json"), "--format", "md", "-o", str(root / "map.md"))
    out["report md"] = (root / "map.md").read_text(encoding="utf-8")
    run("report csv", "report", "--from", str(root / "map.json"), "--format", "csv", "-o", str(root / "tables"))
    csvs = sorted((root / "tables").glob("*.csv"))
    assert csvs
    for p in csvs:
        out[f"report csv {p.name}"] = p.read_text(encoding="utf-8")
    for cmd in ("themes", "quotes"):
        for fmt in ("json", "csv", "table"):
            run(f"voice {cmd} {fmt}", "voice", cmd, "--format", fmt)
        run(f"voice {cmd} negative json", "voice", cmd, "--sentiment", "negative", "--format", "json")
    run("voice emotions json", "voice", "emotions", "--by", "touchpoint", "--format", "json")
    run("voice impact json", "voice", "impact", "--format", "json")
    run("voice sentiment json", "voice", "sentiment", "--format", "json")
    return out


def _hits(text: str, value: str) -> bool:
    """``value`` in ``text`` as a whole (not inside a longer word or number), any case."""
    return re.search(rf"(?<![\w.]){re.escape(value)}(?![\w])", text, re.IGNORECASE) is not None


def test_planted_rows_surface_in_the_exports(outputs):
    """The check below means something: the planted comments do reach the quotes and themes, redacted."""
    quotes = outputs["voice quotes json"] + outputs["voice quotes negative json"]
    seen = {tag for tag in re.findall(r"\[(\w+)\]", quotes)}
    assert {"iban", "address", "name"} <= seen, seen
    everything = "\n".join(outputs.values())
    seen_all = set(
        re.findall(r"\[(iban|address|postcode|name|ssn|dob|expiry|cvv|card|email|phone|handle)\]", everything)
    )
    assert len(seen_all) >= 8, seen_all
    assert "refund never arrived" in everything.lower()
    assert "was left outside in the rain" in everything.lower()


@pytest.mark.parametrize(("template", "values", "kept"), PLANTED, ids=[p[0][:32] for p in PLANTED])
def test_no_planted_value_in_any_export(outputs, template, values, kept):
    for name, text in outputs.items():
        for value in values:
            assert not _hits(text, value), f"{value!r} leaks into {name}"


@pytest.mark.parametrize("word", NAME_WORDS)
def test_no_name_or_street_word_in_any_export(outputs, word):
    rx = re.compile(rf"(?<![\w.]){re.escape(word)}(?!\w)", re.IGNORECASE)
    for name, text in outputs.items():
        m = rx.search(text)
        assert m is None, f"{word!r} leaks into {name}: ...{text[max(0, m.start() - 60) : m.end() + 60]}..."


def test_theme_labels_and_key_phrases_come_from_redacted_text(outputs):
    themes = json.loads(outputs["voice themes json"])
    items = themes["themes"] if isinstance(themes, dict) else themes
    words = " ".join(
        " ".join([t.get("name") or "", t.get("label") or "", *t.get("key_phrases", [])]) for t in items
    ).lower()
    assert words
    for leaked in ("downing", "iban", "doe orders", "baker", "whitmore", "gb82", "sw1a"):
        assert leaked not in words
    # with the personal words gone, two themes may share a label: each label part and key phrase shows once
    for t in items:
        parts = (t.get("label") or "").split(" + ")
        assert len(parts) == len(set(parts)), t.get("label")
        assert len(t["key_phrases"]) == len(set(t["key_phrases"])), t["key_phrases"]


@pytest.mark.parametrize(("template", "values", "kept"), PLANTED, ids=[p[0][:32] for p in PLANTED])
def test_redaction_keeps_the_words_around(template, values, kept):
    text = redact(template)
    for value in values:
        assert value.lower() not in text.lower()
    for word in kept:
        assert word.lower() in text.lower(), (template, text)


def test_map_json_texts_are_redacted_where_the_map_quotes(outputs):
    doc = json.loads(outputs["map json"])
    texts: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("text", "label", "name") and isinstance(v, str):
                    texts.append(v)
                elif k == "key_phrases" and isinstance(v, list):
                    texts.extend(str(x) for x in v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    assert any("[" in t for t in texts), "no redacted quote reached the map"
    for t in texts:
        assert redact(t) == t, t
