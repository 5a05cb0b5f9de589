"""extruct reads JSON-LD our own reader cannot, and only where no price was found; microdata
`itemref` is our own reader's work."""

from __future__ import annotations

import json
from decimal import Decimal

from cloudtrack_app.tracking.extract import extract

URL = "https://shop.example.de/p/kettle-42"
FALLBACK_NOTE = "structured price read by the extruct fallback"

# The product names its offer by `itemref`: the offer sits outside the product's element.
ITEMREF_PRODUCT = """
<div itemscope itemtype="https://schema.org/Product" itemref="offer-block">
  <h1 itemprop="name">Kettle 42</h1>
</div>
<p>Made of steel.</p>
<div id="offer-block">
  <div itemprop="offers" itemscope itemtype="https://schema.org/Offer">
    <meta itemprop="price" content="49.90"><meta itemprop="priceCurrency" content="EUR">
    <link itemprop="availability" href="https://schema.org/OutOfStock">
  </div>
</div>"""


def page(body: str = "", head: str = "") -> str:
    return f"<!doctype html><html lang='de'><head><title>Shop</title>{head}</head><body>{body}</body></html>"


def test_microdata_offer_reached_through_itemref_is_read_without_the_fallback() -> None:
    found = extract(page(ITEMREF_PRODUCT), URL)
    assert (found.price, found.currency, found.availability) == (Decimal("49.90"), "EUR", "out_of_stock")
    assert found.source == "microdata"
    assert found.title == "Kettle 42"
    assert FALLBACK_NOTE not in found.diagnostics


COMMENTED_PRODUCT = json.dumps(
    {"@type": "Product", "name": "Kettle 42", "offers": {"price": "5.00", "priceCurrency": "EUR"}}
)
COMMENTED_JSON_LD = f'<script type="application/ld+json"><!-- product data --> {COMMENTED_PRODUCT}</script>'


def test_page_whose_own_readers_find_a_price_is_not_read_again() -> None:
    # Were the fallback asked, its product (named like the page's title) would win.
    other = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "Teapot 7",
        "offers": {"@type": "Offer", "price": "10.00", "priceCurrency": "EUR"},
    }
    head = f'<script type="application/ld+json">{json.dumps(other)}</script>' + COMMENTED_JSON_LD
    found = extract(page("<h1>Kettle 42</h1>", head), URL)
    assert (found.price, found.source) == (Decimal("10.00"), "json-ld")
    assert FALLBACK_NOTE not in found.diagnostics


def test_opengraph_price_also_keeps_the_fallback_away() -> None:
    head = '<meta property="product:price:amount" content="12.00"><meta property="product:price:currency" content="EUR">'
    found = extract(page("<h1>Kettle 42</h1>", head + COMMENTED_JSON_LD), URL)
    assert (found.price, found.source) == (Decimal("12.00"), "opengraph")
    assert FALLBACK_NOTE not in found.diagnostics


def test_json_ld_behind_an_html_comment_is_read_by_the_fallback() -> None:
    found = extract(page("<h1>Kettle 42</h1>", COMMENTED_JSON_LD), URL)
    assert (found.price, found.currency, found.source) == (Decimal("5.00"), "EUR", "json-ld")
    assert FALLBACK_NOTE in found.diagnostics


def test_a_failure_inside_extruct_is_contained() -> None:
    # Too deep for either JSON parser: extruct's RecursionError ends up in the diagnostics.
    head = '<script type="application/ld+json">' + "[" * 5000 + "]" * 5000 + ",</script>"
    found = extract(page("<h1>Kettle 42</h1><span class='price'>9,99 €</span>", head), URL)
    assert found.price == Decimal("9.99")
    assert any(note.startswith("extruct fallback (json-ld) failed") for note in found.diagnostics)


def test_itemref_facts_without_a_price_leave_the_price_to_the_page() -> None:
    body = """<div itemscope itemtype="https://schema.org/Product" itemref="facts"><h1 itemprop="name">Kettle 42</h1></div>
      <div id="facts"><span itemprop="sku">K42</span></div><span class="price">19,99 €</span>"""
    found = extract(page(body), URL)
    assert (found.price, found.source, found.sku) == (Decimal("19.99"), "html", "K42")
    assert FALLBACK_NOTE not in found.diagnostics
