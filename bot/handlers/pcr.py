"""PCR testing for citizens: the personal QR for sampling, one's results, and a safe lookup.

`/maqr`: one QR per person on the account (a signed, expiring, opaque token; nothing personal
inside); with nobody registered yet, the identity part of registration comes first.
`/ketqua`: the latest result or pending tube of each person on the account.
Flow `lookup` (`/tracuu`): a relative's result by tube code or ID number, plus date of birth.
    METHOD -> "by tube code" / "by ID number"
    VALUE  -> the tube code or the ID number
    DOB    -> the date of birth; the answer never says whether a tube or an ID exists unless the
              date of birth matches. A chat (and, on the web, a network) that keeps failing waits
              longer after each failure; the tube or ID number is never locked, but staff are
              alerted when many chats fail against it (bot.domain.lookups).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from enum import StrEnum

from bot.conversation import Conversation, Handler
from bot.domain import lookups
from bot.domain.identity import id_index
from bot.domain.results import NEGATIVE, certificate_button, result_text
from bot.domain.samples import read_tube_code
from bot.handlers import registration
from bot.handlers.menu import menu_buttons
from bot.handlers.sampling_qr import send_qr
from bot.i18n import _, format_moment, local_day
from bot.messages import Button, Incoming
from bot.vn.dates import InvalidDate, parse_birth_date
from bot.vn.ids import InvalidId, parse_personal_id
from bot.vn.phone import mask_id_number
from storage import people, samples, staff
from storage.models import Person, Sample, Site

FLOW = "lookup"
LOOKUP_CHAT, LOOKUP_TARGET = "lookup-chat", "lookup-target"  # blind-index kinds


class Step(StrEnum):
    """Where the lookup flow waits."""

    METHOD = "method"
    VALUE = "value"
    DOB = "dob"


async def show_qr(msg: Incoming, conv: Conversation) -> None:
    """/maqr: a sampling QR for each person on the account (registering someone first if none)."""
    registered = list(await people.people_of(conv.session, conv.owner_id))
    if not registered:
        await registration.start_identity(conv)
        return
    conv.finish()
    await send_qr(conv, registered)


async def add_person_for_qr(msg: Incoming, conv: Conversation) -> None:
    """Register one more person (identity only) to give them a sampling QR too."""
    await registration.start_identity(conv)


async def show_results(msg: Incoming, conv: Conversation) -> None:
    """/ketqua: each person's latest result or pending tube, and the ways to look further."""
    conv.finish()
    registered = await people.people_of(conv.session, conv.owner_id)
    lines = []
    certificate_buttons = []
    for person in registered:
        pending = await samples.open_tube_of(conv.session, person.id)
        latest = await samples.latest_of(conv.session, person.id)
        if pending is not None:
            lines.append(
                _("{name}: tube {tube} taken {moment}, result pending.").format(
                    name=person.full_name,
                    tube=pending.tube_code,
                    moment=format_moment(pending.taken_at),
                )
            )
        if latest is not None:
            lines.append(await _result_of(conv, latest, person))
            if latest.result == NEGATIVE:
                payload = certificate_button(latest, person)[0][0].payload
                label = _("Test certificate: {name}").format(name=person.full_name)
                certificate_buttons.append([Button(label[:60], payload)])
        if pending is None and latest is None:
            lines.append(_("{name}: no PCR test yet.").format(name=person.full_name))
    if not lines:
        lines.append(_("Nobody on this account has a PCR test yet."))
    conv.reply(
        "\n\n".join(lines),
        buttons=[
            *certificate_buttons,
            [Button(_("PCR sampling QR"), "menu:qr")],
            [Button(_("Look up a relative's result"), "menu:lookup")],
        ],
    )


async def _result_of(conv: Conversation, sample: Sample, person: Person) -> str:
    site = await conv.session.get(Site, sample.site_id) if sample.site_id else None
    return result_text(sample, person, site)


# ---------------------------------------------------------------- lookup


def _chat_key(conv: Conversation) -> str:
    """The chat, as a keyed hash: failed lookups outlive an erased account."""
    chat = conv.chat
    return conv.services.protector.blind_index(LOOKUP_CHAT, f"{chat.channel}:{chat.chat_id}")


def _target(conv: Conversation) -> str:
    """The tube or ID number being looked up, as a keyed hash."""
    data = conv.data
    key = f"tube:{data['tube']}" if "tube" in data else f"id:{data.get('id_index', '')}"
    return conv.services.protector.blind_index(LOOKUP_TARGET, key)


async def _wait_left(msg: Incoming, conv: Conversation) -> timedelta | None:
    """How long this chat, or the network it writes from, must wait before looking up again."""
    return await lookups.wait_left(
        conv.session, chat_key=_chat_key(conv), client_key=msg.client_key, now=conv.now
    )


def _wait_words(left: timedelta) -> str:
    """A wait in whole minutes (rounded up); from two hours on, in hours and minutes."""
    minutes = max(1, math.ceil(left.total_seconds() / 60))
    hours, rest = divmod(minutes, 60)
    if hours < 2:
        return _("{minutes} min").format(minutes=minutes)
    if not rest:
        return _("{hours} h").format(hours=hours)
    return _("{hours} h {minutes} min").format(hours=hours, minutes=rest)


def _wait_text(left: timedelta) -> str:
    return _(
        "Several lookups from here did not match. To protect people's health data, please "
        "wait {wait} before trying again, and meanwhile check the code or ID number and the "
        "date of birth on the slip."
    ).format(wait=_wait_words(left))


async def start_lookup(msg: Incoming, conv: Conversation) -> None:
    """/tracuu: ask how to find the result."""
    left = await _wait_left(msg, conv)
    if left is not None:
        conv.finish()
        conv.reply(_wait_text(left), buttons=menu_buttons())
        return
    conv.finish()
    conv.goto(FLOW, Step.METHOD)
    conv.reply(
        _(
            "Look up a PCR result for someone not on this account (for example from a "
            "relative's paper slip). How do you want to look it up?"
        ),
        buttons=[
            [
                Button(_("By tube code"), "look:tube"),
                Button(_("By ID number"), "look:id"),
            ]
        ],
    )


async def receive_method(msg: Incoming, conv: Conversation) -> None:
    """Ask for the tube code or the ID number."""
    if msg.payload == "look:tube":
        conv.goto(FLOW, Step.VALUE, method="tube")
        conv.reply(_("The tube code printed on the slip, for example HCM-0012345?"))
    elif msg.payload == "look:id":
        conv.goto(FLOW, Step.VALUE, method="id")
        conv.reply(_("The 12-digit ID number, for example 079 190 012 345?"))
    else:
        conv.reply(_("Please choose with the buttons: by tube code or by ID number."))


async def receive_value(msg: Incoming, conv: Conversation) -> None:
    """Check the form of the code or number; keep it (an ID number sealed) and ask the DOB."""
    if conv.data.get("method") == "tube":
        code = read_tube_code(msg.text)
        if code is None:
            conv.reply(_("A tube code has 4-40 letters, digits or dashes. Please type it again."))
            return
        conv.goto(FLOW, Step.DOB, tube=code, masked=lookups.mask_code(code))
    else:
        try:
            pid = parse_personal_id(msg.text, current_year=conv.now.year)
        except InvalidId:
            conv.reply(_("Please type the 12 digits of the ID number, for example 079190012345."))
            return
        conv.goto(
            FLOW,
            Step.DOB,
            id_index=id_index(conv.services.protector, pid.number),
            masked=mask_id_number(pid.number),
        )
    conv.reply(_("The person's date of birth, for example 02/01/1990?"))


async def receive_dob(msg: Incoming, conv: Conversation) -> None:
    """Answer only if the date of birth matches; otherwise count a failed lookup."""
    try:
        born = parse_birth_date(msg.text, today=local_day(conv.now))
    except InvalidDate:
        conv.reply(_("Please type the date of birth as day/month/year, e.g. 02/01/1990."))
        return
    left = await _wait_left(msg, conv)
    if left is not None:
        conv.finish()
        conv.reply(_wait_text(left), buttons=menu_buttons())
        return
    found = await _find(conv, born)
    if found is None:
        await _no_match(msg, conv)
        return
    conv.finish()
    person, sample = found
    await staff.audit(
        conv.session,
        actor=f"citizen:{conv.chat.channel}:{conv.account.id}",
        action="result_looked_up",
        subject=f"tube:{sample.tube_code}",
        now=conv.now,
    )
    if sample.result is None:
        text = _(
            "{name}: tube {tube}, taken on {moment}, is waiting for its result. It will be sent "
            "to the chat that registered them."
        ).format(
            name=person.full_name, tube=sample.tube_code, moment=format_moment(sample.taken_at)
        )
        conv.reply(text, buttons=menu_buttons())
        return
    conv.reply(await _result_of(conv, sample, person), buttons=menu_buttons())


async def _no_match(msg: Incoming, conv: Conversation) -> None:
    """Count the failure against this chat and network (and the target, for staff); say so."""
    kind = lookups.TUBE if "tube" in conv.data else lookups.ID_NUMBER
    target, masked = _target(conv), conv.data.get("masked", "")
    conv.finish()
    desk = conv.services.desk
    if await lookups.record_failure(
        conv.session,
        chat_key=_chat_key(conv),
        client_key=msg.client_key,
        target=target,
        kind=kind,
        masked=masked,
        desk=desk.chat if desk else None,
        now=conv.now,
    ):
        conv.after_commit.append(conv.services.outbox_written)
    text = _(
        "No result matches these details. Please check the code or number and the date of "
        "birth on the slip, then try /tracuu again."
    )
    left = await _wait_left(msg, conv)
    if left is not None:
        text += " " + _("Before the next try, please wait {wait}.").format(wait=_wait_words(left))
    conv.reply(text, buttons=menu_buttons())


async def _find(conv: Conversation, born: date) -> tuple[Person, Sample] | None:
    """The person and the tube to report, matching the code or number and the birth date.

    A person with no tube at all is "no match" too: the lookup is for results, and must not
    tell whether someone is registered.
    """
    data = conv.data
    if "tube" in data:
        sample = await samples.by_tube(conv.session, data["tube"])
        if sample is None:
            return None
        for _member, person, _account in await samples.members_with_accounts(
            conv.session, sample.id
        ):
            if person.birth_date == born:
                return person, sample
        return None
    found = await people.find_by_id_index(conv.session, data.get("id_index", ""))
    if found is None or found[0].birth_date != born:
        return None
    person = found[0]
    latest = await samples.latest_of(conv.session, person.id)
    pending = await samples.open_tube_of(conv.session, person.id)
    if pending is not None and (latest is None or pending.taken_at > latest.taken_at):
        return person, pending  # a newer tube is waiting: an older result would mislead
    return (person, latest) if latest is not None else None


STEPS: dict[str, Handler] = {
    Step.METHOD: receive_method,
    Step.VALUE: receive_value,
    Step.DOB: receive_dob,
}
