"""What the registration form's modules share: the flow, its steps, and the step routine.

Every step accepts an answer, or refuses one kindly, then lets the form go on.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.conversation import Conversation
from bot.i18n import _
from bot.messages import Button, Incoming
from storage import people
from storage.models import Person

TRIES_BEFORE_HELP = 3
BACK = "form:back"
FLOW = "register"


class RegisterStep(StrEnum):
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


async def advance(conv: Conversation) -> None:
    """Ask the form's next missing field (see registration.advance)."""
    from bot.handlers.registration import flow as registration  # the form's order lives there

    await registration.advance(conv)


async def accept(conv: Conversation, **answers: Any) -> None:
    """Keep answers and reset the wrong-answer count of the current step."""
    conv.data.update(answers)
    tries = conv.data.get("tries", {})
    tries.pop(conv.step or "", None)
    conv.data["tries"] = tries


async def wrong_answer(
    msg: Incoming, conv: Conversation, text: str, *, support_now: bool = False
) -> None:
    """Say what was wrong; the step stays. From the third wrong answer, offer help and back."""
    tries = dict(conv.data.get("tries", {}))
    step = conv.step or ""
    tries[step] = tries.get(step, 0) + 1
    conv.data["tries"] = tries
    if tries[step] >= TRIES_BEFORE_HELP or support_now:
        conv.reply(
            text + "\n" + _("Need a hand? A staff member can help, or you can go back a step."),
            buttons=[
                [Button(_("Talk to support staff"), "menu:support")],
                [Button(_("Back"), BACK)],
            ],
        )
        return
    conv.reply(text)


async def person_of_account(conv: Conversation, person_id: int) -> Person | None:
    """A person if, and only if, they are registered on this conversation's account."""
    person = await people.get_person(conv.session, person_id)
    return person if person is not None and person.account_id == conv.owner_id else None
