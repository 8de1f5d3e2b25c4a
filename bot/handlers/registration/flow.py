"""Registering a person (oneself or a relative) and booking their vaccination, step by step.

Flow `register`. The form is a list of fields in order (FIELDS); `advance()` asks the first one
still missing, so a field changed from the summary ("Sửa") is asked again alone and the citizen
lands back on the summary without retyping the rest. Nothing is stored until "Xác nhận": the
answers live in the conversation (ID and phone numbers sealed), which survives restarts.

Modes (`data["mode"]`): `new` asks every field; `existing` books for a person already on the
account (screening, then site/day/slot); `move` reschedules a booking (site/day/slot only);
`identity` registers a person with the identity fields only (name to ward), for a PCR QR.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import date

from bot.conversation import Conversation, Handler
from bot.domain.doses import as_given
from bot.domain.form_lists import needs_screening
from bot.domain.identity import id_index
from bot.domain.vaccines import next_dose
from bot.handlers.menu import menu_buttons
from bot.handlers.phone_number import PHONE_INDEX
from bot.handlers.registration import person_fields, profile_fields, slot_picker
from bot.handlers.registration.form import (
    FLOW,
    FormState,
    Mode,
    Outcome,
    RegisterStep,
    Relation,
    mode_of,
    person_of_account,
    wrong_answer,
)
from bot.handlers.sampling_qr import send_qr
from bot.handlers.today import local_today
from bot.i18n import _, format_day
from bot.messages import Button, Incoming, Kind, payload_id
from bot.vn import divisions
from bot.vn.intents import Intent, is_answer
from bot.vn.phone import mask_id_number, mask_phone
from bot.vn.text import fold
from storage import bookings, people, vaccinations
from storage.models import Person

MAX_PEOPLE = 5
Step = RegisterStep
FieldStep = Callable[[Incoming, Conversation], Awaitable[Outcome]]

PERSON_FIELDS = ("name", "dob", "gender", "idn", "phone", "province", "ward", "group")
BOOKING_FIELDS = ("site", "day", "slot")


# ---------------------------------------------------------------- entry and the form engine


async def start_registration(msg: Incoming, conv: Conversation) -> None:
    """Ask whom to register for: a person already on the account, oneself, or a relative."""
    conv.finish()
    await _ask_who(conv)


async def start_identity(conv: Conversation) -> None:
    """Register someone with the identity fields only (for a PCR QR): oneself or a relative."""
    registered = await people.people_of(conv.session, conv.owner_id)
    conv.finish()
    if len(registered) >= MAX_PEOPLE:
        conv.reply(
            _("This account already has {limit} people, the most it can register.").format(
                limit=MAX_PEOPLE
            ),
            buttons=menu_buttons(),
        )
        return
    conv.goto(FLOW, Step.WHO, purpose=Mode.IDENTITY)
    who = [Button(_("A relative"), "reg:who:other")]
    if not any(person.is_holder for person in registered):
        who.insert(0, Button(_("Myself"), "reg:who:self"))
    intro = (_("Nobody on this account is registered yet.") + " " if not registered else "") + _(
        "A few details first (name, date of birth, ID number, phone, ward); then the QR code "
        "is ready. Who is it for?"
    )
    conv.reply(intro, buttons=[who])


async def _ask_who(conv: Conversation) -> None:
    registered = await people.people_of(conv.session, conv.owner_id)
    conv.goto(FLOW, Step.WHO)
    rows = [[Button(person.full_name[:40], f"reg:person:{person.id}")] for person in registered]
    new = []
    if len(registered) < MAX_PEOPLE:
        if not any(person.is_holder for person in registered):
            new.append(Button(_("Myself"), "reg:who:self"))
        new.append(Button(_("A relative"), "reg:who:other"))
    if new:
        rows.append(new)
    if registered:
        text = _("Who is the vaccination for? Choose a person on your account or add someone.")
        if len(registered) >= MAX_PEOPLE:
            text += "\n" + _(
                "An account can register up to {limit} people; this one is full."
            ).format(limit=MAX_PEOPLE)
    else:
        text = _(
            "Let's register for vaccination. Is it for you, or for a relative (for example a "
            "parent without a phone)? One account can register up to {limit} people."
        ).format(limit=MAX_PEOPLE)
    conv.reply(text, buttons=rows)


async def receive_who(msg: Incoming, conv: Conversation) -> None:
    """Start the form for a new person, or go to booking for a registered one."""
    payload = msg.payload or ""
    person_id = payload_id(payload.removeprefix("reg:person:"))
    if payload.startswith("reg:person:") and person_id:
        await book_for_registered(conv, person_id)
        return
    typed = fold(msg.text)
    registered = await people.people_of(conv.session, conv.owner_id)
    if payload == "reg:who:self" or typed in ("ban than", "toi", "cho toi", "myself", "me"):
        relation: Relation | None = Relation.SELF
    elif payload == "reg:who:other" or typed in ("nguoi than", "relative", "nguoi nha"):
        relation = Relation.OTHER
    else:
        relation = None
    named = [
        p for p in registered if typed and set(typed.split()) <= set(fold(p.full_name).split())
    ]
    if relation is None and not payload and len(named) == 1:  # a name typed ("binh")
        await book_for_registered(conv, named[0].id)
        return
    if relation is None or (relation is Relation.SELF and any(p.is_holder for p in registered)):
        await wrong_answer(msg, conv, _("Please choose with the buttons below."))
        await _ask_who(conv)
        return
    if len(registered) >= MAX_PEOPLE:
        conv.finish()
        conv.reply(
            _("This account already has {limit} people, the most it can register.").format(
                limit=MAX_PEOPLE
            ),
            buttons=menu_buttons(),
        )
        return
    mode = Mode.IDENTITY if FormState.of(conv).purpose is Mode.IDENTITY else Mode.NEW
    conv.goto(FLOW, Step.NAME, mode=mode, relation=relation)
    await advance(conv)


async def book_from_button(msg: Incoming, conv: Conversation) -> None:
    """`book:<person id>` from a reminder or invitation, however old: book that person."""
    person_id = payload_id((msg.payload or "").removeprefix("book:"))
    conv.finish()
    if person_id:
        await book_for_registered(conv, person_id)
    else:
        await start_registration(msg, conv)


async def _nothing_to_book(conv: Conversation, person: Person) -> str | None:
    """Why this person has no dose to book (all given, or already booked), or None."""
    history = as_given(list(await vaccinations.history(conv.session, person.id)))
    upcoming = next_dose(history, today=local_today(conv))
    if upcoming.number is None:
        return _("{name} has received every dose of the schedule; no further dose is due.").format(
            name=person.full_name
        )
    active = await bookings.active_booking(
        conv.session, person_id=person.id, dose_number=upcoming.number
    )
    if active is not None:
        return _(
            "{name} already has a booking for dose {number} (code {code}). Type /lichhen "
            "to see it, move it or cancel it."
        ).format(name=person.full_name, number=upcoming.number, code=active.code)
    return None


async def book_for_registered(conv: Conversation, person_id: int) -> None:
    """Book the next dose of a person on the account (screening, then site and slot)."""
    person = await person_of_account(conv, person_id)
    if person is None:
        await start_registration(Incoming(conv.chat, "", Kind.BUTTON), conv)
        return
    refused = await _nothing_to_book(conv, person)
    if refused:
        conv.finish()
        conv.reply(refused, buttons=menu_buttons())
        return
    conv.goto(
        FLOW,
        Step.SCREEN,
        mode=Mode.EXISTING,
        person=person.id,
        person_name=person.full_name,
        name=person.full_name,
        # Registered for a PCR QR only: the priority group was never asked.
        ask_group=not person.priority_group,
        province=person.province_code,
        ward=person.ward_code,
        screen_for={"gender": person.gender, "dob": person.birth_date.isoformat()},
    )
    await advance(conv)


def _skipped(conv: Conversation) -> tuple[str, ...]:
    mode = mode_of(conv)
    if mode is Mode.EXISTING:
        asked = ("group",) if FormState.of(conv).ask_group else ()
        return tuple(key for key in PERSON_FIELDS if key not in asked)
    if mode is Mode.MOVE:
        return (*PERSON_FIELDS, "screen")
    if mode is Mode.IDENTITY:
        return ("group", "screen", *BOOKING_FIELDS)
    return ()


async def advance(conv: Conversation) -> None:
    """Ask the first missing field; with every field present, show the summary."""
    data = conv.data
    skipped = _skipped(conv)
    for key, ask in FIELDS:
        if key in skipped:
            continue
        if key == "screen":
            if profile_fields.screening_left(conv):
                if await profile_fields.ask_screen(conv) is Outcome.NEXT:
                    await advance(conv)
                return
            continue
        if key in BOOKING_FIELDS and profile_fields.without_booking(data):
            continue  # no free places, or wait: the registration is saved without a booking
        if key not in data:
            if await ask(conv) is Outcome.NEXT:
                await advance(conv)  # the field settled itself (no free place): go on
            return
        if key == "idn" and await person_fields.ask_id_fix_if_needed(conv):
            return
    await show_summary(conv)


def _back_target(conv: Conversation) -> None:
    """Forget the answer before the current question, so `advance` asks it again."""
    keys = [key for key, _ask in FIELDS if key not in _skipped(conv)]
    current = conv.step
    step_key = {str(step): key for key, step in STEP_OF_FIELD.items()}.get(current or "")
    if current == Step.SCREEN and conv.data.get("screen"):
        answers = dict(conv.data["screen"])
        answers.popitem()
        conv.data["screen"] = answers
        return
    if step_key in keys:
        index = keys.index(step_key)
        while index > 1 and _filled_by_itself(conv, keys[index - 1]):
            conv.data.pop(keys[index - 1], None)  # filled in again after the answer before
            index -= 1
        if index > 0 and keys[index - 1] == "screen" and not conv.data.get("screen_each"):
            conv.data.pop("screen", None)  # answered as a whole: the whole list again
        elif index > 0 and keys[index - 1] == "screen" and conv.data.get("screen"):
            answers = dict(conv.data["screen"])  # back to the last screening question only
            answers.popitem()
            conv.data["screen"] = answers
        elif index > 0:
            conv.data.pop(keys[index - 1], None)


async def go_back(msg: Incoming, conv: Conversation) -> None:
    """The "Back" button offered after repeated wrong answers."""
    _back_target(conv)
    conv.data.pop("tries", None)
    await advance(conv)


# ---------------------------------------------------------------- summary, edit, confirm


async def show_summary(conv: Conversation) -> None:
    """Everything entered, with "Confirm" and "Change"."""
    conv.goto(FLOW, Step.SUMMARY)
    conv.data.pop("tries", None)
    lines = [_("Please check:")]
    lines += await _person_lines(conv)
    if mode_of(conv) is not Mode.IDENTITY:
        lines += await slot_picker.booking_lines(conv)
    conv.reply(
        "\n".join(lines),
        buttons=[[Button(_("Confirm"), "reg:confirm"), Button(_("Change"), "reg:edit")]],
    )


async def _person_lines(conv: Conversation) -> list[str]:
    data = conv.data
    if mode_of(conv) not in (Mode.NEW, Mode.IDENTITY):
        person = await _registered(conv)
        name = person.full_name if person else "?"
        return [_("Name: {name}").format(name=name)]
    protector = conv.services.protector
    phone = protector.open(base64.b64decode(data["phone"]))
    lines = [
        _("Name: {name}").format(name=data["name"]),
        _("Date of birth: {day}").format(day=format_day(date.fromisoformat(data["dob"]))),
        _("Gender: {gender}").format(gender=person_fields.gender_label(data["gender"])),
        _("ID number: {number}").format(number=mask_id_number(person_fields.id_number(conv))),
        _("Phone: {phone}").format(phone=mask_phone(phone)),
        _("Lives in: {ward}, {province}").format(
            ward=profile_fields.ward_text(data["ward"], data.get("formerly")),
            province=divisions.province(data["province"]).name,
        ),
    ]
    if mode_of(conv) is Mode.IDENTITY:
        return lines
    lines.append(
        _("Priority group: {group}").format(group=profile_fields.group_label(conv, data["group"]))
    )
    answers = data.get("screen", {})
    lines.append(
        _("Screening: needs a closer check at the site (cần khám sàng lọc kỹ tại điểm tiêm)")
        if needs_screening(answers)
        else _("Screening: nothing to note")
    )
    return lines


EDITABLE = (
    ("name", ("name",)),
    ("dob", ("dob",)),
    ("gender", ("gender",)),
    ("idn", ("idn",)),
    ("phone", ("phone",)),
    ("ward", ("province", "ward", "formerly", "site", "day", "slot")),
    ("group", ("group",)),
    ("screen", ("screen", "screen_each", "site", "day", "slot")),
    ("site", ("site", "day", "slot")),
    ("day", ("day", "slot")),
)


def _edit_label(field: str) -> str:
    return {
        "name": _("Name"),
        "dob": _("Date of birth"),
        "gender": _("Gender"),
        "idn": _("ID number"),
        "phone": _("Phone"),
        "ward": _("Province and ward"),
        "group": _("Priority group"),
        "screen": _("Screening answers"),
        "site": _("Vaccination site"),
        "day": _("Day and time"),
    }[field]


async def receive_summary(msg: Incoming, conv: Conversation) -> None:
    """Confirm, or choose a field to change."""
    if msg.payload == "reg:confirm" or is_answer(msg.text, Intent.YES):
        await confirm(conv)
        return
    if msg.payload == "reg:edit" or fold(msg.text) in ("sua", "change", "edit"):
        conv.goto(FLOW, Step.EDIT)
        fields = [f for f, _keys in EDITABLE if f not in _skipped(conv)]
        if profile_fields.without_booking(conv.data):
            fields = [f for f in fields if f not in ("site", "day")]
        buttons = [Button(_edit_label(f), f"reg:change:{f}") for f in fields]
        conv.reply(
            _("What would you like to change?"),
            buttons=[buttons[i : i + 2] for i in range(0, len(buttons), 2)],
        )
        return
    await wrong_answer(msg, conv, _("Please press “Confirm”, or “Change” to correct something."))
    await show_summary(conv)


async def receive_edit(msg: Incoming, conv: Conversation) -> None:
    """Forget the chosen field (and what depends on it) and ask it again."""
    field = (msg.payload or "").removeprefix("reg:change:")
    if not msg.payload:  # a field's name typed ("ngay sinh")
        field = next((f for f, _k in EDITABLE if fold(_edit_label(f)) == fold(msg.text)), "")
    keys = dict(EDITABLE).get(field)
    if keys is None:
        await show_summary(conv)
        return
    for key in keys:
        conv.data.pop(key, None)
    if field == "idn" and not conv.data.get("gender_asked"):
        conv.data.pop("gender", None)  # read again from the new number
    _ask_next_time(conv, field)
    await advance(conv)


# Fields the form fills in by itself (gender from the ID number, a relative's address from
# the holder's, the next dose's site from the last one), with the mark it leaves when it does.
SETTLED_BY_ITSELF = {"gender": "gender", "province": "ward", "ward": "ward", "site": "site"}
FILLED_MARK = {"gender": "gender_read", "ward": "address_from_holder", "site": "site_from_last"}


def _ask_next_time(conv: Conversation, key: str) -> None:
    """A field the citizen wants to change is asked, not filled in by itself again."""
    if key in SETTLED_BY_ITSELF:
        conv.data[f"{SETTLED_BY_ITSELF[key]}_asked"] = True
        conv.data.pop(FILLED_MARK[SETTLED_BY_ITSELF[key]], None)


def _filled_by_itself(conv: Conversation, key: str) -> bool:
    """Whether the form filled this field in by itself (so "Back" goes past it)."""
    field = SETTLED_BY_ITSELF.get(key)
    return field is not None and bool(conv.data.get(FILLED_MARK[field]))


async def confirm(conv: Conversation) -> None:
    """Store the person (if new) and the booking in this event's transaction."""
    data = conv.data
    if mode_of(conv) is Mode.MOVE:
        if await slot_picker.confirm_move(conv) is Outcome.NEXT:
            await advance(conv)
        return
    if mode_of(conv) is Mode.IDENTITY:
        stored = await _store_person(conv)
        if stored is not None:
            conv.finish()
            conv.reply(_("{name} is registered.").format(name=stored.full_name))
            await send_qr(conv, [stored])
        return
    person = await _store_person(conv) if mode_of(conv) is Mode.NEW else None
    if mode_of(conv) is Mode.NEW and person is None:
        return
    person = person or await _registered(conv)
    if person is None:
        await start_registration(Incoming(conv.chat, "", Kind.BUTTON), conv)
        return
    if FormState.of(conv).ask_group and data.get("group"):
        person.priority_group = data["group"]
    if profile_fields.without_booking(data):
        conv.finish()
        conv.reply(
            _("{name} is registered.").format(name=person.full_name)
            + " "
            + slot_picker.no_booking_text(conv, data)
            + " "
            + _("Type /lichhen to see your registrations."),
            buttons=menu_buttons(),
        )
        return
    if await slot_picker.confirm_booking(conv, person) is Outcome.NEXT:
        await advance(conv)


async def _registered(conv: Conversation) -> Person | None:
    """The registered person the form books for, if still on this account."""
    person_id = FormState.of(conv).person
    return await person_of_account(conv, person_id) if person_id is not None else None


def _new_person(conv: Conversation, number: str, index: str) -> Person:
    """The person the form describes, ID and phone sealed, for this account."""
    data = conv.data
    protector = conv.services.protector
    phone = protector.open(base64.b64decode(data["phone"]))
    return Person(
        account_id=conv.owner_id,
        full_name=data["name"],
        birth_date=date.fromisoformat(data["dob"]),
        gender=data["gender"],
        id_sealed=protector.seal(number),
        id_index=index,
        phone_sealed=protector.seal(phone),
        phone_index=protector.blind_index(PHONE_INDEX, phone),
        province_code=data["province"],
        ward_code=data["ward"],
        divisions_version=divisions.DATA_VERSION,
        priority_group=data.get("group", ""),
        is_holder=FormState.of(conv).for_self,
        created_at=conv.now,
    )


async def _store_person(conv: Conversation) -> Person | None:
    """Write the new person; None (with the citizen told why) if that is no longer possible."""
    data = conv.data
    protector = conv.services.protector
    number = person_fields.id_number(conv)
    index = id_index(protector, number)
    if await people.find_by_id_index(conv.session, index) is not None:
        conv.data.pop("idn", None)
        person_fields.refuse_id(conv, number)
        await advance(conv)
        return None
    if await people.count_people(conv.session, conv.owner_id) >= MAX_PEOPLE:
        conv.finish()
        conv.reply(
            _("This account already has {limit} people, the most it can register.").format(
                limit=MAX_PEOPLE
            ),
            buttons=menu_buttons(),
        )
        return None
    person = await people.add_person(conv.session, _new_person(conv, number, index))
    # From here on the form books for a registered person: if the slot has filled up in the
    # meantime, the citizen picks another time and the registration stays.
    data.update(mode=Mode.EXISTING, person=person.id)
    return person


FIELDS = (
    ("name", person_fields.ask_name),
    ("dob", person_fields.ask_dob),
    ("idn", person_fields.ask_id),
    ("gender", person_fields.ask_gender),  # read from the ID number unless changed
    ("phone", person_fields.ask_phone),
    ("province", profile_fields.ask_province),
    ("ward", profile_fields.ask_ward),
    ("group", profile_fields.ask_group),
    ("screen", profile_fields.ask_screen),
    ("site", slot_picker.ask_site),
    ("day", slot_picker.ask_day),
    ("slot", slot_picker.ask_slot),
)
STEP_OF_FIELD = {
    "name": Step.NAME,
    "dob": Step.DOB,
    "gender": Step.GENDER,
    "idn": Step.ID,
    "phone": Step.PHONE,
    "province": Step.PROVINCE,
    "ward": Step.WARD,
    "group": Step.GROUP,
    "screen": Step.SCREEN,
    "site": Step.SITE,
    "day": Step.DAY,
    "slot": Step.SLOT,
}


def _field(step: FieldStep) -> Handler:
    """A field step as the dispatcher's handler: a kept answer leads to the next field."""

    async def handle(msg: Incoming, conv: Conversation) -> None:
        if await step(msg, conv) is Outcome.NEXT:
            await advance(conv)

    return handle


STEPS: dict[str, Handler] = {
    Step.WHO: receive_who,
    Step.NAME: _field(person_fields.receive_name),
    Step.DOB: _field(person_fields.receive_dob),
    Step.GENDER: _field(person_fields.receive_gender),
    Step.ID: _field(person_fields.receive_id),
    Step.ID_FIX: _field(person_fields.receive_id_fix),
    Step.PHONE: _field(person_fields.receive_phone),
    Step.PROVINCE: _field(profile_fields.receive_province),
    Step.WARD: _field(profile_fields.receive_ward),
    Step.GROUP: _field(profile_fields.receive_group),
    Step.SCREEN: _field(profile_fields.receive_screen),
    Step.SITE: _field(slot_picker.receive_site),
    Step.DAY: _field(slot_picker.receive_day),
    Step.SLOT: _field(slot_picker.receive_slot),
    Step.SUMMARY: receive_summary,
    Step.EDIT: receive_edit,
}


async def cancel(msg: Incoming, conv: Conversation) -> None:
    """/huy inside the flow: nothing typed is kept; say what stays registered."""
    count = await people.count_people(conv.session, conv.owner_id)
    moving = mode_of(conv) is Mode.MOVE
    conv.finish()
    if moving:
        conv.reply(
            _("Nothing was changed: your appointment stays as it was."), buttons=menu_buttons()
        )
        return
    text = _("Registration stopped. Nothing from this registration was saved.")
    if count:
        text += " " + _(
            "People already registered on your account: {count}. They and their bookings are "
            "kept (/lichhen)."
        ).format(count=count)
    conv.reply(text, buttons=menu_buttons())
