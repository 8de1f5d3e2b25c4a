"""Where and who: province and ward, priority group, and the screening questions.

Steps of the `register` flow (see registration.py), asked after the identity fields.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.conversation import Conversation
from bot.domain import screening
from bot.domain.form_lists import (
    ANSWER_NO,
    ANSWER_UNSURE,
    ANSWER_YES,
    needs_screening,
    priority_groups,
)
from bot.handlers.menu import menu_buttons
from bot.handlers.registration.form import (
    FLOW,
    FormState,
    Mode,
    Outcome,
    RegisterStep,
    Relation,
    accept,
    wrong_answer,
)
from bot.i18n import _, local_day
from bot.messages import Button, Incoming, Kind
from bot.vn import divisions
from bot.vn.dates import age_on
from bot.vn.intents import Intent, is_answer
from bot.vn.text import fold
from storage import people

Step = RegisterStep

# ---------------------------------------------------------------- province and ward


async def ask_province(conv: Conversation) -> Outcome:
    """Ask the province or city (current divisions), with the biggest ones as buttons.

    A relative's address is the account holder's until changed from the summary: most
    relatives registered here live with the one who registers them.
    """
    if await _holders_address(conv):
        return Outcome.NEXT
    conv.goto(FLOW, Step.PROVINCE)
    popular = divisions.popular_provinces()
    conv.reply(
        _(
            "Which province or city does {name} live in? Choose below or type it, for example "
            "“TP HCM”, “Hà Nội”, “Đồng Nai”."
        ).format(name=conv.data["name"]),
        buttons=[[Button(p.name, f"reg:prov:{p.code}")] for p in popular],
    )
    return Outcome.STAY


async def _holders_address(conv: Conversation) -> bool:
    """Give a relative the account holder's province and ward; whether it was done."""
    if FormState.of(conv).relation is not Relation.OTHER or conv.data.get("ward_asked"):
        return False
    holder = next(
        (p for p in await people.people_of(conv.session, conv.owner_id) if p.is_holder), None
    )
    if holder is None or holder.divisions_version != divisions.DATA_VERSION:
        return False
    await accept(
        conv,
        province=holder.province_code,
        ward=holder.ward_code,
        formerly=None,
        address_from_holder=True,
    )
    conv.note(
        _("Lives in: {ward}, {province} (as you do; you can change it before confirming).").format(
            ward=divisions.ward(holder.ward_code).name,
            province=divisions.province(holder.province_code).name,
        )
    )
    return True


async def receive_province(msg: Incoming, conv: Conversation) -> Outcome:
    """Take a province button, or find a typed name (aliases and old names too)."""
    payload = msg.payload or ""
    raw = payload.removeprefix("reg:prov:")
    if payload.startswith("reg:prov:") and raw.isascii() and raw.isdigit():
        code = int(raw)
        try:
            divisions.province(code)
        except KeyError:
            await wrong_answer(msg, conv, _("Please choose with the buttons below."))
            return await ask_province(conv)
    else:
        found = divisions.find_provinces(msg.text) if msg.kind == Kind.TEXT else []
        if not found:
            await wrong_answer(
                msg,
                conv,
                _("I could not find that province. Please type its name, for example “Hà Nội”."),
            )
            return Outcome.STAY
        if len(found) > 1:
            conv.reply(
                _("Which province or city do you mean?"),
                buttons=[[Button(p.name, f"reg:prov:{p.code}")] for p in found],
            )
            return Outcome.STAY
        code = found[0].code
    conv.data.pop("ward", None)
    await accept(conv, province=code)
    return Outcome.NEXT


async def ask_ward(conv: Conversation) -> Outcome:
    """Ask the ward (phường / xã / đặc khu); old names are understood."""
    conv.goto(FLOW, Step.WARD)
    province = divisions.province(conv.data["province"])
    example = divisions.example_ward(province.code).name
    conv.reply(
        _(
            "Which ward or commune in {province}? Type its name, for example “{example}” or "
            "“{folded}”. Old names from before 1/7/2025 are fine too."
        ).format(province=province.name, example=example, folded=fold(example))
    )
    return Outcome.STAY


def ward_text(code: int, formerly: str | None) -> str:
    """A ward in words, with its old name when it was found through one."""
    ward = divisions.ward(code)
    if formerly:
        return _("{ward} (formerly: {old})").format(ward=ward.name, old=formerly)
    return ward.name


def _ward_pressed(msg: Incoming, offered: dict[str, str | None]) -> str:
    """The ward button pressed, or the one offered alone answered with "có"."""
    if len(offered) == 1 and not msg.payload and is_answer(msg.text, Intent.YES):
        return f"reg:ward:{next(iter(offered))}"
    return msg.payload or ""


async def receive_ward(msg: Incoming, conv: Conversation) -> Outcome:
    """Find the ward in the chosen province; confirm an old name; offer up to 5 matches."""
    offered: dict[str, str | None] = conv.data.get("ward_offer", {})
    payload = _ward_pressed(msg, offered)
    if payload.startswith("reg:ward:") and payload.rpartition(":")[2] in offered:
        code = payload.rpartition(":")[2]
        await accept(conv, ward=int(code), formerly=offered[code])
        conv.data.pop("ward_offer", None)
        conv.note(_("Ward: {ward}.").format(ward=ward_text(int(code), offered[code])))
        return Outcome.NEXT
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
        return Outcome.STAY
    if len(found) == 1 and found[0].formerly is None and not found[0].guessed:
        await accept(conv, ward=found[0].code, formerly=None)
        conv.note(_("Ward: {ward}.").format(ward=found[0].name))
        return Outcome.NEXT
    conv.data["ward_offer"] = {str(w.code): w.formerly for w in found}
    question = _("Is this the ward?") if len(found) == 1 else _("Which ward do you mean?")
    conv.reply(
        question
        + " "
        + _(
            "If none is right, type the name again; for an old ward name, add its old "
            "district, for example “Phường 1, Quận 3”."
        ),
        buttons=[
            [Button(ward_text(w.code, w.formerly)[:60], f"reg:ward:{w.code}")] for w in found
        ],
    )
    return Outcome.STAY


# ---------------------------------------------------------------- priority group, screening


OLDER_AGE = 65  # NQ 21 group 5 takes people aged 65 and over
OLDER_GROUP, OTHERS_GROUP = "nq21-5", "nq21-9"


def suggested_group(conv: Conversation) -> str | None:
    """The group the person's age suggests: 65 and over group 5, else "others" (NQ 21 only)."""
    codes = {g.code for g in priority_groups(conv.services.settings.priority_groups_file)}
    born = (conv.data.get("screen_for") or conv.data).get("dob")
    if born is None or not {OLDER_GROUP, OTHERS_GROUP} <= codes:
        return None
    older = age_on(date.fromisoformat(born), local_day(conv.now)) >= OLDER_AGE
    return OLDER_GROUP if older else OTHERS_GROUP


async def ask_group(conv: Conversation) -> Outcome:
    """Each priority group as a button, the one suggested by age first (a number typed works)."""
    conv.goto(FLOW, Step.GROUP)
    groups = priority_groups(conv.services.settings.priority_groups_file)
    suggested = suggested_group(conv)
    rows = [
        [Button(f"{i}. {group.label()}"[:60], f"reg:grp:{group.code}")]
        for i, group in enumerate(groups, 1)
    ]
    text = _(
        "Which priority group does {name} belong to? Choose below or type its number."
    ).format(name=conv.data["name"])
    if suggested is not None:
        number = next(i for i, g in enumerate(groups, 1) if g.code == suggested)
        label = next(g.label() for g in groups if g.code == suggested)
        rows.insert(0, [Button(_("✓ {group}").format(group=label)[:60], f"reg:grp:{suggested}")])
        del rows[number]
        text += "\n" + _("From the age, group {number} seems right: press “✓” if it is.").format(
            number=number
        )
    conv.reply(text, buttons=rows)
    return Outcome.STAY


async def receive_group(msg: Incoming, conv: Conversation) -> Outcome:
    """Take the group button or its number typed."""
    groups = priority_groups(conv.services.settings.priority_groups_file)
    codes = [group.code for group in groups]
    code = (msg.payload or "").removeprefix("reg:grp:")
    typed = msg.text.strip().rstrip(".")
    if code not in codes and typed.isascii() and typed.isdigit() and 1 <= int(typed) <= len(codes):
        code = codes[int(typed) - 1]
    if code not in codes:
        await wrong_answer(
            msg, conv, _("Please choose a number from 1 to {count}.").format(count=len(codes))
        )
        return await ask_group(conv)
    await accept(conv, group=code)
    return Outcome.NEXT


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


def _screened_name(conv: Conversation) -> str:
    """Who the screening questions are about: the name typed, or the registered person's."""
    return str(conv.data.get("name") or conv.data.get("person_name") or _("this person"))


def screen_questions(conv: Conversation) -> list[tuple[str, str]]:
    """The screening questions for the person of the form (by sex and age)."""
    data = conv.data
    subject = data.get("screen_for") or data
    born = subject.get("dob")
    return screening.questions(
        gender=subject.get("gender"),
        birth=date.fromisoformat(born) if born else None,
        today=local_day(conv.now),
    )


def screening_left(conv: Conversation) -> bool:
    """Whether a screening question is still to be asked (none after a deferring "yes")."""
    answers = conv.data.get("screen", {})
    if screening.deferring(answers):
        return False
    return any(key not in answers for key, _text in screen_questions(conv))


NONE_APPLY, ONE_BY_ONE = "reg:scr:none", "reg:scr:each"


async def ask_screen(conv: Conversation) -> Outcome:
    """All the screening questions in one message ("none of these apply"), or the next one."""
    conv.goto(FLOW, Step.SCREEN)
    answers = conv.data.setdefault("screen", {})
    asked = screen_questions(conv)
    name = _screened_name(conv)
    if not answers and not conv.data.get("screen_each"):
        intro = _(
            "A few health questions about {name}, from the Ministry of Health's screening "
            "form. They help the doctor at the site; if an answer means the vaccination "
            "should wait, I will say why before anything is booked."
        ).format(name=name)
        listed = [f"• {_(question).format(name=name)}" for _key, question in asked]
        conv.reply(
            "\n".join([intro, *listed, _("Does any of these apply to {name}?").format(name=name)]),
            buttons=[
                [Button(_("None of these apply"), NONE_APPLY)],
                [Button(_("Yes or not sure: answer one by one"), ONE_BY_ONE)],
            ],
        )
        return Outcome.STAY
    index = len(answers)
    _key, question = next((q for q in asked if q[0] not in answers), asked[-1])
    conv.reply(
        _("Question {number}/{total}: {question}").format(
            number=index + 1, total=len(asked), question=_(question).format(name=name)
        ),
        buttons=[[Button(_screen_label(answer), payload) for payload, answer in SCREEN_ANSWERS]],
    )
    return Outcome.STAY


def _typed_answer(msg: Incoming) -> str | None:
    """Yes / No / Not sure, pressed or typed."""
    answer = dict(SCREEN_ANSWERS).get(msg.payload or "")
    if answer is None and msg.kind == Kind.TEXT:
        if fold(msg.text) in _UNSURE_WORDS:
            answer = ANSWER_UNSURE
        elif is_answer(msg.text, Intent.YES):
            answer = ANSWER_YES
        elif is_answer(msg.text, Intent.NO):
            answer = ANSWER_NO
    return answer


async def receive_screen(msg: Incoming, conv: Conversation) -> Outcome:
    """The whole list answered at once ("none of these apply", "no"), or one question."""
    if not conv.data.get("screen") and not conv.data.get("screen_each"):
        answer = ANSWER_NO if msg.payload == NONE_APPLY else _typed_answer(msg)
        if answer == ANSWER_NO:
            await accept(conv, screen={key: ANSWER_NO for key, _q in screen_questions(conv)})
            return Outcome.NEXT
        if msg.payload == ONE_BY_ONE or answer is not None:
            conv.data["screen_each"] = True
            return await ask_screen(conv)
        await wrong_answer(
            msg, conv, _("Please press “None of these apply”, or answer the questions one by one.")
        )
        return await ask_screen(conv)
    answer = _typed_answer(msg)
    if answer is None:
        await wrong_answer(msg, conv, _("Please answer “Yes”, “No” or “Not sure”."))
        return await ask_screen(conv)
    answers = dict(conv.data.get("screen", {}))
    key = next((k for k, _q in screen_questions(conv) if k not in answers), None)
    if key is not None:
        answers[key] = answer
    await accept(conv, screen=answers)
    deferred = screening.deferring(answers)
    if deferred is not None:
        return _defer(conv, deferred)
    if not screening_left(conv) and needs_screening(answers):
        conv.note(
            _(
                "Thank you. Because of these answers the doctor will examine {name} more closely "
                "at the site (cần khám sàng lọc kỹ tại điểm tiêm). The booking can still go ahead."
            ).format(name=_screened_name(conv))
        )
    return Outcome.NEXT


def _defer(conv: Conversation, key: str) -> Outcome:
    """Explain a "yes" that stops the booking; register without an appointment, or stop."""
    _outcome, meaning = screening.MEANING[key]
    text = _(meaning).format(name=_screened_name(conv))
    if FormState.of(conv).mode is not Mode.NEW:  # a registered person: nothing more to do now
        conv.finish()
        conv.reply(text, buttons=menu_buttons())
        return Outcome.STAY
    conv.data["site"] = ""  # the registration is kept, without a booking
    for stale in ("day", "slot"):
        conv.data.pop(stale, None)
    conv.note(
        text
        + "\n"
        + _(
            "You can still register {name} now, without an appointment; if the answer was a "
            "mistake, press “Change” and correct the screening answers."
        ).format(name=_screened_name(conv))
    )
    return Outcome.NEXT


def without_booking(data: dict[str, Any]) -> bool:
    """Whether the form ends without an appointment: no free place, or screening says wait.

    Read from the answers themselves, so no later change (another ward, say) books anyway.
    """
    return data.get("site") == "" or screening.deferring(data.get("screen", {})) is not None


def deferred_text(data: dict[str, Any]) -> str | None:
    """Why no appointment is made after the screening answers in a form's `data`, or None."""
    key = screening.deferring(data.get("screen", {}))
    if key is None:
        return None
    name = data.get("name") or data.get("person_name") or _("this person")
    return _(screening.MEANING[key][1]).format(name=name)
