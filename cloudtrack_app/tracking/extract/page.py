"""Turn whatever arrived (bytes in any charset, text, junk) into one lxml tree."""

from __future__ import annotations

import codecs
import gzip
import threading
import zlib
from dataclasses import dataclass, field

import charset_normalizer
import lxml.etree
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

MAX_INPUT_BYTES = 16 * 1024 * 1024
UTF8_SAMPLE_BYTES = 256 * 1024
DECLARED_UTF8_SAMPLE_BYTES = 64 * 1024
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
    data: bytes = b""  # what was parsed, for cheap scans of the page's bytes


_per_thread = threading.local()


def _parser(encoding: str, *, ids: bool) -> lxml.etree.HTMLParser:
    """One parser per encoding and thread: lxml serialises parses that share a parser,
    and checks run extraction in several threads at once.

    lxml.etree's parser, not lxml.html's: the latter looks up element classes in Python
    for every element touched, which alone costs a third of a parse on a big page.
    `ids` builds libxml2's index of ids, which only microdata `itemref` needs: it costs a
    tenth of a parse."""
    parsers: dict[tuple[str, bool], lxml.etree.HTMLParser] = _per_thread.__dict__.setdefault("parsers", {})
    parser = parsers.get((encoding, ids))
    if parser is None:
        parser = lxml.etree.HTMLParser(
            encoding=encoding, huge_tree=True, remove_comments=True, remove_pis=True, collect_ids=ids
        )
        if len(parsers) < 32:
            parsers[(encoding, ids)] = parser
    return parser


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


def _looks_like_utf8(data: bytes, sample: int = UTF8_SAMPLE_BYTES) -> bool:
    """Valid UTF-8 in the first bytes: other charsets fail within a few non-ASCII bytes."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data[:sample], final=False)
    except UnicodeDecodeError:
        return False
    return True


def _declared(label: str | None) -> str | None:
    """Python's codec for a declared charset label (browsers' substitutions included)."""
    if not label:
        return None
    codec = resolve_encoding(label.strip())
    if codec is None:
        return None
    try:
        "".encode(codec)
    except LookupError:
        return None
    return codec


def choose_encoding(
    data: bytes, header_charset: str | None = None, diagnostics: list[str] | None = None
) -> tuple[bytes, str]:
    """The page's bytes (without a byte-order mark) and the codec to read them with.

    Byte-order mark, then the HTTP header's charset, then the page's own declaration,
    each checked against a sample, because shops often send UTF-8 under a single-byte
    label. An undeclared page that is not UTF-8 is detected. Only samples are decoded:
    this runs for every checked page.
    """
    notes = diagnostics if diagnostics is not None else []
    bom_encoding, bom = read_bom(data)
    if bom_encoding:
        return data[len(bom) :], resolve_encoding(bom_encoding) or "utf-8"
    from_header = _declared(header_charset)
    from_meta = None if from_header else html_body_declared_encoding(data[:8192])
    declared = from_header or _declared(from_meta)
    if from_meta and declared is None:
        notes.append(f"unknown declared charset {from_meta!r}")
    if declared and declared.startswith(("utf-16", "utf-32")) and not from_header:
        declared = "utf-8"  # a <meta> readable as ASCII cannot be UTF-16, whatever it claims
    if declared == "utf-8":
        # A short sample is enough to catch a Windows-1252 page that claims UTF-8; lxml
        # replaces any later stray byte with U+FFFD.
        if _looks_like_utf8(data, DECLARED_UTF8_SAMPLE_BYTES):
            return data, declared
        notes.append("page declares UTF-8 but is not; read as Windows-1252")
        return data, "cp1252"
    if declared and declared not in SINGLE_BYTE_CHARSETS:
        return data, declared
    if _looks_like_utf8(data):
        if declared and not data.isascii():
            notes.append(f"page declares {declared} but is UTF-8")
        return data, "utf-8"
    if declared:
        return data, declared
    detected = charset_normalizer.from_bytes(data[:UTF8_SAMPLE_BYTES]).best()
    return data, _declared(detected.encoding if detected else None) or "cp1252"


def decode_page(data: bytes, header_charset: str | None = None) -> str:
    """The page as text, read the way `parse_page` reads it."""
    data, encoding = choose_encoding(_maybe_gunzip(data), header_charset)
    return data.decode(encoding, "replace")


HTML_SNIFF_BYTES = 2048
_HTML_SIGNATURES = (b"<!doctype html", b"<html", b"<head", b"<body", b"<title", b"<meta")


def looks_like_html(body: bytes) -> bool:
    """Whether bytes begin like an HTML page, for bodies sent without an HTML content type and
    for saved files. It lives with the page parser, not the fetchers, so that reading a saved
    page (`probe FILE`) loads no HTTP client."""
    head = body[:HTML_SNIFF_BYTES].lower()
    return any(signature in head for signature in _HTML_SIGNATURES)


def parse_page(html: str | bytes, charset: str | None = None) -> Page:
    """Parse once. Text is re-encoded as UTF-8 so an XML declaration cannot trip lxml.

    `charset` is the one the HTTP response declared, for bytes as they arrived."""
    diagnostics: list[str] = []
    if isinstance(html, str):
        data = html.encode("utf-8", "replace")
        encoding = "utf-8"
    elif isinstance(html, bytes | bytearray | memoryview):
        data, encoding = choose_encoding(_maybe_gunzip(bytes(html)), charset, diagnostics)
    else:
        return Page(None, "utf-8", [f"unsupported input type {type(html).__name__}"])
    if len(data) > MAX_INPUT_BYTES:
        diagnostics.append(f"page truncated to {MAX_INPUT_BYTES} bytes")
        data = data[:MAX_INPUT_BYTES]
    if b"\x00" in data and encoding.startswith("utf-8"):
        data = data.replace(b"\x00", b"")
    if not data[:4096].strip() and not data.strip():  # the copy only for a page that starts blank
        return Page(None, encoding, [*diagnostics, "empty page"])
    may_have_microdata = b"itemscope" in data or b"ITEMSCOPE" in data
    ids = may_have_microdata and (b"itemref" in data or b"ITEMREF" in data)
    try:
        tree = lxml.etree.fromstring(data, parser=_parser(encoding, ids=ids))
    except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError, LookupError) as error:
        try:
            tree = lxml.etree.fromstring(data, parser=_parser("utf-8", ids=ids))
            diagnostics.append(f"re-parsed as UTF-8 after: {error}")
        except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError) as second:
            return Page(None, encoding, [*diagnostics, f"not parseable as HTML: {second}"])
    if tree is None:
        return Page(None, encoding, [*diagnostics, "no HTML found"])
    return Page(
        tree,
        encoding,
        diagnostics,
        may_have_microdata=may_have_microdata,
        may_have_rdfa=b"typeof" in data or b"TYPEOF" in data,
        data=data,
    )
