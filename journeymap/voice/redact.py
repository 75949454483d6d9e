"""Remove personal data from feedback text before it is shown or exported.

:func:`redact` replaces, in this order:

- URLs that carry a query string, a fragment or a token-like path segment -> ``[url]``
  (plain links such as ``https://example.com/help`` stay);
- e-mail addresses -> ``[email]``;
- IBANs, spaced or not (a known country, its length and the mod-97 check), with an "IBAN" label
  before them -> ``[iban]``;
- payment card numbers (13-19 digits, optionally grouped by spaces or dashes, with a card
  network's leading digits and a valid Luhn check digit) -> ``[card]``;
- card expiry after "exp", "expiry", "valid thru" (``expires`` too when the text mentions a card)
  -> ``[expiry]``; a code after "CVV", "CVC", "security code" -> ``[cvv]``;
- US social security numbers (``219-09-9999`` with a valid area, group and serial; any grouping
  after "SSN") -> ``[ssn]``;
- dates after "DOB", "date of birth", "birthdate", "born (on)" -> ``[dob]``;
- street addresses: number + capitalised name + street suffix (``10 Downing Street``,
  ``221B Baker St``), lower case only with street/road/avenue/boulevard after "at", "to", "address
  is" or a comma, street type first (``Rua Augusta 123``, ``Calle Mayor 5``) and one-word streets
  (``Hauptstraße 5``) -> ``[address]``;
- postcodes: UK (``SW1A 2AA``), US ZIPs after a state, any code after "zip"/"postcode"/"CEP"/"PLZ"
  or an address, Dutch ``1012 AB`` before a town, CEP ``01310-100``, ``75008 Paris`` -> ``[postcode]``;
- phone numbers (international ``+`` numbers, North American ``(555) 123-4567`` /
  ``555-123-4567`` / ``1-800-555-0199``, European groupings such as ``020 7946 0958``, and bare
  10-11 digit runs right after a word like "call" or "phone") -> ``[phone]``;
- ``@handles``, dotted ones (``@mike.t``) whole -> ``[handle]``;
- person names after "my name is", a title (Mr, Mrs, Ms, Dr...), a role ("agent", "named"), in a
  greeting or a sign-off (with a listed first name), and a listed first name followed by a
  capitalised surname (``Jane Doe``) -> ``[name]``.

Context words ("DOB", "zip", "Mr", "agent") stay, so the sentence still reads. It leaves prices,
other dates, times, flight numbers, order numbers and totals alone. Quotes, theme labels and key
phrases are redacted by default wherever journeymap shows or exports them. Each kind runs only
when a cheap test passes (a digit for the numeric kinds, an ``@``, a keyword), so texts without
personal data cost a few scans.

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

KINDS = (
    "urls",
    "emails",
    "ibans",
    "cards",
    "card_security",
    "ssns",
    "dobs",
    "addresses",
    "postcodes",
    "phones",
    "handles",
    "names",
)

_DIGIT = re.compile(r"\d")
_DIGITS3 = re.compile(r"\d\d\d")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
_TOKENISH = re.compile(r"(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_\-]{16,}|[0-9a-fA-F]{20,}")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
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
_HANDLE = re.compile(r"(?<![\w.@/])@[A-Za-z0-9_]{1,30}(?:\.[A-Za-z0-9_]+)*\b")

# -- IBANs: country code, two check digits, the account (groups of 4 may be spaced); mod-97 checked
IBAN_LENGTHS = {
    "AD": 24,
    "AE": 23,
    "AL": 28,
    "AT": 20,
    "AZ": 28,
    "BA": 20,
    "BE": 16,
    "BG": 22,
    "BH": 22,
    "BR": 29,
    "BY": 28,
    "CH": 21,
    "CR": 22,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "DO": 28,
    "EE": 20,
    "EG": 29,
    "ES": 24,
    "FI": 18,
    "FO": 18,
    "FR": 27,
    "GB": 22,
    "GE": 22,
    "GI": 23,
    "GL": 18,
    "GR": 27,
    "GT": 28,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IL": 23,
    "IQ": 23,
    "IS": 26,
    "IT": 27,
    "JO": 30,
    "KW": 30,
    "KZ": 20,
    "LB": 28,
    "LC": 32,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MD": 24,
    "ME": 22,
    "MK": 19,
    "MR": 27,
    "MT": 31,
    "MU": 30,
    "NL": 18,
    "NO": 15,
    "PK": 24,
    "PL": 28,
    "PS": 29,
    "PT": 25,
    "QA": 29,
    "RO": 24,
    "RS": 22,
    "SA": 24,
    "SC": 31,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "ST": 25,
    "SV": 28,
    "TL": 23,
    "TN": 24,
    "TR": 26,
    "UA": 29,
    "VA": 22,
    "VG": 24,
    "XK": 20,
}
_IBAN = re.compile(
    r"(?<![\w-])(?:(?i:iban)\s*(?:no\.?|number)?[:#]?\s*)?(?P<iban>[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]{1,4}){3,8})(?![\w-])"
)

# -- US social security numbers (area 001-899 but not 666, group 01-99, serial 0001-9999)
_SSN = re.compile(r"(?<![\w$.:/-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w/-]|\.\d)")
_SSN_CTX = re.compile(
    r"(?i)\b(?P<ctx>(?:ssn|social security(?:\s+(?:number|no\.?|#))?)(?:\s+is)?[:#]?\s*)"
    r"\d{3}[ -]?\d{2}[ -]?\d{4}(?!\d)"
)

# -- dates of birth: a date right after "DOB", "date of birth", "born (on)", "birthday (is)"
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = (
    rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})|\d{{4}}-\d{{1,2}}-\d{{1,2}}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTHS},?\s+\d{{4}}|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
)
_DOB = re.compile(
    rf"(?i)\b(?P<ctx>(?:d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|birthday|born)(?:\s+(?:is|was|on|in))?[:#]?\s*)"
    rf"{_DATE}(?![\d/.-]\d)"
)

# -- card expiry and security codes
_EXPIRY = re.compile(
    r"(?i)\b(?P<ctx>(?:exp(?:iry|iration|\.)?|valid\s+(?:thru|through))(?:\s+date)?(?:\s+(?:is|on))?[:#]?\s*)"
    r"(?:0?[1-9]|1[0-2])\s?[/-]\s?(?:\d{2}|20\d{2})(?![\d/])"
)
_EXPIRY_CARD = re.compile(  # with a card in the text, "expires 10/25" is its expiry too (not a voucher's)
    r"(?i)\b(?P<ctx>(?:exp(?:iry|iration|ires|iring|\.)?|valid\s+(?:thru|through|until))(?:\s+date)?(?:\s+(?:is|on))?[:#]?\s*)"
    r"(?:0?[1-9]|1[0-2])\s?[/-]\s?(?:\d{2}|20\d{2})(?![\d/])"
)
_CVV = re.compile(
    r"(?i)\b(?P<ctx>(?:cvv2?|cvc2?|csc|cvn|security\s+code)(?:\s+(?:is|was|number))?[:#]?\s*)\d{3,4}(?!\d)"
)

# -- street addresses
_SUFFIX = (
    r"(?:Street|St|Road|Rd|Avenue|Ave|Av|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Place|Pl|Court|Ct|"
    r"Close|Terrace|Crescent|Square|Sq|Highway|Hwy|Parkway|Pkwy|Circle|Cir|Gardens|Grove|Row|Mews|"
    r"Hill|Walk|Trail|Park)"
)
_LOWER_SUFFIX = r"(?:street|st|road|rd|avenue|ave|boulevard|blvd)"
_NOT_STREET = (
    r"(?!(?:minutes?|mins?|miles?|mi|km|hours?|hrs?|blocks?|lanes?|ways?|days?|nights?|stars?|"
    r"steps?|feet|foot|meters?|metres?|yards?|floors?|times?|bus|car|main|the|a|an|and|of|to|on|"
    r"in|at|by|for|from|with|or)\b)"
)
_ADDRESS_EN = re.compile(
    # number + street name + suffix: "10 Downing Street", "221B Baker St.", "1600 Pennsylvania Ave NW"
    rf"\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][\w'’.-]*\s+){{1,3}}{_SUFFIX}\b\.?(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?"
)
_ADDRESS_LOWER = re.compile(
    # all lower case, only with an unmistakable suffix: "ship to 10 downing street" (see _address)
    rf"\d{{1,5}}[a-z]?\s+(?:{_NOT_STREET}[a-z][a-z'’-]+\s+){{1,2}}{_LOWER_SUFFIX}\b\.?",
    re.IGNORECASE,
)
_LOWER_CONTEXT = re.compile(
    r"(?i)(?:\b(?:at|to|on|is|in|from|address|live|lives|send|sent|ship|deliver|delivered)\s+|[,:]\s*|^\s*)$"
)
_ADDRESSES = [
    # street type first, number after: "Rua Augusta 123", "Calle Mayor 5", "Rue de Rivoli 12"
    re.compile(
        r"\b(?:[Rr]ua|[Aa]venida|Av\.|[Cc]alle|Carrer|Paseo|Via|Viale|Piazza|Corso|Rue|[Tt]ravessa|Largo|"
        r"Alameda|[Ee]strada|Pra[çc]a|Plaza)\s+(?:(?:d[aeo]s?|del|de|la|le|di|della|des|du|dos)\s+)?"
        r"(?:[A-ZÀ-Ý][\w'’.-]*\s+(?:(?:d[aeo]s?|del|de|la|di|du)\s+)?){0,3}[A-ZÀ-Ý][\w'’.-]*,?\s+"
        r"(?:n[º°o.]\s*)?\d{1,5}[A-Za-z]?\b"
    ),
    # one-word streets: "Hauptstraße 5", "Bahnhofstr. 12", "Kerkstraat 10"
    re.compile(
        r"\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|gasse|weg|allee|platz|straat|laan|gracht|plein|"
        r"kade|vej|gade|gatan|vägen|veien)\s+\d{1,5}[a-z]?\b"
    ),
]


def _address(m: re.Match, *, lower: bool) -> str:
    text, start = m.string, m.start()
    if start and (text[start - 1].isalnum() or text[start - 1] in "_$£€.,/:-"):
        return m.group(0)
    if lower and not _LOWER_CONTEXT.search(text, max(0, start - 20), start):
        return m.group(0)
    return "[address]"


# -- postcodes
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|"
    "NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|Alabama|Alaska|Arizona|Arkansas|"
    "California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|Illinois|Indiana|Iowa|"
    "Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|Mississippi|Missouri|"
    "Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|North Carolina|"
    "North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|"
    "Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming"
)
_UK_POSTCODE = r"(?:[A-Z]{1,2}\d[A-Z\d]?|GIR) \d[ABD-HJLNP-UW-Z]{2}"
_NL_LETTERS = re.compile(r"(?!AM|PM|SA|SD|SS)[A-Z]{2}")
# UK postcodes as written on letters ("SW1A 2AA", "M1 1AE"): capitals and the space
_UK = re.compile(rf"\b{_UK_POSTCODE}(?![\w-])")
# every other form is a run of digits whose surroundings say it is a postcode (see _postcode)
_POSTCODE = re.compile(r"\b(?:\d{5}-\d{3,4}|\d{4,5}(?: ?[A-Z]{2}(?![\w-]))?)(?![\w-])")
_BEFORE_STATE = re.compile(rf"\b(?:{_US_STATES}),?\s+$")
_BEFORE_WORD = re.compile(r"(?i)\b(?:zip(?:\s*code)?|post(?:al)?\s*code|cep|plz|code\s+postal)(?:\s+is)?[:#]?\s*$")
_BEFORE_ADDRESS = re.compile(r"\[address\],?\s+(?:[A-Z][\w'’-]+,?\s+){0,2}$")
_AFTER_CITY = re.compile(
    r"\s+(?:Paris|Lyon|Marseille|Nice|Toulouse|Bordeaux|Lille|Nantes|Strasbourg|Berlin|Hamburg|München|"
    r"Munich|Köln|Cologne|Frankfurt|Stuttgart|Düsseldorf|Leipzig|Dresden|Madrid|Barcelona|Valencia|Sevilla|"
    r"Seville|Málaga|Bilbao|Roma|Rome|Milano|Milan|Napoli|Torino|Firenze|Florence|Bologna|Venezia|Helsinki|"
    r"Stockholm|Warszawa|Kraków|Wien|Vienna|Cedex|[A-Z][a-zà-ÿ]+(?:-[A-Z][a-zà-ÿ]+)+)\b"
)


def _postcode(m: re.Match) -> str:
    """A digit run that is a postcode by its surroundings: after a state, a postcode word or an
    address; a Brazilian CEP (``01310-100``); a Dutch ``1012 AB`` or a 5-digit code before a city."""
    code, text, start = m.group(0), m.string, m.start()
    before = text[max(0, start - 40) : start]
    if _BEFORE_WORD.search(before):
        return "[postcode]"
    if start and text[start - 1] in "$£€.,/:#-" and not _BEFORE_ADDRESS.search(before):
        return code
    if re.fullmatch(r"\d{4} ?[A-Z]{2}", code):
        form = "nl" if _NL_LETTERS.fullmatch(code[-2:]) else None
    elif re.fullmatch(r"\d{5}(?:-\d{4})?", code):
        form = "us"
    elif re.fullmatch(r"\d{5}-\d{3}", code):
        form = "cep"
    elif code.isdigit():
        form = "digits"
    else:
        form = None
    if form is None:
        return code
    if _BEFORE_WORD.search(before) or _BEFORE_ADDRESS.search(before) or form == "cep":
        return "[postcode]"
    after = text[m.end() : m.end() + 40]
    if form == "us" and (
        _BEFORE_STATE.search(before) or ("-" not in code and code[0] != "9" and _AFTER_CITY.match(after))
    ):
        return "[postcode]"
    if form == "nl" and re.match(r"\s+[A-Z][a-z]", after):
        return "[postcode]"
    return code


# -- person names: after "my name is", a title (Mr, Mrs, Dr...), a role ("agent Jessica"), in a
# sign-off ("Thanks, John"), or a listed first name followed by a surname ("Jane Doe")
FIRST_NAMES = frozenset(
    """
aaron abigail adam adrian aisha alan albert alberto alejandro alex alexander alexandra alexis alfred ali alice
alicia alison allison amanda amelia amy ana andre andrea andreas andrew andy angela angelica anita ann anna anne
annie anthony antonio arjun arthur ashley barbara beatriz becky ben benjamin bernard beth betty beverly bianca
bob bobby bonnie brad bradley brandon brenda brian bridget brittany bruce bruno bryan caleb cameron camila carla
carlos carmen caroline carolyn casey catherine cathy charles charlie cheryl chloe chris christina christine
christopher cindy claire clara claudia colin connor craig cristina cynthia daisy dan daniel daniela danielle
danny darren dave david debbie deborah debra denise dennis derek diana diane diego dimitri dominic donald donna
doris dorothy doug douglas dylan ed eddie edward elaine eleanor elena eli elijah elizabeth ella ellen emily emma
enrique eric erica erik erin ethan eva evelyn fatima felipe fernanda fernando fiona francesca francesco
francisco gabriel gabriela gabriella gary gavin george gerald gina giovanni giulia giuseppe gloria gordon
greg gregory hannah harold harry heather heidi helen henry hugo ian isaac isabel isabella isabelle jacob jake
james jamie jane janet janice jared jason javier jeff jeffrey jennifer jenny jeremy jerry jessica jesus jill
jim jimmy joan joanna joao joe joel johan johann john johnny jon jonathan jorge jose joseph josh joshua juan
judith judy julia julian julie justin karen karl kate katherine kathleen kathryn kathy katie keith kelly ken
kenneth kevin kim kimberly kyle larry laura lauren leah leonardo leslie liam linda lindsay lisa logan lorenzo
louis louise lucas lucia lucy luis luke madeline manuel marc marcel marco marcos margaret maria marie marilyn
mario marta martha martin mary matheus matt matthew megan melanie melissa michael michelle miguel mike mohamed
mohammed muhammad monica nancy natalia natalie nathan neil nicholas nick nicola nicole noah norma oliver olivia
omar oscar owen pablo pamela patricia patrick paul paula pedro peter philip phillip pierre priya rachel rafael
rahul ralph randy raul rebecca richard rick ricky rita robert roberto robin rodrigo roger ronald ruth ryan sally
sam samantha samuel sandra sara sarah scott sean sebastian sergio sharon shawn sophia sophie stephanie stephen
steve steven stuart susan suzanne tammy tanya teresa theresa thomas tiffany tim timothy tina todd tom tommy
tony tracy travis valentina vanessa vicky vincent walter wayne wendy william yasmin zachary zoe
""".split()
)
_NAME = r"(?:(?:Mc|Mac|O['’]|D['’])?[A-Z][a-zà-ÿ]+(?:-[A-Z][a-zà-ÿ]+)?)"
_NOT_SURNAME = frozenset(
    """
airline airlines airport air airways hotel hotels street road avenue beach park station center centre
international express customer customers service support team staff desk help i the and a an at in on of
hills hill city springs heights valley falls island islands bay county village town harbor harbour lake river
creek beach mountain mountains square bridge gardens garden castle palace hall house
for to from with my is was are has have had will can could would should did does do not no but or so very
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december
""".split()
)
_PLACE_BEFORE = re.compile(
    r"(?:\b(?:san|santa|são|sao|st\.?|saint|fort|port|lake|mount|mt\.?|new|cape|el|la|los|las)\s+)$", re.IGNORECASE
)
_NAME_INTRO = re.compile(
    r"(?P<ctx>\b(?i:my\s+name\s+is|my\s+name's|name\s*:|i\s+am\s+called|i'm\s+called)\s+)"
    r"(?P<name>[A-Za-zà-ÿ'’-]+(?:\s+[A-Za-zà-ÿ'’-]+){0,2})"
)
_NAME_TITLE = re.compile(rf"(?P<ctx>\b(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof)\.?\s+)(?P<name>{_NAME}(?:\s+{_NAME})?)")
_NAME_ROLE = re.compile(
    r"(?P<ctx>\b(?i:named|agent|rep|representative|attendant|steward|stewardess|manager|driver|courier|"
    r"receptionist|concierge|waiter|waitress|host|hostess|supervisor|advisor|adviser|clerk)\s+)"
    rf"(?P<name>{_NAME}(?:\s+{_NAME})?)"
)
_NAME_SIGNOFF = re.compile(
    r"(?P<ctx>(?:(?i:\b(?:thanks|thank\s+you|thx|ty|cheers|regards|best\s+regards|kind\s+regards|many\s+thanks|"
    r"best\s+wishes|sincerely|best|yours))\s*[,!.:-]?\s*|(?<!\S)[-–—~^]\s*))"
    r"(?P<name>[A-Za-z][a-zà-ÿ'’-]+(?:\s+(?:[A-Z]\.?|[A-Z][a-zà-ÿ'’-]+))?)(?=\s*[.!]*\s*(?:$|\n))"
)
_NAME_GREETING = re.compile(
    rf"(?P<ctx>\b(?:Hi|Hello|Hey|Dear|Hiya|Morning|Evening|Olá|Ola|Oi|Bonjour|Hola|Hallo)\s+)"
    rf"(?P<name>(?!(?:Sir|Madam|Team|Customer|Customers|All|Everyone|Guys|Folks|There|Friends|Support|Again|Mr|Mrs|Ms|Dr)\b)"
    rf"{_NAME}(?:\s+{_NAME})?)(?=\s*[,!.:;)]|\s*$)"
)
_FIRST = re.compile(r"\b[A-Z][a-z]+(?=\s+(?:[A-Z]\.\s+)?(?:Mc|Mac|O['’]|D['’])?[A-Z][a-zà-ÿ])")
_SURNAMES = re.compile(rf"(?:\s+[A-Z]\.)?(?:\s+{_NAME}){{1,2}}\b")


def _listed(word: str) -> bool:
    return word.lower().replace("ã", "a") in FIRST_NAMES


def _name_words(m: re.Match, *, first_listed: bool) -> str:
    """``ctx`` then ``[name]`` for the leading words of ``name`` that look like a name.

    The first word is a listed first name, or (unless ``first_listed``) any capitalised word; the
    next ones are capitalised words or initials, or lower-case words right before punctuation or
    the end when the first word was lower case ("my name is charles martin,").
    """
    name = m.group("name")
    words = list(re.finditer(r"\S+", name))
    end = 0
    lower = False
    for i, wm in enumerate(words):
        w = wm.group(0).rstrip(",.;:!?")
        capital = w[:1].isupper() and w[1:2].islower() and w.lower() not in _NOT_SURNAME
        if i == 0:
            if not (_listed(w) or (capital and not first_listed)):
                break
            lower = w.islower()
        elif not (capital or re.fullmatch(r"[A-Z]\.?", w)):
            tail = m.string[m.start("name") + wm.end() :]
            if not (
                lower and w.isalpha() and w.islower() and w not in _NOT_SURNAME and re.match(r"\s*(?:[,.;:!?]|$)", tail)
            ):
                break
        end = wm.start() + len(w)
        if w != wm.group(0):
            break
    if not end:
        return m.group(0)
    return m.group("ctx") + "[name]" + name[end:]


def _full_names(text: str) -> str:
    """``[name]`` for a listed first name followed by a capitalised surname (not after "San", "New"...)."""
    out: list[str] = []
    pos = 0
    for m in _FIRST.finditer(text):
        if m.start() < pos or not _listed(m.group(0)) or _PLACE_BEFORE.search(text[max(0, m.start() - 8) : m.start()]):
            continue
        sur = _SURNAMES.match(text, m.end())
        if sur is None:
            continue
        end = m.end()
        for w in re.finditer(r"\S+", sur.group(0)):
            if w.group(0).lower().strip(".") in _NOT_SURNAME:
                break
            end = m.end() + w.end()
        if re.fullmatch(r"\s+[A-Z]\.", text[m.end() : end]) or end == m.end():
            continue
        out += [text[pos : m.start()], "[name]"]
        pos = end
    return "".join(out) + text[pos:] if out else text


_CAPITALISED = re.compile(r"[A-Z][a-z]")
_GREETINGS = ("Hi", "Hello", "Hey", "Dear", "Morning", "Evening", "Ol", "Oi", "Bonjour", "Hola", "Hallo")
_ROLE_WORDS = (
    "named",
    "agent",
    "rep",
    "attendant",
    "steward",
    "manager",
    "driver",
    "courier",
    "receptionist",
    "concierge",
    "waiter",
    "waitress",
    "host",
    "supervisor",
    "advis",
    "clerk",
)


def _names(text: str, low: str) -> str:
    if "name" in low or "called" in low:
        text = _NAME_INTRO.sub(lambda m: _name_words(m, first_listed=False), text)
    if "\n" in text:  # a sign-off ends the text or a line
        text = _NAME_SIGNOFF.sub(lambda m: _name_words(m, first_listed=True), text)
    else:
        m = _NAME_SIGNOFF.search(text, max(0, len(text) - 80))
        if m:
            text = text[: m.start()] + _name_words(m, first_listed=True) + text[m.end() :]
    if not _CAPITALISED.search(text):  # the other patterns need a capitalised name
        return text
    if any(w in text for w in ("Mr", "Ms", "Mx", "Miss", "Dr", "Prof")):
        text = _NAME_TITLE.sub(lambda m: _name_words(m, first_listed=False), text)
    if any(w in low for w in _ROLE_WORDS):
        text = _NAME_ROLE.sub(lambda m: _name_words(m, first_listed=True), text)
    if any(w in text for w in _GREETINGS):
        text = _NAME_GREETING.sub(lambda m: _name_words(m, first_listed=False), text)
    return _full_names(text)


def iban_valid(text: str) -> bool:
    """Whether ``text`` (spaces allowed) is an IBAN: known country, its length, and the mod-97 check.

    >>> iban_valid("GB82 WEST 1234 5698 7654 32"), iban_valid("GB82 WEST 1234 5698 7654 33")
    (True, False)
    """
    s = re.sub(r"\s", "", text).upper()
    if not s.isalnum() or IBAN_LENGTHS.get(s[:2]) != len(s) or not s[2:4].isdigit():
        return False
    digits = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(digits) % 97 == 1


def _iban(m: re.Match) -> str:
    """``[iban]`` for a valid IBAN (with its "IBAN" label); a word after it is not part of it."""
    raw, start = m.group("iban"), m.start("iban") - m.start()
    n = IBAN_LENGTHS.get(raw[:2].upper())
    if n is None:
        return m.group(0)
    count, cut = 0, None
    for i, ch in enumerate(raw):  # the first n letters and digits
        if ch.isalnum():
            count += 1
            if count == n:
                cut = i + 1
                break
    if cut is None or (cut < len(raw) and raw[cut] != " ") or not iban_valid(raw[:cut]):
        return m.group(0)
    return "[iban]" + m.group(0)[start + cut :]


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


def redact(text: str | None, *, kinds: Iterable[str] = KINDS, keep_handles: Sequence[str] = ()) -> str | None:
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
    low = text.lower()
    if "urls" in kinds and ("http" in low or "www." in low):
        text = _URL.sub(_url, text)
    if "emails" in kinds and "@" in text:
        text = _EMAIL.sub("[email]", text)
    digits = _DIGIT.search(text) is not None
    runs = digits and _DIGITS3.search(text) is not None  # three digits in a row: cards, IBANs, SSNs, most phones
    if "ibans" in kinds and runs:
        text = _IBAN.sub(_iban, text)
    if "cards" in kinds and runs:
        text = _CARD.sub(_card, text)
    if "card_security" in kinds and digits:
        if "exp" in low or "valid" in low:
            text = (_EXPIRY_CARD if "card" in low else _EXPIRY).sub(lambda m: m.group("ctx") + "[expiry]", text)
        if any(w in low for w in ("cvv", "cvc", "csc", "cvn", "security code")):
            text = _CVV.sub(lambda m: m.group("ctx") + "[cvv]", text)
    if "ssns" in kinds and runs:
        if "ssn" in low or "social security" in low:
            text = _SSN_CTX.sub(lambda m: m.group("ctx") + "[ssn]", text)
        text = _SSN.sub("[ssn]", text)
    if "dobs" in kinds and digits and ("birth" in low or "born" in low or "dob" in low or "d.o.b" in low):
        text = _DOB.sub(lambda m: m.group("ctx") + "[dob]", text)
    if "addresses" in kinds and digits:
        text = _ADDRESS_EN.sub(lambda m: _address(m, lower=False), text)
        text = _ADDRESS_LOWER.sub(lambda m: _address(m, lower=True), text)
        for regex in _ADDRESSES:
            text = regex.sub("[address]", text)
    if "postcodes" in kinds and digits:
        text = _UK.sub("[postcode]", text)
        if runs:
            text = _POSTCODE.sub(_postcode, text)
    if "phones" in kinds and digits and (runs or "+" in text):
        for regex in _PHONES:
            text = regex.sub(lambda m: (m.groupdict().get("ctx") or "") + "[phone]", text)
    if "handles" in kinds and "@" in text:
        keep = {h.lower().lstrip("@") for h in keep_handles}
        text = _HANDLE.sub(lambda m: m.group(0) if m.group(0)[1:].lower() in keep else "[handle]", text)
    if "names" in kinds:
        text = _names(text, text.lower())
    return text


def redact_all(texts: Iterable[str | None], **options) -> list[str | None]:
    """:func:`redact` for many texts.

    >>> redact_all(["mail a@b.com", None])
    ['mail [email]', None]
    """
    return [redact(t, **options) for t in texts]
