"""The live map page (journeymap.web.page) and the key figures kept with comments (journeymap.web.figures).

The map is built the user's way (``journeymap demo``, ``journeymap map -o``) and read back from its
JSON; expected element ids and figures are read from that JSON here, not through the report's code.
The page must carry every element id the file report carries, run no inline script (only
``application/json`` data and ``src`` scripts that :data:`STATIC_FILES` serves), show a comment box
only from ``commenter`` on, and keep the hostile-text payloads (``tests/test_report_hostile.py``'s
workspace) escaped.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from click.testing import CliRunner

from journeymap.cli import main
from journeymap.maps import JourneyMap
from journeymap.report import render_html
from journeymap.safety import display_text
from journeymap.web.figures import compare, key_figures, rename_element, renamed_ids
from journeymap.web.page import STATIC_FILES, render_map_page, static_file
from tests.test_report_hostile import IMG, INVISIBLE, LINK, SCRIPT, built  # noqa: F401  (the hostile workspace)

COMMENTER = {"email": "c@example.com", "name": "Cara"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self._in_script = a
            self.scripts.append((a, ""))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None

    def handle_data(self, data):
        if self._in_script is not None:
            a, text = self.scripts[-1]
            self.scripts[-1] = (a, text + data)
        else:
            self.text.append(data)


def _parse(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    return p


def _elements(html: str) -> set[str]:
    return {a["data-element"] for _, a in _parse(html).tags if a.get("data-element")}


def _eid(kind: str, *parts: str) -> str:
    return ":".join([kind, *(quote(display_text(p), safe="") for p in parts)])


def _expected_ids(raw: dict) -> set[str]:
    """Every element id of the document, from its JSON (opportunities keyed by rule and where)."""
    ids = {_eid("stage", st["name"]) for st in raw["stages"]}
    ids |= {_eid("touchpoint", tp["name"]) for st in raw["stages"] for ln in st["lanes"] for tp in ln["touchpoints"]}
    pains = raw["pain_points"] + [p for pm in raw.get("persona_maps") or [] for p in pm["pain_points"]]
    ids |= {_eid("pain", p["touchpoint"]) for p in pains}
    ids |= {_eid("opp", o["rule_id"], o["touchpoint"] or o["stage"] or "overall") for o in raw["opportunities"]}
    ids |= {_eid("theme", t["label"]) for t in raw["themes"]}
    return ids


def _map(ws: Path, out: Path) -> tuple[JourneyMap, dict]:
    r = CliRunner().invoke(main, ["-w", str(ws), "map", "-o", str(out)])
    assert r.exit_code == 0, r.output
    return JourneyMap.load(out), json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo(demo_report, tmp_path_factory):
    """The default demo's map (the workspace ``demo_report`` made), as document and as raw JSON."""
    return _map(demo_report.parent / "shop", tmp_path_factory.mktemp("web-page") / "map.json")


def _page(doc: JourneyMap, role: str, user: dict | None = None, csrf: str = "tok-123") -> str:
    return render_map_page(doc, csrf=csrf, user=user or COMMENTER, role=role, static_url="/static")


# -- element ids ----------------------------------------------------------------------------------


def test_page_and_file_report_carry_every_element_id(demo):
    doc, raw = demo
    expected = _expected_ids(raw)
    kinds = {e.split(":", 1)[0] for e in expected}
    assert kinds == {"stage", "touchpoint", "pain", "opp", "theme"}  # the demo has each kind
    assert _elements(render_html(doc)) == expected
    assert _elements(_page(doc, "viewer")) == expected
    assert all(re.fullmatch(r"[a-z]+(:[A-Za-z0-9%._~-]+)+", e) for e in expected)  # URL-safe


def test_each_touchpoint_card_and_stage_header_names_its_element(demo):
    doc, raw = demo
    tags = _parse(_page(doc, "commenter")).tags
    cards = {a["data-name"]: a["data-element"] for t, a in tags if t == "button" and "tp" in (a.get("class") or "")}
    names = {tp["name"] for st in raw["stages"] for ln in st["lanes"] for tp in ln["touchpoints"]}
    assert set(cards) == names and all(cards[n] == _eid("touchpoint", n) for n in names)
    heads = [
        a["data-element"] for t, a in tags if t == "th" and "stage-h" in (a.get("class") or "") and "data-element" in a
    ]
    assert [_eid("stage", st["name"]) for st in raw["stages"]] == heads[: len(raw["stages"])]


# -- one rendering, two hosts ---------------------------------------------------------------------


def test_page_runs_no_inline_script_and_loads_only_static_files(demo):
    doc, _ = demo
    page = _parse(_page(doc, "editor"))
    srcs = []
    for attrs, text in page.scripts:
        if attrs.get("src"):
            assert not text.strip()
            srcs.append(attrs["src"])
        else:
            assert attrs.get("type") == "application/json", attrs  # data, never run
            json.loads(text)
    # every script and style is a static file, named with its content hash (cached by browsers until it changes)
    files = [src.split("?")[0] for src in srcs]
    assert files[:2] == ["/static/echarts.min.js", "/static/report.js"]
    assert all(f.startswith("/static/") and f[8:] in STATIC_FILES for f in files), files
    for src in srcs:
        assert src.split("?v=")[1] == static_file(src.split("?")[0][8:]).hash
    links = [a["href"] for t, a in page.tags if t == "link" and a.get("rel") != "icon"]
    assert [h.split("?")[0] for h in links] == ["/static/report.css"]
    # the icon is empty and inline: the browser asks the server for no /favicon.ico (a 404 in the console)
    assert [a["href"] for t, a in page.tags if t == "link" and a.get("rel") == "icon"] == ["data:,"]
    assert not any(k.startswith("on") for _, a in page.tags for k in a)  # no inline handlers either
    for name in ("echarts.min.js", "report.js", "report.css"):
        path, media = STATIC_FILES[name]
        assert Path(path).is_file() and Path(path).stat().st_size > 1000
        assert media.startswith("text/css" if name.endswith("css") else "text/javascript")
    body = next(a for t, a in page.tags if t == "body")
    assert body["data-mode"] == "web" and body["data-csrf"] == "tok-123" and body["data-role"] == "editor"


def test_file_report_stays_one_offline_file(demo):
    doc, _ = demo
    html = render_html(doc)
    page = _parse(html)
    inline = [a for a, text in page.scripts if not a.get("src") and a.get("type") != "application/json"]
    assert len(inline) == 2 and not any(a.get("src") for a, _ in page.scripts)  # echarts + report.js inlined
    assert not [a for t, a in page.tags if t == "link"]
    assert next(a for t, a in page.tags if t == "body")["data-mode"] == "file"
    assert not any(a.get("data-comments-for") for _, a in page.tags)  # no comment slot, no form
    assert not any(t in ("form", "textarea") for t, _ in page.tags)


def test_comment_box_from_commenter_on_and_a_slot_per_element(demo):
    doc, raw = demo
    n = len(_expected_ids(raw))
    for role, boxes in (("viewer", 0), ("commenter", n), ("editor", n), ("owner", n), ("nobody", 0)):
        tags = _parse(_page(doc, role)).tags
        slots = [a["data-comments-for"] for _, a in tags if a.get("data-comments-for")]
        assert sorted(slots) == sorted(_expected_ids(raw)), role
        assert sum(1 for t, a in tags if t == "form" and "jm-comment-form" in (a.get("class") or "")) == boxes, role
        assert sum(1 for t, _ in tags if t == "textarea") == boxes, role


# -- hostile text ---------------------------------------------------------------------------------


def test_hostile_payloads_stay_escaped_on_the_page(built):  # noqa: F811
    doc = JourneyMap.model_validate(built["map"])
    user = {"email": f"x{IMG}@example.com", "name": f"Eve {SCRIPT}"}
    html = render_map_page(doc, csrf=f'"{SCRIPT}', user=user, role="commenter", static_url="/static")
    assert "<img src=x" not in html and "<script>window.__pwned" not in html
    page = _parse(html)
    assert not any(t == "img" for t, _ in page.tags)
    assert not any(k.startswith("on") for _, a in page.tags for k in a)
    assert html.count("</script>") == html.count("<script") == len(page.scripts) >= 3
    assert [(a.get("src") or a.get("type")).split("?")[0] for a, _ in page.scripts][:3] == [
        "application/json",
        "/static/echarts.min.js",
        "/static/report.js",
    ]
    assert all(a["src"].split("?")[0][8:] in STATIC_FILES for a, _ in page.scripts[1:])
    assert not INVISIBLE.search(html)
    assert IMG in "".join(page.text) and LINK in "".join(page.text)  # shown as text
    body = next(a for t, a in page.tags if t == "body")
    assert body["data-user"] == f"Eve {SCRIPT}" and body["data-csrf"] == f'"{SCRIPT}'  # an attribute value, intact
    assert _elements(html) == _expected_ids(built["map"]) == _elements(built["html"])


# -- key figures ----------------------------------------------------------------------------------


def _rate(r: dict | None) -> dict | None:
    return None if r is None else {"value": r["value"], "k": r["k"], "n": r["n"], "unit": "share"}


def test_key_figures_are_the_documents_own(demo):
    doc, raw = demo
    st = raw["stages"][1]
    figs = key_figures(doc, _eid("stage", st["name"]))
    assert figs["reach"] == _rate(st["reach"]) and figs["conversion"] == _rate(st["conversion"])
    assert figs["drop_off"] == _rate(st["drop_off"]) and figs["customers"]["value"] == st["customers"]
    if st["emotion"]:
        assert figs["emotion"] == {"value": st["emotion"]["mean"], "n": st["emotion"]["n"], "unit": "score"}
    tps = [tp for s in raw["stages"] for ln in s["lanes"] for tp in ln["touchpoints"]]
    with_nps = [tp for tp in tps if any(k["name"] == "nps" and k["value"] is not None for k in tp["kpis"])]
    for tp in ([with_nps[0]] if with_nps else []) + tps[:3]:
        figs = key_figures(doc, _eid("touchpoint", tp["name"]))
        assert figs["conversion"] == _rate(tp["figures"]["conversion"])
        assert figs["reach"]["value"] == tp["figures"]["share"] and figs["reach"]["k"] == tp["figures"]["journeys"]
        for k in tp["kpis"]:
            if k["value"] is not None:
                assert figs[k["name"]] == {"value": k["value"], "n": k["n"], "unit": k["name"]}
        if tp["friction"]:
            assert figs["friction"]["value"] == tp["friction"]["score"]
    assert with_nps, "the demo has touchpoint NPS"
    p = raw["pain_points"][0]
    figs = key_figures(doc, _eid("pain", p["touchpoint"]))
    assert (figs["score"]["value"], figs["rank"]["value"], figs["reach"]["value"]) == (
        p["score"],
        p["rank"],
        p["reach"],
    )
    t = raw["themes"][0]
    figs = key_figures(doc, _eid("theme", t["label"]))
    assert (figs["comments"]["value"], figs["share"]["value"], figs["sentiment"]["value"]) == (
        t["n"],
        t["share"],
        t["sentiment"],
    )
    o = next(o for o in raw["opportunities"] if o["rule_id"] != "back_flow")
    figs = key_figures(doc, _eid("opp", o["rule_id"], o["touchpoint"] or o["stage"] or "overall"))
    nums = {
        k: v for k, v in o["evidence"]["figures"].items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    assert figs["priority"]["value"] == pytest.approx(o["priority"]) or o["rule_id"] == "back_flow"
    assert {k: figs[k]["value"] for k in nums} == nums
    assert key_figures(doc, _eid("touchpoint", "no such touchpoint")) == {}
    with pytest.raises(ValueError, match="not a map element id"):
        key_figures(doc, "nonsense")


def test_compare_says_was_and_now():
    then = {
        "conversion": {"value": 0.183, "k": 183, "n": 1000, "unit": "share"},
        "nps": {"value": 12.0, "n": 80, "unit": "nps"},
    }
    now = {
        "conversion": {"value": 0.21, "k": 210, "n": 1000, "unit": "share"},
        "nps": {"value": 12.0, "n": 90, "unit": "nps"},
    }
    assert compare(then, now) == ["conversion was 18.3%, now 21.0%"]
    assert compare(then, {}) == ["conversion was 18.3%, now –", "NPS was 12, now –"]
    assert compare(now, now) == []


def test_a_rebuilt_map_after_a_blueprint_change_reads_was_and_now(demo, demo_copy, tmp_path):
    doc, raw = demo
    ws = demo_copy(tmp_path / "shop")
    bp_path = ws / "blueprint.yaml"
    bp = yaml.safe_load(bp_path.read_text(encoding="utf-8"))
    tps = bp["touchpoints"]
    stage_names = [s["name"] if isinstance(s, dict) else s for s in bp["stages"]]
    # move the first stage's busiest touchpoint to the second stage: both stages' reach changes
    first = stage_names[0]
    moved = max((tp for tp in raw["stages"][0]["lanes"][0]["touchpoints"]), key=lambda c: c["figures"]["journeys"])
    entry = next(t for t in tps if t["name"] == moved["name"])
    entry["stage"] = stage_names[1]
    bp_path.write_text(yaml.safe_dump(bp, allow_unicode=True, sort_keys=False), encoding="utf-8")
    doc2, raw2 = _map(ws, tmp_path / "map2.json")
    eid = _eid("stage", first)
    then, now = key_figures(doc, eid), key_figures(doc2, eid)
    old = next(s for s in raw["stages"] if s["name"] == first)["reach"]["value"]
    new = next(s for s in raw2["stages"] if s["name"] == first)["reach"]["value"]
    assert old != new
    assert f"reach was {old * 100:.1f}%, now {new * 100:.1f}%" in compare(then, now)
    # the moved touchpoint keeps its id (its comments), and its card is now in the second stage
    tid = _eid("touchpoint", moved["name"])
    assert key_figures(doc2, tid) and tid in _elements(
        render_map_page(doc2, csrf="t", user={}, role="viewer", static_url="/s")
    )


def test_rename_follows_the_touchpoint():
    old = _eid("touchpoint", "Old <name>")
    assert rename_element(old, "New name") == "touchpoint:New%20name"
    assert rename_element(_eid("pain", "Old <name>"), "New") == "pain:New"
    assert rename_element(_eid("opp", "back_flow", "Old <name>"), "New") == "opp:back_flow:New"
    assert rename_element(_eid("stage", "Old <name>"), "New") == _eid("stage", "Old <name>")
    ids = [
        old,
        _eid("pain", "Old <name>"),
        _eid("opp", "exits", "Old <name>"),
        _eid("touchpoint", "Other"),
        _eid("theme", "Old <name>"),
    ]
    assert renamed_ids(ids, "Old <name>", "Fresh") == {
        old: "touchpoint:Fresh",
        _eid("pain", "Old <name>"): "pain:Fresh",
        _eid("opp", "exits", "Old <name>"): "opp:exits:Fresh",
    }


# -- in Chromium, under the page's Content-Security-Policy -----------------------------------------

from journeymap.report.browser import CHROMIUM_FLAGS, chromium_path, missing  # noqa: E402
from journeymap.web.page import PAGE_CSP  # noqa: E402

ORIGIN = "http://jm.test"


def _serve(page, html: str, comments: list[dict], posted: list[dict]) -> list[str]:
    """Route the browser's requests to the page, the static files and a stand-in comments API."""
    other: list[str] = []

    def route(r):
        url, method = r.request.url, r.request.method
        path = url[len(ORIGIN) :] if url.startswith(ORIGIN) else None
        if path and path.startswith("/static/"):
            path = path.split("?")[0]  # ?v=<hash>
        if path == "/map":
            r.fulfill(
                status=200,
                body=html,
                headers={"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": PAGE_CSP},
            )
        elif path and path.startswith("/static/") and path[8:] in STATIC_FILES:
            file, media = STATIC_FILES[path[8:]]
            r.fulfill(status=200, body=Path(file).read_bytes(), headers={"Content-Type": media})
        elif path and path.startswith("/api/comments") and method == "GET":
            element = path.split("element=", 1)[-1]
            mine = [c for c in comments if quote(c["element"], safe="") == element]
            r.fulfill(status=200, body=json.dumps(mine), headers={"Content-Type": "application/json"})
        elif path == "/api/comments" and method == "POST":
            posted.append(
                {"body": json.loads(r.request.post_data or "{}"), "csrf": r.request.headers.get("x-csrf-token")}
            )
            r.fulfill(status=201, body="{}", headers={"Content-Type": "application/json"})
        elif path == "/api/events":
            r.fulfill(status=204, body="")
        elif path and path.startswith("/api/"):  # the page's other reads (mentions, curation): nothing here
            r.fulfill(status=404, body='{"detail": "Not here."}', headers={"Content-Type": "application/json"})
        else:
            other.append(url)
            r.abort()

    page.route("**/*", route)
    return other


@pytest.mark.browser
@pytest.mark.skipif(missing() is not None, reason=f"no headless browser: {missing()}")
def test_page_in_chromium_shows_threads_escaped_and_posts_with_csrf(built):  # noqa: F811
    from playwright.sync_api import sync_playwright

    doc = JourneyMap.model_validate(built["map"])
    tp = doc.touchpoints()[0]
    tid = _eid("touchpoint", tp.name)
    stage_id = _eid("stage", doc.stages[0].name)
    comments = [
        {
            "id": 1,
            "element": tid,
            "text": f"Look {IMG}",
            "parent": None,
            "resolved": False,
            "author": "a@x",
            "created": "2026-12-07T10:00:00Z",
            "changes": ["conversion was 18.3%, now 21.0%"],
        },
        {
            "id": 2,
            "element": tid,
            "text": f"reply {SCRIPT}",
            "parent": 1,
            "resolved": False,
            "author": "b@x",
            "created": "2026-12-07T10:05:00Z",
        },
    ]
    found = {}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        try:
            for role in ("commenter", "viewer"):
                page = b.new_page(viewport={"width": 1400, "height": 900})
                violations: list[str] = []
                errors: list[str] = []
                page.on(
                    "console", lambda m, v=violations: v.append(m.text) if "Content Security Policy" in m.text else None
                )
                page.on("pageerror", lambda e, errs=errors: errs.append(str(e)))
                posted: list[dict] = []
                html = render_map_page(doc, csrf="tok-9", user={"email": "c@x"}, role=role, static_url="/static")
                other = _serve(page, html, comments, posted)
                page.goto(f"{ORIGIN}/map")
                page.wait_for_selector("body[data-ready='1']", timeout=30_000)  # report.js ran under the CSP
                assert page.locator("#chart-funnel svg").count() >= 1  # echarts too
                card = page.locator(f'button.tp[data-element="{tid}"]').first
                card.click()
                page.wait_for_selector("#details .jm-comment")
                texts = page.locator("#details .jm-text").all_inner_texts()
                found[role] = {
                    "texts": texts,
                    "change": page.locator("#details .jm-change").all_inner_texts(),
                    "boxes": page.locator("#details textarea").count(),
                    "pwned": page.evaluate("typeof window.__pwned"),
                    "imgs": page.evaluate("document.querySelectorAll('img').length"),
                }
                if role == "commenter":
                    page.fill("#details .jm-comment-form:not(.jm-reply-form) textarea", f"new {IMG}")
                    page.click("#details .jm-comment-form:not(.jm-reply-form) button[type=submit]")
                    page.wait_for_timeout(300)
                    page.keyboard.press("Escape")
                    page.locator(f'th[data-element="{stage_id}"]').first.click()  # a stage opens its own thread
                    assert page.locator("#details").get_attribute("data-open") == stage_id
                    assert page.locator("#details .jm-thread").inner_text().strip() == "No comments yet."
                found[role].update(posted=posted, violations=violations, errors=errors, other=other)
                page.close()
        finally:
            b.close()
    for role in ("commenter", "viewer"):
        f = found[role]
        assert f["texts"] == [f"Look {IMG}", f"reply {SCRIPT}"], role  # text, not markup
        assert f["change"] == ["conversion was 18.3%, now 21.0%"]
        assert (f["pwned"], f["imgs"]) == ("undefined", 0)
        assert f["violations"] == [] and f["errors"] == [] and f["other"] == [], role
    assert found["viewer"]["boxes"] == 0 and found["viewer"]["posted"] == []
    assert found["commenter"]["boxes"] == 1
    assert found["commenter"]["posted"] == [
        {"body": {"element": tid, "text": f"new {IMG}", "parent": None}, "csrf": "tok-9"}
    ]
