"""Stock state: schema.org values and what the page says in words, in many languages.

Mapping decisions (schema.org ItemAvailability):
- InStock, LimitedAvailability, OnlineOnly, InStoreOnly, MadeToOrder → in_stock.
- PreOrder, PreSale → in_stock: the item can be ordered now at this price, and it is the
  only way it can be bought, so a restock watch on it would otherwise never fire.
- BackOrder → out_of_stock: the shop itself says it has none and ships "when available".
- OutOfStock, SoldOut, Discontinued, Reserved → out_of_stock.
The raw value is kept in `availability_raw` so callers can tell PreOrder from InStock.
"""

from __future__ import annotations

import re
import unicodedata

from cloudtrack_app.tracking.extract._phrases import (
    ADD_TO_CART_PHRASES,
    IN_STOCK_PHRASES,
    OUT_OF_STOCK_PHRASES,
)

IN_STOCK = "in_stock"
OUT_OF_STOCK = "out_of_stock"
UNKNOWN = "unknown"

SCHEMA_AVAILABILITY: dict[str, tuple[str, str]] = {
    "instock": ("InStock", IN_STOCK),
    "limitedavailability": ("LimitedAvailability", IN_STOCK),
    "onlineonly": ("OnlineOnly", IN_STOCK),
    "instoreonly": ("InStoreOnly", IN_STOCK),
    "madetoorder": ("MadeToOrder", IN_STOCK),
    "preorder": ("PreOrder", IN_STOCK),
    "presale": ("PreSale", IN_STOCK),
    "backorder": ("BackOrder", OUT_OF_STOCK),
    "outofstock": ("OutOfStock", OUT_OF_STOCK),
    "soldout": ("SoldOut", OUT_OF_STOCK),
    "discontinued": ("Discontinued", OUT_OF_STOCK),
    "reserved": ("Reserved", OUT_OF_STOCK),
    # OpenGraph / Facebook catalogue spellings.
    "oos": ("OutOfStock", OUT_OF_STOCK),
    "availablefororder": ("PreOrder", IN_STOCK),
    "available": ("InStock", IN_STOCK),
    "unavailable": ("OutOfStock", OUT_OF_STOCK),
}


def schema_availability(value: object) -> tuple[str, str] | None:
    """(raw schema name, in_stock|out_of_stock) for `http://schema.org/InStock`, `InStock`,
    `schema:in_stock`, `in stock`…; None for values that are not availability words."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 100:
        return None
    last = re.split(r"[/#:]", text.rstrip("/"))[-1]
    key = re.sub(r"[\s_\-]", "", last).lower()
    return SCHEMA_AVAILABILITY.get(key)


class PhraseList:
    """Finds any of many phrases in short lower-cased texts. One plain alternation, with
    word boundaries checked on each hit: lookarounds in every branch cost ten times more."""

    def __init__(self, phrases: list[str]) -> None:
        branches = [
            phrase if "(" in phrase else re.escape(phrase.lower())
            for phrase in sorted(phrases, key=len, reverse=True)
        ]
        self.pattern = re.compile("|".join(branches))

    def find(self, text: str) -> str | None:
        lowered = " ".join(text.lower().split())
        position = 0
        while True:
            found = self.pattern.search(lowered, position)
            if found is None:
                return None
            start, end = found.span()
            phrase = found.group(0)
            spaced = all(
                unicodedata.category(ch)[0] != "L" or ord(ch) < 0x3000 for ch in phrase[:1] + phrase[-1:]
            )
            if not spaced or (
                (start == 0 or not lowered[start - 1].isalnum())
                and (end == len(lowered) or not lowered[end].isalnum())
            ):
                return phrase
            position = start + 1


OUT_OF_STOCK_TEXT = PhraseList(OUT_OF_STOCK_PHRASES)
IN_STOCK_TEXT = PhraseList(IN_STOCK_PHRASES)
ADD_TO_CART_TEXT = PhraseList(ADD_TO_CART_PHRASES)


def text_availability(text: str) -> tuple[str, str] | None:
    """(matched phrase, in_stock|out_of_stock) for a short visible text, else None."""
    if not text:
        return None
    found = OUT_OF_STOCK_TEXT.find(text)
    if found:
        return found, OUT_OF_STOCK
    found = IN_STOCK_TEXT.find(text)
    if found:
        return found, IN_STOCK
    return None


def says_out_of_stock(text: str) -> bool:
    """Whether a short text says sold out. A buy button's words are asked only this: unlike
    `text_availability`, it does not go on to look for an in-stock phrase, a second scan that
    cost about as much again on every button of every page."""
    return bool(text) and OUT_OF_STOCK_TEXT.find(text) is not None


def says_add_to_cart(text: str) -> bool:
    return bool(text) and ADD_TO_CART_TEXT.find(text) is not None
