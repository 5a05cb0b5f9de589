"""Money, time and locale as people read them: the one formatting path for every screen,
message and command, so that a refusal and a card show the same "79,99 €".

JSON and alert facts carry prices as plain decimal strings instead (`decimal_string`):
that form is for programs, never for people.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_timedelta
from babel.numbers import format_currency, format_decimal, format_percent

DEFAULT_LOCALE = "en"
MISSING = "—"


def usable_locale(locale: str | None) -> str:
    """A locale babel knows, from whatever a user or browser gave us ("en" otherwise)."""
    try:
        return str(Locale.parse((locale or DEFAULT_LOCALE).replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        return DEFAULT_LOCALE


def format_money(
    amount: Decimal | None, currency: str | None, locale: str = DEFAULT_LOCALE, *, missing: str = MISSING
) -> str:
    """An amount as the user's locale writes it ("79,99 €", "$79.99"); `missing` when unknown."""
    if amount is None:
        return missing
    if currency:
        return format_currency(amount, currency, locale=locale)
    return format_decimal(amount, format="#,##0.00", locale=locale)


def percent_text(percent: int, locale: str = DEFAULT_LOCALE) -> str:
    """A whole percentage as the user's locale writes it ("19%", "19 %")."""
    return format_percent(Decimal(percent) / 100, locale=locale)


def decimal_string(value: Decimal | None) -> str | None:
    """A price as a decimal string for JSON and alert facts: '79.99', never a float."""
    if value is None:
        return None
    exponent = value.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return str(value.quantize(Decimal(1).scaleb(-places)))


def ago_text(moment: datetime | None, now: datetime, locale: str = DEFAULT_LOCALE) -> str:
    """ "3 hours ago", in the user's language; "never" for no moment."""
    if moment is None:
        return "never"
    # A moment at now or a hair after it (another worker's clock) is still in the past.
    elapsed = min(moment - now, -timedelta(microseconds=1))
    return format_timedelta(elapsed, add_direction=True, locale=locale, threshold=1.1)


def day_text(moment: datetime | None, locale: str = DEFAULT_LOCALE, zone: ZoneInfo | None = None) -> str:
    """A day as the user's language writes it in a sentence ("12 Nov", "Nov 12"); UTC without a zone."""
    if moment is None:
        return MISSING
    return format_skeleton("MMMd", moment, tzinfo=zone or ZoneInfo("UTC"), locale=locale)
