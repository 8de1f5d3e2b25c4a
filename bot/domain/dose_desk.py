"""The dose desk of a site: the day's appointments, finding one, and marking a no-show.

Recording the dose itself is `bot.domain.doses.record_dose`, as in the chat's `/tiem` and the
import; this module only finds the appointment and checks it may be recorded here today.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.booking import read_code
from bot.domain.doses import as_given
from bot.domain.vaccines import PRODUCTS, next_dose
from bot.i18n import TIMEZONE
from bot.vn.text import fold
from storage import bookings, children, staff, vaccinations
from storage.models import Booking, Child, ChildBooking, Person, Site, Slot

SEARCH_DAYS = 7  # a name search looks this many days back and ahead of today
SHOWN = 50


@dataclass(frozen=True)
class Appointment:
    """A booking at the desk: the booking, its person and its slot."""

    booking: Booking
    person: Person
    slot: Slot


class Refusal(StrEnum):
    """Why a booking's dose cannot be recorded at this desk today."""

    OTHER_SITE = "other_site"
    ATTENDED = "attended"
    CANCELLED = "cancelled"
    NOT_DUE = "not_due"  # by the recorded doses, this dose is not (yet) the next one today


def _day_span(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), TIMEZONE).astimezone(UTC)
    return start, start + timedelta(days=1)


async def day_list(session: AsyncSession, site_id: str, day: date) -> list[Appointment]:
    """The site's appointments of a day (every status but cancelled), in time order."""
    since, until = _day_span(day)
    rows = await session.execute(
        select(Booking, Person, Slot)
        .join(Slot, Slot.id == Booking.slot_id)
        .join(Person, Person.id == Booking.person_id)
        .where(
            Slot.site_id == site_id,
            Slot.starts_at >= since,
            Slot.starts_at < until,
            Booking.status != bookings.CANCELLED,
        )
        .order_by(Slot.starts_at, Booking.id)
    )
    return [Appointment(b, p, s) for b, p, s in rows]


async def children_day(
    session: AsyncSession, site_id: str, day: date
) -> list[tuple[Child, Slot, str]]:
    """The children booked in the site's children's sessions of a day: child, slot, status."""
    since, until = _day_span(day)
    rows = await session.execute(
        select(Child, Slot, ChildBooking.status)
        .join(ChildBooking, ChildBooking.child_id == Child.id)
        .join(Slot, Slot.id == ChildBooking.slot_id)
        .where(
            Slot.site_id == site_id,
            Slot.starts_at >= since,
            Slot.starts_at < until,
            ChildBooking.status != children.CANCELLED,
        )
        .order_by(Slot.starts_at, ChildBooking.id)
    )
    return [(child, slot, status) for child, slot, status in rows]


async def child_belongs(session: AsyncSession, child: Child, site: Site) -> bool:
    """Whether a child is the site's to vaccinate: living in its ward, or booked there."""
    if child.ward_code == site.ward_code:
        return True
    booked = await session.scalar(
        select(ChildBooking.id)
        .join(Slot, Slot.id == ChildBooking.slot_id)
        .where(ChildBooking.child_id == child.id, Slot.site_id == site.id)
        .limit(1)
    )
    return booked is not None


def child_number(text: str) -> int | None:
    """A child's number from the due list, typed as `#12` (None for anything else)."""
    digits = text.strip()
    if not digits.startswith("#"):
        return None
    digits = digits[1:].strip()
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 9 else None


async def search(
    session: AsyncSession, site_id: str, text: str, *, today: date
) -> list[Appointment]:
    """Appointments at the site for a booking code, or a name with a birth year.

    A code is looked up wherever it is booked (the page then says it is another site's). A name
    is matched without diacritics or case, as words in order ("lan 1958" finds Nguyễn Thị Lan
    born 1958), among the site's appointments of the week before and after today.
    """
    code = read_code(text)
    if code is not None:
        held = await bookings.find_by_code(session, code)
        return [Appointment(held[0], held[1], held[2])] if held else []
    words = fold(text).split()
    years = [int(w) for w in words if w.isdigit() and len(w) == 4]
    names = [w for w in words if not w.isdigit()]
    if not names:
        return []
    since, _until = _day_span(today - timedelta(days=SEARCH_DAYS))
    _since, until = _day_span(today + timedelta(days=SEARCH_DAYS))
    query = (
        select(Booking, Person, Slot)
        .join(Slot, Slot.id == Booking.slot_id)
        .join(Person, Person.id == Booking.person_id)
        .where(Slot.site_id == site_id, Slot.starts_at >= since, Slot.starts_at < until)
        .order_by(Slot.starts_at)
    )
    found = []
    for booking, person, slot in await session.execute(query):
        if years and person.birth_date.year not in years:
            continue
        if _in_order(names, fold(person.full_name).split()):
            found.append(Appointment(booking, person, slot))
    return found[:SHOWN]


def _in_order(wanted: Sequence[str], words: Sequence[str]) -> bool:
    """Whether every wanted word is one of `words`, in the same order."""
    position = 0
    for word in wanted:
        try:
            position = words.index(word, position) + 1
        except ValueError:
            return False
    return True


@dataclass(frozen=True)
class Recordable:
    """Whether an appointment's dose can be recorded here today, and with which products."""

    refusal: Refusal | None
    products: list[str]  # the mixing rules' products for this dose, as keys


async def recordable(
    session: AsyncSession, appointment: Appointment, site: Site, *, today: date
) -> Recordable:
    """Why the dose cannot be recorded here today (or None), and its allowed products.

    Both come from one reading of the person's recorded doses.
    """
    booking = appointment.booking
    history = as_given(list(await vaccinations.history(session, booking.person_id)))
    upcoming = next_dose(history, today=today)
    products = [key for key in PRODUCTS if key in upcoming.products]
    if appointment.slot.site_id != site.id:
        return Recordable(Refusal.OTHER_SITE, products)
    if booking.status == bookings.ATTENDED:
        return Recordable(Refusal.ATTENDED, products)
    if booking.status == bookings.CANCELLED:
        return Recordable(Refusal.CANCELLED, products)
    if upcoming.number != booking.dose_number or upcoming.earliest > today:
        return Recordable(Refusal.NOT_DUE, products)
    return Recordable(None, products)


async def mark_no_show(
    session: AsyncSession, appointment: Appointment, *, actor: str, now: datetime
) -> bool:
    """Mark a booked appointment missed; False if not booked, or if its time has not come."""
    booking = appointment.booking
    if appointment.slot.starts_at > now:
        return False
    if not await bookings.transition(session, booking, bookings.MISSED, now=now):
        return False
    await staff.audit(
        session,
        actor=actor,
        action="booking_no_show",
        subject=f"booking:{booking.id}",
        now=now,
        detail={"person": booking.person_id},
    )
    return True
