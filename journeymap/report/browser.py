"""PNG and PDF of the report through headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright).

No browser is ever downloaded: Playwright launches the system Chromium with ``executable_path``.
When either is missing, :class:`~journeymap.errors.MissingDependencyError` says what to install.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from journeymap.errors import MissingDependencyError

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
"""Flags Chromium runs with: headless, no GPU, nothing fetched in the background."""

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str | None:
    """The Chromium executable: ``$JOURNEYMAP_CHROMIUM``, else Debian's ``/usr/bin/chromium``, else on PATH."""
    env = os.environ.get("JOURNEYMAP_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for c in CHROMIUM_CANDIDATES:
        if Path(c).is_file():
            return c
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing() -> str | None:
    """One sentence naming what to install for PNG/PDF, or None when everything is there."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (
            "PNG/PDF export needs Playwright for Python: install it with "
            "pip install 'journeymap[report]' (and Chromium: apt-get install chromium)."
        )
    if chromium_path() is None:
        return (
            "PNG/PDF export needs Chromium at /usr/bin/chromium: install it with apt-get install chromium "
            "(or set JOURNEYMAP_CHROMIUM to a Chromium executable)."
        )
    return None


def _require() -> str:
    why = missing()
    if why:
        raise MissingDependencyError(why)
    return chromium_path()  # type: ignore[return-value]


def export_image(html_path: str | Path, output: str | Path, fmt: str = "png", width: int = 1600) -> Path:
    """Render a saved HTML report to PNG (the whole page) or PDF (print stylesheet, A4 landscape).

    Parameters
    ----------
    html_path
        The HTML report written by :func:`journeymap.report.render_html`.
    output
        The PNG or PDF file to write.
    fmt
        ``png`` or ``pdf``.
    width
        Viewport width in CSS pixels.
    """
    if fmt not in ("png", "pdf"):
        raise ValueError(f"fmt must be 'png' or 'pdf', not {fmt!r}")
    executable = _require()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    try:  # Playwright's sync API refuses to run inside an event loop (Jupyter, another Playwright)
        asyncio.get_running_loop()
    except RuntimeError:
        return _export(executable, Path(html_path), output, fmt, width)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_export, executable, Path(html_path), output, fmt, width).result()


def _export(executable: str, html_path: Path, output: Path, fmt: str, width: int) -> Path:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": 1000})
            page.goto(html_path.resolve().as_uri(), wait_until="load")
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            if fmt == "png":
                page.screenshot(path=str(output), full_page=True)
            else:
                page.emulate_media(media="print")
                page.pdf(path=str(output), format="A4", landscape=True, print_background=True)
        finally:
            browser.close()
    return output
