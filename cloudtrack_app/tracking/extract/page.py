"""Turn whatever arrived (bytes in any charset, text, junk) into one lxml tree."""

from __future__ import annotations

import codecs
import gzip
import zlib
from dataclasses import dataclass, field
from functools import lru_cache

import lxml.etree
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

MAX_INPUT_BYTES = 16 * 1024 * 1024
UTF8_SAMPLE_BYTES = 256 * 1024
# Declared single-byte charsets that shops often get wrong for UTF-8 bodies.
SINGLE_BYTE_CHARSETS = frozenset({"cp1252", "iso8859-1", "latin-1", "latin1", "ascii", "iso8859-15"})


@dataclass
class Page:
    tree: lxml.etree._Element | None
    encoding: str
    diagnostics: list[str] = field(default_factory=list)
    # Cheap byte checks that spare whole-tree walks on pages without these syntaxes.
    may_have_microdata: bool = True
    may_have_rdfa: bool = True


@lru_cache(maxsize=32)
def _parser(encoding: str) -> lxml.etree.HTMLParser:
    # lxml.etree's parser, not lxml.html's: its element classes are looked up in Python
    # for every element touched, which alone costs a third of a parse on a big page.
    return lxml.etree.HTMLParser(encoding=encoding, huge_tree=True, remove_comments=True, remove_pis=True)


def text_of(element: lxml.etree._Element) -> str:
    """The element's text with whitespace collapsed (C-speed, unlike itertext)."""
    return " ".join(lxml.etree.tostring(element, method="text", encoding=str, with_tail=False).split())


def _maybe_gunzip(data: bytes) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return decompressor.decompress(data, MAX_INPUT_BYTES)
    except (zlib.error, gzip.BadGzipFile):
        return data


def _looks_like_utf8(data: bytes) -> bool:
    """Valid UTF-8 in the first 256 KiB: other charsets fail within a few non-ASCII bytes."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data[:UTF8_SAMPLE_BYTES], final=False)
    except UnicodeDecodeError:
        return False
    return True


def _choose_encoding(data: bytes, diagnostics: list[str]) -> tuple[bytes, str]:
    bom_encoding, bom = read_bom(data)
    if bom_encoding:
        return data[len(bom) :], resolve_encoding(bom_encoding) or "utf-8"
    declared = html_body_declared_encoding(data[:8192])
    declared = resolve_encoding(declared) if declared else None
    if declared == "utf-8":
        # lxml replaces invalid bytes with U+FFFD, so a UTF-8 page needs no validation pass.
        return data, declared
    if declared and declared not in SINGLE_BYTE_CHARSETS:
        try:
            "".encode(declared)
            return data, declared
        except LookupError:
            diagnostics.append(f"unknown declared charset {declared!r}")
    if _looks_like_utf8(data):
        if declared and not data.isascii():
            diagnostics.append(f"page declares {declared} but is UTF-8")
        return data, "utf-8"
    return data, declared or "cp1252"


def parse_page(html: str | bytes) -> Page:
    """Parse once. Text is re-encoded as UTF-8 so an XML declaration cannot trip lxml."""
    diagnostics: list[str] = []
    if isinstance(html, str):
        data = html.encode("utf-8", "replace")
        encoding = "utf-8"
    elif isinstance(html, bytes | bytearray | memoryview):
        data, encoding = _choose_encoding(_maybe_gunzip(bytes(html)), diagnostics)
    else:
        return Page(None, "utf-8", [f"unsupported input type {type(html).__name__}"])
    if len(data) > MAX_INPUT_BYTES:
        diagnostics.append(f"page truncated to {MAX_INPUT_BYTES} bytes")
        data = data[:MAX_INPUT_BYTES]
    if b"\x00" in data and encoding.startswith("utf-8"):
        data = data.replace(b"\x00", b"")
    if not data.strip():
        return Page(None, encoding, [*diagnostics, "empty page"])
    try:
        tree = lxml.etree.fromstring(data, parser=_parser(encoding))
    except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError, LookupError) as error:
        try:
            tree = lxml.etree.fromstring(data, parser=_parser("utf-8"))
            diagnostics.append(f"re-parsed as UTF-8 after: {error}")
        except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError) as second:
            return Page(None, encoding, [*diagnostics, f"not parseable as HTML: {second}"])
    if tree is None:
        return Page(None, encoding, [*diagnostics, "no HTML found"])
    return Page(
        tree,
        encoding,
        diagnostics,
        may_have_microdata=b"itemscope" in data or b"ITEMSCOPE" in data,
        may_have_rdfa=b"typeof" in data or b"TYPEOF" in data,
    )
