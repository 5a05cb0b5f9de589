"""Pages built to make extraction slow, each at most 5 MB (the fetcher's limit).

One set, shared by `bench extraction --hostile` (which times them) and
tests/test_extract_hostile.py (which checks that they are read at all): a case added here
is both measured and tested.
"""

from __future__ import annotations

import json

URL = "https://shop.example.com/p/1"
MAX_PAGE_CHARS = 5_000_000


def page(body: str, head: str = "") -> str:
    return (
        f"<!doctype html><html><head><title>x</title>{head}</head><body><h1>Kettle</h1>{body}</body></html>"
    )


def json_ld_blocks(text: str, count: int) -> str:
    return f'<script type="application/ld+json">{text}</script>' * count


def hostile_pages() -> dict[str, str]:
    """Name → page. Built on call: together they are some 40 MB of text."""
    return {
        "100k microdata items": page("<i itemscope itemtype=Thing><b itemprop=n>x</i>" * 100_000),
        "100k items with itemref": page(
            "<b id=r itemprop=name>x</b>" + '<i itemscope itemref="r r"></i>' * 100_000
        ),
        "100k items each itemref to a 30k-element block": page(
            "<div id=r><b itemprop=name>x</b>"
            + "<i>y</i>" * 30_000
            + "</div>"
            + '<i itemscope itemref="r"></i>' * 100_000
        ),
        "itemref cycle between two items": page(
            '<div id=a itemscope itemref="b"><b itemprop=name>x</b></div>'
            '<div id=b itemprop=p itemscope itemref="a"></div>'
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
        "8 nested items over 200k elements": page(
            "<div itemscope itemprop=offers>" * 8 + "<i>x</i>" * 200_000
        ),
        "8 nested items with itemref over 200k elements": page(
            "<b id=r itemprop=sku>1</b>"
            + "<div itemscope itemprop=offers itemref=r>" * 8
            + "<i>x</i>" * 200_000
        ),
        "50k RDFa nodes": page('<i typeof="Thing"><b property=name>x</b></i>' * 50_000),
        "RDFa nested 10k deep": page(
            '<div vocab="http://schema.org/" typeof="Product" property=isRelatedTo>' * 10_000
        ),
        "2000 JSON-LD blocks": page(
            "", json_ld_blocks(json.dumps({"@type": "Thing", "name": "x" * 2000}), 2000)
        ),
        "2000 malformed JSON-LD blocks": page(
            "", json_ld_blocks('{"@type": "Thing", "name": "' + "x" * 2000 + '",}', 2000)
        ),
        "one 4 MB malformed JSON-LD block": page(
            "", json_ld_blocks('{"a": "' + "y" * 4_000_000 + '" oops}', 1)
        ),
        "JSON-LD nested 10k deep": page("", json_ld_blocks("[" * 10_000 + "]" * 10_000 + ",", 1)),
        "elements nested 10k deep": page("<div class=price>" * 10_000 + "€ 5 – € 9"),
        "100k scripts 2k deep": page("<div>" * 2000 + "<script>1</script>" * 100_000),
        "100k price-shaped texts": page("<span>€ 1,00 - € 2,00</span>" * 100_000),
        "100k marked-up price ranges": page('<span class="price">€ 1,00 - € 2,00</span>' * 100_000),
        "50k buy buttons": page("<button class=add-to-cart>Add to cart</button>" * 50_000),
    }


# Remembered selectors that libxml2 would take minutes over, evaluated as cssselect writes
# them (`*:not(a) *` merges node sets pairwise; `:nth-child` counts siblings per element).
HOSTILE_SELECTORS = (
    "*:not(a) *",
    "* * * * * * * *",
    "div:nth-child(40000) span",
    "div:nth-last-of-type(3n+1) ~ div span:only-child",
    "body > div + div ~ div > span:not(.x):first-child",
)


def hostile_picks() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Name → (page, remembered selectors read on it)."""
    return {
        "8 hostile selectors on 100k elements": (
            page("<div><span>x</span></div>" * 50_000),
            (*HOSTILE_SELECTORS, "div:nth-child(7) > span", "span:nth-last-child(1)", "#none"),
        ),
        "8 hostile selectors on elements nested 10k deep": (
            page("<div>" * 10_000 + "<span>x</span>"),
            (*HOSTILE_SELECTORS, "div div div div span", "span:nth-last-child(1)", "#none"),
        ),
    }
