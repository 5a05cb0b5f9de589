"""CSS selectors that people type or that a pick remembers, read on a shop's page.

cssselect parses the selector, but its XPath is not evaluated as a whole: libxml2 reads
`*:not(a) *` on a page of 100 000 elements in half a minute (each descendant step merges
node sets pairwise), and `:nth-child()` counts preceding siblings for every element,
quadratic on a long list. So each compound (`div.price#main[data-x]`) keeps only the
conditions on the element itself, evaluated by libxml2 over the page once; positions
(`:nth-child`, `:first-of-type`…) and combinators are checked here, each element and
sibling list looked at once. Only the parts of CSS that can be read in linear time are
accepted: whatever else a selector asks for gives a message, never an exception.
"""

from __future__ import annotations

import copy
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cssselect
import lxml.etree
from cssselect.parser import (
    Attrib,
    Class,
    CombinedSelector,
    Element,
    Function,
    Hash,
    Negation,
    Pseudo,
)
from cssselect.xpath import ExpressionError, HTMLTranslator

MAX_SELECTOR_LENGTH = 500
MAX_COMPOUNDS = 40
MAX_ALTERNATIVES = 8
# Steps one selector may take on one page (an element tested, a sibling indexed, a step
# up or sideways, four elements the page scan found): some 50 ms; a real selector on a
# real page takes a few hundred.
SELECTOR_STEPS = 60_000
TEST_STEPS = 4  # a test of an element by libxml2 costs about four steps in Python
SELF_PSEUDOS = frozenset({"empty", "root"})
# ident → (counts only elements of the same tag, counts from the end, a, b): an+b.
POSITION_PSEUDOS = {
    "first-child": (False, False, 0, 1),
    "last-child": (False, True, 0, 1),
    "first-of-type": (True, False, 0, 1),
    "last-of-type": (True, True, 0, 1),
}
ONLY_PSEUDOS = {"only-child": False, "only-of-type": True}
POSITION_FUNCTIONS = {
    "nth-child": (False, False),
    "nth-last-child": (False, True),
    "nth-of-type": (True, False),
    "nth-last-of-type": (True, True),
}
TRANSLATOR = HTMLTranslator()


class UnreadableSelector(ValueError):
    """A selector outside the CSS this module reads; the message is for people."""


@dataclass(frozen=True)
class Position:
    of_type: bool
    from_end: bool
    a: int
    b: int
    only: bool = False

    def holds(self, index: int, count: int) -> bool:
        """Whether the 1-based `index` among `count` siblings is an+b for some n ≥ 0."""
        if self.only:
            return count == 1
        place = count - index + 1 if self.from_end else index
        if self.a == 0:
            return place == self.b
        steps, rest = divmod(place - self.b, self.a)
        return rest == 0 and steps >= 0


@dataclass(frozen=True)
class Compound:
    """Conditions on one element: `on_itself` in XPath, `positions` among its siblings."""

    on_itself: str
    positions: tuple[Position, ...]


@dataclass(frozen=True)
class Chain:
    """Compounds left to right, with the combinator before each one (the first has none)."""

    compounds: tuple[Compound, ...]
    combinators: tuple[str, ...]


@dataclass(frozen=True)
class CompiledSelector:
    chains: tuple[Chain, ...]


def compile_selector(text: str) -> CompiledSelector:
    """Raises `UnreadableSelector` with a message for people."""
    if not isinstance(text, str) or not text.strip():
        raise UnreadableSelector("it is empty")
    if len(text) > MAX_SELECTOR_LENGTH:
        raise UnreadableSelector(f"it is longer than {MAX_SELECTOR_LENGTH} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in " \t\r\n" for ch in text):
        raise UnreadableSelector("it holds control characters")
    try:
        parsed = cssselect.parse(text)
    except (cssselect.SelectorError, RecursionError, ValueError) as error:
        raise UnreadableSelector(str(error) or "it does not parse") from None
    if not parsed or len(parsed) > MAX_ALTERNATIVES:
        raise UnreadableSelector(f"it lists more than {MAX_ALTERNATIVES} selectors")
    chains = []
    for selector in parsed:
        if selector.pseudo_element is not None:
            raise UnreadableSelector(f"::{selector.pseudo_element} is not an element of the page")
        chains.append(_chain(selector.parsed_tree))
    return CompiledSelector(tuple(chains))


def validate_selector(text: str) -> str | None:
    """A message for people when `text` is not a selector this app can read, else None."""
    try:
        compile_selector(text)
    except UnreadableSelector as error:
        return f"That is not a CSS selector this app can read: {error}."
    return None


def _chain(tree: Any) -> Chain:
    compounds: list[Compound] = []
    combinators: list[str] = []
    while isinstance(tree, CombinedSelector):
        compounds.append(_compound(tree.subselector))
        combinators.append(" " if tree.combinator == " " else tree.combinator)
        tree = tree.selector
        if len(compounds) >= MAX_COMPOUNDS:
            raise UnreadableSelector(f"it has more than {MAX_COMPOUNDS} parts")
    if tree.__class__ not in (Element, Class, Hash, Attrib, Function, Pseudo, Negation):
        raise UnreadableSelector(f"{_describe(tree)} is not supported")
    compounds.append(_compound(tree))
    combinators.append("")
    compounds.reverse()
    combinators.reverse()
    for combinator in combinators[1:]:
        if combinator not in (" ", ">", "+", "~"):
            raise UnreadableSelector(f"the combinator {combinator!r} is not supported")
    return Chain(tuple(compounds), tuple(combinators))


def _compound(tree: Any) -> Compound:
    conditions: list[str] = []
    positions: list[Position] = []
    while not isinstance(tree, Element):
        part = copy.copy(tree)
        part.selector = Element()
        if isinstance(tree, Class | Hash | Attrib) or (
            isinstance(tree, Pseudo) and tree.ident in SELF_PSEUDOS
        ):
            conditions.append(_condition(part))
        elif isinstance(tree, Pseudo) and tree.ident in POSITION_PSEUDOS:
            positions.append(Position(*POSITION_PSEUDOS[tree.ident]))
        elif isinstance(tree, Pseudo) and tree.ident in ONLY_PSEUDOS:
            positions.append(Position(ONLY_PSEUDOS[tree.ident], False, 0, 1, only=True))
        elif isinstance(tree, Function) and tree.name in POSITION_FUNCTIONS:
            try:
                a, b = cssselect.xpath.parse_series(tree.arguments)
            except (ValueError, TypeError, cssselect.SelectorError):
                raise UnreadableSelector(f"the argument of :{tree.name}() is not an+b") from None
            positions.append(Position(*POSITION_FUNCTIONS[tree.name], a, b))
        elif isinstance(tree, Negation) and _on_itself_only(tree.subselector):
            conditions.append(_condition(part))
        else:
            raise UnreadableSelector(f"{_describe(tree)} is not supported")
        tree = tree.selector
    element = _condition_of_element(tree)
    if element:
        conditions.append(element)
    return Compound(" and ".join(f"({c})" for c in conditions) or "true()", tuple(positions))


def _on_itself_only(tree: Any) -> bool:
    """A compound of conditions on the element itself (what `:not()` may hold here)."""
    while not isinstance(tree, Element):
        if not (
            isinstance(tree, Class | Hash | Attrib)
            or (isinstance(tree, Pseudo) and tree.ident in SELF_PSEUDOS)
        ):
            return False
        tree = tree.selector
    return True


def _condition(part: Any) -> str:
    try:
        return str(TRANSLATOR.xpath(part).condition) or "true()"
    except (ExpressionError, cssselect.SelectorError, ValueError) as error:
        raise UnreadableSelector(str(error)) from None


def _condition_of_element(element: Element) -> str:
    if element.namespace not in (None, "*"):
        raise UnreadableSelector("namespaces are not supported")
    if element.element in (None, "*"):
        return ""
    tag = element.element.lower()
    return f"name() = {TRANSLATOR.xpath_literal(tag)}"


def _describe(tree: Any) -> str:
    if isinstance(tree, Pseudo):
        return f":{tree.ident}"
    if isinstance(tree, Function):
        return f":{tree.name}()"
    if isinstance(tree, Negation):
        return ":not() around more than one element's own conditions"
    return {"Relation": ":has()", "Matching": ":is()", "SpecificityAdjustment": ":where()"}.get(
        type(tree).__name__, type(tree).__name__.lower()
    )


class SelectorTooCostly(Exception):
    """A selector that needs more steps than one selector may take on one page."""


class PageSelection:
    """Selectors read on one parsed page. The last compound of a selector is found by
    libxml2 in one pass over the page; the others are tested on the elements the
    combinators lead to, each element once. Every test and step counts against the
    selector's budget, so no selector costs more than about a tenth of a second."""

    def __init__(self, tree: Any) -> None:
        self.tree = tree
        self.found: dict[str, list[Any]] = {}
        self.tests: dict[str, Any] = {}
        self.siblings: dict[Any, tuple[dict[Any, int], dict[Any, int], dict[Any, int]]] = {}
        self.steps_left = 0

    def first(self, compiled: CompiledSelector, budget: int = SELECTOR_STEPS) -> Any | None:
        """The first element in page order that the selector finds, else None. Raises
        SelectorTooCostly past `budget` steps."""
        self.steps_left = budget
        found = [match for chain in compiled.chains for match in self._matches(chain, limit=1)]
        if len(found) > 1:
            order = {element: index for index, element in enumerate(self.tree.iter())}
            return min(found, key=lambda e: order.get(e, 0))
        return found[0] if found else None

    def all(self, compiled: CompiledSelector, budget: int = SELECTOR_STEPS) -> list[Any]:
        self.steps_left = budget
        found: dict[Any, None] = {}
        for chain in compiled.chains:
            found.update(dict.fromkeys(self._matches(chain, limit=None)))
        return list(found)

    def spend(self, steps: int) -> None:
        self.steps_left -= steps
        if self.steps_left < 0:
            raise SelectorTooCostly

    def _matches(self, chain: Chain, limit: int | None) -> Iterator[Any]:
        matcher = _ChainMatcher(self, chain)
        last = len(chain.compounds) - 1
        produced = 0
        condition = chain.compounds[last].on_itself
        found = self.found.get(condition)
        if found is None:
            found = self.found[condition] = lxml.etree.XPath(f"descendant-or-self::*[{condition}]")(self.tree)
        self.spend(len(found) // 4)
        for element in found:
            self.spend(1)
            if matcher.matches(element, last, found=True):
                yield element
                produced += 1
                if limit is not None and produced >= limit:
                    return

    def holds(self, compound: Compound, element: Any) -> bool:
        """Whether the element meets the compound's conditions on itself."""
        self.spend(TEST_STEPS)
        test = self.tests.get(compound.on_itself)
        if test is None:
            test = self.tests[compound.on_itself] = lxml.etree.XPath(f"self::*[{compound.on_itself}]")
        return bool(test(element))

    def position(self, element: Any, of_type: bool) -> tuple[int, int]:
        """1-based place among its element siblings (of its tag), and how many there are."""
        parent = element.getparent()
        if parent is None:
            return 1, 1
        known = self.siblings.get(parent)
        if known is None:
            children = [c for c in parent if isinstance(c.tag, str)]
            self.spend(len(children))
            places = {c: i for i, c in enumerate(children, start=1)}
            of_tag: dict[Any, int] = {}
            tag_counts: dict[Any, int] = {}
            for child in children:
                tag_counts[child.tag] = of_tag[child] = tag_counts.get(child.tag, 0) + 1
            known = (places, of_tag, tag_counts)
            self.siblings[parent] = known
        places, of_tag, tag_counts = known
        if of_type:
            return of_tag[element], tag_counts[element.tag]
        return places[element], len(places)


class _ChainMatcher:
    def __init__(self, selection: PageSelection, chain: Chain) -> None:
        self.selection = selection
        self.chain = chain
        self.memo: list[dict[Any, bool]] = [{} for _ in chain.compounds]
        self.above: list[dict[Any, bool]] = [{} for _ in chain.compounds]
        self.before: list[dict[Any, bool]] = [{} for _ in chain.compounds]

    def matches(self, element: Any, index: int, *, found: bool = False) -> bool:
        """`found`: the element is known to meet the compound's own conditions."""
        known = self.memo[index].get(element)
        if known is None:
            known = self._itself(element, index, found) and self._context(element, index)
            self.memo[index][element] = known
        return known

    def _itself(self, element: Any, index: int, found: bool) -> bool:
        compound = self.chain.compounds[index]
        if not found and not self.selection.holds(compound, element):
            return False
        for position in compound.positions:
            place, count = self.selection.position(element, position.of_type)
            if not position.holds(place, count):
                return False
        return True

    def _context(self, element: Any, index: int) -> bool:
        if index == 0:
            return True
        combinator = self.chain.combinators[index]
        if combinator == ">":
            parent = element.getparent()
            return parent is not None and self.matches(parent, index - 1)
        if combinator == "+":
            previous = _previous_element(element)
            return previous is not None and self.matches(previous, index - 1)
        if combinator == "~":
            return self._along(element, index - 1, self.before[index - 1], _previous_element)
        return self._along(element, index - 1, self.above[index - 1], lambda e: e.getparent())

    def _along(self, element: Any, index: int, memo: dict[Any, bool], step: Any) -> bool:
        """Whether an element reached by repeating `step` matches compound `index`; every
        element on the way is answered once (a loop: pages nest thousands deep)."""
        walked: list[Any] = []
        node = step(element)
        answer = False
        while node is not None:
            self.selection.spend(1)
            known = memo.get(node)
            if known is not None:
                answer = known
                break
            walked.append(node)
            if self.matches(node, index):
                answer = True
                break
            node = step(node)
        # Everything walked before a match or a known answer shares it: the match (or the
        # answer) lies beyond each of them on the same path.
        memo.update(dict.fromkeys(walked, answer))
        return answer


def _previous_element(element: Any) -> Any | None:
    for sibling in element.itersiblings(preceding=True):
        if isinstance(sibling.tag, str):
            return sibling
    return None
