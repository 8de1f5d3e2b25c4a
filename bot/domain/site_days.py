"""A site's days as staff change them: a slot's capacity, a day closed, slots made by pattern.

Closing a day cancels every appointment of that day at the site, frees and closes its places
(capacity 0, so nobody books them again), and tells each citizen in their own language, with
the nearest free times at that site and at the other sites of its ward, and a button that books
again. Everything happens in the caller's transaction, audited, or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import payloads
from bot.domain import booking as booking_service
from bot.domain import notices
from bot.i18n import TIMEZONE, _, format_day, local_day
from bot.messages import Button
from storage import bookings, children, outbox, staff
from storage.models import Account, Booking, Child, ChildBooking, Person, Site, Slot

MAX_CAPACITY = 10_000  # as the slots import
MAX_NEW_SLOTS = 2_000  # slots one pattern may make (a site's quarter of hourly slots)
OFFERED = 3  # free times offered at the same site, and other sites of the ward
OFFER_DAYS = 14


def day_start(day: date) -> datetime:
    """Midnight of a day in Vietnam, in UTC."""
    return datetime.combine(day, time(), TIMEZONE).astimezone(UTC)


async def slots_of_day(
    session: AsyncSession, site_id: str, day: date, *, lock: bool = False
) -> Sequence[Slot]:
    """A site's slots of one day (Vietnam time), in time order; `lock`: for update.

    Locked (PostgreSQL's FOR UPDATE; SQLite's writer holds the database anyway), no booking
    can take one of these places until the caller's transaction ends.
    """
    query = (
        select(Slot)
        .where(
            Slot.site_id == site_id,
            Slot.starts_at >= day_start(day),
            Slot.starts_at < day_start(day + timedelta(days=1)),
        )
        .order_by(Slot.starts_at)
    )
    found = await session.scalars(query.with_for_update() if lock else query)
    return found.all()


async def set_capacity(
    session: AsyncSession, slot: Slot, capacity: int, *, actor: str, now: datetime
) -> bool:
    """Change a slot's places; False (nothing changed) if below what is booked at that moment.

    The check is part of the one UPDATE, so a booking taken meanwhile is never squeezed out.
    """
    if not 0 <= capacity <= MAX_CAPACITY:
        return False
    before = slot.capacity
    changed = await session.execute(
        update(Slot)
        .where(Slot.id == slot.id, Slot.booked <= capacity)
        .values(capacity=capacity)
        .execution_options(synchronize_session="fetch")
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        await session.refresh(slot)
        return False
    await staff.audit(
        session,
        actor=actor,
        action="slot_capacity_changed",
        subject=f"slot:{slot.id}",
        now=now,
        detail={"site": slot.site_id, "before": before, "capacity": capacity},
    )
    return True


@dataclass(frozen=True)
class DayClosed:
    """What closing a day did: appointments cancelled, citizens told (others had no chat)."""

    cancelled: int
    told: int


async def close_day(
    session: AsyncSession, site: Site, day: date, *, actor: str, now: datetime
) -> DayClosed:
    """Close `site` on `day`: cancel every appointment, tell each person, close the places.

    Children's sessions booked that day are cancelled too, and their parents told.
    """
    slots = await slots_of_day(session, site.id, day, lock=True)
    ids = [slot.id for slot in slots]
    active = (
        await session.scalars(
            select(Booking).where(Booking.slot_id.in_(ids), Booking.status == bookings.ACTIVE)
        )
    ).all()
    cancelled = [b for b in active if await booking_service.cancel(session, b, now=now)]
    kids = await _cancel_children(session, ids)
    for slot in slots:
        await session.refresh(slot)
        slot.capacity = slot.booked  # 0 once every appointment is cancelled
    await session.flush()
    told = 0
    # The same nearest free times for everyone of the day: looked up once, not per citizen.
    offers = await nearest_free(session, site, after=day_start(day + timedelta(days=1)), now=now)
    for cancelled_booking in cancelled:
        told += await _tell_closed(session, site, day, cancelled_booking, offers, now=now)
    for child in kids:
        told += await _tell_parent(session, site, day, child, now=now)
    await staff.audit(
        session,
        actor=actor,
        action="site_day_closed",
        subject=f"site:{site.id}",
        now=now,
        detail={"day": day.isoformat(), "cancelled": len(cancelled) + len(kids), "told": told},
    )
    return DayClosed(cancelled=len(cancelled) + len(kids), told=told)


async def _cancel_children(session: AsyncSession, slot_ids: Sequence[int]) -> list[Child]:
    """Cancel the children's sessions booked in these slots, freeing their places."""
    held = (
        await session.execute(
            select(ChildBooking, Child)
            .join(Child, Child.id == ChildBooking.child_id)
            .where(ChildBooking.slot_id.in_(slot_ids), ChildBooking.status == children.BOOKED)
        )
    ).all()
    for booking, _child in held:
        booking.status = children.CANCELLED
        await session.flush()
        await bookings.release_place(session, booking.slot_id)
    return [child for _booking, child in held]


async def _tell_parent(
    session: AsyncSession, site: Site, day: date, child: Child, *, now: datetime
) -> int:
    """Tell the parent their child's session was cancelled; 1 if told."""
    account = await session.get(Account, child.account_id) if child.account_id else None
    name = child.full_name

    def compose() -> str:
        return _(
            "We are sorry: {site} is closed on {day}, so the immunisation session of {name} "
            "has been cancelled. Please book another one when the next reminder comes, or "
            "type “sổ tiêm” to see what is due."
        ).format(site=site.name, day=format_day(day), name=name)

    notice = notices.compose_for(account, compose)
    if notice is None:
        return 0
    await outbox.enqueue(session, [notice], now=now)
    return 1


async def _tell_closed(
    session: AsyncSession,
    site: Site,
    day: date,
    cancelled: Booking,
    offers: list[tuple[str, Slot]],
    *,
    now: datetime,
) -> int:
    """Tell the citizen of a cancelled appointment, with the nearest free times; 1 if told."""
    person = await session.get(Person, cancelled.person_id)
    if person is None or person.account_id is None:
        return 0
    account = await session.get(Account, person.account_id)
    name, code = person.full_name, cancelled.code

    def compose() -> str:
        lines = [
            _(
                "We are sorry: {site} is closed on {day}, so the appointment {code} for "
                "{name} has been cancelled."
            ).format(site=site.name, day=format_day(day), code=code, name=name)
        ]
        if offers:
            lines.append(_("The nearest free times:"))
            lines += [f"• {holder}: {_moment(slot)}" for holder, slot in offers]
        else:
            lines.append(_("There are no free places nearby in the next two weeks yet."))
        lines.append(_("Choose “Book again” to pick a new time."))
        return "\n".join(lines)

    def buttons() -> list[list[Button]]:
        return [[Button(_("Book again"), f"{payloads.BOOK}{person.id}")]]

    notice = notices.compose_for(account, compose, buttons=buttons)
    if notice is None:
        return 0
    await outbox.enqueue(session, [notice], now=now)
    return 1


def _moment(slot: Slot) -> str:
    local = slot.starts_at.astimezone(TIMEZONE)
    return f"{format_day(local_day(slot.starts_at))} {local:%H:%M}"


async def nearest_free(
    session: AsyncSession, site: Site, *, after: datetime, now: datetime
) -> list[tuple[str, Slot]]:
    """Up to three free times at `site` from `after`, then one at each other site of its ward."""
    since = max(after, now + booking_service.LEAD_TIME)
    free = (
        select(Slot, Site)
        .join(Site, Site.id == Slot.site_id)
        .where(
            Site.ward_code == site.ward_code,
            Site.active.is_(True),
            Slot.starts_at >= since,
            Slot.starts_at < since + timedelta(days=OFFER_DAYS),
            Slot.booked < Slot.capacity,
        )
        .order_by(Slot.starts_at)
    )
    offers: list[tuple[str, Slot]] = []
    others: set[str] = set()
    for slot, holder in await session.execute(free.limit(200)):
        if holder.id == site.id and sum(1 for _n, s in offers if s.site_id == site.id) < OFFERED:
            offers.append((holder.name, slot))
        elif holder.id != site.id and holder.id not in others and len(others) < OFFERED:
            others.add(holder.id)
            offers.append((holder.name, slot))
    return offers
