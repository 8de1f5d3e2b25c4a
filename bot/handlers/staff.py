"""Site staff record doses in the chat: booking code -> identity check -> product -> lot.

Flow `dose` (only for users holding the `site_staff` role, scoped to their sites; anyone else
gets the ordinary "unknown command" answer):
    CODE     -> a booking code, typed or the text of its QR
    IDENTITY -> "This is the person" / "Not this person"
    PRODUCT  -> a product allowed for this dose (mixing rules)
    LOT      -> the lot number; the dose is recorded and the citizen told at once
After a dose the flow waits for the next code, for a quick desk routine; /huy ends it.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.conversation import Conversation, Handler
from bot.domain.booking import read_code
from bot.domain.doses import DoseEntry, DoseRefused, as_given, record_dose
from bot.domain.vaccines import PRODUCTS, next_dose
from bot.handlers import start
from bot.handlers.registration.slot_picker import slot_moment
from bot.handlers.roles import role_held
from bot.handlers.today import local_today
from bot.i18n import _, format_day
from bot.messages import Button, Incoming
from bot.vn.phone import mask_id_number
from storage import bookings, staff, vaccinations
from storage.models import Booking, Person, Site, Slot, StaffMember

FLOW = "dose"
ROLE = "site_staff"
_LOT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./-]{1,39}$")


class Step(StrEnum):
    """Where the dose-recording flow waits."""

    CODE = "code"
    IDENTITY = "identity"
    PRODUCT = "product"
    LOT = "lot"


async def _site_staff(msg: Incoming, conv: Conversation) -> StaffMember | None:
    return await role_held(msg, conv, ROLE)


async def start_dose(msg: Incoming, conv: Conversation) -> None:
    """/tiem: site staff only; a code given with the command is read at once."""
    if await _site_staff(msg, conv) is None:
        await start.unknown_command(msg, conv)
        return
    conv.goto(FLOW, Step.CODE)
    if msg.args.strip():
        await receive_code(
            Incoming(msg.chat, msg.update_id, msg.kind, msg.user_id, msg.args), conv
        )
        return
    conv.reply(_("Send the booking code (typed, or the text of its QR), for example K7Q9AB3."))


async def receive_code(msg: Incoming, conv: Conversation) -> None:
    """Find the booking at one of the staff member's sites and show who it is for."""
    member = await _site_staff(msg, conv)
    if member is None:
        conv.finish()
        await start.unknown_command(msg, conv)
        return
    code = read_code(msg.text)
    found = await bookings.find_by_code(conv.session, code) if code else None
    if found is None:
        conv.reply(
            _("No booking has the code “{code}”. Please check it and send it again.").format(
                code=msg.text.strip()[:20]
            )
        )
        return
    booking, person, slot, site = found
    problem = _not_recordable(booking, site, member)
    if problem:
        conv.reply(problem)
        return
    _show_booking(conv, booking, person, slot)


def _not_recordable(booking: Booking, site: Site, member: StaffMember) -> str | None:
    """Why a dose cannot be recorded against this booking here, or None."""
    if site.id not in member.sites:  # no site in scope means no site at all
        return _(
            "Booking {code} is for another site ({site}); it cannot be recorded here."
        ).format(code=booking.code, site=site.name)
    if booking.status not in (bookings.ACTIVE, bookings.MISSED):  # missed: a late arrival
        text = (
            _("Booking {code} was already attended; its dose is recorded.")
            if booking.status == bookings.ATTENDED
            else _("Booking {code} was cancelled; there is nothing to record.")
        )
        return text.format(code=booking.code)
    return None


def _show_booking(conv: Conversation, booking: Booking, person: Person, slot: Slot) -> None:
    """Who the booking is for, and the question whether they are the person present."""
    number = mask_id_number(conv.services.protector.open(person.id_sealed))
    lines = [
        _("Booking {code}: {name}, born {year}, ID {number}.").format(
            code=booking.code, name=person.full_name, year=person.birth_date.year, number=number
        ),
        _("Dose {dose}, {when}.").format(dose=booking.dose_number, when=slot_moment(slot)),
    ]
    if booking.needs_screening:
        lines.append(_("Screening answers need a closer check by the doctor."))
    lines.append(_("Is this the person in front of you?"))
    conv.goto(FLOW, Step.IDENTITY, booking=booking.id)
    conv.reply(
        "\n".join(lines),
        buttons=[
            [
                Button(_("Yes, this person"), "dose:yes"),
                Button(_("No, not this person"), "dose:no"),
            ]
        ],
    )


async def receive_identity(msg: Incoming, conv: Conversation) -> None:
    """Identity confirmed: offer the products allowed for this dose."""
    if msg.payload == "dose:no":
        conv.goto(FLOW, Step.CODE)
        conv.reply(_("Nothing recorded. Send another booking code, or /huy to finish."))
        return
    if msg.payload != "dose:yes":
        conv.reply(_("Please answer with the buttons."))
        return
    booking = await conv.session.get(Booking, int(conv.data["booking"]))
    if booking is None:
        conv.goto(FLOW, Step.CODE)
        return
    history = as_given(list(await vaccinations.history(conv.session, booking.person_id)))
    upcoming = next_dose(history, today=local_today(conv))
    choices = [p for key, p in PRODUCTS.items() if key in upcoming.products]
    if upcoming.number != booking.dose_number or upcoming.earliest > local_today(conv):
        conv.goto(FLOW, Step.CODE)
        conv.reply(
            _(
                "Dose {dose} cannot be given today: by the recorded doses, the next dose is due "
                "from {day}. Nothing recorded; send another booking code."
            ).format(dose=booking.dose_number, day=format_day(upcoming.earliest))
        )
        return
    conv.goto(FLOW, Step.PRODUCT)
    conv.reply(
        _("Which vaccine was given?"),
        buttons=[[Button(p.label, f"dose:p:{p.key}")] for p in choices],
    )


async def receive_product(msg: Incoming, conv: Conversation) -> None:
    """Take the product button; ask for the lot number."""
    product = (msg.payload or "").removeprefix("dose:p:")
    if product not in PRODUCTS:
        conv.reply(_("Please choose the vaccine with the buttons."))
        return
    conv.goto(FLOW, Step.LOT, product=product)
    conv.reply(_("Lot number (số lô) printed on the vial, for example AB1234?"))


async def receive_lot(msg: Incoming, conv: Conversation) -> None:
    """Record the dose: vaccination record, booking attended, audit line, citizen told."""
    lot = msg.text.strip()
    if not _LOT.match(lot):
        conv.reply(
            _(
                "A lot number has 2-40 letters, digits, dots, dashes or slashes, starting with a "
                "letter or digit. Please type it again."
            )
        )
        return
    member = await _site_staff(msg, conv)
    found = await conv.session.get(Booking, int(conv.data["booking"]))
    lookup = await bookings.find_by_code(conv.session, found.code) if found else None
    if member is None:
        conv.finish()
        await start.unknown_command(msg, conv)
        return
    if lookup is None:
        conv.goto(FLOW, Step.CODE)
        conv.reply(_("This booking no longer exists. Send another booking code."))
        return
    booking, person, _slot, site = lookup
    product = str(conv.data["product"])
    entry = DoseEntry(
        person=person,
        dose_number=booking.dose_number,
        product=product,
        lot=lot,
        given_on=local_today(conv),
        site_id=site.id,
        booking=booking,
    )
    await _record(conv, entry, member, site)


async def _record(conv: Conversation, entry: DoseEntry, member: StaffMember, site: Site) -> None:
    """Record the dose in this event's transaction and tell the staff member what happened."""
    try:
        recorded = await record_dose(
            conv.session,
            entry,
            source="chat",
            actor=staff.actor_label(member),
            staff_id=member.id,
            site_name=site.name,
            authority=conv.services.authority,
            now=conv.now,
        )
    except DoseRefused:
        conv.goto(FLOW, Step.CODE)
        conv.reply(
            _(
                "Dose {dose} of this person is already recorded differently; nothing changed."
            ).format(dose=entry.dose_number)
        )
        return
    conv.goto(FLOW, Step.CODE)
    conv.data = {}
    if not recorded:
        conv.reply(
            _("This dose was already recorded with the same details; nothing changed.")
            + "\n"
            + _("Send the next booking code, or /huy to finish.")
        )
        return
    conv.after_commit.append(conv.services.certificates_issued)
    conv.reply(_recorded_text(entry) + "\n" + _("Send the next booking code, or /huy to finish."))


def _recorded_text(entry: DoseEntry) -> str:
    """What the staff member is told of a dose just recorded."""
    return _(
        "Recorded: {name}, dose {dose}, {product}, lot {lot}. The citizen has been told."
    ).format(
        name=entry.person.full_name,
        dose=entry.dose_number,
        product=PRODUCTS[entry.product].label,
        lot=entry.lot,
    )


STEPS: dict[str, Handler] = {
    Step.CODE: receive_code,
    Step.IDENTITY: receive_identity,
    Step.PRODUCT: receive_product,
    Step.LOT: receive_lot,
}
