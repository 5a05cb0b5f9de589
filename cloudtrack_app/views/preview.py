"""What the add-product page shows about a page it has just read, before anything is saved:
the product card and the suggested target price for the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from cloudtrack_app.i18n import format_money
from cloudtrack_app.tracking.images import preview_image_path
from cloudtrack_app.tracking.ingest import Preview

TARGET_DISCOUNT = Decimal("0.9")


@dataclass(frozen=True)
class PreviewCard:
    title: str
    image: str  # CloudTrack's own address of the image (never the shop's), "" for none
    shop: str
    url: str
    price_text: str
    availability: str
    suggested_target: str  # the target the form starts with ("" when there is no price)


def suggested_target(price: Decimal | None) -> str:
    """10 % below the current price, to the cent (empty when there is no price)."""
    if price is None:
        return ""
    return str((price * TARGET_DISCOUNT).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def preview_card(preview: Preview, locale: str) -> PreviewCard:
    return PreviewCard(
        title=preview.title or preview.url,
        image=preview_image_path(preview.image),
        shop=preview.shop,
        url=preview.url,
        price_text=format_money(preview.price, preview.currency, locale),
        availability=preview.availability,
        suggested_target=suggested_target(preview.price),
    )
