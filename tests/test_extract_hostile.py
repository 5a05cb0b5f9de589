"""Pages built to make extraction slow are read all the same, the fallback reader kept in bounds.

The pages live in benchmarks/hostile_pages.py; `bench extraction --hostile` times them (each
well under a second of CPU). These tests check that they finish and what they read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from benchmarks.hostile_pages import MAX_PAGE_CHARS, URL, hostile_pages, page
from cloudtrack_app.tracking.extract import Extraction, extract

HOSTILE = hostile_pages()
TOO_LARGE = "microdata too large for the extruct fallback"


@pytest.mark.parametrize("html", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_page_is_read_without_a_price(html: str) -> None:
    assert len(html) <= MAX_PAGE_CHARS
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
