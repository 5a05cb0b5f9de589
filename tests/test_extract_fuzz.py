"""Whatever a shop (or an attacker) sends, extraction returns a reading and never raises."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudtrack_app.tracking.extract import Extraction, extract, parse_money

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
schema_keys = st.sampled_from(
    [
        "@type",
        "@graph",
        "offers",
        "price",
        "lowPrice",
        "priceCurrency",
        "availability",
        "priceSpecification",
        "hasVariant",
        "name",
        "image",
        "sku",
        "brand",
        "url",
    ]
)
schema_like = st.recursive(
    st.none()
    | st.text(max_size=15)
    | st.integers()
    | st.sampled_from(["Product", "Offer", "AggregateOffer", "InStock"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(schema_keys, children, max_size=5),
    max_leaves=25,
)
tags = st.sampled_from(["div", "span", "h1", "del", "s", "button", "meta", "script", "p", "a", "li", "table"])
attributes = st.sampled_from(
    [
        'class="price"',
        'class="old-price"',
        'itemprop="price" content="1,5"',
        "itemscope",
        'itemprop="offers"',
        'typeof="Offer"',
        'property="price"',
        "disabled",
        'class="availability"',
        'class="related"',
        "",
    ]
)
texts = st.text(max_size=30) | st.sampled_from(["€ 1.299,95", "$-1", "Out of stock", "ausverkauft", "9" * 40])


@st.composite
def html_soup(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 25))):
        tag, attribute, text = draw(tags), draw(attributes), draw(texts)
        parts.append(f"<{tag} {attribute}>{text}" + (f"</{tag}>" if draw(st.booleans()) else ""))
    return "<html><body>" + "".join(parts)


def assert_reading(found: Extraction) -> None:
    assert isinstance(found, Extraction)
    assert found.availability in ("in_stock", "out_of_stock", "unknown")
    assert found.price is None or (isinstance(found.price, Decimal) and found.price >= 0)
    assert found.currency is None or (len(found.currency) == 3 and found.currency.isupper())
    assert 0.0 <= found.confidence <= 1.0


@FAST
@given(st.binary(max_size=3000))
def test_any_bytes(data: bytes) -> None:
    assert_reading(extract(data, "https://shop.example/p"))


@FAST
@given(st.text(max_size=3000), st.text(max_size=60))
def test_any_text_and_any_url(text: str, url: str) -> None:
    assert_reading(extract(text, url))


@FAST
@given(html_soup())
def test_tag_soup_with_price_markup(html: str) -> None:
    assert_reading(extract(html, "https://shop.example.ca/p"))


@FAST
@given(json_values | schema_like)
def test_any_json_ld(document: object) -> None:
    script = json.dumps(document, allow_nan=True)
    html = f'<html><head><script type="application/ld+json">{script}</script></head><body><h1>x</h1></body></html>'
    assert_reading(extract(html, "https://shop.example/p"))


@FAST
@given(
    st.text(max_size=80),
    st.one_of(st.none(), st.text(max_size=8)),
    st.one_of(st.none(), st.text(max_size=40)),
)
def test_parse_money_never_raises(text: str, hint: str | None, url: str | None) -> None:
    amount, currency = parse_money(text, currency_hint=hint, url=url)
    assert amount is None or (isinstance(amount, Decimal) and amount.is_finite())
    assert currency is None or len(currency) == 3
