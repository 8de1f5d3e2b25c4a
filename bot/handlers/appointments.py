"""/lichhen: the account's people and their appointments; cancel, move, show the QR again.

The list is not a flow step: its buttons (`appt:<action>:<booking id>`) stay valid from any
message, however old, and are checked on use (the booking must be active and on this account).
Flow `appointments`:
    CANCEL  -> "Yes, cancel" frees the place at once; "No" keeps it
"""

from __future__ import annotations

from enum import StrEnum

from bot.conversation import Conversation, Handler
from bot.domain import booking as booking_service
from bot.handlers import registration
from bot.handlers.menu import menu_buttons
from bot.handlers.registration import slot_picker
from bot.handlers.registration.form import Mode, person_of_account
from bot.i18n import _
from bot.messages import Button, Incoming, payload_id
from bot.vn.intents import Intent, is_answer
from storage import bookings, people, vaccinations
from storage.models import Booking, Person, Site, Slot

FLOW = "appointments"


class Step(StrEnum):
    """Where the appointments flow waits."""

    CANCEL = "cancel"


def status_text(active: Booking | None, doses: int) -> str:
    """Where a person is: registered -> appointment booked -> dose N given (-> next booked)."""
    steps = []
    if doses:
        steps.append(_("dose {number} given").format(number=doses))
    if active is not None:
        steps.append(_("appointment booked for dose {number}").format(number=active.dose_number))
    if not steps:
        steps.append(_("registered, no appointment yet"))
    return "; ".join(steps)


def _booking_lines(booking: Booking, slot: Slot, site: Site) -> list[str]:
    """An active appointment under its person: code, place, time, the screening note."""
    lines = [
        _("   Code {code}: {site}, {address}, {when}").format(
            code=booking.code,
            site=site.name,
            address=site.address,
            when=slot_picker.slot_moment(slot),
        )
    ]
    if booking.needs_screening:
        lines.append("   " + _("needs a closer check at the site (cần khám sàng lọc kỹ)"))
    return lines


def _booking_buttons(booking: Booking) -> list[Button]:
    """Move, cancel, the QR again: one row per active appointment."""
    return [
        Button(_("Move {code}").format(code=booking.code), f"appt:move:{booking.id}"),
        Button(_("Cancel {code}").format(code=booking.code), f"appt:cancel:{booking.id}"),
        Button(_("QR {code}").format(code=booking.code), f"appt:qr:{booking.id}"),
    ]


async def show_appointments(msg: Incoming, conv: Conversation) -> None:
    """List each person with their status and active appointment, with buttons to act."""
    registered = await people.people_of(conv.session, conv.owner_id)
    if not registered:
        conv.finish()
        conv.reply(
            _("Nobody is registered on this account yet. Choose “Register for vaccination”."),
            buttons=menu_buttons(),
        )
        return
    ids = [person.id for person in registered]
    rows = await bookings.bookings_of(conv.session, ids)
    doses = await vaccinations.histories(conv.session, ids)
    active: dict[int, tuple[Booking, Slot, Site]] = {}
    for booking, slot, site in rows:
        if booking.status == bookings.ACTIVE:
            active[booking.person_id] = (booking, slot, site)
    lines = [_("People on your account:")]
    buttons: list[list[Button]] = []
    for number, person in enumerate(registered, 1):
        current = active.get(person.id)
        lines.append(
            _("{number}. {name} (born {year}): {status}").format(
                number=number,
                name=person.full_name,
                year=person.birth_date.year,
                status=status_text(current[0] if current else None, len(doses[person.id])),
            )
        )
        if current is not None:
            lines += _booking_lines(*current)
            buttons.append(_booking_buttons(current[0]))
    conv.finish()
    conv.reply("\n".join(lines), buttons=[*buttons, *menu_buttons()])


async def _own_active(conv: Conversation, payload: str) -> tuple[Booking, Person] | None:
    booking_id = payload_id(payload.rpartition(":")[2])
    booking = await conv.session.get(Booking, booking_id) if booking_id else None
    if booking is None or booking.status != bookings.ACTIVE:
        return None
    person = await person_of_account(conv, booking.person_id)
    return (booking, person) if person else None


async def receive_choice(msg: Incoming, conv: Conversation) -> None:
    """Act on a booking button: "I will come", move, cancel (asks first), the QR again."""
    payload = msg.payload or ""
    found = await _own_active(conv, payload)
    if found is None:
        conv.reply(_("This appointment is no longer active."))
        await show_appointments(msg, conv)
        return
    booking, person = found
    if payload.startswith("appt:coming:"):
        await _coming(conv, booking, person)
    elif payload.startswith("appt:qr:"):
        conv.finish()
        await slot_picker.send_booking(conv, booking, person, _("Your appointment:"))
    elif payload.startswith("appt:cancel:"):
        conv.goto(FLOW, Step.CANCEL, booking=booking.id)
        conv.reply(
            _("Cancel appointment {code} for {name}?").format(
                code=booking.code, name=person.full_name
            ),
            buttons=[
                [
                    Button(_("Yes, cancel it"), "cancel:yes"),
                    Button(_("No, keep the appointment"), "cancel:no"),
                ]
            ],
        )
    else:
        await _move(conv, booking, person)


async def _coming(conv: Conversation, booking: Booking, person: Person) -> None:
    """The citizen will come: noted on the booking, and thanked."""
    booking.confirmed_at = conv.now
    slot = await conv.session.get(Slot, booking.slot_id)
    conv.finish()
    conv.reply(
        _(
            "Thank you! We look forward to seeing {name} on {when}. Appointment code: {code}."
        ).format(
            when=slot_picker.slot_moment(slot) if slot else "-",
            code=booking.code,
            name=person.full_name,
        )
    )


async def _move(conv: Conversation, booking: Booking, person: Person) -> None:
    """Move: the registration form in MOVE mode, from the site on."""
    conv.finish()
    conv.goto(
        registration.FLOW,
        registration.Step.SITE,
        mode=Mode.MOVE,
        move=booking.id,
        person=person.id,
        province=person.province_code,
        ward=person.ward_code,
    )
    await registration.advance(conv)


async def receive_cancel(msg: Incoming, conv: Conversation) -> None:
    """Cancel and free the place, or keep the appointment."""
    if msg.payload == "cancel:no" or is_answer(msg.text, Intent.NO):
        conv.finish()
        conv.reply(_("The appointment is kept."), buttons=menu_buttons())
        return
    if not (msg.payload == "cancel:yes" or is_answer(msg.text, Intent.YES)):
        conv.reply(_("Please answer with the buttons: cancel the appointment?"))
        return
    found = await _own_active(conv, f"appt:{conv.data.get('booking')}")
    conv.finish()
    if found is None:
        conv.reply(_("This appointment is no longer active."), buttons=menu_buttons())
        return
    booking, person = found
    await booking_service.cancel(conv.session, booking, now=conv.now)
    conv.reply(
        _(
            "Appointment {code} for {name} is cancelled and the place is free for someone else. "
            "You can book again at any time with /dangky."
        ).format(code=booking.code, name=person.full_name),
        buttons=menu_buttons(),
    )


STEPS: dict[str, Handler] = {Step.CANCEL: receive_cancel}
