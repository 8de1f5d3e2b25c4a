"""The registration form's engine: the flow, its steps, its modes and the step routine.

Every field step accepts an answer, or refuses one kindly, and says so with an `Outcome`; the
flow's table (`bot.handlers.registration.flow`) then asks the next missing field or waits. So
field modules never call the flow: nothing here imports what is above it.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    LEAVE = "leave"  # a menu entry chosen mid-form: leave the form, or go on?


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


class Relation(StrEnum):
    """Whom a new person is to the account's holder (`data["relation"]`)."""

    SELF = "self"
    OTHER = "other"


@dataclass(frozen=True)
class FormState:
    """What steers the form, typed; the rest of `conv.data` are the answers to its fields.

    The conversation row keeps it as JSON (so a restart continues at the same step); this is
    how the code reads it.
    """

    mode: Mode | None  # None until "who" is answered
    relation: Relation | None  # a new person: the holder or a relative
    person: int | None  # the registered person being booked for (EXISTING, MOVE)
    moving: int | None  # the booking being moved (MOVE)
    ask_group: bool  # EXISTING: the priority group was never asked (registered for a QR)
    purpose: Mode | None  # IDENTITY: started from /maqr, the QR comes at the end

    @classmethod
    def of(cls, conv: Conversation) -> FormState:
        """The form's state in this conversation."""
        data = conv.data

        def number(key: str) -> int | None:
            value = data.get(key)
            return int(value) if value is not None else None

        return cls(
            mode=Mode(data["mode"]) if data.get("mode") else None,
            relation=Relation(data["relation"]) if data.get("relation") else None,
            person=number("person"),
            moving=number("move"),
            ask_group=bool(data.get("ask_group")),
            purpose=Mode(data["purpose"]) if data.get("purpose") else None,
        )

    @property
    def for_self(self) -> bool:
        """Whether the person registered is the account's holder."""
        return self.relation is Relation.SELF


def mode_of(conv: Conversation) -> Mode | None:
    """The form's mode, None before it is chosen."""
    return FormState.of(conv).mode


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
    conv.note(text)  # joins the question asked again, if any


async def person_of_account(conv: Conversation, person_id: int) -> Person | None:
    """A person if, and only if, they are registered on this conversation's account."""
    person = await people.get_person(conv.session, person_id)
    return person if person is not None and person.account_id == conv.owner_id else None
