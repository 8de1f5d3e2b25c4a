"""Slots made in bulk from a pattern: days of the week × start times × places, over a span.

A pattern never changes a slot that exists (same site, same start): those are counted as
already there, so submitting the same pattern twice makes nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import TIMEZONE
from storage import staff
from storage.models import Slot

MAX_SPAN_DAYS = 92  # a quarter
MAX_SLOTS = 2_000
MAX_CAPACITY = 10_000


@dataclass(frozen=True)
class SlotPattern:
    """Slots of `minutes` each at `starts` on `weekdays` (0 = Monday) from `first` to `last`."""

    first: date
    last: date
    weekdays: frozenset[int]
    starts: tuple[time, ...]
    minutes: int
    capacity: int

    def moments(self) -> list[tuple[datetime, datetime]]:
        """Every (start, end) the pattern asks for, in UTC, in time order."""
        found = []
        day = self.first
        while day <= self.last:
            if day.weekday() in self.weekdays:
                for start in sorted(self.starts):
                    begins = datetime.combine(day, start, TIMEZONE).astimezone(UTC)
                    found.append((begins, begins + timedelta(minutes=self.minutes)))
            day += timedelta(days=1)
        return found


@dataclass(frozen=True)
class SlotsMade:
    """What a pattern did: slots added, and slots that were there already (left as they were)."""

    added: int
    existing: int


def problems_of(pattern: SlotPattern, *, today: date) -> list[str]:
    """Why a pattern cannot be made (problem keys), or nothing."""
    found = []
    if pattern.first < today or pattern.last < pattern.first:
        found.append("span")
    elif (pattern.last - pattern.first).days >= MAX_SPAN_DAYS:
        found.append("too_long")
    if not pattern.weekdays:
        found.append("weekdays")
    if not pattern.starts:
        found.append("starts")
    if not 5 <= pattern.minutes <= 12 * 60:
        found.append("minutes")
    if not 1 <= pattern.capacity <= MAX_CAPACITY:
        found.append("capacity")
    if not found and len(pattern.moments()) > MAX_SLOTS:
        found.append("too_many")
    return found


async def make_slots(
    session: AsyncSession, site_id: str, pattern: SlotPattern, *, actor: str, now: datetime
) -> SlotsMade:
    """Add the pattern's slots at a site that are not there yet (audited)."""
    wanted = pattern.moments()
    held = await _starts_held(session, site_id, wanted)
    added = [
        Slot(site_id=site_id, starts_at=begins, ends_at=ends, capacity=pattern.capacity, booked=0)
        for begins, ends in wanted
        if begins not in held
    ]
    session.add_all(added)
    await session.flush()
    made = SlotsMade(added=len(added), existing=len(wanted) - len(added))
    await staff.audit(
        session,
        actor=actor,
        action="slots_made",
        subject=f"site:{site_id}",
        now=now,
        detail={
            "first": pattern.first.isoformat(),
            "last": pattern.last.isoformat(),
            "weekdays": sorted(pattern.weekdays),
            "starts": [t.strftime("%H:%M") for t in pattern.starts],
            "minutes": pattern.minutes,
            "capacity": pattern.capacity,
            "added": made.added,
            "existing": made.existing,
        },
    )
    return made


async def _starts_held(
    session: AsyncSession, site_id: str, wanted: Sequence[tuple[datetime, datetime]]
) -> set[datetime]:
    if not wanted:
        return set()
    found = await session.scalars(
        select(Slot.starts_at).where(
            Slot.site_id == site_id,
            Slot.starts_at >= wanted[0][0],
            Slot.starts_at <= wanted[-1][0],
        )
    )
    return {moment.astimezone(UTC) for moment in found.all()}
