"""The product's title on the page, the block around it, and a price written into it.

The title anchors the visible reading: prices and buy buttons are ranked by their distance
to it, and the block a few levels above it is where they are looked for first.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.etree

from cloudtrack_app.tracking.extract.page import text_of
from cloudtrack_app.tracking.extract.visible import (
    MAX_PRICE_TEXT,
    PriceCandidate,
    Surroundings,
    attribute_words,
    looks_like_money,
)

# How far up from the title the product's price is looked for.
REGION_LEVELS = 4


# An element whose own text begins the product's name: the title of a page without an h1.
NAME_TEXTS = lxml.etree.XPath(
    "(//body//*[not(self::script or self::style or self::title or self::option or self::a"
    " or self::li or self::meta)][text()[1][string-length(normalize-space(.)) >= 12"
    " and starts-with($name, normalize-space(.))]])[position() <= 20]"
)
NAME_SUFFIX = re.compile(r"\s+[|–—]\s+.*$|\s+-\s+[^-]*$")
TRAIL_WORDS = re.compile(r"\b(?:breadcrumbs?|crumbs?|nav|menu\w*|header)\b")


def title_by_name(tree: Any, product_name: str) -> Any | None:
    """The first element outside breadcrumbs and menus that shows the product's name."""
    name = " ".join(product_name.split())
    for candidate in (name, NAME_SUFFIX.sub("", name)):
        for element in NAME_TEXTS(tree, name=candidate):
            trail = [element, *(a for a, _ in zip(element.iterancestors(), range(4), strict=False))]
            if not any(TRAIL_WORDS.search(attribute_words(e)) or e.tag == "nav" for e in trail):
                return element
    return None


def find_title(tree: Any, product_name: str | None, *, search_by_name: bool = True) -> Any | None:
    """The product's title: an h1, else (when asked: it costs a search of the whole page)
    the element that shows the product's name."""
    headings = [h for h, _ in zip(tree.iter("h1"), range(10), strict=False) if text_of(h)]
    if not headings:
        return title_by_name(tree, product_name) if product_name and search_by_name else None
    if product_name:
        wanted = product_name.lower()[:40]
        for heading in headings:
            text = text_of(heading).lower()
            if text and (wanted in text or text[:40] in product_name.lower()):
                return heading
    return headings[0]


def title_region(tree: Any, heading: Any | None, levels: int = REGION_LEVELS) -> Any | None:
    """The block around the title that normally holds the price too."""
    if heading is None:
        return None
    region = None
    for level, ancestor in enumerate(heading.iterancestors()):
        if level >= levels or ancestor.tag in ("body", "html"):
            break
        region = ancestor
    return region


TITLE_PARTS = re.compile(r"\s[-–—|/:]\s|[()\[\]]")


def title_price(
    heading: Any | None, surroundings: Surroundings, *, currency_hint: str | None, url: str, lang: str | None
) -> PriceCandidate | None:
    """A price written into the title line, as classified ads do ("Casio FX-991 - $15"):
    the first or last part of the title, with a currency written beside it."""
    if heading is None:
        return None
    text = text_of(heading)
    parts = [p.strip() for p in TITLE_PARTS.split(text) if p and p.strip()]
    if len(parts) < 2 or len(text) > 300:
        return None
    for part in (parts[-1], parts[0]):
        if len(part) < MAX_PRICE_TEXT and looks_like_money(part):
            amount, currency = surroundings.money(part, currency_hint, url, lang)
            if amount and currency:
                return PriceCandidate(
                    amount, currency, 0, 0, was=False, hinted=False, text=part, element=heading
                )
    return None


def html_lang(tree: lxml.etree._Element) -> str | None:
    lang = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    return lang.strip() if lang else None
