"""What the price picker shows: the prices a page offers to choose from, and what a typed
CSS selector finds. The same picker serves the add-product preview and the product page.

Snippets come from shop pages, so they are shown as plain text only; the amounts are
formatted here, in the person's language. A choice is remembered on the server by its key
(`PickOption`): what the browser sends back is only the key, never a price or a selector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from cloudtrack_app.db import session_scope
from cloudtrack_app.i18n import format_money
from cloudtrack_app.tracking.extract import CONFIDENT, Candidate, validate_selector
from cloudtrack_app.tracking.ingest import IngestError, Preview, preview_url
from cloudtrack_app.tracking.picks import clear_pick, set_pick
from cloudtrack_app.tracking.read_limits import SlowDown, page_read_limiter

# Two candidates this close in score, with different amounts, are a coin toss: ask.
DISAGREEMENT_MARGIN = 0.1
TYPED_KEY = "typed"
UNSURE_PROMPT = "We are not sure which price is the right one — pick it:"
PICK_PROMPT = "Which price is the right one?"
NOTHING_FOUND = "That selector finds nothing on the page."
NO_SELECTOR = "Type a CSS selector first, like #price or .price-now."
SOURCE_LABELS = {
    "json-ld": "structured data",
    "microdata": "structured data",
    "rdfa": "structured data",
    "meta": "page summary",
    "visible": "shown on the page",
}


@dataclass(frozen=True)
class PriceChoice:
    key: str
    price_text: str
    snippet: str  # plain text from the shop's page
    source: str  # where the page gives it, in words


@dataclass(frozen=True)
class PickOption:
    """What choosing a key means: follow the element `selector` finds, seen at `price`."""

    selector: str
    price: Decimal
    currency: str | None


@dataclass(frozen=True)
class PickerOptions:
    choices: list[PriceChoice]
    options: dict[str, PickOption]


@dataclass(frozen=True)
class SelectorTrial:
    message: str
    found: bool
    choice: PriceChoice | None = None
    option: PickOption | None = None


def is_uncertain(confidence: float, candidates: Sequence[Candidate]) -> bool:
    """Whether the person should be asked: a weak reading, or a close second at another amount."""
    if not candidates:
        return False
    if confidence < CONFIDENT:
        return True
    if len(candidates) < 2:
        return False
    top, second = candidates[0], candidates[1]
    return second.price != top.price and second.score >= top.score - DISAGREEMENT_MARGIN


def picker_options(candidates: Sequence[Candidate], locale: str) -> PickerOptions:
    """The candidates a person can pick: those with a way back to their element."""
    choices: list[PriceChoice] = []
    options: dict[str, PickOption] = {}
    for index, candidate in enumerate(candidates):
        if not candidate.selector:
            continue
        key = str(index)
        choices.append(
            PriceChoice(
                key=key,
                price_text=format_money(candidate.price, candidate.currency, locale),
                snippet=candidate.snippet,
                source=SOURCE_LABELS.get(candidate.source, "the page"),
            )
        )
        options[key] = PickOption(candidate.selector, candidate.price, candidate.currency)
    return PickerOptions(choices, options)


def with_trial(options: PickerOptions, trial: SelectorTrial) -> PickerOptions:
    """The options with what a typed selector found first (replacing an earlier one)."""
    if trial.choice is None or trial.option is None:
        return options
    choices = [trial.choice, *(c for c in options.choices if c.key != TYPED_KEY)]
    return PickerOptions(choices, {**options.options, TYPED_KEY: trial.option})


def selector_problem(selector: str) -> str | None:
    """Why `selector` cannot be tried (None: it can)."""
    if not selector.strip():
        return NO_SELECTOR
    return validate_selector(selector.strip())


def selector_trial(preview: Preview, selector: str, locale: str) -> SelectorTrial:
    """What `selector` reads on the page `preview` was read from (with that selector)."""
    reading = preview.picked.get(selector.strip())
    if reading is None:
        return SelectorTrial(NOTHING_FOUND, found=False)
    amount = format_money(reading.price, reading.currency, locale)
    return SelectorTrial(
        f"That selector finds {amount} on the page.",
        found=True,
        choice=PriceChoice(TYPED_KEY, amount, f"Found by {selector.strip()}", "your selector"),
        option=PickOption(selector.strip(), reading.price, reading.currency),
    )


@dataclass(frozen=True)
class FreshOptions:
    options: PickerOptions | None
    message: str  # why there are none ("" when there are)


async def fresh_options(user_id: int, url: str, locale: str) -> FreshOptions:
    """The prices the page at `url` offers now, read as a preview is (counts as one of the
    person's page reads)."""
    try:
        with page_read_limiter().slot(user_id):
            preview = await preview_url(url)
    except (IngestError, SlowDown) as error:
        return FreshOptions(None, error.message)
    options = picker_options(preview.candidates, locale)
    if not options.choices:
        return FreshOptions(options, "CloudTrack found no price to pick on the page. Try a CSS selector.")
    return FreshOptions(options, "")


async def try_selector(user_id: int, url: str, selector: str, locale: str) -> SelectorTrial:
    """Read the page at `url` now with `selector`, and say what it finds."""
    if (problem := selector_problem(selector)) is not None:
        return SelectorTrial(problem, found=False)
    try:
        with page_read_limiter().slot(user_id):
            preview = await preview_url(url, selectors=(selector.strip(),))
    except (IngestError, SlowDown) as error:
        return SelectorTrial(error.message, found=False)
    return selector_trial(preview, selector, locale)


def follow_pick(user_id: int, watch_id: int, option: PickOption) -> None:
    """The watch follows the element `option` names from now on (the owner's watch only)."""
    with session_scope() as session:
        set_pick(
            session,
            user_id=user_id,
            watch_id=watch_id,
            selector=option.selector,
            price=option.price,
            currency=option.currency,
        )


def follow_automatic(user_id: int, watch_id: int) -> None:
    """The watch follows the automatic reading again (the owner's watch only)."""
    with session_scope() as session:
        clear_pick(session, user_id=user_id, watch_id=watch_id)
