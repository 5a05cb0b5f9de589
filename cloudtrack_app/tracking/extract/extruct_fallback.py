"""extruct as the second reader of JSON-LD our own reader could not parse.

Our readers (structured.py) cover what shops write, fast, microdata `itemref` included.
extruct reads JSON-LD that neither json nor the lenient parser could (a block behind an
HTML comment, for one). Its output goes through the same product and offer walker as
ours. It runs only when no structured price was found, on the tree already parsed, and only
on the blocks our reader gave up on (already bounded in size there).

RDFa is not read here: pyRdfa needs a DOM of its own (a second parse) and builds an RDF
graph, about 30 times the cost of a parse on the development corpus.
"""

from __future__ import annotations

from typing import Any

import lxml.etree
import lxml.html

from cloudtrack_app.tracking.extract.structured import (
    StructuredProduct,
    block_of,
    has_price,
    walk_products,
)

HTML_ELEMENTS = lxml.etree.ElementDefaultClassLookup(element=lxml.html.HtmlElement)


def fallback_products(
    url: str, unread_json_ld: list[Any], diagnostics: list[str], *, start: int
) -> list[StructuredProduct]:
    """Products that extruct reads and our readers did not, when one of them has a price."""
    products: list[StructuredProduct] = []
    for script in unread_json_ld:
        documents = _read(script, url, "json-ld", diagnostics)
        products.extend(walk_products(documents, "json-ld", start + len(products), block_of(script)))
    if not has_price(products):
        return []
    diagnostics.append("structured price read by the extruct fallback")
    return products


def _read(tree: lxml.etree._Element, url: str, syntax: str, diagnostics: list[str]) -> list[Any]:
    # Imported on first use: extruct brings rdflib and mf2py, a third of a second to load.
    import extruct

    # extruct cleans property texts with lxml.html's element methods; our parser makes
    # plain elements (cheaper for everything else). Elements made while extruct reads,
    # its copies included, take lxml.html's class in C. The parser is this thread's own.
    parser = tree.getroottree().parser
    parser.set_element_class_lookup(HTML_ELEMENTS)
    try:
        found = extruct.extract(tree, base_url=url or None, syntaxes=[syntax], uniform=True, errors="strict")
        return list(found.get(syntax) or [])
    except Exception as error:
        diagnostics.append(f"extruct fallback ({syntax}) failed: {type(error).__name__}")
        return []
    finally:
        parser.set_element_class_lookup(None)
