"""Bookings and the places they take: one conditional UPDATE per place, so never overbooked.

`take_place` runs `UPDATE slots SET booked = booked + 1 WHERE id = ? AND booked < capacity` in
the booking's transaction. PostgreSQL re-checks the condition after waiting for a concurrent
writer's row lock; SQLite runs one writer at a time. Either way the last place goes to exactly
one booking, and the CHECK constraint on `slots` would refuse an overbooking anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Booking, Person, Site, Slot, table

ACTIVE = "booked"
CANCELLED = "cancelled"
ATTENDED = "attended"
MISSED = "missed"  # the appointment passed without a dose (the scheduler's no-show check)

_SLOTS = table(Slot)
_SITES = table(Site)
_TAKE = (
    update(_SLOTS)
    .where(
        _SLOTS.c.id == bindparam("slot_id"),
        _SLOTS.c.booked < _SLOTS.c.capacity,
        _SLOTS.c.starts_at > bindparam("starts_after"),
        exists().where(_SITES.c.id == _SLOTS.c.site_id, _SITES.c.active.is_(True)),
    )
    .values(booked=_SLOTS.c.booked + 1)
)
_RELEASE = (
    update(_SLOTS)
    .where(_SLOTS.c.id == bindparam("slot_id"), _SLOTS.c.booked > 0)
    .values(booked=_SLOTS.c.booked - 1)
)


async def take_place(session: AsyncSession, slot_id: int, *, starts_after: datetime) -> bool:
    """Take one place in a slot; False if it is full, starts too soon, or its site is closed."""
    result = await session.execute(_TAKE, {"slot_id": slot_id, "starts_after": starts_after})
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


async def missed_booking(
    session: AsyncSession, *, person_id: int, dose_number: int
) -> Booking | None:
    """The person's latest appointment for this dose that was marked missed."""
    return await session.scalar(
        select(Booking)
        .where(
            Booking.person_id == person_id,
            Booking.dose_number == dose_number,
            Booking.status == MISSED,
        )
        .order_by(Booking.id.desc())
        .limit(1)
    )


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


async def transition(
    session: AsyncSession,
    booking: Booking,
    status: str,
    *,
    now: datetime,
    from_statuses: tuple[str, ...] = (ACTIVE,),
) -> bool:
    """Move an active booking (or one in `from_statuses`) to `status`; False if it was not.

    One conditional UPDATE, so a cancellation and a dose recorded at the same moment cannot
    both win (the caller releases the place when cancelling).
    """
    result = await session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status.in_(from_statuses))
        .values(status=status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    booking.status, booking.updated_at = status, now
    return True
