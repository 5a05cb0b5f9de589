"""What went wrong with a product's last reading, and how a person is told.

A check records one `ReadingProblem` on the product (or none); a watch whose own picked
price stopped matching adds `LAYOUT_CHANGED` on top. `reading_status` is the one place
that combines the two, and every screen (dashboard, product page, CLI, API) shows its
result with the age of the last good price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cloudtrack_app.i18n import DEFAULT_LOCALE, ago_text
from cloudtrack_app.tracking.fetch import FetchError, FetchErrorKind

GONE_STATUSES = frozenset({404, 410})
REFUSING_STATUSES = frozenset({403, 429})


class ReadingProblem(StrEnum):
    BLOCKED = "blocked"  # a bot wall, a captcha, or the shop answering 403/429
    NO_PRICE = "no_price"  # the page was fetched and read, and shows no price
    LAYOUT_CHANGED = "layout_changed"  # the watch's picked price is no longer on the page
    PAGE_GONE = "page_gone"  # 404 or 410
    UNREACHABLE = "unreachable"  # no answer, a timeout, a broken connection
    FAILED = "failed"  # anything else: the page could not be used; `last_error` says why


STATUS_OK = "ok"

PROBLEM_WORDS = {
    ReadingProblem.BLOCKED: "The shop is blocking our checks",
    ReadingProblem.NO_PRICE: "No price on the page",
    ReadingProblem.LAYOUT_CHANGED: "The page layout changed: pick the price again",
    ReadingProblem.PAGE_GONE: "The page is gone (the shop answers 404 or 410)",
    ReadingProblem.UNREACHABLE: "The shop is not answering",
    ReadingProblem.FAILED: "The last check failed",
}
_UNREACHABLE_KINDS = frozenset({FetchErrorKind.UNREACHABLE, FetchErrorKind.TIMEOUT})


def problem_of_fetch_error(error: FetchError) -> ReadingProblem:
    """Which problem a failed fetch is, as the fetcher classified it."""
    if error.kind == FetchErrorKind.BLOCKED_BY_SHOP:
        return ReadingProblem.BLOCKED
    if error.kind == FetchErrorKind.HTTP_ERROR and error.status_code in REFUSING_STATUSES:
        return ReadingProblem.BLOCKED
    if error.kind == FetchErrorKind.HTTP_ERROR and error.status_code in GONE_STATUSES:
        return ReadingProblem.PAGE_GONE
    if error.kind in _UNREACHABLE_KINDS:
        return ReadingProblem.UNREACHABLE
    return ReadingProblem.FAILED


@dataclass(frozen=True)
class ReadingStatus:
    """A product's status as one watcher sees it."""

    status: str  # a `ReadingProblem` value, or "ok"
    text: str  # "The shop is blocking our checks" ("" when ok)
    last_good_text: str  # "last good price 3 days ago", "never read"


def reading_status(
    problem: str | None,
    last_good_at: datetime | None,
    now: datetime,
    *,
    pick_missing: bool = False,
    locale: str = DEFAULT_LOCALE,
) -> ReadingStatus:
    """The status shown for a product (`problem` as its last check recorded it) to a watcher
    whose picked price is missing from the page (`pick_missing`) or not.

    A page that cannot be fetched says so first: whether the pick still matches is unknown
    then. Otherwise a missing pick is the watcher's problem, whatever the automatic reading found.
    """
    fetched = problem in (None, ReadingProblem.NO_PRICE)
    shown = ReadingProblem.LAYOUT_CHANGED if pick_missing and fetched else problem
    if shown is None or shown not in ReadingProblem._value2member_map_:
        status, text = STATUS_OK, ""
    else:
        status, text = shown, PROBLEM_WORDS[ReadingProblem(shown)]
    if last_good_at is None:
        last_good = "never read"
    else:
        last_good = f"last good price {ago_text(last_good_at, now, locale)}"
    return ReadingStatus(status, text, last_good)
