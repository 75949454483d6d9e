"""Hostile text in every output: names, quotes and labels come from the user's files and blueprint.

Core (standard library only): the results' CSV, the report's renderers and the terminal all use it.

Three helpers, one per output:

* :func:`display_text` drops invisible characters that change how text *looks* (bidi overrides and
  isolates, zero-width spaces and joiners, soft hyphens, control characters), so a touchpoint
  called ``"Checkout\\u202egnp.exe"`` cannot show as something else. Visible text (accents, CJK,
  emoji, including emoji joined with U+200D and flag tag sequences) is kept as it is.
* :func:`md_text` escapes a string for Markdown so that it renders as the same literal text:
  no HTML, links, images, emphasis, code, table cells, headings, lists or autolinks from it.
* :func:`csv_cell` neutralises spreadsheet formula injection (OWASP "CSV injection").

Examples
--------
>>> display_text("Check\\u202eout\\u200b")
'Checkout'
>>> display_text("Café 東京 👩\\u200d💻")
'Café 東京 👩\\u200d💻'
>>> md_text("[click](javascript:alert(1)) <b>")
'\\\\[click\\\\](javascript:alert(1)) &lt;b&gt;'
>>> csv_cell('=HYPERLINK("http://x")'), csv_cell(-0.5), csv_cell("-1")
('\\'=HYPERLINK("http://x")', -0.5, "'-1")
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# Invisible characters that change what text looks like (bidi controls, zero-width characters,
# soft hyphen, word joiner and invisible operators, interlinear annotation, tag characters, C0/C1
# controls other than tab and newline) and the line / paragraph separators. The visible format
# characters (Arabic number signs, Egyptian hieroglyph and musical format controls) are not here.
_HIDDEN = re.compile(
    "(?P<flag>\U0001f3f4[\U000e0020-\U000e007e]{1,32}\U000e007f)"  # subdivision flag: keep
    "|(?P<hidden>[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0001\U000e0020-\U000e007f])"
)
_ZWNJ, _ZWJ = "\u200c", "\u200d"


def _keep_joiner(text: str, i: int) -> bool:
    """Whether the joiner at ``text[i]`` is part of visible text: an emoji ZWJ sequence (👩‍💻) or a
    zero-width non-joiner between letters of a joining script (Persian, Indic)."""
    if i == 0 or i + 1 >= len(text):
        return False
    before, after = text[i - 1], text[i + 1]
    if text[i] == _ZWJ:
        return (unicodedata.category(before) in ("So", "Sk") or before == "\ufe0f") and unicodedata.category(
            after
        ) == "So"
    return (
        ord(before) > 0x2FF
        and ord(after) > 0x2FF
        and unicodedata.category(before)[0] in "LM"
        and unicodedata.category(after)[0] in "LM"
    )


def _hidden(m: re.Match[str]) -> str:
    if m.group("flag"):
        return m.group("flag")
    ch = m.group("hidden")
    if ch in "\u2028\u2029":
        return " "
    if ch in (_ZWJ, _ZWNJ) and _keep_joiner(m.string, m.start()):
        return ch
    return ""


def display_text(s: str) -> str:
    """``s`` without the invisible characters that change how it looks (see the module docstring).

    Parameters
    ----------
    s
        Any text; a value that is not a ``str`` is returned unchanged.

    Returns
    -------
    str
        The text with bidi overrides / isolates / marks (U+202A-U+202E, U+2066-U+2069, U+200E,
        U+200F, U+061C), zero-width characters (U+200B-U+200D, U+2060, U+FEFF), the soft hyphen,
        other invisible format characters, tag characters and control characters (tab, CR and
        newline excepted) removed; line and paragraph separators become spaces. U+200D stays
        inside an emoji sequence and U+200C between letters of a joining script.
    """
    if not isinstance(s, str) or not _HIDDEN.search(s):
        return s
    return _HIDDEN.sub(_hidden, s)


# No link or image can start without an unescaped "[" or "<", so "(", ")" and "!" need no escape.
_MD_CHARS = re.compile(r"([\\`*_\[\]|~])")
_MD_SCHEME = re.compile(r"(?<=[A-Za-z]):(?=//)")  # "http://x" is autolinked by GFM; "javascript:" never is
_MD_DOMAIN_DOT = re.compile(r"(?<=\w)\.(?=[A-Za-z])")  # "www.x.com", "a@b.com": no fuzzy link
_MD_LEAD = re.compile(r"^([#+\-=])")
_MD_LIST = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")


def md_text(s: Any) -> str:
    """``s`` as Markdown source that renders as the same literal text.

    ``&``, ``<`` and ``>`` become entities (no HTML, no ``<autolink>``, no quote); the characters
    of link, image, emphasis, code, strikethrough and table syntax (``[ ] * _ ` ~ | \\``) are
    backslash-escaped everywhere (``( ) !`` need not be: no link or image opens without ``[``), a leading heading / list mark (``# + - =``, ``1.``) too,
    and the ``:`` of ``scheme://`` and a dot between a word and a letter (so neither ``http://x``,
    ``www.x.com``, ``x.com`` nor ``a@b.com`` becomes an autolink; ``javascript:`` is inert without ``[`` or ``<``); newlines fold to spaces and invisible characters
    go as in :func:`display_text`. The escapes do not show once rendered.

    Parameters
    ----------
    s
        The user's text (a name, a quote, a label...); None gives ``""``, other values their ``str``.

    Returns
    -------
    str
        Markdown source, on one line.
    """
    if s is None:
        return ""
    text = display_text(str(s))
    text = " ".join(text.replace("\r", "\n").replace("\t", " ").split("\n")).strip()
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_CHARS.sub(r"\\\1", text)
    text = _MD_SCHEME.sub(r"\\:", text)
    text = _MD_DOMAIN_DOT.sub(r"\\.", text)
    text = _MD_LEAD.sub(r"\\\1", text)
    return _MD_LIST.sub(r"\1\\\2", text)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(v: Any) -> Any:
    """A CSV cell that a spreadsheet will not run as a formula.

    A ``str`` starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'``
    (OWASP's advice), so ``=HYPERLINK(...)`` shows as text. Only strings are touched: numbers stay
    numbers (``-0.5`` is written as ``-0.5``), but a string such as ``"-1"`` (a name from the
    user's files) *is* prefixed. None gives ``""``.

    Parameters
    ----------
    v
        One cell's value.

    Returns
    -------
    Any
        The value to hand to :func:`csv.writer`.
    """
    if v is None:
        return ""
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


__all__ = ["csv_cell", "display_text", "md_text"]
