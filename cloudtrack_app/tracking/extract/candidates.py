"""The prices a reading considered, ranked, each with a way back to its element.

A person who sees the wrong price picks another from this list (or types a selector),
and later checks read that element again (`PickedReading`). So each candidate carries a
CSS selector that finds exactly its element in the page, and a snippet of the text
around it, cleaned to plain text: both are shown to people, and the page is hostile.
Selectors are made only for the few candidates kept: they cost a look at the page's ids
and classes.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import lxml.etree

from cloudtrack_app.tracking.extract.money import decimal_from_structured, same_digits
from cloudtrack_app.tracking.extract.structured import SUBTREE_SIZE

if TYPE_CHECKING:
    from cloudtrack_app.tracking.extract.structured import Offer, StructuredProduct
    from cloudtrack_app.tracking.extract.visible import PriceCandidate

MAX_CANDIDATES = 8
MAX_SNIPPET = 120
SOURCES = ("json-ld", "microdata", "rdfa", "meta", "visible")
# The reader that found a product's data → the source its candidates name.
SOURCE_NAMES = {"json-ld": "json-ld", "microdata": "microdata", "rdfa": "rdfa", "opengraph": "meta"}
# Elements whose text is not shown to people.
UNSHOWN_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title", "svg", "select"})
# Elements that stand apart on screen: their texts are not run together.
BLOCK_TAGS = frozenset(
    {
        "div",
        "p",
        "li",
        "ul",
        "ol",
        "tr",
        "td",
        "th",
        "br",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "dd",
        "dt",
    }
)
# Text gathered for a snippet, before it is cut to size.
SNIPPET_SOURCE_CHARS = 2000
# How far up from a visible price its snippet looks for context, and how big that may be.
SNIPPET_LEVELS = 3
SNIPPET_ELEMENTS = 40
IDENT = re.compile(r"-?[A-Za-z_][A-Za-z0-9_-]*")
# What XPath's normalize-space() (behind CSS class matching) takes for white space.
XML_SPACE = re.compile(r"[ \t\r\n]+")
# `id=` in a page's bytes (as HTML reads attribute names: in any case), and the ASCII id after it.
ID_ATTRIBUTES = re.compile(rb"id\s*=\s*[\"']?([A-Za-z0-9_-]+)", re.IGNORECASE)
# … and what precedes one, looked for in the bytes just before it.
ID_PREFIX = re.compile(rb"id\s*=\s*[\"']?\Z", re.IGNORECASE)
ID_PREFIX_BYTES = 64
ID_PREFIX_FILLER = b" \t\r\n\f\v\"'="
# An id written more often than this is counted with every other id of the page.
MAX_ID_PLACES = 16
# Ids looked up one by one before every id of the page is counted instead.
MAX_IDS_LOOKED_UP = 8
IDENT_BYTE = re.compile(rb"[A-Za-z0-9_-]")
# Elements below an id looked at for a class that names one of them alone.
SCOPE_ELEMENTS = 1000
CLASSES_BELOW = lxml.etree.XPath("descendant-or-self::*/@class", smart_strings=False)


@dataclass(frozen=True)
class Candidate:
    price: Decimal
    currency: str | None
    source: str  # one of SOURCES
    selector: str  # finds this candidate's element in the page ("" when none could be made)
    snippet: str  # plain text shown to people
    score: float


@dataclass(frozen=True)
class PickedReading:
    """What a remembered selector reads on a later check."""

    price: Decimal
    currency: str | None


@dataclass
class Considered:
    """A price before it is ranked: where it was read and how much it is believed."""

    price: Decimal
    currency: str | None
    source: str
    element: Any
    score: float
    label: str | None = None  # for structured data: the product's name


def clean_text(text: str, limit: int = MAX_SNIPPET) -> str:
    """Plain text for a screen: control and format characters (bidi overrides, zero-width
    joiners) removed, white space collapsed, at most `limit` characters."""
    collapsed = " ".join(text[: limit * 20].split())
    if not collapsed.isprintable():  # rare: most texts hold no such characters
        kept = "".join(
            ch for ch in collapsed if ch == " " or not unicodedata.category(ch).startswith(("C", "Z"))
        )
        collapsed = " ".join(kept.split())
    return collapsed[:limit].strip()


def shown_text(context: Any, element: Any | None = None) -> tuple[str, str, str]:
    """The text a person sees in `context` (not scripts or styles), as the parts before
    `element`, inside it and after it, each cut to about SNIPPET_SOURCE_CHARS (the part
    before keeps its end). Gathered without recursion: pages nest thousands deep."""
    parts: list[list[str]] = [[], [], []]
    sizes = [0, 0, 0]
    part = 0 if element is not None and element is not context else 1
    stack: list[tuple[Any, bool]] = [(context, False)]
    while stack and sizes[2] < SNIPPET_SOURCE_CHARS:
        node, tail = stack.pop()
        if tail:
            if node is element:
                part = 2
            text = node.tail
            if node.tag in BLOCK_TAGS:
                parts[part].append(" ")
        elif not isinstance(node.tag, str) or node.tag in UNSHOWN_TAGS:
            continue
        else:
            if node is element:
                part = 1
            if node.tag in BLOCK_TAGS:
                parts[part].append(" ")
            text = node.text
            for child in reversed(node):
                stack.append((child, True))
                stack.append((child, False))
        if text:
            piece = text[-SNIPPET_SOURCE_CHARS:] if part == 0 else text[:SNIPPET_SOURCE_CHARS]
            parts[part].append(piece)
            sizes[part] += len(piece)
            if part == 0 and sizes[0] > 4 * SNIPPET_SOURCE_CHARS:
                parts[0] = ["".join(parts[0])[-SNIPPET_SOURCE_CHARS:]]
                sizes[0] = SNIPPET_SOURCE_CHARS
    before, own, after = ("".join(p) for p in parts)
    return before[-SNIPPET_SOURCE_CHARS:], own[:SNIPPET_SOURCE_CHARS], after[:SNIPPET_SOURCE_CHARS]


def visible_snippet(element: Any) -> str:
    """The amount with the words around it, taken from a small ancestor."""
    context = element
    for ancestor, _ in zip(element.iterancestors(), range(SNIPPET_LEVELS), strict=False):
        if ancestor.tag in ("body", "html") or SUBTREE_SIZE(ancestor) > SNIPPET_ELEMENTS:
            break
        context = ancestor
    before, own, after = (clean_text(p, SNIPPET_SOURCE_CHARS) for p in shown_text(context, element))
    own = own[:MAX_SNIPPET]
    room = MAX_SNIPPET - len(own)
    after = after[: max(room // 2, room - len(before) - 1)]
    before = before[len(before) - (room - len(after) - 1) :] if room - len(after) - 1 > 0 else ""
    return clean_text(f"{before} {own} {after}")


def structured_snippet(label: str | None, price: Decimal, currency: str | None) -> str:
    amount = f"{price} {currency}" if currency else str(price)
    name = clean_text(label or "", MAX_SNIPPET)
    return clean_text(f"{name} – {amount}" if name else amount)


class SelectorMaker:
    """Selectors that find one element of one page: its id, else a path of `:nth-child`
    steps from the nearest ancestor with an id no other element has (else from the root),
    shortened by a class that is unique below that ancestor.

    No walk over the whole tree (one costs as much as a third of the parse): the ids are
    counted in the page's bytes, where a count can only come out too high (`data-id=`,
    other markup) or, for an id that is not ASCII as written, zero. Only a count of
    exactly one is taken, so the element's own id is the only one. Only the places where
    an id's value is written are looked at: counting every id of the page costs more than
    the rest of the selectors together."""

    def __init__(self, tree: Any, source: bytes) -> None:
        self.tree = tree
        self.source = source
        self._ids: Counter[bytes] | None = None
        self._id_counts: dict[bytes, int] = {}
        self._scopes: dict[Any, Counter[str] | None] = {}

    def unique_id(self, element: Any) -> str | None:
        value = element.get("id")
        if not value or not IDENT.fullmatch(value) or not value.isascii():
            return None
        written = value.encode("ascii")
        count = self._id_counts.get(written)
        if count is None:
            count = self._id_counts[written] = self._id_count(written)
        return f"#{value}" if count == 1 else None

    def _id_count(self, written: bytes) -> int:
        """How often `written` follows `id=` in the page's bytes. An id is usually written a
        few times at most: those places are looked at, without counting every id of the
        page, unless it is written often or many ids were looked up (each look passes over
        the page once)."""
        if self._ids is None and len(self._id_counts) < MAX_IDS_LOOKED_UP:
            places = self._places(written)
            if places is not None:
                return sum(1 for at in places if self._written_as_id(at, len(written)))
        if self._ids is None:
            self._ids = Counter(ID_ATTRIBUTES.findall(self.source))
        return self._ids[written]

    def _places(self, written: bytes) -> list[int] | None:
        """Where `written` is in the page's bytes; None past MAX_ID_PLACES."""
        places: list[int] = []
        at = self.source.find(written)
        while at >= 0:
            if len(places) == MAX_ID_PLACES:
                return None
            places.append(at)
            at = self.source.find(written, at + 1)
        return places

    def _written_as_id(self, at: int, length: int) -> bool:
        """Whether the bytes at `at` may be an id attribute's whole value (when unsure: yes)."""
        if IDENT_BYTE.match(self.source, at + length):
            return False
        before = self.source[max(0, at - ID_PREFIX_BYTES) : at]
        return ID_PREFIX.search(before) is not None or not before.strip(ID_PREFIX_FILLER)

    def unique_class_below(self, element: Any, scope: Any) -> str | None:
        """`tag.class` of the element, for a class no other element below `scope` has."""
        names = element.get("class")
        if not names:
            return None
        counts = self._scopes.get(scope, False)
        if counts is False:
            counts = self._scopes[scope] = _class_counts(scope)
        if counts is None:
            return None
        for name in XML_SPACE.split(names.strip()):
            # Counted with str.split(), which cuts at more spaces than CSS does: a count
            # can only come out too high, so a class taken for unique is unique.
            if IDENT.fullmatch(name) and counts[name] == 1:
                return f"{_tag(element) or ''}.{name}"
        return None

    def selector_for(self, element: Any, limit: int) -> str:
        """ "" when the path would be longer than `limit` characters."""
        own = self.unique_id(element)
        if own:
            return own
        steps: list[str] = []
        path: list[Any] = []
        size = 0
        node = element
        scope = None
        while True:
            parent = node.getparent()
            if parent is None:
                anchor = _tag(node) or ":root"
                scope = node if len(steps) < 3 else None  # the whole page: small ones only
                break
            place = 1 + sum(1 for s in node.itersiblings(preceding=True) if isinstance(s.tag, str))
            steps.append(f"{_tag(node) or ''}:nth-child({place})")
            path.append(node)
            size += len(steps[-1]) + 3
            if size > 2 * limit:
                return ""
            parent_id = self.unique_id(parent)
            if parent_id:
                anchor, scope = parent_id, parent
                break
            node = parent
        if scope is not None and len(steps) > 2:  # a short path is short enough
            for level, node in enumerate(path):
                named = self.unique_class_below(node, scope)
                if named:
                    below = "".join(f" > {step}" for step in reversed(steps[:level]))
                    return f"{anchor} {named}{below}"[:limit] if len(anchor) + len(named) < limit else ""
        selector = " > ".join([anchor, *reversed(steps)])
        if len(selector) > limit:
            # Deep pages: the same path without tag names or spaces.
            selector = ">".join([anchor, *(step[step.index(":") :] for step in reversed(steps))])
        return selector if len(selector) <= limit else ""


def _class_counts(scope: Any) -> Counter[str] | None:
    """Class names written below `scope`; None when it holds too many elements to look at."""
    if SUBTREE_SIZE(scope) > SCOPE_ELEMENTS:
        return None
    return Counter(" ".join(CLASSES_BELOW(scope)).split())


def _tag(element: Any) -> str | None:
    tag = element.tag
    return tag if isinstance(tag, str) and IDENT.fullmatch(tag) else None


def ranked(considered: list[Considered], maker: SelectorMaker, selector_limit: int) -> list[Candidate]:
    """Best first (the first stays first: it is the chosen price), one per amount and
    currency and one per element, at most MAX_CANDIDATES, each with its selector."""
    if not considered:
        return []
    first, rest = considered[0], sorted(considered[1:], key=lambda c: -c.score)
    kept: list[Considered] = []
    amounts: set[tuple[Decimal, str | None]] = set()
    elements: set[Any] = set()
    for item in [first, *rest]:
        key = (item.price, item.currency or first.currency)
        if key in amounts or (item.element is not None and item.element in elements):
            continue
        amounts.add(key)
        if item.element is not None:
            elements.add(item.element)
        kept.append(item)
        if len(kept) >= MAX_CANDIDATES:
            break
    top = kept[0].score
    return [
        Candidate(
            price=item.price,
            currency=item.currency,
            source=item.source,
            selector=maker.selector_for(item.element, selector_limit) if item.element is not None else "",
            snippet=_snippet(item),
            score=round(min(item.score, top), 2),
        )
        for item in kept
    ]


def considered_prices(
    chosen: Considered | None,
    offers: list[Offer],
    main: StructuredProduct | None,
    og_offer: Offer | None,
    visible: list[PriceCandidate],
    og_title: str | None,
    *,
    near: int,
) -> list[Considered]:
    """The chosen price first, then the others with how much each is believed (below it)."""
    found = [chosen] if chosen is not None else []
    shown_now = {c.price for c in visible if not c.was}
    source = SOURCE_NAMES.get(main.source, "json-ld") if main else "json-ld"
    for offer in offers:
        if offer.price is not None:
            score = (0.5 if offer.price in shown_now else 0.4) - (0.1 if offer.low_only else 0)
            name = main.name if main else None
            found.append(Considered(offer.price, offer.currency, source, offer.element, score, name))
    if og_offer is not None and og_offer.price is not None:
        score = 0.55 if og_offer.price in shown_now else 0.45
        found.append(Considered(og_offer.price, og_offer.currency, "meta", og_offer.element, score, og_title))
    for candidate in visible:
        marked_up = attribute_amount(candidate.element, candidate.currency)
        if marked_up and marked_up != candidate.price:
            continue  # the markup says the amount is another: the text was misread
        if any(same_digits(candidate.price, other.price) for other in found):
            continue  # 10<span>99</span> read without its decimal point
        if candidate.was:
            score = 0.05 if candidate.struck else 0.1
        else:
            score = (0.55 if candidate.distance <= near else 0.3) + (0.05 if candidate.hinted else 0)
        found.append(
            Considered(
                candidate.price, candidate.currency, "visible", candidate.element, score, candidate.text
            )
        )
    return found


def attribute_amount(element: Any, currency: str | None) -> Decimal | None:
    """The number an element carries in its `content` or `value` attribute."""
    if element is None:
        return None
    for attribute in ("content", "value"):
        value = element.get(attribute)
        if value and any(ch.isdigit() for ch in value):
            amount = decimal_from_structured(value[:100], currency)
            if amount:
                return amount
    return None


def _snippet(item: Considered) -> str:
    if item.source == "visible" and item.element is not None:
        return visible_snippet(item.element)
    return structured_snippet(item.label, item.price, item.currency)
