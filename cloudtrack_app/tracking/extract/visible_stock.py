"""What the page shows about stock: the buy button nearest the title, and availability notes.

A sold-out or disabled buy button and a short "out of stock" note near the product are
evidence of stock when structured data says nothing, or says "in stock" out of date; an
enabled buy button (by its words in many languages, its name, id or class, or a form that
posts to the cart) is evidence of stock. Notes and buttons hidden by markup, or inside
widgets about other products, are not evidence at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cloudtrack_app.tracking.extract.availability import (
    OUT_OF_STOCK,
    says_add_to_cart,
    says_out_of_stock,
    text_availability,
)
from cloudtrack_app.tracking.extract.page import text_of
from cloudtrack_app.tracking.extract.visible import Anchors, Marked, Surroundings, attribute_words, words_of

MAX_BUTTONS = 80
# How far up from the title the buy button is looked for (it often sits in a column of its own).
BUTTON_REGION_LEVELS = 7

CART_ATTRIBUTE_WORDS = re.compile(
    r"\b(?:add ?to ?(?:cart|basket|bag|trolley)|addtocart|addtobasket|addtobag|buy\w*|cart|basket|bag|trolley"
    r"|warenkorb|panier|carrito|cesta|carrello|winkelwagen|winkelmand|kosik|koszyk|korzina|sepet|checkout"
    r"|purchase|order ?now)\b"
)
# A form that posts to the cart makes its submit button a buy button, whatever it says.
CART_FORM_ACTION = re.compile(r"cart|basket|bag|warenkorb|panier|carrito|carrello|checkout", re.IGNORECASE)
DISABLED_CLASS = re.compile(
    r"\b(?:disabled|inactive|unavailable|sold ?out|out ?of ?stock|soldout|outofstock)\b"
)


@dataclass
class BuyButton:
    element: Any
    enabled: bool
    says: str | None  # out_of_stock when the button itself says sold out


def posts_to_cart(element: Any) -> bool:
    """A submit control of a form whose action is the cart (`<form action="/cart/add">`)."""
    if element.tag == "input" and element.get("type") not in ("submit", "image"):
        return False
    if element.tag == "button" and (element.get("type") or "submit").lower() != "submit":
        return False
    form = next(element.iterancestors("form"), None)
    return form is not None and bool(CART_FORM_ACTION.search(form.get("action") or ""))


def find_buy_button(marked: Marked, anchors: Anchors, surroundings: Surroundings) -> BuyButton | None:
    """The buy button nearest the title: its state is evidence of stock."""
    best: tuple[int, int, BuyButton] | None = None
    for order, element in enumerate([*marked.buttons, *marked.cart_links]):
        if order > MAX_BUTTONS:
            break
        text = (
            text_of(element)
            or element.get("value")
            or element.get("aria-label")
            or element.get("title")
            or ""
        )
        if len(text) > 60:
            continue
        says_sold_out = says_out_of_stock(text)
        buyish = (
            bool(CART_ATTRIBUTE_WORDS.search(attribute_words(element)))
            or bool(CART_ATTRIBUTE_WORDS.search(words_of(element.get("name") or "")))
            or says_add_to_cart(text)
            or posts_to_cart(element)
        )
        if not (buyish or says_sold_out) or surroundings.elsewhere(element, depth=6):
            continue
        if surroundings.hidden(element):
            continue
        disabled = (
            element.get("disabled") is not None
            or element.get("aria-disabled") == "true"
            or bool(DISABLED_CLASS.search(attribute_words(element)))
        )
        button = BuyButton(
            element, not disabled and not says_sold_out, OUT_OF_STOCK if says_sold_out else None
        )
        key = (anchors.distance(element), order)
        if best is None or key < best[:2]:
            best = (key[0], key[1], button)
    return best[2] if best else None


def visible_availability(
    marked: Marked, anchors: Anchors, surroundings: Surroundings
) -> tuple[str, str, int] | None:
    """(phrase, state, distance) of the availability statement nearest the product."""
    best: tuple[str, str, int] | None = None
    for order, element in enumerate(marked.stock_notes):
        if order > 80:
            break
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in ("script", "style", "option", "select", "button", "input", "body", "html", "form"):
            continue
        if len(element) > 12:
            continue
        text = text_of(element)
        if len(text) > 200:
            continue
        found = text_availability(text)
        if not found or surroundings.elsewhere(element, depth=8) or surroundings.hidden(element):
            continue
        distance = anchors.distance(element)
        if best is None or distance < best[2]:
            best = (found[0], found[1], distance)
    return best
