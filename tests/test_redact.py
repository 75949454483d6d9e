"""Redaction of personal data in feedback quotes: what must go and what must stay."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeymap.errors import InputError
from journeymap.voice.redact import luhn_valid, redact, redact_all

REDACTED = [
    # e-mails
    ("mail me at jo.doe@example.com please", "mail me at [email] please"),
    ("JO_DOE+air@Example.CO.UK.", "[email]."),
    ("a@b.io, c.d@e-f.org", "[email], [email]"),
    # phones
    ("call (555) 123-4567 now", "call [phone] now"),
    ("call 555-123-4567", "call [phone]"),
    ("call 555.123.4567", "call [phone]"),
    ("1-800-555-0199 is the line", "[phone] is the line"),
    ("ring +44 20 7946 0958 today", "ring [phone] today"),
    ("+1 415 555 2671", "[phone]"),
    ("+33 6 12 34 56 78", "[phone]"),
    ("my mobile 07700 900123", "my mobile [phone]"),
    ("uk office 020 7946 0958", "uk office [phone]"),
    ("call 5551234567 asap", "call [phone] asap"),
    ("phone: 4155552671", "phone: [phone]"),
    ("415 555 2671 is mine", "[phone] is mine"),
    # cards (Luhn-valid test numbers of several networks)
    ("card 4111 1111 1111 1111 charged", "card [card] charged"),
    ("4111-1111-1111-1111", "[card]"),
    ("5555555555554444 mastercard", "[card] mastercard"),
    ("amex 378282246310005", "amex [card]"),
    ("discover 6011111111111117.", "discover [card]."),
    ("2221 0000 0000 0009", "[card]"),
    # handles
    ("thanks @jane_doe!", "thanks [handle]!"),
    ("@united where is my bag", "[handle] where is my bag"),
    ("cc @A1 @b2", "cc [handle] [handle]"),
    # urls with tokens or query strings
    ("reset at https://x.io/reset?token=abc123", "reset at [url]"),
    ("see https://shop.example.com/o/8f3a9c2e1b7d4e6f9a0b1c2d3e4f5a6b", "see [url]"),
    ("http://t.co/x?utm_source=tw&id=99.", "[url]."),
    ("www.example.com/track#id=7", "[url]"),
    ("https://example.com/unsubscribe/aB3dE5gH7jK9mN1pQ", "[url]"),
    # several kinds at once
    (
        "@bob: my email is bob@mail.com and phone (212) 555-0100, card 4012888888881881",
        "[handle]: my email is [email] and phone [phone], card [card]",
    ),
]

KEPT = [
    "The total was $1,234.56 and shipping $12.99",
    "Order #123456789 total 89.99 EUR",
    "order 1000234 arrived on 2024-02-15",
    "flight UA 1205 LAX-EWR at 5:40pm",
    "Flight 1848 delayed from 10:30 to 14:45",
    "AA2345 on 02/15/2024, seat 12A",
    "born 11/13/2012, travelling 15.02.2024",
    "I waited 3 hours and 45 minutes",
    "ticket 2792125083854 was refunded",  # not a card network prefix
    "4111 1111 1111 1112 is not valid (Luhn)",
    "reference #: 261093929756",
    "35K miles, 50k bonus, 1,000,000 points",
    "price went from 402 to 440 to 530",
    "our conf code is QQBMUG",
    "visit https://example.com/help for help",
    "http://t.co/HQDTK6aTue",
    "call me back later today",
    "temps 20-25 C, 2024-2025 season, pages 100-120",
    "between 1 and 2, 2 x 3 = 6",
    "room 555 at 123 Main St",
    "ISBN 978-3-16-148410-0",
    "year 2015, version 3.10.4, IP-free text",
    "no one @ the gate",
    "mail@ is broken",
]


@pytest.mark.parametrize(("text", "expected"), REDACTED)
def test_redacts_personal_data(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_keeps_prices_dates_times_flights_and_orders(text):
    assert redact(text) == text


def test_luhn_against_known_numbers():
    # published test card numbers pass; changing the check digit fails
    for number in ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"]:
        assert luhn_valid(number)
        bad = number[:-1] + str((int(number[-1]) + 1) % 10)
        assert not luhn_valid(bad)
    assert not luhn_valid("12ab")


def test_luhn_matches_the_mod10_formula():
    # sum of digits with every second digit from the right doubled (digit sum), mod 10
    def mod10(s: str) -> bool:
        digits = [int(c) for c in s][::-1]
        total = sum(d if i % 2 == 0 else sum(divmod(2 * d, 10)) for i, d in enumerate(digits))
        return total % 10 == 0

    for n in range(100000, 100400):
        assert luhn_valid(str(n)) == mod10(str(n))


def test_kinds_and_keep_handles():
    text = "@united mail a@b.com"
    assert redact(text, kinds=["emails"]) == "@united mail [email]"
    assert redact(text, keep_handles=["@United"]) == "@united mail [email]"
    with pytest.raises(InputError, match="'names'"):
        redact(text, kinds=["names"])


def test_none_and_many():
    assert redact(None) is None
    assert redact_all(["x@y.com", None, "fine"]) == ["[email]", None, "fine"]


@given(st.text(alphabet="abc 0123456789$.,:-/", max_size=40))
def test_redaction_is_idempotent(text):
    once = redact(text)
    assert redact(once) == once
