"""A way back in, the citizen's side: "this ID number is mine".

The rules (codes, limits, linking, recovery tickets) are in `bot.domain.account_recovery`.

An ID number refused by the registration form (held by another account) is kept sealed in the
conversation (`hold`), and the refusal offers "This ID number is mine" (`rc:mine`):

    rc:mine / rc:again -> a code goes to the chats the number was registered from (the same
                          answer whether there are any); the flow waits for it (CODE).
    CODE               -> the right code links this chat with those records; a wrong one is
                          counted, and the last try opens a recovery ticket for staff.
    rc:help            -> "I cannot get the code": a recovery ticket for staff to check.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from bot import payloads
from bot.conversation import Conversation, Handler
from bot.domain import account_recovery as recovery
from bot.domain import tickets as ticket_rules
from bot.domain.identity import id_index
from bot.handlers.menu import menu_buttons
from bot.i18n import _, use_locale
from bot.messages import Button, Incoming, Kind
from storage import people
from storage.models import Person

FLOW = "recover"
HELD = "held_idn"  # the refused ID number, sealed, in the registration's or this flow's data
MINE, AGAIN, HELP = (f"{payloads.RECOVER}{word}" for word in ("mine", "again", "help"))


class Step(StrEnum):
    """Where the recovery flow waits."""

    CODE = "code"


def hold(conv: Conversation, number: str) -> Button:
    """Keep a refused ID number (sealed) for "this ID number is mine"; that button."""
    conv.data[HELD] = base64.b64encode(conv.services.protector.seal(number)).decode()
    return Button(_("This ID number is mine"), MINE)


def _held(conv: Conversation) -> str | None:
    held = conv.data.get(HELD)
    return held if isinstance(held, str) else None


async def _person(conv: Conversation, held: str) -> Person | None:
    number = conv.services.protector.open(base64.b64decode(held))
    found = await people.find_by_id_index(conv.session, id_index(conv.services.protector, number))
    return found[0] if found else None


async def receive_button(msg: Incoming, conv: Conversation) -> None:
    """rc:mine or rc:again send a code; rc:help opens a recovery ticket."""
    held = _held(conv)
    if held is None:
        conv.reply(
            _("This button no longer works. Please type /dangky to start again."),
            buttons=menu_buttons(),
        )
        return
    person = await _person(conv, held)
    if person is not None and person.account_id == conv.owner_id:
        conv.finish()
        conv.reply(
            _("{name} is already registered on this account.").format(name=person.full_name),
            buttons=menu_buttons(),
        )
        return
    if person is None:  # erased meanwhile: the number is free, as the form would say too
        conv.finish()
        conv.reply(
            _("Nobody else holds this ID number any more. Please type /dangky to try again."),
            buttons=menu_buttons(),
        )
        return
    if msg.payload == HELP:
        await _open_case(conv, person)
        return
    await _send_code(conv, held, person)


async def _send_code(conv: Conversation, held: str, person: Person) -> None:
    """A fresh code to the person's chats; the same answer whatever was sent."""
    protector = conv.services.protector
    if not await recovery.may_send_code(
        conv.session, protector, chat=conv.chat, id_index=person.id_index, now=conv.now
    ):
        await _open_case(conv, person)
        return
    code = f"{secrets.randbelow(10**6):06d}"
    if await recovery.send_code(conv.session, conv.account, person, code, now=conv.now):
        conv.after_commit.append(conv.services.outbox_written)
    minutes = conv.services.settings.recovery_code_minutes
    expires = conv.now + timedelta(minutes=minutes)
    conv.goto(
        FLOW,
        Step.CODE,
        **{HELD: held},
        person=person.id,
        code=recovery.code_hash(protector, person.id, code),
        expires=expires.isoformat(),
        tries=0,
    )
    conv.reply(
        _(
            "If this ID number is yours, we have just sent a six-digit code to the chats it was "
            "registered from. Please type it here within {minutes} minutes. If you cannot open "
            "those chats any more, press “I cannot get the code” and a staff member will check "
            "with you."
        ).format(minutes=int(minutes)),
        buttons=[[Button(_("I cannot get the code"), HELP)]],
    )


async def receive_code(msg: Incoming, conv: Conversation) -> None:
    """Link this chat with the records if the code is right and fresh; count wrong ones."""
    typed = "".join(ch for ch in msg.text if ch.isdigit()) if msg.kind == Kind.TEXT else ""
    kept, person_id = conv.data.get("code"), int(conv.data.get("person", 0))
    if not kept or datetime.fromisoformat(conv.data["expires"]) < conv.now:
        conv.goto(FLOW, Step.CODE, code="")  # nothing to match any more
        conv.reply(
            _("That code has expired."),
            buttons=[
                [Button(_("Send a new code"), AGAIN)],
                [Button(_("I cannot get the code"), HELP)],
            ],
        )
        return
    if not recovery.code_matches(conv.services.protector, person_id, typed, kept):
        await _wrong_code(conv, person_id)
        return
    person = await people.get_person(conv.session, person_id)
    conv.finish()  # the code works once
    if person is None or not await recovery.join(conv.session, conv.account, person, now=conv.now):
        conv.reply(
            _("Those records can no longer be opened here. Please choose “Support”."),
            buttons=menu_buttons(),
        )
        return
    conv.reply(
        _(
            "Done: the records of {name} are in this chat now, linked with the chats they were "
            "registered from. Appointments, results and certificates show here, and messages "
            "come to the chat you used last."
        ).format(name=person.full_name),
        buttons=menu_buttons(),
    )


async def _wrong_code(conv: Conversation, person_id: int) -> None:
    tries = int(conv.data.get("tries", 0)) + 1
    if tries >= recovery.MAX_TRIES:
        await _open_case(conv, await people.get_person(conv.session, person_id))
        return
    conv.goto(FLOW, Step.CODE, tries=tries)
    conv.reply(_("That code is not right. Please check it and type the six digits again."))


async def _open_case(conv: Conversation, person: Person | None) -> None:
    """A recovery ticket for staff to check the person; the citizen talks with them here."""
    conv.finish()
    session, account = conv.session, conv.account
    with use_locale(ticket_rules.DESK_LOCALE):
        who = await ticket_rules.describe_citizen(session, account, conv.services.protector)
        context = await ticket_rules.recent_context(session, account, "")
    ticket = await recovery.open_case(
        session,
        account,
        person,
        recovery.Case(who, context),
        protector=conv.services.protector,
        desk=conv.services.desk,
        now=conv.now,
    )
    conv.ticket_id = ticket.id
    conv.after_commit.append(conv.services.desk_woken)
    conv.reply(
        _(
            "A support staff member will check that this ID number is yours (request #{id}) "
            "and then move the records to this chat. They may ask you a few questions here, "
            "usually within 15 minutes in office hours."
        ).format(id=ticket.id),
        buttons=[[Button(_("End the conversation"), ticket_rules.END)]],
    )


STEPS: dict[str, Handler] = {Step.CODE: receive_code}
