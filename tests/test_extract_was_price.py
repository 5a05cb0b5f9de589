"""The "was" price a page claims beside the price to pay: read when it is this product's and
higher, never at the cost of the price itself."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cloudtrack_app.tracking.extract import extract
from tests.test_extract_rules import URL, json_ld, offer, page, product


def with_list_price(
    price: str, listed: Any, currency: str = "EUR", price_type: str = "ListPrice"
) -> dict[str, Any]:
    return {
        **offer(price, currency),
        "priceSpecification": [
            {"@type": "UnitPriceSpecification", "price": price, "priceCurrency": currency},
            {
                "@type": "UnitPriceSpecification",
                "priceType": f"https://schema.org/{price_type}",
                "price": listed,
                "priceCurrency": currency,
            },
        ],
    }


def test_a_structured_list_price_is_the_was_price() -> None:
    found = extract(page(head=json_ld(product(with_list_price("119.40", "199.00")))), URL)
    assert (found.price, found.was_price, found.currency) == (Decimal("119.40"), Decimal("199.00"), "EUR")


def test_a_structured_strikethrough_price_is_the_was_price() -> None:
    data = product(with_list_price("59.00", "79.00", price_type="StrikethroughPrice"))
    assert extract(page(head=json_ld(data)), URL).was_price == Decimal("79.00")


def test_a_list_price_below_the_price_is_no_claim() -> None:
    found = extract(page(head=json_ld(product(with_list_price("119.40", "99.00")))), URL)
    assert (found.price, found.was_price) == (Decimal("119.40"), None)


def test_a_list_price_in_another_currency_is_no_claim() -> None:
    data = with_list_price("119.40", "199.00")
    data["priceSpecification"][1]["priceCurrency"] = "USD"
    found = extract(page(head=json_ld(product(data))), URL)
    assert (found.price, found.was_price) == (Decimal("119.40"), None)


def test_the_struck_through_price_beside_the_shown_price() -> None:
    body = """<div class="product"><h1>Kettle 42</h1>
      <div class="prices"><del>€ 99,00</del> <span class="price">€ 79,00</span></div>
      <button class="add-to-cart">Add to cart</button></div>"""
    found = extract(page(body), URL)
    assert (found.price, found.was_price) == (Decimal("79.00"), Decimal("99.00"))


def test_a_german_uvp_label_is_a_was_price() -> None:
    body = """<div class="product"><h1>Wasserkocher 42</h1>
      <p class="price">129,00 €</p><p class="info">UVP 199,00 €</p>
      <button>In den Warenkorb</button></div>"""
    found = extract(page(body, lang="de"), URL)
    assert (found.price, found.was_price) == (Decimal("129.00"), Decimal("199.00"))


def test_the_structured_price_shown_struck_through_is_the_was_price() -> None:
    head = json_ld(product(offer("219.99")))
    body = """<div class="product"><h1>Kettle 42</h1>
      <span class="original-price">EUR219.99</span> <span class="product-price">EUR110.00</span></div>"""
    found = extract(page(body, head=head), URL)
    assert (found.price, found.was_price) == (Decimal("110.00"), Decimal("219.99"))


def test_a_saving_is_not_a_was_price() -> None:
    body = """<div class="product"><h1>Kettle 42</h1>
      <span class="price">€ 30,00</span> <span class="price saving">You save € 45,00</span>
      <button>Add to cart</button></div>"""
    found = extract(page(body), URL)
    assert (found.price, found.was_price) == (Decimal("30.00"), None)


def test_a_struck_price_in_a_carousel_of_other_products_is_not_the_claim() -> None:
    body = """<div class="product"><h1>Kettle 42</h1><span class="price">€ 45,00</span>
      <button>Add to cart</button></div>
      <section class="related-products carousel">
        <div class="tile"><h3>Toaster</h3><del>€ 95,00</del><span class="price">€ 65,00</span></div>
      </section>"""
    found = extract(page(body), URL)
    assert (found.price, found.was_price) == (Decimal("45.00"), None)


def test_an_implausible_claim_far_above_the_price_is_dropped() -> None:
    found = extract(page(head=json_ld(product(with_list_price("9.00", "990.00")))), URL)
    assert (found.price, found.was_price) == (Decimal("9.00"), None)
    assert any("does not fit" in note for note in found.diagnostics)


def test_a_page_without_a_claim_has_no_was_price() -> None:
    found = extract(page("<h1>Kettle 42</h1><span class='price'>49,90 €</span>"), URL)
    assert (found.price, found.was_price) == (Decimal("49.90"), None)


def test_was_prices_of_several_variants_just_as_near_are_no_claim() -> None:
    body = """<div class="product"><h1>Kettle 42</h1>
      <ul class="sizes"><li><del>€ 120,00</del></li><li><del>€ 33,00</del></li></ul>
      <span class="price">€ 48,50</span><button>Add to cart</button></div>"""
    found = extract(page(body), URL)
    assert (found.price, found.was_price) == (Decimal("48.50"), None)


def test_a_claim_of_less_than_a_percent_is_no_claim() -> None:
    found = extract(page(head=json_ld(product(with_list_price("409.00", "411.00")))), URL)
    assert (found.price, found.was_price) == (Decimal("409.00"), None)
