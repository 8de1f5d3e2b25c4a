"""Registering a person (oneself or a relative) and booking their vaccination, step by step.

Flow `register`. The form is a list of fields in order (FIELDS); `advance()` asks the first one
still missing, so a field changed from the summary ("Sửa") is asked again alone and the citizen
lands back on the summary without retyping the rest. Nothing is stored until "Xác nhận": the
answers live in the conversation (ID and phone numbers sealed), which survives restarts.

Modes (`data["mode"]`): `new` asks every field; `existing` books for a person already on the
account (screening, then site/day/slot); `move` reschedules a booking (site/day/slot only).
"""

from __future__ import annotations

import base64
from datetime import date
from enum import StrEnum
from typing import Any

from bot.conversation import Conversation, Handler
from bot.handlers import slot_picker
from bot.handlers.form import accept, person_of_account, wrong_answer
from bot.handlers.menu import menu_buttons
from bot.handlers.phone import PHONE_INDEX
from bot.i18n import _, format_day
from bot.messages import Button, Incoming, Kind
from bot.services.doses import as_given
from bot.services.forms import (
    ANSWER_NO,
    ANSWER_UNSURE,
    ANSWER_YES,
    SCREENING,
    needs_screening,
    priority_groups,
)
from bot.services.identity import id_index
from bot.services.vaccines import next_dose
from bot.vn import divisions
from bot.vn.dates import DateProblem, InvalidDate, age_on, parse_birth_date
from bot.vn.ids import Gender, IdProblem, InvalidId, disagreements, parse_personal_id
from bot.vn.intents import Intent, is_answer
from bot.vn.names import InvalidName, NameProblem, parse_full_name
from bot.vn.phone import mask_id_number, mask_phone, normalize_phone
from bot.vn.text import fold
from storage import bookings, people, vaccinations
from storage.models import Person

FLOW = "register"
MAX_PEOPLE = 5


class Step(StrEnum):
    """Where the registration flow waits."""

    WHO = "who"
    NAME = "name"
    DOB = "dob"
    GENDER = "gender"
    ID = "id"
    ID_FIX = "id_fix"
    PHONE = "phone"
    PROVINCE = "province"
    WARD = "ward"
    GROUP = "group"
    SCREEN = "screen"
    SITE = "site"
    DAY = "day"
    SLOT = "slot"
    SUMMARY = "summary"
    EDIT = "edit"


PERSON_FIELDS = ("name", "dob", "gender", "idn", "phone", "province", "ward", "group")
BOOKING_FIELDS = ("site", "day", "slot")


# ---------------------------------------------------------------- entry and the form engine


async def start_registration(msg: Incoming, conv: Conversation) -> None:
    """Ask whom to register for: a person already on the account, oneself, or a relative."""
    registered = await people.people_of(conv.session, conv.account.id)
    conv.goto(FLOW, Step.WHO)
    conv.data = {}
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
    if payload.startswith("reg:person:"):
        await _book_for_registered(conv, int(payload.rpartition(":")[2]))
        return
    typed = fold(msg.text)
    if payload == "reg:who:self" or typed in ("ban than", "toi", "cho toi", "myself", "me"):
        relation = "self"
    elif payload == "reg:who:other" or typed in ("nguoi than", "relative", "nguoi nha"):
        relation = "other"
    else:
        await wrong_answer(msg, conv, _("Please choose with the buttons below."))
        await start_registration(msg, conv)
        return
    count = await people.count_people(conv.session, conv.account.id)
    if count >= MAX_PEOPLE:
        conv.finish()
        conv.reply(
            _("This account already has {limit} people, the most it can register.").format(
                limit=MAX_PEOPLE
            ),
            buttons=menu_buttons(),
        )
        return
    conv.goto(FLOW, Step.NAME, mode="new", relation=relation)
    await advance(conv)


async def _book_for_registered(conv: Conversation, person_id: int) -> None:
    person = await person_of_account(conv, person_id)
    if person is None:
        await start_registration(Incoming(conv.chat, "", Kind.BUTTON), conv)
        return
    history = as_given(list(await vaccinations.history(conv.session, person.id)))
    upcoming = next_dose(history, today=slot_picker.local_today(conv))
    if upcoming.number is None:
        conv.finish()
        conv.reply(
            _("{name} has received every dose of the schedule; no further dose is due.").format(
                name=person.full_name
            ),
            buttons=menu_buttons(),
        )
        return
    active = await bookings.active_booking(
        conv.session, person_id=person.id, dose_number=upcoming.number
    )
    if active is not None:
        conv.finish()
        conv.reply(
            _(
                "{name} already has a booking for dose {number} (code {code}). Type /lichhen "
                "to see it, move it or cancel it."
            ).format(name=person.full_name, number=upcoming.number, code=active.code),
            buttons=menu_buttons(),
        )
        return
    conv.goto(
        FLOW,
        Step.SCREEN,
        mode="existing",
        person=person.id,
        province=person.province_code,
        ward=person.ward_code,
    )
    await advance(conv)


def _skipped(conv: Conversation) -> tuple[str, ...]:
    mode = conv.data.get("mode")
    if mode == "existing":
        return PERSON_FIELDS
    if mode == "move":
        return (*PERSON_FIELDS, "screen")
    return ()


async def advance(conv: Conversation) -> None:
    """Ask the first missing field; with every field present, show the summary."""
    data = conv.data
    skipped = _skipped(conv)
    for key, ask in FIELDS:
        if key in skipped:
            continue
        if key == "screen":
            if len(data.get("screen", {})) < len(SCREENING):
                await ask_screen(conv)
                return
            continue
        if key in BOOKING_FIELDS and data.get("site") == "":
            continue  # no free places: the registration is saved without a booking
        if key not in data:
            await ask(conv)
            return
        if key == "idn" and await _ask_id_fix_if_needed(conv):
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
        if index > 0:
            conv.data.pop(keys[index - 1], None)


async def go_back(msg: Incoming, conv: Conversation) -> None:
    """The "Back" button offered after repeated wrong answers."""
    _back_target(conv)
    conv.data.pop("tries", None)
    await advance(conv)


# ---------------------------------------------------------------- name, birth date, gender


async def ask_name(conv: Conversation) -> None:
    """Ask the full name."""
    conv.goto(FLOW, Step.NAME)
    if conv.data.get("relation") == "self":
        text = _("What is your full name, as on your ID card? For example: Nguyễn Văn An")
    else:
        text = _(
            "What is your relative's full name, as on their ID card? For example: Trần Thị Bình"
        )
    conv.reply(text)


async def receive_name(msg: Incoming, conv: Conversation) -> None:
    """Check the name: 2-80 letters, no digits or emoji."""
    try:
        name = parse_full_name(msg.text)
    except InvalidName as refused:
        reason = {
            NameProblem.TOO_SHORT: _("That name is too short."),
            NameProblem.TOO_LONG: _("That name is too long (at most 80 letters)."),
            NameProblem.NOT_LETTERS: _("A name can only have letters and spaces."),
        }[refused.problem]
        await wrong_answer(
            msg, conv, reason + " " + _("Please type the full name, for example: Nguyễn Văn An")
        )
        return
    await accept(conv, name=name)
    await advance(conv)


async def ask_dob(conv: Conversation) -> None:
    """Ask the date of birth, day first."""
    conv.goto(FLOW, Step.DOB)
    conv.reply(
        _(
            "Date of birth of {name}? Day, month, year, for example 02/01/1990 (also 2/1/1990, "
            "2-1-1990 or 02011990)."
        ).format(name=conv.data["name"])
    )


async def receive_dob(msg: Incoming, conv: Conversation) -> None:
    """Read the date, refuse impossible or under-age ones, and confirm it in words."""
    today = slot_picker.local_today(conv)
    try:
        born = parse_birth_date(msg.text, today=today)
    except InvalidDate as refused:
        reason = {
            DateProblem.FORMAT: _("I could not read that date."),
            DateProblem.NO_SUCH_DAY: _("That day does not exist."),
            DateProblem.FUTURE: _("That date is in the future."),
            DateProblem.TOO_OLD: _("That would be more than 120 years ago."),
        }[refused.problem]
        await wrong_answer(
            msg,
            conv,
            reason + " " + _("Please type the date of birth as day/month/year, e.g. 02/01/1990."),
        )
        return
    minimum = conv.services.settings.min_age
    if age_on(born, today) < minimum:
        await wrong_answer(
            msg,
            conv,
            _(
                "Registration here is for people aged {age} and over; someone born on {day} is "
                "not {age} yet. If the date is wrong, please type it again, or /huy to stop."
            ).format(age=minimum, day=format_day(born)),
        )
        return
    await accept(conv, dob=born.isoformat())
    conv.reply(_("Date of birth: {day}.").format(day=format_day(born)))
    await advance(conv)


GENDER_BUTTONS = (("reg:gender:male", Gender.MALE), ("reg:gender:female", Gender.FEMALE))
_GENDER_WORDS = {
    "nam": Gender.MALE, "male": Gender.MALE, "m": Gender.MALE, "trai": Gender.MALE,
    "nu": Gender.FEMALE, "female": Gender.FEMALE, "f": Gender.FEMALE, "gai": Gender.FEMALE,
}  # fmt: skip


def gender_label(gender: str) -> str:
    """The gender in words."""
    return _("Male") if gender == Gender.MALE else _("Female")


async def ask_gender(conv: Conversation) -> None:
    """Ask the gender with two buttons."""
    conv.goto(FLOW, Step.GENDER)
    conv.reply(
        _("Gender of {name}?").format(name=conv.data["name"]),
        buttons=[[Button(gender_label(g), payload) for payload, g in GENDER_BUTTONS]],
    )


async def receive_gender(msg: Incoming, conv: Conversation) -> None:
    """Take the button, or "nam"/"nữ" typed."""
    gender = dict(GENDER_BUTTONS).get(msg.payload or "") or _GENDER_WORDS.get(fold(msg.text))
    if gender is None:
        await wrong_answer(msg, conv, _("Please press “Male” or “Female”."))
        await ask_gender(conv)
        return
    await accept(conv, gender=str(gender))
    await advance(conv)


# ---------------------------------------------------------------- ID number


async def ask_id(conv: Conversation) -> None:
    """Ask the 12-digit personal ID number."""
    conv.goto(FLOW, Step.ID)
    conv.reply(
        _(
            "The 12-digit personal ID number (số định danh cá nhân, on the CCCD card or in "
            "VNeID) of {name}? For example: 079 190 012 345"
        ).format(name=conv.data["name"])
    )


def _id_problem_text(problem: IdProblem, typed: str) -> str:
    digits = "".join(ch for ch in typed if ch.isdigit())
    return {
        IdProblem.NOT_DIGITS: _("An ID number has only digits."),
        IdProblem.LENGTH: _("An ID number has 12 digits; this one has {count}.").format(
            count=len(digits)
        ),
        IdProblem.OLD_CMND: _(
            "This is a 9-digit identity card number (CMND). CMND cards stopped being valid on "
            "31/12/2024, so a new registration needs the 12-digit personal ID number (on the "
            "chip-based CCCD card, or in the VNeID app)."
        ),
        IdProblem.PLACE: _(
            "The first three digits ({code}) are not the code of a province or a country."
        ).format(code=digits[:3]),
        IdProblem.FUTURE: _("The birth year in this number is in the future."),
    }.get(problem, _("This ID number is not valid."))


async def receive_id(msg: Incoming, conv: Conversation) -> None:
    """Check the number's form, refuse one already registered, cross-check it later."""
    today = slot_picker.local_today(conv)
    try:
        pid = parse_personal_id(msg.text, current_year=today.year)
    except InvalidId as refused:
        await wrong_answer(
            msg,
            conv,
            _id_problem_text(refused.problem, msg.text)
            + " "
            + _("Please type the 12 digits, for example 079 190 012 345."),
        )
        return
    protector = conv.services.protector
    found = await people.find_by_id_index(conv.session, id_index(protector, pid.number))
    if found is not None:
        person, account = found
        if account.id == conv.account.id:
            conv.finish()
            conv.reply(
                _("{name} is already registered on this account.").format(name=person.full_name),
                buttons=[
                    [
                        Button(
                            _("Book for {name}").format(name=person.full_name[:30]),
                            "menu:register",
                        )
                    ],
                    *menu_buttons(),
                ],
            )
            return
        await wrong_answer(
            msg,
            conv,
            _(
                "This ID number is already registered, on another account ({where}). A person "
                "can only be registered once: please book from that account. If it is not "
                "yours or your family's, choose “Support” and a staff member will help. You "
                "can also type a different ID number."
            ).format(where=_account_hint(account, protector)),
            support_now=True,
        )
        return
    await accept(conv, idn=base64.b64encode(protector.seal(pid.number)).decode())
    await advance(conv)


def _account_hint(account: Any, protector: Any) -> str:
    channel = {"telegram": "Telegram", "web": _("web chat"), "zalo": "Zalo"}.get(
        account.channel, account.channel
    )
    if account.phone_sealed:
        return _("{channel}, phone {phone}").format(
            channel=channel, phone=mask_phone(protector.open(account.phone_sealed))
        )
    return channel


def _id_number(conv: Conversation) -> str:
    return conv.services.protector.open(base64.b64decode(conv.data["idn"]))


async def _ask_id_fix_if_needed(conv: Conversation) -> bool:
    """If the ID number contradicts the birth year or gender, say which and offer fixes."""
    data = conv.data
    if not {"dob", "gender"} <= data.keys():
        return False
    pid = parse_personal_id(_id_number(conv), current_year=9999)
    born = date.fromisoformat(data["dob"])
    problems = disagreements(pid, birth_year=born.year, gender=Gender(data["gender"]))
    if not problems:
        return False
    lines = []
    buttons = [Button(_("Fix the ID number"), "reg:fix:idn")]
    if IdProblem.BIRTH_YEAR in problems:
        lines.append(
            _(
                "The ID number says born in {id_year}, but the date of birth given is in {year}."
            ).format(id_year=pid.birth_year, year=born.year)
        )
        buttons.append(Button(_("Fix the date of birth"), "reg:fix:dob"))
    if IdProblem.GENDER in problems:
        lines.append(
            _(
                "The ID number's 4th digit is for a {id_gender}, but the gender given is {gender}."
            ).format(
                id_gender=gender_label(pid.gender).lower(),
                gender=gender_label(data["gender"]).lower(),
            )
        )
        buttons.append(Button(_("Fix the gender"), "reg:fix:gender"))
    conv.goto(FLOW, Step.ID_FIX)
    conv.reply(
        "\n".join([*lines, _("Which one should be corrected?")]),
        buttons=[[button] for button in buttons],
    )
    return True


async def receive_id_fix(msg: Incoming, conv: Conversation) -> None:
    """Forget the field chosen for correction and ask it again."""
    field = (msg.payload or "").removeprefix("reg:fix:")
    if field not in ("idn", "dob", "gender"):
        await wrong_answer(msg, conv, _("Please choose with the buttons which one to correct."))
        await advance(conv)
        return
    conv.data.pop(field, None)
    await advance(conv)


# ---------------------------------------------------------------- phone


async def ask_phone(conv: Conversation) -> None:
    """Ask the phone number: the holder's shared contact, the account's number, or typed."""
    conv.goto(FLOW, Step.PHONE)
    buttons = []
    if conv.account.phone_sealed:
        known = conv.services.protector.open(conv.account.phone_sealed)
        buttons.append(
            [Button(_("Use {phone}").format(phone=mask_phone(known)), "reg:phone:account")]
        )
    if conv.data.get("relation") == "self":
        text = _(
            "Your mobile number? Press “Share my phone number” below, or type it, for example "
            "0912 345 678."
        )
    else:
        text = _(
            "A mobile number to reach {name} (yours if they have none)? Type it, for example "
            "0912 345 678."
        ).format(name=conv.data["name"])
    conv.reply(text, buttons=buttons)
    if conv.data.get("relation") == "self":
        conv.reply(_("Or press the button:"), request_phone=_("Share my phone number"))


async def receive_phone(msg: Incoming, conv: Conversation) -> None:
    """Accept the user's own shared contact, the account's number, or a typed number."""
    protector = conv.services.protector
    if msg.payload == "reg:phone:account" and conv.account.phone_sealed:
        phone: str | None = protector.open(conv.account.phone_sealed)
    elif msg.contact is not None:
        if msg.contact.user_id not in (None, msg.user_id):
            await wrong_answer(
                msg, conv, _("Please share your own number with the button, or type the number.")
            )
            return
        phone = normalize_phone(msg.contact.phone)
    else:
        phone = normalize_phone(msg.text) if msg.kind == Kind.TEXT else None
    if phone is None:
        await wrong_answer(
            msg,
            conv,
            _(
                "That does not look like a Vietnamese mobile number (10 digits starting with 0). "
                "Please type it again, for example 0912 345 678."
            ),
        )
        return
    if conv.data.get("relation") == "self" and not conv.account.phone_sealed:
        conv.account.phone_sealed = protector.seal(phone)
        conv.account.phone_index = protector.blind_index(PHONE_INDEX, phone)
    await accept(conv, phone=base64.b64encode(protector.seal(phone)).decode())
    conv.reply(_("Phone number: {phone}.").format(phone=mask_phone(phone)), remove_keyboard=True)
    await advance(conv)


# ---------------------------------------------------------------- province and ward


async def ask_province(conv: Conversation) -> None:
    """Ask the province or city (current divisions), with the biggest ones as buttons."""
    conv.goto(FLOW, Step.PROVINCE)
    popular = divisions.popular_provinces()
    conv.reply(
        _(
            "Which province or city does {name} live in? Choose below or type it, for example "
            "“TP HCM”, “Hà Nội”, “Đồng Nai”."
        ).format(name=conv.data["name"]),
        buttons=[[Button(p.name, f"reg:prov:{p.code}")] for p in popular],
    )


async def receive_province(msg: Incoming, conv: Conversation) -> None:
    """Take a province button, or find a typed name (aliases and old names too)."""
    payload = msg.payload or ""
    if payload.startswith("reg:prov:"):
        code = int(payload.rpartition(":")[2])
    else:
        found = divisions.find_provinces(msg.text) if msg.kind == Kind.TEXT else []
        if not found:
            await wrong_answer(
                msg,
                conv,
                _("I could not find that province. Please type its name, for example “Hà Nội”."),
            )
            return
        if len(found) > 1:
            conv.reply(
                _("Which one do you mean?"),
                buttons=[[Button(p.name, f"reg:prov:{p.code}")] for p in found],
            )
            return
        code = found[0].code
    conv.data.pop("ward", None)
    await accept(conv, province=code)
    await advance(conv)


async def ask_ward(conv: Conversation) -> None:
    """Ask the ward (phường / xã / đặc khu); old names are understood."""
    conv.goto(FLOW, Step.WARD)
    province = divisions.province(conv.data["province"])
    conv.reply(
        _(
            "Which ward or commune in {province}? Type its name, for example “Bến Thành” or "
            "“phuong ben thanh”. Old names from before 1/7/2025 are fine too."
        ).format(province=province.name)
    )


def ward_text(code: int, formerly: str | None) -> str:
    """A ward in words, with its old name when it was found through one."""
    ward = divisions.ward(code)
    if formerly:
        return _("{ward} (formerly: {old})").format(ward=ward.name, old=formerly)
    return ward.name


async def receive_ward(msg: Incoming, conv: Conversation) -> None:
    """Find the ward in the chosen province; confirm an old name; offer up to 5 matches."""
    payload = msg.payload or ""
    offered: dict[str, str | None] = conv.data.get("ward_offer", {})
    if payload.startswith("reg:ward:") and payload.rpartition(":")[2] in offered:
        code = payload.rpartition(":")[2]
        await accept(conv, ward=int(code), formerly=offered[code])
        conv.data.pop("ward_offer", None)
        conv.reply(_("Ward: {ward}.").format(ward=ward_text(int(code), offered[code])))
        await advance(conv)
        return
    found = divisions.find_wards(msg.text, conv.data["province"]) if msg.kind == Kind.TEXT else []
    if not found:
        province = divisions.province(conv.data["province"])
        await wrong_answer(
            msg,
            conv,
            _(
                "I could not find that ward in {province}. Please check the spelling, for "
                "example “Bến Thành”, or type /huy to stop."
            ).format(province=province.name),
        )
        return
    if len(found) == 1 and found[0].formerly is None and not found[0].guessed:
        await accept(conv, ward=found[0].code, formerly=None)
        conv.reply(_("Ward: {ward}.").format(ward=found[0].name))
        await advance(conv)
        return
    conv.data["ward_offer"] = {str(w.code): w.formerly for w in found}
    question = _("Is this the ward?") if len(found) == 1 else _("Which ward do you mean?")
    conv.reply(
        question + " " + _("If none is right, type the name again."),
        buttons=[
            [Button(ward_text(w.code, w.formerly)[:60], f"reg:ward:{w.code}")] for w in found
        ],
    )


# ---------------------------------------------------------------- priority group, screening


async def ask_group(conv: Conversation) -> None:
    """List the priority groups, numbered, with number buttons."""
    conv.goto(FLOW, Step.GROUP)
    groups = priority_groups(conv.services.settings.priority_groups_file)
    lines = [f"{i}. {group.label()}" for i, group in enumerate(groups, 1)]
    buttons = [Button(str(i), f"reg:grp:{group.code}") for i, group in enumerate(groups, 1)]
    conv.reply(
        _("Which priority group does {name} belong to? Choose the number:").format(
            name=conv.data["name"]
        )
        + "\n"
        + "\n".join(lines),
        buttons=[buttons[i : i + 5] for i in range(0, len(buttons), 5)],
    )


async def receive_group(msg: Incoming, conv: Conversation) -> None:
    """Take the group button or its number typed."""
    groups = priority_groups(conv.services.settings.priority_groups_file)
    codes = [group.code for group in groups]
    code = (msg.payload or "").removeprefix("reg:grp:")
    typed = msg.text.strip().rstrip(".")
    if code not in codes and typed.isdigit() and 1 <= int(typed) <= len(codes):
        code = codes[int(typed) - 1]
    if code not in codes:
        await wrong_answer(
            msg, conv, _("Please choose a number from 1 to {count}.").format(count=len(codes))
        )
        return
    await accept(conv, group=code)
    await advance(conv)


def group_label(conv: Conversation, code: str) -> str:
    """A priority group's number and label."""
    groups = priority_groups(conv.services.settings.priority_groups_file)
    for i, group in enumerate(groups, 1):
        if group.code == code:
            return f"{i}. {group.label()}"
    return code


SCREEN_ANSWERS = (
    ("reg:scr:yes", ANSWER_YES),
    ("reg:scr:no", ANSWER_NO),
    ("reg:scr:unsure", ANSWER_UNSURE),
)
_UNSURE_WORDS = ("khong ro", "ko ro", "k ro", "kr", "khong biet", "chua ro", "not sure", "unsure")


def _screen_label(answer: str) -> str:
    return {ANSWER_YES: _("Yes"), ANSWER_NO: _("No"), ANSWER_UNSURE: _("Not sure")}[answer]


async def ask_screen(conv: Conversation) -> None:
    """Ask the next screening question (Yes / No / Not sure)."""
    conv.goto(FLOW, Step.SCREEN)
    answers = conv.data.setdefault("screen", {})
    index = len(answers)
    if index == 0:
        conv.reply(
            _(
                "A few health questions from the Ministry of Health's screening form. They help "
                "the doctor at the site; answering “Yes” does not stop you from booking."
            )
        )
    conv.reply(
        _("Question {number}/{total}: {question}").format(
            number=index + 1, total=len(SCREENING), question=_(SCREENING[index][1])
        ),
        buttons=[[Button(_screen_label(answer), payload) for payload, answer in SCREEN_ANSWERS]],
    )


async def receive_screen(msg: Incoming, conv: Conversation) -> None:
    """Record Yes / No / Not sure for the current question."""
    answer = dict(SCREEN_ANSWERS).get(msg.payload or "")
    if answer is None and msg.kind == Kind.TEXT:
        if fold(msg.text) in _UNSURE_WORDS:
            answer = ANSWER_UNSURE
        elif is_answer(msg.text, Intent.YES):
            answer = ANSWER_YES
        elif is_answer(msg.text, Intent.NO):
            answer = ANSWER_NO
    if answer is None:
        await wrong_answer(msg, conv, _("Please answer “Yes”, “No” or “Not sure”."))
        await ask_screen(conv)
        return
    answers = dict(conv.data.get("screen", {}))
    answers[SCREENING[len(answers)][0]] = answer
    await accept(conv, screen=answers)
    if len(answers) == len(SCREENING) and needs_screening(answers):
        conv.reply(
            _(
                "Thank you. Because of these answers the doctor needs to examine you more "
                "closely at the site (cần khám sàng lọc kỹ tại điểm tiêm). You can still book."
            )
        )
    await advance(conv)


# ---------------------------------------------------------------- summary, edit, confirm


async def show_summary(conv: Conversation) -> None:
    """Everything entered, with "Confirm" and "Change"."""
    conv.goto(FLOW, Step.SUMMARY)
    conv.data.pop("tries", None)
    lines = [_("Please check:")]
    lines += await _person_lines(conv)
    lines += await slot_picker.booking_lines(conv)
    conv.reply(
        "\n".join(lines),
        buttons=[[Button(_("Confirm"), "reg:confirm"), Button(_("Change"), "reg:edit")]],
    )


async def _person_lines(conv: Conversation) -> list[str]:
    data = conv.data
    if data.get("mode") != "new":
        person = await person_of_account(conv, int(data["person"]))
        name = person.full_name if person else "?"
        return [_("Name: {name}").format(name=name)]
    protector = conv.services.protector
    phone = protector.open(base64.b64decode(data["phone"]))
    lines = [
        _("Name: {name}").format(name=data["name"]),
        _("Date of birth: {day}").format(day=format_day(date.fromisoformat(data["dob"]))),
        _("Gender: {gender}").format(gender=gender_label(data["gender"])),
        _("ID number: {number}").format(number=mask_id_number(_id_number(conv))),
        _("Phone: {phone}").format(phone=mask_phone(phone)),
        _("Lives in: {ward}, {province}").format(
            ward=ward_text(data["ward"], data.get("formerly")),
            province=divisions.province(data["province"]).name,
        ),
        _("Priority group: {group}").format(group=group_label(conv, data["group"])),
    ]
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
    ("screen", ("screen",)),
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
        if conv.data.get("site") == "":
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
    keys = dict(EDITABLE).get(field)
    if keys is None:
        await show_summary(conv)
        return
    for key in keys:
        conv.data.pop(key, None)
    await advance(conv)


async def confirm(conv: Conversation) -> None:
    """Store the person (if new) and the booking in this event's transaction."""
    data = conv.data
    if data.get("mode") == "move":
        await slot_picker.confirm_move(conv)
        return
    person = await _store_person(conv) if data.get("mode") == "new" else None
    if data.get("mode") == "new" and person is None:
        return
    person = person or await person_of_account(conv, int(data["person"]))
    if person is None:
        await start_registration(Incoming(conv.chat, "", Kind.BUTTON), conv)
        return
    if data.get("site") == "":
        conv.finish()
        conv.reply(
            _(
                "{name} is registered. There are no free places near you at the moment; we will "
                "send a message here when places open. Type /lichhen to see your registrations."
            ).format(name=person.full_name),
            buttons=menu_buttons(),
        )
        return
    await slot_picker.confirm_booking(conv, person)


async def _store_person(conv: Conversation) -> Person | None:
    data = conv.data
    protector = conv.services.protector
    number = _id_number(conv)
    index = id_index(protector, number)
    if await people.find_by_id_index(conv.session, index) is not None:
        conv.data.pop("idn", None)
        conv.reply(_("This ID number was registered in the meantime."))
        await advance(conv)
        return None
    if await people.count_people(conv.session, conv.account.id) >= MAX_PEOPLE:
        conv.finish()
        conv.reply(
            _("This account already has {limit} people, the most it can register.").format(
                limit=MAX_PEOPLE
            ),
            buttons=menu_buttons(),
        )
        return None
    phone = protector.open(base64.b64decode(data["phone"]))
    person = await people.add_person(
        conv.session,
        Person(
            account_id=conv.account.id,
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
            priority_group=data["group"],
            is_holder=data.get("relation") == "self",
            created_at=conv.now,
        ),
    )
    data["person"] = person.id
    return person


FIELDS = (
    ("name", ask_name),
    ("dob", ask_dob),
    ("gender", ask_gender),
    ("idn", ask_id),
    ("phone", ask_phone),
    ("province", ask_province),
    ("ward", ask_ward),
    ("group", ask_group),
    ("screen", ask_screen),
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

STEPS: dict[str, Handler] = {
    Step.WHO: receive_who,
    Step.NAME: receive_name,
    Step.DOB: receive_dob,
    Step.GENDER: receive_gender,
    Step.ID: receive_id,
    Step.ID_FIX: receive_id_fix,
    Step.PHONE: receive_phone,
    Step.PROVINCE: receive_province,
    Step.WARD: receive_ward,
    Step.GROUP: receive_group,
    Step.SCREEN: receive_screen,
    Step.SITE: slot_picker.receive_site,
    Step.DAY: slot_picker.receive_day,
    Step.SLOT: slot_picker.receive_slot,
    Step.SUMMARY: receive_summary,
    Step.EDIT: receive_edit,
}


async def cancel(msg: Incoming, conv: Conversation) -> None:
    """/huy inside the flow: nothing typed is kept; say what stays registered."""
    count = await people.count_people(conv.session, conv.account.id)
    conv.finish()
    text = _("Registration stopped. Nothing from this registration was saved.")
    if count:
        text += " " + _(
            "People already registered on your account: {count}. They and their bookings are "
            "kept (/lichhen)."
        ).format(count=count)
    conv.reply(text, buttons=menu_buttons())
