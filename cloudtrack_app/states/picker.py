"""The price picker's part of a page's state, shared by the add-product and product pages.

Each page says where a typed selector is tried (`_selector_page`) and what a trial changes
(`_show_trial`); trying it is the same on both."""

from __future__ import annotations

import asyncio

import reflex as rx

from cloudtrack_app.auth.state import login_required
from cloudtrack_app.views.picker import (
    PickerOptions,
    PickOption,
    PriceChoice,
    SelectorTrial,
    try_selector,
    with_trial,
)
from cloudtrack_app.views.viewer import viewer


class PickerFields(rx.State, mixin=True):
    picking: bool = False
    pick_choices: list[PriceChoice] = []
    pick_message: str = ""
    trying_selector: bool = False
    # What each key offered means, kept on the server: the browser sends back only a key.
    _pick_options: dict[str, PickOption] = {}

    async def _selector_page(self) -> tuple[int, str] | None:
        """The user's id and the page a typed selector is tried on (None: not now). A page
        that names no page to try on has nothing to try a selector against."""
        return None

    def _show_trial(self, trial: SelectorTrial) -> None:
        options = with_trial(PickerOptions(self.pick_choices, self._pick_options), trial)
        self.pick_choices, self._pick_options = options.choices, options.options

    @rx.event(background=True)
    @login_required
    async def try_pick_selector(self, form: dict[str, str]) -> None:
        # A background event: the page is read again without the state lock.
        async with self:
            page = await self._selector_page()
            if page is None or self.trying_selector:
                return
            user_id, url = page
            self.trying_selector, self.pick_message = True, ""
        selector = str(form.get("selector", ""))[:500]
        who = await asyncio.to_thread(viewer, user_id)
        trial = await try_selector(user_id, url, selector, who.locale)
        async with self:
            self.trying_selector, self.pick_message = False, trial.message
            self._show_trial(trial)
