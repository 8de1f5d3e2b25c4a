"""The registration form's engine: the flow, its steps, its modes and the step routine.

Every field step accepts an answer, or refuses one kindly, and says so with an `Outcome`; the
flow's table (`bot.handlers.registration.flow`) then asks the next missing field or waits. So
field modules never call the flow: nothing here imports what is above it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot import payloads
from bot.conversation import Conversation
from bot.i18n import _
from bot.messages import Button, Incoming
from storage import people
from storage.models import Person

TRIES_BEFORE_HELP = 3
BACK = payloads.FORM_BACK
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


class Outcome(StrEnum):
    """What a field step came to: the flow's table decides what happens next."""

    STAY = "stay"  # the step waits (an answer refused, or a question asked)
    NEXT = "next"  # an answer kept or a field settled: ask the next missing field


class Mode(StrEnum):
    """What the form is filling in (`data["mode"]`)."""

    NEW = "new"  # a new person: every field, then a booking
    EXISTING = "existing"  # a person already on the account: screening, then site/day/slot
    MOVE = "move"  # an existing booking moved: site/day/slot only
    IDENTITY = "identity"  # the identity fields only (name to ward), for a PCR QR


def mode_of(conv: Conversation) -> Mode | None:
    """The form's mode, None before it is chosen."""
    mode = conv.data.get("mode")
    return Mode(mode) if mode else None


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
