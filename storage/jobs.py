"""Queries on timed jobs (see `storage.models.Job`): schedule, claim with a lease, settle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage._dialect import supports_row_locks
from storage.models import Job, table

PENDING, DONE, SKIPPED, CANCELLED, FAILED = "pending", "done", "skipped", "cancelled", "failed"
_JOBS = table(Job)


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to schedule."""

    kind: str
    due_at: datetime
    payload: dict[str, Any]
    group_key: str | None = None


async def schedule(session: AsyncSession, jobs: Sequence[NewJob], *, now: datetime) -> None:
    """Write jobs (one statement for all of them)."""
    if not jobs:
        return
    await session.execute(
        insert(_JOBS),
        [
            {
                "kind": job.kind,
                "due_at": job.due_at,
                "payload": job.payload,
                "group_key": job.group_key,
                "status": PENDING,
                "attempts": 0,
                "created_at": now,
            }
            for job in jobs
        ],
    )


async def cancel_group(
    session: AsyncSession, group_key: str, *, now: datetime, kinds: Sequence[str] | None = None
) -> int:
    """Withdraw the pending jobs of a group (of these kinds); how many were withdrawn."""
    statement = (
        update(Job)
        .where(Job.group_key == group_key, Job.status == PENDING)
        .values(status=CANCELLED, done_at=now)
        .execution_options(synchronize_session=False)
    )
    if kinds is not None:
        statement = statement.where(Job.kind.in_(kinds))
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def claim_due(
    session: AsyncSession, *, now: datetime, worker: str, lease_until: datetime, limit: int
) -> list[Job]:
    """Claim up to `limit` due jobs (oldest due first) for `worker` until `lease_until`.

    Due means pending, `due_at` passed and not held by a live lease. The scan walks the
    (status, due_at) index from the oldest due row, so its cost follows what is due, not the
    size of the table. On PostgreSQL rows another worker is claiming are skipped, not waited
    for.
    """
    statement = (
        select(Job)
        .where(
            Job.status == PENDING,
            Job.due_at <= now,
            or_(Job.claimed_until.is_(None), Job.claimed_until < now),
        )
        .order_by(Job.due_at, Job.id)
        .limit(limit)
    )
    if supports_row_locks(session):
        statement = statement.with_for_update(skip_locked=True)
    claimed = list((await session.scalars(statement)).all())
    if claimed:
        await session.execute(
            update(Job)
            .where(Job.id.in_([job.id for job in claimed]))
            .values(claimed_by=worker, claimed_until=lease_until, attempts=Job.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        for job in claimed:
            job.claimed_by, job.claimed_until = worker, lease_until
            job.attempts += 1
    return claimed


async def settle(
    session: AsyncSession, job_id: int, status: str, *, worker: str, now: datetime
) -> bool:
    """Mark a claimed job `done` or `skipped`; False if this worker no longer holds it.

    The caller writes the job's messages in the same transaction and rolls back on False, so a
    job whose lease passed to another worker is fired by that worker alone.
    """
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == PENDING, Job.claimed_by == worker)
        .values(status=status, done_at=now, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def postpone(session: AsyncSession, job_id: int, *, worker: str, until: datetime) -> bool:
    """Give a claimed job back, due again at `until` (quiet hours); False if not held."""
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == PENDING, Job.claimed_by == worker)
        .values(due_at=until, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def release(session: AsyncSession, job_ids: Sequence[int], *, worker: str) -> None:
    """Hand claimed jobs back unfired (shutting down), due at once for any worker."""
    if job_ids:
        await session.execute(
            update(Job)
            .where(Job.id.in_(job_ids), Job.status == PENDING, Job.claimed_by == worker)
            .values(claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )


async def latest_due(session: AsyncSession, group_key: str, *, now: datetime) -> datetime | None:
    """The latest `due_at` among the group's pending jobs that are due now."""
    return await session.scalar(
        select(func.max(Job.due_at)).where(
            Job.group_key == group_key, Job.status == PENDING, Job.due_at <= now
        )
    )


async def pending_of(session: AsyncSession, group_key: str) -> Sequence[Job]:
    """The group's pending jobs, soonest first."""
    return (
        await session.scalars(
            select(Job)
            .where(Job.group_key == group_key, Job.status == PENDING)
            .order_by(Job.due_at, Job.id)
        )
    ).all()


async def skip_earlier(
    session: AsyncSession, group_key: str, *, due_at: datetime, fired: int, now: datetime
) -> None:
    """Skip the group's other pending jobs due no later than the one fired (caught up)."""
    await session.execute(
        update(Job)
        .where(
            Job.group_key == group_key,
            Job.status == PENDING,
            Job.due_at <= due_at,
            Job.id != fired,
        )
        .values(status=SKIPPED, done_at=now, claimed_until=None)
        .execution_options(synchronize_session=False)
    )


async def mark(session: AsyncSession, job_id: int, status: str) -> None:
    """Change a settled job's status (a job found moot once fired is `skipped`)."""
    await session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
