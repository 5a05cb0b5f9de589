"""The dashboard: the user's watches, sorted, filtered and paginated."""

from __future__ import annotations

import asyncio

import reflex as rx

from cloudtrack_app.auth.state import AuthState
from cloudtrack_app.states.profile import ProfileState
from cloudtrack_app.views.dashboard import FilterKey, SortKey, WatchRow, dashboard_page


class DashboardState(AuthState):
    rows: list[WatchRow] = []
    sort: str = SortKey.RECENTLY_CHANGED.value
    filter_by: str = FilterKey.ALL.value
    page: int = 1
    pages: int = 1
    total: int = 0
    counts: dict[str, int] = {}
    loaded: bool = False

    @rx.var
    def has_watches(self) -> bool:
        return self.counts.get(FilterKey.ALL.value, 0) > 0

    async def _reload(self) -> rx.event.EventSpec | None:
        user = await self._user()
        if user is None:
            self.rows, self.counts, self.loaded = [], {}, False
            return self._login_redirect()
        result = await asyncio.to_thread(
            dashboard_page, user.id, sort=self.sort, filter_by=self.filter_by, page=self.page
        )
        self.rows, self.total, self.page, self.pages = result.rows, result.total, result.page, result.pages
        self.counts, self.loaded = result.counts, True
        return None

    @rx.event
    async def load_dashboard(self) -> rx.event.EventSpec | None:
        """on_load of `/`: strangers see the landing page, so no redirect here."""
        self.page = 1
        if await self._user() is not None:
            await self._reload()
            return ProfileState.detect_timezone
        return None

    @rx.event
    async def change_sort(self, value: str) -> rx.event.EventSpec | None:
        self.sort, self.page = value, 1
        return await self._reload()

    @rx.event
    async def change_filter(self, value: str | list[str]) -> rx.event.EventSpec | None:
        self.filter_by, self.page = value if isinstance(value, str) else "".join(value[:1]), 1
        return await self._reload()

    @rx.event
    async def go_to_page(self, page: int) -> rx.event.EventSpec | None:
        self.page = int(page)
        return await self._reload()
