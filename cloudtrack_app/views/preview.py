"""What the add-product page shows about a page it has just read, before anything is saved:
the product card, the suggested choices for the form, and refusals in words for this person.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from cloudtrack_app.i18n import format_money
from cloudtrack_app.models import Availability, WatchMode
from cloudtrack_app.tracking.fetch import PRIVATE_NETWORK_HINT
from cloudtrack_app.tracking.images import preview_image_path
from cloudtrack_app.tracking.ingest import IngestError, Preview
from cloudtrack_app.views.picker import is_uncertain

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
    suggested_mode: str  # what an item like this is usually watched for: its restock when sold out
    uncertain: bool = False  # the reading is unsure of the price: the person is asked to pick it


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
        suggested_mode=suggested_mode(preview.availability),
        uncertain=is_uncertain(preview.confidence, preview.candidates),
    )


def suggested_mode(availability: str) -> str:
    """An item that is sold out is most likely wanted back; anything else, cheaper."""
    return WatchMode.STOCK.value if availability == Availability.OUT_OF_STOCK else WatchMode.PRICE.value


@dataclass(frozen=True)
class Refusal:
    message: str
    offer: str  # "" | OFFER_ANY_DROP | OFFER_PRICE_WATCH | OFFER_EDIT
    link: str  # the page of the watch the refusal is about ("" for none)


def refusal(error: IngestError, *, is_admin: bool) -> Refusal:
    """A refusal as this person sees it: administrators also learn how to allow private addresses."""
    message = error.message
    if error.code == "blocked_address" and is_admin:
        message = f"{message} {PRIVATE_NETWORK_HINT}"
    link = f"/products/{error.product_id}" if error.product_id is not None else ""
    return Refusal(message, error.offer or "", link)
