"""A citizen on the Telegram emulator who walks a flow the shortest way and counts their answers.

Issue 16 item 3 ("half the taps"): each answer is one message typed or one button pressed (a
shared contact too). The walker reads the step the conversation waits on and gives the answer a
citizen in a hurry gives: the suggested button when there is one, else the first offer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.app import Service
from storage import accounts
from tests.chat import Message, labels, press_all, say_all, settle
from tests.fakes.telegram_api import TelegramEmulator

MAX_ANSWERS = 40  # a walk that needs more has lost its way


@dataclass
class Walker:
    """One Telegram chat, its answers counted."""

    service: Service
    emu: TelegramEmulator
    chat: int
    answers: int = 0
    last: list[Message] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)  # how many messages each answer got

    async def say(self, text: str) -> list[Message]:
        """Type a message (a command if it starts with /)."""
        self._count()
        self.last = await say_all(self.service, self.emu, self.chat, text)
        self.messages.append(len(self.last))
        return self.last

    async def press(self, label: str) -> list[Message]:
        """Press the button labelled `label` under the last message that has it."""
        message = next(m for m in reversed(self.last) if label in labels(m))
        self._count()
        self.last = await press_all(self.service, self.emu, self.chat, message, label)
        self.messages.append(len(self.last))
        return self.last

    async def share_contact(self, phone: str) -> list[Message]:
        """Press Telegram's "share my phone number" keyboard button."""
        self._count()
        before = len(self.emu.sent(self.chat))
        self.emu.user_contact(self.chat, phone)
        self.last = await settle(self.service, self.emu, self.chat, before)
        self.messages.append(len(self.last))
        return self.last

    def buttons(self) -> list[str]:
        """The inline buttons under the last messages, in order."""
        return [label for message in self.last for label in labels(message)]

    def text(self) -> str:
        """The texts (and captions) of the last messages, joined."""
        return "\n".join(m.get("text") or m.get("caption") or "" for m in self.last)

    async def step(self) -> tuple[str | None, str | None]:
        """The flow and step the conversation waits on."""
        async with self.service.db.read_scope() as session:
            loaded = await accounts.load_chat(session, channel="telegram", chat_id=str(self.chat))
        assert loaded is not None
        return loaded[1].flow, loaded[1].step

    def _count(self) -> None:
        self.answers += 1
        assert self.answers <= MAX_ANSWERS, "the walk has lost its way"


@dataclass(frozen=True)
class Person:
    """What a citizen answers about the person registered."""

    name: str
    dob: str
    gender: str  # the button's label
    idn: str
    phone: str
    province: str = "tp hcm"
    ward: str = "ben thanh"


# Answers in the order a citizen looks for them: the shortest way through each question.
NONE_APPLY = "Không có điều nào"
SUGGESTED = "✓"


async def answer(walker: Walker, person: Person) -> bool:
    """Answer the question the registration waits on; False once it waits on nothing."""
    flow, step = await walker.step()
    if flow != "register":
        return False
    buttons = walker.buttons()
    suggested = [b for b in buttons if b.startswith(SUGGESTED)]
    typed = {
        "name": person.name,
        "dob": person.dob,
        "id": person.idn,
        "province": person.province,
        "ward": person.ward,
    }
    if step in typed:
        await walker.say(typed[step])
    elif step == "gender":
        await walker.press(person.gender)
    elif step == "phone":
        await _phone(walker, person)
    elif step == "screen":
        await walker.press(NONE_APPLY if NONE_APPLY in buttons else "Không")
    elif step == "summary":
        await walker.press("Xác nhận")
    elif suggested:
        await walker.press(suggested[0])
    elif step == "group":
        await walker.press("5" if "5" in buttons else buttons[4])
    else:  # who (first offer), site, day, slot: the first button
        await walker.press(buttons[0])
    return True


async def _phone(walker: Walker, person: Person) -> None:
    asks_contact = any("keyboard" in (m.get("reply_markup") or {}) for m in walker.last)
    if asks_contact:
        await walker.share_contact(person.phone)
    else:
        await walker.say(person.phone)


async def walk_registration(walker: Walker, person: Person, who: str) -> list[Message]:
    """From "đăng ký tiêm" to the booking card: `who` is the button of the first question."""
    await walker.say("đăng ký tiêm")
    await walker.press(who)
    while await answer(walker, person):
        pass
    return walker.last
