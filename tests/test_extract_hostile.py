"""Pages built to make extraction slow are read all the same, the fallback reader kept in bounds.

Each takes well under a second of CPU; the test checks that they finish, not how fast."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from cloudtrack_app.tracking.extract import Extraction, extract

URL = "https://shop.example.com/p/1"
TOO_LARGE = "microdata too large for the extruct fallback"


def page(body: str, head: str = "") -> str:
    return (
        f"<!doctype html><html><head><title>x</title>{head}</head><body><h1>Kettle</h1>{body}</body></html>"
    )


def json_ld_blocks(text: str, count: int) -> str:
    return f'<script type="application/ld+json">{text}</script>' * count


HOSTILE = {
    "100k microdata items": page("<i itemscope itemtype=Thing><b itemprop=n>x</i>" * 100_000),
    "100k items with itemref": page(
        "<b id=r itemprop=name>x</b>" + '<i itemscope itemref="r r"></i>' * 100_000
    ),
    "one product with 100k properties": page(
        "<div itemscope itemtype=Product>" + "<b itemprop=name>x</b>" * 100_000 + "</div>"
    ),
    "items nested 10k deep": page("<div itemscope itemtype=Product itemprop=isVariantOf>" * 10_000),
    "items nested 10k deep with itemref": page(
        "<b id=r itemprop=sku>1</b>"
        + "<div itemscope itemtype=Product itemprop=isVariantOf itemref=r>" * 10_000
    ),
    "properties nested 2k deep over 100k elements": page(
        "<div itemscope itemtype=Product>" + "<div itemprop=description>" * 2000 + "<i>x</i>" * 100_000
    ),
    "8 nested items over 200k elements": page("<div itemscope itemprop=offers>" * 8 + "<i>x</i>" * 200_000),
    "8 nested items with itemref over 200k elements": page(
        "<b id=r itemprop=sku>1</b>" + "<div itemscope itemprop=offers itemref=r>" * 8 + "<i>x</i>" * 200_000
    ),
    "50k RDFa nodes": page('<i typeof="Thing"><b property=name>x</b></i>' * 50_000),
    "RDFa nested 10k deep": page(
        '<div vocab="http://schema.org/" typeof="Product" property=isRelatedTo>' * 10_000
    ),
    "2000 JSON-LD blocks": page("", json_ld_blocks(json.dumps({"@type": "Thing", "name": "x" * 2000}), 2000)),
    "2000 malformed JSON-LD blocks": page(
        "", json_ld_blocks('{"@type": "Thing", "name": "' + "x" * 2000 + '",}', 2000)
    ),
    "one 4 MB malformed JSON-LD block": page("", json_ld_blocks('{"a": "' + "y" * 4_000_000 + '" oops}', 1)),
    "JSON-LD nested 10k deep": page("", json_ld_blocks("[" * 10_000 + "]" * 10_000 + ",", 1)),
    "100k scripts 2k deep": page("<div>" * 2000 + "<script>1</script>" * 100_000),
}


@pytest.mark.parametrize("html", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_page_is_read_without_a_price(html: str) -> None:
    assert len(html) <= 5_000_000
    found = extract(html, URL)
    assert isinstance(found, Extraction)
    assert found.price is None


def test_fallback_skips_microdata_it_could_not_read_in_bounds() -> None:
    assert TOO_LARGE in extract(HOSTILE["items nested 10k deep with itemref"], URL).diagnostics
    assert TOO_LARGE in extract(HOSTILE["8 nested items with itemref over 200k elements"], URL).diagnostics
    assert TOO_LARGE in extract(HOSTILE["100k items with itemref"], URL).diagnostics


def test_fallback_reads_a_large_page_within_its_bounds() -> None:
    offer = (
        '<div id=offer><div itemprop=offers itemscope itemtype="https://schema.org/Offer">'
        '<meta itemprop=price content="5.00"><meta itemprop=priceCurrency content=EUR></div></div>'
    )
    product = (
        '<div itemscope itemtype="https://schema.org/Product" itemref=offer><b itemprop=name>Kettle</b></div>'
    )
    html = page(
        product
        + "<p>filler</p>" * 100_000
        + '<i itemscope itemtype="https://schema.org/Thing"></i>' * 400
        + offer
    )
    found = extract(html, URL)
    assert (found.price, found.currency, found.source) == (Decimal("5.00"), "EUR", "microdata")
