"""Small hand-written shop pages for the price picker: a lamp whose structured data names one
price while the page shows two others, so CloudTrack is unsure which one to follow."""

from __future__ import annotations

LAMP_TITLE = "Brass desk lamp"


def lamp_page(*, shown: str = "39.00", member: str | None = "35.00", structured: str = "49.00") -> str:
    """The lamp's page: `structured` in JSON-LD, `shown` as the price, `member` as a club
    price (left out when None: "the layout changed"). The shop's text carries markup-like
    words that must stay text."""
    member_line = (
        f'<p>Club members pay <span id="member-price" class="price-member">€{member}</span> '
        "&lt;b&gt;today&lt;/b&gt;</p>"
        if member is not None
        else "<p>Ask about our club.</p>"
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{LAMP_TITLE}</title>
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "Product",
"name": "{LAMP_TITLE}", "offers": {{"@type": "Offer", "price": "{structured}", "priceCurrency": "EUR",
"availability": "https://schema.org/InStock"}}}}</script></head>
<body><h1>{LAMP_TITLE}</h1>
<div class="buy"><p>Price: <span class="price-now">€{shown}</span></p>{member_line}
<button type="button">Add to cart</button></div></body></html>"""


def kettle_page(price: str = "24.50") -> str:
    """A page that agrees with itself: the reading is sure of the price."""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Kettle</title>
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "Product",
"name": "Steel kettle", "offers": {{"@type": "Offer", "price": "{price}", "priceCurrency": "EUR",
"availability": "https://schema.org/InStock"}}}}</script></head>
<body><h1>Steel kettle</h1><p class="price">€{price}</p><button>Add to cart</button></body></html>"""
