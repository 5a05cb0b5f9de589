"""One page in, one reading out: price, currency, stock state and product facts.

Order of trust: schema.org data about the page's main product (JSON-LD, microdata,
RDFa; JSON-LD our reader could not parse read again by extruct where neither they nor
OpenGraph give a price), then
OpenGraph product tags, then the visible price near the title and buy button. Visible
prices also check the structured ones: a structured price that the page shows only
struck through loses to the price the page shows as current. Stock comes from the main
product's offers, checked against its own buy box (see `_decide_availability`).

Every price considered is returned too, ranked, with a selector back to its element
(`candidates`), when asked for or when the reading is unsure: a routine check of a page read
with confidence does without them (they cost about a sixth of a parse). Selectors a person
picked earlier are read on the same tree (`picked`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin, urlsplit

from cloudtrack_app.tracking.extract.availability import IN_STOCK, OUT_OF_STOCK, UNKNOWN
from cloudtrack_app.tracking.extract.candidates import (
    SOURCE_NAMES,
    Candidate,
    Considered,
    PickedReading,
    SelectorMaker,
    considered_prices,
    ranked,
)
from cloudtrack_app.tracking.extract.extruct_fallback import fallback_products
from cloudtrack_app.tracking.extract.money import local_currency, same_digits
from cloudtrack_app.tracking.extract.page import parse_page, text_of
from cloudtrack_app.tracking.extract.picked import PickReader, selector_texts
from cloudtrack_app.tracking.extract.selector import (
    MAX_SELECTOR_LENGTH,
)
from cloudtrack_app.tracking.extract.structured import (
    Offer,
    StructuredProduct,
    collect_products,
    first_text,
    has_price,
    opengraph_offer,
    read_meta,
)
from cloudtrack_app.tracking.extract.visible import (
    Anchors,
    Marked,
    PriceCandidate,
    Surroundings,
    best_visible_price,
    buttons_in,
    find_prices,
    mark,
)
from cloudtrack_app.tracking.extract.visible_stock import (
    BUTTON_REGION_LEVELS,
    BuyButton,
    find_buy_button,
    visible_availability,
)
from cloudtrack_app.tracking.extract.visible_title import find_title, html_lang, title_price, title_region

# How close (tree steps) a visible price must be to the title or buy button to overrule
# structured data that the page does not show at all.
NEAR = 8
# Below this confidence people are asked to pick the price, and a model may be asked.
CONFIDENT = 0.7
# A claimed former price more than this many times the price is not believed to be about it.
MAX_CLAIMED_FACTOR = 10


@dataclass
class Extraction:
    url: str
    title: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    # The "was", list or struck-through price the page claims beside the price to pay:
    # higher than it, in its currency (see `_decide_was_price`).
    was_price: Decimal | None = None
    availability: str = UNKNOWN
    availability_raw: str | None = None
    image: str | None = None
    sku: str | None = None
    gtin: str | None = None
    brand: str | None = None
    canonical_url: str | None = None
    confidence: float = 0.0
    source: str | None = None
    diagnostics: list[str] = field(default_factory=list)
    # The prices considered, best first (the chosen one first when one was chosen).
    candidates: list[Candidate] = field(default_factory=list)
    # What each selector asked for reads on this page (None: gone, or no price there).
    picked: dict[str, PickedReading | None] = field(default_factory=dict)


def extract(
    html: str | bytes,
    url: str,
    charset: str | None = None,
    selectors: Sequence[str] = (),
    candidates: bool | None = None,
) -> Extraction:
    """Read a product page. Never raises: problems end up in `diagnostics`.

    `charset` is the one the HTTP response declared, when `html` is the bytes it carried.
    `selectors` (remembered picks) are read on the same parsed page, into `picked`.
    `candidates`: True for pages a person looks at (preview, picker, probe); None (a check)
    ranks them only when the reading is `unsure`, where the language model may need them.
    """
    result = Extraction(url=url if isinstance(url, str) else "")
    try:
        _extract_into(result, html, charset, selectors, candidates)
    except Exception as error:
        result.diagnostics.append(f"extraction stopped early: {type(error).__name__}: {error}")
    for selector in selector_texts(selectors):
        result.picked.setdefault(selector, None)
    return result


def unsure(extraction: Extraction) -> bool:
    """The rules found no price, or none they believe."""
    return extraction.price is None or extraction.confidence < CONFIDENT


def _normalise_name(text: str | None) -> str:
    return re.sub(r"\W+", " ", (text or "").lower()).strip()


def _same_page(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    try:
        pa, pb = urlsplit(a), urlsplit(b)
    except ValueError:
        return False
    return (pa.hostname or "").removeprefix("www.") == (pb.hostname or "").removeprefix("www.") and (
        pa.path.rstrip("/") == pb.path.rstrip("/")
    )


def choose_products(
    products: list[StructuredProduct], heading: str | None, urls: list[str]
) -> list[StructuredProduct]:
    """The main product, with its variants (same name, or ProductGroup members)."""
    if not products:
        return []
    wanted = _normalise_name(heading)

    def score(product: StructuredProduct) -> tuple[int, int]:
        points = 0
        name = _normalise_name(product.name)
        if wanted and name and (name in wanted or wanted in name):
            points += 4
        node_url = first_text(product.node.get("url")) or first_text(product.node.get("@id"))
        if any(_same_page(node_url, u) for u in urls):
            points += 2
        if any(o.price is not None for o in product.offers):
            points += 3
        elif product.offers:
            points += 1
        return points, -product.order

    main = max(products, key=score)
    name = _normalise_name(main.name)
    return [
        p
        for p in products
        if p is main
        or (
            p.source == main.source
            and ((name and _normalise_name(p.name) == name) or p.family == main.family)
        )
    ]


def _absolute(base: str, value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if not value or value.lower().startswith(("data:", "javascript:", "vbscript:", "file:")):
        return None
    try:
        return urljoin(base, value)
    except ValueError:
        return None


def _image_of(node: dict[str, Any]) -> str | None:
    image = node.get("image")
    while isinstance(image, list):
        image = next((i for i in image if i), None)
    if isinstance(image, dict):
        image = first_text(image.get("url") or image.get("contentUrl") or image.get("@id"))
    return first_text(image)


def _structured_choice(offers: list[Offer], visible: list[PriceCandidate]) -> tuple[Offer, float] | None:
    """The main product's offer to believe, and how much."""
    priced = [o for o in offers if o.price is not None]
    if not priced:
        return None
    distinct = {o.price for o in priced}
    if len(distinct) == 1:
        return priced[0], 0.9
    shown = {c.price for c in visible if not c.was}
    for offer in priced:
        if offer.price in shown:
            return offer, 0.75
    in_stock = [o for o in priced if o.availability and o.availability[1] == IN_STOCK]
    return (in_stock or priced)[0], 0.55


def _extract_into(
    result: Extraction,
    html: str | bytes,
    charset: str | None,
    selectors: Sequence[str],
    candidates: bool | None,
) -> None:
    page = parse_page(html, charset)
    result.diagnostics.extend(page.diagnostics)
    tree = page.tree
    if tree is None:
        return
    url = result.url
    lang = html_lang(tree)
    meta = read_meta(tree)
    canonical = next(
        (
            link.get("href")
            for link in tree.iter("link")
            if "canonical" in (link.get("rel") or "").lower().split()
        ),
        None,
    )
    result.canonical_url = _absolute(url, canonical) or _absolute(url, meta.get("og:url"))

    products, unread_json_ld = collect_products(
        tree, result.diagnostics, may_have_microdata=page.may_have_microdata, may_have_rdfa=page.may_have_rdfa
    )
    og_offer = opengraph_offer(meta)
    if og_offer is None and not has_price(products) and unread_json_ld:
        products.extend(fallback_products(url, unread_json_ld, result.diagnostics, start=len(products)))
    first_name = next((p.name for p in products if p.name and p.offers), None) or next(
        (p.name for p in products if p.name), None
    )
    heading_element = find_title(
        tree,
        first_name or meta.get("og:title"),
        # Only the page itself can tell the price: its title anchors the search.
        search_by_name=not has_price(products) and og_offer is None,
    )
    heading = text_of(heading_element) if heading_element is not None else None
    group = choose_products(products, heading, [u for u in (url, result.canonical_url) if u])
    main = group[0] if group else None
    offers = [o for p in group for o in p.offers]

    hint = next((o.currency for o in offers if o.currency), None) or (og_offer.currency if og_offer else None)
    has_structured_price = any(o.price is not None for o in offers) or og_offer is not None

    title_anchor = Anchors([heading_element] if heading_element is not None else [])
    region = title_region(tree, heading_element)
    body = tree.find("body")
    button_region = title_region(tree, heading_element, BUTTON_REGION_LEVELS)
    marked = mark(
        region if region is not None else (body if body is not None else tree),
        money_texts=not has_structured_price,
        itemprops=page.may_have_microdata,
        buttons=buttons_in(button_region)
        if button_region is not None and button_region is not region
        else None,
    )
    surroundings = Surroundings(heading_element)
    button = find_buy_button(marked, title_anchor, surroundings)
    anchors = Anchors([e for e in (heading_element, button.element if button else None) if e is not None])
    visible = find_prices(
        tree,
        marked,
        anchors,
        surroundings,
        whole_page=not has_structured_price and region is not None,
        currency_hint=hint,
        url=url,
        lang=lang,
        itemprops=page.may_have_microdata,
    )
    if not any(not c.was for c in visible):
        in_title = title_price(heading_element, surroundings, currency_hint=hint, url=url, lang=lang)
        visible.extend([in_title] if in_title else [])
    best_visible = best_visible_price(visible)

    chosen = _decide_price(result, offers, main, og_offer, visible, best_visible)
    if result.price is not None and result.currency is None:
        # Last, the currency of the shop's country, when its domain or language names one.
        result.currency = hint or _most_common_currency(visible) or local_currency(url, lang)
    if result.currency is None and hint:
        result.currency = hint
    if chosen is not None:
        chosen.currency, chosen.score = result.currency, result.confidence
    if candidates or (candidates is None and unsure(result)):
        considered = considered_prices(
            chosen, offers, main, og_offer, visible, meta.get("og:title"), near=NEAR
        )
        result.candidates = ranked(considered, SelectorMaker(tree, page.data), MAX_SELECTOR_LENGTH)
    picks = selector_texts(selectors)
    if picks:
        urls = [u for u in (url, result.canonical_url) if u]
        reader = PickReader(
            tree,
            Surroundings(heading_element),
            hint,
            result.currency,
            url,
            lang,
            main_offer=lambda products: _main_offer(products, heading, urls, visible),
        )
        for selector in picks:
            result.picked[selector] = reader.read(selector)
    _decide_was_price(result, visible)

    _decide_availability(result, offers, og_offer, marked, anchors, surroundings, button)

    node = main.node if main else {}
    result.title = first_text(node.get("name")) or meta.get("og:title") or heading or _page_title(tree)
    result.image = _absolute(url, _image_of(node)) or _absolute(
        url, meta.get("og:image") or meta.get("og:image:url") or meta.get("twitter:image")
    )
    result.sku = (
        first_text(node.get("sku")) or first_text(node.get("mpn")) or meta.get("product:retailer_item_id")
    )
    result.gtin = next(
        (
            first_text(node.get(k))
            for k in ("gtin13", "gtin", "gtin12", "gtin14", "gtin8", "ean")
            if node.get(k)
        ),
        None,
    )
    result.brand = first_text(node.get("brand")) or meta.get("product:brand") or meta.get("og:brand")


def _most_common_currency(candidates: list[PriceCandidate]) -> str | None:
    """A bare visible amount takes the currency the page's other prices are written in."""
    counts = Counter(c.currency for c in candidates if c.currency)
    return counts.most_common(1)[0][0] if counts else None


def _page_title(tree: Any) -> str | None:
    title = next(tree.iter("title"), None)
    return (text_of(title) or None) if title is not None else None


def _decide_price(
    result: Extraction,
    offers: list[Offer],
    main: StructuredProduct | None,
    og_offer: Offer | None,
    visible: list[PriceCandidate],
    best_visible: PriceCandidate | None,
) -> Considered | None:
    """Sets the price, and returns it as the first of the prices considered."""
    choice = _structured_choice(offers, visible)
    source = main.source if main else None
    if choice is None and og_offer is not None:
        choice, source = (og_offer, 0.8), "opengraph"
    if choice is not None:
        offer, confidence = choice
        assert offer.price is not None
        shown_now = {c.price for c in visible if not c.was}
        shown_struck = {c.price for c in visible if c.was}
        near_visible = (
            best_visible
            if best_visible
            and not best_visible.was
            and best_visible.distance <= NEAR
            and best_visible.currency in (None, offer.currency)
            else None
        )
        if offer.price in shown_now:
            confidence = min(1.0, confidence + 0.08)
        elif near_visible and offer.price in shown_struck:
            result.diagnostics.append(
                f"structured price {offer.price} is shown struck through; using {near_visible.price}"
            )
            result.was_price = offer.price
            return _take_visible(result, near_visible, 0.7)
        elif near_visible and not offer.low_only and _plausible_markdown(offer.price, near_visible.price):
            result.diagnostics.append(
                f"structured price {offer.price} is not on the page; using {near_visible.price}"
            )
            return _take_visible(result, near_visible, 0.5)
        elif near_visible:
            # The page shows another price beside the title: which one is to pay is a guess.
            confidence -= 0.25
        elif visible:
            confidence -= 0.15
        if offer.low_only:
            confidence -= 0.1
        result.price, result.currency, result.source = offer.price, offer.currency, source
        result.was_price = offer.was_price
        result.confidence = round(max(0.05, confidence), 2)
        label = (main.name if main and source != "opengraph" else None) or None
        return Considered(
            offer.price, offer.currency, SOURCE_NAMES.get(source or "", "json-ld"), offer.element, 1.0, label
        )
    if best_visible is not None:
        if best_visible.distance > NEAR:
            confidence = 0.35
        elif _rivals(best_visible, visible):
            confidence = 0.6
        else:
            # Alone beside the title or buy button: what a person would read as the price.
            confidence = 0.75
        if best_visible.was:
            confidence -= 0.2
        return _take_visible(result, best_visible, confidence)
    return None


def _rivals(best: PriceCandidate, visible: list[PriceCandidate]) -> bool:
    """Other current prices about as close to the title as the best one."""
    return any(
        c.price != best.price and not c.was and c.distance <= max(NEAR, best.distance + 2) for c in visible
    )


def _main_offer(
    products: list[StructuredProduct], heading: str | None, urls: list[str], visible: list[PriceCandidate]
) -> Offer | None:
    """The offer these products' data would be read for, as `extract` chooses it."""
    offers = [o for p in choose_products(products, heading, urls) for o in p.offers]
    choice = _structured_choice(offers, visible)
    return choice[0] if choice is not None else None


def _decide_was_price(result: Extraction, visible: list[PriceCandidate]) -> None:
    """Keep a claimed former price only when it can be about this price: higher by enough to
    round to a whole percent, in the same currency, at most `MAX_CLAIMED_FACTOR` times it. Without
    one from the structured data, the page's own struck-through or "was" amount nearest the
    title and buy button, unless it is a saving or the start of a range, or other "was"
    amounts just as near disagree with it (a list of variants, each with its own)."""
    price = result.price
    if price is None:
        result.was_price = None
        return
    if result.was_price is None:
        claims = [
            c
            for c in visible
            if c.was and not c.saving and c.distance <= NEAR and c.currency in (None, result.currency)
        ]
        nearest = min(claims, key=lambda c: c.rank) if claims else None
        if nearest is not None and all(
            c.price == nearest.price for c in claims if c.rank[0] == nearest.rank[0]
        ):
            result.was_price = nearest.price
    was = result.was_price
    if was is not None and not (price < was <= price * MAX_CLAIMED_FACTOR and (was - price) * 200 >= was):
        if was > price:
            result.diagnostics.append(f"claimed former price {was} does not fit the price {price}")
        result.was_price = None


def _plausible_markdown(structured: Decimal, shown: Decimal) -> bool:
    """A shown price that differs from the structured one is believed when it looks like a
    markdown the data did not catch up with: lower, same order of magnitude, and not the
    same digits read without their decimal point (49<sup>99</sup> is not 4999)."""
    return structured / 5 <= shown < structured and not same_digits(structured, shown)


def _take_visible(result: Extraction, candidate: PriceCandidate, confidence: float) -> Considered:
    result.price = candidate.price
    result.currency = candidate.currency
    result.source = "html"
    result.confidence = round(max(0.05, confidence), 2)
    return Considered(candidate.price, candidate.currency, "visible", candidate.element, 1.0, candidate.text)


def _decide_availability(
    result: Extraction,
    offers: list[Offer],
    og_offer: Offer | None,
    marked: Marked,
    anchors: Anchors,
    surroundings: Surroundings,
    button: BuyButton | None,
) -> None:
    """Stock of the main product: its offers' data, checked against its own buy box.

    A side widget (other sellers, a sibling variant, an accessory) may say "unavailable";
    only the buy button nearest the title and notes close to it speak for the product. An
    enabled buy button is evidence of stock, and where the evidence conflicts the reading is
    in stock or unknown, never a guessed out of stock.
    """
    states = [o.availability for o in offers if o.availability]
    if not states and og_offer and og_offer.availability:
        states = [og_offer.availability]
    button_says_no = button is not None and (button.says == OUT_OF_STOCK or not button.enabled)
    button_says_yes = button is not None and button.enabled
    if states:
        in_stock = [s for s in states if s[1] == IN_STOCK]
        chosen = in_stock[0] if in_stock else states[0]
        if chosen[1] == IN_STOCK and button_says_no:
            seen = visible_availability(marked, anchors, surroundings)
            if seen and seen[1] == OUT_OF_STOCK and seen[2] <= NEAR:
                result.availability, result.availability_raw = OUT_OF_STOCK, seen[0]
                result.diagnostics.append(
                    "structured data says in stock; the page says not and the buy button is off"
                )
                return
        if chosen[1] == OUT_OF_STOCK and button_says_yes:
            seen = visible_availability(marked, anchors, surroundings)
            if not (seen and seen[1] == OUT_OF_STOCK and seen[2] <= NEAR):
                result.availability, result.availability_raw = IN_STOCK, "add to cart button"
                result.diagnostics.append(
                    "structured data says out of stock; the page offers an enabled buy button"
                )
                return
        result.availability, result.availability_raw = chosen[1], chosen[0]
        return
    if button is not None and button.says == OUT_OF_STOCK:
        result.availability, result.availability_raw = OUT_OF_STOCK, text_of(button.element)[:80]
        return
    seen = visible_availability(marked, anchors, surroundings)
    if seen and seen[2] <= NEAR * 2:
        if seen[1] == OUT_OF_STOCK and button_says_yes and button is not None:
            # A note says no while the product's own buy button works: the note is about
            # something else unless it sits closer to the title than the button does.
            if anchors.distance(button.element) <= seen[2]:
                result.availability, result.availability_raw = IN_STOCK, "add to cart button"
            else:
                result.diagnostics.append("a stock note says unavailable but the buy button is enabled")
            return
        result.availability, result.availability_raw = seen[1], seen[0]
        return
    if button_says_yes:
        result.availability, result.availability_raw = IN_STOCK, "add to cart button"
