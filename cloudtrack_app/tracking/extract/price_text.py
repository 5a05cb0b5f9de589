"""The text of a price element as a shopper reads it.

Hidden parts and struck-through parts are left out, superscript cents are cents
(`99<sup>99</sup>` is 99.99) and superscript note marks are dropped (`1.333,00 €<sup>1</sup>`),
and a price laid out in blocks (`319`, `.`, `00`) is joined again.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.etree

from cloudtrack_app.tracking.extract.page import text_of

DIGIT = re.compile(r"\d")
STRUCK_TAGS = frozenset({"del", "s", "strike"})


# A price laid out in blocks ("319", ".", "00") reads "319 . 00" once its text is joined.
SPLIT_DECIMALS = re.compile(r"(\d)(?:\s+([.,])\s*|([.,])\s+)(\d{2})(?!\d)")


def joined_decimals(text: str) -> str:
    return SPLIT_DECIMALS.sub(lambda m: f"{m.group(1)}{m.group(2) or m.group(3)}{m.group(4)}", text)


# Class names that hide an element everywhere (not "hidden-xs": that hides it on phones only).
HIDDEN_WORDS = re.compile(
    r"\b(?:hidden|hide|invisible|d none|display none|is hidden)\b"
    r"(?! (?:xs|sm|md|lg|xl|mobile|phone|desktop|tablet|print|small|medium|large)\b)"
)
HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
TRAILING_AMOUNT = re.compile(r"\d+(?:[.,'’\s\u00a0\u202f]\d+)*[.,]?$")


def is_hidden(element: Any) -> bool:
    return element.get("hidden") is not None or bool(HIDDEN_STYLE.search(element.get("style") or ""))


CARE_TAGS = (*STRUCK_TAGS, "sup")
# Descendants looked at for hidden parts: price blocks are small, deep pages are not.
HIDDEN_LOOKS = 40


def needs_care(element: Any) -> bool:
    """Whether the element holds struck, superscript or hidden parts."""
    # A tag-filtered walk runs in C, however deep the subtree.
    if any(True for _ in element.iterdescendants(*CARE_TAGS)):
        return True
    return any(
        is_hidden(child)
        for child, _ in zip(element.iterdescendants(lxml.etree.Element), range(HIDDEN_LOOKS), strict=False)
    )


def visible_text(element: Any) -> str:
    """Text of a small element as a shopper reads it: without struck-through or hidden
    parts, and with superscript cents as cents (`99<sup>99</sup>` is 99.99) but not
    superscript footnote marks (`1.333,00 €<sup>1</sup>`)."""
    if not needs_care(element):
        return text_of(element)
    parts: list[str] = []

    def collect(node: Any) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str) and child.tag not in STRUCK_TAGS and not is_hidden(child):
                if child.tag == "sup":
                    parts.append(superscript(text_of(child), "".join(parts)))
                else:
                    collect(child)
            if child.tail:
                parts.append(child.tail)

    collect(element)
    return " ".join("".join(parts).split())


def superscript(raised: str, before: str) -> str:
    """What a superscript adds to the text before it: cents, a sign, or nothing (a note)."""
    if not DIGIT.search(raised):
        return raised
    amount = TRAILING_AMOUNT.search(before.rstrip())
    if amount is None or not re.fullmatch(r"\d{2}", raised.strip()):
        return ""
    whole = amount.group(0)
    if whole[-1] in ".,":
        return raised.strip()
    if re.search(r"[.,]\d{1,2}$", whole):
        return ""  # the amount has its cents already: this is a note
    # A dot between groups of three is a thousands mark, so the cents take a comma.
    mark = "," if re.search(r"\.\d{3}$", whole) else "."
    return mark + raised.strip()
