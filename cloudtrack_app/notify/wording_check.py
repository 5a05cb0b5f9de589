"""The check on a language model's alert wording: the model may word an alert, never state a fact.

A model writes the subject and body with placeholders (`{price}`, `{product}`, …) and CloudTrack
fills the facts in after this check. So the check does not compare the text with the facts, it
refuses any fact at all: after NFKC normalisation and removal of invisible and format
characters, the text may hold only plain Latin letters, spaces, ordinary punctuation and known
placeholders. That rules out by construction digits and numerals of every script, currency
signs, `@`, `/`, `%`, markup, emoji and look-alike letters from other alphabets. What letters
alone can still spell is refused by word: number words (seven languages), currency names,
spelled-out addresses ("shop dot example"), contact and code wording, code-like capitals and
lone letters. The text that passes, normalised, is the text that is sent.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from cloudtrack_app.notify import _wording_words as words

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_DOTTED = re.compile(r"[^\W\d_]\.[^\W\d_]")
_AT_IN_BRACKETS = re.compile(r"(?i)\(\s*at\s*\)")
PUNCTUATION = frozenset(".,;:!?'\"-()’‘“”–—")  # with typographic quotes and dashes
# Invisible characters that are neither format (Cf) nor control (Cc) characters: the
# default-ignorable letters and marks (Hangul fillers, variation selectors, …) and the blank
# Braille pattern, which renders as a space.
_OTHER_INVISIBLES = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u2800\u3164\uffa0"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)
_LINE_BREAKS = frozenset("\n\x0b\x0c\x85\u2028\u2029")
# Words this short, next to each other, may be one word split by spaces ("nin ety").
_SPLIT_PART_MAX = 5
_COMPOUND_MIN = 6


class GeneratedTextRejected(Exception):
    """The model's answer cannot be used; the message says why, for the alert history."""


@dataclass(frozen=True)
class Vocabulary:
    numbers: frozenset[str]
    currencies: frozenset[str]
    numeric: frozenset[str]  # numbers and currencies
    compound_parts: frozenset[str]  # what a run-together amount is made of ("ninetyeuros")
    splittable: frozenset[str]  # what may be split by spaces ("nin ety", "d ot")

    @classmethod
    def of(cls, numbers: set[str], currencies: set[str]) -> Vocabulary:
        numeric = frozenset(numbers | currencies)
        return cls(
            numbers=frozenset(numbers),
            currencies=frozenset(currencies),
            numeric=numeric,
            compound_parts=frozenset(w for w in numeric if len(w) >= 3) | {"und", "and"},
            splittable=numeric | words.WEB_WORDS,
        )


# Latin letters that do not decompose into a plain letter and a mark ("nınety" is "ninety").
_PLAIN_LETTERS = str.maketrans(
    {
        "æ": "ae",
        "ð": "d",
        "ø": "o",
        "þ": "th",
        "đ": "d",
        "ħ": "h",
        "ı": "i",
        "ĸ": "k",
        "ł": "l",
        "ŋ": "n",
        "œ": "oe",
        "ŧ": "t",
        "’": "'",
    }
)


def fold(word: str) -> str:
    """A word as the lists hold it: case-folded, in plain letters ("Fünf" -> "funf", "Złoty" -> "zloty")."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_PLAIN_LETTERS)


@cache
def vocabulary() -> Vocabulary:
    """Number words from num2words and currency names from babel, once per process."""
    from datetime import date

    from babel import Locale
    from babel.numbers import get_currency_name, get_territory_currencies
    from num2words import num2words

    numbers = {fold(word) for word in words.EXTRA_NUMBER_WORDS}
    cardinals = [*range(101), *range(200, 1000, 100), 10**3, 10**6, 10**9, 10**12]
    ordinals = [*range(1, 32), *range(40, 101, 10), 1000]
    for language in words.NUMBER_WORD_LANGUAGES:
        spelled = [num2words(n, lang=language) for n in cardinals]
        spelled += [num2words(n, lang=language, to="ordinal") for n in ordinals]
        for text in spelled:
            numbers.update(fold(part) for part in re.split(r"[\s-]+", text) if part)
    numbers -= words.NOT_NUMBER_WORDS

    currencies = {fold(word) for word in words.EXTRA_CURRENCY_WORDS}
    today = date.today()
    for territory in Locale("en").territories:
        for code in get_territory_currencies(territory, today, tender=True):
            for count in (1, 2):
                currencies.add(fold(get_currency_name(code, count, locale="en").split()[-1]))
    currencies -= words.NOT_CURRENCY_WORDS
    return Vocabulary.of(numbers, currencies)


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cf", "Cc") or ch in _OTHER_INVISIBLES


def normalise(text: str) -> str:
    """NFKC, invisible and format characters removed, one space between words, no CR."""
    text = unicodedata.normalize("NFKC", text)
    kept = []
    for ch in text:
        if ch in _LINE_BREAKS:
            kept.append("\n")
        elif ch == "\t" or unicodedata.category(ch) == "Zs":
            kept.append(" ")
        elif not _invisible(ch):
            kept.append(ch)
    # Removing a character can join two that compose ("e", ZWSP, combining acute).
    text = unicodedata.normalize("NFKC", "".join(kept))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def _plain_latin(ch: str) -> bool:
    return ("A" <= ch <= "Z") or ("a" <= ch <= "z") or ("\u00c0" <= ch <= "\u017f" and ch not in "×÷")


def _character_problem(ch: str) -> str | None:
    if ch in " \n" or ch in PUNCTUATION or _plain_latin(ch):
        return None
    code = f"U+{ord(ch):04X}"
    if unicodedata.numeric(ch, None) is not None:
        return f"contains a digit or numeral '{ch}' ({code})"
    category = unicodedata.category(ch)
    if category == "Sc":
        return f"contains a currency sign '{ch}'"
    if ch == "@":
        return "contains an e-mail sign '@'"
    if ch in "/\\":
        return f"contains a slash '{ch}', as in a web address"
    if ch == "%":
        return "contains a percent sign"
    if ch in "<>*_`[]#|~^=&+":
        return f"contains markup or a symbol '{ch}'"
    if category.startswith("L"):
        return f"contains a letter outside the plain Latin alphabet '{ch}' ({code})"
    return f"contains the character '{ch}' ({code}), which alerts do not use"


def _in(word: str, vocabulary: frozenset[str]) -> bool:
    """`word` or its plural in `vocabulary` ("euros", "hundreds", "calls")."""
    return (
        word in vocabulary
        or (word.endswith("s") and word[:-1] in vocabulary)
        or (word.endswith("es") and word[:-2] in vocabulary)
    )


def _is_compound(word: str, parts: frozenset[str], numeric: frozenset[str]) -> bool:
    """Whether `word` is two or more number or currency words run together ("ninetyeuros")."""
    if len(word) < _COMPOUND_MIN:
        return False
    best: dict[int, int] = {0: 0}  # position -> most numeric parts found up to there
    for start in range(len(word)):
        if start not in best:
            continue
        for end in range(start + 3, len(word) + 1):
            piece = word[start:end]
            if piece in parts or (end == len(word) and _in(piece, parts)):
                count = best[start] + (piece in numeric or _in(piece, numeric))
                best[end] = max(best.get(end, -1), count)
    return best.get(len(word), 0) >= 2


def _word_problem(token: str, vocabulary: Vocabulary) -> str | None:
    """Why one word (or words run together) may not appear, if it may not."""
    for part in fold(token).split("'"):
        if not part:
            continue
        if _in(part, vocabulary.numbers):
            return f"contains a number word '{token}'"
        if _in(part, vocabulary.currencies):
            return f"contains a currency word '{token}'"
        if _in(part, words.WEB_WORDS) or any(f in part for f in words.WEB_FRAGMENTS):
            return f"contains a word of a web or e-mail address '{token}'"
        if _in(part, words.CONTACT_WORDS):
            return f"asks to get in touch, pay or sign in ('{token}')"
        if _in(part, words.CODE_WORDS):
            return f"contains coupon or code wording '{token}'"
        if _is_compound(part, vocabulary.compound_parts, vocabulary.numeric):
            return f"contains number or currency words run together '{token}'"
    return None


def _words_problem(text: str, vocabulary: Vocabulary) -> str | None:
    dotted = _DOTTED.search(text)
    if dotted:
        return f"contains something written like a web address '{dotted.group()}'"
    if _AT_IN_BRACKETS.search(text):
        return "contains an e-mail address written with '(at)'"
    tokens = _WORD.findall(text)
    for token in tokens:
        if token not in words.ALLOWED_MIXED_CASE and any(c.isupper() for c in token[1:]):
            return f"contains a code-like word '{_shown(token)}'"
        if len(token) == 1 and token not in ("a", "A", "I"):
            return f"contains a lone letter '{token}'"
        problem = _word_problem(token, vocabulary)
        if problem:
            return problem
    # A number or a currency split by spaces or hyphens: "nin ety", "eu-ros".
    for size in (2, 3):
        for start in range(len(tokens) - size + 1):
            parts = tokens[start : start + size]
            if any(len(p) > _SPLIT_PART_MAX for p in parts):
                continue
            joined = fold("".join(parts))
            if len(joined) >= 4 and _in(joined, vocabulary.splittable):
                return f"contains a number, currency or address word split apart '{' '.join(parts)}'"
    return None


def check_wording(text: str, *, part: str, allowed: frozenset[str], known: frozenset[str]) -> str:
    """`text` normalised, when it states no fact itself; raises GeneratedTextRejected otherwise.

    `known` are the placeholder names CloudTrack has, `allowed` those this alert can fill.
    """
    normalised = normalise(text)
    problem = _text_problem(normalised, allowed, known)
    if problem:
        raise GeneratedTextRejected(f"AI text rejected: the {part} {problem}.")
    return normalised


def _text_problem(text: str, allowed: frozenset[str], known: frozenset[str]) -> str | None:
    for match in PLACEHOLDER.finditer(text):
        name = match.group(1)
        if name not in known:
            return f"uses an unknown placeholder {{{_shown(name)}}}"
        if name not in allowed:
            return f"uses {{{name}}}, which this alert has no value for"
    rest = PLACEHOLDER.sub(" ", text)
    if "{" in rest or "}" in rest:
        return "contains braces outside the placeholders"
    for ch in rest:
        problem = _character_problem(ch)
        if problem:
            return problem
    return _words_problem(rest, vocabulary())


def placeholders_in(text: str) -> set[str]:
    return {match.group(1) for match in PLACEHOLDER.finditer(text)}


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with each placeholder replaced by its value, in one pass (values are not expanded)."""
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)
