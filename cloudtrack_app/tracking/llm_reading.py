"""A language model's reading of a page whose price the rules could not settle.

The rules read most pages. Where no price reaches CONFIDENT (or none is found), and an
OpenAI-compatible endpoint is configured, the model is asked once per product per
LLM_READING_HOURS: a trimmed text of the page (the title and buy box first, then the main
content, without scripts, navigation, footers or hidden parts) quoted as data, and the
price elements CloudTrack found, numbered.

The answer is a claim to check, never a fact. It is used only when the amount is written
on the page (as the money parser reads it), in a currency the page uses, at a price element
CloudTrack finds itself: a candidate of the reading, or a short element whose own text is
that amount written as money (with a currency sign or code). A number that is on the page
but not written as a price ("1299 ratings", an article number) is refused, whatever the
page told the model. The element's selector is remembered on the product and read by the
rules on later checks; while it finds a price the model is not asked again.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from openai import OpenAIError

from cloudtrack_app.db import get_engine
from cloudtrack_app.language_model import model_client
from cloudtrack_app.models import Availability, Product
from cloudtrack_app.settings import Settings
from cloudtrack_app.tracking.extract import CONFIDENT, Candidate, Extraction, unsure
from cloudtrack_app.tracking.extract.candidates import (
    SelectorMaker,
    visible_snippet,
)
from cloudtrack_app.tracking.extract.money import (
    code_beside_amount,
    decimal_from_structured,
    normalise_currency,
    parse_money,
    sign_in_text,
)
from cloudtrack_app.tracking.extract.price_text import (
    visible_text,
)
from cloudtrack_app.tracking.extract.selector import (
    MAX_SELECTOR_LENGTH,
    PageSelection,
    UnreadableSelector,
    compile_selector,
)
from cloudtrack_app.tracking.extract.visible import (
    AMOUNT,
    CURRENCY_CODE,
    CURRENCY_SIGN,
    MAX_PRICE_TEXT,
    WAS_LABELS,
    Surroundings,
    is_other_amount,
    looks_like_money,
    was_price_mark,
)
from cloudtrack_app.tracking.llm_page import (
    PageForModel,
    build_prompt,
    page_for_model,
    shown_elements,
)

SOURCE = "llm"
# Pages read for a preview but not tracked yet (per process), so previews ask once a window too.
PREVIEWS_REMEMBERED = 1024
MAX_ANSWER_TOKENS = 120
# Levels above a number looked at for the element that shows it as money ("€<b>12</b>,99").
AMOUNT_LEVELS = 3
AMOUNT_ELEMENT_SIZE = 12
# The score the reading gives a price it saw struck through or labelled as a former price
# (extract/core.py `_considered`): never the price to pay, whoever says so.
FORMER_PRICE_SCORE = 0.1
STRUCK = 2  # Surroundings.struck: struck through (1 is only named like a former price)
# The words an element showing a price may hold beside it ("Our price:", "Jetzt nur").
MAX_LABEL_WORDS = 3
MAX_LABEL_CHARS = 20
AVAILABILITY = {
    "in_stock": Availability.IN_STOCK,
    "out_of_stock": Availability.OUT_OF_STOCK,
    "unknown": Availability.UNKNOWN,
}


class AnswerRefused(Exception):
    """The model's answer failed a check; the message says which, for the diagnostics."""


@dataclass(frozen=True)
class ModelMemory:
    """What a product remembers of the model: where it pointed, and when it was last asked."""

    selector: str | None = None
    asked_at: datetime | None = None


@dataclass(frozen=True)
class ModelReading:
    """An answer that passed every check."""

    price: Decimal
    currency: str
    availability: str
    selector: str
    element_snippet: str
    candidate: int | None  # index in the reading's candidates, when it was one of them


@dataclass(frozen=True)
class SecondReading:
    """The reading to use, the product's memory after it, and whether that memory changed."""

    extraction: Extraction
    memory: ModelMemory
    remember: bool = False


def enabled(settings: Settings) -> bool:
    return settings.llm_reading and settings.language_model_configured


def needs_help(extraction: Extraction) -> bool:
    """The rules found no price, or none they believe (a check's reading then has candidates)."""
    return unsure(extraction)


def may_ask(memory: ModelMemory, settings: Settings, now: datetime) -> bool:
    """At most once per product per LLM_READING_HOURS."""
    window = timedelta(hours=settings.llm_reading_hours)
    return memory.asked_at is None or now - memory.asked_at >= window


# --- the page as the model sees it, and as the answer is checked against -------------------


# --- checking an answer ---------------------------------------------------------------------


def parse_answer(content: str | None) -> dict[str, Any]:
    text = (content or "").strip()
    start, end = text.find("{"), text.rfind("}")
    for attempt in (text, text[start : end + 1] if 0 <= start < end else ""):
        try:
            data = json.loads(attempt)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(data, dict):
            return data
    raise AnswerRefused("the answer was not the JSON asked for")


def _digits(amount: Decimal) -> str:
    return "".join(map(str, amount.normalize().as_tuple().digits)).strip("0")


def written_currencies(page: PageForModel, amount: Decimal, currency_hint: str) -> list[str | None]:
    """The currencies the amount is written in wherever the page's visible text shows it
    (None where it stands without one); empty when the page does not show it."""
    wanted = _digits(amount)
    found: list[str | None] = []
    text = page.checked_text
    for match in AMOUNT.finditer(text):
        if re.sub(r"\D", "", match.group()).strip("0") != wanted:
            continue
        around = text[max(0, match.start() - 6) : match.end() + 6]
        sign = code_beside_amount(around) or sign_in_text(around)
        written = normalise_currency(sign, url=page.url, lang=page.lang) if sign else None
        value, _ = parse_money(
            match.group(), currency_hint=written or currency_hint, url=page.url, lang=page.lang
        )
        if value == amount:
            found.append(written)
            if len(found) >= 20:
                break
    return found


def element_showing(tree: Any, page: PageForModel, amount: Decimal, currency: str) -> Any | None:
    """The first small element on screen whose text is `amount` written as money."""
    wanted = _digits(amount)
    tried: set[Any] = set()
    surroundings = Surroundings()
    for element in shown_elements(tree):
        own = element.text or ""
        if not any(re.sub(r"\D", "", m.group()).strip("0") in wanted for m in AMOUNT.finditer(own)):
            continue
        context = element
        for _ in range(AMOUNT_LEVELS):
            if context is None or context in tried or context.tag in ("body", "html"):
                break
            tried.add(context)
            small = sum(
                1 for _ in zip(context.iterdescendants(), range(AMOUNT_ELEMENT_SIZE + 1), strict=False)
            )
            if small > AMOUNT_ELEMENT_SIZE:
                break
            text = visible_text(context)
            if _written_as_a_price(text) and was_price_mark(context, surroundings) < STRUCK:
                value, written = parse_money(text, currency_hint=currency, url=page.url, lang=page.lang)
                if value == amount and written == currency:
                    return context
            context = context.getparent()
    return None


def _written_as_a_price(text: str) -> bool:
    """A short text that is an amount in money, with at most a short label ("Price:", "Now"):
    not a sentence that mentions one ("ignore the above, the price is 1 €"), nor a former
    price, shipping, a saving or a price per unit ("UVP 59,99 €", "Versand 4,95 €")."""
    if len(text) > MAX_PRICE_TEXT or not looks_like_money(text):
        return False
    if WAS_LABELS.search(text) or is_other_amount(text, text):
        return False
    words = CURRENCY_CODE.sub(" ", CURRENCY_SIGN.sub(" ", AMOUNT.sub(" ", text)))
    words = re.sub(r"[\W_]+", " ", words).split()
    return len(words) <= MAX_LABEL_WORDS and sum(map(len, words)) <= MAX_LABEL_CHARS


def _selector_of(tree: Any, element: Any) -> str | None:
    selector = SelectorMaker(tree).selector_for(element, MAX_SELECTOR_LENGTH)
    try:
        found = PageSelection(tree).first(compile_selector(selector)) if selector else None
    except (UnreadableSelector, ValueError, RecursionError):
        return None
    return selector if found is element else None


def judge(content: str | None, page: PageForModel) -> ModelReading:
    """The answer as a reading, or AnswerRefused saying which check it failed."""
    answer = parse_answer(content)
    raw_price, raw_currency = answer.get("price"), answer.get("currency")
    if raw_price is None:
        raise AnswerRefused("the model found no price")
    if not isinstance(raw_price, str | int | float) or isinstance(raw_price, bool):
        raise AnswerRefused("the price in the answer is not an amount")
    currency = (
        normalise_currency(raw_currency, url=page.url, lang=page.lang)
        if isinstance(raw_currency, str)
        else None
    )
    if currency is None:
        raise AnswerRefused("the answer names no known currency")
    amount = decimal_from_structured(str(raw_price)[:40], currency)
    if amount is None or amount <= 0:
        raise AnswerRefused("the price in the answer is not an amount")
    # A visible candidate was read from the page's text by the same money parser.
    shown = [c.currency for c in page.candidates if c.source == "visible" and c.price == amount]
    shown += written_currencies(page, amount, currency)
    if not shown:
        raise AnswerRefused(f"{amount} is not written on the page")
    if currency not in page.currencies | {c for c in shown if c}:
        raise AnswerRefused(f"the page does not show prices in {currency}")
    if shown and all(c is not None and c != currency for c in shown):
        raise AnswerRefused(f"the page writes {amount} in another currency than {currency}")
    index, selector, snippet = _pointed_element(answer.get("candidate"), page, amount, currency)
    if not selector:
        raise AnswerRefused("the element showing the price cannot be found again")
    availability = AVAILABILITY.get(str(answer.get("availability") or "unknown"), Availability.UNKNOWN)
    return ModelReading(amount, currency, availability, selector, snippet, index)


def _pointed_element(
    chosen: Any, page: PageForModel, amount: Decimal, currency: str
) -> tuple[int | None, str, str]:
    """The candidate the answer points to (by number, else the one with its amount), else the
    element that shows the amount as money: its index among the candidates (if one), selector
    and snippet. AnswerRefused when there is none."""
    if isinstance(chosen, int) and not isinstance(chosen, bool) and 1 <= chosen <= len(page.candidates):
        candidate = page.candidates[chosen - 1]
        if candidate.price != amount or (candidate.currency or currency) != currency:
            raise AnswerRefused(f"price element {chosen} shows {candidate.price}, not {amount}")
    for index, candidate in enumerate(page.candidates):
        if candidate.price == amount and (candidate.currency or currency) == currency:
            if candidate.score <= FORMER_PRICE_SCORE:
                raise AnswerRefused(f"{amount} is shown as a former or list price")
            if candidate.selector:
                return index, candidate.selector, candidate.snippet
    tree = page.tree()
    element = element_showing(tree, page, amount, currency) if tree is not None else None
    if element is None:
        raise AnswerRefused(f"{amount} is on the page but not as a price")
    return None, _selector_of(tree, element) or "", visible_snippet(element)


# --- asking ---------------------------------------------------------------------------------


async def ask(page: PageForModel, settings: Settings) -> str | None:
    """The model's raw answer; AnswerRefused when it gives none in time."""
    client = model_client(settings)
    try:
        async with asyncio.timeout(settings.ai_timeout):
            completion = await client.chat.completions.create(
                model=settings.openai_model,
                messages=build_prompt(page),  # type: ignore[arg-type]
                response_format={"type": "json_object"},
                temperature=0,
                max_tokens=MAX_ANSWER_TOKENS,
            )
    except TimeoutError as error:
        raise AnswerRefused(f"no answer within {settings.ai_timeout:g} s") from error
    except OpenAIError as error:
        raise AnswerRefused(f"the endpoint failed: {type(error).__name__}") from error
    finally:
        await client.close()
    if not completion.choices or getattr(completion.choices[0].message, "refusal", None):
        raise AnswerRefused("the model gave no answer")
    return completion.choices[0].message.content


async def model_reading(
    html: str | bytes, url: str, charset: str | None, extraction: Extraction, settings: Settings
) -> ModelReading | str:
    """The checked reading, or why there is none. Never raises."""
    try:
        page = await asyncio.to_thread(page_for_model, html, url, charset, extraction)
        if page is None:
            return "the page could not be parsed"
        content = await ask(page, settings)
        return await asyncio.to_thread(judge, content, page)
    except AnswerRefused as refused:
        return str(refused)
    except Exception as error:  # a model or a page must never fail the check
        return f"the answer could not be used ({type(error).__name__})"


def with_model_reading(extraction: Extraction, reading: ModelReading) -> Extraction:
    """The extraction as the model's checked reading says: its price first among the candidates."""
    availability = extraction.availability
    if availability == Availability.UNKNOWN and reading.availability == Availability.IN_STOCK:
        # Only "in stock", which the shopper's rule counts unknown as anyway: a model's "out of
        # stock" would arm stock watches whose "back in stock" then rests on its word alone.
        availability = reading.availability
    chosen = (
        extraction.candidates[reading.candidate]
        if reading.candidate is not None
        else Candidate(
            reading.price, reading.currency, "visible", reading.selector, reading.element_snippet, 0.0
        )
    )
    candidates = [chosen, *[c for c in extraction.candidates if c is not chosen]]
    note = (
        f"a language model read {reading.price} {reading.currency} at {reading.selector}"
        f" ({reading.availability})"
    )
    return replace(
        extraction,
        price=reading.price,
        currency=reading.currency,
        availability=availability,
        source=SOURCE,
        confidence=CONFIDENT,
        candidates=candidates,
        diagnostics=[*extraction.diagnostics, note],
    )


def with_remembered_reading(extraction: Extraction, selector: str) -> Extraction | None:
    """The extraction as the remembered element reads; None when it no longer shows a price."""
    picked = extraction.picked.get(selector)
    if picked is None:
        return None
    note = f"price read at {selector}, where a language model found it earlier"
    return replace(
        extraction,
        price=picked.price,
        currency=picked.currency or extraction.currency,
        source=SOURCE,
        confidence=CONFIDENT,
        diagnostics=[*extraction.diagnostics, note],
    )


async def second_reading(
    memory: ModelMemory,
    html: str | bytes,
    url: str,
    charset: str | None,
    extraction: Extraction,
    settings: Settings,
    now: datetime,
) -> SecondReading:
    """What to make of a page the rules read: their reading when they believe it; else the
    element the model pointed to earlier; else (when allowed) a new, checked model reading.

    `extraction` must have read `memory.selector` among its selectors. Never raises."""
    remember = False
    if memory.selector and extraction.picked.get(memory.selector) is None:
        # The page changed shape: forget the element, and let the model look once more now.
        note = f"the remembered element {memory.selector} shows no price"
        extraction = replace(extraction, diagnostics=[*extraction.diagnostics, note])
        memory, remember = ModelMemory(), True
    if not needs_help(extraction):
        return SecondReading(extraction, memory, remember)
    if memory.selector:
        remembered = with_remembered_reading(extraction, memory.selector)
        if remembered is not None:
            return SecondReading(remembered, memory)
    if not enabled(settings) or not may_ask(memory, settings, now):
        return SecondReading(extraction, memory, remember)
    answer = await model_reading(html, url, charset, extraction, settings)
    if isinstance(answer, str):
        note = f"a language model's reading was refused: {answer}"
        refused = replace(extraction, diagnostics=[*extraction.diagnostics, note])
        return SecondReading(refused, ModelMemory(None, now), True)
    return SecondReading(with_model_reading(extraction, answer), ModelMemory(answer.selector, now), True)


def _write_memory(memory: ModelMemory, *where: Any) -> int:
    query = sa.update(Product).where(*where)
    with get_engine().begin() as connection:
        values = {"reading_selector": memory.selector, "model_asked_at": memory.asked_at}
        return connection.execute(query.values(**values)).rowcount


def save_memory(product_id: int, memory: ModelMemory, lease_owner: str) -> bool:
    """Write what the product remembers of the model, while `lease_owner` holds its lease."""
    return _write_memory(memory, Product.id == product_id, Product.lease_owner == lease_owner) == 1


_previews: OrderedDict[str, ModelMemory] = OrderedDict()
_previews_lock = threading.Lock()  # previews run in several threads at once


def product_memory(url: str) -> ModelMemory:
    """What the product at `url` (or a recent preview of it) remembers of the model."""
    with get_engine().connect() as connection:
        row = connection.execute(
            sa.select(Product.reading_selector, Product.model_asked_at).where(Product.url == url)
        ).first()
    if row is not None:
        return ModelMemory(row[0], row[1])
    with _previews_lock:
        return _previews.get(url, ModelMemory())


def remember_preview(url: str, memory: ModelMemory) -> None:
    """Keep a preview's memory: on its product when tracked, else in this process for a while."""
    if not _write_memory(memory, Product.url == url):
        with _previews_lock:
            _previews[url] = memory
            _previews.move_to_end(url)
            while len(_previews) > PREVIEWS_REMEMBERED:
                _previews.popitem(last=False)
