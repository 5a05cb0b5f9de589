"""Adding a product: read the page, show what was found, then save the watch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import reflex as rx

from cloudtrack_app.auth.state import AuthState, NotAuthenticatedError
from cloudtrack_app.i18n import format_money
from cloudtrack_app.tracking.ingest import OFFER_ANY_DROP, IngestError, Preview, add_watch, preview_url
from cloudtrack_app.tracking.overview import user_locale

TARGET_DISCOUNT = Decimal("0.9")


@dataclass(frozen=True)
class FoundProduct:
    title: str
    image: str
    shop: str
    url: str
    price_text: str
    availability: str


def suggested_target(price: Decimal | None) -> str:
    """10 % below the current price, to the cent (empty when there is no price)."""
    if price is None:
        return ""
    return str((price * TARGET_DISCOUNT).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


class AddProductState(AuthState):
    url: str = ""
    mode: str = "price"
    target: str = ""
    any_drop: bool = False
    found: FoundProduct | None = None
    reading: bool = False
    saving: bool = False
    error: str = ""
    offer: str = ""
    _preview: Preview | None = None

    @rx.event
    async def open_page(self) -> rx.event.EventSpec | None:
        self.url, self.mode, self.target, self.any_drop = "", "price", "", False
        self.found, self._preview, self.error, self.offer = None, None, "", ""
        self.reading = self.saving = False
        if await self._user() is None:
            return self._login_redirect()
        return None

    @rx.event
    def set_mode(self, value: str) -> None:
        self.mode = value

    @rx.event
    def set_target(self, value: str) -> None:
        self.target = value

    @rx.event
    def set_any_drop(self, value: bool) -> None:
        self.any_drop = bool(value)

    @rx.event
    def start_over(self) -> None:
        self.found, self._preview, self.error, self.offer = None, None, "", ""

    @rx.event
    async def read_page(self, form: dict[str, str]) -> AsyncIterator[rx.event.EventSpec | None]:
        if self.reading or self.saving:
            return
        try:
            user = await self._require_user()
        except NotAuthenticatedError:
            yield self._login_redirect()
            return
        self.url = str(form.get("url", "")).strip()
        self.error, self.offer, self.found, self._preview = "", "", None, None
        self.reading = True
        yield
        try:
            preview = await preview_url(self.url)
        except IngestError as error:
            self.error, self.offer, self.reading = error.message, error.offer or "", False
            return
        locale = await asyncio.to_thread(user_locale, user.id)
        self._preview = preview
        self.found = FoundProduct(
            title=preview.title or preview.url,
            image=preview.image or "",
            shop=preview.shop,
            url=preview.url,
            price_text=format_money(preview.price, preview.currency, locale),
            availability=preview.availability,
        )
        if not self.target:
            self.target = suggested_target(preview.price)
        self.reading = False

    @rx.event
    async def save(self) -> AsyncIterator[rx.event.EventSpec | None]:
        if self.saving or self.reading:
            return
        try:
            user = await self._require_user()
        except NotAuthenticatedError:
            yield self._login_redirect()
            return
        self.saving, self.error, self.offer = True, "", ""
        yield
        try:
            result = await add_watch(
                user.id,
                self.url,
                self.mode,
                None if self.any_drop or self.mode == "stock" else self.target,
                preview=self._preview,
                any_drop=self.any_drop and self.mode != "stock",
            )
        except IngestError as error:
            self.error, self.offer, self.saving = error.message, error.offer or "", False
            return
        self.saving = False
        yield rx.toast.success(result.message)
        yield rx.redirect(f"/products/{result.product_id}")

    @rx.event
    def accept_offer(self) -> None:
        """Follow the refusal's suggestion: a price watch, or any drop instead of a target."""
        if self.offer == OFFER_ANY_DROP:
            self.any_drop = True
        else:
            self.mode = "price"
        self.error, self.offer = "", ""
