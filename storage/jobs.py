"""Queries on timed jobs (see `storage.models.Job`): schedule, claim with a lease, settle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage._dialect import supports_row_locks
from storage.models import Job, table

PENDING, DONE, SKIPPED, CANCELLED, FAILED = "pending", "done", "skipped", "cancelled", "failed"
_JOBS = table(Job)
QUIET_HOURS = "quiet-hours"  # `claimed_by` of a job held until the quiet hours end
# `status || ''`: the same test, but SQLite's planner (without statistics) would otherwise walk
# (status, due_at) over every pending job instead of looking the claimed ids up: 150 ms a tick
# with a million future jobs instead of 1 ms.
_STILL_PENDING = (Job.status + literal("")) == PENDING


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
        for job in claimed:  # detached first: the UPDATE above already wrote these
            session.expunge(job)
            job.claimed_by, job.claimed_until = worker, lease_until
            job.attempts += 1
    return claimed


async def mark(session: AsyncSession, job_ids: Sequence[int], status: str) -> None:
    """Change settled jobs' status (jobs found moot once fired are `skipped`)."""
    if job_ids:
        await session.execute(
            update(Job)
            .where(Job.id.in_(job_ids))
            .values(status=status)
            .execution_options(synchronize_session=False)
        )


async def settle_many(
    session: AsyncSession, job_ids: Sequence[int], status: str, *, worker: str, now: datetime
) -> set[int]:
    """Mark claimed jobs `status`; the ids this worker still held (the others fire elsewhere)."""
    if not job_ids:
        return set()
    result = await session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), _STILL_PENDING, Job.claimed_by == worker)
        .values(status=status, done_at=now, claimed_until=None)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


async def hold_many(
    session: AsyncSession, job_ids: Sequence[int], *, worker: str, until: datetime
) -> None:
    """Give claimed jobs back, not to be claimed before `until` (the end of the quiet hours).

    `due_at` is kept, so jobs held together still collapse in the order they were due.
    """
    if job_ids:
        await session.execute(
            update(Job)
            .where(Job.id.in_(job_ids), _STILL_PENDING, Job.claimed_by == worker)
            .values(claimed_by=QUIET_HOURS, claimed_until=until)
            .execution_options(synchronize_session=False)
        )


async def latest_due_of(
    session: AsyncSession, group_keys: Sequence[str], *, now: datetime
) -> dict[str, datetime]:
    """For each group, the latest `due_at` among its pending jobs due now (one query)."""
    if not group_keys:
        return {}
    rows = await session.execute(
        select(Job.group_key, func.max(Job.due_at))
        .where(Job.group_key.in_(group_keys), Job.status == PENDING, Job.due_at <= now)
        .group_by(Job.group_key)
    )
    return {key: latest for key, latest in rows if key is not None}


async def skip_due_in_groups(
    session: AsyncSession, group_keys: Sequence[str], *, now: datetime
) -> None:
    """Skip whatever else of these groups is due now: the latest of each group has fired.

    Jobs the firing itself scheduled (`created_at` = now, e.g. the next repeat of an
    invitation already due after a long pause) are not what it superseded.
    """
    if group_keys:
        await session.execute(
            update(Job)
            .where(
                Job.group_key.in_(group_keys),
                Job.status == PENDING,
                Job.due_at <= now,
                Job.created_at < now,
            )
            .values(status=SKIPPED, done_at=now, claimed_until=None)
            .execution_options(synchronize_session=False)
        )


async def forget_settled_before(session: AsyncSession, cutoff: datetime) -> None:
    """Delete jobs settled (fired, skipped, withdrawn, given up) before `cutoff`."""
    await session.execute(delete(Job).where(Job.status != PENDING, Job.done_at < cutoff))
