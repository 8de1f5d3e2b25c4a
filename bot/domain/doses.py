"""Recording a dose: the vaccination record, the booking attended, the audit line, the notice.

Used by site staff in the chat and by `import-vaccinations`; both end in the same transaction
with the citizen's notice written to the outbox, so the notice goes out if and only if the dose
was recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import certificate_issuing as certificates
from bot.domain import checkin_jobs, notices, reminders
from bot.domain.dcc.trust import Authority
from bot.domain.vaccines import PRODUCTS, Given, NextDose, next_dose
from bot.i18n import _, format_day, format_moment, local_day
from bot.messages import Button
from bot.payloads import BOOK
from bot.vn.refused import InputRefused
from storage import bookings, outbox, staff, vaccinations
from storage.models import Account, Booking, Person, Site, Slot, Vaccination

log = logging.getLogger(__name__)


class DoseProblem(StrEnum):
    """Why a dose cannot be recorded."""

    UNKNOWN_PRODUCT = "unknown_product"
    OUT_OF_ORDER = "out_of_order"  # dose N given while dose N-1 is not recorded
    CONFLICT = "conflict"  # this dose is already recorded with other details


class DoseRefused(InputRefused[DoseProblem]):
    """A dose could not be recorded; `problem` says why."""


@dataclass(frozen=True)
class DoseEntry:
    """A dose to record."""

    person: Person
    dose_number: int
    product: str
    lot: str
    given_on: date
    site_id: str | None
    booking: Booking | None = None


async def record_dose(
    session: AsyncSession,
    entry: DoseEntry,
    *,
    source: str,
    actor: str,
    staff_id: int | None,
    site_name: str | None,
    authority: Authority,
    now: datetime,
) -> bool:
    """Record a dose, mark its booking attended, audit it, tell the citizen, sign a certificate.

    The certificate's picture is rendered and sent afterwards (`bot.workers.renderer`).

    Returns:
        True if recorded now; False if the same dose was already recorded identically
        (a re-import), in which case nothing changes and nobody is told again.

    Raises:
        DoseRefused: unknown product, a gap in the dose numbers, or a different record of
            the same dose.
    """
    if entry.product not in PRODUCTS:
        raise DoseRefused(DoseProblem.UNKNOWN_PRODUCT)
    history = await vaccinations.history(session, entry.person.id)
    existing = next((d for d in history if d.dose_number == entry.dose_number), None)
    if existing is not None:
        if (existing.product, existing.lot, existing.given_on) == (
            entry.product,
            entry.lot,
            entry.given_on,
        ):
            return False
        raise DoseRefused(DoseProblem.CONFLICT)
    if entry.dose_number != len(history) + 1:
        raise DoseRefused(DoseProblem.OUT_OF_ORDER)
    booking, cancelled = entry.booking, None
    if booking is None:
        booking, cancelled = await _matching_booking(session, entry, now=now)
    dose = await vaccinations.add_dose(
        session,
        Vaccination(
            person_id=entry.person.id,
            dose_number=entry.dose_number,
            product=entry.product,
            lot=entry.lot,
            given_on=entry.given_on,
            site_id=entry.site_id,
            booking_id=booking.id if booking else None,
            source=source,
            recorded_by=staff_id,
            created_at=now,
        ),
    )
    if booking is not None:  # a late arrival turns a "missed" appointment into an attended one
        await bookings.transition(
            session,
            booking,
            bookings.ATTENDED,
            now=now,
            from_statuses=(bookings.ACTIVE, bookings.MISSED),
        )
    await staff.audit(
        session,
        actor=actor,
        action="dose_recorded",
        subject=f"person:{entry.person.id}",
        now=now,
        detail={"dose": dose.dose_number, "product": dose.product, "site": entry.site_id},
    )
    given = [*as_given(list(history)), Given(dose.product, dose.given_on)]
    after = Aftermath(cancelled, next_dose(given, today=local_day(now)), local_day(now))
    await _tell_citizen(session, entry.person, dose, site_name, after, now=now)
    await reminders.schedule_next_dose(session, entry.person, given, now=now)
    await checkin_jobs.schedule_for_dose(session, dose, now=now)
    first_product = history[0].product if history else dose.product
    try:
        await certificates.issue_for_dose(
            session, authority, entry.person, dose, first_product=first_product, now=now
        )
    except certificates.CannotSign:  # the dose is on record all the same
        log.error("dose %s recorded without a certificate: the signer cannot sign", dose.id)
    return True


async def _matching_booking(
    session: AsyncSession, entry: DoseEntry, *, now: datetime
) -> tuple[Booking | None, Booking | None]:
    """The appointment this dose was given at (if any), and the one it cancelled (if any).

    The person's appointment for this dose counts if the dose was given there, on its day.
    A dose given elsewhere or on another day makes the appointment moot: it is cancelled and its
    place freed for someone else (the citizen is told, see `_tell_citizen`). An appointment
    already marked missed (the dose was recorded after the evening's no-show check) counts if
    the dose was given there, on its day.
    """
    booking = await bookings.active_booking(
        session, person_id=entry.person.id, dose_number=entry.dose_number
    )
    if booking is None:
        missed = await bookings.missed_booking(
            session, person_id=entry.person.id, dose_number=entry.dose_number
        )
        there = missed is not None and await _given_there(session, entry, missed)
        return (missed if there else None), None
    if await _given_there(session, entry, booking):
        return booking, None
    if await bookings.transition(session, booking, bookings.CANCELLED, now=now):
        await bookings.release_place(session, booking.slot_id)
        await reminders.cancel_for_booking(session, booking.id, now=now)
        return None, booking
    return None, None


async def _given_there(session: AsyncSession, entry: DoseEntry, booking: Booking) -> bool:
    """Whether the dose was given at the booking's site on its day."""
    slot = await session.get(Slot, booking.slot_id)
    return slot is not None and (
        slot.site_id == entry.site_id and local_day(slot.starts_at) == entry.given_on
    )


@dataclass(frozen=True)
class Aftermath:
    """What else the citizen is told with a recorded dose: the appointment cancelled, the next."""

    cancelled: Booking | None
    upcoming: NextDose
    today: date


async def _tell_citizen(
    session: AsyncSession,
    person: Person,
    dose: Vaccination,
    site_name: str | None,
    after: Aftermath,
    *,
    now: datetime,
) -> None:
    """The dose recorded; the appointment it made moot; when the next one may be given."""
    account = await session.get(Account, person.account_id) if person.account_id else None
    cancelled = await _appointment_of(session, after.cancelled)

    def compose() -> str:
        lines = [_recorded(person, dose, site_name)]
        if cancelled is not None:
            lines.append(cancelled())
        lines.extend(_next_dose_lines(after))
        return "\n\n".join(lines)

    def buttons() -> list[list[Button]]:
        upcoming = after.upcoming
        if upcoming.number is None or upcoming.earliest > after.today:
            return []
        label = _("Book dose {dose}").format(dose=upcoming.number)
        return [[Button(label, f"{BOOK}{person.id}")]]

    notice = notices.compose_for(account, compose, buttons=buttons)
    if notice is not None:
        await outbox.enqueue(session, [notice], now=now)


def _recorded(person: Person, dose: Vaccination, site_name: str | None) -> str:
    return _(
        "Dose {number} for {name} has been recorded: {product}, {day}{site}. Thank you! "
        "The vaccination certificate will be sent here."
    ).format(
        number=dose.dose_number,
        name=person.full_name,
        product=PRODUCTS[dose.product].label,
        day=format_day(dose.given_on),
        site=_(" at {site}").format(site=site_name) if site_name else "",
    )


async def _appointment_of(
    session: AsyncSession, booking: Booking | None
) -> Callable[[], str] | None:
    """The sentence telling that `booking` was cancelled (composed in the citizen's language)."""
    if booking is None:
        return None
    slot = await session.get(Slot, booking.slot_id)
    site = await session.get(Site, slot.site_id) if slot is not None else None
    if slot is None or site is None:
        return None

    def sentence() -> str:
        return _(
            "As this dose was given at another site or on another day, the appointment for "
            "dose {dose} at {site} on {when} (code {code}) has been cancelled and its place "
            "freed. There is no need to go."
        ).format(
            dose=booking.dose_number,
            site=site.name,
            when=format_moment(slot.starts_at),
            code=booking.code,
        )

    return sentence


def _next_dose_lines(after: Aftermath) -> list[str]:
    """When the next dose may be given: from a later day (we will remind), or now (book)."""
    upcoming = after.upcoming
    if upcoming.number is None:
        return []
    if upcoming.earliest > after.today:
        return [
            _(
                "Dose {dose} can be given from {day}. We will send you an invitation to book it "
                "then."
            ).format(dose=upcoming.number, day=format_day(upcoming.earliest))
        ]
    return [_("Dose {dose} can be given now: you can book it below.").format(dose=upcoming.number)]


def as_given(history: list[Vaccination]) -> list[Given]:
    """Vaccination records as the eligibility rules read them."""
    return [Given(d.product, d.given_on) for d in history]
