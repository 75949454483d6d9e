"""The report a board reads at a glance (issue 16 items 2, 3, 4 and 6), checked in Debian's Chromium.

The default demo is made and reported through the CLI (``journeymap demo``, ``journeymap report``), opened
at 1440x900, 1000x800 and 390x844, and measured: the map (stage columns, channel rows, the emotion lane, the
pain points and opportunities) fits in about two screens, the stage headers stick under the navigation, the
emotion lane's points sit at their stage's centre and in the order of the document's means, the details
panel never covers the card it explains, the phone page never scrolls sideways, the print/PDF puts the map
on one landscape page and the whole report in at most 15. Screenshots for a person to look at are written to
``tests/out/report-screens/`` (or ``$JOURNEYMAP_SCREENSHOTS``).
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from pathlib import Path

import pytest

from journeymap.maps.models import JourneyMap
from journeymap.report import render_html
from journeymap.report.browser import CHROMIUM_FLAGS, chromium_path, missing

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(missing() is not None, reason=f"no headless browser: {missing()}"),
]

FIXTURE = Path(__file__).parent / "fixtures" / "map_small.json"
SCREENS = Path(os.environ.get("JOURNEYMAP_SCREENSHOTS", Path(__file__).parent / "out" / "report-screens"))
SIZES = {1440: 900, 1000: 800, 390: 844}


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def demo_doc(demo_report) -> JourneyMap:
    """The document the demo report was rendered from (read back from the report's own data is not enough:
    the figures are compared with the document itself)."""
    from journeymap.maps import build_map
    from journeymap.workspace import Workspace

    with Workspace.open(demo_report.parent / "shop", read_only=True) as ws:
        return build_map(ws)


def _open(chromium, path: Path, width: int, errors: list[str] | None = None):
    page = chromium.new_page(viewport={"width": width, "height": SIZES.get(width, 900)})
    if errors is not None:
        page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return page


def _box(page, selector: str) -> dict:
    return page.evaluate(
        """s => { const b = document.querySelector(s).getBoundingClientRect();
        return {left: b.left, top: b.top + scrollY, right: b.right, bottom: b.bottom + scrollY, width: b.width,
                height: b.height}; }""",
        selector,
    )


@pytest.mark.parametrize("width", sorted(SIZES))
def test_screenshots_for_a_person_to_look_at(chromium, demo_report, width):
    SCREENS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page = _open(chromium, demo_report, width, errors)
    page.evaluate("document.getElementById('map').scrollIntoView()")
    page.screenshot(path=str(SCREENS / f"map-{width}.png"))
    page.screenshot(path=str(SCREENS / f"report-{width}-full.png"), full_page=True)
    page.locator("#grid-all button.tp").nth(3).click()
    page.screenshot(path=str(SCREENS / f"details-{width}.png"))
    assert (SCREENS / f"map-{width}.png").stat().st_size > 20_000 and errors == []
    page.close()


def test_the_map_fits_in_about_two_screens_at_1440(chromium, demo_report, demo_doc):
    page = _open(chromium, demo_report, 1440)
    top = _box(page, "section#map")["top"]
    end = _box(page, "#grid-all tr.lane-opps")["bottom"]
    assert end - top <= 2 * 900, f"the map takes {end - top:.0f} px"
    # everything a glance needs is in that span: every stage, every touchpoint card, the lanes
    for sel in ("tr.lane-emotion", "tr.lane-pains", "tr.lane-opps"):
        assert page.locator(f"#grid-all {sel}").is_visible(), sel
    heads = page.locator("#grid-all table.map-grid thead th.stage-h .stage-name").all_inner_texts()
    assert len(heads) == len(demo_doc.stages)
    for head, st in zip(heads, demo_doc.stages, strict=True):
        assert head.lower().startswith(f"{st.order + 1}. {st.name}".lower()), (head, st.name)
    assert page.locator("#grid-all button.tp").count() == len(demo_doc.touchpoints())
    page.close()


def test_stage_headers_stick_under_the_navigation(chromium, demo_report):
    page = _open(chromium, demo_report, 1440)
    grid = _box(page, "#grid-all table.grid")
    page.evaluate("y => window.scrollTo(0, y)", grid["top"] + grid["height"] / 2)
    nav = page.evaluate("document.querySelector('nav.toc').getBoundingClientRect().bottom")
    head = page.evaluate(
        "document.querySelector('#grid-all table.map-grid thead th.stage-h').getBoundingClientRect().top"
    )
    assert abs(head - nav) <= 2, (head, nav)
    # and the navigation is one line at every width
    for width in SIZES:
        page.set_viewport_size({"width": width, "height": SIZES[width]})
        tops = page.evaluate("[...document.querySelectorAll('nav.toc a')].map(a => a.offsetTop)")
        assert len(set(tops)) == 1, (width, tops)
    page.close()


def test_emotion_lane_points_sit_at_their_stage_and_follow_the_means(chromium, demo_report, demo_doc):
    page = _open(chromium, demo_report, 1440)
    heads = page.evaluate("""[...document.querySelectorAll('#grid-all table.map-grid thead th.stage-h')].map(th => {
        const b = th.getBoundingClientRect(); return (b.left + b.right) / 2; })""")
    dots = page.evaluate("""[...document.querySelectorAll('#grid-all .emo-dot')].map(d => {
        const b = d.getBoundingClientRect(); return [(b.left + b.right) / 2, (b.top + b.bottom) / 2]; })""")
    with_mean = [i for i, s in enumerate(demo_doc.stages) if s.emotion and s.emotion.mean is not None]
    assert len(dots) == len(with_mean) >= 3
    for (x, _), i in zip(dots, with_mean, strict=True):
        assert abs(x - heads[i]) <= 2, (i, x, heads[i])
    means = [demo_doc.stages[i].emotion.mean for i in with_mean]
    for (_, ya), (_, yb), ma, mb in zip(dots, dots[1:], means, means[1:], strict=False):
        assert (ya < yb) == (ma > mb) or abs(ma - mb) < 1e-9  # higher on screen = higher mean
    labels = page.locator("#grid-all .emo-label").all_inner_texts()
    for label, st in zip(labels, demo_doc.stages, strict=True):
        e = st.emotion
        if e is None or e.mean is None:
            continue
        if e.n < demo_doc.meta.emotion_min_n:
            assert label.lower() == f"few comments ({e.n:,})", label
        else:
            assert f"{e.mean:+.2f} (n={e.n:,})" in label, label
    page.close()


@pytest.mark.parametrize("width", sorted(SIZES))
def test_the_details_panel_never_covers_the_card_it_explains(chromium, demo_report, width):
    page = _open(chromium, demo_report, width)
    cards = page.locator("#grid-all button.tp")
    n = cards.count()
    for i in sorted({0, n // 2, n - 1}):  # first stage, middle, last stage
        card = cards.nth(i)
        card.click()
        panel = page.evaluate(
            "(b => [b.left, b.top, b.right, b.bottom])(document.getElementById('details').getBoundingClientRect())"
        )
        box = card.evaluate("e => (b => [b.left, b.top, b.right, b.bottom])(e.getBoundingClientRect())")
        vw, vh = width, SIZES[width]
        assert panel[0] >= -0.5 and panel[1] >= -0.5 and panel[2] <= vw + 0.5 and panel[3] <= vh + 0.5, panel
        overlap_x = min(panel[2], box[2]) - max(panel[0], box[0])
        overlap_y = min(panel[3], box[3]) - max(panel[1], box[1])
        assert overlap_x <= 0 or overlap_y <= 0, (width, i, panel, box)
        assert box[1] >= 0 and box[3] <= vh, (width, i, box)  # the card itself is on screen
        if width == 390:  # a bottom sheet, the full width of the screen
            assert panel[0] <= 0.5 and panel[2] >= vw - 0.5 and panel[3] >= vh - 0.5
        page.keyboard.press("Escape")
        assert not page.locator("#details").is_visible()
    page.close()


def test_phone_page_never_scrolls_sideways_and_the_grid_scrolls_in_its_frame(chromium, demo_report):
    page = _open(chromium, demo_report, 390)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    wide = page.evaluate("""[...document.querySelectorAll('body *')].filter(e => {
        const b = e.getBoundingClientRect(); if (b.width === 0) return false;
        let p = e.parentElement; while (p) { const o = getComputedStyle(p).overflowX;
          if (o === 'auto' || o === 'scroll' || o === 'hidden') return false; p = p.parentElement; }
        return b.right > 391; }).map(e => e.tagName + '.' + e.className).slice(0, 5)""")
    assert wide == []
    frame = page.locator("#grid-all .grid-frame").first
    assert frame.evaluate("f => f.scrollWidth > f.clientWidth")
    label = page.locator("#grid-all tbody th.lane-h").first
    left = label.evaluate("e => e.getBoundingClientRect().left")
    frame.evaluate("f => { f.scrollLeft = 400; }")
    frame_left = frame.evaluate("f => f.getBoundingClientRect().left")
    after = label.evaluate("e => e.getBoundingClientRect().left")
    assert (
        after == pytest.approx(left, abs=4) and frame_left - 0.5 <= after <= frame_left + 4
    )  # fixed at the frame's edge
    first_card = page.locator("#grid-all button.tp").first
    assert first_card.evaluate("e => e.getBoundingClientRect().right") < left + 100  # scrolled away under it
    page.close()


def test_channel_rows_without_a_card_fold_away():
    raw = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for st in raw["stages"]:
        st["lanes"].append({"channel": "fax", "touchpoints": []})
    html = render_html(JourneyMap.model_validate(raw))
    grid = html[html.index('id="grid-all"') :]
    grid = grid[: grid.index("</table>")]
    rows = re.findall(r'<tr class="lane-channel">\s*<th class="lane-h" scope="row">([^<]+)</th>', grid)
    used = {lane["channel"] for st in raw["stages"] for lane in st["lanes"] if lane["touchpoints"]}
    assert "fax" not in rows and set(rows) == used
    assert len(rows) == len(set(rows))


def test_tooltips_say_words_and_format_numbers(chromium, demo_report, demo_doc):
    page = _open(chromium, demo_report, 1440)
    seen = []
    for chart in ("chart-sankey", "chart-funnel", "chart-attribution", "chart-emotion"):
        el = page.locator(f"#{chart}")
        el.scroll_into_view_if_needed()
        box = el.bounding_box()
        for fx in (0.1, 0.3, 0.5, 0.7, 0.9):
            for fy in (0.2, 0.5, 0.8):
                page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
                text = page.evaluate("""() => [...document.querySelectorAll('div')].filter(d =>
                    getComputedStyle(d).position === 'absolute' && d.style.zIndex !== '' && d.offsetParent !== null
                    && d.innerText.trim()).map(d => d.innerText).join(' | ')""")
                if text:
                    seen.append(text)
    joined = " ".join(seen)
    assert seen, "no tooltip showed"
    assert not re.search(r"\b(CONVERTED|DROPPED|IN_PROGRESS)\b", joined), joined[:500]
    assert not re.search(r"(?<![\d,.])\d{4,}(?![\d%])", joined), joined[:500]  # thousands carry separators
    body = page.evaluate("document.body.innerText")
    assert not re.search(r"\b(CONVERTED|DROPPED|IN_PROGRESS)\b", body)
    page.close()


def test_small_samples_are_muted_and_print_no_interval(chromium, tmp_path):
    raw = json.loads(FIXTURE.read_text(encoding="utf-8"))
    cell = raw["stages"][0]["lanes"][0]["touchpoints"][0]
    cell["emotion"] = {"mean": -0.6, "low": -0.9, "high": -0.1, "n": 3, "negative_share": 0.66, "dominant": []}
    raw["stages"][0]["emotion"] = {"mean": -0.6, "low": -0.9, "high": -0.1, "n": 3}
    raw["stages"][0]["reach"] = {"k": 2, "n": 4, "value": 0.5, "low": 0.15, "high": 0.85}
    path = tmp_path / "small.html"
    render_html(JourneyMap.model_validate(raw), path)
    page = _open(chromium, path, 1440)
    card = page.locator(f"#grid-all button.tp[data-name='{cell['name']}']")
    assert "emo-few" in card.get_attribute("class") and "few comments (3)" in card.inner_text().lower()
    assert card.evaluate("e => getComputedStyle(e).backgroundColor") in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
    head = page.locator("#grid-all table.map-grid thead th.stage-h").first.inner_text()
    assert "2 of 4" in head and "95% CI" not in head  # no interval from 4 journeys
    assert "few comments (3)" in page.locator("#grid-all .emo-label").first.inner_text().lower()
    page.close()


def test_pdf_puts_the_map_on_one_landscape_page_and_the_report_in_15(demo_report, demo_doc, tmp_path):
    pypdf = pytest.importorskip("pypdf", reason="reading the PDF back needs pypdf (the dev extra)")
    from journeymap.report.browser import export_image

    pdf = export_image(demo_report, tmp_path / "map.pdf", "pdf")
    reader = pypdf.PdfReader(str(pdf))
    pages = [p.extract_text() or "" for p in reader.pages]
    assert len(pages) <= 15, len(pages)
    box = reader.pages[0].mediabox
    assert float(box.width) > float(box.height)  # landscape
    channels = {lane.channel for st in demo_doc.stages for lane in st.lanes if lane.touchpoints}
    holding = [i for i, t in enumerate(pages) if "The journey map" in t]
    assert len(holding) == 1
    # ligatures (the PDF's "ﬄ") undone, words a narrow column broke over lines joined again
    text = " ".join(unicodedata.normalize("NFKC", pages[holding[0]]).split())
    for st in demo_doc.stages:  # every stage, channel row, touchpoint and lane of the map on that one page
        assert f"{st.order + 1}. {st.name}".lower() in text.lower(), st.name
    for ch in channels:
        assert ch in text, ch
    for tp in demo_doc.touchpoints():
        assert tp.name in text, tp.name
    for lane in ("Emotion", "Pain points", "Opportunities"):
        assert lane in text, lane
    legend = "Fill = emotion"
    for t in pages:  # no page carries only a legend
        if legend in t:
            assert len(t.split(legend, 1)[1]) > 500
