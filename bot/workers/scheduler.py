"""The scheduler: timed jobs become outbox rows, each once, never early, within quiet hours.

Every piece of timed work is a `jobs` row (kind, due_at, payload). One loop per process claims
due rows in batches with a lease (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
processes share the work; SQLite has one writer) and commits the claim; then it fires them in
a second transaction: each job is marked done only if this worker still holds it, and its
messages are written to the outbox in that same transaction. A worker that dies holding a claim
leaves rows whose lease runs out; another worker fires them then. Nothing is fired twice: a
worker that lost its lease finds its conditional UPDATE matching nothing and rolls back.

Catching up after a pause, the due rows of one group (one booking's reminders) collapse into
the latest, and non-urgent kinds due in quiet hours (21:00-07:00 in Vietnam by default) wait
until the quiet hours end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.domain.jobs import JobKind, Run, Verdict, quiet_until
from bot.idle import IdleWatch
from storage import jobs
from storage.db import Database
from storage.models import Job

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
BATCH = 200
MAX_ATTEMPTS = 5  # a job whose handler keeps failing is given up (and logged)
YIELD_EVERY = 20


class Scheduler:
    """Claims and fires due jobs; one per process, started by `run()`."""

    def __init__(
        self,
        db: Database,
        kinds: Mapping[str, JobKind],
        *,
        settings: Settings,
        clock: Clock,
        on_queued: Callable[[], None] = lambda: None,
        worker: str | None = None,
    ) -> None:
        self._db = db
        self._kinds = dict(kinds)
        self._settings = settings
        self._clock = clock
        self._on_queued = on_queued
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._wake = asyncio.Event()
        self._idle = IdleWatch(self._wake.set)

    async def idle(self) -> None:
        """Wait until a tick finds no job due (needs `run()` going)."""
        await self._idle.wait()

    async def run(self, *, poll_s: float = 1.0) -> None:
        """Fire due jobs until cancelled."""
        while True:
            number, fired, failed = self._idle.begin(), 0, False
            try:
                fired = await self.tick()
            except Exception:  # the database may be away for a while: try again shortly
                log.exception("the scheduler's tick failed; retrying")
                failed = True
            if not (fired or failed):
                self._idle.quiet(number)
            if fired < BATCH:  # a full batch means more are due: no pause while catching up
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll_s)
                self._wake.clear()

    async def tick(self) -> int:
        """Claim the due jobs (up to `BATCH`) and fire them; how many were claimed."""
        now = self._clock()
        async with self._db.session_scope() as session:
            claimed = await jobs.claim_due(
                session, now=now, worker=self.worker, lease_until=now + LEASE, limit=BATCH
            )
        if not claimed:
            return 0
        try:
            async with self._db.session_scope() as session:
                await self._fire(session, claimed, now)
        except Exception:
            log.warning("a batch of %s jobs failed; firing them one by one", len(claimed))
            for job in claimed:
                await self._fire_alone(job, now)
        self._on_queued()
        return len(claimed)

    async def _fire_alone(self, job: Job, now: datetime) -> None:
        try:
            async with self._db.session_scope() as session:
                await self._fire(session, [job], now)
        except Exception:
            log.exception("job %s (%s) failed, attempt %s", job.id, job.kind, job.attempts)
            if job.attempts >= MAX_ATTEMPTS:
                async with self._db.session_scope() as session:
                    await jobs.settle_many(
                        session, [job.id], jobs.FAILED, worker=self.worker, now=now
                    )
            # otherwise its lease runs out and it is tried again

    async def _fire(self, session: AsyncSession, claimed: list[Job], now: datetime) -> None:
        """Fire claimed jobs in one transaction, with a few statements for the whole batch."""
        groups = sorted({job.group_key for job in claimed if job.group_key is not None})
        latest = await jobs.latest_due_of(session, groups, now=now)
        quiet = quiet_until(now, self._settings)
        moot, held, due = [], [], []
        for job in claimed:
            kind = self._kinds.get(job.kind)
            if kind is None:
                log.warning("job %s has an unknown kind %r; skipped", job.id, job.kind)
                moot.append(job)
            elif job.group_key is not None and job.due_at < latest.get(job.group_key, job.due_at):
                moot.append(job)  # a later one of its group is due: that one speaks
            elif quiet is not None and not kind.urgent:
                held.append(job)
            else:
                due.append(job)
        await jobs.settle_many(
            session, [job.id for job in moot], Verdict.SKIPPED, worker=self.worker, now=now
        )
        if quiet is not None:
            await jobs.hold_many(
                session, [job.id for job in held], worker=self.worker, until=quiet
            )
        # Marked done first, conditionally: a job whose lease passed to another worker is
        # not ours to fire any more.
        ours = await jobs.settle_many(
            session, [job.id for job in due], Verdict.DONE, worker=self.worker, now=now
        )
        skipped = []
        for number, job in enumerate(job for job in due if job.id in ours):
            verdict = await self._kinds[job.kind].handler(Run(job, session, now, self._settings))
            if verdict == Verdict.SKIPPED:
                skipped.append(job.id)
            if number % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # let the event loop breathe during a long catch-up
        await jobs.mark(session, skipped, Verdict.SKIPPED)
        fired_groups = sorted({job.group_key for job in due if job.id in ours and job.group_key})
        await jobs.skip_due_in_groups(session, fired_groups, now=now)
