"""Prices as people write them in different countries become Decimal + ISO 4217."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cloudtrack_app.tracking.extract import parse_money


@pytest.mark.parametrize(
    ("text", "hints", "amount", "currency"),
    [
        ("1.299,95 €", {}, "1299.95", "EUR"),
        ("1 299,95 kr", {"url": "https://shop.se/p/1"}, "1299.95", "SEK"),
        ("1 299,95 kr", {"url": "https://shop.dk/p/1"}, "1299.95", "DKK"),
        ("1 299,95 kr", {"url": "https://shop.no/p/1"}, "1299.95", "NOK"),
        ("1\u00a0299,95\u00a0kr", {"url": "https://shop.com/p", "lang": "sv-SE"}, "1299.95", "SEK"),
        ("1 299,95 kr", {"url": "https://shop.com/p", "lang": "sv"}, "1299.95", "SEK"),
        ("$1,299.95", {}, "1299.95", "USD"),
        ("$1,299.95", {"url": "https://shop.ca/p"}, "1299.95", "CAD"),
        ("$1,299.95", {"url": "https://shop.com/p", "lang": "en-AU"}, "1299.95", "AUD"),
        ("CHF 1'299.–", {}, "1299", "CHF"),
        ("₹1,29,999", {}, "129999", "INR"),
        ("24.990", {"currency_hint": "CLP"}, "24990", "CLP"),
        ("$24.990", {"url": "https://tienda.cl/p"}, "24990", "CLP"),
        ("24,990 CLP", {}, "24990", "CLP"),
        ("¥1,200", {}, "1200", "JPY"),
        ("¥1,200", {"url": "https://shop.cn/p"}, "1200", "CNY"),
        ("¥1,200", {"url": "https://shop.com/p", "lang": "zh-CN"}, "1200", "CNY"),
        ("₩ 15,000", {}, "15000", "KRW"),
        ("£12.50", {}, "12.50", "GBP"),
        ("12.950 KWD", {}, "12.950", "KWD"),
        ("1.234 Ft", {}, "1234", "HUF"),
        ("2.490 ISK", {}, "2490", "ISK"),
        ("Rs 23,450", {"url": "https://www.olx.com.pk/item/1"}, "23450", "PKR"),
        ("Rs. 499", {}, "499", "INR"),
        ("R$ 1.299,90", {}, "1299.90", "BRL"),
        ("1 299 Kč", {}, "1299", "CZK"),
        ("99,99 zł", {}, "99.99", "PLN"),
        ("249 руб.", {}, "249", "RUB"),
        ("NT$294", {}, "294", "TWD"),
        ("US$ 5", {"url": "https://shop.ca/p"}, "5", "USD"),
        ("12,99 €*", {}, "12.99", "EUR"),
        ("1.299,95", {"currency_hint": "EUR"}, "1299.95", "EUR"),
        ("1.499 kr.", {"url": "https://shop.dk/p"}, "1499", "DKK"),
    ],
)
def test_prices_in_local_formats(text: str, hints: dict[str, str], amount: str, currency: str) -> None:
    assert parse_money(text, **hints) == (Decimal(amount), currency)


def test_amounts_are_decimals_not_floats() -> None:
    amount, _ = parse_money("0,10 €")
    assert isinstance(amount, Decimal)
    assert amount == Decimal("0.10")


def test_kronor_sign_without_any_country_hint_stays_unknown() -> None:
    assert parse_money("1 299 kr") == (Decimal("1299"), None)


@pytest.mark.parametrize("text", ["", "   ", "free", "price on request", "EUR"])
def test_text_without_an_amount_gives_no_price(text: str) -> None:
    amount, _ = parse_money(text)
    assert amount is None


def test_currency_hint_is_normalised_even_without_amount() -> None:
    assert parse_money("", currency_hint="eur") == (None, "EUR")


@pytest.mark.parametrize("value", [None, 12, b"12 EUR", "1e999999 €", "9" * 400])
def test_odd_input_never_raises(value: object) -> None:
    amount, currency = parse_money(value)  # type: ignore[arg-type]
    assert amount is None or isinstance(amount, Decimal)
    assert currency is None or len(currency) == 3
