"""Every price a reading considered comes back ranked, with a selector that finds its element
again and a plain-text snippet a person can judge it by; a selector remembered from an earlier
pick is read on the same page, and nothing a page or a person types can make that fail."""

from __future__ import annotations

import gzip
import json
import pickle
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import lxml.cssselect
import pytest

from benchmarks.hostile_pages import URL, page
from cloudtrack_app.tracking.extract import (
    CONFIDENT,
    Candidate,
    Extraction,
    PickedReading,
    extract,
    validate_selector,
)
from cloudtrack_app.tracking.extract.page import parse_page
from cloudtrack_app.tracking.extractor_pool import ExtractorPool, read_requested_page, use_request_pool
from tests.conftest import CORPUS_DIR

CORPORA = [CORPUS_DIR, CORPUS_DIR.parent / "product-pages-2"]
SOURCES = {"json-ld", "microdata", "rdfa", "meta", "visible"}


def corpus_pages() -> list[Any]:
    pages = []
    for corpus in CORPORA:
        truth = corpus / "truth.jsonl"
        if not truth.exists():
            continue
        for line in truth.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                pages.append(
                    pytest.param(corpus / "pages" / f"{entry['id']}.html.gz", entry["url"], id=entry["id"])
                )
    return pages


def found_by(selector: str, html: str | bytes) -> list[Any]:
    tree = parse_page(html, None).tree
    return lxml.cssselect.CSSSelector(selector, translator="html")(tree)


def json_ld_page(price: str, shown: str, *, extra: str = "") -> str:
    return (
        '<html><head><script type="application/ld+json">{"@context":"https://schema.org","@type":"Product",'
        f'"name":"Kettle 42","offers":{{"@type":"Offer","price":"{price}","priceCurrency":"EUR"}}}}</script>'
        f'</head><body><div class="product"><h1>Kettle 42</h1><span class="price">{shown}</span>{extra}'
        '<button class="add-to-cart">Add to cart</button></div></body></html>'
    )


@pytest.mark.parametrize(("path", "url"), corpus_pages())
def test_every_candidate_on_a_real_page_is_found_again_by_its_selector(path: Path, url: str) -> None:
    raw = gzip.decompress(path.read_bytes())
    found = extract(raw, url, candidates=True)
    if found.price is not None:
        assert found.candidates and found.candidates[0].price == found.price
    assert len(found.candidates) <= 8
    assert len({(c.price, c.currency) for c in found.candidates}) == len(found.candidates)
    again = extract(raw, url, selectors=[c.selector for c in found.candidates])
    for candidate in found.candidates:
        assert candidate.source in SOURCES
        assert len(found_by(candidate.selector, raw)) == 1, candidate
        reading = again.picked[candidate.selector]
        assert reading is not None and reading.price == candidate.price, candidate
        assert len(candidate.snippet) <= 120


def test_structured_data_the_page_shows_is_chosen_with_confidence() -> None:
    html = json_ld_page("49.90", "49,90 €", extra='<span class="price-old"><s>59,90 €</s></span>')
    found = extract(html, URL, candidates=True)
    assert found.confidence >= 0.8 > CONFIDENT
    first = found.candidates[0]
    assert (first.price, first.currency, first.source) == (Decimal("49.90"), "EUR", "json-ld")
    [script] = found_by(first.selector, html)
    assert script.tag == "script"
    assert "Kettle 42" in first.snippet and "49.90" in first.snippet


def test_structured_and_visible_prices_that_disagree_leave_the_reading_unsure() -> None:
    html = json_ld_page("49.90", "64,90 €")
    found = extract(html, URL, candidates=True)
    assert found.confidence < CONFIDENT
    assert {c.price for c in found.candidates} >= {Decimal("49.90"), Decimal("64.90")}


def test_was_unit_and_instalment_prices_never_rank_above_the_chosen_one() -> None:
    html = (
        "<html><body><div class='product'><h1>Coffee beans 1 kg</h1>"
        "<span class='price-old'><del>€ 24,99</del></span><span class='price'>€ 19,99</span>"
        "<span class='price-unit'>€ 19,99 / kg</span><span class='price'>or 4 x € 5,00 monthly</span>"
        "<button>Add to cart</button></div></body></html>"
    )
    found = extract(html, "https://shop.example.de/p/beans", candidates=True)
    assert found.price == Decimal("19.99") and found.candidates[0].price == Decimal("19.99")
    assert Decimal("5.00") not in {c.price for c in found.candidates}
    assert all(c.score <= found.candidates[0].score for c in found.candidates)


def test_a_microdata_price_is_found_at_its_property_element() -> None:
    html = (
        '<html><body><div itemscope itemtype="https://schema.org/Product"><h1 itemprop="name">Lamp</h1>'
        '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
        '<span itemprop="price" content="15.50">15,50 €</span><meta itemprop="priceCurrency" content="EUR">'
        "</div></div></body></html>"
    )
    first = extract(html, URL, candidates=True).candidates[0]
    assert (first.price, first.source) == (Decimal("15.50"), "microdata")
    [element] = found_by(first.selector, html)
    assert element.get("itemprop") == "price"


def test_an_rdfa_price_is_found_at_its_property_element() -> None:
    html = (
        '<html><body><div vocab="https://schema.org/" typeof="Product"><h1 property="name">Lamp</h1>'
        '<div property="offers" typeof="Offer"><span property="price" content="15.50">15,50</span>'
        '<span property="priceCurrency" content="EUR">€</span></div></div></body></html>'
    )
    first = extract(html, URL, candidates=True).candidates[0]
    assert (first.price, first.source) == (Decimal("15.50"), "rdfa")
    [element] = found_by(first.selector, html)
    assert element.get("property") == "price"


def test_a_product_meta_price_is_found_at_its_meta_tag() -> None:
    html = (
        '<html><head><meta property="og:title" content="Lamp">'
        '<meta property="product:price:amount" content="15.50">'
        '<meta property="product:price:currency" content="EUR"></head><body><h1>Lamp</h1></body></html>'
    )
    first = extract(html, URL, candidates=True).candidates[0]
    assert (first.price, first.currency, first.source) == (Decimal("15.50"), "EUR", "meta")
    [element] = found_by(first.selector, html)
    assert element.get("property") == "product:price:amount"


def test_a_repeated_id_is_not_taken_as_a_selector() -> None:
    html = (
        "<html><body><div id='p'><h1>Lamp</h1></div><div id='p'><span id='x' class='price'>15,50 €</span>"
        "<span id='x'>other</span></div></body></html>"
    )
    found = extract(html, "https://shop.example.de/lamp", candidates=True)
    assert found.price == Decimal("15.50")
    [element] = found_by(found.candidates[0].selector, html)
    assert element.text == "15,50 €"


@pytest.mark.parametrize(
    ("price_element", "elsewhere", "by_id"),
    [
        ('<span id="now" class="price">', '<label for="now">Price</label><a href="#now">up</a>', True),
        ('<span id = "now" class="price">', "<script>var now = 1; // now</script>", True),
        ('<span id="now" class="price">', '<i ID="now">twin</i>', False),
        ('<span id="now" class="price">', "<i id=now>twin</i>", False),
        ('<span id="now" class="price">', '<i data-id="now">twin</i>', False),  # counted high: safe
        ('<span id="now" class="price">', "".join(f"<i>now {n}</i>" for n in range(40)), True),
        ('<span id="now" class="price">', "".join(f'<i id="now{n}">{n}</i>' for n in range(40)), True),
    ],
)
def test_an_id_is_a_selector_only_when_no_other_element_may_have_it(
    price_element: str, elsewhere: str, by_id: bool
) -> None:
    html = f"<html><body><div><h1>Lamp</h1>{price_element}15,50 €</span></div>{elsewhere}</body></html>"
    found = extract(html, "https://shop.example.de/lamp", candidates=True)
    assert found.price == Decimal("15.50")
    assert (found.candidates[0].selector == "#now") is by_id
    [element] = found_by(found.candidates[0].selector, html)
    assert element.text == "15,50 €"


def test_a_price_below_many_repeated_ids_gets_a_selector_that_finds_it_alone() -> None:
    opened = "".join(f'<div id="d{n}"><i id="d{n}">twin</i>' for n in range(12))
    html = (
        f'<html><body><div id="top"><h1>Lamp</h1>{opened}<span class="price">15,50 €</span>'
        f"{'</div>' * 12}</div></body></html>"
    )
    found = extract(html, "https://shop.example.de/lamp", candidates=True)
    assert found.price == Decimal("15.50")
    [element] = found_by(found.candidates[0].selector, html)
    assert element.text == "15,50 €"


def test_a_snippet_is_plain_text_without_scripts_or_hidden_controls_and_short() -> None:
    shout = "\u202egnp.exe\u202c zero\u200bwidth\u2066 " + "long words " * 1000
    html = (
        "<html><body><div class='product'><h1>Lamp</h1><p class='buy'>"
        f"<script>alert('stolen cookies')</script>{shout}<span class='price'>€ 15,50</span>"
        "<style>.x{}</style></p></div></body></html>"
    )
    found = extract(html, "https://shop.example.de/lamp", candidates=True)
    snippet = found.candidates[0].snippet
    assert found.price == Decimal("15.50") and "15,50" in snippet
    assert len(snippet) <= 120
    assert "alert" not in snippet and ".x{}" not in snippet
    assert not any(ch in snippet for ch in "\u202e\u202c\u200b\u2066\n\t")


def test_a_remembered_selector_reads_its_element_on_a_later_check() -> None:
    html = json_ld_page(
        "49.90", "49,90 €", extra='<span id="member" class="deal">Members: 44,90 €</span><b id="n">none</b>'
    )
    found = extract(
        html,
        URL,
        selectors=["#member", "script", "meta[content]", "#gone", "#n", "span.price"],
    )
    assert found.picked == {
        "#member": PickedReading(Decimal("44.90"), "EUR"),
        "script": PickedReading(Decimal("49.90"), "EUR"),
        "meta[content]": None,  # no element
        "#gone": None,  # the layout changed
        "#n": None,  # an element without a price
        "span.price": PickedReading(Decimal("49.90"), "EUR"),
    }
    assert found.price == Decimal("49.90")  # picks change nothing else


def test_a_number_in_a_content_attribute_is_read_before_the_text() -> None:
    html = (
        '<html><body><h1>Lamp</h1><span id="p" data-x="1" content="12.30">sale! 9 left</span></body></html>'
    )
    assert extract(html, URL, selectors=["#p"]).picked["#p"] == PickedReading(Decimal("12.30"), None)


@pytest.mark.parametrize(
    "selector",
    ["", "   ", "a[", "::before", "a:has(b)", "p:contains('x')", "x" * 501, "{}", "\x00", "a >> b", "ns|a"],
)
def test_garbage_selectors_read_nothing_and_are_explained(selector: str) -> None:
    found = extract(json_ld_page("49.90", "49,90 €"), URL, selectors=[selector])
    assert found.picked == {selector: None}
    assert found.price == Decimal("49.90")
    message = validate_selector(selector)
    assert message and message.startswith("That is not a CSS selector this app can read:")


@pytest.mark.parametrize("selector", ["span.price", "#main > h1 + span:nth-child(2)", "div:not(.x) b, i"])
def test_ordinary_selectors_are_accepted(selector: str) -> None:
    assert validate_selector(selector) is None


def test_selectors_that_would_take_libxml2_minutes_are_cut_short_and_others_still_read() -> None:
    """`*:not(a) *` and `:nth-child` on a page of 100 000 elements: cssselect's own XPath takes
    half a minute there. Read step by step within a budget, a selector that needs more reads
    nothing (as if the layout had changed), and the others on the page are still read."""
    html = page("<div><span>1,00 €</span></div>" * 50_000 + "<p id='last'><b>7,50 €</b></p>")
    selectors = ["* * * * * * * *", "div:nth-child(40000) span", "div ~ p > b", "body > p:last-child b"]
    found = extract(html, URL, selectors=selectors)
    assert found.picked == {
        "* * * * * * * *": None,
        "div:nth-child(40000) span": None,
        "div ~ p > b": PickedReading(Decimal("7.50"), "EUR"),
        "body > p:last-child b": PickedReading(Decimal("7.50"), "EUR"),
    }


def test_a_selector_is_read_once_however_many_watches_remember_it() -> None:
    found = extract(json_ld_page("49.90", "49,90 €"), URL, selectors=["span.price"] * 100 + ["#gone"])
    assert found.picked == {"span.price": PickedReading(Decimal("49.90"), "EUR"), "#gone": None}


def test_an_extraction_with_candidates_and_picks_survives_pickling() -> None:
    found = extract(json_ld_page("49.90", "49,90 €"), URL, selectors=["span.price"], candidates=True)
    copy = pickle.loads(pickle.dumps(found))
    assert isinstance(copy, Extraction)
    assert copy.candidates == found.candidates and isinstance(copy.candidates[0], Candidate)
    assert copy.picked == {"span.price": PickedReading(Decimal("49.90"), "EUR")}


async def test_a_reader_process_reads_remembered_selectors() -> None:
    pool = ExtractorPool(1)
    try:
        found = await pool.read(json_ld_page("49.90", "49,90 €").encode(), URL, None, ["span.price", "#x"])
        plain = await pool.read(json_ld_page("49.90", "49,90 €").encode(), URL, candidates=True)
    finally:
        await pool.close()
    assert found is not None and found.picked == {
        "span.price": PickedReading(Decimal("49.90"), "EUR"),
        "#x": None,
    }
    assert plain is not None and plain.picked == {} and plain.candidates


def test_a_checks_reading_of_a_sure_page_goes_without_candidates_and_is_otherwise_the_same() -> None:
    html = json_ld_page("49.90", "49,90 €")
    checked, shown = extract(html, URL), extract(html, URL, candidates=True)
    assert checked.confidence >= CONFIDENT and checked.candidates == []
    assert shown.candidates and replace(checked, candidates=shown.candidates) == shown


def test_a_checks_reading_of_an_unsure_page_keeps_its_candidates_for_the_language_model() -> None:
    html = json_ld_page("49.90", "64,90 €")
    checked = extract(html, URL)
    assert checked.confidence < CONFIDENT
    assert checked.candidates == extract(html, URL, candidates=True).candidates != []


def test_a_page_without_a_price_keeps_what_it_considered_on_a_check() -> None:
    html = (
        "<html><body><div class='product'><h1>Kettle</h1><span class='price'>ab 39,00 €</span>"
        "<button>Add to cart</button></div></body></html>"
    )
    checked = extract(html, "https://shop.example.de/kettle")
    assert checked.price is None or checked.confidence < CONFIDENT
    assert checked.candidates == extract(html, "https://shop.example.de/kettle", candidates=True).candidates


async def test_a_reader_process_ranks_candidates_when_asked_or_when_unsure() -> None:
    sure, doubtful = json_ld_page("49.90", "49,90 €").encode(), json_ld_page("49.90", "64,90 €").encode()
    pool = ExtractorPool(1)
    try:
        asked = await pool.read(sure, URL, candidates=True)
        checked = await pool.read(sure, URL)
        unsure = await pool.read(doubtful, URL)
    finally:
        await pool.close()
    assert asked is not None and asked.candidates
    assert checked is not None and checked.candidates == [] and checked.price == asked.price
    assert unsure is not None and unsure.confidence < CONFIDENT and unsure.candidates


async def test_a_page_a_person_asked_for_always_has_its_candidates() -> None:
    sure = json_ld_page("49.90", "49,90 €").encode()
    in_thread = await read_requested_page(sure, URL, None)
    pool = ExtractorPool(1)
    use_request_pool(pool)
    try:
        in_pool = await read_requested_page(sure, URL, None, ["span.price"])
    finally:
        use_request_pool(None)
        await pool.close()
    assert in_thread is not None and in_thread.confidence >= CONFIDENT and in_thread.candidates
    assert in_pool is not None and in_pool.candidates == in_thread.candidates
    assert in_pool.picked == {"span.price": PickedReading(Decimal("49.90"), "EUR")}
