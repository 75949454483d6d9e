"""The hostile-text helpers, re-exported: they live in core (:mod:`journeymap.safety`).

``journeymap.results`` writes CSV with :func:`csv_cell` and core may not import the report, so the
helpers moved down a layer; this name stays for existing imports.
"""

from __future__ import annotations

from journeymap.safety import csv_cell, display_text, md_text

__all__ = ["csv_cell", "display_text", "md_text"]
