"""Accessibility of the HTML report: WCAG 2.1 AA (issue 16, item 5).

* axe-core (a test-only npm devDependency, ``package.json``; ``npm ci`` puts it in ``node_modules/``) is
  injected into the rendered report in headless Chromium and run with the WCAG 2.0/2.1 A and AA rules at a
  desktop (1440x900) and a phone (390x844) viewport, with the details panel closed and open, on the fixture
  map's report and on the default demo's report: no serious or critical violation.
* The details panel is a dialog: it has a name, takes the focus when a touchpoint opens it, closes on Escape
  and on its close button, and gives the focus back to the touchpoint that opened it.
* Colour contrast is computed here, independently of axe and of the browser, from the colours the report's
  stylesheet and script define: chart marks at least 3:1 against white (WCAG 1.4.11), text at least 4.5:1 on
  its background (1.4.3), text inside a touchpoint at least 4.5:1 on every emotion fill. Chart text as drawn
  (SVG, which axe does not check) is read back from the page and held to 4.5:1 against white.

The report is made the way a user makes it: ``journeymap report --from map.json`` and ``journeymap demo`` then
``journeymap report``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from journeymap.cli import main
from journeymap.report.browser import CHROMIUM_FLAGS, chromium_path, missing

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "map_small.json"
ASSETS = ROOT / "journeymap" / "report" / "assets"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}

browser = pytest.mark.skipif(missing() is not None, reason=f"no headless browser: {missing()}")
needs_axe = pytest.mark.skipif(not AXE.is_file(), reason="axe-core not installed: run npm ci (package.json)")


# -- contrast (WCAG 2.1 definitions, computed here) ----------------------------------------------
def _rgb(colour: str) -> tuple[int, int, int]:
    """``#rgb`` / ``#rrggbb`` / ``rgb(r, g, b)`` as three 0-255 integers."""
    c = colour.strip()
    m = re.fullmatch(r"rgba?\(\s*(\d+)[,\s]+(\d+)[,\s]+(\d+)(?:[,\s/]+[\d.]+)?\s*\)", c)
    if m:
        return int(m[1]), int(m[2]), int(m[3])
    h = c.lstrip("#")
    if len(h) == 3:
        h = "".join(ch * 2 for ch in h)
    if not re.fullmatch(r"[0-9a-fA-F]{6}", h):
        raise ValueError(f"not a colour: {colour!r}")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def luminance(colour: str) -> float:
    """Relative luminance of an sRGB colour (WCAG 2.1, definition of relative luminance).

    Parameters
    ----------
    colour : str
        ``#rgb``, ``#rrggbb`` or ``rgb(r, g, b)``.

    Returns
    -------
    float
        0 (black) to 1 (white).
    """

    def lin(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours, 1 to 21 (order does not matter)."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_function_matches_known_ratios():
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#fff", "#fff") == pytest.approx(1.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic just-fails grey
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the lightest grey that passes
    assert contrast("rgb(0, 114, 178)", "#0072B2") == pytest.approx(1.0)


# -- the colours the report defines ----------------------------------------------------------------
def css_properties() -> dict[str, str]:
    """The hex custom properties of report.css's ``:root`` block, ``{"--ink": "#1b1f24", ...}``."""
    css = (ASSETS / "report.css").read_text(encoding="utf-8")
    root = re.search(r":root\s*\{(.*?)\}", css, re.S)
    assert root, "report.css has no :root { ... } block of custom properties"
    return {k: v for k, v in re.findall(r"(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\b", root[1])}


def css_rules() -> list[tuple[str, str]]:
    """(selector, declarations) of every plain rule in report.css, @media blocks flattened, print rules left out."""
    css = re.sub(r"/\*.*?\*/", "", (ASSETS / "report.css").read_text(encoding="utf-8"), flags=re.S)
    css = re.sub(r"@media\s+print\s*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", css)  # the print sheet is not read on screen
    css = re.sub(r"@media[^{]*\{((?:[^{}]*\{[^{}]*\})*)[^{}]*\}", r"\1", css)
    return [(s.strip(), d) for s, d in re.findall(r"([^{}]+)\{([^{}]*)\}", css) if not s.strip().startswith("@")]


def resolve(value: str, props: dict[str, str]) -> str | None:
    """A CSS colour value as hex: literal hex, or ``var(--x)`` of a hex custom property; None otherwise."""
    v = value.strip().removesuffix("!important").strip()
    m = re.fullmatch(r"var\((--[\w-]+)(?:\s*,\s*([^)]*))?\)", v)
    if m:
        return props.get(m[1]) or (resolve(m[2], props) if m[2] else None)
    return v if re.fullmatch(r"#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}", v) else None


def js_constants() -> dict[str, str]:
    """The hex colour constants of report.js, ``{"BLUE": "#0072B2", ...}`` (``NAME = "#hex"`` assignments)."""
    js = (ASSETS / "report.js").read_text(encoding="utf-8")
    found = dict(re.findall(r"\b([A-Z][A-Z0-9_]*)\s*[:=]\s*[\"'](#[0-9a-fA-F]{3,6})[\"']", js))
    assert found, 'report.js defines no NAME = "#hex" colour constants'
    return found


def js_text_colours() -> dict[str, str]:
    """Colours report.js gives chart text: ``color`` inside a label / textStyle / axisLabel / legend text option."""
    js = (ASSETS / "report.js").read_text(encoding="utf-8")
    consts = js_constants()
    out: dict[str, str] = {}
    for m in re.finditer(r"\b(label|textStyle|axisLabel|nameTextStyle)\s*:\s*\{([^{}]*)", js):  # up to a nested {
        c = re.search(r"(?<![\w-])color\s*:\s*(?:[\"'](#[0-9a-fA-F]{3,6})[\"']|([A-Z][A-Z0-9_]*)\b)", m[2])
        if c:
            hexa = c[1] or consts.get(c[2] or "")
            if hexa:
                out[f"{m[1]} color {c[1] or c[2]}"] = hexa
    return out


def js_mark_colours() -> dict[str, str]:
    """Colours report.js draws with: its NAME = "#hex" constants and every other ``color: "#hex"`` literal
    (item, line and visual-map colours), chart text colours left out."""
    js = (ASSETS / "report.js").read_text(encoding="utf-8")
    text = set(js_text_colours().values())
    marks = dict(js_constants())
    for m in re.finditer(r"(?<![\w-])color\s*:\s*[\"'](#[0-9a-fA-F]{3,6})[\"']", js):
        if m[1] not in text:
            marks[f"color: {m[1]}"] = m[1]
    return marks


def test_chart_mark_colours_reach_3_to_1_against_white():
    """Every colour report.js draws chart lines, bars, areas and nodes with: >= 3:1 against white."""
    bg = css_properties().get("--bg", "#ffffff")
    marks = js_mark_colours()
    assert len(marks) >= 5, marks
    low = {name: round(contrast(hexa, bg), 2) for name, hexa in marks.items() if contrast(hexa, bg) < 3.0}
    assert not low, f"chart colours under 3:1 against the background {bg} (WCAG 1.4.11): {low}"


def test_stylesheet_chart_strokes_reach_3_to_1_against_white():
    """Lines the stylesheet draws (the emotion lane's SVG): every opaque ``stroke`` >= 3:1 against the page.

    A stroke drawn translucent (``stroke-opacity`` / ``opacity`` under 1, e.g. an interval band) is a supplement
    whose figures are also given in words, and is left out."""
    props = css_properties()
    bg = props.get("--bg", "#ffffff")
    strokes = {}
    for sel, decl in css_rules():
        m = re.search(r"(?<![\w-])stroke\s*:\s*([^;]+)", decl)
        alpha = re.search(r"(?<![\w-])(?:stroke-)?opacity\s*:\s*([\d.]+)", decl)
        hexa = resolve(m[1], props) if m else None
        if hexa and not (alpha and float(alpha[1]) < 1):
            strokes[f"{sel} {{stroke: {m[1].strip()}}}"] = hexa
    low = {k: round(contrast(v, bg), 2) for k, v in strokes.items() if contrast(v, bg) < 3.0}
    assert not low, f"chart strokes under 3:1 against {bg} (WCAG 1.4.11): {low}"


def test_chart_text_colours_reach_4_5_to_1_against_white():
    bg = css_properties().get("--bg", "#ffffff")
    text = js_text_colours()
    assert text, "found no chart text colour in report.js (label / textStyle / axisLabel color)"
    low = {k: round(contrast(v, bg), 2) for k, v in text.items() if contrast(v, bg) < 4.5}
    assert not low, f"chart text colours under 4.5:1 against {bg} (WCAG 1.4.3): {low}"


def test_page_text_colours_reach_4_5_to_1_on_the_page_and_panel_backgrounds():
    """Text colours of the stylesheet on the page background and the panel grey (cards, grid cells, table heads)."""
    props = css_properties()
    backgrounds = {k: props[k] for k in ("--bg", "--panel") if k in props}
    assert backgrounds, "report.css :root defines neither --bg nor --panel"
    text = {}
    for sel, decl in css_rules():
        for m in re.finditer(r"(?<![\w-])color\s*:\s*([^;]+)", decl):
            hexa = resolve(m[1], props)
            if hexa:
                text[f"{sel} {{color: {m[1].strip()}}}"] = hexa
    assert len(text) >= 3, text
    low = {
        f"{k} on {b}": round(contrast(v, bv), 2)
        for k, v in text.items()
        for b, bv in backgrounds.items()
        if contrast(v, bv) < 4.5
    }
    assert not low, f"text under 4.5:1 (WCAG 1.4.3): {low}"


def _subject(selector: str) -> str:
    """The last class of a selector's subject (``.tp.friction-high .tp-friction:hover`` -> ``tp-friction``)."""
    classes = re.findall(r"\.([\w-]+)", re.split(r"[\s>+~]+", selector.strip())[-1])
    return classes[-1] if classes else ""


def test_text_inside_a_touchpoint_reaches_4_5_to_1_on_every_emotion_fill():
    """The emotion fills are backgrounds behind a touchpoint's text: each text colour of a touchpoint >= 4.5:1
    on every fill; text in a badge with its own background (any .tp rule for that class giving one) on that."""
    props = css_properties()
    fills = {k: v for k, v in props.items() if k.startswith("--emo")}
    assert len(fills) >= 3, f"report.css :root has no --emo-* emotion fills: {sorted(props)}"
    tp_rules = [(sel, decl) for group, decl in css_rules() for sel in group.split(",") if re.search(r"\.tp\b", sel)]
    own_bg: dict[str, str] = {}  # badge class -> its background
    for sel, decl in tp_rules:
        bg = re.search(r"background(?:-color)?\s*:\s*([^;]+)", decl)
        hexa = resolve(bg[1], props) if bg else None
        if hexa and _subject(sel) != "tp":
            own_bg[_subject(sel)] = hexa
    pairs = {f"inherited --ink on {f}": (props["--ink"], fv) for f, fv in fills.items()} if "--ink" in props else {}
    for sel, decl in tp_rules:
        for m in re.finditer(r"(?<![\w-])color\s*:\s*([^;]+)", decl):
            hexa = resolve(m[1], props)
            if not hexa:
                continue
            where = {f"its own {own_bg[_subject(sel)]}": own_bg[_subject(sel)]} if _subject(sel) in own_bg else fills
            for f, fv in where.items():
                pairs[f"{sel.strip()} {{color: {m[1].strip()}}} on {f}"] = (hexa, fv)
    assert len(pairs) > len(fills), "no text colour found for touchpoints"
    low = {k: round(contrast(c, b), 2) for k, (c, b) in pairs.items() if contrast(c, b) < 4.5}
    assert not low, f"touchpoint text under 4.5:1 (WCAG 1.4.3): {low}"


# -- in the browser --------------------------------------------------------------------------------
def _report(args: list[str], out: Path) -> Path:
    r = CliRunner().invoke(main, [*args, "-o", str(out)])
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def small_report(tmp_path_factory) -> Path:
    """``journeymap report --from tests/fixtures/map_small.json``."""
    return _report(["report", "--from", str(FIXTURE)], tmp_path_factory.mktemp("a11y") / "small.html")


# demo_report (conftest, one per session): ``journeymap demo`` then ``journeymap report``, the default demo.


@pytest.fixture(scope="module")
def chromium():
    """One headless Debian Chromium for the module (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


def _open(chromium, path: Path, viewport: str):
    page = chromium.new_page(viewport=VIEWPORTS[viewport])
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return page


def _axe(page) -> list[dict]:
    """Run axe-core (injected from node_modules, never fetched) with the WCAG 2.x A/AA rules; the violations."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async (tags) => {
             const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
             return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
               targets: v.nodes.slice(0, 3).map(n => n.target.join(' ')),
               summary: v.nodes.length ? v.nodes[0].failureSummary : ''}));
           }""",
        WCAG_TAGS,
    )


def _describe(violations: list[dict]) -> str:
    return "\n".join(
        f"- {v['id']} ({v['impact']}, {v['count']} node(s)): {v['help']}; "
        f"targets: {v['targets']}; {v['summary'].splitlines()[-1].strip() if v['summary'] else ''}"
        for v in violations
    )


@pytest.mark.browser
@browser
@needs_axe
@pytest.mark.parametrize("state", ["closed", "details-open"])
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("which", ["small", pytest.param("demo", marks=pytest.mark.slow)])
def test_axe_finds_no_serious_or_critical_violation(request, chromium, which, viewport, state):
    path = request.getfixturevalue(f"{which}_report")
    page = _open(chromium, path, viewport)
    try:
        if state == "details-open":
            btn = page.locator("button.tp").first
            btn.scroll_into_view_if_needed()
            btn.click()
            page.locator("#details").wait_for(state="visible", timeout=5_000)
        violations = _axe(page)
    finally:
        page.close()
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe-core {which} report at {viewport}, details {state}:\n{_describe(bad)}"


@pytest.mark.browser
@browser
def test_chart_text_as_drawn_reaches_4_5_to_1(chromium, small_report):
    """Every text the charts draw (SVG, not checked by axe): its fill >= 4.5:1 against the chart's background."""
    page = _open(chromium, small_report, "desktop")
    try:
        drawn = page.evaluate(
            """() => [...document.querySelectorAll('[id^="chart-"] svg text')]
                 .filter(t => t.textContent.trim() && getComputedStyle(t).visibility !== 'hidden'
                              && getComputedStyle(t).display !== 'none'
                              && (t.getAttribute('fill-opacity') ?? '1') !== '0')
                 .map(t => {
                   const chart = t.closest('[id^="chart-"]');
                   let bg = getComputedStyle(chart).backgroundColor;
                   for (let e = chart; e && /rgba\\(0, 0, 0, 0\\)|transparent/.test(bg); e = e.parentElement) {
                     bg = getComputedStyle(e).backgroundColor;
                   }
                   return {chart: chart.id, text: t.textContent.trim().slice(0, 40),
                           fill: getComputedStyle(t).fill, bg: bg};
                 })"""
        )
    finally:
        page.close()
    assert len(drawn) >= 10, drawn  # the charts drew their axis labels
    low = []
    for d in drawn:
        if d["fill"] in ("none", "") or d["fill"].startswith("url("):
            continue
        bg = d["bg"] if d["bg"].startswith("rgb(") else "#ffffff"  # transparent all the way up: the white page
        ratio = contrast(d["fill"], bg)
        if ratio < 4.5:
            low.append(f"{d['chart']} {d['text']!r}: {d['fill']} on {bg} = {ratio:.2f}")
    assert not low, "chart text under 4.5:1 (WCAG 1.4.3):\n" + "\n".join(sorted(set(low)))


@pytest.mark.browser
@browser
def test_details_panel_is_a_dialog_that_takes_and_gives_back_focus(chromium, small_report):
    """A touchpoint opens #details (a named dialog) with the focus inside; Escape and the close button shut it
    and the focus goes back to the touchpoint."""
    page = _open(chromium, small_report, "desktop")
    try:
        details = page.locator("#details")
        assert not details.is_visible()
        btn = page.locator("button.tp").first
        btn.scroll_into_view_if_needed()
        btn.click()
        details.wait_for(state="visible", timeout=5_000)
        assert details.get_attribute("role") == "dialog", '#details needs role="dialog"'
        name = page.evaluate(
            """() => { const d = document.getElementById('details');
                 const ids = (d.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
                 const byRef = ids.map(i => document.getElementById(i)).filter(Boolean)
                                  .map(e => e.textContent.trim()).join(' ').trim();
                 return byRef || (d.getAttribute('aria-label') || '').trim(); }"""
        )
        assert name, "#details has no accessible name (aria-labelledby to a non-empty element, or aria-label)"
        focus_inside = "() => document.getElementById('details').contains(document.activeElement)"
        page.wait_for_function(focus_inside, timeout=2_000)

        def focus_back() -> bool:
            return btn.evaluate("b => b === document.activeElement")

        page.keyboard.press("Escape")
        details.wait_for(state="hidden", timeout=2_000)
        assert focus_back(), "Escape closed the panel but the focus did not go back to the touchpoint"

        page.keyboard.press("Enter")  # the touchpoint has the focus again: the keyboard opens it too
        details.wait_for(state="visible", timeout=2_000)
        page.wait_for_function(focus_inside, timeout=2_000)
        details.get_by_role("button", name=re.compile("close", re.I)).first.click()
        details.wait_for(state="hidden", timeout=2_000)
        assert focus_back(), "the close button closed the panel but the focus did not go back to the touchpoint"
    finally:
        page.close()
