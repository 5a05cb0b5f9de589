"""Links in and out: the link in what a phone shares, lists of links to import, and exports.

A phone's share sheet sends a title, a text and a URL, and apps fill them as they like (many
put "Look at this! https://…" in the text and leave the URL empty), so the link is looked
for in each. An import is a pasted list, a text or CSV file, or CloudTrack's own JSON export;
each is read into `ImportRequest`s, one per line, or a refusal of that line, so a bad line
never stops the others. The JSON export keeps everything a watch needs to come back as it
was: mode, target, any drop, pause, and the rule state that depends on the past.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from sqlmodel import select

from cloudtrack_app.db import session_scope
from cloudtrack_app.i18n import decimal_string
from cloudtrack_app.models import Product, Watch, WatchMode
from cloudtrack_app.tracking.ingest import IngestError, parse_target, validate_watch_request
from cloudtrack_app.tracking.new_watch_rules import (
    BUILT_IN_DEFAULTS,
    NewWatchDefaults,
    PriceRule,
    rule_for_new_watch,
)
from cloudtrack_app.tracking.urls import InvalidURL, canonical_url

EXPORT_FORMAT = "cloudtrack-watches"
EXPORT_VERSION = 1
MAX_IMPORT_LINES = 500
MAX_IMPORT_BYTES = 1_000_000
MAX_URL_LENGTH = 2048

# A link runs until whitespace, or a character that cannot be in a URL unescaped.
_LINK = re.compile(r"""(?:https?://|www\.)[^\s<>"'`«»“”‘’\[\]{}|\\^]+""", re.IGNORECASE)
# Sentence punctuation after a link belongs to the sentence.
_TRAILING = ".,;:!?)"


class ImportRefused(Exception):
    """The whole import cannot be read (too big, not text, a broken export)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _trim(link: str) -> str:
    while link and link[-1] in _TRAILING:
        # A closing parenthesis is part of the link when the link opened one (Wikipedia-style).
        if link[-1] == ")" and link.count("(") >= link.count(")"):
            break
        link = link[:-1]
    return link


def links_in(text: str) -> list[str]:
    """The http(s) links in free text, in order; "www.…" becomes "https://www.…"."""
    found = []
    for match in _LINK.finditer(text or ""):
        link = _trim(match.group(0))
        if link.lower().startswith("www."):
            link = f"https://{link}"
        if "." in link.split("//", 1)[1].split("/", 1)[0]:
            found.append(link)
    return found


def shared_link(url: str | None = None, text: str | None = None, title: str | None = None) -> str | None:
    """The link a share sheet (or `/add?url=`) sent: from `url`, else inside `text` or `title`."""
    for field in (url, text, title):
        links = links_in(field or "")
        if links:
            return links[0]
    return None


BOOKMARKLET_TEXT = "Track in CloudTrack"


def bookmarklet_href(public_url: str) -> str:
    """A `javascript:` link that opens CloudTrack's add page for the tab it is clicked in.

    The code is percent-encoded: a browser decodes a `javascript:` URL before running it."""
    add_page = json.dumps(public_url.rstrip("/") + "/add?url=")
    code = f"location.href={add_page}+encodeURIComponent(location.href)"
    return "javascript:" + quote(code, safe="=+().:/?")


def bookmarklet_html(public_url: str) -> str:
    """The bookmarklet as an HTML link to drag to the bookmarks bar.

    As raw HTML because React replaces any `javascript:` href it renders with one that throws."""
    href = html.escape(bookmarklet_href(public_url), quote=True)
    return f'<a href="{href}" class="cloudtrack-bookmarklet">{html.escape(BOOKMARKLET_TEXT)}</a>'


@dataclass(frozen=True)
class ImportRequest:
    """One line of an import: a watch to create, or why the line cannot become one."""

    position: int
    url: str
    mode: str = WatchMode.PRICE
    target_price: Decimal | None = None
    any_drop: bool = True
    drop_percent: Decimal | None = None
    lowest_window_days: int | None = None
    notify_increase: bool = False
    paused: bool = False
    initial_price: Decimal | None = None
    stock_fulfilled: bool = False
    restoring: bool = False
    problem: str | None = None


def _refused(position: int, url: str, problem: str) -> ImportRequest:
    return ImportRequest(position=position, url=url[:MAX_URL_LENGTH], problem=problem)


def _checked(request: ImportRequest) -> ImportRequest:
    """The request with its URL and rule validated as `add_watch` will (a refusal if not)."""
    if len(request.url) > MAX_URL_LENGTH:
        return _refused(request.position, request.url, "That link is too long to be a product page.")
    try:
        canonical_url(request.url)
    except InvalidURL as error:
        return _refused(request.position, request.url, str(error))
    try:
        validate_watch_request(
            request.mode,
            request.target_price,
            request.any_drop,
            request.drop_percent,
            request.lowest_window_days,
            request.notify_increase,
        )
    except IngestError as error:
        return _refused(request.position, request.url, error.message)
    return request


def _with_defaults(
    position: int, url: str, mode: str | None, rule: PriceRule | None, defaults: NewWatchDefaults
) -> ImportRequest:
    """A line that leaves out its mode or rule gets the person's defaults (any drop at worst)."""
    mode, rule = rule_for_new_watch(defaults, mode, rule, any_drop_unless_chosen=True)
    return _checked(
        ImportRequest(
            position,
            url,
            mode,
            parse_target(rule.target_price),
            rule.any_drop,
            None if rule.drop_percent is None else Decimal(rule.drop_percent),
            None if rule.lowest_window_days is None else int(rule.lowest_window_days),
            rule.notify_increase,
        )
    )


def _from_row(position: int, row: dict[str, str], defaults: NewWatchDefaults) -> ImportRequest:
    cell = (row.get("url") or "").strip()
    links = links_in(cell)
    if not links:
        return _refused(position, cell, "No link on this line.")
    mode = (row.get("mode") or "").strip().lower() or None
    try:
        target = parse_target((row.get("target") or "").strip())
    except IngestError as error:
        return _refused(position, links[0], error.message)
    rule = PriceRule(target_price=target) if target is not None else None
    return _with_defaults(position, links[0], mode, rule, defaults)


def _from_csv(text: str, defaults: NewWatchDefaults) -> list[ImportRequest]:
    reader = csv.reader(io.StringIO(text))
    header = [name.strip().lower() for name in next(reader)]
    requests = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        position = reader.line_num
        requests.append(_from_row(position, dict(zip(header, row, strict=False)), defaults))
    return requests


def _from_lines(text: str, defaults: NewWatchDefaults) -> list[ImportRequest]:
    requests = []
    for position, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        links = links_in(line)
        if not links:
            requests.append(_refused(position, line.strip(), "No link on this line."))
        else:
            requests.append(_with_defaults(position, links[0], None, None, defaults))
    return requests


def _decimal_or_none(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def _window_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(str(value))


def _from_export(document: Any) -> list[ImportRequest]:
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise ImportRefused("This JSON file is not a CloudTrack export.")
    if document.get("version") != EXPORT_VERSION:
        raise ImportRefused("This export was made by another version of CloudTrack and cannot be read.")
    watches = document.get("watches")
    if not isinstance(watches, list):
        raise ImportRefused("This CloudTrack export has no list of watches.")
    requests = []
    for position, item in enumerate(watches, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            requests.append(_refused(position, "", "This entry of the export has no link."))
            continue
        try:
            request = ImportRequest(
                position=position,
                url=item["url"],
                mode=str(item.get("mode") or WatchMode.PRICE),
                target_price=_decimal_or_none(item.get("target_price")),
                any_drop=bool(item.get("any_drop")),
                drop_percent=_decimal_or_none(item.get("drop_percent")),
                lowest_window_days=_window_or_none(item.get("lowest_window_days")),
                notify_increase=bool(item.get("notify_increase")),
                paused=bool(item.get("paused")),
                initial_price=_decimal_or_none(item.get("initial_price")),
                stock_fulfilled=bool(item.get("stock_fulfilled")),
                restoring=True,
            )
        except (ArithmeticError, ValueError):
            requests.append(
                _refused(position, item["url"], "This entry of the export has a price that is not a number.")
            )
            continue
        requests.append(_checked(request))
    return requests


def parse_import(data: str | bytes, defaults: NewWatchDefaults = BUILT_IN_DEFAULTS) -> list[ImportRequest]:
    """Read a pasted list, a text or CSV file, or a JSON export; raises `ImportRefused`.

    A list or CSV line without a mode or rule gets the importing person's `defaults`; an
    export's watches come back as they were."""
    if isinstance(data, bytes):
        if len(data) > MAX_IMPORT_BYTES:
            raise ImportRefused("That file is too large: import at most 1 MB at a time.")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ImportRefused(
                "That file is not text. Upload a list of links, a CSV file or an export."
            ) from error
    elif len(data.encode()) > MAX_IMPORT_BYTES:
        raise ImportRefused("That list is too large: import at most 1 MB at a time.")
    text = data.lstrip("\ufeff").strip()
    if not text:
        raise ImportRefused("There is nothing to import. Paste one link per line.")
    if text.startswith("{"):
        try:
            requests = _from_export(json.loads(text))
        except json.JSONDecodeError as error:
            raise ImportRefused("This JSON file cannot be read: it is cut off or not JSON.") from error
    else:
        first_line = text.splitlines()[0]
        header = [name.strip().lower() for name in next(csv.reader([first_line]), [])]
        requests = _from_csv(text, defaults) if "url" in header else _from_lines(text, defaults)
    if not requests:
        raise ImportRefused("There is nothing to import. Paste one link per line.")
    if len(requests) > MAX_IMPORT_LINES:
        raise ImportRefused(f"That is {len(requests)} links: import at most {MAX_IMPORT_LINES} at a time.")
    return requests


@dataclass(frozen=True)
class ExportedWatch:
    url: str
    title: str | None
    mode: str
    target_price: Decimal | None
    any_drop: bool
    drop_percent: Decimal | None
    lowest_window_days: int | None
    notify_increase: bool
    paused: bool
    initial_price: Decimal | None
    stock_fulfilled: bool
    price: Decimal | None
    currency: str | None
    availability: str
    created_at: datetime


def exported_watches(user_id: int) -> list[ExportedWatch]:
    """The user's watches, oldest first, with what a re-import needs."""
    query = (
        select(Watch, Product)
        .join(Product, Product.id == Watch.product_id)
        .where(Watch.user_id == user_id)
        .order_by(Watch.created_at, Watch.id)
    )
    with session_scope() as session:
        return [
            ExportedWatch(
                url=product.url,
                title=product.title,
                mode=watch.mode,
                target_price=watch.target_price,
                any_drop=(
                    watch.mode != WatchMode.STOCK
                    and watch.target_price is None
                    and watch.drop_percent is None
                    and watch.lowest_window_days is None
                ),
                drop_percent=watch.drop_percent,
                lowest_window_days=watch.lowest_window_days,
                notify_increase=watch.notify_increase,
                paused=not watch.active,
                initial_price=watch.initial_price,
                stock_fulfilled=watch.stock_fulfilled,
                price=product.last_price,
                currency=product.currency,
                availability=product.last_availability,
                created_at=watch.created_at,
            )
            for watch, product in session.exec(query).all()
        ]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else decimal_string(value)


def export_json(user_id: int) -> str:
    """All the user's watches as CloudTrack's JSON export (re-imports as they were)."""
    watches = [
        {
            "url": item.url,
            "title": item.title,
            "mode": item.mode,
            "target_price": _money(item.target_price),
            "any_drop": item.any_drop,
            "drop_percent": _money(item.drop_percent),
            "lowest_window_days": item.lowest_window_days,
            "notify_increase": item.notify_increase,
            "paused": item.paused,
            "initial_price": _money(item.initial_price),
            "stock_fulfilled": item.stock_fulfilled,
            "price": _money(item.price),
            "currency": item.currency,
            "availability": item.availability,
            "created_at": item.created_at.isoformat(),
        }
        for item in exported_watches(user_id)
    ]
    document = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "watches": watches}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


CSV_COLUMNS = ("url", "title", "mode", "target", "paused", "price", "currency", "availability")


def _csv_cell(value: str) -> str:
    # A title from a shop page must not become a formula when the file is opened in a spreadsheet.
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_csv(user_id: int) -> str:
    """All the user's watches as CSV; its url, mode and target columns re-import."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in exported_watches(user_id):
        writer.writerow(
            [
                item.url,
                _csv_cell(item.title or ""),
                item.mode,
                _money(item.target_price) or "",
                "yes" if item.paused else "no",
                _money(item.price) or "",
                item.currency or "",
                item.availability,
            ]
        )
    return out.getvalue()
