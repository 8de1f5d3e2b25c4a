"""The identity part of the registration form: name, birth date, gender, ID number, phone.

Steps of the `register` flow (see registration.py). Each `ask_*` sets the step and asks with an
example; each `receive_*` checks the answer, keeps it with `accept` and lets the form go on, or
says kindly what was wrong and stays.
"""

from __future__ import annotations

import base64
from datetime import date

from bot.conversation import Conversation
from bot.domain.identity import id_index
from bot.handlers import recovery
from bot.handlers.menu import menu_buttons
from bot.handlers.phone_number import shares_contacts
from bot.handlers.registration.form import (
    BACK,
    FLOW,
    FormState,
    Mode,
    Outcome,
    RegisterStep,
    accept,
    mode_of,
    wrong_answer,
)
from bot.handlers.today import local_today
from bot.i18n import _, format_day
from bot.messages import Button, Incoming, Kind
from bot.vn.dates import DateProblem, InvalidDate, age_on, parse_birth_date
from bot.vn.ids import Gender, IdProblem, InvalidId, disagreements, parse_personal_id
from bot.vn.intents import Intent, is_answer
from bot.vn.names import InvalidName, NameProblem, parse_full_name, without_diacritics
from bot.vn.phone import mask_phone, normalize_phone
from bot.vn.text import fold
from storage import people

Step = RegisterStep

# ---------------------------------------------------------------- name, birth date, gender


async def ask_name(conv: Conversation) -> Outcome:
    """Ask the full name."""
    conv.goto(FLOW, Step.NAME)
    if FormState.of(conv).for_self:
        text = _("What is your full name, as on your ID card? For example: Nguyễn Văn An")
    else:
        text = _(
            "What is your relative's full name, as on their ID card? For example: Trần Thị Bình"
        )
    conv.reply(text)
    return Outcome.STAY


def name_problem_text(problem: NameProblem) -> str:
    """What is wrong with a typed name (adults' and children's)."""
    return {
        NameProblem.TOO_SHORT: _("That name is too short."),
        NameProblem.TOO_LONG: _("That name is too long (at most 80 letters)."),
        NameProblem.NOT_LETTERS: _("A name can only have letters and spaces."),
    }[problem]


NAME_KEEP, NAME_RETYPE = "reg:name:keep", "reg:name:retype"


async def receive_name(msg: Incoming, conv: Conversation) -> Outcome:
    """Check the name: 2-80 letters, no digits or emoji; stored in title case.

    A name typed without diacritics goes onto the certificate as it is, so it is confirmed
    once: kept with the button (or "có"/"ok", or typed the same again), or typed again.
    """
    plain = conv.data.get("name_plain")
    if plain is not None and (msg.payload == NAME_KEEP or is_answer(msg.text, Intent.YES)):
        return await _take_name(conv, plain)
    if msg.payload == NAME_RETYPE:
        conv.data.pop("name_plain", None)
        conv.reply(_("Please type the full name with diacritics, for example: Nguyễn Thị Lan"))
        return Outcome.STAY
    try:
        name = parse_full_name(msg.text)
    except InvalidName as refused:
        reason = name_problem_text(refused.problem)
        await wrong_answer(
            msg, conv, reason + " " + _("Please type the full name, for example: Nguyễn Văn An")
        )
        return Outcome.STAY
    if without_diacritics(name) and name != plain:
        conv.data["name_plain"] = name
        conv.reply(
            _(
                "“{name}” is written without diacritics, and the name is printed on the "
                "certificate exactly as written. Keep it like this, or type it with diacritics?"
            ).format(name=name),
            buttons=[
                [Button(_("Keep “{name}”").format(name=name[:40]), NAME_KEEP)],
                [Button(_("Type it with diacritics"), NAME_RETYPE)],
            ],
        )
        return Outcome.STAY
    return await _take_name(conv, name)


async def _take_name(conv: Conversation, name: str) -> Outcome:
    conv.data.pop("name_plain", None)
    await accept(conv, name=name)
    return Outcome.NEXT


async def ask_dob(conv: Conversation) -> Outcome:
    """Ask the date of birth, day first."""
    conv.goto(FLOW, Step.DOB)
    conv.reply(
        _(
            "Date of birth of {name}? Day, month, year, for example 02/01/1990 (also 2/1/1990, "
            "2-1-1990 or 02011990)."
        ).format(name=conv.data["name"])
    )
    return Outcome.STAY


def date_problem_text(problem: DateProblem) -> str:
    """What is wrong with a typed birth date (adults' and children's)."""
    return {
        DateProblem.FORMAT: _("I could not read that date."),
        DateProblem.NO_SUCH_DAY: _("That day does not exist."),
        DateProblem.FUTURE: _("That date is in the future."),
        DateProblem.TOO_OLD: _("That would be more than 120 years ago."),
    }[problem]


async def receive_dob(msg: Incoming, conv: Conversation) -> Outcome:
    """Read the date, refuse impossible or under-age ones, and confirm it in words."""
    today = local_today(conv)
    try:
        born = parse_birth_date(msg.text, today=today)
    except InvalidDate as refused:
        reason = date_problem_text(refused.problem)
        await wrong_answer(
            msg,
            conv,
            reason + " " + _("Please type the date of birth as day/month/year, e.g. 02/01/1990."),
        )
        return Outcome.STAY
    minimum = conv.services.settings.min_age
    # The age limit is vaccination's; a PCR QR (identity mode) is for children too.
    if mode_of(conv) is not Mode.IDENTITY and age_on(born, today) < minimum:
        await wrong_answer(
            msg,
            conv,
            _(
                "Registration here is for people aged {age} and over; someone born on {day} is "
                "not {age} yet. If the date is wrong, please type it again, or /huy to stop."
            ).format(age=minimum, day=format_day(born)),
        )
        return Outcome.STAY
    await accept(conv, dob=born.isoformat())
    conv.note(_("Date of birth: {day}.").format(day=format_day(born)))
    return Outcome.NEXT


GENDER_BUTTONS = (("reg:gender:male", Gender.MALE), ("reg:gender:female", Gender.FEMALE))
GENDER_WORDS = {
    "nam": Gender.MALE, "male": Gender.MALE, "m": Gender.MALE, "trai": Gender.MALE,
    "nu": Gender.FEMALE, "female": Gender.FEMALE, "f": Gender.FEMALE, "gai": Gender.FEMALE,
}  # fmt: skip


def gender_label(gender: str) -> str:
    """The gender in words."""
    return _("Male") if gender == Gender.MALE else _("Female")


async def ask_gender(conv: Conversation) -> Outcome:
    """Read the gender from the ID number's 4th digit; ask with two buttons only to change it."""
    if "idn" in conv.data and not conv.data.get("gender_asked"):
        pid = parse_personal_id(id_number(conv), current_year=9999)
        await accept(conv, gender=str(pid.gender), gender_read=True)
        conv.note(
            _(
                "Gender: {gender} (from the ID number; you can change it before confirming)."
            ).format(gender=gender_label(pid.gender))
        )
        return Outcome.NEXT
    conv.goto(FLOW, Step.GENDER)
    conv.reply(
        _("Gender of {name}?").format(name=conv.data["name"]),
        buttons=[[Button(gender_label(g), payload) for payload, g in GENDER_BUTTONS]],
    )
    return Outcome.STAY


async def receive_gender(msg: Incoming, conv: Conversation) -> Outcome:
    """Take the button, or "nam"/"nữ" typed."""
    gender = dict(GENDER_BUTTONS).get(msg.payload or "") or GENDER_WORDS.get(fold(msg.text))
    if gender is None:
        await wrong_answer(msg, conv, _("Please press “Male” or “Female”."))
        return await ask_gender(conv)
    await accept(conv, gender=str(gender))
    return Outcome.NEXT


# ---------------------------------------------------------------- ID number


async def ask_id(conv: Conversation) -> Outcome:
    """Ask the 12-digit personal ID number."""
    conv.goto(FLOW, Step.ID)
    conv.reply(
        _(
            "The 12-digit personal ID number (số định danh cá nhân, on the CCCD card or in "
            "VNeID) of {name}? For example: 079 190 012 345"
        ).format(name=conv.data["name"])
    )
    return Outcome.STAY


def id_problem_text(problem: IdProblem, typed: str) -> str:
    """What to tell someone whose typed ID number has this problem (adults' and children's)."""
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


async def receive_id(msg: Incoming, conv: Conversation) -> Outcome:
    """Check the number's form, refuse one already registered, cross-check it later."""
    today = local_today(conv)
    try:
        pid = parse_personal_id(msg.text, current_year=today.year)
    except InvalidId as refused:
        await wrong_answer(
            msg,
            conv,
            id_problem_text(refused.problem, msg.text)
            + " "
            + _("Please type the 12 digits, for example 079 190 012 345."),
        )
        return Outcome.STAY
    protector = conv.services.protector
    found = await people.find_by_id_index(conv.session, id_index(protector, pid.number))
    if found is not None and found[1] is not None and found[1].id == conv.owner_id:
        # Someone this chat already sees on its own account: nothing new is told.
        person = found[0]
        conv.finish()
        conv.reply(
            _("{name} is already registered on this account.").format(name=person.full_name),
            buttons=[
                [Button(_("Book for {name}").format(name=person.full_name[:30]), "menu:register")],
                *menu_buttons(),
            ],
        )
        return Outcome.STAY
    if found is not None:
        refuse_id(conv, pid.number)
        return Outcome.STAY
    await accept(conv, idn=base64.b64encode(protector.seal(pid.number)).decode())
    return Outcome.NEXT


def refuse_id(conv: Conversation, number: str | None = None) -> None:
    """The one answer for an ID number this account cannot register, whoever holds it.

    Held by another account, kept for a medical record after its account was erased, or taken
    while the form was being filled in: the answer is the same, and says nothing of where or by
    whom, so typing numbers tells a stranger nothing. The citizen can type another number, go
    back, say it is theirs (with `number`, a person's: a code to the chats it was registered
    from, or staff check; bot.handlers.recovery), or ask support staff.
    """
    mine = [recovery.hold(conv, number)] if number else []
    conv.reply(
        _(
            "This ID number cannot be registered here. If it is yours or a family member's, "
            "please choose “Support” and a staff member will help you. You can also type a "
            "different ID number."
        ),
        buttons=[
            *([mine] if mine else []),
            [Button(_("Support"), "menu:support")],
            [Button(_("Back"), BACK)],
        ],
    )


def id_number(conv: Conversation) -> str:
    """The ID number the form holds (sealed in the conversation), in clear."""
    return conv.services.protector.open(base64.b64decode(conv.data["idn"]))


async def ask_id_fix_if_needed(conv: Conversation) -> bool:
    """If the ID number contradicts the birth year or gender, say which and offer fixes."""
    data = conv.data
    if not {"dob", "gender"} <= data.keys():
        return False
    pid = parse_personal_id(id_number(conv), current_year=9999)
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


async def receive_id_fix(msg: Incoming, conv: Conversation) -> Outcome:
    """Forget the field chosen for correction and ask it again."""
    field = (msg.payload or "").removeprefix("reg:fix:")
    if field not in ("idn", "dob", "gender"):
        await wrong_answer(msg, conv, _("Please choose with the buttons which one to correct."))
        return Outcome.NEXT
    conv.data.pop(field, None)
    if field == "idn" and not conv.data.get("gender_asked"):
        conv.data.pop("gender", None)  # read again from the corrected number
    if field == "gender":
        conv.data["gender_asked"] = True  # asked with buttons, not read from the number again
        conv.data.pop("gender_read", None)
    return Outcome.NEXT


# ---------------------------------------------------------------- phone


async def ask_phone(conv: Conversation) -> Outcome:
    """Ask the phone number: the holder's shared contact, the account's number, or typed."""
    conv.goto(FLOW, Step.PHONE)
    buttons = []
    if conv.account.phone_sealed:
        known = conv.services.protector.open(conv.account.phone_sealed)
        buttons.append(
            [Button(_("Use {phone}").format(phone=mask_phone(known)), "reg:phone:account")]
        )
    sharing = FormState.of(conv).for_self and shares_contacts(conv)
    if sharing:
        text = _(
            "Your mobile number? Press “Share my phone number” below, or type it, for example "
            "0912 345 678."
        )
    elif FormState.of(conv).for_self:  # the web chat: no button to share a number there
        text = _("Your mobile number? Type it, for example 0912 345 678.")
    else:
        text = _(
            "A mobile number to reach {name} (yours if they have none)? Type it, for example "
            "0912 345 678."
        ).format(name=conv.data["name"])
    if not sharing:
        conv.reply(text, buttons=buttons)
    elif not buttons:  # one message: the question and Telegram's "share" keyboard
        conv.reply(text, request_phone=_("Share my phone number"))
    else:  # a message carries one keyboard: the inline button, then the "share" one
        conv.reply(text, buttons=buttons)
        conv.reply(_("Or press the button:"), request_phone=_("Share my phone number"))
    return Outcome.STAY


async def receive_phone(msg: Incoming, conv: Conversation) -> Outcome:
    """Accept the user's own shared contact, the account's number, or a typed number."""
    protector = conv.services.protector
    if msg.payload == "reg:phone:account" and conv.account.phone_sealed:
        phone: str | None = protector.open(conv.account.phone_sealed)
    elif msg.contact is not None:
        if msg.contact.user_id not in (None, msg.user_id):
            await wrong_answer(
                msg, conv, _("Please share your own number with the button, or type the number.")
            )
            return Outcome.STAY
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
        return Outcome.STAY
    await accept(conv, phone=base64.b64encode(protector.seal(phone)).decode())
    echo = _("Phone number: {phone}.").format(phone=mask_phone(phone))
    if FormState.of(conv).for_self and msg.contact is None:
        # Typed while the "share" keyboard shows: this message takes it away (the next
        # question carries buttons, and a message has one keyboard only).
        conv.reply(echo, remove_keyboard=True)
    else:
        conv.note(echo)  # a shared contact's keyboard hides itself
    return Outcome.NEXT
