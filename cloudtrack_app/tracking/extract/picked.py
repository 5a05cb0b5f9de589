"""A price a person picked, read again on later checks: the element their selector finds.

Each watch may remember its own selector, and all of them are read on the one parsed page
of the shared product: one person's pick never changes what another sees. Reading never
raises; a selector that finds nothing, finds no price, or costs too much reads None (the
page's layout changed, as far as that pick can tell).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cloudtrack_app.tracking.extract.candidates import PickedReading, attribute_amount
from cloudtrack_app.tracking.extract.money import parse_money
from cloudtrack_app.tracking.extract.price_text import visible_text
from cloudtrack_app.tracking.extract.selector import (
    PageSelection,
    SelectorTooCostly,
    UnreadableSelector,
    compile_selector,
)
from cloudtrack_app.tracking.extract.structured import (
    Offer,
    StructuredProduct,
    block_of,
    read_json_ld_block,
    walk_products,
)
from cloudtrack_app.tracking.extract.visible import Surroundings
from cloudtrack_app.tracking.extract.visible_title import title_price

# Remembered selectors read on one page (each watch of a product may have its own); each
# costs a scan of the page and at most SELECTOR_STEPS.
MAX_PICKS = 16


def selector_texts(selectors: Sequence[str]) -> list[str]:
    try:
        return list(dict.fromkeys(s for s in list(selectors) if isinstance(s, str)))[:MAX_PICKS]
    except Exception:
        return []


class PickReader:
    """Reads remembered selectors on the page being read: the element each one finds now."""

    def __init__(
        self,
        tree: Any,
        surroundings: Surroundings,
        hint: str | None,
        page_currency: str | None,
        url: str,
        lang: str | None,
        *,
        main_offer: Callable[[list[StructuredProduct]], Offer | None],
    ) -> None:
        self.selection = PageSelection(tree)
        self.main_offer = main_offer
        self.surroundings = surroundings
        self.hint = hint
        self.page_currency = page_currency
        self.url = url
        self.lang = lang

    def read(self, selector: str) -> PickedReading | None:
        try:
            compiled = compile_selector(selector)
            element = self.selection.first(compiled)
            return self._read_at(element) if element is not None else None
        except (UnreadableSelector, SelectorTooCostly, RecursionError, ValueError, TypeError, MemoryError):
            return None

    def _read_at(self, element: Any) -> PickedReading | None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag == "script":
            return self._read_block(element) if "ld+json" in (element.get("type") or "").lower() else None
        amount = attribute_amount(element, self.hint or self.page_currency)
        if amount:
            return PickedReading(amount, self.hint or self.page_currency)
        text = visible_text(element) if len(element) <= 12 else ""
        amount, currency = (None, None)
        if text and len(text) <= 200:
            amount, currency = self.surroundings.money(text, self.hint, self.url, self.lang)
        if not amount:
            in_title = title_price(
                element, self.surroundings, currency_hint=self.hint, url=self.url, lang=self.lang
            )
            if in_title is not None:
                amount, currency = in_title.price, in_title.currency
        if not amount and text:
            amount, currency = parse_money(text[:200], currency_hint=self.hint, url=self.url, lang=self.lang)
        return PickedReading(amount, currency or self.page_currency) if amount else None

    def _read_block(self, script: Any) -> PickedReading | None:
        document = read_json_ld_block(script)
        if document is None:
            return None
        offer = self.main_offer(list(walk_products(document, "json-ld", 0, block_of(script))))
        if offer is None or offer.price is None:
            return None
        return PickedReading(offer.price, offer.currency or self.page_currency)
