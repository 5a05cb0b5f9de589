"""Pages built to make extraction slow are read all the same.

The pages live in benchmarks/hostile_pages.py; `bench extraction --hostile` times them (each
well under a second of CPU). These tests check that they finish and what they read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from benchmarks.hostile_pages import MAX_PAGE_CHARS, URL, hostile_pages, hostile_picks, page
from cloudtrack_app.tracking.extract import Extraction, extract

HOSTILE = hostile_pages()
PICKS = hostile_picks()


@pytest.mark.parametrize("html", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_page_is_read_without_a_price(html: str) -> None:
    assert len(html) <= MAX_PAGE_CHARS
    found = extract(html, URL)
    assert isinstance(found, Extraction)
    assert found.price is None


@pytest.mark.parametrize(("html", "selectors"), PICKS.values(), ids=PICKS.keys())
def test_hostile_remembered_selectors_are_read_to_the_end(html: str, selectors: tuple[str, ...]) -> None:
    found = extract(html, URL, selectors=selectors)
    assert set(found.picked) == set(selectors)
    assert found.picked["#none"] is None
    assert all(reading is None for reading in found.picked.values())  # "x" is no price


def test_itemref_is_followed_on_a_large_page() -> None:
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
