"""Word lists behind the wording check (`wording_check.py`): data only, kept apart from logic.

Number words in seven languages and the names of the world's currencies are generated from
num2words and babel when the check first runs; these are the words those libraries do not
give, and the few English words that only look like a foreign number or currency.
"""

from __future__ import annotations

# Languages whose number words are refused: English, which alerts are written in, and the
# Latin-script languages a model most often slips into or a page most often writes.
NUMBER_WORD_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")

# Amounts, fractions and multiples num2words does not spell, and a common misspelling.
EXTRA_NUMBER_WORDS = frozenset(
    {
        "half",
        "halves",
        "halve",
        "halb",
        "halbe",
        "halben",
        "halfte",
        "moitie",
        "demi",
        "mitad",
        "medio",
        "mezzo",
        "meta",
        "helft",
        "metade",
        "meio",
        "quarter",
        "dozen",
        "dutzend",
        "douzaine",
        "docena",
        "dozzina",
        "dozijn",
        "duzia",
        "twice",
        "thrice",
        "double",
        "triple",
        "quadruple",
        "hundred",
        "thousand",
        "million",
        "billion",
        "trillion",
        "zillion",
        "fourty",
        "percent",
        "percentage",
        "pct",
        "prozent",
        "pourcent",
        "procent",
        "porcentaje",
        "percento",
        "porcento",
    }
)

# Joiners inside spelled numbers ("vingt et un", "cuarenta y nueve"), and English words that
# are also a number elsewhere ("once" is eleven in Spanish, "due" two in Italian).
NOT_NUMBER_WORDS = frozenset({"et", "y", "e", "und", "en", "once", "due", "seize"})

# Coins, slang and other languages' names that babel's English currency names do not cover.
EXTRA_CURRENCY_WORDS = frozenset(
    {
        "cent",
        "centime",
        "centimo",
        "centavo",
        "centesimo",
        "centesimi",
        "penny",
        "pence",
        "pennies",
        "pfennig",
        "kopeck",
        "kopek",
        "grosz",
        "groszy",
        "ore",
        "rappen",
        "buck",
        "quid",
        "sterling",
        "dollaro",
        "dollari",
        "dolar",
        "dolares",
        "franco",
        "franchi",
        "franken",
        "livre",
        "libra",
        "sterlina",
        "sterline",
        "pfund",
        "pond",
        "ponden",
        "kronen",
        "złoty",
        "złotych",
        "rupia",
        "roupie",
        "rublo",
        "rouble",
        "rubel",
        "renminbi",
        "bitcoin",
        "satoshi",
        "ether",
        "crypto",
    }
)

# Currency names that are everyday English words ("a real bargain", "you won").
NOT_CURRENCY_WORDS = frozenset({"real", "reals", "won", "mark", "marks", "gold", "sol", "soles"})

# Words that spell out a web or e-mail address ("shop dot example", "name (at) mail").
WEB_WORDS = frozenset(
    {
        "dot",
        "dotcom",
        "com",
        "net",
        "org",
        "www",
        "http",
        "https",
        "html",
        "htm",
        "url",
        "slash",
        "backslash",
        "punkt",
        "punto",
        "ponto",
        "gmail",
        "hotmail",
        "yahoo",
        "icloud",
        "protonmail",
    }
)
# Parts of a word that give it away as an address ("evildotcom", "wwwevil").
WEB_FRAGMENTS = ("http", "www", "dotcom", "dotnet", "dotorg")

# An alert never asks anyone to get in touch, pay, sign in or verify anything.
CONTACT_WORDS = frozenset(
    {
        "call",
        "calling",
        "phone",
        "telephone",
        "dial",
        "hotline",
        "sms",
        "whatsapp",
        "email",
        "mail",
        "inbox",
        "reply",
        "contact",
        "password",
        "login",
        "logon",
        "signin",
        "account",
        "verify",
        "verification",
        "payment",
        "bank",
        "iban",
        "invoice",
        "refund",
    }
)

# An alert never carries a code to type in somewhere.
CODE_WORDS = frozenset(
    {"code", "coupon", "promo", "promocode", "voucher", "redeem", "checkout", "giftcard", "discountcode"}
)

# The one word with capitals inside that alerts may use.
ALLOWED_MIXED_CASE = frozenset({"CloudTrack"})
