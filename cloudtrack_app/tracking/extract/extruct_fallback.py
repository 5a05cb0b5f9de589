"""extruct as the spec-complete second reader, for pages where our own readers found no price.

Our readers (structured.py) cover what shops write, fast. extruct follows the specs to the
letter: microdata `itemref`, property values by element kind, JSON-LD behind an HTML
comment. Its output goes through the same product and offer walker as ours. It runs only
when no structured price was found, on the tree already parsed, and only while its cost
stays bounded:

- microdata: only on pages that use `itemref`, the one part of the spec our reader
  leaves out (on the development corpora extruct found no price anywhere else, at 3 ms a
  page). extruct's reader de-duplicates XPath node sets pairwise, so its time grows with
  the square of the elements below nested items and properties (8 nested items over
  5 000 elements take over a second): pages above a bound are left to our own reader.
- JSON-LD: only the blocks our reader could not parse (already bounded in size there).
- RDFa is not read: pyRdfa needs a DOM of its own (a second parse) and builds an RDF
  graph, about 30 times the cost of a parse on the development corpus.
"""

from __future__ import annotations

from typing import Any

import lxml.etree
import lxml.html

from cloudtrack_app.tracking.extract.structured import (
    SUBTREE_SIZE,
    StructuredProduct,
    has_price,
    nearest_items,
    walk_products,
)

# extruct spends some 50 µs of Python on an item; the development corpora have at most
# 133 items, 378 properties and 1 reference on a page.
MAX_ITEMS = 500
MAX_PROPERTIES = 2000
MAX_REFERENCES = 50
# Elements below nested items and properties (and below itemref targets, read once per
# reference). Real pages have up to about 5 000; 10 000 costs extruct some 30 ms.
MAX_NESTED_ELEMENTS = 10_000
# An element below an itemref target costs extruct two XPath compilations per reference
# (some 40 µs), ten times an element below a nested item.
REFERENCE_WEIGHT = 10

HTML_ELEMENTS = lxml.etree.ElementDefaultClassLookup(element=lxml.html.HtmlElement)
ITEM_COUNT = lxml.etree.XPath("count(//@itemscope)")
PROPERTY_COUNT = lxml.etree.XPath("count(//@itemprop)")
ITEM_REFERENCES = lxml.etree.XPath("//@itemref")
BY_ID = lxml.etree.XPath("id($name)")


def fallback_products(
    tree: lxml.etree._Element,
    url: str,
    unread_json_ld: list[Any],
    diagnostics: list[str],
    *,
    may_have_microdata: bool,
    start: int,
) -> list[StructuredProduct]:
    """Products that extruct reads and our readers did not, when one of them has a price."""
    products: list[StructuredProduct] = []
    if may_have_microdata:
        products.extend(walk_products(_microdata(tree, url, diagnostics), "microdata", start))
    for script in unread_json_ld:
        documents = _read(script, url, "json-ld", diagnostics)
        products.extend(walk_products(documents, "json-ld", start + len(products)))
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


def _microdata(tree: lxml.etree._Element, url: str, diagnostics: list[str]) -> list[Any]:
    references = [name for value in ITEM_REFERENCES(tree) for name in value.split()]
    if not references:
        return []
    if (
        len(references) > MAX_REFERENCES
        or ITEM_COUNT(tree) > MAX_ITEMS
        or PROPERTY_COUNT(tree) > MAX_PROPERTIES
        or not _nested_within_bound(tree, references)
    ):
        diagnostics.append("microdata too large for the extruct fallback")
        return []
    return _read(tree, url, "microdata", diagnostics)


def _nested_within_bound(tree: lxml.etree._Element, references: list[str]) -> bool:
    """Whether the elements extruct reads again and again stay under MAX_NESTED_ELEMENTS.
    Counting stops at the bound, so a hostile page costs no more than a real one."""
    scopes = [attribute.getparent() for attribute in tree.xpath("//@itemscope")]
    marked = list(dict.fromkeys(scopes + [attribute.getparent() for attribute in tree.xpath("//@itemprop")]))
    below_items = [
        element
        for element, owner in zip(marked, nearest_items(marked, set(scopes)), strict=True)
        if owner is not None
    ]
    targets = [target for name in references for target in BY_ID(tree, name=name)[:1]]
    left = MAX_NESTED_ELEMENTS
    weighed = [(element, 1) for element in below_items] + [(target, REFERENCE_WEIGHT) for target in targets]
    for element, weight in weighed:
        left -= weight * (1 + int(SUBTREE_SIZE(element)))
        if left < 0:
            return False
    return True
