"""Hostile text in the reports: names, descriptions, quotes and attributes that try to become markup.

A workspace is built the user's way (``journeymap init``, a blueprint written as YAML, CSV files
through ``journeymap ingest``) where stage, touchpoint, persona, owner and channel names, stage
descriptions, feedback comments, event properties and customer attributes carry payloads: HTML and
script break-outs that would set ``window.__pwned``, Markdown links to ``javascript:``, spreadsheet
formulas, a bidi override and a zero-width space inside names. The map is built and rendered by
the CLI as HTML, Markdown and CSV; then

* the Markdown, rendered by markdown-it-py as GitHub would (tables, autolinks), has no element,
  link or image from the payloads, and the payload text is still there as text;
* no CSV cell (report tables and ``--format csv`` of the commands) starts with ``= + - @`` tab or
  CR unless it is a number or carries the leading ``'``;
* the HTML file has no payload markup, no ``</script>`` break-out, no bidi / zero-width character;
* in Chromium: hovering every chart and opening every touchpoint card makes no request, no dialog,
  no payload element and leaves ``window.__pwned`` undefined.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from journeymap.cli import main
from journeymap.report.browser import CHROMIUM_FLAGS, chromium_path, missing
from journeymap.report.safety import csv_cell, display_text, md_text
from tests.conftest import write_csv

IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "</script><script>window.__pwned=2</script>"
LINK = "[click](javascript:window.__pwned=3)"
JS = "javascript:window.__pwned=4"
HYPER = '=HYPERLINK("http://x")'
PLUS = "+1+1"
AT = "@SUM(1)"
MINUS = "-2+3"
QUOTES = "\"quotes' & ampersands"
BIDI = "\u202e"
ZW = "\u200b"
INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2060\ufeff\u061c]")

STAGES = [
    (f"aware {IMG}", LINK),
    (f"consider {SCRIPT}", JS),
    (f"pur{BIDI}chase{ZW}", QUOTES),
]
# name, stage index, channel, owner
TOUCHPOINTS = [
    (HYPER, 0, f"social {IMG}", AT),
    (f"Site {LINK}", 1, "web", PLUS),
    (f"Help {JS} | a\\|b", 1, f"we{ZW}b", QUOTES),
    (f"Pay{ZW}ment {SCRIPT}", 2, f"app {SCRIPT}", MINUS),
    (f"{PLUS} Buy{BIDI}", 2, "web", f"Team {IMG}"),
]
PERSONAS = [(AT, f"seg {IMG}"), (f"{MINUS} {SCRIPT}", "plain"), (f"Check{BIDI}out {LINK}", "other")]
COMMENTS = [
    f"Payment failed again {IMG} terrible checkout",
    f"Payment failed {SCRIPT} terrible checkout error",
    f"Terrible checkout, see {LINK} payment failed",
    f"Payment failed, {JS} terrible",
    f"{HYPER} payment failed terrible checkout",
    f"{PLUS} terrible payment failure at checkout",
    f"{AT} checkout payment failed terrible",
    f"Great help {QUOTES} lovely staff",
    f"Lovely help desk, great staff pay{ZW}ment{BIDI} fine",
]
FILLER = [
    "today",
    "again",
    "slow",
    "mobile",
    "yesterday",
    "refund",
    "courier",
    "parcel",
    "size",
    "colour",
    "price",
    "discount",
    "weekend",
    "morning",
    "evening",
    "laptop",
    "phone",
    "card",
    "voucher",
    "delivery",
]
PAYLOAD_TEXT = [IMG, SCRIPT, LINK, JS, HYPER, PLUS, AT, QUOTES]


def _blueprint() -> dict:
    return {
        "version": 1,
        "name": f"shop {IMG}",
        "strict": False,
        "stages": [{"name": n, "description": d, "goal": ""} for n, d in STAGES],
        "touchpoints": [
            {
                "name": n,
                "stage": STAGES[s][0],
                "channel": c,
                "owner": o,
                "interaction": "direct",
                "kind": "owned",
                "description": f"about {LINK} {IMG}",
            }
            for n, s, c, o in TOUCHPOINTS
        ],
        "goals": [{"touchpoint": TOUCHPOINTS[-1][0]}],
        "personas": [{"name": n, "description": f"desc {SCRIPT}", "where": {"segment": seg}} for n, seg in PERSONAS],
        "targets": {"conversion_rate": 0.3},
    }


def _data(root: Path, customers: int = 240, seed: int = 16) -> tuple[Path, Path, Path]:
    """Events, feedback and customers CSV files: every customer walks the touchpoints in order and
    stops at random; properties and attributes carry payloads too."""
    rnd = random.Random(seed)
    t0 = datetime(2025, 3, 1, 9, 0, 0)
    events, feedback, people = [], [], []
    for i in range(customers):
        cid = f"C{i:04d}"
        seg = PERSONAS[i % len(PERSONAS)][1]
        people.append(
            {
                "customer_id": cid,
                "segment": seg,
                "region": rnd.choice([IMG, HYPER, "North", AT]),
                "plan": rnd.choice([SCRIPT, "basic", PLUS]),
            }
        )
        t = t0 + timedelta(days=rnd.randrange(60), minutes=rnd.randrange(600))
        stop = rnd.choice([1, 2, 3, 4, 5, 5]) if i % 3 else rnd.choice([2, 4, 5])
        path = [0, rnd.choice([1, 2]), 2 if rnd.random() < 0.3 else 1, 3, 4][:stop]
        for k, tp in enumerate(path):
            t += timedelta(minutes=rnd.randrange(2, 90))
            events.append(
                {
                    "user": cid,
                    "event_time": t.strftime("%Y-%m-%d %H:%M:%S"),
                    "event": TOUCHPOINTS[tp][0],
                    "channel": TOUCHPOINTS[tp][2],
                    "utm_campaign": rnd.choice([LINK, JS, MINUS, ""]),
                    "device": rnd.choice([HYPER, f"mob{BIDI}ile", "desktop"]),
                }
            )
            if k == len(path) - 1 and rnd.random() < 0.6:
                text = COMMENTS[rnd.randrange(7)] if tp in (3, 2) else COMMENTS[rnd.randrange(len(COMMENTS))]
                text += " " + " ".join(rnd.sample(FILLER, 3))  # distinct texts, as real comments are
                feedback.append(
                    {
                        "response_id": f"R{i:04d}",
                        "customer": cid,
                        "submitted_at": (t + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S"),
                        "kind": "review",
                        "touchpoint": TOUCHPOINTS[tp][0],
                        "channel": TOUCHPOINTS[tp][2],
                        "comment": text,
                        "rating": 1 if "terrible" in text else 5,
                        "rating_scale": 5,
                    }
                )
    return (
        write_csv(root / "events.csv", events),
        write_csv(root / "feedback.csv", feedback),
        write_csv(root / "customers.csv", people),
    )


def _invoke(*args: str) -> str:
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert r.exit_code == 0, (args, r.output)
    return r.output


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The hostile workspace, its map rendered as HTML, Markdown and CSV, and a few --format csv outputs."""
    root = tmp_path_factory.mktemp("hostile")
    ws = root / "ws"
    _invoke("init", str(ws))
    (ws / "blueprint.yaml").write_text(
        yaml.safe_dump(_blueprint(), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    events, feedback, customers = _data(root)
    w = ["-w", str(ws)]
    _invoke(*w, "ingest", "customers", str(customers))
    _invoke(
        *w,
        "ingest",
        "events",
        str(events),
        "--map",
        "customer_id=user",
        "--map",
        "ts=event_time",
        "--map",
        "touchpoint=event",
    )
    _invoke(*w, "ingest", "feedback", str(feedback))
    _invoke(*w, "map", "-o", str(root / "map.json"))
    out = {"root": root, "ws": ws, "map": json.loads((root / "map.json").read_text(encoding="utf-8"))}
    for fmt, name in (("html", "map.html"), ("md", "map.md"), ("csv", "tables")):
        _invoke("report", "--from", str(root / "map.json"), "--format", fmt, "-o", str(root / name))
    out["html"] = (root / "map.html").read_text(encoding="utf-8")
    out["md"] = (root / "map.md").read_text(encoding="utf-8")
    out["csv"] = {p.name: p.read_text(encoding="utf-8") for p in sorted((root / "tables").glob("*.csv"))}
    for cmd in (["touchpoints"], ["stages"], ["paths"], ["drivers", "--min-count", "1"], ["voice", "quotes"]):
        out["csv"][" ".join(cmd)] = _invoke(*w, *cmd, "--format", "csv")
    return out


def test_the_payloads_reach_the_map(built):
    """The test is worth something only if the payloads made it through ingest into the map."""
    doc = built["map"]
    names = {t["name"] for s in doc["stages"] for lane in s["lanes"] for t in lane["touchpoints"]}
    assert {n for n, *_ in TOUCHPOINTS} <= names
    assert [s["name"] for s in doc["stages"]] == [n for n, _ in STAGES]
    assert {p["name"] for p in doc["personas"]} == {n for n, _ in PERSONAS}
    quotes = {q["text"] for s in doc["stages"] for lane in s["lanes"] for t in lane["touchpoints"] for q in t["quotes"]}
    assert any(IMG in q for q in quotes) or any(SCRIPT in q for q in quotes), quotes
    features = " ".join(d["feature"] for d in doc["drivers"])
    assert IMG in features and SCRIPT in features  # customer attributes
    assert {p["owner"] for p in doc["pain_points"]} & {o for *_, o in TOUCHPOINTS}
    assert any(LINK in s or SCRIPT in s for s in doc["summary"]["sentences"])


# -- unit level ----------------------------------------------------------------------------------
def test_display_text_strips_invisible_characters_only():
    assert display_text(f"Pay{ZW}ment {BIDI}tuo\u2066x\u2069\u200e\u200f\u061c\ufeff\u2060") == "Payment tuox"
    kept = "Café crème, 東京, Ελλάδα, 👩\u200d💻, 🏳\ufe0f\u200d🌈, 👍🏽, \U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f, می\u200cخواهم"
    assert display_text(kept) == kept
    assert display_text("a\u200db\u200cc") == "abc"  # joiners between Latin letters: invisible, dropped
    assert display_text("x\x1b[31my\u2028z") == "x[31my z"
    assert display_text(3) == 3


def test_csv_cell_prefixes_text_formulas_not_numbers():
    for s in (HYPER, PLUS, AT, MINUS, "-1", "\tx", "\rx"):
        assert csv_cell(s) == "'" + s
    for v in (-0.5, -3, 0, 2.5, "abc", "a=b", "1-2"):
        assert csv_cell(v) == v
    assert csv_cell(None) == ""


def _markdown_html(text: str) -> str:
    from markdown_it import MarkdownIt

    md = MarkdownIt("gfm-like") if _has_linkify() else MarkdownIt("commonmark").enable("table")
    return md.render(text)


def _has_linkify() -> bool:
    try:
        import linkify_it  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Elements:
    p = _Elements()
    p.feed(html)
    p.close()
    return p


@pytest.mark.parametrize(
    "payload",
    PAYLOAD_TEXT
    + [
        "![i](http://x/a.png)",
        "<http://x>",
        "see http://x.org and www.x.org",
        "# h",
        "1. item",
        "- item",
        "> q",
        "**b** _i_ `c` ~~s~~",
        "a|b\nc",
        "trailing \\",
        "&amp; &#60;",
        "a@b.com",
    ],
)
def test_md_text_renders_as_the_same_literal_text(payload):
    src = md_text(payload)
    assert "\n" not in src
    for wrap in ("{}", "| {} |", "- {}", "**{}**", "1. {}"):
        body = wrap.format(src)
        if wrap.startswith("|"):
            body = "| a |\n|---|\n" + body
        parsed = _parse(_markdown_html(body))
        assert not [
            t
            for t, _ in parsed.tags
            if t not in ("p", "table", "thead", "tbody", "tr", "th", "td", "ul", "ol", "li", "strong")
        ], (payload, wrap)
        text = "".join(parsed.text).replace("\n", " ").strip()
        assert " ".join(payload.split()) in text, (payload, wrap, text)


# -- Markdown ------------------------------------------------------------------------------------
ALLOWED_MD_TAGS = {
    "h1",
    "h2",
    "p",
    "em",
    "strong",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "blockquote",
}


def test_markdown_renders_no_element_or_link_from_user_text(built):
    parsed = _parse(_markdown_html(built["md"]))
    bad = [(t, a) for t, a in parsed.tags if t not in ALLOWED_MD_TAGS]
    assert bad == []  # no img / script / a / code ... at all: the summary itself makes none
    assert not any(a for _, a in parsed.tags), "no attributes (onerror, href, src) anywhere"
    text = "".join(parsed.text)
    for payload in (IMG, SCRIPT, LINK, QUOTES, TOUCHPOINTS[2][0]):
        assert payload in text, payload  # shown as text
    assert "window.__pwned=1" in text and not INVISIBLE.search(text)
    assert f"Pay{ZW}ment" not in built["md"] and "Payment" in text
    # every table row has as many cells as its header: no pipe from a name splits a cell
    header = None
    for line in built["md"].splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line))
        header = header or cells
        assert cells == header, line


# -- CSV -----------------------------------------------------------------------------------------
def _cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def _number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def test_csv_cells_cannot_start_a_formula(built):
    seen = set()
    for name, text in built["csv"].items():
        for c in _cells(text):
            if c[:1] in ("=", "+", "-", "@", "\t", "\r"):
                assert _number(c), (name, c)
            if c.startswith("'"):
                seen.add(c[1:2])
    assert {"=", "+", "@", "-"} <= seen  # the payloads were there, prefixed
    tps = list(csv.DictReader(io.StringIO(built["csv"]["touchpoints.csv"])))
    assert "'" + HYPER in {r["touchpoint"] for r in tps}


# -- HTML ----------------------------------------------------------------------------------------
def test_html_has_no_payload_markup_and_no_invisible_characters(built):
    html = built["html"]
    assert "<img src=x" not in html and "<script>window.__pwned" not in html
    parsed = _parse(html)
    assert not any(t == "img" and a.get("src") == "x" for t, a in parsed.tags)
    assert not any(k in ("onerror", "onclick", "onload") for _, a in parsed.tags for k in a)
    # one </script> per <script>: no break-out
    assert html.count("</script>") == html.count("<script")
    assert not INVISIBLE.search(html)
    text = "".join(parsed.text)
    assert IMG in text and LINK in text  # escaped, visible as text


# -- Chromium ------------------------------------------------------------------------------------
browser = pytest.mark.skipif(missing() is not None, reason=f"no headless browser: {missing()}")


@pytest.mark.browser
@browser
def test_browser_hover_and_click_run_nothing(built):
    from playwright.sync_api import sync_playwright

    path = built["root"] / "map.html"
    uri = path.resolve().as_uri()
    requests: list[str] = []
    dialogs: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        try:
            page = b.new_page(viewport={"width": 1400, "height": 900})

            def route(r):
                if r.request.url != uri:
                    requests.append(r.request.url)
                    r.abort()
                else:
                    r.continue_()

            page.route("**/*", route)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(uri)
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            charts = page.locator(".chart")
            assert charts.count() >= 1
            hovered = 0
            for i in range(charts.count()):
                chart = charts.nth(i)
                if not chart.is_visible():
                    continue
                chart.scroll_into_view_if_needed()
                box = chart.bounding_box()
                if not box or box["width"] < 10 or box["height"] < 10:
                    continue
                for fx in (0.1, 0.3, 0.5, 0.7, 0.9):
                    for fy in (0.15, 0.35, 0.55, 0.75, 0.9):
                        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
                        hovered += 1
                page.wait_for_timeout(100)
            assert hovered > 0
            cards = page.locator("button.tp")
            assert cards.count() >= len(TOUCHPOINTS)
            for i in range(cards.count()):
                card = cards.nth(i)
                if not card.is_visible():
                    continue
                card.scroll_into_view_if_needed()
                card.click()
                assert page.locator("#details").is_visible()
                page.keyboard.press("Escape")
            pwned = page.evaluate("typeof window.__pwned")
            planted = page.evaluate("""() => [
                document.querySelectorAll('img[src="x"]').length,
                [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(
                    a => a.name.startsWith('on'))).map(e => e.outerHTML.slice(0, 80))]""")
        finally:
            b.close()
    assert requests == [], requests
    assert dialogs == [], dialogs
    assert pwned == "undefined", "a payload ran (window.__pwned is set)"
    assert planted == [0, []], planted
    assert errors == [], errors


# -- the terminal --------------------------------------------------------------------------------
def test_terminal_tables_print_names_as_they_are(tmp_path, monkeypatch):
    """Names that are rich markup or terminal escape sequences print literally (no crash on "[/bold]",
    no hyperlink, no escape character reaching the terminal)."""
    names = ["[/bold]", "[link=https://evil.example]Checkout[/link]", "\x1b]0;owned\x07\x1b[31mred", "[red]Home[/red]"]
    rows = [
        {"customer_id": f"C{i}", "ts": f"2025-01-0{1 + k} 10:00:00", "touchpoint": n}
        for i in range(3)
        for k, n in enumerate(names)
    ]
    events = write_csv(tmp_path / "e.csv", rows)
    ws = tmp_path / "ws"
    _invoke("init", str(ws))
    _invoke("-w", str(ws), "ingest", "events", str(events))
    from journeymap.cli import output

    # wide enough for whole names: a console made where COLUMNS was set at import (a pytest-xdist worker)
    # keeps that width, so the width is set on the console itself
    monkeypatch.setattr(output.console, "_width", 300)
    for cmd in (["touchpoints"], ["paths"], ["map"]):
        r = CliRunner(env={"COLUMNS": "300"}).invoke(main, ["-w", str(ws), *cmd])
        assert r.exit_code == 0, (cmd, r.output)
        assert "\x1b" not in r.output and "\x07" not in r.output, cmd
        flat = re.sub(r"[\s│┃]+", " ", r.output)
        assert "[/bold]" in flat and "[red]Home[/red]" in flat, (cmd, r.output)
