"""Reminders the scheduler sends: appointments, missed appointments, the next dose.

Each booking gets three jobs in its group (`booking:<id>`): the evening before (18:00), two
hours before, and a no-show check after the appointment's day. Booking, moving and cancelling
(`bot.domain.booking`) write, move and withdraw them in the same transaction. Each recorded
dose schedules an invitation for the next one (`next:<person id>`) on the day it may be given,
repeated after 7 and 21 days while nothing is booked. Every handler checks again at firing
time that its message still makes sense, so a stale job is skipped, never sent.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import String, cast, exists, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import notices
from bot.domain.jobs import JobKind, Run, Verdict, local_time
from bot.domain.vaccines import Given, next_dose
from bot.i18n import TIMEZONE, _, format_moment, local_day
from bot.messages import Button
from storage import bookings, jobs, outbox, vaccinations
from storage.jobs import NewJob
from storage.models import Account, Booking, Job, Person, Site, Slot

APPOINTMENT, NO_SHOW, NEXT_DOSE = "appointment_reminder", "no_show", "next_dose"
EVENING_BEFORE = time(18, 0)
HOURS_BEFORE = timedelta(hours=2)
NO_SHOW_CHECK = time(20, 0)  # on the appointment's day: the day's doses are in by then
NEXT_DOSE_AT = time(9, 0)
NEXT_DOSE_REPEATS = (timedelta(days=7), timedelta(days=14))  # after 7 days, then after 21


def booking_group(booking_id: int) -> str:
    """The job group of a booking's reminders and no-show check."""
    return f"booking:{booking_id}"


async def schedule_for_booking(
    session: AsyncSession, booking: Booking, slot: Slot, *, now: datetime, new: bool = False
) -> None:
    """(Re)write a booking's reminders for its slot: what is still ahead of `now`.

    `new`: the booking was just made, so there is nothing earlier to withdraw.
    """
    group = booking_group(booking.id)
    if not new:
        await jobs.cancel_group(session, group, now=now)
    evening = local_time(-1, EVENING_BEFORE, slot.starts_at)
    shortly = slot.starts_at - HOURS_BEFORE
    check = max(local_time(0, NO_SHOW_CHECK, slot.starts_at), slot.ends_at + timedelta(hours=1))
    payload = {"booking": booking.id, "slot": slot.id}
    planned = [
        NewJob(APPOINTMENT, evening, {**payload, "when": "evening"}, group),
        NewJob(APPOINTMENT, shortly, {**payload, "when": "soon"}, group),
        NewJob(NO_SHOW, check, payload, group),
    ]
    await jobs.schedule(session, [job for job in planned if job.due_at > now], now=now)


async def cancel_for_booking(session: AsyncSession, booking_id: int, *, now: datetime) -> None:
    """Withdraw a booking's pending reminders (it was cancelled)."""
    await jobs.cancel_group(session, booking_group(booking_id), now=now)


def next_dose_group(person_id: int) -> str:
    """The job group of a person's next-dose invitations."""
    return f"next:{person_id}"


async def schedule_next_dose(
    session: AsyncSession, person: Person, history: list[Given], *, now: datetime
) -> None:
    """Invite the person to book their next dose on the first day it may be given."""
    group = next_dose_group(person.id)
    await jobs.cancel_group(session, group, now=now)
    today = local_day(now)
    upcoming = next_dose(history, today=date.min)  # the earliest day itself, past or not
    if upcoming.number is None or upcoming.earliest < today:
        # Already overdue (an import of old records): a flood of invitations at once would
        # help nobody; invitation campaigns reach those people, in waves.
        return
    due = datetime.combine(upcoming.earliest, NEXT_DOSE_AT, TIMEZONE)
    payload = {"person": person.id, "dose": upcoming.number, "round": 1}
    await jobs.schedule(session, [NewJob(NEXT_DOSE, max(due, now), payload, group)], now=now)


# ---------------------------------------------------------------- firing


async def _account_of(session: AsyncSession, person: Person | None) -> Account | None:
    if person is None or person.account_id is None:
        return None
    return await session.get(Account, person.account_id)


async def _booking_context(
    run: Run,
) -> tuple[Booking, Slot, Site, Person, Account] | None:
    """The booking a job is about, if it is still active and its account can be told."""
    booking = await run.session.get(Booking, int(run.job.payload["booking"]))
    if booking is None or booking.status != bookings.ACTIVE:
        return None
    slot = await run.session.get(Slot, booking.slot_id)
    site = await run.session.get(Site, slot.site_id) if slot is not None else None
    person = await run.session.get(Person, booking.person_id)
    account = await _account_of(run.session, person)
    if slot is None or site is None or person is None or account is None:
        return None
    return booking, slot, site, person, account


async def remind_appointment(run: Run) -> Verdict:
    """The evening before, or two hours before: where, when, what to bring, three buttons."""
    found = await _booking_context(run)
    if found is None:
        return Verdict.SKIPPED
    booking, slot, site, person, account = found
    if slot.starts_at <= run.now or booking.slot_id != run.job.payload.get("slot"):
        return Verdict.SKIPPED  # too late, or the booking moved (its new jobs will remind)

    # Worded from the actual day, not from which reminder this is: one held by the quiet
    # hours or caught up after a pause may fire on the appointment's day itself.
    today = local_day(run.now) == local_day(slot.starts_at)

    def compose() -> str:
        intro = (
            _("Reminder: {name} has a vaccination appointment today.")
            if today
            else _("Reminder: {name} has a vaccination appointment tomorrow.")
        )
        return (
            intro.format(name=person.full_name)
            + "\n"
            + _(
                "Dose {dose} at {site}, {address}, at {when}. Appointment code: {code}.\n"
                "Please bring your ID card (CCCD), the record of earlier doses if you have one, "
                "and the appointment QR code (/lichhen)."
            ).format(
                dose=booking.dose_number,
                site=site.name,
                address=site.address,
                when=format_moment(slot.starts_at),
                code=booking.code,
            )
        )

    def buttons() -> list[list[Button]]:
        return [
            [Button(_("I will come"), f"appt:coming:{booking.id}")],
            [
                Button(_("Change the time"), f"appt:move:{booking.id}"),
                Button(_("Cancel the appointment"), f"appt:cancel:{booking.id}"),
            ],
        ]

    def template() -> tuple[str, dict[str, str]]:
        return "reminder", {
            "name": person.full_name,
            "site": site.name,
            "address": site.address,
            "time": format_moment(slot.starts_at),
            "code": booking.code,
            "dose": str(booking.dose_number),
        }

    return await _tell(run, account, compose, buttons, template)


async def check_no_show(run: Run) -> Verdict:
    """The appointment passed without a dose: mark it missed, offer a new one once."""
    found = await _booking_context(run)
    if found is None:
        return Verdict.SKIPPED  # attended, cancelled or moved away
    booking, slot, site, person, account = found
    if slot.ends_at > run.now:
        return Verdict.SKIPPED
    if not await bookings.transition(run.session, booking, bookings.MISSED, now=run.now):
        return Verdict.SKIPPED

    def compose() -> str:
        return _(
            "{name} missed the vaccination appointment at {site} at {when} (code {code}), or "
            "the dose has not been recorded yet. If you still want dose {dose}, you can book "
            "a new time now."
        ).format(
            name=person.full_name,
            site=site.name,
            when=format_moment(slot.starts_at),
            code=booking.code,
            dose=booking.dose_number,
        )

    def buttons() -> list[list[Button]]:
        return [[Button(_("Book a new time"), f"book:{person.id}")]]

    def template() -> tuple[str, dict[str, str]]:
        return "missed", {
            "name": person.full_name,
            "site": site.name,
            "time": format_moment(slot.starts_at),
            "code": booking.code,
            "dose": str(booking.dose_number),
        }

    return await _tell(run, account, compose, buttons, template)


async def invite_next_dose(run: Run) -> Verdict:
    """The next dose may be given from today: invite to book it, up to three times."""
    payload = run.job.payload
    person = await run.session.get(Person, int(payload["person"]))
    account = await _account_of(run.session, person)
    if person is None or account is None:
        return Verdict.SKIPPED
    dose, round_ = int(payload["dose"]), int(payload.get("round", 1))
    history = await vaccinations.history(run.session, person.id)
    booked = await bookings.active_booking(run.session, person_id=person.id, dose_number=dose)
    if len(history) >= dose or booked is not None:
        return Verdict.SKIPPED  # given or booked since: nothing to invite to

    def compose() -> str:
        return _(
            "{name} can now receive dose {dose}. Book a time at a site near you: it takes a "
            "minute."
        ).format(name=person.full_name, dose=dose)

    def buttons() -> list[list[Button]]:
        return [[Button(_("Book dose {dose}").format(dose=dose), f"book:{person.id}")]]

    def template() -> tuple[str, dict[str, str]]:
        return "next_dose", {"name": person.full_name, "dose": str(dose)}

    if round_ <= len(NEXT_DOSE_REPEATS):
        again = NewJob(
            NEXT_DOSE,
            run.job.due_at + NEXT_DOSE_REPEATS[round_ - 1],
            {**payload, "round": round_ + 1},
            next_dose_group(person.id),
        )
        await jobs.schedule(run.session, [again], now=run.now)
    return await _tell(run, account, compose, buttons, template)


async def _tell(
    run: Run,
    account: Account,
    compose: notices.Compose,
    buttons: notices.Buttons,
    template: notices.TemplateFacts,
) -> Verdict:
    notice = notices.compose_for(account, compose, buttons=buttons, template=template)
    if notice is None:
        return Verdict.SKIPPED  # unreachable, or consent withdrawn
    await outbox.enqueue(run.session, [notice], now=run.now)
    return Verdict.DONE


KINDS = {
    APPOINTMENT: JobKind(remind_appointment),
    NO_SHOW: JobKind(check_no_show),
    NEXT_DOSE: JobKind(invite_next_dose),
}


async def backfill(session: AsyncSession, *, now: datetime, limit: int = 1000) -> int:
    """Schedule the reminders of active bookings that have none (made before the scheduler).

    Returns:
        How many bookings got reminders (at most `limit`; call again while it returns that).
    """
    group = literal("booking:") + cast(Booking.id, String)
    rows = await session.execute(
        select(Booking, Slot)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(
            Booking.status == bookings.ACTIVE,
            Slot.starts_at > now,
            ~exists().where(Job.group_key == group),
        )
        .order_by(Booking.id)
        .limit(limit)
    )
    found = rows.all()
    for booking, slot in found:
        await schedule_for_booking(session, booking, slot, now=now)
    return len(found)
