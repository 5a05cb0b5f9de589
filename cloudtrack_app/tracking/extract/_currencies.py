"""Currency signs, and the facts about countries and currencies that settle them (data only).

Kept apart from the parsing logic in `money.py`, as price-parser keeps its own tables in a
module of their own. Keys of the sign tables are lower case.
"""

# Signs that name one currency wherever they appear.
UNAMBIGUOUS_SIGNS: dict[str, str] = {
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "₹": "INR",
    "₽": "RUB",
    "руб": "RUB",
    "руб.": "RUB",
    "₴": "UAH",
    "грн": "UAH",
    "грн.": "UAH",
    "₺": "TRY",
    "tl": "TRY",
    "₩": "KRW",
    "원": "KRW",
    "₪": "ILS",
    "₫": "VND",
    "đ": "VND",
    "฿": "THB",
    "₱": "PHP",
    "₦": "NGN",
    "₸": "KZT",
    "₾": "GEL",
    "₼": "AZN",
    "₭": "LAK",
    "zł": "PLN",
    "zl": "PLN",
    "kč": "CZK",
    "ft": "HUF",
    "lei": "RON",
    "лв": "BGN",
    "лв.": "BGN",
    "kn": "HRK",
    "din": "RSD",
    "дин": "RSD",
    "rm": "MYR",
    "rp": "IDR",
    "s/": "PEN",
    "s/.": "PEN",
    "r$": "BRL",
    "us$": "USD",
    "usd$": "USD",
    "c$": "CAD",
    "ca$": "CAD",
    "cad$": "CAD",
    "a$": "AUD",
    "au$": "AUD",
    "nz$": "NZD",
    "hk$": "HKD",
    "s$": "SGD",
    "sg$": "SGD",
    "nt$": "TWD",
    "mx$": "MXN",
    "円": "JPY",
    "元": "CNY",
    "rmb": "CNY",
    "chf": "CHF",
    "fr.": "CHF",
    "sfr.": "CHF",
    "br": "BYN",
    "бел. руб.": "BYN",
    "ر.س": "SAR",
    "ر.س.": "SAR",
    "sr": "SAR",
    "د.إ": "AED",
    "ر.ق": "QAR",
    "د.ك": "KWD",
    "ب.د": "BHD",
    "ر.ع.": "OMR",
    "د.ا": "JOD",
    "ج.م": "EGP",
    "дин.": "RSD",
    "₨": "PKR",
    "৳": "BDT",
    "₮": "MNT",
}

# Signs shared by several currencies: the shop's country picks one; else the default.
AMBIGUOUS_SIGNS: dict[str, tuple[frozenset[str], str | None]] = {
    "$": (
        frozenset(
            {
                "USD",
                "CAD",
                "AUD",
                "NZD",
                "MXN",
                "ARS",
                "CLP",
                "COP",
                "SGD",
                "HKD",
                "TWD",
                "UYU",
                "BSD",
                "BBD",
                "BZD",
                "BMD",
                "BND",
                "FJD",
                "GYD",
                "JMD",
                "KYD",
                "LRD",
                "NAD",
                "SBD",
                "SRD",
                "TTD",
                "XCD",
                "CUP",
                "DOP",
            }
        ),
        "USD",
    ),
    "kr": (frozenset({"SEK", "DKK", "NOK", "ISK"}), None),
    "¥": (frozenset({"JPY", "CNY"}), "JPY"),
    "£": (frozenset({"GBP", "EGP", "LBP", "GIP", "FKP", "SHP"}), "GBP"),
    "rs": (frozenset({"INR", "PKR", "LKR", "NPR", "MUR", "SCR"}), "INR"),
    "р.": (frozenset({"RUB", "BYN"}), "RUB"),
}
AMBIGUOUS_SIGNS["kr."] = AMBIGUOUS_SIGNS[":-"] = AMBIGUOUS_SIGNS["kr"]
AMBIGUOUS_SIGNS["rs."] = AMBIGUOUS_SIGNS["rs"]
AMBIGUOUS_SIGNS["￥"] = AMBIGUOUS_SIGNS["¥"]

# When the country does not settle a sign, the page language may.
LANGUAGE_CURRENCY: dict[str, str] = {
    "sv": "SEK",
    "da": "DKK",
    "nb": "NOK",
    "nn": "NOK",
    "no": "NOK",
    "is": "ISK",
    "zh": "CNY",
    "ja": "JPY",
    "ur": "PKR",
    "si": "LKR",
    "ne": "NPR",
    "be": "BYN",
}

# Country-code domains used as generic names: they say nothing about the shop's country.
GENERIC_CCTLDS = frozenset({"io", "co", "tv", "me", "ai", "fm", "ly", "to", "cc", "ws", "eu", "gg", "app"})
TLD_COUNTRY = {"uk": "GB", "su": "RU"}

# Zero-decimal in practice though ISO lists minor units (nobody pays 24,99 forint).
PRACTICALLY_ZERO_DECIMAL = frozenset({"HUF", "TWD", "COP", "IDR", "PKR", "CLP", "ISK", "UGX"})

# Retired ISO 4217 codes still written by shop software, read as the code that replaced them.
# Only a currency renamed within its own country is mapped, because its old notes are no
# longer legal tender: a live page cannot charge in them, so its amount is meant in today's
# currency and only the label is stale (RUR is how Russian shop software still writes the
# rouble). Euro adoptions (LTL, LVL, EEK, SKK, SIT, CYP, MTL, HRK → EUR) are left alone: those
# were conversions at odd rates, and a page that still shows the old code is showing the old
# amount beside the euro one.
RETIRED_CODES: dict[str, str] = {
    "RUR": "RUB",
    "BYR": "BYN",
    "BYB": "BYN",
    "VEF": "VES",
    "VEB": "VES",
    "MRO": "MRU",
    "STD": "STN",
    "ZMK": "ZMW",
    "GHC": "GHS",
    "TRL": "TRY",
    "ROL": "RON",
    "MZM": "MZN",
    "AZM": "AZN",
    "SDD": "SDG",
    "CSD": "RSD",
    "TMM": "TMT",
    "SRG": "SRD",
    "MXP": "MXN",
    "UAK": "UAH",
}
