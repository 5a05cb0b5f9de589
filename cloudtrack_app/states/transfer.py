"""`/import`: start an import from a pasted list or a file, follow it, and export all watches.

The import itself runs in the backend (`tracking/imports.py`): this state only starts it and
shows its report, read again from the database every second while this tab is open. Closing
the tab stops nothing; coming back shows the report where the import has got to.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC

import reflex as rx

from cloudtrack_app.auth.state import AuthState, login_required
from cloudtrack_app.tracking.imports import ImportBusy, ImportReport, import_report, start_import
from cloudtrack_app.tracking.new_watch_rules import load_defaults
from cloudtrack_app.tracking.transfer import (
    MAX_IMPORT_BYTES,
    ImportRefused,
    export_csv,
    export_json,
    parse_import,
)

FOLLOW_SECONDS = 1.0
# A tab follows an import for at most this long; reloading the page follows it again.
FOLLOW_LIMIT_SECONDS = 3600


@dataclass(frozen=True)
class ImportRow:
    position: int
    url: str
    outcome: str
    message: str


class ImportState(AuthState):
    import_error: str = ""
    job_id: int = 0
    running: bool = False
    started: str = ""
    total: int = 0
    done: int = 0
    added: int = 0
    watched: int = 0
    refused: int = 0
    rows: list[ImportRow] = []
    following: bool = False

    def _show(self, report: ImportReport | None) -> None:
        if report is None:
            self.job_id, self.running, self.rows = 0, False, []
            self.total = self.done = self.added = self.watched = self.refused = 0
            return
        self.job_id, self.running = report.job_id, report.running
        self.started = report.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        self.total, self.done = report.total, report.done
        self.added, self.watched, self.refused = report.added, report.watched, report.refused
        self.rows = [
            ImportRow(line.position, line.url, line.outcome, line.message or "") for line in report.lines
        ]

    @rx.var
    def progress(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @rx.event
    async def open_page(self) -> rx.event.EventSpec | None:
        self.import_error = ""
        user = await self._user()
        if user is None:
            return self._login_redirect()
        self._show(await asyncio.to_thread(import_report, user.id))
        return ImportState.follow if self.running else None

    async def _start(self, user_id: int, data: str | bytes) -> rx.event.EventSpec | None:
        self.import_error = ""
        try:
            defaults = await asyncio.to_thread(load_defaults, user_id)
            requests = await asyncio.to_thread(parse_import, data, defaults)
            job_id = await asyncio.to_thread(start_import, user_id, requests)
        except (ImportRefused, ImportBusy) as error:
            self.import_error = str(error)
            return None
        self._show(await asyncio.to_thread(import_report, user_id, job_id))
        return ImportState.follow if self.running else None

    @rx.event
    @login_required
    async def import_text(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        user = await self._require_user()
        return await self._start(user.id, str(form.get("links", "")))

    @rx.event
    @login_required
    async def import_file(self, files: list[rx.UploadFile]) -> rx.event.EventSpec | None:
        user = await self._require_user()
        if not files:
            return None
        data = await files[0].read(MAX_IMPORT_BYTES + 1)
        return await self._start(user.id, data)

    @rx.event(background=True)
    @login_required
    async def follow(self) -> None:
        async with self:
            if self.following:
                return
            user = await self._require_user()
            self.following = True
            job_id = self.job_id
        try:
            for _ in range(int(FOLLOW_LIMIT_SECONDS / FOLLOW_SECONDS)):
                await asyncio.sleep(FOLLOW_SECONDS)
                report = await asyncio.to_thread(import_report, user.id, job_id)
                # Decided under the lock: an import started meanwhile is followed by this same
                # loop (its own `follow` found this one running and left it the job).
                async with self:
                    if self.job_id == job_id:
                        self._show(report)
                    job_id = self.job_id
                    if not self.running:
                        self.following = False
                        return
        finally:
            async with self:
                self.following = False

    @rx.event
    @login_required
    async def download_json(self) -> rx.event.EventSpec:
        user = await self._require_user()
        data = await asyncio.to_thread(export_json, user.id)
        return rx.download(data=data, filename="cloudtrack-watches.json", mime_type="application/json")

    @rx.event
    @login_required
    async def download_csv(self) -> rx.event.EventSpec:
        user = await self._require_user()
        data = await asyncio.to_thread(export_csv, user.id)
        return rx.download(data=data, filename="cloudtrack-watches.csv", mime_type="text/csv")
