"""Choosing a site, a day and a time slot with free places; booking or moving to it.

Steps of the `register` flow (see registration.py), shared by a new booking and a move. Only
places that are free when the question is asked are offered; the place itself is taken at
"Confirm" by one conditional UPDATE, so a slot that filled up in between is reported and the
citizen chooses again, with everything else kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from babel.dates import format_date

from bot.conversation import Conversation
from bot.domain import booking as booking_service
from bot.domain.booking import LEAD_TIME
from bot.domain.doses import as_given
from bot.domain.form_lists import needs_screening
from bot.domain.vaccines import next_dose
from bot.handlers.menu import menu_buttons
from bot.handlers.registration.form import (
    FLOW,
    FormState,
    Mode,
    Outcome,
    RegisterStep,
    accept,
    mode_of,
    person_of_account,
    wrong_answer,
)
from bot.handlers.registration.profile_fields import deferred_text, without_booking
from bot.handlers.today import local_today
from bot.i18n import TIMEZONE, _, current_locale, format_day, local_day
from bot.messages import Button, Incoming, Kind, payload_id
from bot.vn.text import fold
from bot.vn.when import pick_time, read_day, read_time
from storage import bookings, sites, vaccinations
from storage.models import Booking, Person, Site, Slot
from storage.sites import SiteWithPlaces

OTHER_SITE = "reg:site:other"


def day_start(day: date) -> datetime:
    """Midnight of a Vietnam day, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=TIMEZONE)


def slot_time(slot: Slot) -> str:
    """A slot's time of day, e.g. `08:00–09:00`."""
    start = slot.starts_at.astimezone(TIMEZONE).strftime("%H:%M")
    end = slot.ends_at.astimezone(TIMEZONE).strftime("%H:%M")
    return f"{start}–{end}"


def slot_moment(slot: Slot) -> str:
    """A slot in words, e.g. `Thứ Hai, 07/12/2026, 08:00–09:00`."""
    return f"{format_day(local_day(slot.starts_at))}, {slot_time(slot)}"


def _window(conv: Conversation) -> tuple[datetime, datetime]:
    earliest = date.fromisoformat(conv.data["earliest"])
    since = max(conv.now + LEAD_TIME, day_start(earliest))
    until = day_start(local_today(conv) + timedelta(days=conv.services.settings.booking_days + 1))
    return since, until


async def _work_out_dose(conv: Conversation) -> None:
    """The dose to book and the first day it may be given, from the person's history."""
    data = conv.data
    if "dose" in data:
        return
    today = local_today(conv)
    known = FormState.of(conv).person
    if known is None:
        data.update(dose=1, earliest=today.isoformat())
        return
    given = list(await vaccinations.history(conv.session, known))
    upcoming = next_dose(as_given(given), today=today)
    data.update(dose=upcoming.number or len(given) + 1, earliest=upcoming.earliest.isoformat())
    if given and given[-1].site_id and mode_of(conv) is Mode.EXISTING:
        data["last_site"] = given[-1].site_id  # offered first: the same site again


async def ask_site(conv: Conversation) -> Outcome:
    """Offer the sites with free places: the person's ward first, then the province."""
    await _work_out_dose(conv)
    data = conv.data
    since, until = _window(conv)
    found = (
        await sites.sites_with_places(
            conv.session,
            province_code=data["province"],
            ward_code=data["ward"],
            since=since,
            until=until,
        )
        if since < until
        else []
    )
    if not found and mode_of(conv) is Mode.MOVE:
        conv.finish()
        conv.reply(
            _("There are no other free places at the moment; your appointment stays as it was."),
            buttons=menu_buttons(),
        )
        return Outcome.STAY
    if not found:
        data.update(site="")
        for key in ("day", "slot"):
            data.pop(key, None)
        return Outcome.NEXT
    same = next((row.site for row in found if row.site.id == data.get("last_site")), None)
    if same is not None and not data.get("site_asked"):
        await accept(conv, site=same.id, site_from_last=True)
        conv.note(
            _("Site: {site}, where dose {number} was given.").format(
                site=same.name, number=int(data["dose"]) - 1
            )
        )
        return Outcome.NEXT
    _offer_sites(conv, found)
    return Outcome.STAY


def _offer_sites(conv: Conversation, found: Sequence[SiteWithPlaces]) -> None:
    """The sites with free places as buttons, and from when the dose can be given."""
    data = conv.data
    conv.goto(FLOW, RegisterStep.SITE)
    data["site_offer"] = [row.site.id for row in found]
    lines = [_("Choose a vaccination site for dose {number}:").format(number=data["dose"])]
    earliest = date.fromisoformat(data["earliest"])
    if earliest > local_today(conv):
        lines.append(
            _("Dose {number} can be given from {day}.").format(
                number=data["dose"], day=format_day(earliest)
            )
        )
    lines += [
        _("• {site}, {address}: {free} free places").format(
            site=row.site.name, address=row.site.address, free=row.free
        )
        for row in found
    ]
    conv.reply(
        "\n".join(lines),
        buttons=[[Button(row.site.name[:48], f"reg:site:{row.site.id}")] for row in found],
    )


async def receive_site(msg: Incoming, conv: Conversation) -> Outcome:
    """Take a site button, or a site's name typed (with or without diacritics)."""
    offered = conv.data.get("site_offer", [])
    site_id = (msg.payload or "").removeprefix("reg:site:")
    if msg.kind == Kind.TEXT:
        site_id = await _typed_site(conv, msg.text, offered) or ""
    if site_id not in offered:
        await wrong_answer(
            msg, conv, _("Please choose a site with the buttons, or type its name.")
        )
        return await ask_site(conv)
    conv.data.pop("site_offer", None)
    await accept(conv, site=site_id)
    return Outcome.NEXT


async def _typed_site(conv: Conversation, typed: str, offered: list[str]) -> str | None:
    """The one offered site whose name (or address) has every word typed, if just one has."""
    words = fold(typed).split()
    found = []
    for site_id in offered:
        site = await sites.get_site(conv.session, site_id)
        if (
            site is not None
            and words
            and all(
                re.search(rf"\b{re.escape(word)}\b", fold(f"{site.name} {site.address}"))
                for word in words
            )
        ):
            found.append(site_id)
    return found[0] if len(found) == 1 else None


async def ask_day(conv: Conversation) -> Outcome:
    """Offer the days on which the chosen site has free places."""
    data = conv.data
    since, until = _window(conv)
    open_slots = await sites.open_slots(
        conv.session, site_id=data["site"], since=since, until=until
    )
    free: dict[date, int] = {}
    for slot in open_slots:
        day = local_day(slot.starts_at)
        free[day] = free.get(day, 0) + slot.capacity - slot.booked
    if not free:
        data.pop("site", None)
        conv.reply(_("Sorry, that site has just filled up. Please choose another."))
        return Outcome.NEXT
    conv.goto(FLOW, RegisterStep.DAY)
    data["day_offer"] = [day.isoformat() for day in free]
    buttons = [
        Button(
            _("{day} ({free} free)").format(
                day=format_date(day, "EEE dd/MM", locale=current_locale()), free=places
            ),
            f"reg:day:{day.isoformat()}",
        )
        for day, places in free.items()
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    if data.get("last_site") == data["site"] and not data.get("site_asked"):
        rows.append([Button(_("Another site"), OTHER_SITE)])
    conv.reply(
        _("Which day? Choose below or type it, for example “8/12” or “thứ 2”."), buttons=rows
    )
    return Outcome.STAY


async def receive_day(msg: Incoming, conv: Conversation) -> Outcome:
    """Take a day button, or a day typed ("8/12", "thứ 2", "mai"; "sáng mai" picks the time)."""
    offered = conv.data.get("day_offer", [])
    if msg.payload == OTHER_SITE:
        for key in ("site", "day_offer"):
            conv.data.pop(key, None)
        conv.data["site_asked"] = True
        conv.data.pop("site_from_last", None)
        return Outcome.NEXT
    day = (msg.payload or "").removeprefix("reg:day:")
    if msg.kind == Kind.TEXT:
        found = read_day(
            msg.text, today=local_today(conv), offered=[date.fromisoformat(d) for d in offered]
        )
        day = found.isoformat() if found else ""
        wanted = read_time(msg.text)
        if wanted is not None:
            conv.data["want_time"] = [wanted[0].isoformat(), wanted[1].isoformat()]
    if day not in offered:
        conv.data.pop("want_time", None)
        await wrong_answer(
            msg, conv, _("Please choose a day with the buttons, or type it as day/month.")
        )
        return await ask_day(conv)
    conv.data.pop("day_offer", None)
    await accept(conv, day=day)
    return Outcome.NEXT


async def ask_slot(conv: Conversation) -> Outcome:
    """Offer the chosen day's time slots that still have places."""
    data = conv.data
    day = date.fromisoformat(data["day"])
    since, _until = _window(conv)
    open_slots = await sites.open_slots(
        conv.session,
        site_id=data["site"],
        since=max(since, day_start(day)),
        until=day_start(day + timedelta(days=1)),
    )
    if not open_slots:
        data.pop("day", None)
        conv.reply(_("Sorry, that day has just filled up. Please choose another day."))
        return Outcome.NEXT
    wanted = data.pop("want_time", None)
    if wanted is not None:  # "sáng mai", "9/12 8h": the time came with the day
        window = (time.fromisoformat(wanted[0]), time.fromisoformat(wanted[1]))
        index = _pick(window, open_slots)
        if index is not None:
            await accept(conv, slot=open_slots[index].id)
            conv.note(_("Time: {when}.").format(when=slot_moment(open_slots[index])))
            return Outcome.NEXT
    conv.goto(FLOW, RegisterStep.SLOT)
    data["slot_offer"] = [slot.id for slot in open_slots]
    buttons = [
        Button(
            _("{time} ({free} free)").format(
                time=slot_time(slot), free=slot.capacity - slot.booked
            ),
            f"reg:slot:{slot.id}",
        )
        for slot in open_slots
    ]
    conv.reply(
        _("What time on {day}?").format(day=format_day(day)),
        buttons=[buttons[i : i + 2] for i in range(0, len(buttons), 2)],
    )
    return Outcome.STAY


def _pick(window: tuple[time, time], open_slots: Sequence[Slot]) -> int | None:
    """The slot a typed time names (see `bot.vn.when.pick_time`)."""
    starts = [slot.starts_at.astimezone(TIMEZONE).time() for slot in open_slots]
    ends = [slot.ends_at.astimezone(TIMEZONE).time() for slot in open_slots]
    return pick_time(window, starts, ends)


async def receive_slot(msg: Incoming, conv: Conversation) -> Outcome:
    """Take a time-slot button, or a time typed ("8h", "8:30", "chiều")."""
    slot_id = payload_id((msg.payload or "").removeprefix("reg:slot:"))
    wanted = read_time(msg.text) if msg.kind == Kind.TEXT else None
    if wanted is not None:
        offered = [
            slot
            for slot_id in conv.data.get("slot_offer", [])
            if (slot := await sites.get_slot(conv.session, slot_id)) is not None
        ]
        index = _pick(wanted, offered)
        slot_id = offered[index].id if index is not None else None
    if slot_id is None or slot_id not in conv.data.get("slot_offer", []):
        await wrong_answer(
            msg, conv, _("Please choose a time with the buttons, or type it, for example “8h”.")
        )
        return await ask_slot(conv)
    conv.data.pop("slot_offer", None)
    await accept(conv, slot=slot_id)
    return Outcome.NEXT


async def booking_lines(conv: Conversation) -> list[str]:
    """The booking part of the summary."""
    data = conv.data
    lines = []
    if mode_of(conv) is Mode.MOVE:
        current = await _own_booking(conv, _moving(conv))
        if current is not None:
            _booking, old_slot, old_site = current
            lines.append(
                _("Current appointment: {site}, {when}").format(
                    site=old_site.name, when=slot_moment(old_slot)
                )
            )
    if without_booking(data):
        lines.append(no_booking_text(conv, data))
        return lines
    site = await sites.get_site(conv.session, data["site"])
    slot = await sites.get_slot(conv.session, int(data["slot"]))
    if site is None or slot is None:
        return lines
    lines += [
        _("Dose: {number}").format(number=data["dose"]),
        _("Site: {site}, {address}").format(site=site.name, address=site.address),
        _("When: {when}").format(when=slot_moment(slot)),
    ]
    return lines


def no_booking_text(conv: Conversation, data: dict[str, Any]) -> str:
    """Why the registration has no appointment yet, and when to look again."""
    deferred = deferred_text(data)  # the screening said so
    if deferred is not None:
        return deferred
    earliest = date.fromisoformat(data["earliest"])
    if earliest > local_today(conv) + timedelta(days=conv.services.settings.booking_days):
        return _(
            "Dose {number} can be booked from {day}: please come back then with /dangky."
        ).format(number=data["dose"], day=format_day(earliest))
    return _(
        "There are no free places near you at the moment, so no appointment yet: please try "
        "again in a few days with /dangky."
    )


def _moving(conv: Conversation) -> int:
    """The booking being moved (the form is in MOVE mode)."""
    booking_id = FormState.of(conv).moving
    assert booking_id is not None, "MOVE mode always names its booking"
    return booking_id


async def _own_booking(conv: Conversation, booking_id: int) -> tuple[Booking, Slot, Site] | None:
    """An active booking of a person on this account, with its slot and site."""
    booking = await conv.session.get(Booking, booking_id)
    if booking is None or booking.status != bookings.ACTIVE:
        return None
    if await person_of_account(conv, booking.person_id) is None:
        return None
    slot = await sites.get_slot(conv.session, booking.slot_id)
    site = await sites.get_site(conv.session, slot.site_id) if slot else None
    return (booking, slot, site) if slot and site else None


async def _slot_taken(conv: Conversation) -> Outcome:
    conv.data.pop("slot", None)
    conv.reply(_("Sorry, that time has just filled up. Please choose another time."))
    return Outcome.NEXT


async def confirm_booking(conv: Conversation, person: Person) -> Outcome:
    """Take the place and write the booking; send the code, its QR and what to bring."""
    data = conv.data
    answers = data.get("screen", {})
    booking = await booking_service.book(
        conv.session,
        person_id=person.id,
        slot_id=int(data["slot"]),
        dose_number=int(data["dose"]),
        screening=answers,
        needs_screening=needs_screening(answers),
        now=conv.now,
    )
    if booking is None:
        return await _slot_taken(conv)
    conv.finish()
    await send_booking(conv, booking, person, _("Booked!"))
    return Outcome.STAY


async def send_booking(conv: Conversation, booking: Booking, person: Person, title: str) -> None:
    """The appointment card: code, QR image, place, time in words, what to bring."""
    slot = await sites.get_slot(conv.session, booking.slot_id)
    site = await sites.get_site(conv.session, slot.site_id) if slot else None
    if slot is None or site is None:
        return
    lines = [
        title,
        _("Booking code: {code}").format(code=booking.code),
        _("{name}, dose {number}").format(name=person.full_name, number=booking.dose_number),
        _("Where: {site}, {address}").format(site=site.name, address=site.address),
        _("When: {when}").format(when=slot_moment(slot)),
        _(
            "Please bring: your CCCD card (or another ID paper), this code or its QR, and the "
            "record of earlier doses if any. Please wear a mask."
        ),
    ]
    if booking.needs_screening:
        lines.append(
            _(
                "Note: the doctor will examine {name} more closely at the site (cần khám sàng "
                "lọc kỹ tại điểm tiêm) before the injection."
            ).format(name=person.full_name)
        )
    lines.append(_("To move or cancel: /lichhen"))
    conv.reply("\n".join(lines))
    conv.reply(
        _("QR code of booking {code}: show it at the site.").format(code=booking.code),
        image=booking_service.code_qr(booking.code),
        buttons=menu_buttons(),
    )


async def confirm_move(conv: Conversation) -> Outcome:
    """Move the booking to the chosen slot (the old place is freed in the same transaction)."""
    current = await _own_booking(conv, _moving(conv))
    if current is None:
        conv.finish()
        conv.reply(_("This appointment can no longer be changed."), buttons=menu_buttons())
        return Outcome.STAY
    booking, _slot, _site = current
    moved = await booking_service.move(
        conv.session, booking, slot_id=int(conv.data["slot"]), now=conv.now
    )
    if not moved:
        return await _slot_taken(conv)
    person = await person_of_account(conv, booking.person_id)
    conv.finish()
    if person is not None:
        await send_booking(conv, booking, person, _("Your appointment has been moved."))
    return Outcome.STAY
