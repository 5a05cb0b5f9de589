"""Import jobs: a list of links becomes watches in the backend, line by line, with a report.

The lines are written to the database before any page is read, and each outcome as soon as
it is known, so closing the browser (or restarting the server) leaves nothing half-done: a
job whose runner stopped is claimed again once its lease runs out, and carries on with the
lines still pending. Reading is polite: a few pages at a time for one import, one page at
a time per shop with the shop's spacing, so an import of fifty links from one shop neither
hammers the shop nor keeps the page readers from everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, update
from sqlmodel import col, select

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import ImportJob, ImportLine, ImportOutcome, Watch, utcnow
from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.ingest import IngestError, add_watch
from cloudtrack_app.tracking.observations import lock_product, memory_of, set_memory
from cloudtrack_app.tracking.politeness import ShopGate
from cloudtrack_app.tracking.transfer import ImportRequest
from cloudtrack_app.tracking.urls import InvalidURL, canonical_url, shop_domain
from cloudtrack_app.tracking.watches import pause_watch

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
RETRY_LATER_CODES = frozenset({"busy", "unreachable"})
MAX_ATTEMPTS = 3
RETRY_DELAY_SECONDS = 5.0
ALREADY_RUNNING = "An import is still running. Wait until it is done before starting another."


class ImportBusy(Exception):
    """The user already has an import running."""


@dataclass(frozen=True)
class LineReport:
    position: int
    url: str
    outcome: str
    message: str | None
    watch_id: int | None


@dataclass(frozen=True)
class ImportReport:
    job_id: int
    created_at: datetime
    finished_at: datetime | None
    total: int
    done: int
    added: int
    watched: int
    refused: int
    lines: list[LineReport]

    @property
    def running(self) -> bool:
        return self.finished_at is None


def start_import(user_id: int, requests: list[ImportRequest]) -> int:
    """Store the job and its lines (refused ones already answered); returns the job id."""
    now = utcnow()
    with session_scope() as session:
        running = session.exec(
            select(ImportJob.id).where(ImportJob.user_id == user_id, col(ImportJob.finished_at).is_(None))
        ).first()
        if running is not None:
            raise ImportBusy(ALREADY_RUNNING)
        job = ImportJob(user_id=user_id, created_at=now, total=len(requests))
        if all(request.problem for request in requests):
            job.finished_at = now
        session.add(job)
        session.flush()
        assert job.id is not None
        for request in requests:
            session.add(
                ImportLine(
                    job_id=job.id,
                    position=request.position,
                    url=request.url,
                    mode=request.mode,
                    target_price=request.target_price,
                    any_drop=request.any_drop,
                    drop_percent=request.drop_percent,
                    lowest_window_days=request.lowest_window_days,
                    notify_increase=request.notify_increase,
                    paused=request.paused,
                    initial_price=request.initial_price,
                    stock_fulfilled=request.stock_fulfilled,
                    restoring=request.restoring,
                    outcome=ImportOutcome.REFUSED if request.problem else ImportOutcome.PENDING,
                    message=request.problem,
                )
            )
        return job.id


def import_report(user_id: int, job_id: int | None = None) -> ImportReport | None:
    """The user's import `job_id`, or their latest; None if there is none (or it is not theirs)."""
    with session_scope() as session:
        query = select(ImportJob).where(ImportJob.user_id == user_id)
        if job_id is not None:
            query = query.where(ImportJob.id == job_id)
        job = session.exec(query.order_by(col(ImportJob.id).desc())).first()
        if job is None:
            return None
        assert job.id is not None
        lines = session.exec(
            select(ImportLine).where(ImportLine.job_id == job.id).order_by(col(ImportLine.position))
        ).all()
        reports = [
            LineReport(line.position, line.url, line.outcome, line.message, line.watch_id) for line in lines
        ]
        counts = {outcome: sum(1 for line in lines if line.outcome == outcome) for outcome in ImportOutcome}
        return ImportReport(
            job_id=job.id,
            created_at=job.created_at,
            finished_at=job.finished_at,
            total=len(lines),
            done=len(lines) - counts[ImportOutcome.PENDING],
            added=counts[ImportOutcome.ADDED],
            watched=counts[ImportOutcome.WATCHED],
            refused=counts[ImportOutcome.REFUSED],
            lines=reports,
        )


def _claim(job_id: int | None, owner: str) -> list[int]:
    """Lease unfinished jobs (one, or all claimable) to `owner`; returns their ids."""
    now = utcnow()
    with session_scope() as session:
        query = select(ImportJob.id).where(
            col(ImportJob.finished_at).is_(None),
            or_(col(ImportJob.lease_until).is_(None), col(ImportJob.lease_until) < now),
        )
        if job_id is not None:
            query = query.where(ImportJob.id == job_id)
        claimed = []
        for candidate in session.exec(query.order_by(col(ImportJob.id))).all():
            # Compare-and-set: of two workers seeing the same free job, one wins.
            result = session.execute(
                update(ImportJob)
                .where(
                    col(ImportJob.id) == candidate,
                    or_(col(ImportJob.lease_until).is_(None), col(ImportJob.lease_until) < now),
                )
                .values(lease_until=now + LEASE, lease_owner=owner)
            )
            if result.rowcount == 1:
                claimed.append(candidate)
        return claimed


def _renew(job_id: int, owner: str) -> None:
    with session_scope() as session:
        session.execute(
            update(ImportJob)
            .where(col(ImportJob.id) == job_id, col(ImportJob.lease_owner) == owner)
            .values(lease_until=utcnow() + LEASE)
        )


def _finish(job_id: int, owner: str) -> None:
    with session_scope() as session:
        pending = session.exec(
            select(func.count())
            .select_from(ImportLine)
            .where(ImportLine.job_id == job_id, ImportLine.outcome == ImportOutcome.PENDING)
        ).one()
        values: dict[str, object] = {"lease_until": None, "lease_owner": None}
        if not pending:
            values["finished_at"] = utcnow()
        session.execute(
            update(ImportJob)
            .where(col(ImportJob.id) == job_id, col(ImportJob.lease_owner) == owner)
            .values(**values)
        )


def _pending_lines(job_id: int) -> tuple[int, list[ImportLine]]:
    with session_scope() as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        lines = session.exec(
            select(ImportLine)
            .where(ImportLine.job_id == job_id, ImportLine.outcome == ImportOutcome.PENDING)
            .order_by(col(ImportLine.position))
        ).all()
        session.expunge_all()
        return job.user_id, list(lines)


def _record(line_id: int, outcome: str, message: str | None, watch_id: int | None = None) -> None:
    with session_scope() as session:
        line = session.get(ImportLine, line_id)
        assert line is not None
        line.outcome, line.message, line.watch_id = outcome, (message or "")[:500] or None, watch_id
        session.add(line)


def _count_attempt(line_id: int) -> int:
    with session_scope() as session:
        line = session.get(ImportLine, line_id)
        assert line is not None
        line.attempts += 1
        session.add(line)
        return line.attempts


def _restore_rule_state(
    user_id: int, watch_id: int, initial_price: Decimal | None, stock_fulfilled: bool
) -> None:
    """Give a re-created watch the past its export recorded: what "any drop" compares with,
    and whether its restock alert was already sent."""
    with session_scope() as session:
        watch = session.get(Watch, watch_id)
        if watch is None or watch.user_id != user_id:
            return
        lock_product(session, watch.product_id)
        session.refresh(watch)
        if initial_price is not None:
            watch.initial_price = initial_price
        if stock_fulfilled:
            set_memory(watch, replace(memory_of(watch), stock_fulfilled=True))
        session.add(watch)


def _shop_of(url: str) -> str:
    try:
        return shop_domain(canonical_url(url))
    except InvalidURL:
        return ""


async def _import_line(user_id: int, line: ImportLine, settings: Settings) -> bool:
    """Add one line's watch and record the outcome; False when it should be tried again later."""
    assert line.id is not None
    attempts = await asyncio.to_thread(_count_attempt, line.id)
    try:
        result = await add_watch(
            user_id,
            line.url,
            line.mode,
            line.target_price,
            any_drop=line.any_drop,
            drop_percent=line.drop_percent,
            lowest_window_days=line.lowest_window_days,
            notify_increase=line.notify_increase,
            restoring=line.restoring,
            settings=settings,
        )
    except IngestError as error:
        if error.code == "duplicate":
            await asyncio.to_thread(_record, line.id, ImportOutcome.WATCHED, error.message)
            return True
        if error.code in RETRY_LATER_CODES and attempts < MAX_ATTEMPTS:
            return False
        await asyncio.to_thread(_record, line.id, ImportOutcome.REFUSED, error.message)
        return True
    except Exception:
        log.exception("import line %s failed", line.id)
        await asyncio.to_thread(
            _record,
            line.id,
            ImportOutcome.REFUSED,
            "CloudTrack could not add this link because of an error on its side.",
        )
        return True
    if line.restoring:
        await asyncio.to_thread(
            _restore_rule_state, user_id, result.watch_id, line.initial_price, line.stock_fulfilled
        )
    if line.paused:
        await asyncio.to_thread(pause_watch, user_id, result.watch_id)
    await asyncio.to_thread(_record, line.id, ImportOutcome.ADDED, result.message, result.watch_id)
    return True


async def run_import(
    job_id: int,
    *,
    settings: Settings | None = None,
    owner: str | None = None,
    gate: ShopGate | None = None,
) -> None:
    """Work through the job's pending lines (claiming it unless `owner` already holds it).

    `gate` spaces the reads per shop; imports running side by side share one."""
    settings = settings or get_settings()
    if owner is None:
        owner = f"import-{uuid.uuid4().hex[:12]}"
        if job_id not in await asyncio.to_thread(_claim, job_id, owner):
            return
    try:
        user_id, lines = await asyncio.to_thread(_pending_lines, job_id)
        shops = gate or ShopGate(1, settings.per_shop_delay)
        at_once = asyncio.Semaphore(settings.user_reads_at_once)

        async def one(line: ImportLine) -> None:
            for _attempt in range(MAX_ATTEMPTS):
                async with shops.slot(_shop_of(line.url)), at_once:
                    done = await _import_line(user_id, line, settings)
                await asyncio.to_thread(_renew, job_id, owner)
                if done:
                    return
                await asyncio.sleep(RETRY_DELAY_SECONDS)

        await asyncio.gather(*(one(line) for line in lines))
    finally:
        await asyncio.to_thread(_finish, job_id, owner)


class ImportRunner:
    """Picks up unfinished imports every few seconds and runs each in a task of its own."""

    def __init__(self, settings: Settings | None = None, poll_seconds: float = 2.0) -> None:
        self.settings = settings or get_settings()
        self.poll_seconds = poll_seconds
        self.owner = f"imports-{uuid.uuid4().hex[:12]}"
        self.gate = ShopGate(1, self.settings.per_shop_delay)
        self._tasks: set[asyncio.Task[None]] = set()

    async def poll_once(self) -> None:
        for job_id in await asyncio.to_thread(_claim, None, self.owner):
            task = asyncio.create_task(self._run(job_id), name=f"cloudtrack-import-{job_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, job_id: int) -> None:
        try:
            await run_import(job_id, settings=self.settings, owner=self.owner, gate=self.gate)
        except Exception:
            log.exception("import %s stopped; it is claimed again when its lease runs out", job_id)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception:
                log.exception("looking for imports failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
