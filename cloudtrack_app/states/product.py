"""A product's page: chart, statistics, alert history, and managing the watch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import reflex as rx

from cloudtrack_app.auth.state import AuthState, login_required, refusing
from cloudtrack_app.states.picker import PickerFields
from cloudtrack_app.tracking import watches
from cloudtrack_app.tracking.checker import check_product_now
from cloudtrack_app.tracking.ingest import IngestError
from cloudtrack_app.tracking.picks import PickRefused
from cloudtrack_app.tracking.read_limits import SlowDown, page_read_limiter
from cloudtrack_app.tracking.watches import WatchNotFound
from cloudtrack_app.views.picker import follow_automatic, follow_pick, fresh_options
from cloudtrack_app.views.product import (
    CHART_RANGES,
    AlertLine,
    Chart,
    ProductDetail,
    StockBand,
    chart_series,
    check_report,
    history_csv,
    owned_watch,
    product_view,
)
from cloudtrack_app.views.viewer import viewer


def _show_not_found(state: ProductState, _error: Exception) -> None:
    state.not_found = True


# For handlers that go through `_owned()`: a product the user does not watch shows "not found".
watch_required = refusing(WatchNotFound, _show_not_found)


class ProductState(AuthState, PickerFields):
    # `product_id` (a str) is the route argument of `/products/[product_id]`: Reflex adds it
    # to the state when the page is registered.
    detail: ProductDetail | None = None
    not_found: bool = False
    chart: list[dict[str, str | float | int | None]] = []
    stock_bands: list[StockBand] = []
    chart_ticks: list[int] = []
    chart_tick_labels: dict[str, str] = {}
    chart_domain: list[int] = []
    chart_target: str = ""  # the target price line ("" for none); recharts reads it as a number
    chart_target_label: str = ""
    chart_dots: bool = False
    chart_range: str = "90"
    alerts: list[AlertLine] = []
    checking: bool = False
    check_message: str = ""
    edit_mode: str = "price"
    edit_target: str = ""
    edit_any_drop: bool = False
    edit_drop_percent: str = ""
    edit_window: str = "none"
    edit_increase: bool = False
    edit_message: str = ""
    edit_error: str = ""
    # The price picker ("Not the right price?") is filled from a fresh read of the page.
    picker_reading: bool = False

    @rx.var
    def has_target(self) -> bool:
        return self.chart_target != ""

    def _product_id(self) -> int:
        route_argument = str(self.product_id)
        return int(route_argument) if route_argument.isdigit() else 0

    async def _refresh(self, user_id: int, product_id: int) -> None:
        shown = await asyncio.to_thread(product_view, user_id, product_id, self.chart_range)
        self.detail, self.alerts = shown.detail, shown.alerts
        self._show_chart(shown.chart)

    def _show_chart(self, chart: Chart) -> None:
        self.chart, self.stock_bands, self.chart_domain = chart.points, chart.bands, chart.domain
        self.chart_ticks, self.chart_tick_labels = chart.ticks, chart.tick_labels
        self.chart_target, self.chart_target_label = chart.target, chart.target_label
        self.chart_dots = chart.dots

    async def _owned(self) -> tuple[int, int]:
        """The user's id and the product id from the URL, or raise when either is not theirs."""
        user = await self._require_user()
        product_id = self._product_id()
        await asyncio.to_thread(owned_watch, user.id, product_id)
        return user.id, product_id

    async def _owned_or_gone(self) -> tuple[int, int] | None:
        """`_owned()` for background events, which `watch_required` cannot wrap (the lock is
        taken inside): None, with "not found" shown, when the product is not theirs."""
        try:
            return await self._owned()
        except WatchNotFound:
            self.not_found = True
            return None

    @rx.event
    @login_required
    @watch_required
    async def load_product(self) -> rx.event.EventSpec | None:
        self.detail, self.not_found, self.chart, self.stock_bands, self.alerts = None, False, [], [], []
        self.chart_range = "90"
        self.check_message = self.edit_message = self.edit_error = ""
        self.checking = False
        self._close_picker()
        user = await self._require_user()
        await self._refresh(user.id, self._product_id())
        assert self.detail is not None
        self.edit_mode, self.edit_target = self.detail.mode, self.detail.target_input
        self.edit_any_drop = self.detail.any_drop
        self.edit_drop_percent, self.edit_window = self.detail.drop_percent_input, self.detail.window_input
        self.edit_increase = self.detail.notify_increase
        return None

    @rx.event
    @login_required
    @watch_required
    async def set_chart_range(self, value: str | list[str]) -> rx.event.EventSpec | None:
        value = value if isinstance(value, str) else "".join(value[:1])
        user_id, product_id = await self._owned()
        self.chart_range = value if value in CHART_RANGES else "90"
        self._show_chart(await asyncio.to_thread(chart_series, user_id, product_id, self.chart_range))
        return None

    @rx.event(background=True)
    @login_required
    async def check_now(self) -> None:
        # A background event: the page is fetched and read without the state lock, so the
        # tab stays responsive and shows "Checking…".
        async with self:
            if self.checking or (owned := await self._owned_or_gone()) is None:
                return
            user_id, product_id = owned
            self.checking, self.check_message = True, ""
        message = "CloudTrack could not check the page just now. Try again later."
        try:
            with page_read_limiter().slot(user_id):
                before = await asyncio.to_thread(owned_watch, user_id, product_id)
                outcome = await check_product_now(product_id, user_id=user_id)
                message = await asyncio.to_thread(check_report, user_id, before, outcome)
        except SlowDown as error:
            message = error.message
        finally:
            async with self:
                self.check_message, self.checking = message, False
                await self._refresh(user_id, product_id)

    async def _on_watch(self, action: Callable[[int, int], object]) -> None:
        """Run `action(user_id, watch_id)` on the user's watch of this product, then show it again."""
        user_id, product_id = await self._owned()
        assert self.detail is not None
        await asyncio.to_thread(action, user_id, self.detail.watch_id)
        await self._refresh(user_id, product_id)

    @login_required
    @watch_required
    async def _change_watch(self, action: Callable[[int, int], object]) -> rx.event.EventSpec | None:
        await self._on_watch(action)
        return None

    @rx.event
    async def pause(self) -> rx.event.EventSpec | None:
        return await self._change_watch(watches.pause_watch)

    @rx.event
    async def resume(self) -> rx.event.EventSpec | None:
        return await self._change_watch(watches.resume_watch)

    @rx.event
    async def rearm(self) -> rx.event.EventSpec | None:
        return await self._change_watch(watches.rearm_watch)

    @rx.event
    def set_edit_mode(self, value: str) -> None:
        self.edit_mode = value

    @rx.event
    def set_edit_target(self, value: str) -> None:
        self.edit_target = value

    @rx.event
    def set_edit_any_drop(self, value: bool) -> None:
        self.edit_any_drop = bool(value)

    @rx.event
    def set_edit_drop_percent(self, value: str) -> None:
        self.edit_drop_percent = value

    @rx.event
    def set_edit_window(self, value: str) -> None:
        self.edit_window = value

    @rx.event
    def set_edit_increase(self, value: bool) -> None:
        self.edit_increase = bool(value)

    @rx.event
    @login_required
    @watch_required
    async def save_edit(self) -> rx.event.EventSpec | None:
        user_id, product_id = await self._owned()
        assert self.detail is not None
        stock_only = self.edit_mode == "stock"
        window = "" if stock_only or self.edit_window == "none" else self.edit_window
        percent = "" if stock_only else self.edit_drop_percent.strip()
        replaced = bool(window or percent)
        try:
            result = await asyncio.to_thread(
                lambda: watches.edit_watch(
                    user_id,
                    self.detail.watch_id,
                    mode=self.edit_mode,
                    target_price=None if stock_only or self.edit_any_drop or replaced else self.edit_target,
                    any_drop=self.edit_any_drop and not stock_only and not replaced,
                    drop_percent=percent or None,
                    lowest_window_days=window or None,
                    notify_increase=self.edit_increase and not stock_only,
                )
            )
        except IngestError as error:
            self.edit_error, self.edit_message = error.message, ""
            return None
        self.edit_error = ""
        self.edit_message = "Saved. " + ("The price already meets your rule." if result.target_met else "")
        await self._refresh(user_id, product_id)
        return None

    @rx.event
    @login_required
    @watch_required
    async def delete(self) -> rx.event.EventSpec | None:
        user_id, _ = await self._owned()
        assert self.detail is not None
        await asyncio.to_thread(watches.delete_watch, user_id, self.detail.watch_id)
        return rx.redirect("/")

    @rx.event
    @login_required
    @watch_required
    async def download_csv(self) -> rx.event.EventSpec | None:
        user_id, product_id = await self._owned()
        data = await asyncio.to_thread(history_csv, user_id, product_id)
        return rx.download(data=data, filename=f"cloudtrack-product-{product_id}.csv")

    def _close_picker(self) -> None:
        self.picking = self.picker_reading = self.trying_selector = False
        self.pick_choices, self._pick_options, self.pick_message = [], {}, ""

    @rx.event
    def close_picker(self) -> None:
        self._close_picker()

    @rx.event(background=True)
    @login_required
    async def open_picker(self) -> None:
        # The page is read again for prices as they are now: a background event, like check_now.
        async with self:
            if (owned := await self._owned_or_gone()) is None or self.picker_reading:
                return
            user_id, _ = owned
            assert self.detail is not None
            url = self.detail.url
            self._close_picker()
            self.picking = self.picker_reading = True
        who = await asyncio.to_thread(viewer, user_id)
        fresh = await fresh_options(user_id, url, who.locale)
        async with self:
            self.picker_reading, self.pick_message = False, fresh.message
            if fresh.options is not None:
                self.pick_choices, self._pick_options = fresh.options.choices, fresh.options.options

    async def _selector_page(self) -> tuple[int, str] | None:
        if (owned := await self._owned_or_gone()) is None or not self.picking:
            return None
        assert self.detail is not None
        return owned[0], self.detail.url

    @rx.event
    @login_required
    @watch_required
    async def choose_price(self, key: str) -> rx.event.EventSpec | None:
        """Follow the chosen price from now on (only a price this picker offered)."""
        user_id, product_id = await self._owned()
        option = self._pick_options.get(str(key))
        if option is None or self.detail is None:
            return None
        try:
            await asyncio.to_thread(follow_pick, user_id, self.detail.watch_id, option)
        except PickRefused as refusal:
            self.pick_message = refusal.message
            return None
        self._close_picker()
        self.check_message = "From now on CloudTrack follows the price you picked."
        await self._refresh(user_id, product_id)
        return None

    @rx.event
    @login_required
    @watch_required
    async def use_automatic(self) -> rx.event.EventSpec | None:
        await self._on_watch(follow_automatic)
        self._close_picker()
        self.check_message = "CloudTrack reads the price automatically again."
        return None
