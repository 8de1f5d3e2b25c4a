"""The lists behind the dashboard's figures, scoped and paged, with names masked.

A list shows what staff need to act (a booking's code and time, a tube's code and age, a
ticket's reason with numbers masked), never a full name, phone or ID number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.dashboard import LOOKBACK, Scope, day_start, ticket_filter
from bot.i18n import N_, TIMEZONE, _
from bot.vn.phone import mask_numbers
from storage.models import Booking, Person, Sample, Site, Slot, Ticket

PAGE_SIZE = 50
STATUSES = {
    "booked": N_("booked"),
    "attended": N_("attended"),
    "missed": N_("missed"),
    "cancelled": N_("cancelled"),
}


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows (tuples of text), the page number, whether more follow."""

    rows: Sequence[tuple[str, ...]]
    number: int
    more: bool


def mask_name(name: str) -> str:
    """A name shown without revealing it: initials, then the given name's first letter."""
    words = name.split()
    return " ".join(f"{w[0]}." for w in words) if words else "–"


def _local(moment: datetime | None, pattern: str = "%d/%m %H:%M") -> str:
    return moment.astimezone(TIMEZONE).strftime(pattern) if moment else "–"


async def _page(session: AsyncSession, statement: Any, number: int) -> list[Any]:
    found = await session.execute(statement.limit(PAGE_SIZE + 1).offset((number - 1) * PAGE_SIZE))
    return list(found.all())


async def bookings_of_day(session: AsyncSession, scope: Scope, day: date, number: int) -> Page:
    """Bookings at the scope's sites on a Vietnamese day, by time."""
    within = (Slot.starts_at >= day_start(day), Slot.starts_at < day_start(day + timedelta(1)))
    return await _bookings(session, scope, number, "%H:%M", *within)


async def missed(session: AsyncSession, scope: Scope, now: datetime, number: int) -> Page:
    """Appointments of the last 30 days missed at the scope's sites, latest first."""
    within = (Slot.starts_at >= now - LOOKBACK, Slot.starts_at < now, Booking.status == "missed")
    return await _bookings(session, scope, number, "%d/%m %H:%M", *within, latest_first=True)


async def _bookings(
    session: AsyncSession,
    scope: Scope,
    number: int,
    pattern: str,
    *conditions: Any,
    latest_first: bool = False,
) -> Page:
    statement = (
        select(Slot.starts_at, Booking.code, Person.full_name, Site.name, Booking.status)
        .add_columns(Booking.dose_number)
        .join(Slot, Slot.id == Booking.slot_id)
        .join(Site, Site.id == Slot.site_id)
        .join(Person, Person.id == Booking.person_id)
        .where(*conditions, scope.site_filter(Slot.site_id))
        .order_by(Slot.starts_at.desc() if latest_first else Slot.starts_at, Booking.id)
    )
    found = await _page(session, statement, number)
    rows = [
        (
            _local(start, pattern),
            str(code),
            mask_name(str(name)),
            str(site),
            _(STATUSES.get(status, status)),
            str(dose),
        )
        for start, code, name, site, status, dose in found[:PAGE_SIZE]
    ]
    return Page(rows, number, len(found) > PAGE_SIZE)


async def pending_results(session: AsyncSession, scope: Scope, number: int) -> Page:
    """Samples without a result, oldest first."""
    statement = (
        select(Sample.taken_at, Sample.tube_code, Site.name, Sample.pooled)
        .outerjoin(Site, Site.id == Sample.site_id)
        .where(Sample.result.is_(None), scope.site_filter(Sample.site_id))
        .order_by(Sample.taken_at, Sample.id)
    )
    found = await _page(session, statement, number)
    rows = [
        (_local(taken), str(tube), str(site or "–"), "✓" if pooled else "")
        for taken, tube, site, pooled in found[:PAGE_SIZE]
    ]
    return Page(rows, number, len(found) > PAGE_SIZE)


async def open_tickets(session: AsyncSession, scope: Scope, number: int) -> Page:
    """Open tickets, oldest first; the reason with phone and ID numbers masked."""
    statement = (
        select(Ticket.opened_at, Ticket.id, Ticket.reason, Ticket.claimed_by)
        .where(Ticket.status == "open", ticket_filter(scope))
        .order_by(Ticket.opened_at, Ticket.id)
    )
    found = await _page(session, statement, number)
    rows = [
        (_local(opened), f"#{ticket}", mask_numbers(str(reason))[:120], str(claimed or "–"))
        for opened, ticket, reason, claimed in found[:PAGE_SIZE]
    ]
    return Page(rows, number, len(found) > PAGE_SIZE)
