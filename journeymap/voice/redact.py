"""Remove personal data from feedback text before it is shown or exported.

:func:`redact` replaces, in this order:

- URLs that carry a query string, a fragment or a token-like path segment -> ``[url]``
  (plain links such as ``https://example.com/help`` stay);
- e-mail addresses -> ``[email]``;
- payment card numbers (13-19 digits, optionally grouped by spaces or dashes, with a card
  network's leading digits and a valid Luhn check digit) -> ``[card]``;
- phone numbers (international ``+`` numbers, North American ``(555) 123-4567`` /
  ``555-123-4567`` / ``1-800-555-0199``, European groupings such as ``020 7946 0958``, and bare
  10-11 digit runs right after a word like "call" or "phone") -> ``[phone]``;
- ``@handles`` -> ``[handle]``.

It leaves prices, dates, times, flight numbers, order numbers and totals alone. Quotes are
redacted by default wherever journeymap shows or exports them.

Examples
--------
>>> redact("Call me on (555) 123-4567 or mail jo.doe+air@example.co.uk, @jodoe")
'Call me on [phone] or mail [email], [handle]'
>>> redact("Flight UA 1205 on 2024-02-15 at 10:30 cost $1,234.56 (order #88412)")
'Flight UA 1205 on 2024-02-15 at 10:30 cost $1,234.56 (order #88412)'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

KINDS = ("urls", "emails", "cards", "phones", "handles")

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
_TOKENISH = re.compile(r"(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_\-]{16,}|[0-9a-fA-F]{20,}")
_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
)
_CARD = re.compile(r"(?<![\d.,$€£/:-])(?:\d[ -]?){12,18}\d(?![\d.,/:]\d|\d)")
_PHONES = [
    # international: +CC then groups
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\d])"),
    # North American with separators or parentheses, optional leading 1
    re.compile(r"(?<![\w$.])(?:1[ .-])?\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}(?![\d])"),
    re.compile(r"(?<![\w$.:/-])(?:1[ .-])?\d{3}[.-]\d{3}[.-]\d{4}(?![\d.,/:-]?\d)"),
    re.compile(r"(?<![\w$.:/-])(?:1 )?\d{3} \d{3} \d{4}(?![\d])"),
    # European style national numbers: 0 + area code, groups by spaces
    re.compile(r"(?<![\w$.:/-])0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}(?![\d.,/:-]?\d)"),
    # bare digit runs right after a phone word (the word itself is kept)
    re.compile(
        r"(?i)\b(?P<ctx>(?:call|phone|tel|mobile|cell|text|number)(?:[:#.]?\s*|\s+(?:me\s+)?(?:at|on)\s+))"
        r"(?:\+?1)?\d{10,11}(?!\d)"
    ),
]
_HANDLE = re.compile(r"(?<![\w.@/])@[A-Za-z0-9_]{1,30}\b")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check used by payment cards.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_network(digits: str) -> bool:
    """Leading digits of Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro."""
    n = len(digits)
    if digits[0] == "4":
        return n in (13, 16, 19)
    if digits[:2] in ("34", "37"):
        return n == 15
    two, four = int(digits[:2]), int(digits[:4])
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16
    if digits.startswith(("6011", "65", "62")) or 644 <= int(digits[:3]) <= 649:
        return 16 <= n <= 19
    if 3528 <= four <= 3589:
        return 16 <= n <= 19
    if digits[:2] in ("36", "38", "39") or 300 <= int(digits[:3]) <= 305:
        return 14 <= n <= 19
    if digits.startswith(("50", "56", "57", "58", "67", "63")):
        return 12 <= n <= 19
    return False


def _card(m: re.Match) -> str:
    raw = m.group(0)
    digits = re.sub(r"[ -]", "", raw)
    seps = set(re.findall(r"[ -]", raw))
    if len(seps) > 1 or not 13 <= len(digits) <= 19:
        return raw
    if _card_network(digits) and luhn_valid(digits):
        return "[card]"
    return raw


def _url(m: re.Match) -> str:
    url = m.group(0)
    trail = ""
    while url and url[-1] in ".,;:!?":
        trail, url = url[-1] + trail, url[:-1]
    rest = url.split("://", 1)[-1]
    path = rest.split("/", 1)[1] if "/" in rest else ""
    if "?" in url or "#" in url or "=" in path or _TOKENISH.search(path):
        return "[url]" + trail
    return url + trail


def redact(
    text: str | None, *, kinds: Iterable[str] = KINDS, keep_handles: Sequence[str] = ()
) -> str | None:
    """``text`` with personal data replaced by ``[url]``, ``[email]``, ``[card]``, ``[phone]``, ``[handle]``.

    Parameters
    ----------
    text : str or None
        None stays None.
    kinds : iterable of str
        Which kinds to remove (default: all of :data:`KINDS`).
    keep_handles : sequence of str
        ``@handles`` to keep, e.g. a company's own account (``["@united"]``); case-insensitive.

    Examples
    --------
    >>> redact("@united my card 4111 1111 1111 1111 was charged twice", keep_handles=["@united"])
    '@united my card [card] was charged twice'
    >>> redact("reset link https://x.io/reset?token=9f8e7d6c5b4a", kinds=["urls"])
    'reset link [url]'
    """
    if text is None:
        return None
    if not isinstance(text, str):
        text = str(text)
    kinds = set(kinds)
    unknown = kinds - set(KINDS)
    if unknown:
        from journeymap.errors import InputError

        raise InputError(
            f"Redaction kind {sorted(unknown)[0]!r} is unknown (argument kinds); use some of {', '.join(KINDS)}."
        )
    if "urls" in kinds:
        text = _URL.sub(_url, text)
    if "emails" in kinds:
        text = _EMAIL.sub("[email]", text)
    if "cards" in kinds:
        text = _CARD.sub(_card, text)
    if "phones" in kinds:
        for regex in _PHONES:
            text = regex.sub(lambda m: (m.groupdict().get("ctx") or "") + "[phone]", text)
    if "handles" in kinds:
        keep = {h.lower().lstrip("@") for h in keep_handles}
        text = _HANDLE.sub(
            lambda m: m.group(0) if m.group(0)[1:].lower() in keep else "[handle]", text
        )
    return text


def redact_all(texts: Iterable[str | None], **options) -> list[str | None]:
    """:func:`redact` for many texts.

    >>> redact_all(["mail a@b.com", None])
    ['mail [email]', None]
    """
    return [redact(t, **options) for t in texts]
