"""Booking: codes people can read aloud, their QR image, and the capacity-safe transactions.

Every operation runs inside the caller's unit of work: the place is taken by one conditional
UPDATE (storage.bookings.take_place) in the same transaction that writes the booking, so a
booking exists if and only if its place was taken.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import reminders
from bot.domain.qr_image import qr_png
from storage import bookings
from storage.models import Booking, Slot

# No 0/O, 1/I/L: a code read over the phone or copied from a screen cannot be misread.
# 31 symbols (a prime), so the weighted check character catches any single typo or swap.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LEAD_TIME = timedelta(minutes=30)  # a slot starting sooner is neither offered nor booked
CODE_BODY = 6
_SEPARATORS = re.compile(r"[\s\-.]")


def _check_char(body: str) -> str:
    total = sum((i + 1) * ALPHABET.index(c) for i, c in enumerate(body))
    return ALPHABET[total % len(ALPHABET)]


def new_code() -> str:
    """A fresh random booking code: 6 symbols and a check symbol, e.g. `K7Q9AB3`."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(CODE_BODY))
    return body + _check_char(body)


def read_code(text: str) -> str | None:
    """A booking code as typed or scanned (any case, spaces or dashes), or None if invalid."""
    code = _SEPARATORS.sub("", text.strip().upper())
    if len(code) != CODE_BODY + 1 or any(c not in ALPHABET for c in code):
        return None
    return code if _check_char(code[:-1]) == code[-1] else None


def code_qr(code: str) -> bytes:
    """A PNG of the booking code as a QR symbol, for the sampling or vaccination desk."""
    return qr_png(code)


async def book(
    session: AsyncSession,
    *,
    person_id: int,
    slot_id: int,
    dose_number: int,
    screening: dict[str, Any],
    needs_screening: bool,
    now: datetime,
) -> Booking | None:
    """Take a place in the slot and write the booking; None if the slot is full (or past)."""
    if not await bookings.take_place(session, slot_id, starts_after=now + LEAD_TIME):
        return None
    code = new_code()
    while await bookings.code_in_use(session, code):
        code = new_code()
    booking = await bookings.add_booking(
        session,
        Booking(
            code=code,
            person_id=person_id,
            slot_id=slot_id,
            dose_number=dose_number,
            status=bookings.ACTIVE,
            needs_screening=needs_screening,
            screening=screening,
            created_at=now,
            updated_at=now,
        ),
    )
    slot = await session.get(Slot, slot_id)
    assert slot is not None  # take_place found it
    await reminders.schedule_for_booking(session, booking, slot, now=now, new=True)
    return booking


async def cancel(session: AsyncSession, booking: Booking, *, now: datetime) -> bool:
    """Cancel an active booking and free its place; False if it was not active."""
    if not await bookings.transition(session, booking, bookings.CANCELLED, now=now):
        return False
    await bookings.release_place(session, booking.slot_id)
    await reminders.cancel_for_booking(session, booking.id, now=now)
    return True


async def move(session: AsyncSession, booking: Booking, *, slot_id: int, now: datetime) -> bool:
    """Move an active booking to another slot (same code); False if that slot is full."""
    if booking.status != bookings.ACTIVE:
        return False
    if slot_id == booking.slot_id:
        return True
    if not await bookings.take_place(session, slot_id, starts_after=now + LEAD_TIME):
        return False
    await bookings.release_place(session, booking.slot_id)
    booking.slot_id = slot_id
    booking.updated_at = now
    booking.confirmed_at = None  # "I will come" was about the old time
    await session.flush()
    slot = await session.get(Slot, slot_id)
    assert slot is not None  # take_place found it
    await reminders.schedule_for_booking(session, booking, slot, now=now)
    return True
