"""The report renderers: HTML (self-contained, escaped, every section), Markdown, CSV, PNG/PDF, CLI.

Figures in the exports are checked against the fixture map's JSON read with the json module
(not through the models the renderers use). Browser tests run Debian's Chromium through Playwright
and skip, with the reason, when either is missing.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from journeymap.cli import main
from journeymap.maps import JourneyMap
from journeymap.report import export_image, map_tables, render_html, render_markdown, write_csv
from journeymap.report.browser import CHROMIUM_FLAGS, chromium_path, missing
from journeymap.report.view import SECTIONS, persona_grids

FIXTURE = Path(__file__).parent / "fixtures" / "map_small.json"
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def doc() -> JourneyMap:
    return JourneyMap.load(FIXTURE)


@pytest.fixture(scope="module")
def html(doc) -> str:
    return render_html(doc)


class Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(text: str) -> list[tuple[str, dict[str, str | None]]]:
    p = Tags()
    p.feed(text)
    return p.tags


def minimal() -> JourneyMap:
    return JourneyMap.model_validate({"meta": {"workspace": "empty", "generated_at": "2026-01-01T00:00:00Z"}})


# -- HTML ----------------------------------------------------------------------------------------
def test_html_has_every_section_stage_and_touchpoint(doc, html):
    ids = {a.get("id") for _, a in tags(html)}
    assert {sid for sid, _ in SECTIONS} <= ids
    for st in doc.stages:
        assert f"{st.order + 1}. {st.name}" in html
    names = {a.get("data-name") for t, a in tags(html) if t == "button" and "tp" in (a.get("class") or "").split()}
    assert names == {tp.name for tp in doc.touchpoints()}
    # one details article per touchpoint, each reachable from its button
    buttons = {a["data-tp"] for t, a in tags(html) if t == "button" and a.get("data-tp")}
    articles = {a["id"] for t, a in tags(html) if t == "article"}
    persona_cells = sum(len(g.touchpoints) for g in persona_grids(doc))
    assert buttons == articles and len(articles) == len(doc.touchpoints()) + persona_cells


def test_html_is_self_contained(html):
    found = tags(html)
    for tag, attrs in found:
        for key in ("src", "href", "srcset", "data", "action", "poster"):
            value = attrs.get(key)
            assert value is None or value.startswith("#"), (tag, key, value)
        assert tag not in ("link", "iframe", "object", "embed", "base"), tag
    scripts = [a for t, a in found if t == "script"]
    assert len(scripts) == 3 and all("src" not in a for a in scripts)
    assert "@import" not in html and "url(http" not in html


def test_html_writes_to_path_or_file(doc, tmp_path, html):
    buf = io.StringIO()
    render_html(doc, buf)
    path = tmp_path / "sub" / "map.html"
    render_html(doc, path)
    assert buf.getvalue() == path.read_text(encoding="utf-8") == html


def test_html_escapes_customer_text(raw):
    data = json.loads(json.dumps(raw))
    quote = {"feedback_id": "F-1", "text": EVIL}
    data["pain_points"][0]["evidence"]["quotes"].insert(0, quote)
    data["themes"][0]["quotes"].insert(0, quote)
    data["stages"][0]["lanes"][0]["touchpoints"][0]["quotes"].insert(0, quote)
    data["summary"]["sentences"].append(EVIL)
    data["attribution"]["rows"][0]["touchpoint"] = "</script><script>alert(2)</script>"
    data["personas"][0]["top_pain_points"].append("</script><b>x</b>")
    html = render_html(JourneyMap.from_dict(data))
    assert "alert(" not in "".join(str(a) for _, a in tags(html))  # no event-handler attribute made it
    assert [t for t, _ in tags(html)].count("script") == 3
    assert [t for t, _ in tags(html)].count("img") == 0
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "</script><script>alert(2)" not in html and "\\u003c/script\\u003e" in html


def _between(html: str, start: str, end: str) -> str:
    """The part of ``html`` from ``start`` to ``end`` (both must be there)."""
    i = html.index(start)
    return html[i : html.index(end, i)]


def _text(fragment: str) -> str:
    """Visible text of an HTML fragment (tags dropped, entities kept as written)."""
    return re.sub(r"<[^>]+>", " ", fragment)


def test_evidence_is_in_words_not_key_value_dumps(doc, html):
    # the pain points table, the opportunities and every touchpoint's details (the panel's source)
    readers_see = _text(_between(html, "<h3>Pain points, worst first</h3>", '<section id="emotion"'))
    keys = set(re.findall(r"\b([A-Za-z_]+)=", readers_see))
    assert keys <= {"n", "q"}, keys  # sample sizes 'n=1,234' and adjusted p-values 'q=0.01' only
    for key in ("exit_rate", "share_of_exits", "expected_exit_rate", "exit_component", "theme_comments"):
        assert key not in readers_see, key


def test_markdown_opportunities_and_drivers_in_words(raw, doc):
    md = render_markdown(doc)
    part = md.split("## Opportunities")[1].split("## Drivers")[0]
    assert set(re.findall(r"\b([a-z_]+)=", part)) <= {"n"}  # sample sizes only
    for o in raw["opportunities"]:
        if o["rule_id"] == "back_flow":
            assert f"{o['evidence']['figures']['transitions']:,} transitions" in part
    drivers = md.split("## Drivers")[1].split("\n## ")[0]
    assert "=" not in drivers.replace("|---", "")


def test_drivers_and_attribution_read_as_words(raw, html):
    section = _text(_between(html, '<section id="attribution"', "</section>"))
    attributes = [d for d in raw["drivers"] if d["kind"] == "attribute"]
    for d in attributes:
        key, value = d["feature"].split("=", 1)
        assert f"{key.replace('_', ' ')}: {value}" in section
    assert "=" not in section.replace("q = Benjamini", "")
    assert "{'" not in section  # no Python dict from a note


def test_opportunity_evidence_has_the_documents_figures_in_words(raw, html):
    section = _text(_between(html, "<h3>Opportunities</h3>", '<aside id="details"'))
    for o in raw["opportunities"]:
        f = o["evidence"]["figures"]
        if o["rule_id"] == "fix_friction":
            assert f"{f['exit_rate'] * 100:.1f}% of touches here end a journey that gives up" in section
            assert (
                f"expected {f['expected_exit_rate'] * 100:.1f}%" in section and f"{f['journeys']:,} journeys" in section
            )
        elif o["rule_id"] == "back_flow":
            assert f"{f['transitions']:,} transitions" in section
        elif o["rule_id"] == "drive_traffic":
            assert f"convert at {f['exposed_rate'] * 100:.1f}% vs {f['unexposed_rate'] * 100:.1f}% without" in section
        elif o["rule_id"] == "kpi_below_target":
            assert f"n={f['n']:,}) against a target of {f['target']:g}" in section


def test_opportunities_show_the_top_8_then_the_rest_behind_details(raw, html):
    rows = [(a.get("class"), a.get("data-rule")) for t, a in tags(html) if t == "tr" and a.get("class") == "opp"]
    sources = {o["touchpoint"] for o in raw["opportunities"] if o["rule_id"] == "back_flow"}
    expected = sum(o["rule_id"] != "back_flow" for o in raw["opportunities"]) + len(sources)
    assert len(rows) == expected > 8
    top = _between(html, '<table class="data opps opps-top">', "</table>")
    rest = _between(html, '<details class="opps-more">', "</details>")
    assert top.count('<tr class="opp"') == 8 and rest.count('<tr class="opp"') == expected - 8
    assert f"Show all {expected} opportunities" in rest
    prios = [float(p.replace(",", "")) for p in re.findall(r'<td class="num">([\d,.-]+)</td>', top + rest)]
    assert prios == sorted(prios, reverse=True) and len(prios) == expected
    # the best one by the document's priority is the first row
    best = max(raw["opportunities"], key=lambda o: o["priority"])
    assert top.index(best["title"].replace('"', "&#34;")) < top.index("</tr>", top.index("<tbody>"))


def test_back_flows_from_one_touchpoint_are_one_row(raw):
    data = json.loads(json.dumps(raw))
    base = next(o for o in data["opportunities"] if o["rule_id"] == "back_flow")
    extra = json.loads(json.dumps(base))
    extra["title"] = f"Find out why customers go back from {base['touchpoint']} to Homepage-X"
    extra["evidence"]["figures"].update(transitions=31, share_of_exits=0.05)
    extra["priority"] = 31.0
    data["opportunities"].append(extra)
    html = render_html(JourneyMap.from_dict(data))
    section = _text(_between(html, "<h3>Opportunities</h3>", '<aside id="details"'))
    total = base["evidence"]["figures"]["transitions"] + 31
    share = base["evidence"]["figures"]["share_of_exits"] + 0.05
    assert f"go back from {base['touchpoint']} to earlier stages (2 places)" in section
    assert f"{total:,} transitions ({share * 100:.1f}% of moves out) go back" in section
    assert "Homepage-X 31 (5.0%)" in section and base["title"] not in section


def test_figures_lane_has_one_row_per_figure(doc, html):
    lane = _between(
        html, '<tr class="lane-extra lane-figures">', '<tr class="lane-extra"><th class="lane-h" scope="row">KPIs'
    )
    assert lane.count('<table class="figs-mini">') == len(doc.stages)
    assert lane.count('<tr class="fig-row">') == 5 * len(doc.stages)
    for st in doc.stages:
        assert f'<span class="fig-v">{st.customers:,}</span>' in lane
        if st.drop_off is not None and st.drop_off.low is not None:
            ci = f"95% CI {st.drop_off.low * 100:.1f}%-{st.drop_off.high * 100:.1f}% · {st.drop_off.k:,} of {st.drop_off.n:,}"
            assert f'<span class="fig-ci">{ci}</span>' in lane


def test_cells_without_data_and_the_legend(doc, html):
    no_data = {
        a["data-name"]
        for t, a in tags(html)  # the all-customers grid's buttons: ids tp-N
        if t == "button" and a.get("data-tp", "").startswith("tp-") and "no-data" in (a.get("class") or "").split()
    }
    assert no_data == {tp.name for tp in doc.touchpoints() if not tp.has_data}
    legend = _between(html, '<div class="legend"', "</div>\n  </div>")
    assert (
        "Fill = emotion" in legend and "Outline and #n = friction rank" in legend and "no data in the period" in legend
    )


def _with_persona_map(raw: dict, journeys: int) -> dict:
    data = json.loads(json.dumps(raw))
    stages = json.loads(json.dumps(raw["stages"]))
    cell = stages[1]["lanes"][0]["touchpoints"][0]
    cell["figures"]["journeys"] = journeys
    cell["figures"]["share"] = journeys / 10_000  # the card shows reach: 4,321 -> 43.2% reach
    data["persona_maps"] = [
        {"persona": raw["personas"][0]["name"], "customers": 7, "journeys": 9, "stages": stages, "pain_points": []}
    ]
    data["schema_version"] = raw["schema_version"]
    return data


needs_persona_maps = pytest.mark.skipif(
    "persona_maps" not in JourneyMap.model_fields, reason="this JourneyMap has no persona_maps"
)


@needs_persona_maps
def test_persona_maps_render_their_own_grid(raw):
    doc = JourneyMap.model_validate(_with_persona_map(raw, 4321))
    html = render_html(doc)
    grids = [a for t, a in tags(html) if t == "div" and a.get("data-persona-grid") is not None]
    assert [a["data-persona-grid"] for a in grids] == [raw["personas"][0]["name"]] and "hidden" in grids[0]
    mine = _between(html, 'data-persona-grid="', '<section id="emotion"')
    assert "43.2% reach" in mine and "4,321 (43.2% of journeys)" in mine  # the card, then its details
    assert "43.2% reach" not in _between(html, 'id="grid-all"', 'data-persona-grid="')


FOLLOWING = (
    ("map", "<h3>Pain points, worst first</h3>", "<h3>Opportunities</h3>"),
    ("emotion", '<section id="emotion"', "</section>"),
    ("funnel", '<section id="funnel"', "</section>"),
)
ALL_CUSTOMERS = ("flow", "attribution", "voice", "change", "designed", "quality")


def _views(part: str) -> list[tuple[str | None, bool]]:
    return [
        (a.get("data-pview"), "hidden" in a)
        for t, a in tags(part)
        if t == "div" and "pview" in (a.get("class") or "").split()
    ]


@needs_persona_maps
def test_pain_points_emotion_and_funnel_have_a_view_per_persona_map(raw, html):
    names = [pm["persona"] for pm in raw["persona_maps"]]
    assert names
    for _, start, end in FOLLOWING:
        assert _views(_between(html, start, end)) == [("", False)] + [(n, True) for n in names], start
    pm = raw["persona_maps"][0]
    pains = _between(html, "<h3>Pain points, worst first</h3>", "<h3>Opportunities</h3>")
    mine = _between(pains, f'data-pview="{pm["persona"]}"', "</table>")
    cells = re.findall(r"<tr[^>]*><td>(\d+)</td><td>([^<]+)", mine)
    assert cells == [(str(p["rank"]), p["touchpoint"]) for p in pm["pain_points"]]
    assert cells != re.findall(r"<tr[^>]*><td>(\d+)</td><td>([^<]+)", _between(pains, 'data-pview=""', "</table>"))
    funnel = _between(_between(html, '<section id="funnel"', "</section>"), f'data-pview="{pm["persona"]}"', "</table>")
    r = pm["stages"][0]["reach"]
    assert f"{r['k']:,} of {r['n']:,}" in funnel and f"{pm['journeys']:,} journeys" in funnel
    emotion = _between(
        _between(html, '<section id="emotion"', "</section>"), f'data-pview="{pm["persona"]}"', "</table>"
    )
    assert [f"n={p['n']}" in emotion for p in pm["emotion_curve"]["stages"]] == [True] * len(
        pm["emotion_curve"]["stages"]
    )
    # the charts' data: each persona map's emotion curve and funnel, as in the document
    data = json.loads(_between(html, '<script type="application/json" id="jm-data">', "</script>").split(">", 1)[1])
    assert [m["persona"] for m in data["persona_maps"]] == names
    got = data["persona_maps"][0]
    assert [(p["name"], p["n"], p["mean"]) for p in got["emotion"]] == [
        (p["name"], p["n"], p["mean"]) for p in pm["emotion_curve"]["stages"]
    ]
    assert [(f["stage"], f["reach"]["k"], f["reach"]["n"]) for f in got["funnel"]] == [
        (s["name"], s["reach"]["k"], s["reach"]["n"]) for s in pm["stages"] if s["reach"]
    ]
    # a summary banner per persona map, hidden until chosen
    banners = [a for t, a in tags(html) if t == "p" and "pview-banner" in (a.get("class") or "")]
    assert [(a["data-pview"], "hidden" in a) for a in banners] == [(n, True) for n in names]


def test_sections_not_computed_per_persona_say_all_customers(html):
    for sid in ALL_CUSTOMERS:
        part = _between(html, f'<section id="{sid}"', "</section>")
        assert '<p class="all-note" hidden>All customers' in part, sid
    for sid in ("emotion", "funnel"):
        assert "all-note" not in _between(html, f'<section id="{sid}"', "</section>"), sid


def test_html_of_an_empty_map_renders():
    html = render_html(minimal())
    assert "No pain points." in html and "Not compared" in html


@pytest.mark.slow
def test_default_demo_report_is_at_most_5_mb(tmp_path, demo_copy):
    from journeymap.demo import DEFAULT_CUSTOMERS, DEFAULT_SEED
    from journeymap.maps import build_map
    from journeymap.workspace import Workspace

    # create_demo(DEFAULT_CUSTOMERS): the session's default demo, copied
    demo_copy(tmp_path / "demo", DEFAULT_CUSTOMERS, DEFAULT_SEED)
    with Workspace.open(tmp_path / "demo") as ws:
        doc = build_map(ws)
    path = tmp_path / "map.html"
    render_html(doc, path)
    size = path.stat().st_size
    assert 200_000 < size <= 5 * 1024 * 1024, size
    assert len(doc.touchpoints()) >= 20 and f">{doc.touchpoints()[0].name}<" in path.read_text(encoding="utf-8")


# -- Markdown and CSV against the JSON -----------------------------------------------------------
def test_markdown_has_the_documents_figures(raw, doc):
    md = render_markdown(doc)
    for s in raw["summary"]["sentences"]:
        assert s in md
    for st in raw["stages"]:
        r = st["reach"]
        assert f"{r['k']:,} of {r['n']:,}" in md and f"{100 * r['value']:.1f}%" in md
    for p in raw["pain_points"]:
        assert f"**{p['touchpoint']}**" in md and f"score {p['score']:.3f}" in md
        assert f"friction {p['friction']:.2f} x reach {100 * p['reach']:.1f}%" in md
    for o in raw["opportunities"]:
        assert o["title"] in md
    for p in raw["personas"]:
        c = p["conversion"]
        assert f"| {p['name']} | {p['customers']:,} ({100 * p['share']:.1f}%) | {100 * c['value']:.1f}%" in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and "Touchpoint" not in line]
    assert len(rows) > len(raw["stages"])


def _read(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / f"{name}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_csv_tables_have_the_documents_figures(raw, doc, tmp_path):
    paths = write_csv(doc, tmp_path / "t")
    assert {p.stem for p in paths} == set(map_tables(doc))
    cells = {tp["name"]: tp for st in raw["stages"] for lane in st["lanes"] for tp in lane["touchpoints"]}
    rows = {r["touchpoint"]: r for r in _read(tmp_path / "t", "touchpoints")}
    assert set(rows) == set(cells)
    for name, tp in cells.items():
        r, f = rows[name], tp["figures"]
        assert int(r["journeys"]) == f["journeys"] and int(r["events"]) == f["events"]
        if f["conversion"]:
            assert int(r["conversion_k"]) == f["conversion"]["k"] and int(r["conversion_n"]) == f["conversion"]["n"]
            assert float(r["conversion_low"]) == pytest.approx(f["conversion"]["low"])
        if tp["friction"]:
            assert float(r["friction"]) == pytest.approx(tp["friction"]["score"])
    stages = _read(tmp_path / "t", "stages")
    assert [s["stage"] for s in stages] == [s["name"] for s in raw["stages"]]
    for s, st in zip(stages, raw["stages"], strict=True):
        assert int(s["reach_k"]) == st["reach"]["k"] and int(s["reach_n"]) == st["reach"]["n"]
    pains = _read(tmp_path / "t", "pain_points")
    assert [(p["touchpoint"], float(p["score"])) for p in pains] == [
        (p["touchpoint"], pytest.approx(p["score"])) for p in raw["pain_points"]
    ]
    attr = _read(tmp_path / "t", "attribution")
    for r, a in zip(attr, raw["attribution"]["rows"], strict=True):
        for m in raw["attribution"]["models"]:
            want = a["shares"].get(m)
            assert (r[f"{m}_share"] == "") if want is None else float(r[f"{m}_share"]) == pytest.approx(want)
    # every model's credits add up to the conversions attributed
    for m in raw["attribution"]["models"]:
        total = sum(float(r[f"{m}_credit"] or 0) for r in attr)
        assert total == pytest.approx(sum(a["credits"].get(m, 0) for a in raw["attribution"]["rows"]))
    quotes = _read(tmp_path / "t", "quotes")
    assert {q["feedback_id"] for q in quotes} == {q["feedback_id"] for tp in cells.values() for q in tp["quotes"]} | {
        q["feedback_id"] for p in raw["pain_points"] for q in p["evidence"]["quotes"]
    } | {q["feedback_id"] for t in raw["themes"] for q in t["quotes"]}


# -- CLI -----------------------------------------------------------------------------------------
def test_cli_report_from_saved_map(tmp_path):
    out = tmp_path / "r.html"
    r = CliRunner().invoke(main, ["report", "--from", str(FIXTURE), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == str(out) and out.stat().st_size > 100_000
    r = CliRunner().invoke(
        main, ["report", "--from", str(FIXTURE), "-o", str(tmp_path / "m.md"), "--format", "md", "--json"]
    )
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["format"] == "md" and info["bytes"] == (tmp_path / "m.md").stat().st_size
    r = CliRunner().invoke(main, ["report", "--from", str(FIXTURE), "-o", str(tmp_path / "csv"), "--format", "csv"])
    assert r.exit_code == 0 and (tmp_path / "csv" / "touchpoints.csv").is_file()
    h = CliRunner().invoke(main, ["report", "--help"])
    assert h.exit_code == 0 and "Example:" in h.output


def test_cli_report_builds_the_workspace_map(tmp_path):
    from journeymap.demo import create_demo

    create_demo(tmp_path / "ws", 300, seed=5)
    r = CliRunner().invoke(main, ["-w", str(tmp_path / "ws"), "report", "--format", "md"])
    assert r.exit_code == 0, r.output
    path = Path(r.output.strip().splitlines()[-1])
    assert path == (tmp_path / "ws" / "reports" / "map.md").resolve() and path.is_file()
    assert "# Customer touchpoint map: ws" in path.read_text(encoding="utf-8")


def test_cli_png_without_chromium_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEYMAP_CHROMIUM", str(tmp_path / "no-such-chromium"))
    r = CliRunner().invoke(main, ["report", "--from", str(FIXTURE), "-o", str(tmp_path / "m.png"), "--format", "png"])
    assert r.exit_code == 1
    assert ("apt-get install chromium" in r.output) or ("pip install" in r.output), r.output
    assert not (tmp_path / "m.png").exists()


# -- in the browser ------------------------------------------------------------------------------
browser = pytest.mark.skipif(missing() is not None, reason=f"no headless browser: {missing()}")


@pytest.fixture(scope="module")
def page_of():
    """Open an HTML file in headless Chromium; yields a function returning (page, console errors, requests)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)

        def open_page(path: Path):
            page = b.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.resolve().as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            return page, errors, requests

        yield open_page
        b.close()


def _variance(png: bytes) -> float:
    from PIL import Image

    hist = Image.open(io.BytesIO(png)).convert("L").histogram()  # grey level -> pixel count
    n = sum(hist)
    mean = sum(v * c for v, c in enumerate(hist)) / n
    return sum((v - mean) ** 2 * c for v, c in enumerate(hist)) / n


@pytest.mark.browser
@browser
def test_browser_opens_report_without_errors(doc, tmp_path, page_of):
    pytest.importorskip("PIL", reason="pixel check needs Pillow")
    path = tmp_path / "map.html"
    render_html(doc, path)
    page, errors, requests = page_of(path)
    for sid, title in SECTIONS:
        section = page.locator(f"section#{sid}")
        assert section.count() == 1 and title in section.locator("h2").inner_text()
    for chart in ("emotion", "sankey", "funnel", "attribution"):
        assert page.locator(f"#chart-{chart} svg").count() >= 1, chart
    shot = page.screenshot()
    assert _variance(shot) > 100  # not blank
    assert errors == [] and requests == [path.resolve().as_uri()]


@pytest.mark.browser
@browser
def test_browser_click_touchpoint_opens_its_details(doc, tmp_path, page_of):
    path = tmp_path / "map.html"
    render_html(doc, path)
    page, errors, _ = page_of(path)
    assert not page.locator("#details").is_visible()
    worst = doc.pain_points[0].touchpoint
    page.locator(f"#grid-all button.tp[data-name='{worst}']").click()
    details = page.locator("#details")
    assert details.is_visible() and details.locator("h3").first.inner_text() == worst
    cell = doc.touchpoint(worst)
    text = details.inner_text()
    assert f"{cell.figures.journeys:,}" in text and cell.quotes[0].text in text
    page.locator("#details .close").click()
    assert not details.is_visible() and errors == []


def _open_first_persona(doc, tmp_path, page_of):
    """Render ``doc``, open it; return the page, its console errors, the first persona and its own map (or None)."""
    path = tmp_path / "map.html"
    render_html(doc, path)
    page, errors, _ = page_of(path)
    persona = doc.personas[0]
    own = next((m for m in getattr(doc, "persona_maps", []) if m.persona == persona.name), None)
    return page, errors, persona, own


@pytest.mark.browser
@browser
def test_browser_persona_filter_changes_what_is_shown(doc, tmp_path, page_of):
    page, errors, persona, own = _open_first_persona(doc, tmp_path, page_of)
    overall = page.locator("#grid-all .stage-reach[data-persona-figure='']").first
    mine = page.locator("#grid-all .stage-reach[data-persona-figure='0']").first
    assert overall.is_visible() and not mine.is_visible()
    assert page.locator("button.tp.persona-pain").count() == 0
    page.select_option("#persona-filter", "0")
    assert not overall.is_visible()
    if own is None:  # no persona map: the persona's figures beside the overall grid, its pain points marked
        assert mine.is_visible()
        st = persona.stages[0]
        assert f"{st.reach.k:,} of {st.reach.n:,}" in mine.inner_text()
        on_map = {tp.name for tp in doc.touchpoints()}
        assert page.locator("button.tp.persona-pain").count() == len(set(persona.top_pain_points) & on_map) > 0
    else:  # the persona's own grid replaces the overall one
        grid = page.locator(f".persona-grid[data-persona-grid='{persona.name}']")
        assert grid.is_visible() and not page.locator("#grid-all").is_visible()
        reach = own.stages[0].reach
        assert f"{reach.k:,} of {reach.n:,}" in grid.locator(".stage-reach").first.inner_text()
    assert persona.name in page.locator("#chart-funnel").inner_text()
    page.select_option("#persona-filter", "")
    assert overall.is_visible() and page.locator("button.tp.persona-pain").count() == 0
    assert errors == []


@pytest.mark.browser
@browser
@needs_persona_maps
def test_browser_persona_filter_swaps_pain_points_emotion_and_funnel(doc, tmp_path, page_of):
    page, errors, persona, own = _open_first_persona(doc, tmp_path, page_of)
    assert own is not None

    def view(sid: str, name: str):
        return page.locator(f"section#{sid} .pview[data-pview='{name}']")

    for sid in ("map", "emotion", "funnel"):
        assert view(sid, "").is_visible() and not view(sid, persona.name).is_visible()
    assert not page.locator("section#flow .all-note").is_visible()
    page.select_option("#persona-filter", "0")
    for sid in ("map", "emotion", "funnel"):
        assert view(sid, persona.name).is_visible() and not view(sid, "").is_visible(), sid
    assert own.pain_points[0].headline in view("map", persona.name).inner_text()
    reach = own.stages[0].reach
    assert f"{reach.k:,} of {reach.n:,}" in view("funnel", persona.name).inner_text()
    curve = page.locator("#chart-emotion").inner_text()
    assert all(f"(n={p.n})" in curve for p in own.emotion_curve.stages)
    assert page.locator(f"section#summary .pview-banner[data-pview='{persona.name}']").is_visible()
    for sid in ALL_CUSTOMERS:
        assert page.locator(f"section#{sid} .all-note").is_visible(), sid
    page.select_option("#persona-filter", "")
    for sid in ("map", "emotion", "funnel"):
        assert view(sid, "").is_visible() and not view(sid, persona.name).is_visible()
    curve = page.locator("#chart-emotion").inner_text()
    assert all(f"(n={p.n})" in curve for p in doc.emotion_curve.stages)
    assert not page.locator("section#flow .all-note").is_visible() and errors == []


@pytest.mark.browser
@browser
@needs_persona_maps
def test_browser_persona_filter_swaps_the_whole_grid(raw, tmp_path, page_of):
    path = tmp_path / "map.html"
    render_html(JourneyMap.model_validate(_with_persona_map(raw, 4321)), path)
    page, errors, _ = page_of(path)
    grid = page.locator(".persona-grid").first
    assert page.locator("#grid-all").is_visible() and not grid.is_visible()
    page.select_option("#persona-filter", "0")
    assert grid.is_visible() and not page.locator("#grid-all").is_visible()
    name = raw["stages"][1]["lanes"][0]["touchpoints"][0]["name"]
    grid.locator(f"button.tp[data-name='{name}']").click()
    assert "4,321" in page.locator("#details").inner_text()
    page.select_option("#persona-filter", "")
    assert page.locator("#grid-all").is_visible() and not grid.is_visible() and errors == []


@pytest.mark.browser
@browser
@pytest.mark.parametrize("width", [1400, 1000])
def test_browser_figures_lane_does_not_overlap(doc, tmp_path, page_of, width):
    path = tmp_path / "map.html"
    render_html(doc, path)
    page, errors, _ = page_of(path)
    page.set_viewport_size({"width": width, "height": 900})
    page.locator("#grid-all details.stage-figures > summary").click()  # folded under the map on screen
    boxes = page.evaluate("""() => [...document.querySelectorAll('#grid-all .lane-figures > td')].map(td => ({
        over: td.scrollWidth > td.clientWidth + 1,
        rows: [...td.querySelectorAll('tr.fig-row')].map(r => { const b = r.getBoundingClientRect();
            return [b.left, b.top, b.right, b.bottom]; }),
        cell: (b => [b.left, b.top, b.right, b.bottom])(td.getBoundingClientRect())}))""")
    assert len(boxes) == len(doc.stages)
    for td in boxes:
        assert not td["over"]
        for upper, lower in zip(td["rows"], td["rows"][1:], strict=False):
            assert upper[3] <= lower[1] + 0.5  # each figure below the previous one
        for left, _, right, _ in td["rows"]:
            assert td["cell"][0] - 0.5 <= left and right <= td["cell"][2] + 0.5
    assert errors == []


@pytest.mark.browser
@browser
def test_browser_print_shows_every_opportunity(doc, tmp_path, page_of):
    path = tmp_path / "map.html"
    render_html(doc, path)
    page, errors, _ = page_of(path)
    rest = page.locator("details.opps-more tr.opp")
    assert rest.count() > 0 and not rest.first.is_visible()
    page.emulate_media(media="print")
    assert rest.first.is_visible() and rest.last.is_visible() and errors == []


@pytest.mark.browser
@browser
def test_browser_empty_map_has_no_errors(tmp_path, page_of):
    path = tmp_path / "empty.html"
    render_html(minimal(), path)
    _, errors, _ = page_of(path)
    assert errors == []


@pytest.mark.browser
@browser
def test_png_and_pdf_exports(doc, tmp_path):
    html = tmp_path / "map.html"
    render_html(doc, html)
    png = export_image(html, tmp_path / "map.png", "png", width=1200)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1200 and height > 3000 and len(data) > 100_000
    pdf = export_image(html, tmp_path / "map.pdf", "pdf")
    body = pdf.read_bytes()
    assert body[:5] == b"%PDF-" and len(body) > 100_000 and body.count(b"/Type /Page") > 3


def test_change_section_shows_the_deltas(raw, tmp_path):
    data = json.loads(json.dumps(raw))
    data["change"] = {
        "previous_start": "2025-05-01T00:00:00",
        "previous_end": "2025-06-01T00:00:00",
        "deltas": [
            {
                "scope": "stage",
                "name": "purchase",
                "metric": "conversion",
                "old": 0.25,
                "new": 0.3125,
                "delta": 0.0625,
                "low": 0.01,
                "high": 0.115,
                "p": 0.0123,
                "significant": True,
                "n_old": 400,
                "n_new": 480,
            }
        ],
    }
    doc = JourneyMap.from_dict(data)
    html = render_html(doc)
    section = html.split('id="change"')[1].split("</section>")[0]
    assert "0.312" in section and "+0.062" in section and "0.012" in section and "400 / 480" in section
    assert "significant" in section
    md = render_markdown(doc)
    assert "| stage | purchase | conversion | 0.250 | 0.312 | +0.062 | 0.012 | yes |" in md
    write_csv(doc, tmp_path)
    (row,) = _read(tmp_path, "changes")
    assert float(row["delta"]) == 0.0625 and int(row["n_new"]) == 480


@pytest.mark.browser
@browser
def test_browser_emotion_band_spans_each_interval_also_below_zero(raw, tmp_path, page_of):
    """The interval band is drawn as `low` plus a stacked `high - low`; ECharts stacks only values of one
    sign by default, so a negative low once drew the band from 0 instead of from low."""
    data = json.loads(json.dumps(raw))
    points = data["emotion_curve"]["stages"]
    assert len(points) >= 2
    points[0].update(mean=-0.3, low=-0.5, high=-0.1)  # wholly negative
    points[1].update(mean=0.05, low=-0.2, high=0.3)  # straddles zero
    path = tmp_path / "map.html"
    render_html(JourneyMap.model_validate(data), path)
    page, errors, _ = page_of(path)
    low, top = page.evaluate("""() => {
      const inst = echarts.getInstanceByDom(document.getElementById('chart-emotion'));
      return ['low', '95% interval'].map(name => {
        const d = inst.getModel().getSeriesByName(name)[0].getData();
        const dim = d.getCalculationInfo('stackResultDimension');
        return Array.from({length: d.count()}, (_, i) => d.get(dim, i));
      });
    }""")
    want = [v for p in points if p["low"] is not None for v in (p["low"], p["high"])]
    got = [v for a, b in zip(low, top, strict=True) if a is not None and not math.isnan(a) for v in (a, b)]
    assert got == pytest.approx(want, abs=1e-9) and errors == []
