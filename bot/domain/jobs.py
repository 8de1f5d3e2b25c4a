"""Timed jobs as the rules see them: a kind, its handler, what firing it came to, quiet hours.

The loop that fires them is `bot.workers.scheduler.Scheduler`; the rules that schedule and fire
jobs (reminders, tickets, campaigns, broadcasts) need only these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import TIMEZONE, local_day
from storage.models import Job


class Verdict(StrEnum):
    """What firing a job came to."""

    DONE = "done"  # it did its work (usually: messages written to the outbox)
    SKIPPED = "skipped"  # it had become moot (the booking was cancelled, the dose given)


@dataclass(frozen=True)
class Run:
    """What a job handler gets: the job, the transaction to work in, the time, the settings."""

    job: Job
    session: AsyncSession
    now: datetime
    settings: Settings


JobHandler = Callable[[Run], Awaitable[Verdict]]


@dataclass(frozen=True)
class JobKind:
    """How to fire one kind of job.

    Attributes:
        handler: Does the work in the given transaction.
        urgent: Fired at night too (quiet hours hold the others until morning).
    """

    handler: JobHandler
    urgent: bool = False


def quiet_until(now: datetime, settings: Settings) -> datetime | None:
    """When the quiet hours around `now` end, or None if `now` is not in them."""
    local = now.astimezone(TIMEZONE)
    start, end = settings.quiet_start, settings.quiet_end
    if start == end:
        return None
    at = local.time()
    overnight = start > end  # e.g. 21:00-07:00
    quiet = (at >= start or at < end) if overnight else (start <= at < end)
    if not quiet:
        return None
    day = local.date() if at < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, TIMEZONE)


def local_time(day_offset: int, at: time, of: datetime) -> datetime:
    """`at` (Vietnam time) on the day `day_offset` days from `of`'s day in Vietnam."""
    day = local_day(of) + timedelta(days=day_offset)
    return datetime.combine(day, at, TIMEZONE)
