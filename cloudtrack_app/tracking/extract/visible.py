"""What a person sees: the price next to the product title and the buy button.

Candidates are elements marked up as prices (class*=price, itemprop=price) and, when no
structured data names a price, short texts shaped like a price in any markup. Struck-
through "was" prices, prices inside carousels, dialogs and lists of other products, and
amounts that are shipping thresholds, savings, instalments, unit prices or estimates are
set aside, "from" prices kept only as a last resort; the rest are ranked by their distance
in the tree to the page's title and buy button. Texts are read as shown: hidden parts left
out, superscript cents kept (`99<sup>99</sup>` is 99.99), superscript note marks dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import lxml.etree
from price_parser import Price

from cloudtrack_app.tracking.extract.money import (
    is_iso_currency,
    normalise_currency,
    parse_money,
    sign_in_text,
)
from cloudtrack_app.tracking.extract.page import text_of
from cloudtrack_app.tracking.extract.price_text import (
    DIGIT,
    HIDDEN_WORDS,
    STRUCK_TAGS,
    is_hidden,
    joined_decimals,
    visible_text,
)

MAX_CANDIDATES = 120
UNMARKED_NEAR = 12
MAX_PRICE_TEXT = 60
FAR = 1000

CURRENCY_SIGN = re.compile(
    r"[€$£¥₹₽₴₺₩₪₫฿₱₦₸₾₼₨元円원]|(?<!\w)(?:zł|kč|kr|ft|lei|лв|rs|руб|грн|din|kn|rm|rp|tl|ر\.س|د\.إ)(?!\w)",
    re.IGNORECASE,
)
CURRENCY_CODE = re.compile(r"(?<![A-Za-z])[A-Z]{3}(?![A-Za-z])")
# A space groups thousands only before three digits and before any decimal mark: "1 299,00"
# is one amount, "1.333,00 1" (a footnote mark after the price) and "499.00 319.00" are two.
AMOUNT = re.compile(r"\d+(?:[\s\u00a0\u202f]\d{3}(?!\d))*(?:[.,'’]\d+)*")
# Class and id names are matched as words: attribute_words() splits "wasPrice" and
# "price--old" into words, so "bold" is not "old" and "record" is not "reco".
WAS_WORDS = re.compile(
    r"\b(?:old|was|regular|strike\w*|compare\w*|original|orig|org|before|list|listprice|oldprice|wasprice"
    r"|regularprice|strikeprice|rrp|uvp|msrp|crossed|previous|retail|reference|recommended|line through"
    r"|saving\w*|discount\w*|percent\w*)\b"
)
NOW_WORDS = re.compile(
    r"\b(?:current|sale|special|final|now|actual|promo\w*|selling|offer|our|main|big|large|reduced)\b"
)
# Labels that announce a former or recommended price in the text itself.
WAS_LABELS = re.compile(
    r"(?<!\w)(?:uvp|rrp|msrp|srp|was|statt|vorher|bisher|ehemals|list price|regular price|compare at"
    r"|originally|prix conseillé|au lieu de|avant|antes|precio anterior|prima|invece di|van|voorheen"
    r"|tidigare|før|förr|ordinarie|ord\.?|normalpris|bylo|było|przed|было|eredeti|înainte)(?!\w)",
    re.IGNORECASE,
)
# A saving or a discount is marked like a former price, but is not one.
SAVING_WORDS = re.compile(r"\b(?:sav(?:e|es|ing|ings)|discount\w*|percent\w*|rebate|reduction|you ?save)\b")
SAVING_LABELS = re.compile(
    r"(?<!\w)(?:you save|save|saving|sie sparen|sparen|ersparnis|économisez|economisez|ahorra|ahorras"
    r"|risparmi|risparmia|bespaar|je bespaart|oszczędzasz|spara|spar)(?!\w)",
    re.IGNORECASE,
)
ELSEWHERE_WORDS = re.compile(
    r"\b(?:related\w*|recommend\w*|carousel\w*|slider\w*|swiper\w*|upsell\w*|up sell|cross ?sell\w*"
    r"|similar\w*|also|recent\w*|viewed|accessor\w*|bundle\w*|suggest\w*|complementary|product ?list\w*"
    r"|products ?list\w*|mini ?cart\w*|header|footer|navigation|nav|menu\w*|cookie\w*|newsletter\w*"
    r"|teaser\w*|tiles?|thumbnails?|reco|other ?sellers?|more ?sellers?|sellers? ?list\w*|offers? ?list\w*"
    r"|marketplace\w*|sponsored|bought ?together|frequently ?bought|siblings?|lightbox\w*|modal\w*|popup\w*"
    r"|dialog\w*)\b"
)
# Words before an amount that make it a threshold, a saving or a credit offer …
NOT_THE_PRICE_WORDS = re.compile(
    r"shipping|delivery|deliver|versand|livraison|envío|envio|spedizione|frete|verzend|porto|frakt"
    r"|doprava|dostawa|shipment|postage|instal+ment|monthly|financ|kredit|credit|klarna|afterpay|points"
    r"|punkte|\bsave\b|you save|spare|sparen|économ|ahorr|risparm|\boff\b|voucher|coupon|gutschein"
    r"|deposit|pfand|\bover\b|above|unit price|grundpreis|prix unitaire|kilopreis|literpreis|price per"
    r"|preis pro|prix au|prix par|precio por|prezzo al|prijs per|cena za|estimat\w*|schätz\w*|stima"
    r"|valoraci[oó]n|taxatie|cuotas|parcelas|mensualit\w*|\braten\b|\brate da\b"
    r"|(?<![\d.,])\d{1,2}\s*[x×]\s*$",
    re.IGNORECASE,
)
# A "from" price starts a range: the price to pay only when the page shows no other.
FROM_LABELS = re.compile(
    r"(?<!\w)(?:from|starting at|starts at|as low as|ab|à partir de|dès|desde|a partir de"
    r"|a partire da|vanaf|från|fra|od|от|starting bid|opening bid|startpreis|mise à prix)"
    r"\W{0,3}$",
    re.IGNORECASE,
)
# Labels of the amount to pay where a page shows several (an auction's bid beside its estimate).
PAY_LABELS = re.compile(
    r"(?<!\w)(?:current bid|winning bid|price to pay|buy it now|sofort-kaufen|aktuelles gebot"
    r"|enchère actuelle|offre actuelle|puja actual|offerta attuale|huidig bod|hoogste bod)(?!\w)",
    re.IGNORECASE,
)
# … and words after it that make it a rate per month or per unit.
UNITS = (
    r"(?:\d+(?:[.,]\d+)?\s*)?(?:kg|kilo\w*|g|gr|grams?|l|ltr|lit(?:er|re|ro)s?|cl|ml|m|m2|m²|meters?|metres?"
    r"|lb|lbs|pounds?|oz|ounces?|ft|sq\.?\s*ft|st(?:ück|k)?|pcs?|pieces?|pièces?|unidad(?:es)?|unità"
    r"|units?|items?)"
)
PER_SOMETHING_WORDS = re.compile(
    r"\bmonths?\b|/\s*mo\b|monthly|mtl\.|monat|\bmois\b|mensuel|\bmes\b|al mese|mēnes|měsíc|mesiac"
    r"|miesi|/\s*mese\b|\bp\.\s?m\."
    rf"|/\s*{UNITS}(?!\w)|(?<!\w)(?:per|pro|je|par|por|al|le|la|för|za)\s+{UNITS}(?!\w)|\boff\b",
    re.IGNORECASE,
)
NOT_THE_PRICE_ATTRIBUTES = re.compile(
    r"\b(?:shipping|delivery|instal+ment\w*|monthly|financ\w*|credit|points|saving\w*|unit ?price"
    r"|base ?price|per unit|loyalty|voucher|coupon|you save)\b"
)
CAMEL_CASE = re.compile(r"([a-z0-9])([A-Z])")
NON_LETTERS = re.compile(r"[^a-z0-9]+")


@dataclass
class Marked:
    """Elements of one region that matter here, found in a single walk (a Python walk
    beats libxml2's XPath attribute tests several times over on big pages)."""

    prices: list[Any]
    stock_notes: list[Any]
    buttons: list[Any]
    cart_links: list[Any]
    money_texts: list[Any]  # short texts with a currency and a number, whatever their markup


# Links that may be a buy button: styled as one, or leading to the cart.
CART_LINK_HINTS = ("cart", "basket", "buy", "checkout", "warenkorb", "panier", "carrito", "carrello")
CART_LINK_WORDS = re.compile("|".join(CART_LINK_HINTS))


# Elements never taken for a price or a stock note, whatever their class.
NOT_MARKED_TAGS = frozenset(
    {"script", "style", "option", "select", "meta", "link", "noscript", "svg", "path", "button", "input"}
)
BUTTON_TYPES = ("submit", "button", "image")


def buttons_in(region: Any) -> list[Any]:
    """<button>s and submit inputs (a tag-filtered walk, done in C)."""
    return [e for e in region.iter("button", "input") if e.tag == "button" or e.get("type") in BUTTON_TYPES]


def mark(
    region: Any, *, money_texts: bool, itemprops: bool = True, buttons: list[Any] | None = None
) -> Marked:
    """One walk over `region`; `money_texts` also collects price-shaped texts in any
    markup (costlier, needed when no structured price tells what to look for), and
    `itemprops` (when the page may have microdata) `itemprop="price"` without a class.
    `buttons`, when the caller has already looked for buy buttons (in a wider region
    than this one), are taken as they are rather than searched for again.

    The walk asks each element for its class only: its tag is looked at only when the
    class names a price or stock (a tenth of the elements or fewer), and buttons and
    links come from walks filtered by tag, which run in C."""
    marked = Marked([], [], [], [], [])
    marked.buttons = buttons_in(region) if buttons is None else buttons
    for link in region.iter("a"):
        get = link.get
        if CART_LINK_WORDS.search(f"{get('class') or ''} {get('id') or ''} {get('href') or ''}".lower()):
            marked.cart_links.append(link)
    # Listed first: a proxy freed while its ancestors have none climbs the whole ancestry
    # in lxml, which on a page nested thousands deep costs more than the walk itself.
    for element in list(region.iter(lxml.etree.Element)):
        names = element.get("class")
        if names:
            # "rice"/"tock"/"vailab" match price/Price, stock/Stock, availab*/Availab*.
            is_price = "rice" in names
            is_stock = "tock" in names or "vailab" in names
            if (is_price or is_stock) and element.tag not in NOT_MARKED_TAGS:
                if is_price:
                    marked.prices.append(element)
                if is_stock:
                    marked.stock_notes.append(element)
        elif itemprops and element.get("itemprop") == "price" and element.tag not in NOT_MARKED_TAGS:
            marked.prices.append(element)
        if money_texts:
            text = element.text
            if (
                text
                and len(text) < MAX_PRICE_TEXT
                and looks_like_money(text)
                and element.tag not in NOT_MARKED_TAGS
            ):
                marked.money_texts.append(element)
    return marked


def is_flagged_struck(element: Any) -> bool:
    """A data attribute that says the price is struck (`data-strike="true"`)."""
    return any(
        name.startswith("data-") and "strike" in name and value.strip().lower() not in ("", "false", "0")
        for name, value in element.items()
    )


def is_other_amount(before: str, after: str) -> bool:
    return bool(NOT_THE_PRICE_WORDS.search(before) or PER_SOMETHING_WORDS.search(after))


def label_width(text: str) -> int:
    """Characters around an amount, wide scripts counted double (一次付清特價 is a sentence)."""
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in text)


def looks_like_money(text: str) -> bool:
    if DIGIT.search(text) is None:
        return False
    if CURRENCY_SIGN.search(text):
        return True
    code = CURRENCY_CODE.search(text)
    return bool(code and is_iso_currency(code.group(0)))


def attribute_words(element: Any) -> str:
    """Class and id as lower-case words: "wasPrice price--old" → " was price price old "."""
    return words_of(f"{element.get('class', '')} {element.get('id', '')}")


@lru_cache(maxsize=8192)
def words_of(raw: str) -> str:
    # Ancestors are asked again for every price below them, and a shop's templates repeat
    # the same class names on every page.
    words = NON_LETTERS.sub(" ", CAMEL_CASE.sub(r"\1 \2", raw).lower())
    return f" {words} "


class Anchors:
    """Tree distances to the title and the buy button."""

    def __init__(self, anchors: list[Any]) -> None:
        self.paths: list[dict[Any, int]] = []
        for anchor in anchors:
            path = {anchor: 0}
            for steps, ancestor in enumerate(anchor.iterancestors(), start=1):
                path[ancestor] = steps
            self.paths.append(path)

    def distance(self, element: Any) -> int:
        if not self.paths:
            return FAR
        best = FAR
        for path in self.paths:
            if element in path:
                best = min(best, path[element])
                continue
            for steps, ancestor in enumerate(element.iterancestors(), start=1):
                if ancestor in path:
                    best = min(best, steps + path[ancestor])
                    break
        return best


class Surroundings:
    """Remembers which ancestors mark a carousel, header or list of other products, so
    the many candidates under one ancestor test its class names once. A block that holds
    the product's title is never "elsewhere", whatever its name (`<header>` of an article,
    `product-tile`)."""

    def __init__(self, heading: Any | None = None) -> None:
        self.marks: dict[Any, bool] = {}
        if heading is not None:
            self.marks.update((ancestor, False) for ancestor in heading.iterancestors())
        self.struck_marks: dict[Any, int] = {}
        self.hidden_marks: dict[Any, bool] = {}
        self.choice_marks: dict[Any, bool] = {}
        self.text_verdicts: dict[str, tuple[Decimal | None, str | None]] = {}
        self.parent_texts: dict[Any, str] = {}

    def struck(self, element: Any) -> int:
        """2 when struck through (del, s, line-through), 1 when only named like a
        was-price (old, regular, compare-at…), else 0."""
        mark = self.struck_marks.get(element)
        if mark is None:
            tag = element.tag if isinstance(element.tag, str) else ""
            if (
                tag in STRUCK_TAGS
                or "line-through" in (element.get("style") or "")
                or is_flagged_struck(element)
            ):
                mark = 2
            else:
                mark = 1 if WAS_WORDS.search(attribute_words(element)) else 0
            self.struck_marks[element] = mark
        return mark

    def money(
        self, text: str, hint: str | None, url: str, lang: str | None
    ) -> tuple[Decimal | None, str | None]:
        """The amount of a text shaped like one price (`€ 9,99`, `9.99`, `Price: 9.99 EUR`);
        None for several amounts, percentages, thresholds and instalments."""
        verdict = self.text_verdicts.get(text)
        if verdict is None:
            key = text
            verdict = (None, None)
            text = joined_decimals(text)
            amounts = [m for m in AMOUNT.finditer(text) if not text[m.end() :].lstrip().startswith("%")]
            if len({m.group(0) for m in amounts}) == 1:
                # One amount, perhaps repeated (a screen-reader copy next to the visible one).
                text = text[: amounts[0].end()] + text[amounts[-1].end() :] if len(amounts) > 1 else text
                before, after = text[: amounts[0].start()], text[amounts[0].end() :]
                label = (before + after).strip(" :.-*")
                rest = CURRENCY_SIGN.sub("", label).strip(" :.-*")
                shaped_like_a_price = label_width(rest) <= 16 and (
                    not rest
                    or rest != label
                    or Price.fromstring(text).currency is not None
                    or normalise_currency(rest) is not None
                )
                if shaped_like_a_price and not is_other_amount(before, after):
                    verdict = parse_money(text, currency_hint=hint, url=url, lang=lang)
            self.text_verdicts[key] = verdict
        return verdict

    def parent_text(self, parent: Any) -> str:
        context = self.parent_texts.get(parent)
        if context is None:
            context = text_of(parent) if len(parent) < 8 else ""
            self.parent_texts[parent] = context
        return context

    def is_fragment(self, parent: Any, text: str) -> bool:
        """Bare digits that are only part of the parent's price (`<b>19.</b><sup>99</sup>`)."""
        if CURRENCY_SIGN.search(text) or CURRENCY_CODE.search(text) or sign_in_text(text):
            return False
        context = joined_decimals(self.parent_text(parent))
        return (
            0 < len(context) < MAX_PRICE_TEXT
            and len(DIGIT.findall(context)) > len(DIGIT.findall(text))
            # A parent that shows several amounts is not one price in pieces.
            and len({m.group(0) for m in AMOUNT.finditer(context)}) == 1
        )

    def label_before(self, parent: Any | None, text: str) -> str:
        """The words before the amount: in its own text, else just before it in the parent's."""
        first_digit = DIGIT.search(text)
        own = CURRENCY_SIGN.sub("", text[: first_digit.start()] if first_digit else "").strip()
        if own or parent is None:
            return own
        context = self.parent_text(parent)
        where = context.find(text) if 0 < len(context) <= 150 else -1
        return CURRENCY_SIGN.sub("", context[max(0, where - 30) : where]).strip() if where > 0 else ""

    def in_other_context(self, parent: Any, text: str) -> bool:
        """The parent's short text shows the amount is a threshold or a rate
        ("Free shipping over <span>€ 50</span>", "<b>€ 10</b> / month")."""
        context = self.parent_text(parent)
        if not context or len(context) > 150:
            return False
        where = context.find(text)
        if where < 0:
            return False
        before = context[max(0, where - 40) : where]
        # Only the words that belong to this amount: those after any earlier amount.
        earlier = list(AMOUNT.finditer(before))
        if earlier:
            before = before[earlier[-1].end() :]
        return is_other_amount(before, context[where + len(text) : where + len(text) + 20])

    def marked(self, element: Any) -> bool:
        mark = self.marks.get(element)
        if mark is None:
            tag = element.tag if isinstance(element.tag, str) else ""
            mark = tag not in ("body", "html") and (
                tag in ("header", "footer", "nav", "aside")
                or bool(ELSEWHERE_WORDS.search(attribute_words(element)))
            )
            self.marks[element] = mark
        return mark

    def beside_a_choice(self, element: Any, depth: int = 2) -> bool:
        """The price of an option ticked beside it (a warranty, insurance, gift wrap): a
        checkbox right beside it or its parents. (Not a radio button: shops offer one-off
        purchase and subscription as radio buttons, each with the price to pay.)"""
        for level, node in enumerate([element, *element.iterancestors()]):
            if level > depth or node.tag in ("body", "html", "form"):
                return False
            verdict = self.choice_marks.get(node)
            if verdict is None:
                verdict = any(box.get("type") == "checkbox" for box in node.iterchildren("input"))
                self.choice_marks[node] = verdict
            if verdict:
                return True
        return False

    def hidden(self, element: Any, depth: int = 5) -> bool:
        """Hidden by markup, on the element or its nearest ancestors: a sold-out notice or a
        buy button a shop keeps in the page for when the stock changes."""
        for level, node in enumerate([element, *element.iterancestors()]):
            if level > depth or node.tag in ("body", "html"):
                return False
            verdict = self.hidden_marks.get(node)
            if verdict is None:
                verdict = is_hidden(node) or bool(HIDDEN_WORDS.search(attribute_words(node)))
                self.hidden_marks[node] = verdict
            if verdict:
                return True
        return False

    def elsewhere(self, element: Any, depth: int = 10) -> bool:
        """Inside a carousel, header, footer or list of other products."""
        for level, ancestor in enumerate(element.iterancestors()):
            if level >= depth:
                return False
            if self.marked(ancestor):
                return True
        return False


def was_price_mark(element: Any, surroundings: Surroundings) -> int:
    """The strongest was-price mark on the element or its three nearest ancestors."""
    strongest = 0
    for level, node in enumerate([element, *element.iterancestors()]):
        if level > 3:
            break
        strongest = max(strongest, surroundings.struck(node))
    return strongest


def is_saving(element: Any) -> bool:
    """Whether the element or its two nearest ancestors are named like a saving or discount."""
    trail = [element, *(a for a, _ in zip(element.iterancestors(), range(2), strict=False))]
    return any(SAVING_WORDS.search(attribute_words(node)) for node in trail)


def was_price_inside(element: Any, text: str, surroundings: Surroundings) -> int:
    """The was-price mark of a block whose amount all comes from one marked element inside
    it (`<div class="price-other"><div class="old-price">€ 109,00</div></div>`)."""
    digits = DIGIT.findall(text)
    for descendant, _ in zip(element.iterdescendants(lxml.etree.Element), range(30), strict=False):
        mark = surroundings.struck(descendant)
        if mark and DIGIT.findall(text_of(descendant)) == digits:
            return mark
    return 0


@dataclass
class PriceCandidate:
    price: Decimal
    currency: str | None
    distance: int
    order: int
    was: bool
    hinted: bool
    text: str
    struck: bool = False  # visibly struck through: never the current price
    element: Any = field(default=None, compare=False, repr=False)  # where the amount is shown
    saving: bool = False  # a "you save" amount or a range's start, not a former price

    @property
    def rank(self) -> tuple[int, int]:
        return (self.distance - (2 if self.hinted else 0), self.order)


def price_candidates(
    elements: list[Any],
    anchors: Anchors,
    surroundings: Surroundings,
    *,
    currency_hint: str | None,
    url: str,
    lang: str | None,
) -> list[PriceCandidate]:
    candidates: list[PriceCandidate] = []
    for order, element in enumerate(elements):
        if order >= MAX_CANDIDATES:
            break
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in ("script", "style", "option", "select", "input", "meta", "button", "body", "html", "form"):
            continue
        if len(element) > 12:
            continue
        text = visible_text(element)
        if not text or len(text) > MAX_PRICE_TEXT or DIGIT.search(text) is None:
            continue
        amount, currency = surroundings.money(text, currency_hint, url, lang)
        if not amount or NOT_THE_PRICE_ATTRIBUTES.search(attribute_words(element)):
            continue
        parent = element.getparent()
        if parent is not None and surroundings.is_fragment(parent, text):
            continue
        if (parent is not None and surroundings.in_other_context(parent, text)) or surroundings.elsewhere(
            element
        ):
            continue
        if surroundings.beside_a_choice(element):
            continue
        label = surroundings.label_before(parent, text)
        starts_a_range = bool(label and FROM_LABELS.search(label))
        was_mark = max(
            was_price_mark(element, surroundings),
            1 if WAS_LABELS.search(text) or starts_a_range else 0,
            was_price_inside(element, text, surroundings),
        )
        saving = was_mark > 0 and (
            starts_a_range
            or bool(SAVING_LABELS.search(text) or (label and SAVING_LABELS.search(label)))
            or (was_mark == 1 and is_saving(element))
        )
        candidates.append(
            PriceCandidate(
                price=amount,
                currency=currency,
                distance=anchors.distance(element),
                order=order,
                was=was_mark > 0,
                struck=was_mark == 2,
                saving=saving,
                hinted=element.get("itemprop") == "price"
                or bool(NOW_WORDS.search(attribute_words(element)))
                or bool(label and PAY_LABELS.search(label)),
                text=text,
                element=element,
            )
        )
    return candidates


def find_prices(
    tree: Any,
    marked: Marked,
    anchors: Anchors,
    surroundings: Surroundings,
    *,
    whole_page: bool,
    currency_hint: str | None,
    url: str,
    lang: str | None,
    itemprops: bool = True,
) -> list[PriceCandidate]:
    """Price candidates around the title; the whole body only when asked and needed.
    Price-shaped texts without price markup count only close to the title or buy button."""

    def read(found: Marked) -> list[PriceCandidate]:
        options = dict(currency_hint=currency_hint, url=url, lang=lang)
        marked_up = price_candidates(found.prices, anchors, surroundings, **options)
        marked_prices = set(found.prices)
        unmarked = [e for e in found.money_texts if e not in marked_prices]
        plain = price_candidates(unmarked, anchors, surroundings, **options)
        return marked_up + [c for c in plain if c.distance <= UNMARKED_NEAR]

    candidates = read(marked)
    if whole_page and not any(not c.was for c in candidates):
        body = tree.find("body")
        # Only its prices are read: no buttons to look for.
        whole = mark(body if body is not None else tree, money_texts=True, itemprops=itemprops, buttons=[])
        candidates = read(whole)
    return candidates


def best_visible_price(candidates: list[PriceCandidate]) -> PriceCandidate | None:
    current = [c for c in candidates if not c.was]
    pool = current or [c for c in candidates if not c.struck]
    return min(pool, key=lambda c: c.rank) if pool else None
