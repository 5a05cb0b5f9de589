"""Money in any locale: amounts as Decimal, currencies as ISO 4217 codes.

price-parser finds the number and the currency sign; this module settles what it leaves
open: which ISO code an ambiguous sign (`$`, `kr`, `¥`, `Rs`) means on this shop, and
whether `24.990` is a thousands separator (zero-decimal currencies) or a decimal point.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from urllib.parse import urlsplit

from babel.numbers import get_currency_name, get_currency_precision, get_territory_currencies
from price_parser import Price

from cloudtrack_app.tracking.extract._currencies import (
    AMBIGUOUS_SIGNS,
    GENERIC_CCTLDS,
    LANGUAGE_CURRENCY,
    PRACTICALLY_ZERO_DECIMAL,
    RETIRED_CODES,
    TLD_COUNTRY,
    UNAMBIGUOUS_SIGNS,
)

MAX_AMOUNT = Decimal("1e12")

GROUPED_THOUSANDS = re.compile(r"\d{1,3}(?:[.,' \u00a0\u202f]\d{3})+")
ONE_GROUP_OF_THREE = re.compile(r"\d{1,3}[.,]\d{3}")
ISO_CODE = re.compile(r"[A-Z]{3}")


@lru_cache(maxsize=512)
def currency_precision(code: str) -> int:
    if code in PRACTICALLY_ZERO_DECIMAL:
        return 0
    try:
        return int(get_currency_precision(code))
    except Exception:
        return 2


@lru_cache(maxsize=512)
def is_iso_currency(code: str) -> bool:
    if not ISO_CODE.fullmatch(code):
        return False
    try:
        return get_currency_name(code, locale="en") != code
    except Exception:
        return False


@lru_cache(maxsize=1024)
def page_countries(url: str | None, lang: str | None) -> tuple[str, ...]:
    """The shop's likely countries, most telling first: domain, then <html lang> region."""
    countries: list[str] = []
    if url:
        try:
            host = (urlsplit(url).hostname or "").rstrip(".")
        except ValueError:
            host = ""
        tld = host.rsplit(".", 1)[-1] if "." in host else ""
        if len(tld) == 2 and tld.isalpha() and tld not in GENERIC_CCTLDS:
            countries.append(TLD_COUNTRY.get(tld, tld.upper()))
    if lang:
        parts = re.split(r"[-_]", lang.strip())
        if len(parts) > 1 and len(parts[1]) == 2 and parts[1].isalpha():
            countries.append(parts[1].upper())
    return tuple(dict.fromkeys(countries))


@lru_cache(maxsize=256)
def territory_currencies(country: str) -> tuple[str, ...]:
    try:
        return tuple(get_territory_currencies(country))
    except Exception:
        return ()


def local_currency(url: str | None, lang: str | None) -> str | None:
    """The currency of the shop's country, when the domain or language names one."""
    for country in page_countries(url, lang):
        found = territory_currencies(country)
        if found:
            return found[0]
    return None


def normalise_currency(sign: str | None, *, url: str | None = None, lang: str | None = None) -> str | None:
    """ISO 4217 code for an ISO code, a symbol or a local abbreviation; None when unknowable."""
    if not sign:
        return None
    text = " ".join(str(sign).split())
    if not text or len(text) > 20:
        return None
    upper = text.upper()
    if upper in RETIRED_CODES:
        return RETIRED_CODES[upper]
    if is_iso_currency(upper):
        return upper
    key = text.lower()
    if key in UNAMBIGUOUS_SIGNS:
        return UNAMBIGUOUS_SIGNS[key]
    if key in AMBIGUOUS_SIGNS:
        family, default = AMBIGUOUS_SIGNS[key]
        for country in page_countries(url, lang):
            for code in territory_currencies(country):
                if code in family:
                    return code
        language = (lang or "").split("-")[0].split("_")[0].lower()
        by_language = LANGUAGE_CURRENCY.get(language)
        if by_language in family:
            return by_language
        return default
    if upper.endswith("$") and is_iso_currency(upper[:-1]):
        return upper[:-1]
    return None


KNOWN_SIGNS = re.compile(
    "|".join(
        re.escape(sign) for sign in sorted([*UNAMBIGUOUS_SIGNS, *AMBIGUOUS_SIGNS], key=len, reverse=True)
    ),
    re.IGNORECASE,
)


def sign_in_text(text: str) -> str | None:
    """A currency sign price-parser does not know (`ر.س`, `лв`), standing as a word."""
    for found in KNOWN_SIGNS.finditer(text):
        start, end = found.span()
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        word_sign = found.group(0)[:1].isalpha() or found.group(0)[-1:].isalpha()
        if not word_sign or (not before.isalpha() and not after.isalpha()):
            return found.group(0)
    return None


CODE_BESIDE_AMOUNT = re.compile(r"(?<![A-Za-z])([A-Z]{3})\s?\d|\d\s?([A-Z]{3})(?![A-Za-z])")


def code_beside_amount(text: str) -> str | None:
    """An ISO code written right before or after the number (`RUR 100`, `100 RUR`), which
    price-parser does not know when the code is retired."""
    for found in CODE_BESIDE_AMOUNT.finditer(text):
        code = found.group(1) or found.group(2)
        if code in RETIRED_CODES or is_iso_currency(code):
            return code
    return None


def decimal_from_structured(value: object, currency: str | None = None) -> Decimal | None:
    """A price from structured data, where `.` is the decimal point (schema.org), with
    the exception shops make for zero-decimal currencies (`24.990` CLP)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None
        return amount if amount.is_finite() and Decimal(0) <= amount < MAX_AMOUNT else None
    text = str(value).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        if currency and currency_precision(currency) == 0 and GROUPED_THOUSANDS.fullmatch(text):
            text = text.replace(".", "")
        amount = Decimal(text)
        return amount if amount < MAX_AMOUNT else None
    amount, _ = parse_money(text, currency_hint=currency)
    return amount


def parse_money(
    text: str,
    *,
    currency_hint: str | None = None,
    url: str | None = None,
    lang: str | None = None,
) -> tuple[Decimal | None, str | None]:
    """Amount and ISO 4217 currency of a price as written on a page, e.g. `1.299,95 €`.

    `currency_hint` (an ISO code or sign, e.g. a priceCurrency) counts when the text
    names no currency; `url` and `lang` settle ambiguous signs (`$` on a .ca shop is CAD).
    Never raises: unreadable text gives (None, None).
    """
    try:
        return _parse_money(text, currency_hint, url, lang)
    except Exception:
        return None, None


def _parse_money(
    text: str, currency_hint: str | None, url: str | None, lang: str | None
) -> tuple[Decimal | None, str | None]:
    if not isinstance(text, str) or not text.strip():
        return None, normalise_currency(currency_hint, url=url, lang=lang)
    text = text[:200].replace("\u2212", "-")
    price = Price.fromstring(text, currency_hint=currency_hint)
    if not any(ch.isdigit() for ch in text):
        # price-parser reads "free" as 0; on a product page that word is about shipping.
        return None, normalise_currency(price.currency or currency_hint, url=url, lang=lang)
    hinted = normalise_currency(currency_hint, url=url, lang=lang)
    currency = None
    # An ISO code beside the number is the plainest; price-parser's guess comes next.
    for sign in (code_beside_amount(text), price.currency, sign_in_text(text)):
        family = AMBIGUOUS_SIGNS.get(" ".join((sign or "").split()).lower())
        # The page's own data settles a shared sign better than its domain does.
        shared_sign_settled = bool(family and hinted in family[0])
        currency = hinted if shared_sign_settled else normalise_currency(sign, url=url, lang=lang)
        if currency:
            break
    currency = currency or hinted
    amount = price.amount
    amount_text = (price.amount_text or "").strip()
    if amount is not None and currency and amount_text:
        precision = currency_precision(currency)
        if precision == 3 and ONE_GROUP_OF_THREE.fullmatch(amount_text):
            amount = Decimal(amount_text.replace(",", "."))
        elif precision == 0 and GROUPED_THOUSANDS.fullmatch(amount_text):
            amount = Decimal(re.sub(r"\D", "", amount_text))
    if amount is None or not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
        return None, currency
    return amount, currency


def same_digits(one: Decimal, other: Decimal) -> bool:
    """Different amounts written with the same digits (10.99 and 1099)."""
    return one != other and one.normalize().as_tuple().digits == other.normalize().as_tuple().digits
