"""Each extraction rule on a small page written for it: what a shopper sees is what we read."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import lxml.html
import pytest

from cloudtrack_app.tracking.extract import extract
from cloudtrack_app.tracking.extract.availability import says_out_of_stock, text_availability
from cloudtrack_app.tracking.extract.structured import json_ld_text
from cloudtrack_app.tracking.extract.visible import buttons_in, mark

URL = "https://shop.example.de/p/kettle-42"


def page(body: str = "", head: str = "", lang: str = "en") -> str:
    return (
        f"<!doctype html><html lang='{lang}'><head><title>Shop</title>{head}</head><body>{body}</body></html>"
    )


def json_ld(data: Any) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def product(offers: Any, **extra: Any) -> dict[str, Any]:
    return {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "Kettle 42",
        "offers": offers,
        **extra,
    }


def offer(
    price: Any, currency: str = "EUR", availability: str = "https://schema.org/InStock"
) -> dict[str, Any]:
    return {"@type": "Offer", "price": price, "priceCurrency": currency, "availability": availability}


# --- structured data ---------------------------------------------------------------------


def test_json_ld_product_with_offer() -> None:
    found = extract(page(head=json_ld(product(offer("49.90")))), URL)
    assert (found.price, found.currency, found.availability) == (Decimal("49.90"), "EUR", "in_stock")
    assert found.source == "json-ld"
    assert found.title == "Kettle 42"
    assert found.confidence >= 0.8


def test_json_ld_graph() -> None:
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "Shop"},
            {"@type": "BreadcrumbList", "itemListElement": []},
            {"@type": "Product", "name": "Kettle 42", "offers": offer("19.99", "GBP")},
        ],
    }
    found = extract(page(head=json_ld(graph)), URL)
    assert (found.price, found.currency) == (Decimal("19.99"), "GBP")


def test_json_ld_top_level_list() -> None:
    found = extract(page(head=json_ld([{"@type": "Organization", "name": "Shop"}, product(offer(25))])), URL)
    assert found.price == Decimal("25")


def test_json_ld_product_nested_in_web_page() -> None:
    document = {"@context": "https://schema.org", "@type": "WebPage", "mainEntity": product(offer("7.50"))}
    found = extract(page(head=json_ld(document)), URL)
    assert found.price == Decimal("7.50")


def test_price_specification_prefers_the_sale_price_over_the_list_price() -> None:
    spec = {
        "@type": "Offer",
        "priceCurrency": "EUR",
        "availability": "InStock",
        "priceSpecification": [
            {"@type": "UnitPriceSpecification", "price": 129.0, "priceType": "https://schema.org/ListPrice"},
            {"@type": "UnitPriceSpecification", "price": 99.0, "priceCurrency": "EUR"},
        ],
    }
    found = extract(page(head=json_ld(product(spec))), URL)
    assert (found.price, found.currency) == (Decimal("99.0"), "EUR")


def test_currency_given_only_in_the_price_specification() -> None:
    spec = {
        "@type": "Offer",
        "price": "12.00",
        "priceSpecification": {"price": "12.00", "priceCurrency": "PLN"},
    }
    assert extract(page(head=json_ld(product(spec))), URL).currency == "PLN"


def test_zero_price_in_data_means_no_price_so_the_page_decides() -> None:
    head = json_ld(product(offer("0.00")))
    found = extract(page("<h1>Kettle 42</h1><span class='price'>19,90 €</span>", head=head), URL)
    assert (found.price, found.source) == (Decimal("19.90"), "html")


def test_aggregate_offer_low_price_with_lower_confidence() -> None:
    aggregate = {
        "@type": "AggregateOffer",
        "lowPrice": "352.00",
        "highPrice": "376.45",
        "priceCurrency": "BYN",
    }
    ranged = extract(page(head=json_ld(product(aggregate))), URL)
    single = extract(page(head=json_ld(product(offer("352.00", "BYN")))), URL)
    assert (ranged.price, ranged.currency) == (Decimal("352.00"), "BYN")
    assert ranged.confidence < single.confidence


def test_product_group_variants_any_in_stock_means_in_stock() -> None:
    group = {
        "@context": "https://schema.org",
        "@type": "ProductGroup",
        "name": "Kettle 42",
        "hasVariant": [
            {
                "@type": "Product",
                "name": "Kettle 42 red",
                "offers": offer("30.00", availability="OutOfStock"),
            },
            {"@type": "Product", "name": "Kettle 42 blue", "offers": offer("30.00", availability="InStock")},
        ],
    }
    found = extract(page(head=json_ld(group)), URL)
    assert (found.price, found.availability) == (Decimal("30.00"), "in_stock")


def test_offers_from_several_sellers_pick_the_one_the_page_shows() -> None:
    offers = [offer("64.00"), offer("59.00"), offer("61.50")]
    body = "<h1>Kettle 42</h1><div class='product-price'>59,00 €</div><button>Add to cart</button>"
    found = extract(page(body, head=json_ld(product(offers))), URL)
    assert found.price == Decimal("59.00")


def test_microdata() -> None:
    body = """
    <div itemscope itemtype="https://schema.org/Product">
      <h1 itemprop="name">Kettle 42</h1>
      <img itemprop="image" src="/img/kettle.jpg">
      <span itemprop="sku">K-42</span>
      <div itemprop="offers" itemscope itemtype="https://schema.org/Offer">
        <meta itemprop="priceCurrency" content="EUR">
        <span itemprop="price" content="39.95">39,95 €</span>
        <link itemprop="availability" href="https://schema.org/OutOfStock">
      </div>
    </div>"""
    found = extract(page(body), URL)
    assert (found.price, found.currency, found.availability) == (Decimal("39.95"), "EUR", "out_of_stock")
    assert found.source == "microdata"
    assert found.sku == "K-42"
    assert found.image == "https://shop.example.de/img/kettle.jpg"


def test_rdfa() -> None:
    body = """
    <div vocab="https://schema.org/" typeof="Product">
      <h1 property="name">Kettle 42</h1>
      <div property="offers" typeof="Offer">
        <span property="priceCurrency" content="CHF">CHF</span>
        <span property="price" content="89.00">89.–</span>
        <link property="availability" href="https://schema.org/InStock">
      </div>
    </div>"""
    found = extract(page(body), URL)
    assert (found.price, found.currency, found.availability) == (Decimal("89.00"), "CHF", "in_stock")
    assert found.source == "rdfa"


def test_opengraph_product_tags() -> None:
    head = """
    <meta property="og:title" content="Kettle 42">
    <meta property="og:image" content="//cdn.example.de/kettle.jpg">
    <meta property="product:price:amount" content="24.50">
    <meta property="product:price:currency" content="EUR">
    <meta property="product:availability" content="oos">"""
    found = extract(page(head=head), URL)
    assert (found.price, found.currency, found.availability) == (Decimal("24.50"), "EUR", "out_of_stock")
    assert found.source == "opengraph"
    assert found.image == "https://cdn.example.de/kettle.jpg"


def test_og_price_amount_spelling() -> None:
    head = '<meta property="og:price:amount" content="1149"><meta property="og:price:currency" content="EUR">'
    assert extract(page(head=head), URL).price == Decimal("1149")


def test_product_facts_title_image_sku_gtin_brand_canonical() -> None:
    data = product(
        offer("10"),
        sku="SKU-1",
        gtin13="4006381333931",
        brand={"@type": "Brand", "name": "Acme"},
        image=["/a.jpg"],
    )
    head = json_ld(data) + '<link rel="canonical" href="/p/kettle-42">'
    found = extract(page(head=head), URL + "?utm_source=x")
    assert (found.sku, found.gtin, found.brand) == ("SKU-1", "4006381333931", "Acme")
    assert found.image == "https://shop.example.de/a.jpg"
    assert found.canonical_url == "https://shop.example.de/p/kettle-42"


def test_canonical_from_og_url() -> None:
    found = extract(page(head='<meta property="og:url" content="https://shop.example.de/p/1">'), URL)
    assert found.canonical_url == "https://shop.example.de/p/1"


# --- what the page shows ---------------------------------------------------------------


def test_visible_price_next_to_title_and_buy_button() -> None:
    body = """
    <header><div class="mini-cart-price">0,00 €</div></header>
    <main><div class="product">
      <h1>Kettle 42</h1>
      <div class="price-box"><span class="price">1.299,95 €</span></div>
      <button class="add-to-cart">In den Warenkorb</button>
    </div></main>"""
    found = extract(page(body, lang="de"), URL)
    assert (found.price, found.currency, found.source) == (Decimal("1299.95"), "EUR", "html")
    assert found.availability == "in_stock"


def test_struck_through_was_price_is_ignored() -> None:
    body = """
    <h1>Kettle 42</h1>
    <div class="prices"><del>€ 99,00</del> <s class="price">€ 98,00</s>
      <span class="price old-price">€ 97,00</span><span class="price">€ 79,00</span></div>"""
    assert extract(page(body), URL).price == Decimal("79.00")


def test_related_products_carousel_is_ignored() -> None:
    body = """
    <div class="product"><h1>Kettle 42</h1><div><span class="price">€ 45,00</span></div></div>
    <section class="related-products carousel">
      <div class="tile"><h3>Toaster</h3><span class="price">€ 5,00</span></div>
      <div class="tile"><h3>Mug</h3><span class="price">€ 3,00</span></div>
    </section>"""
    assert extract(page(body), URL).price == Decimal("45.00")


def test_carousel_before_the_product_is_ignored_too() -> None:
    body = """
    <aside class="recently-viewed"><span class="price">€ 5,00</span></aside>
    <div class="product"><h1>Kettle 42</h1><p class="price">€ 45,00</p></div>"""
    assert extract(page(body), URL).price == Decimal("45.00")


def test_free_shipping_threshold_is_not_the_price() -> None:
    body = """
    <div class="product"><h1>Kettle 42</h1>
      <p class="promo">Free shipping over <span class="price">€ 50,00</span></p>
      <p class="product-price">€ 24,00</p></div>"""
    assert extract(page(body), URL).price == Decimal("24.00")


def test_instalments_are_not_the_price() -> None:
    body = """
    <div class="product"><h1>Kettle 42</h1>
      <span class="price">€ 10,00 / month</span>
      <span class="price">€ 240,00</span></div>"""
    assert extract(page(body), URL).price == Decimal("240.00")


def test_price_split_into_parts_with_a_screen_reader_copy() -> None:
    body = """<div><h1>Kettle 42</h1><div>
      <span class="price text-price" data-strike="true"><span class="sr-only">$39.99</span><span>$39.99</span></span>
      <span class="price"><span class="sr-only">$19.99</span><span aria-hidden="true">
        <span class="price-symbol">$</span><span class="price-whole">19<span>.</span></span><span class="price-fraction">99</span>
      </span></span></div><input type="submit" value="Add to Cart"></div>"""
    found = extract(page(body), "https://shop.example.com/dp/1")
    assert (found.price, found.currency, found.availability) == (Decimal("19.99"), "USD", "in_stock")


def test_price_text_without_price_markup_near_the_title() -> None:
    body = "<div><h1>Kettle 42</h1><div><b>£34.99</b></div><button>Add to basket</button></div>"
    found = extract(page(body), "https://shop.example.co.uk/p/1")
    assert (found.price, found.currency) == (Decimal("34.99"), "GBP")


def test_structured_price_shown_struck_through_loses_to_the_shown_price() -> None:
    head = json_ld(product(offer("219.99")))
    body = """<div class="product"><h1>Kettle 42</h1>
      <span class="original-price">EUR219.99</span> <span class="product-price">EUR110.00</span></div>"""
    found = extract(page(body, head=head), URL)
    assert (found.price, found.source) == (Decimal("110.00"), "html")
    assert any("struck" in note for note in found.diagnostics)


def test_structured_price_confirmed_by_the_page_is_trusted_most() -> None:
    head = json_ld(product(offer("49.90")))
    shown = extract(page("<h1>Kettle 42</h1><span class='price'>49,90 €</span>", head=head), URL)
    unseen = extract(page("<h1>Kettle 42</h1>", head=head), URL)
    assert shown.price == unseen.price == Decimal("49.90")
    assert shown.confidence > unseen.confidence


def test_structured_price_the_page_does_not_show_loses_to_the_price_next_to_the_title() -> None:
    head = json_ld(product(offer("59.00")))
    body = "<div class='product'><h1>Kettle 42</h1><div class='price'>54,00 €</div></div>"
    found = extract(page(body, head=head), URL)
    assert (found.price, found.source) == (Decimal("54.00"), "html")


@pytest.mark.parametrize(
    "shown",
    [
        "<span class='price'>49<sup>99</sup> €</span>",  # read as 4999: the same digits
        "<span class='price'>69,00 €</span>",  # higher than the data: not a markdown
        "<span class='price'>2,50 €</span>",  # a fraction of it: an accessory, a deposit
    ],
)
def test_structured_price_stands_against_implausible_page_prices(shown: str) -> None:
    head = json_ld(product(offer("49.99")))
    found = extract(page(f"<div class='product'><h1>Kettle 42</h1>{shown}</div>", head=head), URL)
    assert (found.price, found.source) == (Decimal("49.99"), "json-ld")


# --- currency ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "lang", "currency"),
    [
        ("https://shop.example.ca/p/1", "en", "CAD"),
        ("https://shop.example.com/p/1", "en-AU", "AUD"),
        ("https://shop.example.com/p/1", "en", "USD"),
        ("https://shop.example.com.mx/p/1", "es", "MXN"),
    ],
)
def test_dollar_sign_means_the_shops_dollar(url: str, lang: str, currency: str) -> None:
    body = "<h1>Kettle 42</h1><span class='price'>$ 19.99</span>"
    assert extract(page(body, lang=lang), url).currency == currency


@pytest.mark.parametrize(
    ("url", "currency"),
    [("https://butik.se/p", "SEK"), ("https://butik.dk/p", "DKK"), ("https://butik.no/p", "NOK")],
)
def test_kronor_by_domain(url: str, currency: str) -> None:
    found = extract(page("<h1>Kettle 42</h1><span class='price'>1 299 kr</span>"), url)
    assert (found.price, found.currency) == (Decimal("1299"), currency)


def test_yen_sign_in_chinese_is_yuan() -> None:
    body = "<h1>Kettle 42</h1><span class='price'>¥1,200</span>"
    assert extract(page(body, lang="zh-CN"), "https://shop.example.com/p").currency == "CNY"
    assert extract(page(body, lang="ja"), "https://shop.example.jp/p").currency == "JPY"


def test_price_currency_code_wins_over_symbols() -> None:
    found = extract(page(head=json_ld(product(offer("11.19", "GBP")))), "https://www.ebay.ca/itm/1")
    assert found.currency == "GBP"


def test_zero_decimal_currency_thousands_separator() -> None:
    found = extract(page(head=json_ld(product(offer("24.990", "CLP")))), "https://tienda.cl/p")
    assert (found.price, found.currency) == (Decimal("24990"), "CLP")


# --- stock -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "availability", "raw"),
    [
        ("http://schema.org/InStock", "in_stock", "InStock"),
        ("https://schema.org/OutOfStock", "out_of_stock", "OutOfStock"),
        ("InStock", "in_stock", "InStock"),
        ("instock", "in_stock", "InStock"),
        ("schema:SoldOut", "out_of_stock", "SoldOut"),
        ("Discontinued", "out_of_stock", "Discontinued"),
        ("LimitedAvailability", "in_stock", "LimitedAvailability"),
        ("OnlineOnly", "in_stock", "OnlineOnly"),
        ("https://schema.org/InStoreOnly", "in_stock", "InStoreOnly"),
        ("PreOrder", "in_stock", "PreOrder"),
        ("http://schema.org/BackOrder", "out_of_stock", "BackOrder"),
    ],
)
def test_schema_availability_values(value: str, availability: str, raw: str) -> None:
    found = extract(page(head=json_ld(product(offer("5", availability=value)))), URL)
    assert (found.availability, found.availability_raw) == (availability, raw)


@pytest.mark.parametrize(
    ("text", "availability"),
    [
        ("Out of stock", "out_of_stock"),
        ("Sold out", "out_of_stock"),
        ("Ausverkauft", "out_of_stock"),
        ("Derzeit nicht verfügbar", "out_of_stock"),
        ("Épuisé", "out_of_stock"),
        ("Rupture de stock", "out_of_stock"),
        ("Agotado", "out_of_stock"),
        ("Esaurito", "out_of_stock"),
        ("Niet op voorraad", "out_of_stock"),
        ("Brak w magazynie", "out_of_stock"),
        ("Slutsåld", "out_of_stock"),
        ("Udsolgt", "out_of_stock"),
        ("Utsolgt", "out_of_stock"),
        ("Nedostupné", "out_of_stock"),
        ("Нет в наличии", "out_of_stock"),
        ("品切れ", "out_of_stock"),
        ("Not in stock", "out_of_stock"),
        ("In stock", "in_stock"),
        ("Auf Lager", "in_stock"),
        ("En stock", "in_stock"),
        ("В наличии", "in_stock"),
        ("Skladem", "in_stock"),
    ],
)
def test_stock_in_words_of_many_languages(text: str, availability: str) -> None:
    body = f"<div class='product'><h1>Kettle 42</h1><span class='price'>9,99 €</span><p class='availability'>{text}</p></div>"
    found = extract(page(body), URL)
    assert found.availability == availability
    assert found.availability_raw


@pytest.mark.parametrize(
    ("text", "sold_out"),
    [
        ("Sold out", True),
        ("  OUT OF\n  STOCK ", True),
        ("Not in stock", True),
        ("Ausverkauft", True),
        ("Épuisé", True),
        ("Нет в наличии", True),
        ("品切れ", True),
        ("Add to cart", False),
        ("In stock", False),
        ("Auf Lager", False),
        ("Soldout deals", False),  # a phrase only as a whole word
        ("", False),
    ],
)
def test_says_out_of_stock_agrees_with_text_availability(text: str, sold_out: bool) -> None:
    assert says_out_of_stock(text) is sold_out
    found = text_availability(text)
    assert (found is not None and found[1] == "out_of_stock") is sold_out


def test_enabled_add_to_cart_button_means_in_stock() -> None:
    body = "<div><h1>Kettle 42</h1><form><button type='submit'>Add to cart</button></form></div>"
    assert extract(page(body), URL).availability == "in_stock"


def test_sold_out_button_means_out_of_stock() -> None:
    body = "<div><h1>Kettle 42</h1><button class='btn' disabled>Sold out</button></div>"
    assert extract(page(body), URL).availability == "out_of_stock"


def test_silence_is_unknown_never_in_stock() -> None:
    body = "<div><h1>Kettle 42</h1><span class='price'>9,99 €</span></div>"
    assert extract(page(body), URL).availability == "unknown"
    assert extract(page(head=json_ld(product(offer("5", availability="")))), URL).availability == "unknown"


def test_page_overrules_stale_in_stock_data_when_buy_button_is_off() -> None:
    head = json_ld(product(offer("54.50")))
    body = """<div class="product"><h1>Kettle 42</h1>
      <ul class="availability-box"><li><strong>Momentan nicht verfügbar</strong></li></ul>
      <span class="price">54,50 €</span>
      <button class="to-basket" disabled>In den Warenkorb</button></div>"""
    found = extract(page(body, head=head), URL)
    assert found.availability == "out_of_stock"


def test_one_sold_out_size_does_not_make_the_product_sold_out() -> None:
    head = json_ld(product([offer("20", availability="OutOfStock"), offer("20", availability="InStock")]))
    assert extract(page(head=head), URL).availability == "in_stock"


# --- stock from the main product's buy box (shops never seen in development) --------------

SIDE_WIDGETS = {
    "other sellers": "<div class='other-sellers'><p class='stock'>Currently unavailable</p></div>",
    "a sibling variant": "<ul class='sibling-products'><li><span class='stock'>Out of stock</span></li></ul>",
    "an accessory": "<section class='accessories'><p class='availability'>Sold out</p></section>",
    "recommendations": "<div class='recommendations'><span class='stock-label'>Nicht verfügbar</span></div>",
    "a carousel": "<div class='carousel'><div class='item'><span class='stock'>Épuisé</span></div></div>",
    "marketplace offers": "<div id='marketplace-offers'><b class='availability'>Agotado</b></div>",
}


@pytest.mark.parametrize("widget", SIDE_WIDGETS.values(), ids=SIDE_WIDGETS.keys())
def test_a_side_widget_saying_unavailable_does_not_make_the_product_unavailable(widget: str) -> None:
    body = f"""<main><div class="product"><h1>Kettle 42</h1><span class="price">€ 45,00</span>
      <button class="btn">Add to cart</button></div>{widget}</main>"""
    assert extract(page(body), URL).availability == "in_stock"


def test_a_stock_note_the_buy_button_contradicts_is_never_read_as_out_of_stock() -> None:
    # The note is not in a widget we can name, but the product's own button works.
    body = """<div class="product"><h1>Kettle 42</h1><span class="price">€ 45,00</span>
      <form action="/cart/add"><button>Add to cart</button></form>
      <div class="box"><div><div><p class="stock">Out of stock</p></div></div></div></div>"""
    assert extract(page(body), URL).availability in ("in_stock", "unknown")


def test_stale_out_of_stock_data_loses_to_an_enabled_buy_button() -> None:
    head = json_ld(product(offer("54.50", availability="https://schema.org/OutOfStock")))
    body = """<div class="product"><h1>Kettle 42</h1><span class="price">54,50 €</span>
      <p class="availability"><span>Online auf Lager</span></p>
      <button class="mms-button"><span>In den Warenkorb</span></button></div>"""
    found = extract(page(body, head=head, lang="de"), URL)
    assert found.availability == "in_stock"
    assert any("enabled buy button" in note for note in found.diagnostics)


def test_out_of_stock_data_with_a_disabled_buy_button_stays_out_of_stock() -> None:
    head = json_ld(product(offer("54.50", availability="https://schema.org/OutOfStock")))
    body = """<div class="product"><h1>Kettle 42</h1><span class="price">54,50 €</span>
      <button class="add-to-cart" disabled>Add to cart</button></div>"""
    assert extract(page(body, head=head), URL).availability == "out_of_stock"


HIDDEN_NOTICES = {
    "hidden by class": "<div id='outOfStock' class='a-section a-hidden'><span class='stock'>Currently unavailable</span></div>",
    "hidden by style": "<div style='display: none'><p class='availability'>Out of stock</p></div>",
    "hidden attribute": "<p class='stock-note' hidden>Sold out</p>",
}


@pytest.mark.parametrize("notice", HIDDEN_NOTICES.values(), ids=HIDDEN_NOTICES.keys())
def test_a_hidden_sold_out_notice_kept_for_later_is_not_read(notice: str) -> None:
    body = f"""<div class="product"><h1>Kettle 42</h1><span class="price">€ 45,00</span>{notice}
      <button id="add-to-cart-button">Add to cart</button></div>"""
    assert extract(page(body), URL).availability == "in_stock"


def test_a_hidden_buy_button_kept_for_later_is_not_evidence_of_stock() -> None:
    head = json_ld(product(offer("45.00", availability="https://schema.org/OutOfStock")))
    body = """<div class="product"><h1>Kettle 42</h1><span class="price">€ 45,00</span>
      <div class="buy-box hidden"><button class="add-to-cart">Add to cart</button></div></div>"""
    assert extract(page(body, head=head), URL).availability == "out_of_stock"


def test_a_button_hidden_on_phones_only_still_counts() -> None:
    body = """<div class="product"><h1>Kettle 42</h1><span class="price">€ 45,00</span>
      <button class="add-to-cart hidden-xs">Add to cart</button></div>"""
    assert extract(page(body), URL).availability == "in_stock"


BUY_CONTROLS = {
    "English text": "<button>Add to bag</button>",
    "German text": "<button type='submit'><span>In den Warenkorb</span></button>",
    "Turkish text": "<button>Sepete Ekle</button>",
    "Japanese text": "<button>カートに入れる</button>",
    "name attribute": "<button name='add-to-cart' value='42'><i class='icon'></i></button>",
    "id token": "<button id='buy-now'><img src='cart.svg' alt=''></button>",
    "class token": "<button class='btn-cart'>→</button>",
    "image input": "<input type='image' class='addtocart' src='buy.png'>",
    "form posting to the cart": "<form action='/checkout/cart/add/42' method='post'><button>OK</button></form>",
}


@pytest.mark.parametrize("control", BUY_CONTROLS.values(), ids=BUY_CONTROLS.keys())
def test_a_plain_buy_control_means_in_stock_not_unknown(control: str) -> None:
    body = f"<div class='product'><h1>Kettle 42</h1><span class='price'>€ 45,00</span>{control}</div>"
    assert extract(page(body), URL).availability == "in_stock"


def test_a_buy_link_counts_even_where_the_page_has_other_buttons() -> None:
    body = """<header><form action="/search"><button>Search</button></form></header>
      <div class="product"><h1>Kettle 42</h1><span class="price">€ 45,00</span>
      <a href="/checkout/cart/add?product=42" class="btn btn-primary">In den Warenkorb</a></div>"""
    assert extract(page(body, lang="de"), URL).availability == "in_stock"


def test_a_buy_button_in_a_column_of_its_own_beside_the_title_block_counts() -> None:
    # The price is looked for four levels above the title, the buy button seven.
    title_block = "<div><div><div><h1>Kettle 42</h1><span class='price'>€ 45,00</span></div></div></div>"
    body = f"""<div class="page"><div class="row"><div class="col">{title_block}</div>
      <div class="col"><button class="add-to-cart" disabled>Sold out</button></div></div></div>"""
    assert extract(page(body), URL).availability == "out_of_stock"


def test_mark_takes_buttons_already_found_instead_of_searching_again() -> None:
    tree = lxml.html.fromstring("<div><button>Add to cart</button><span class='price'>€ 5</span></div>")
    wider = lxml.html.fromstring("<div><input type='submit' value='Buy'></div>")
    given = buttons_in(wider)
    assert mark(tree, money_texts=False, buttons=given).buttons is given
    assert [e.tag for e in mark(tree, money_texts=False).buttons] == ["button"]


DISABLED_CONTROLS = {
    "disabled attribute": "<button class='add-to-cart' disabled>Add to cart</button>",
    "aria-disabled": "<button class='add-to-cart' aria-disabled='true'>Add to cart</button>",
}


@pytest.mark.parametrize("control", DISABLED_CONTROLS.values(), ids=DISABLED_CONTROLS.keys())
def test_a_disabled_buy_control_is_not_evidence_of_stock(control: str) -> None:
    body = f"<div class='product'><h1>Kettle 42</h1><span class='price'>€ 45,00</span>{control}</div>"
    assert extract(page(body), URL).availability != "in_stock"


# --- the price to pay, not another amount ---------------------------------------------------

OTHER_AMOUNTS = {
    "per kilo": ("<span class='price'>€ 3,20/kg</span>", "16.00"),
    "per 100 g": ("<span class='price'>(€ 1,60 / 100 g)</span>", "16.00"),
    "per litre": ("<span class='price'>€ 12,50 per litre</span>", "16.00"),
    "unit price label": ("<span class='price'>Grundpreis: 3,20 €</span>", "16.00"),
    "instalments n x": ("<span class='price'>4 x <b>4,00 €</b></span>", "16.00"),
    "instalments per month": ("<span class='price'>from 2 €/month</span>", "16.00"),
    "instalments in words": ("<span class='price'>o 3 cuotas de <b>5,33 €</b></span>", "16.00"),
    "a from price": ("<span class='price'>from € 9,00</span>", "16.00"),
    "a list price": ("<span class='price list-price'>€ 19,00</span>", "16.00"),
    "an original price": ("<span class='prc-org'>€ 19,00</span>", "16.00"),
}


@pytest.mark.parametrize(("other", "to_pay"), OTHER_AMOUNTS.values(), ids=OTHER_AMOUNTS.keys())
def test_the_price_to_pay_wins_over_other_amounts(other: str, to_pay: str) -> None:
    body = f"<div class='product'><h1>Kettle 42</h1>{other}<span class='price'>€ 16,00</span></div>"
    assert extract(page(body), URL).price == Decimal(to_pay)


def test_a_price_laid_out_in_blocks_beside_a_recommended_price() -> None:
    body = """<div class="product"><h1>Kettle 42</h1><div class="pricelabel">
      <div class="pricelabel__top"><span>UVP.:</span> <span class="pricelabel__rrp">499.00</span></div>
      <div class="pricelabel__middle">
        <div class="pricelabel__integer">319</div>
        <div class="pricelabel__separator">.</div>
        <div class="pricelabel__decimal">00</div>
        <div class="pricelabel__asterisk">*</div></div></div></div>"""
    found = extract(page(body, lang="de"), "https://shop.example.de/p/1")
    assert (found.price, found.currency) == (Decimal("319.00"), "EUR")


def test_a_block_holding_only_a_was_price_is_a_was_price() -> None:
    body = """<div class="product"><h1>Kettle 42</h1>
      <div class="priceOther"><div class="old-price2"><span>€</span><span>109,</span><span>00</span></div></div>
      <div class="actionprice"><span>€</span><span>89,</span><span>90</span></div></div>"""
    assert extract(page(body), URL).price == Decimal("89.90")


def test_a_price_in_a_lightbox_is_not_the_products() -> None:
    body = """<div class="product"><h1>Kettle 42</h1>
      <div class="LightboxContent"><h2>Repair service</h2><h2>29,00 €</h2></div>
      <div class="box"><div><div class="low-price">249,00 €</div></div></div></div>"""
    assert extract(page(body), URL).price == Decimal("249.00")


def test_the_price_of_an_option_ticked_beside_it_is_not_the_products() -> None:
    body = """<div class="product"><h1>Kettle 42</h1>
      <fieldset><input type="checkbox" id="plan"><span>Koruma Sigortası <b>€ 19,99</b></span></fieldset>
      <div class="buy"><div><div><b>€ 149,00</b></div></div></div></div>"""
    assert extract(page(body), URL).price == Decimal("149.00")


def test_a_from_price_is_read_when_it_is_the_only_price() -> None:
    body = "<div class='product'><h1>Kettle 42</h1><span class='price'>from € 9,00</span></div>"
    assert extract(page(body), URL).price == Decimal("9.00")


def test_an_auction_reads_the_current_bid_not_the_estimate() -> None:
    body = """<div class="lot"><h1>Art deco vase</h1>
      <div class="price">Estimate: $200</div><div class="price">Current bid: $150</div></div>"""
    assert extract(page(body), "https://auctions.example.com/lot/7").price == Decimal("150")


def test_a_classified_ad_with_its_price_in_the_title_line() -> None:
    body = "<div class='ad'><h1>Casio FX-991ES calculator - $15</h1><p>Barely used.</p></div>"
    found = extract(page(body), "https://classifieds.example.ca/ad/1")
    assert (found.price, found.currency) == (Decimal("15"), "CAD")


def test_a_number_in_the_title_without_a_currency_is_not_a_price() -> None:
    body = "<div class='ad'><h1>Casio FX-991ES - 2</h1><p>Barely used.</p></div>"
    assert extract(page(body), "https://classifieds.example.ca/ad/1").price is None


# --- separators, digits and superscript cents ---------------------------------------------

SHOWN_AMOUNTS = {
    "CLP dot groups": ("https://tienda.example.cl/p/1", "es-CL", "<span class='price'>$24.990</span>", "24990", "CLP"),
    "ARS dot groups": ("https://tienda.example.com.ar/p/1", "es-AR", "<span class='price'>$24.990</span>", "24990", "ARS"),
    "KRW comma groups": ("https://shop.example.kr/p/1", "ko", "<span class='price'>28,800원</span>", "28800", "KRW"),
    "KRW won sign without price markup": ("https://shop.example.kr/p/1", "ko", "<b>28,800원</b>", "28800", "KRW"),
    "euro with a footnote mark": ("https://shop.example.de/p/1", "de", "<div class='price'>1.333,00 €<sup>1</sup></div>", "1333.00", "EUR"),
    "euro with a hidden note": (
        "https://shop.example.de/p/1", "de",
        "<div class='price'>€<span>1.333,</span><span>00</span><div style='display:none'>1</div></div>",
        "1333.00", "EUR",
    ),
    "superscript cents": ("https://shop.example.com/p/1", "en", "<div class='price'>$99<sup>99</sup></div>", "99.99", "USD"),
    "superscript cents after dot groups": (
        "https://shop.example.de/p/1", "de", "<div class='price'>1.299<sup>99</sup> €</div>", "1299.99", "EUR"
    ),
    "superscript cents after a comma": ("https://shop.example.fr/p/1", "fr", "<div class='price'>49,<sup>95</sup> €</div>", "49.95", "EUR"),
    "Turkish lira as TL": ("https://shop.example.com.tr/p/1", "tr", "<b>1.249,90 TL</b>", "1249.90", "TRY"),
    "JSON-LD sign settles the dollar": ("https://shop.example.com/p/1", "en", "", "24990", "CLP"),
}  # fmt: skip


@pytest.mark.parametrize(
    ("url", "lang", "shown", "amount", "currency"), SHOWN_AMOUNTS.values(), ids=SHOWN_AMOUNTS.keys()
)
def test_amounts_read_as_the_shop_writes_them(
    url: str, lang: str, shown: str, amount: str, currency: str
) -> None:
    head = json_ld(product(offer("24990", "CLP"))) if not shown else ""
    shown = shown or "<span class='price'>$24.990</span>"
    body = f"<div class='product'><h1>Kettle 42</h1>{shown}</div>"
    found = extract(page(body, head=head, lang=lang), url)
    assert (found.price, found.currency) == (Decimal(amount), currency)


# --- microdata itemref ----------------------------------------------------------------------


def test_microdata_itemref_brings_in_the_offer_written_elsewhere() -> None:
    body = """
    <div itemscope itemtype="https://schema.org/Product" itemref="buy-box maker">
      <h1 itemprop="name">Kettle 42</h1></div>
    <aside><div id="maker"><span itemprop="brand">Acme</span></div></aside>
    <div id="buy-box" itemprop="offers" itemscope itemtype="https://schema.org/Offer">
      <meta itemprop="price" content="12.50"><meta itemprop="priceCurrency" content="EUR">
      <link itemprop="availability" href="https://schema.org/OutOfStock"></div>"""
    found = extract(page(body), URL)
    assert (found.price, found.currency, found.availability) == (Decimal("12.50"), "EUR", "out_of_stock")
    assert (found.brand, found.source) == ("Acme", "microdata")
    assert not any("extruct" in note for note in found.diagnostics)


def test_itemref_does_not_reach_into_an_item_nested_in_the_referenced_block() -> None:
    body = """
    <div itemscope itemtype="https://schema.org/Product" itemref="more">
      <h1 itemprop="name">Kettle 42</h1></div>
    <div id="more"><div itemprop="offers" itemscope itemtype="https://schema.org/Offer">
        <meta itemprop="price" content="12.50"><meta itemprop="priceCurrency" content="EUR"></div>
      <div itemscope itemtype="https://schema.org/Product"><span itemprop="name">Mug</span>
        <meta itemprop="sku" content="MUG-1"></div></div>"""
    found = extract(page(body), URL)
    assert (found.price, found.title) == (Decimal("12.50"), "Kettle 42")
    assert found.sku is None


def test_an_offer_without_a_product_around_it_is_read() -> None:
    body = """<div class="product"><h1>Kettle 42</h1>
      <div itemprop="offers" itemscope itemtype="http://schema.org/Offer">
        <span class="price">64,50</span><meta itemprop="priceCurrency" content="EUR">
        <span itemprop="price" class="d-none">64.5</span></div></div>"""
    found = extract(page(body), "https://shop.example.nl/p/1")
    assert (found.price, found.currency) == (Decimal("64.5"), "EUR")


def test_data_vocabulary_offer_names_its_currency_currency() -> None:
    body = """<h1>Kettle 42</h1><div itemscope itemtype="http://data-vocabulary.org/Offer">
      <meta itemprop="price" content="1333.00"><meta itemprop="currency" content="EUR"></div>"""
    found = extract(page(body), "https://shop.example.com/p/1")
    assert (found.price, found.currency) == (Decimal("1333.00"), "EUR")


# --- retired currency codes -----------------------------------------------------------------

RETIRED = {"RUR": "RUB", "BYR": "BYN", "VEF": "VES", "MRO": "MRU", "STD": "STN", "TRL": "TRY"}


@pytest.mark.parametrize(("old", "new"), RETIRED.items(), ids=RETIRED.keys())
def test_a_retired_code_of_a_renamed_currency_is_read_as_todays_code(old: str, new: str) -> None:
    assert extract(page(head=json_ld(product(offer("1500", old)))), URL).currency == new
    shown = f"<div class='product'><h1>Kettle 42</h1><span class='price'>{old} 1 500</span></div>"
    assert (extract(page(shown), URL).price, extract(page(shown), URL).currency) == (Decimal("1500"), new)


def test_a_euro_adoption_is_not_a_rename() -> None:
    # 100 litas were never 100 euros: the old code stays what it is.
    assert extract(page(head=json_ld(product(offer("100", "LTL")))), URL).currency == "LTL"


def test_the_page_title_element_is_found_without_an_h1() -> None:
    head = '<meta property="og:title" content="Colossal Mascara 30114319 | Shop">'
    body = """<nav class="breadcrumb"><span>Colossal Mascara 30114319</span></nav>
      <div class="pr"><div class="pr-nm">Colossal Mascara 30114319</div>
      <div class="pr-bx"><span class="prc-org">59,90 TL</span><span class="prc-slg">29,95 TL</span></div></div>
      <div class="recommendations"><span>12,00 TL</span></div>"""
    found = extract(page(body, head=head, lang="tr"), "https://shop.example.com.tr/p/1")
    assert (found.price, found.currency) == (Decimal("29.95"), "TRY")


# --- robustness --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [("<!--", "-->"), ("<![CDATA[", "]]>"), ("\n  <!--\n", "\n-->\n "), ("<!--", ""), ("", "]]>")],
)
def test_json_ld_wrapped_in_a_comment_or_cdata_is_read(before: str, after: str) -> None:
    data = json.dumps(product(offer("5.00")))
    found = extract(page(head=f'<script type="application/ld+json">{before}{data}{after}</script>'), URL)
    assert (found.price, found.source) == (Decimal("5.00"), "json-ld")


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ('{"a": "<!-- x -->"}', '{"a": "<!-- x -->"}'),  # markers inside the JSON stay
        ('  [1, "]]>"]  ', '[1, "]]>"]'),
        ('<!-- {"a": 1} -->', ' {"a": 1} '),
        ('<![CDATA[{"a": 1}]]>', '{"a": 1}'),
        ("", ""),
    ],
)
def test_json_ld_text_removes_only_a_wrapper_at_the_ends(text: str, read: str) -> None:
    script = lxml.html.Element("script")
    script.text = text
    assert json_ld_text(script) == read


def test_json_ld_with_trailing_commas_and_comments_is_still_read() -> None:
    broken = '<script type="application/ld+json">{"@type": "Product", "name": "K", // note\n "offers": {"price": "5.00", "priceCurrency": "EUR",},}</script>'
    found = extract(page(head=broken), URL)
    assert found.price == Decimal("5.00")


def test_lenient_json_ld_reading_leaves_text_inside_strings_alone() -> None:
    # The trailing commas make the strict parser give up; the lenient one must not take
    # ", ]" and " ,}" inside the strings for trailing commas too.
    broken = (
        '<script type="application/ld+json">{"@type": "Product", "name": "Kettle ,} 42",'
        ' "description": "lid, ], base", "offers": {"price": "5.00", "priceCurrency": "EUR",},}</script>'
    )
    found = extract(page(head=broken), URL)
    assert (found.price, found.currency, found.source) == (Decimal("5.00"), "EUR", "json-ld")
    assert found.title == "Kettle ,} 42"


def test_hopeless_json_ld_is_reported_and_the_page_still_read() -> None:
    body = "<h1>Kettle 42</h1><span class='price'>9,99 €</span>"
    found = extract(
        page(body, head='<script type="application/ld+json">{"@type": "Product", "offers": [</script>'), URL
    )
    assert found.price == Decimal("9.99")
    assert any("JSON-LD" in note for note in found.diagnostics)


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x00\x01\x02\xff" * 1000,
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 50,
        "",
        "   ",
        "<<<>>>",
        "\x00",
    ],
)
def test_junk_gives_an_empty_reading_not_an_exception(junk: str | bytes) -> None:
    found = extract(junk, URL)
    assert found.price is None
    assert found.availability == "unknown"


def test_wrong_types_do_not_raise() -> None:
    found = extract(None, None)  # type: ignore[arg-type]
    assert found.price is None
    assert found.diagnostics


def test_declared_latin1_page_that_is_really_utf8() -> None:
    html = page("<h1>Café 42</h1><span class='price'>1.299,95 €</span>", head='<meta charset="iso-8859-1">')
    found = extract(html.encode("utf-8"), URL)
    assert found.title == "Café 42"
    assert (found.price, found.currency) == (Decimal("1299.95"), "EUR")


def test_undeclared_windows_1252_page() -> None:
    html = page("<h1>Café 42</h1><span class='price'>12,50 €</span>")
    found = extract(html.encode("cp1252"), URL)
    assert found.title == "Café 42"
    assert (found.price, found.currency) == (Decimal("12.50"), "EUR")


def test_windows_1252_page_that_claims_utf8() -> None:
    html = page("<h1>Café 42</h1><span class='price'>12,50 €</span>", head='<meta charset="utf-8">')
    found = extract(html.encode("cp1252"), URL)
    assert found.title == "Café 42"
    assert (found.price, found.currency) == (Decimal("12.50"), "EUR")
    assert any("declares UTF-8" in note for note in found.diagnostics)


def test_bytes_and_text_read_alike() -> None:
    html = page(
        "<h1>Kettle 42</h1><span class='price'>9,99 €</span>", head='<?xml version="1.0" encoding="utf-8"?>'
    )
    from_text, from_bytes = extract(html, URL), extract(html.encode("utf-8"), URL)
    assert from_text.price == from_bytes.price == Decimal("9.99")


def test_huge_page_is_read() -> None:
    filler = "<div class='row'><span>lorem ipsum</span></div>" * 40000
    found = extract(page(filler + "<h1>Kettle 42</h1><span class='price'>9,99 €</span>"), URL)
    assert found.price == Decimal("9.99")
