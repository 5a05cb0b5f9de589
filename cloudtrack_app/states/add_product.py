"""Adding a product: read the page, show what was found, then save the watch.

Reading and saving are background events: they fetch a page, which can take seconds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import reflex as rx

from cloudtrack_app.auth.state import AuthState, login_required
from cloudtrack_app.notify.preferences import load_watch_defaults
from cloudtrack_app.settings import get_settings
from cloudtrack_app.states.picker import PickerFields
from cloudtrack_app.tracking.ingest import OFFER_ANY_DROP, IngestError, Preview, add_watch, preview_url
from cloudtrack_app.tracking.read_limits import SlowDown, page_read_limiter
from cloudtrack_app.tracking.transfer import bookmarklet_html, shared_link
from cloudtrack_app.views.picker import PickerOptions, SelectorTrial, picker_options
from cloudtrack_app.views.preview import PreviewCard, preview_card, refusal, suggested_target
from cloudtrack_app.views.viewer import viewer

NO_SHARED_LINK = "What was shared holds no link to a web page. Paste the product's link below."


class AddProductState(AuthState, PickerFields):
    url: str = ""
    mode: str = "price"
    target: str = ""
    any_drop: bool = False
    drop_percent: str = ""
    window: str = "none"  # "30", "90", "365" or "none"
    notify_increase: bool = False
    found: PreviewCard | None = None
    reading: bool = False
    saving: bool = False
    error: str = ""
    offer: str = ""
    offer_link: str = ""  # the existing watch's page, when the product is already watched
    # The price picker opens when the reading is unsure, or on "Not the right price?".
    pick_key: str = ""  # the chosen price ("" for the automatic reading)
    _preview: Preview | None = None
    _default_mode: str = "price"

    @rx.var(cache=True)
    def bookmarklet(self) -> str:
        """The "Track in CloudTrack" link for the bookmarks bar, to this server's PUBLIC_URL."""
        return bookmarklet_html(get_settings().public_url)

    @rx.var
    def shown_price(self) -> str:
        """The price the watch will follow: the one picked, else the automatic reading."""
        for choice in self.pick_choices:
            if choice.key == self.pick_key:
                return choice.price_text
        return self.found.price_text if self.found is not None else ""

    @rx.event
    async def open_page(self) -> rx.event.EventSpec | None:
        """on_load: an empty form, or one filled in from `?url=` (a bookmarklet, a link) or
        from what a phone's share sheet sent (`title`, `text`, `url`).

        The shared link is only filled in, never read at once: a link on another site must
        not make CloudTrack fetch pages for whoever is logged in without them asking."""
        self.url, self.mode, self.target, self.any_drop = "", "price", "", False
        self.found, self._preview, self.error, self.offer = None, None, "", ""
        self.offer_link = ""
        self.reading = self.saving = False
        self._show_options(PickerOptions([], {}), picking=False)
        user = await self._user()
        if user is None:
            return self._login_redirect()
        query = parse_qs(urlsplit(str(self.router.url)).query)
        shared = {name: (query.get(name) or [""])[0] for name in ("url", "text", "title")}
        if any(shared.values()):
            link = shared_link(shared["url"], shared["text"], shared["title"])
            if link is None:
                self.error = NO_SHARED_LINK
            else:
                self.url = link
        defaults = await asyncio.to_thread(load_watch_defaults, user.id)
        self.mode, self.drop_percent = defaults.default_mode, defaults.default_drop_percent
        self.window = defaults.default_lowest_window or "none"
        self.notify_increase = defaults.default_notify_increase
        self._default_mode = defaults.default_mode
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
    def set_drop_percent(self, value: str) -> None:
        self.drop_percent = value

    @rx.event
    def set_window(self, value: str) -> None:
        self.window = value

    @rx.event
    def set_notify_increase(self, value: bool) -> None:
        self.notify_increase = bool(value)

    @rx.event
    def start_over(self) -> None:
        self.found, self._preview, self.error, self.offer = None, None, "", ""
        self.offer_link = ""
        self._show_options(PickerOptions([], {}), picking=False)

    def _show_options(self, options: PickerOptions, *, picking: bool) -> None:
        self.pick_choices, self._pick_options = options.choices, options.options
        self.picking, self.pick_key, self.pick_message = picking, "", ""

    @rx.event
    def show_picker(self) -> None:
        self.picking = self.found is not None

    @rx.event
    def choose_form_price(self, key: str) -> None:
        """Remember the chosen price for the save (only a key this page offered); a target
        still as suggested follows the chosen price."""
        self._choose(key, self._suggested_target())

    def _choose(self, key: str, suggested: str) -> None:
        """`suggested`: the target suggested for the price chosen until now."""
        option = self._pick_options.get(key)
        if option is None:
            return
        if self.target == suggested:
            self.target = suggested_target(option.price)
        self.pick_key = key

    def _suggested_target(self) -> str:
        chosen = self._pick_options.get(self.pick_key)
        if chosen is not None:
            return suggested_target(chosen.price)
        return self.found.suggested_target if self.found is not None else ""

    @rx.event
    def use_automatic_price(self) -> None:
        if self.found is not None and self.target == self._suggested_target():
            self.target = self.found.suggested_target
        self.pick_key, self.picking = "", False

    async def _selector_page(self) -> tuple[int, str] | None:
        user = await self._require_user()
        return None if self._preview is None else (user.id, self._preview.url)

    def _show_trial(self, trial: SelectorTrial) -> None:
        """A price the typed selector finds is chosen at once."""
        suggested = self._suggested_target()
        super()._show_trial(trial)
        self._choose(trial.choice.key if trial.choice else "", suggested)

    @rx.event(background=True)
    @login_required
    async def read_page(self, form: dict[str, str]) -> None:
        # A background event: the tab stays responsive and shows "Reading…" while the page
        # is fetched and read; the state lock is held only around writes, never the fetch.
        async with self:
            if self.reading or self.saving:
                return
            user = await self._require_user()
            self.url = url = str(form.get("url", "")).strip()
            self.error, self.offer, self.offer_link, self.found, self._preview = "", "", "", None, None
            self._show_options(PickerOptions([], {}), picking=False)
            self.reading = True
        preview, card, options, problem = None, None, PickerOptions([], {}), None
        try:
            with page_read_limiter().slot(user.id):
                preview = await preview_url(url)
            who = await asyncio.to_thread(viewer, user.id)
            card = preview_card(preview, who.locale)
            options = picker_options(preview.candidates, who.locale)
        except (IngestError, SlowDown) as error:
            problem = error
        finally:
            async with self:
                self.reading = False
                if isinstance(problem, IngestError):
                    self._refuse(problem, user.is_admin)
                elif isinstance(problem, SlowDown):
                    self.error = problem.message
                elif card is not None:
                    self._preview, self.found = preview, card
                    self._show_options(options, picking=card.uncertain and bool(options.choices))
                    if not self.target:
                        self.target = card.suggested_target
                    # A sold-out item suggests its restock; otherwise the person's default stands.
                    self.mode = card.suggested_mode if card.suggested_mode != "price" else self._default_mode

    @rx.event(background=True)
    @login_required
    async def save(self) -> AsyncIterator[rx.event.EventSpec | None]:
        async with self:
            if self.saving or self.reading:
                return
            user = await self._require_user()
            self.saving, self.error, self.offer, self.offer_link = True, "", "", ""
            url, mode, target, any_drop = self.url, self.mode, self.target, self.any_drop
            stock_only = mode == "stock"
            window = "" if stock_only or self.window == "none" else self.window
            percent = "" if stock_only else self.drop_percent.strip()
            increase = self.notify_increase and not stock_only
            replaced = bool(window or percent)
            preview = self._preview
            pick = self._pick_options.get(self.pick_key)
        result, problem = None, None
        try:
            # Saving reads the page again when the preview is old: it counts as a read.
            with page_read_limiter().slot(user.id):
                result = await add_watch(
                    user.id,
                    url,
                    mode,
                    None if any_drop or stock_only or replaced else target,
                    preview=preview,
                    any_drop=any_drop and not stock_only and not replaced,
                    drop_percent=percent or None,
                    lowest_window_days=window or None,
                    notify_increase=increase,
                    pick=None if pick is None else (pick.selector, pick.price, pick.currency),
                )
        except (IngestError, SlowDown) as error:
            problem = error
        finally:
            async with self:
                self.saving = False
                if isinstance(problem, IngestError):
                    self._refuse(problem, user.is_admin)
                elif isinstance(problem, SlowDown):
                    self.error = problem.message
        if result is not None:
            yield rx.toast.success(result.message)
            yield rx.redirect(f"/products/{result.product_id}")

    def _refuse(self, error: IngestError, is_admin: bool) -> None:
        shown = refusal(error, is_admin=is_admin)
        self.error, self.offer, self.offer_link = shown.message, shown.offer, shown.link

    @rx.event
    def accept_offer(self) -> None:
        """Follow the refusal's suggestion: a price watch, or any drop instead of a target."""
        if self.offer == OFFER_ANY_DROP:
            self.any_drop = True
        else:
            self.mode = "price"
        self.error, self.offer, self.offer_link = "", "", ""
