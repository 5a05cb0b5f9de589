"""Stock state: schema.org values and what the page says in words, in many languages.

Mapping decisions (schema.org ItemAvailability):
- InStock, LimitedAvailability, OnlineOnly, InStoreOnly, MadeToOrder → in_stock.
- PreOrder, PreSale → in_stock: the item can be ordered now at this price, and it is the
  only way it can be bought, so a restock watch on it would otherwise never fire.
- BackOrder → out_of_stock: the shop itself says it has none and ships "when available".
- OutOfStock, SoldOut, Discontinued, Reserved → out_of_stock.
The raw value is kept in `availability_raw` so callers can tell PreOrder from InStock.
"""

from __future__ import annotations

import re
import unicodedata

IN_STOCK = "in_stock"
OUT_OF_STOCK = "out_of_stock"
UNKNOWN = "unknown"

SCHEMA_AVAILABILITY: dict[str, tuple[str, str]] = {
    "instock": ("InStock", IN_STOCK),
    "limitedavailability": ("LimitedAvailability", IN_STOCK),
    "onlineonly": ("OnlineOnly", IN_STOCK),
    "instoreonly": ("InStoreOnly", IN_STOCK),
    "madetoorder": ("MadeToOrder", IN_STOCK),
    "preorder": ("PreOrder", IN_STOCK),
    "presale": ("PreSale", IN_STOCK),
    "backorder": ("BackOrder", OUT_OF_STOCK),
    "outofstock": ("OutOfStock", OUT_OF_STOCK),
    "soldout": ("SoldOut", OUT_OF_STOCK),
    "discontinued": ("Discontinued", OUT_OF_STOCK),
    "reserved": ("Reserved", OUT_OF_STOCK),
    # OpenGraph / Facebook catalogue spellings.
    "oos": ("OutOfStock", OUT_OF_STOCK),
    "availablefororder": ("PreOrder", IN_STOCK),
    "available": ("InStock", IN_STOCK),
    "unavailable": ("OutOfStock", OUT_OF_STOCK),
}


def schema_availability(value: object) -> tuple[str, str] | None:
    """(raw schema name, in_stock|out_of_stock) for `http://schema.org/InStock`, `InStock`,
    `schema:in_stock`, `in stock`…; None for values that are not availability words."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 100:
        return None
    last = re.split(r"[/#:]", text.rstrip("/"))[-1]
    key = re.sub(r"[\s_\-]", "", last).lower()
    return SCHEMA_AVAILABILITY.get(key)


# Clear statements that the item cannot be bought now. Checked before the in-stock
# phrases, which they often contain ("not in stock", "indisponible").
OUT_OF_STOCK_PHRASES = [
    # en
    "out of stock",
    "out-of-stock",
    "sold out",
    "currently unavailable",
    "temporarily unavailable",
    "no longer available",
    "not available",
    "unavailable",
    "not in stock",
    "discontinued",
    "notify me when available",
    "email me when available",
    "notify me when back in stock",
    # de
    "ausverkauft",
    "nicht verfügbar",
    "nicht lieferbar",
    "nicht auf lager",
    "vergriffen",
    "nicht vorrätig",
    "nicht mehr erhältlich",
    "derzeit nicht erhältlich",
    # fr
    "épuisé",
    "épuisée",
    "rupture de stock",
    "en rupture",
    "indisponible",
    "non disponible",
    "plus disponible",
    # es / pt / it
    "agotado",
    "agotada",
    "sin stock",
    "sin existencias",
    "no disponible",
    "fuera de stock",
    "esgotado",
    "esgotada",
    "indisponível",
    "sem estoque",
    "sem stock",
    "fora de estoque",
    "esaurito",
    "esaurita",
    "non disponibile",
    "non più disponibile",
    # nl
    "niet op voorraad",
    "uitverkocht",
    "niet leverbaar",
    "niet beschikbaar",
    # nordic
    "slutsåld",
    "slutsålt",
    "slut i lager",
    "ej i lager",
    "inte i lager",
    "tillfälligt slut",
    "udsolgt",
    "ikke på lager",
    "utsolgt",
    "ikke tilgjengelig",
    "loppunut",
    "ei varastossa",
    "uppselt",
    # central / eastern europe
    "brak w magazynie",
    "niedostępny",
    "niedostępna",
    "wyprzedany",
    "wyprzedane",
    "brak towaru",
    "nedostupné",
    "nedostupný",
    "nedostupná",
    "není skladem",
    "vyprodáno",
    "nelze koupit",
    "nie je na sklade",
    "vypredané",
    "vypredaný",
    "momentálne nedostupné",
    r"nie je možné (?:\w+ )?kúpiť",
    r"není možné (?:\w+ )?koupit",
    "nincs készleten",
    "elfogyott",
    "nem elérhető",
    "stoc epuizat",
    "indisponibil",
    "nu este în stoc",
    "nu este in stoc",
    "nema na zalihi",
    "rasprodano",
    "ni na zalogi",
    "razprodano",
    "nav pieejams",
    "izpārdots",
    "nav noliktavā",
    "išparduota",
    "nėra sandėlyje",
    "laost otsas",
    "tükendi",
    "stokta yok",
    "εξαντλήθηκε",
    "μη διαθέσιμο",
    "изчерпан",
    "няма наличност",
    # cyrillic
    "нет в наличии",
    "нет на складе",
    "распродано",
    "товар закончился",
    "немає в наявності",
    "розпродано",
    # asia / middle east
    "品切れ",
    "在庫切れ",
    "売り切れ",
    "在庫なし",
    "缺货",
    "缺貨",
    "售完",
    "已售完",
    "无货",
    "無庫存",
    "품절",
    "일시품절",
    "hết hàng",
    "สินค้าหมด",
    "stok habis",
    "kehabisan stok",
    "tidak tersedia",
    "غير متوفر",
    "نفذت الكمية",
    "نفدت الكمية",
    "نفذ من المخزون",
    "אזל מהמלאי",
]

IN_STOCK_PHRASES = [
    "in stock",
    "available",
    "ready to ship",
    "ships today",
    "auf lager",
    "sofort lieferbar",
    "lieferbar",
    "verfügbar",
    "vorrätig",
    "en stock",
    "disponible",
    "disponibile",
    "disponível",
    "in magazzino",
    "em estoque",
    "op voorraad",
    "leverbaar",
    "i lager",
    "på lager",
    "varastossa",
    "w magazynie",
    "dostępny",
    "skladem",
    "na skladě",
    "skladom",
    "na sklade",
    "készleten",
    "raktáron",
    "în stoc",
    "na zalihi",
    "na zalogi",
    "pieejams",
    "noliktavā",
    "sandėlyje",
    "stokta var",
    "σε απόθεμα",
    "в наличии",
    "є в наявності",
    "в наявності",
    "在庫あり",
    "有货",
    "現貨",
    "有現貨",
    "재고 있음",
    "còn hàng",
    "มีสินค้า",
    "tersedia",
    "متوفر",
    "במלאי",
]

ADD_TO_CART_PHRASES = [
    "add to cart",
    "add to basket",
    "add to bag",
    "add to trolley",
    "buy now",
    "buy it now",
    "in den warenkorb",
    "jetzt kaufen",
    "in den einkaufswagen",
    "ajouter au panier",
    "acheter",
    "añadir al carrito",
    "añadir a la cesta",
    "agregar al carrito",
    "comprar",
    "aggiungi al carrello",
    "acquista",
    "adicionar ao carrinho",
    "in winkelwagen",
    "in winkelmand",
    "bestellen",
    "lägg i varukorg",
    "köp",
    "læg i kurv",
    "køb",
    "legg i handlekurv",
    "kjøp",
    "lisää ostoskoriin",
    "do koszyka",
    "kup teraz",
    "do košíku",
    "do košíka",
    "koupit",
    "kúpiť",
    "kosárba",
    "adaugă în coș",
    "adauga in cos",
    "dodaj u košaricu",
    "v košarico",
    "ielikt grozā",
    "į krepšelį",
    "ostukorvi",
    "sepete ekle",
    "στο καλάθι",
    "в корзину",
    "купить",
    "у кошик",
    "カートに入れる",
    "购买",
    "加入购物车",
    "加入購物車",
    "장바구니",
    "thêm vào giỏ",
    "หยิบใส่ตะกร้า",
    "masukkan keranjang",
    "أضف إلى السلة",
    "أضف الى السلة",
    "הוסף לסל",
]


class PhraseList:
    """Finds any of many phrases in short lower-cased texts. One plain alternation, with
    word boundaries checked on each hit: lookarounds in every branch cost ten times more."""

    def __init__(self, phrases: list[str]) -> None:
        branches = [
            phrase if "(" in phrase else re.escape(phrase.lower())
            for phrase in sorted(phrases, key=len, reverse=True)
        ]
        self.pattern = re.compile("|".join(branches))

    def find(self, text: str) -> str | None:
        lowered = " ".join(text.lower().split())
        position = 0
        while True:
            found = self.pattern.search(lowered, position)
            if found is None:
                return None
            start, end = found.span()
            phrase = found.group(0)
            spaced = all(
                unicodedata.category(ch)[0] != "L" or ord(ch) < 0x3000 for ch in phrase[:1] + phrase[-1:]
            )
            if not spaced or (
                (start == 0 or not lowered[start - 1].isalnum())
                and (end == len(lowered) or not lowered[end].isalnum())
            ):
                return phrase
            position = start + 1


OUT_OF_STOCK_TEXT = PhraseList(OUT_OF_STOCK_PHRASES)
IN_STOCK_TEXT = PhraseList(IN_STOCK_PHRASES)
ADD_TO_CART_TEXT = PhraseList(ADD_TO_CART_PHRASES)


def text_availability(text: str) -> tuple[str, str] | None:
    """(matched phrase, in_stock|out_of_stock) for a short visible text, else None."""
    if not text:
        return None
    found = OUT_OF_STOCK_TEXT.find(text)
    if found:
        return found, OUT_OF_STOCK
    found = IN_STOCK_TEXT.find(text)
    if found:
        return found, IN_STOCK
    return None


def says_add_to_cart(text: str) -> bool:
    return bool(text) and ADD_TO_CART_TEXT.find(text) is not None
