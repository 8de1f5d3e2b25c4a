"""Parents register their children for the national immunisation schedule, from the chat.

Flow `children` ("Thêm con", "đăng ký cho con", /themcon). Steps: name, birth date, gender, the
child's 12-digit personal ID number (issued with the birth registration; a baby under
`NEWBORN_MONTHS` months may have none yet: "Chưa có số" registers them by birth date and the
parent's account), the ward (the parent's, when the account has a registered person; else typed),
then the child is stored and the parent may add past doses: a dose button per vaccine (the next
dose of each series the child is old enough for), then its day, or "Không nhớ ngày". Such doses
are stored `reported` until a site confirms them; a forgotten day is stored as the day the
schedule recommends, with `date_approximate` set, so the rules engine can still plan (the site
corrects it on confirmation). Last, the parent gets the next due dose in words.

"Sổ tiêm" (/sotiem) lists the account's children with their next dose, then sends each child's
card: a picture of the whole schedule, colour-coded (`bot.domain.immunisation.card`). A
reminder's "book" button goes to `bot.handlers.child_sessions`. The route table sends this
module everything of its flow, its buttons (`child:`), its commands and its intents (`takes`).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from datetime import date
from enum import StrEnum

from bot.conversation import Conversation
from bot.domain.identity import id_index
from bot.domain.immunisation import child_reminders
from bot.domain.immunisation.card import card_png
from bot.domain.immunisation.durations import Duration
from bot.domain.immunisation.rules import Assessment, DoseRecord, DoseStatus, assess
from bot.domain.immunisation.schedule import Dose, Schedule, load_schedule
from bot.handlers import child_sessions, menu
from bot.handlers.registration.form import BACK, accept, wrong_answer
from bot.handlers.registration.person_fields import (
    GENDER_BUTTONS,
    GENDER_WORDS,
    date_problem_text,
    id_problem_text,
    name_problem_text,
    refuse_id,
)
from bot.i18n import _, current_locale, format_day, local_day
from bot.messages import Button, Incoming, Kind
from bot.payloads import CHILD
from bot.vn import divisions
from bot.vn.dates import DateProblem, InvalidDate, parse_birth_date
from bot.vn.ids import Gender, IdProblem, InvalidId, disagreements, parse_personal_id
from bot.vn.names import InvalidName, parse_full_name
from bot.vn.text import fold
from storage import children, people
from storage.models import Child, ChildDose

FLOW = "children"
COMMANDS = frozenset({"themcon", "sotiem"})
RECORD_COMMAND = "sotiem"
MAX_CHILDREN = 10
NEWBORN_MONTHS = 12  # younger children may be registered before their ID number is issued
MAX_AGE_YEARS = 16  # the schedule ends at 7 years (Td); the Law on Children covers under-16s
_NO_ID, _NO_DATE, _DONE = f"{CHILD}noid", f"{CHILD}nodate", f"{CHILD}done"
_DOSE, _WARD, _GENDER = f"{CHILD}dose:", f"{CHILD}ward:", f"{CHILD}gender:"
_RECORD = f"{CHILD}record"


class Step(StrEnum):
    """Where the children flow waits."""

    NAME = "name"
    DOB = "dob"
    GENDER = "gender"
    ID = "id"
    WARD = "ward"
    DOSES = "doses"
    DOSE_DATE = "dose_date"


def takes(msg: Incoming, conv: Conversation) -> bool:
    """Whether this update is the children flow's: its buttons, command or steps.

    Typed "thêm con" / "sổ tiêm" outside a flow are intents (bot.dispatch.routes.INTENTS).
    """
    if (msg.payload or "").startswith(CHILD) or msg.command in COMMANDS:
        return True
    return conv.flow == FLOW and msg.command is None and msg.payload not in menu.ENTRIES


async def handle(msg: Incoming, conv: Conversation) -> None:
    """Run the step the flow waits on, or open the flow (the card and bookings: any time)."""
    if msg.command == RECORD_COMMAND or msg.payload == _RECORD:
        await show_children(msg, conv)
        return
    if child_sessions.takes(msg.payload):
        await child_sessions.handle(msg, conv)
        return
    if conv.flow == FLOW and conv.step in STEPS and msg.command is None:
        if msg.payload == BACK:
            await ASK[Step(conv.step)](conv)
            return
        await STEPS[Step(conv.step)](msg, conv)
        return
    await start_add(msg, conv)


def schedule() -> Schedule:
    """The national schedule (loaded and validated once)."""
    return load_schedule()


# ---------------------------------------------------------------- entry and the child's list


async def start_add(msg: Incoming, conv: Conversation) -> None:
    """Start registering a child, unless the account has as many as it may."""
    conv.finish()
    if await children.count_children(conv.session, conv.owner_id) >= MAX_CHILDREN:
        conv.reply(
            _("This account already has {limit} children, the most it can register.").format(
                limit=MAX_CHILDREN
            ),
            buttons=menu.menu_buttons(),
        )
        return
    conv.reply(
        _(
            "Let's register your child for the national immunisation schedule (tiêm chủng mở "
            "rộng). I will ask the name, date of birth, gender and the child's personal ID "
            "number; /huy stops at any time."
        )
    )
    await ask_name(conv)


async def show_children(msg: Incoming, conv: Conversation) -> None:
    """Each child of the account with the next dose due, then each child's card as a picture."""
    conv.finish()
    registered = await children.children_of(conv.session, conv.owner_id)
    if not registered:
        await start_add(msg, conv)
        return
    lines = [_("Your children's immunisation:")]
    cards = []
    for child in registered:
        doses = await children.doses_of(conv.session, child.id)
        found = _assessment(child.birth_date, doses, local_day(conv.now))
        lines.append(f"• {child.full_name} ({format_day(child.birth_date)}): {next_text(found)}")
        cards.append((child, found))
    conv.reply("\n".join(lines))
    for number, (child, found) in enumerate(cards, start=1):
        png = await asyncio.to_thread(card_png, child.full_name, child.birth_date, found)
        last = number == len(cards)
        conv.reply(
            card_caption(child.full_name, found),
            image=png,
            buttons=[[Button(_("Add a child"), "child:add")]] if last else (),
        )


def card_caption(name: str, found: Assessment) -> str:
    """The words sent with a child's card: whose it is and the next dose."""
    return _("Immunisation card of {name}.").format(name=name) + "\n" + next_text(found)


# ---------------------------------------------------------------- name, birth date, gender


async def ask_name(conv: Conversation) -> None:
    """Ask the child's full name."""
    conv.goto(FLOW, Step.NAME)
    conv.reply(
        _("What is your child's full name, as on the birth certificate? For example: Lê Minh An")
    )


async def receive_name(msg: Incoming, conv: Conversation) -> None:
    """Check the name: 2-80 letters, no digits or emoji."""
    try:
        name = parse_full_name(msg.text)
    except InvalidName as refused:
        reason = name_problem_text(refused.problem)
        await wrong_answer(
            msg, conv, reason + " " + _("Please type the child's full name, e.g. Lê Minh An")
        )
        return
    await accept(conv, name=name)
    await ask_dob(conv)


async def ask_dob(conv: Conversation) -> None:
    """Ask the date of birth, day first."""
    conv.goto(FLOW, Step.DOB)
    conv.reply(
        _("Date of birth of {name}? Day, month, year, for example 04/05/2026.").format(
            name=conv.data["name"]
        )
    )


async def receive_dob(msg: Incoming, conv: Conversation) -> None:
    """Read the date; refuse future dates and children too old for the schedule."""
    today = local_day(conv.now)
    try:
        born = parse_birth_date(msg.text, today=today)
    except InvalidDate as refused:
        reason = date_problem_text(refused.problem)
        await wrong_answer(
            msg, conv, reason + " " + _("Please type the date as day/month/year, e.g. 04/05/2026.")
        )
        return
    if Duration.parse(f"P{MAX_AGE_YEARS}Y").after(born) <= today:
        await wrong_answer(
            msg,
            conv,
            _(
                "The children's schedule is for children under {age}; someone born on {day} is "
                "older. If the date is wrong, please type it again, or /huy to stop."
            ).format(age=MAX_AGE_YEARS, day=format_day(born)),
        )
        return
    await accept(conv, dob=born.isoformat())
    conv.reply(_("Date of birth: {day}.").format(day=format_day(born)))
    await ask_gender(conv)


async def ask_gender(conv: Conversation) -> None:
    """Ask the gender with two buttons."""
    conv.goto(FLOW, Step.GENDER)
    conv.reply(
        _("Gender of {name}?").format(name=conv.data["name"]),
        buttons=[[Button(_("Male"), _GENDER + "male"), Button(_("Female"), _GENDER + "female")]],
    )


async def receive_gender(msg: Incoming, conv: Conversation) -> None:
    """Take the button, or "trai"/"gái"/"nam"/"nữ" typed."""
    pressed = (msg.payload or "").removeprefix(_GENDER)
    gender = {str(g): g for _payload, g in GENDER_BUTTONS}.get(pressed) or GENDER_WORDS.get(
        fold(msg.text)
    )
    if gender is None:
        await wrong_answer(msg, conv, _("Please press “Male” or “Female”."))
        await ask_gender(conv)
        return
    await accept(conv, gender=str(gender))
    await ask_id(conv)


# ---------------------------------------------------------------- ID number


def _newborn(conv: Conversation) -> bool:
    born = date.fromisoformat(conv.data["dob"])
    return Duration.parse(f"P{NEWBORN_MONTHS}M").after(born) > local_day(conv.now)


async def ask_id(conv: Conversation) -> None:
    """Ask the child's 12-digit number; a newborn may go on without one."""
    conv.goto(FLOW, Step.ID)
    text = _(
        "The 12-digit personal ID number of {name} (số định danh cá nhân, issued with the birth "
        "registration, in VNeID or on the birth certificate)? For example: 079 226 012 345"
    ).format(name=conv.data["name"])
    if not _newborn(conv):
        conv.reply(text)
        return
    conv.reply(
        text + "\n" + _("A newborn may not have one yet: then press “No number yet”."),
        buttons=[[Button(_("No number yet"), _NO_ID)]],
    )


async def receive_id(msg: Incoming, conv: Conversation) -> None:
    """Check the number as adults' are, against the birth year and gender; refuse duplicates."""
    if msg.payload == _NO_ID and _newborn(conv):
        await accept(conv, idn=None)
        await ask_ward(conv)
        return
    today = local_day(conv.now)
    try:
        pid = parse_personal_id(msg.text, current_year=today.year)
    except InvalidId as refused:
        await wrong_answer(
            msg,
            conv,
            id_problem_text(refused.problem, msg.text)
            + " "
            + _("Please type the 12 digits, for example 079 226 012 345."),
        )
        return
    born = date.fromisoformat(conv.data["dob"])
    problems = disagreements(pid, birth_year=born.year, gender=Gender(conv.data["gender"]))
    if problems:
        await wrong_answer(msg, conv, _disagreement_text(problems))
        return
    protector = conv.services.protector
    index = id_index(protector, pid.number)
    held = await children.find_by_id_index(conv.session, index)
    if held is not None and held.account_id == conv.account.id:
        await wrong_answer(
            msg,
            conv,
            _("{name} is already registered on this account.").format(name=held.full_name),
        )
        return
    if held is not None or await people.find_by_id_index(conv.session, index) is not None:
        refuse_id(conv)  # the one answer, whoever holds the number: no oracle for strangers
        return
    sealed = base64.b64encode(protector.seal(pid.number)).decode()
    await accept(conv, idn=sealed)
    await ask_ward(conv)


def _disagreement_text(problems: list[IdProblem]) -> str:
    if IdProblem.BIRTH_YEAR in problems:
        return _(
            "The birth year in this ID number is not the child's. Please check the number "
            "(or /huy and start again if the date of birth was wrong)."
        )
    return _(
        "The gender in this ID number is not the child's. Please check the number "
        "(or /huy and start again if the gender was wrong)."
    )


# ---------------------------------------------------------------- ward


async def ask_ward(conv: Conversation) -> None:
    """Use the parent's ward when the account has a registered person; else ask it."""
    registered = await people.people_of(conv.session, conv.owner_id)
    if registered:
        parent = next((p for p in registered if p.is_holder), registered[0])
        await accept(conv, parent=parent.id)
        await _store_child(conv, parent.ward_code)
        return
    conv.goto(FLOW, Step.WARD)
    conv.reply(
        _(
            "Which ward or commune does {name} live in, and in which province? For example: "
            "“Bến Thành, TP HCM”."
        ).format(name=conv.data["name"])
    )


async def receive_ward(msg: Incoming, conv: Conversation) -> None:
    """Find "ward, province" typed, or take a ward button."""
    pressed = (msg.payload or "").removeprefix(_WARD)
    if msg.payload and pressed in conv.data.get("ward_offer", []):
        await _store_child(conv, int(pressed))
        return
    where, _comma, province_text = msg.text.rpartition(",")
    provinces = divisions.find_provinces(province_text) if where else []
    wards = divisions.find_wards(where, provinces[0].code) if len(provinces) == 1 else []
    if len(wards) == 1:
        await _store_child(conv, wards[0].code)
        return
    if not wards:
        await wrong_answer(
            msg,
            conv,
            _(
                "I could not find that ward. Please type the ward, a comma and the province, "
                "for example “Bến Thành, TP HCM”."
            ),
        )
        return
    conv.data["ward_offer"] = [str(w.code) for w in wards]
    conv.reply(
        _("Which ward do you mean?"),
        buttons=[[Button(w.name[:60], f"{_WARD}{w.code}")] for w in wards],
    )


async def _store_child(conv: Conversation, ward_code: int) -> None:
    """Write the child (with the sealed ID number, if any) and go on to past doses."""
    data = conv.data
    sealed = base64.b64decode(data["idn"]) if data.get("idn") else None
    number = conv.services.protector.open(sealed) if sealed else None
    child = await children.add_child(
        conv.session,
        Child(
            account_id=conv.owner_id,
            parent_person_id=data.get("parent"),
            full_name=data["name"],
            birth_date=date.fromisoformat(data["dob"]),
            gender=data["gender"],
            id_sealed=sealed,
            id_index=id_index(conv.services.protector, number) if number else None,
            ward_code=ward_code,
            created_at=conv.now,
        ),
    )
    await child_reminders.plan(conv.session, child, now=conv.now)
    conv.goto(FLOW, Step.DOSES, child=child.id, doses=[])
    conv.reply(
        _("{name} is registered ({ward}).").format(
            name=child.full_name, ward=divisions.ward(ward_code).name
        )
    )
    await ask_doses(conv)


# ---------------------------------------------------------------- past doses


def _offered(conv: Conversation) -> list[Dose]:
    """The next dose of each series not entered yet, that the child is old enough for."""
    born, today = date.fromisoformat(conv.data["dob"]), local_day(conv.now)
    entered = {tuple(item) for item in conv.data.get("doses", [])}
    offered = []
    for vaccine in schedule().vaccines:
        for dose in vaccine.doses:
            if (vaccine.code, dose.number) in entered:
                continue
            if dose.min_age.value.after(born) <= today:
                offered.append(dose)
            break
    return offered


async def ask_doses(conv: Conversation) -> None:
    """Offer the doses the child may already have had, and "Done"."""
    conv.goto(FLOW, Step.DOSES)
    locale = current_locale()
    rows = [
        [Button(dose.name(locale)[:60], f"{_DOSE}{dose.vaccine}:{dose.number}")]
        for dose in _offered(conv)
    ]
    if not rows:
        await finish(conv)
        return
    first = not conv.data.get("doses")
    conv.reply(
        _(
            "Has {name} already had any of these vaccinations? Press each one given, then "
            "“Done”. A site confirms them later."
        ).format(name=conv.data["name"])
        if first
        else _("Any other vaccination? Press it, or “Done”."),
        buttons=[*rows, [Button(_("Done") if not first else _("None yet / Done"), _DONE)]],
    )


async def receive_dose(msg: Incoming, conv: Conversation) -> None:
    """A dose button: ask its day. "Done": finish."""
    if msg.payload == _DONE:
        await finish(conv)
        return
    code, _colon, number = (msg.payload or "").removeprefix(_DOSE).partition(":")
    chosen = next(
        (d for d in _offered(conv) if d.vaccine == code and str(d.number) == number), None
    )
    if chosen is None:
        await wrong_answer(msg, conv, _("Please choose with the buttons below."))
        await ask_doses(conv)
        return
    conv.goto(FLOW, Step.DOSE_DATE, dose=[chosen.vaccine, chosen.number])
    conv.reply(
        _(
            "On what day was “{dose}” given? Day/month/year, for example 04/07/2026; or press "
            "“I don't remember the day”."
        ).format(dose=chosen.name(current_locale())),
        buttons=[[Button(_("I don't remember the day"), _NO_DATE)]],
    )


async def receive_dose_date(msg: Incoming, conv: Conversation) -> None:
    """Store the dose as reported, on the day typed or (forgotten) the recommended day."""
    code, number = conv.data["dose"]
    dose = schedule().vaccine(code).doses[number - 1]
    born, today = date.fromisoformat(conv.data["dob"]), local_day(conv.now)
    approximate = msg.payload == _NO_DATE
    if approximate:
        given_on = min(dose.recommended_age.value.after(born), today)
    else:
        try:
            given_on = parse_birth_date(msg.text, today=today)
        except InvalidDate as refused:
            reason = (
                _("That date is in the future.")
                if refused.problem is DateProblem.FUTURE
                else _("I could not read that date.")
            )
            await wrong_answer(msg, conv, reason + " " + _("Please type day/month/year."))
            return
        if given_on < born:
            await wrong_answer(msg, conv, _("That day is before the child was born."))
            return
    await children.add_dose(
        conv.session,
        child_id=conv.data["child"],
        vaccine=code,
        dose_number=number,
        given_on=given_on,
        date_approximate=approximate,
        now=conv.now,
    )
    conv.data["doses"] = [*conv.data.get("doses", []), [code, number]]
    await ask_doses(conv)


async def finish(conv: Conversation) -> None:
    """Leave the flow with the child's next due dose in words."""
    child = await children.get_child(conv.session, int(conv.data["child"]))
    conv.finish()
    if child is None:
        await menu.show_menu(Incoming(conv.chat, "", Kind.BUTTON), conv)
        return
    await child_reminders.plan(conv.session, child, now=conv.now)
    doses = await children.doses_of(conv.session, child.id)
    found = _assessment(child.birth_date, doses, local_day(conv.now))
    conv.reply(
        _("Thank you. For {name}:").format(name=child.full_name)
        + "\n"
        + next_text(found)
        + "\n"
        + _("Type “sổ tiêm” to see your children's schedule."),
        buttons=menu.menu_buttons(),
    )


def _assessment(born: date, doses: Sequence[ChildDose], today: date) -> Assessment:
    records = [
        DoseRecord(d.vaccine, d.dose_number, d.given_on, DoseStatus(d.status)) for d in doses
    ]
    return assess(schedule(), born, records, today=today)


def next_text(found: Assessment) -> str:
    """The next dose in words: due now (since when), or the next one and from which day."""
    locale = current_locale()
    if found.due:
        first = min(d.due_on or found.today for d in found.due)
        names = ", ".join(d.dose.name(locale) for d in found.due)
        return _("Due now: {doses} (due since {day}).").format(doses=names, day=format_day(first))
    if found.next and found.next_date is not None:
        names = ", ".join(d.dose.name(locale) for d in found.next)
        return _("Next dose: {doses}, from {day}.").format(
            doses=names, day=format_day(found.next_date)
        )
    return _("Every dose of the schedule is on record.")


STEPS = {
    Step.NAME: receive_name,
    Step.DOB: receive_dob,
    Step.GENDER: receive_gender,
    Step.ID: receive_id,
    Step.WARD: receive_ward,
    Step.DOSES: receive_dose,
    Step.DOSE_DATE: receive_dose_date,
}
ASK = {
    Step.NAME: ask_name,
    Step.DOB: ask_dob,
    Step.GENDER: ask_gender,
    Step.ID: ask_id,
    Step.WARD: ask_ward,
    Step.DOSES: ask_doses,
    Step.DOSE_DATE: ask_doses,
}
