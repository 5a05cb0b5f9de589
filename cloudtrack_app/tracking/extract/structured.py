"""schema.org data from JSON-LD, microdata and RDFa, plus OpenGraph product tags.

All three syntaxes are read straight from the one lxml tree into JSON-LD-shaped dicts, so
a single walker finds products and offers in each. This is the subset of extruct's work a
price tracker needs, at a fraction of its cost (no second parse, no RDF graph).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import jstyleson
import lxml.etree

from cloudtrack_app.tracking.extract.availability import schema_availability
from cloudtrack_app.tracking.extract.money import decimal_from_structured, normalise_currency
from cloudtrack_app.tracking.extract.page import text_of

PRODUCT_TYPES = frozenset(
    {
        "product",
        "productgroup",
        "productmodel",
        "individualproduct",
        "someproducts",
        "vehicle",
        "car",
        "book",
        "softwareapplication",
        "motorcycle",
        "mobileapplication",
        "videogame",
    }
)
OFFER_TYPES = frozenset({"offer", "aggregateoffer"})
# Links from a product to other products shown on its page (carousels, accessories).
RELATED_KEYS = frozenset(
    {
        "isrelatedto",
        "issimilarto",
        "isaccessoryorsparepartfor",
        "isconsumablefor",
        "itemlistelement",
        "hasmerchantreturnpolicy",
        "seller",
        "manufacturer",
        "review",
        "isvariantof",
        "subjectof",
    }
)
NOT_CURRENT_PRICE_TYPES = (
    "listprice",
    "strikethroughprice",
    "msrp",
    "srp",
    "invoiceprice",
    "minimumadvertisedprice",
)
SCHEMA_PREFIX = re.compile(r"^(?:https?://(?:www\.)?schema\.org/|schema:)", re.IGNORECASE)
MAX_NODES = 5000
# Elements below property elements read for their text, per page (real pages read a few
# thousand; nested properties on a hostile page would read millions).
MAX_TEXT_ELEMENTS = 200_000
SUBTREE_SIZE = lxml.etree.XPath("count(descendant::*)")
# itemref: ids named per item, and elements below referenced ones looked at per page.
MAX_REFERENCES_PER_ITEM = 20
MAX_REFERENCED_ELEMENTS = 50_000
BY_ID = lxml.etree.XPath("id($name)")
PROPERTIES_BELOW = lxml.etree.XPath("(descendant::*[@itemprop])[position() <= $limit]")
ITEMS_BELOW = lxml.etree.XPath("(descendant::*[@itemscope])[position() <= $limit]")
# Characters of malformed JSON-LD per page given to the lenient parser, which reads
# in Python (about 0.2 s per million); real pages have a few kilobytes at most.
MAX_LENIENT_JSON_CHARS = 500_000
# Chosen in C rather than iterated: lxml frees each element it hands out, and freeing one
# climbs all its ancestors, a long climb per script on a page nested deep.
JSON_LD_SCRIPTS = lxml.etree.XPath(
    "descendant::script[contains(translate(@type, 'LDJSON', 'ldjson'), 'ld+json')]"
)


@dataclass
class Offer:
    price: Decimal | None
    currency: str | None
    availability: tuple[str, str] | None
    low_only: bool = False  # only a lowPrice/minPrice was given (a range starts there)
    # The list or strikethrough price the offer names beside its price, when higher.
    was_price: Decimal | None = None
    # The element the price was read from (a JSON-LD block's <script>, a microdata or RDFa
    # property, a meta tag), for the selector that finds it again.
    element: Any = field(default=None, compare=False, repr=False)


# The properties an offer's price is read from (see read_offer).
PRICE_KEYS = frozenset({"price", "minPrice", "lowPrice"})
# Where in the page a node's property was read: (the node, the property's name) → element.
Locate = Callable[[dict[str, Any], str], Any]


def no_element(node: dict[str, Any], key: str) -> Any:
    return None


@dataclass
class StructuredProduct:
    """A product node of a page's schema.org data (not the `Product` table of models.py)."""

    source: str
    order: int
    node: dict[str, Any]
    offers: list[Offer] = field(default_factory=list)
    family: int = 0  # the ProductGroup it is a variant of, else its own order

    @property
    def name(self) -> str | None:
        return first_text(self.node.get("name"))


def type_names(node: dict[str, Any]) -> set[str]:
    raw = node.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return {SCHEMA_PREFIX.sub("", v).rsplit("/", 1)[-1].lower() for v in values if isinstance(v, str)}


def first_text(value: object) -> str | None:
    while isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("value")
        return first_text(value) if isinstance(value, list | dict) else first_text_scalar(value)
    return first_text_scalar(value)


def first_text_scalar(value: object) -> str | None:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = " ".join(str(value).split())
        return text or None
    return None


# --- JSON-LD --------------------------------------------------------------------------


def read_json_ld(
    tree: lxml.etree._Element, diagnostics: list[str]
) -> tuple[list[tuple[Any, Any]], list[Any]]:
    """The documents of the page's JSON-LD blocks with the <script> of each, and the
    blocks that could not be read."""
    documents: list[tuple[Any, Any]] = []
    unread: list[Any] = []
    lenient_left = MAX_LENIENT_JSON_CHARS
    for script in JSON_LD_SCRIPTS(tree):
        text = json_ld_text(script)
        if not text:
            continue
        try:
            documents.append((json.loads(text, strict=False), script))
            continue
        except (ValueError, RecursionError):
            pass
        if len(text) > lenient_left:
            diagnostics.append("malformed JSON-LD block too large to repair; skipped")
            continue
        lenient_left -= len(text)
        try:
            # jstyleson drops comments and trailing commas, and leaves strings alone.
            documents.append((jstyleson.loads(text, strict=False), script))
        except Exception:
            diagnostics.append("malformed JSON-LD block skipped")
            unread.append(script)
    return documents, unread


# An HTML comment or CDATA section some shops wrap a block's JSON in.
JSON_LD_WRAPPER = re.compile(r"^\s*(?:<!--|<!\[CDATA\[)|(?:-->|\]\]>)\s*$")
WRAPPER_STARTS = ("<!--", "<![CDATA[")
WRAPPER_ENDS = ("-->", "]]>")


def json_ld_text(script: lxml.etree._Element) -> str:
    text = (script.text or "").strip()
    # The stripped text's ends tell whether it is wrapped at all: most blocks are not, and the
    # wrapper pattern's end-anchored branch would otherwise be tried at every character.
    if text.startswith(WRAPPER_STARTS) or text.endswith(WRAPPER_ENDS):
        return JSON_LD_WRAPPER.sub("", text)
    return text


def read_json_ld_block(script: lxml.etree._Element) -> Any | None:
    """The document of one JSON-LD block, None when it cannot be read."""
    text = json_ld_text(script)
    try:
        return json.loads(text, strict=False)
    except (ValueError, RecursionError):
        pass
    if len(text) > MAX_LENIENT_JSON_CHARS:
        return None
    try:
        return jstyleson.loads(text, strict=False)
    except Exception:
        return None


# --- microdata and RDFa -----------------------------------------------------------------

URL_PROPERTY_TAGS = {
    "a": "href",
    "area": "href",
    "link": "href",
    "img": "src",
    "audio": "src",
    "video": "src",
    "source": "src",
    "embed": "src",
    "iframe": "src",
    "track": "src",
    "object": "data",
}


def element_value(
    element: lxml.etree._Element, content_attributes: tuple[str, ...], texts: SubtreeTexts
) -> str:
    for attribute in content_attributes:
        value = element.get(attribute)
        if value is not None:
            return value
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag in URL_PROPERTY_TAGS and element.get(URL_PROPERTY_TAGS[tag]) is not None:
        return element.get(URL_PROPERTY_TAGS[tag], "")
    if tag in ("data", "meter") and element.get("value") is not None:
        return element.get("value", "")
    if tag == "time" and element.get("datetime") is not None:
        return element.get("datetime", "")
    return texts.text(element)


class SubtreeTexts:
    """Text values of property elements, with a bound per page on the elements read: a
    property inside another is read again with it, so deep nesting would cost its square."""

    def __init__(self) -> None:
        self.elements_left = MAX_TEXT_ELEMENTS

    def text(self, element: lxml.etree._Element) -> str:
        if len(element):
            if self.elements_left <= 0:
                return ""
            self.elements_left -= int(SUBTREE_SIZE(element))
            if self.elements_left < 0:
                return ""
        return text_of(element)[:2000]


def read_items(
    tree: lxml.etree._Element,
    *,
    scope_attribute: str,
    type_attribute: str,
    property_attribute: str,
    content_attributes: tuple[str, ...],
    reference_attribute: str | None = None,
    origins: dict[tuple[int, str], Any] | None = None,
) -> list[dict[str, Any]]:
    """Items of microdata (itemscope/itemtype/itemprop, with itemref) or RDFa
    (typeof/property), as dicts. `origins` learns the element of each item's first value
    of each property, keyed by (id of the item's dict, property)."""
    # Through the attribute axis: libxml2 is much faster at this than at testing every
    # element for the attributes. Each attribute's element is taken in Python: a parent
    # step (`//@a/..`) or a union de-duplicates the node set pairwise, quadratic in items.
    scopes = [
        attribute.getparent()
        for attribute in tree.xpath(f"(//@{scope_attribute})[position() <= {2 * MAX_NODES}]")
    ]
    if not scopes:
        return []
    properties = [
        attribute.getparent()
        for attribute in tree.xpath(f"(//@{property_attribute})[position() <= {2 * MAX_NODES}]")
    ]
    items: dict[Any, dict[str, Any]] = {}
    for scope in scopes:
        item: dict[str, Any] = {}
        item_type = scope.get(type_attribute)
        if item_type:
            item["@type"] = [SCHEMA_PREFIX.sub("", t) for t in item_type.split()]
        items[scope] = item
    owned: set[Any] = set()
    texts = SubtreeTexts()
    owners = list(nearest_items(properties, items))

    def add(owner: Any, element: Any) -> None:
        value: Any = items[element] if element in items else element_value(element, content_attributes, texts)
        if element in items:
            if element is owner:
                return  # an item that refers to itself is not its own property
            owned.add(element)
        for name in element.get(property_attribute, "").split():
            key = SCHEMA_PREFIX.sub("", name).rsplit("/", 1)[-1]
            items[owner].setdefault(key, []).append(value)
            if origins is not None and key in PRICE_KEYS:
                origins.setdefault((id(items[owner]), key), element)

    for element, owner in zip(properties, owners, strict=True):
        if owner is not None:
            add(owner, element)
    referring = [scope for scope in scopes if scope.get(reference_attribute)] if reference_attribute else []
    if referring:
        references = ItemReferences(
            tree, items, property_attribute, dict(zip(properties, owners, strict=True))
        )
        for scope in referring:
            for name in (scope.get(reference_attribute) or "").split()[:MAX_REFERENCES_PER_ITEM]:
                for element in references.properties(name):
                    add(scope, element)
    return [item for scope, item in items.items() if scope not in owned]


class ItemReferences:
    """The properties an `itemref` brings into an item, as the W3C microdata algorithm
    crawls them: the referenced element and everything below it, not descending into
    nested items. Each referenced id is crawled once however many items name it, and all
    crawls of a page together look at a bounded number of elements."""

    def __init__(
        self, tree: Any, items: Container[Any], property_attribute: str, owner_of: dict[Any, Any | None]
    ) -> None:
        self.tree = tree
        self.items = items
        self.property_attribute = property_attribute
        self.owner_of = owner_of
        self.found: dict[str, list[Any]] = {}
        self.elements_left = MAX_REFERENCED_ELEMENTS

    def properties(self, name: str) -> list[Any]:
        found = self.found.get(name)
        if found is None:
            found = self.found[name] = self._crawl(name)
        return found

    def _crawl(self, name: str) -> list[Any]:
        target = next(iter(BY_ID(self.tree, name=name)), None)
        if target is None or self.elements_left <= 0:
            return []
        found = [target] if target.get(self.property_attribute) is not None else []
        if target in self.items:
            return found  # a nested item is one property; its own properties are its own
        below = PROPERTIES_BELOW(target, limit=self.elements_left)
        inner = set(ITEMS_BELOW(target, limit=self.elements_left))
        self.elements_left -= len(below) + len(inner) + 1
        for element in below:
            # Its nearest item is the target's own (or none): no item stands between them.
            if self.owner_of.get(element) not in inner:
                found.append(element)
        return found


def nearest_items(elements: list[Any], items: Container[Any]) -> Iterator[Any | None]:
    """The nearest item above each element. An ancestor walked once answers for all the
    elements below it, so a deep page is not climbed again for every property."""
    nearest: dict[Any, Any | None] = {}
    for element in elements:
        climbed: list[Any] = []
        owner = None
        node = element.getparent()
        while node is not None:
            if node in items:
                owner = node
                break
            if node in nearest:
                owner = nearest[node]
                break
            climbed.append(node)
            node = node.getparent()
        nearest.update(dict.fromkeys(climbed, owner))
        yield owner


# --- OpenGraph / product meta tags --------------------------------------------------------


class MetaTags(dict[str, str]):
    """Meta tag contents by name, and the tag each was read from."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: dict[str, Any] = {}


def read_meta(tree: lxml.etree._Element) -> MetaTags:
    """`og:*`, `product:*`, `twitter:*` and other named meta tags of the head, first wins."""
    meta = MetaTags()
    head = tree.find("head")
    for element in (head if head is not None else tree).iter("meta"):
        key = (element.get("property") or element.get("name") or "").strip().lower()
        value = element.get("content")
        if key and value is not None and key not in meta:
            meta[key] = value.strip()
            meta.elements[key] = element
    return meta


def opengraph_offer(meta: dict[str, str]) -> Offer | None:
    for prefix in ("product:sale_price", "product:price", "og:price", "product:original_price"):
        amount = meta.get(f"{prefix}:amount")
        if not amount:
            continue
        currency = normalise_currency(meta.get(f"{prefix}:currency") or meta.get("og:price:currency"))
        price = decimal_from_structured(amount, currency)
        if price is not None:
            availability = schema_availability(
                meta.get("product:availability") or meta.get("og:availability")
            )
            elements = meta.elements if isinstance(meta, MetaTags) else {}
            return Offer(price, currency, availability, element=elements.get(f"{prefix}:amount"))
    return None


# --- products and offers ---------------------------------------------------------------


def walk_products(
    document: Any, source: str, start: int = 0, locate: Locate = no_element
) -> Iterator[StructuredProduct]:
    """Every product node, depth first in document order, skipping related-product links.
    Variants inside a ProductGroup share the group's `family`. An offer that stands on its
    own at the top of the data (no product around it, as some shops and the old
    data-vocabulary.org markup write it) counts as a nameless product."""
    stack: list[tuple[Any, int | None, bool]] = [(document, None, True)]
    order = start
    seen = 0
    while stack and seen < MAX_NODES:
        node, family, top = stack.pop()
        seen += 1
        if isinstance(node, list):
            stack.extend((item, family, top) for item in reversed(node))
            continue
        if not isinstance(node, dict):
            continue
        types = type_names(node)
        is_product = bool(types & PRODUCT_TYPES) or ("offers" in node and not types & OFFER_TYPES)
        if not is_product and top and types & OFFER_TYPES:
            order += 1
            yield StructuredProduct(source, order, node, list(read_offer(node, None, 0, locate)), order)
            continue
        if is_product:
            order += 1
            if family is None and "productgroup" in types:
                family = order
            yield StructuredProduct(
                source,
                order,
                node,
                list(product_offers(node, locate)),
                family if family is not None else order,
            )
        children = []
        for key, value in node.items():
            if not isinstance(value, dict | list) or key.lower() in RELATED_KEYS:
                continue
            if is_product and key in ("offers", "priceSpecification"):
                continue
            # A JSON-LD @graph lists top-level nodes; anything else is below this one.
            children.append((value, family, top and key == "@graph"))
        stack.extend(reversed(children))


def product_offers(node: dict[str, Any], locate: Locate = no_element) -> Iterator[Offer]:
    offers = node.get("offers")
    for offer in offers if isinstance(offers, list) else [offers]:
        if isinstance(offer, dict):
            yield from read_offer(offer, None, 0, locate)
    if offers is None and ("price" in node or "lowPrice" in node):
        yield from read_offer(node, None, 0, locate)


def _amount(value: object, currency: str | None) -> Decimal | None:
    """A structured price; 0 is how shops say "no price" (on request, not set)."""
    amount = decimal_from_structured(first_text(value), currency)
    return amount if amount else None


def read_offer(
    offer: dict[str, Any], inherited_currency: str | None, depth: int, locate: Locate = no_element
) -> Iterator[Offer]:
    if depth > 4:
        return
    # `currency` is data-vocabulary.org's name for it, still on some shops' pages.
    written = first_text(offer.get("priceCurrency")) or first_text(offer.get("currency"))
    currency = normalise_currency(written) or inherited_currency
    availability = schema_availability(first_text(offer.get("availability")))
    current: list[tuple[Decimal, str | None, Any]] = []
    listed: list[tuple[Decimal, str | None, Any]] = []
    specifications = offer.get("priceSpecification")
    for spec in specifications if isinstance(specifications, list) else [specifications]:
        if not isinstance(spec, dict):
            continue
        spec_currency = normalise_currency(first_text(spec.get("priceCurrency"))) or currency
        key = "price" if spec.get("price") is not None else "minPrice"
        amount = _amount(spec.get(key), spec_currency)
        if amount is None:
            continue
        price_type = (first_text(spec.get("priceType")) or "").lower()
        target = listed if price_type.endswith(NOT_CURRENT_PRICE_TYPES) else current
        target.append((amount, spec_currency, locate(spec, key)))
    currency = currency or next((c for _, c, _ in current + listed if c), None)
    prices: list[tuple[Decimal, str | None, Any]] = []
    low_only = False
    price = _amount(offer.get("price"), currency)
    if price is not None:
        prices.append((price, currency, locate(offer, "price")))
    if not prices:
        prices = current or listed
    if not prices:
        low = _amount(offer.get("lowPrice"), currency)
        if low is not None:
            prices.append((low, currency, locate(offer, "lowPrice")))
            high = _amount(offer.get("highPrice"), currency)
            low_only = high is None or high != low
    for amount, amount_currency, element in prices[:1]:
        was_price = _was_price(amount, amount_currency, listed) if prices is not listed else None
        yield Offer(amount, amount_currency, availability, low_only, was_price, element)
    nested = offer.get("offers")
    for child in nested if isinstance(nested, list) else [nested]:
        if isinstance(child, dict):
            yield from read_offer(child, currency, depth + 1, locate)
    if not prices and availability and not isinstance(nested, list | dict):
        yield Offer(None, currency, availability)


def _was_price(
    price: Decimal, currency: str | None, listed: list[tuple[Decimal, str | None, Any]]
) -> Decimal | None:
    """The highest list price in the price's own currency, when it is above the price."""
    higher = [
        amount for amount, listed_currency, _ in listed if listed_currency == currency and amount > price
    ]
    return max(higher, default=None)


def collect_products(
    tree: lxml.etree._Element, diagnostics: list[str], *, may_have_microdata: bool, may_have_rdfa: bool
) -> tuple[list[StructuredProduct], list[Any]]:
    """Products from JSON-LD; microdata and RDFa only while no price was found (each costs
    a walk over the whole tree, and shops that use several syntaxes say the same in each).
    Also the JSON-LD blocks that could not be read, for the fallback reader."""
    products: list[StructuredProduct] = []
    documents, unread_json_ld = read_json_ld(tree, diagnostics)
    for document, script in documents:
        products.extend(walk_products(document, "json-ld", len(products), block_of(script)))
    origins: dict[tuple[int, str], Any] = {}

    def locate(node: dict[str, Any], key: str) -> Any:
        return origins.get((id(node), key))

    if may_have_microdata and not has_price(products):
        microdata = read_items(
            tree,
            scope_attribute="itemscope",
            type_attribute="itemtype",
            property_attribute="itemprop",
            content_attributes=("content",),
            reference_attribute="itemref",
            origins=origins,
        )
        products.extend(walk_products(microdata, "microdata", len(products), locate))
    if may_have_rdfa and not has_price(products):
        rdfa = read_items(
            tree,
            scope_attribute="typeof",
            type_attribute="typeof",
            property_attribute="property",
            content_attributes=("content", "resource"),
            origins=origins,
        )
        products.extend(walk_products(rdfa, "rdfa", len(products), locate))
    return products, unread_json_ld


def block_of(script: Any) -> Locate:
    """Every property of a JSON-LD document is found at its <script>."""
    return lambda node, key: script


def has_price(products: list[StructuredProduct]) -> bool:
    return any(o.price is not None for p in products for o in p.offers)
