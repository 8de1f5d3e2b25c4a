"""Bookings and the places they take: one conditional UPDATE per place, so never overbooked.

`take_place` runs `UPDATE slots SET booked = booked + 1 WHERE id = ? AND booked < capacity` in
the booking's transaction. PostgreSQL re-checks the condition after waiting for a concurrent
writer's row lock; SQLite runs one writer at a time. Either way the last place goes to exactly
one booking, and the CHECK constraint on `slots` would refuse an overbooking anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Booking, Person, Site, Slot, table

ACTIVE = "booked"
CANCELLED = "cancelled"
ATTENDED = "attended"

_SLOTS = table(Slot)
_TAKE = (
    update(_SLOTS)
    .where(_SLOTS.c.id == bindparam("slot_id"), _SLOTS.c.booked < _SLOTS.c.capacity)
    .values(booked=_SLOTS.c.booked + 1)
)
_RELEASE = (
    update(_SLOTS)
    .where(_SLOTS.c.id == bindparam("slot_id"), _SLOTS.c.booked > 0)
    .values(booked=_SLOTS.c.booked - 1)
)


async def take_place(session: AsyncSession, slot_id: int) -> bool:
    """Take one place in a slot; False if it is full (or gone)."""
    result = await session.execute(_TAKE, {"slot_id": slot_id})
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def release_place(session: AsyncSession, slot_id: int) -> None:
    """Give a place back; it is bookable as soon as the transaction commits."""
    await session.execute(_RELEASE, {"slot_id": slot_id})


async def code_in_use(session: AsyncSession, code: str) -> bool:
    """Whether a booking code was ever handed out."""
    return (await session.scalar(select(Booking.id).where(Booking.code == code))) is not None


async def add_booking(session: AsyncSession, booking: Booking) -> Booking:
    """Store a booking whose place was taken in this transaction."""
    session.add(booking)
    await session.flush()
    return booking


async def active_booking(
    session: AsyncSession, *, person_id: int, dose_number: int
) -> Booking | None:
    """The person's current booking for a dose, if any."""
    return await session.scalar(
        select(Booking).where(
            Booking.person_id == person_id,
            Booking.dose_number == dose_number,
            Booking.status == ACTIVE,
        )
    )


async def bookings_of(
    session: AsyncSession, person_ids: Sequence[int]
) -> Sequence[tuple[Booking, Slot, Site]]:
    """Bookings of some people with their slot and site, newest first."""
    if not person_ids:
        return []
    rows = await session.execute(
        select(Booking, Slot, Site)
        .join(Slot, Slot.id == Booking.slot_id)
        .join(Site, Site.id == Slot.site_id)
        .where(Booking.person_id.in_(person_ids))
        .order_by(Booking.id.desc())
    )
    return [(b, sl, si) for b, sl, si in rows]


async def find_by_code(
    session: AsyncSession, code: str
) -> tuple[Booking, Person, Slot, Site] | None:
    """A booking by its code, with its person, slot and site."""
    row = (
        await session.execute(
            select(Booking, Person, Slot, Site)
            .join(Person, Person.id == Booking.person_id)
            .join(Slot, Slot.id == Booking.slot_id)
            .join(Site, Site.id == Slot.site_id)
            .where(Booking.code == code)
        )
    ).first()
    return (row[0], row[1], row[2], row[3]) if row else None


async def set_status(
    session: AsyncSession, booking: Booking, status: str, *, now: datetime
) -> None:
    """Change a booking's status (the caller releases the place when cancelling)."""
    booking.status = status
    booking.updated_at = now
    await session.flush()
