"""What a handler sees of one chat during one event: its state, its account, and `reply()`.

The dispatcher loads it from the database in the event's unit of work and saves it in the same
transaction, so the step a citizen is on survives restarts and never drifts from the data.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.crypto import DataProtector
from bot.domain.dcc.trust import Authority
from bot.domain.tickets import Desk
from bot.messages import Button, ChatRef, Incoming, Outgoing, payload_id
from storage.conversations import SavedState
from storage.models import Account

# Payload namespaces valid from any message, however old (the main menu, the language picker,
# the appointment, certificate, "book the next dose" and campaign buttons, which name their
# booking, certificate, person, invitation or campaign and are checked on use).
# Also the broadcast ("bc:") and ticket ("tk:") buttons, which name their broadcast or ticket.
# And "rx:report", the offer to report a reaction after vaccination (bot.handlers.reactions),
# and "ci:", the answers to a post-vaccination check-in (bot.handlers.checkins).
GLOBAL_PAYLOADS = (
    "menu:", "lang:", "appt:", "cert:", "book:", "camp:", "bc:", "tk:", "rx:report", "ci:",
)  # fmt: skip
_STAMP_SEPARATOR = "|"
_WORD = re.compile(r"[a-z_]+")  # a part of a payload that names no row
# Step payloads get a stamp such as "12|" in front; Telegram allows 64 bytes in all.
MAX_STEP_PAYLOAD = 48


@dataclass(frozen=True)
class Services:
    """What handlers may use besides the database session."""

    settings: Settings
    protector: DataProtector
    clock: Clock
    authority: Authority  # signs and checks certificates
    # Called after a commit that issued certificates, so their pictures are made at once.
    certificates_issued: Callable[[], None] = lambda: None
    desk: Desk | None = None  # the support staff's chat, if one is configured
    desk_woken: Callable[[], None] = lambda: None  # a ticket opened: put it on the desk now
    outbox_written: Callable[[], None] = lambda: None  # rows for other chats: send them now
    # Rows cancelled in the table (a broadcast stopped): the sender must not send its copies.
    outbox_withdrawn: Callable[[set[int]], None] = lambda ids: None
    # Cuts a message for other chats to its channel's shape (Zalo: a picture, then its text).
    fit: Callable[[Outgoing], list[Outgoing]] = lambda message: [message]


class Conversation:
    """The state of one chat (flow, step, data) during one event, and the replies it queues."""

    def __init__(
        self,
        *,
        session: AsyncSession,
        account: Account,
        saved: SavedState,
        chat: ChatRef,
        services: Services,
        now: datetime,
    ) -> None:
        self.session = session
        self.account = account
        self.chat = chat
        self.services = services
        self.now = now
        self.flow: str | None = saved.flow
        self.step: str | None = saved.step
        self.data: dict[str, Any] = dict(saved.data or {})
        # The support ticket open for this account: while there is one, what the citizen
        # writes goes to staff and the flow above waits (bot.handlers.support).
        self.ticket_id: int | None = saved.open_ticket
        self.erased = False
        self.stale_button = False  # set by the dispatcher: a button from an outdated prompt
        self._saved = saved
        self._replies: list[Outgoing] = []
        self._notes: list[str] = []  # said with the next reply (an echo joins the next question)
        self.after_commit: list[Callable[[], None]] = []  # run once the event is committed

    @property
    def owner_id(self) -> int:
        """The account whose people, bookings, results and certificates this chat shows.

        Its own, or, for a chat linked to another of the citizen's (/lienket), that one's.
        """
        return self.account.holder_id or self.account.id

    @property
    def consented(self) -> bool:
        """Whether the citizen has agreed to the current processing terms."""
        return self.account.consent_version is not None

    def reply(
        self,
        text: str,
        *,
        buttons: Iterable[Sequence[Button]] = (),
        image: bytes | None = None,
        request_phone: str | None = None,
        remove_keyboard: bool = False,
    ) -> None:
        """Queue a message to this chat; it is written to the outbox when the event commits.

        Raises:
            ValueError: a step button's payload leaves no room for the prompt stamp.
        """
        rows = tuple(tuple(row) for row in buttons)
        for button in (b for row in rows for b in row):
            if len(button.payload) > MAX_STEP_PAYLOAD and not button.payload.startswith(
                GLOBAL_PAYLOADS
            ):
                raise ValueError(f"step button payloads are at most {MAX_STEP_PAYLOAD} bytes")
        if self._notes:
            text = "\n".join([*self._notes, text] if text else self._notes)
            self._notes.clear()
        self._replies.append(
            Outgoing(
                chat=self.chat,
                text=text,
                buttons=rows,
                image=image,
                request_phone=request_phone,
                remove_keyboard=remove_keyboard,
            )
        )

    def note(self, text: str) -> None:
        """Say `text` at the head of the next reply (one message per step, not two).

        A note no reply follows in this event is sent alone when the event concludes.
        """
        self._notes.append(text)

    def send(self, message: Outgoing) -> None:
        """Queue a message built elsewhere (e.g. a certificate photo) to this chat."""
        if message.chat != self.chat:
            raise ValueError("a conversation only sends to its own chat")
        self._replies.append(message)

    def goto(self, flow: str, step: str, **data: Any) -> None:
        """Move to `step` of `flow`, adding `data` to what the flow has collected."""
        if flow != self.flow:
            self.data = {}
        self.flow, self.step = flow, step
        self.data.update(data)

    def finish(self) -> None:
        """Leave the current flow and forget what it collected."""
        self.flow, self.step, self.data = None, None, {}

    def erase(self) -> None:
        """The account was deleted in this event: save nothing more about it."""
        self.erased = True
        self.finish()

    def idle_for(self) -> timedelta:
        """How long since the conversation last moved."""
        return self.now - self._saved.updated_at

    def is_stale(self, payload: str) -> bool:
        """Whether a pressed button belongs to a prompt that no longer applies.

        So is one that names an id none of our buttons can carry (`appt:qr:99999999999999`):
        a payload is whatever the client sends, and a made-up one is answered as an old one.
        """
        stamp, separator, _ = payload.partition(_STAMP_SEPARATOR)
        if separator and stamp != str(self._saved.prompt):
            return True
        return _names_no_row(unstamped(payload))

    def conclude(self) -> tuple[SavedState, list[Outgoing]]:
        """The state to save after this event, and the replies with their buttons stamped."""
        if self._notes:
            self.reply("")
        saved = self._saved
        # A new question (a new step, or step buttons sent again: the next screening question,
        # a refreshed list of slots) makes the buttons of every earlier message stale.
        moved = (self.flow, self.step) != (saved.flow, saved.step) or self._asks_with_buttons()
        prompt = saved.prompt + 1 if moved else saved.prompt
        state = SavedState(
            flow=self.flow,
            step=self.step,
            data=self.data,
            prompt=prompt,
            version=saved.version + 1,
            updated_at=self.now,
            open_ticket=self.ticket_id,
        )
        return state, [self._stamped(reply, prompt) for reply in self._replies]

    def _asks_with_buttons(self) -> bool:
        return any(
            not button.payload.startswith(GLOBAL_PAYLOADS)
            for reply in self._replies
            for row in reply.buttons
            for button in row
        )

    def replies(self) -> list[Outgoing]:
        """The queued replies as they are, for an event whose state is not saved."""
        if self._notes:
            self.reply("")
        return list(self._replies)

    @staticmethod
    def _stamped(reply: Outgoing, prompt: int) -> Outgoing:
        if not reply.buttons:
            return reply
        rows = tuple(
            tuple(
                button
                if button.payload.startswith(GLOBAL_PAYLOADS)
                else Button(button.label, f"{prompt}{_STAMP_SEPARATOR}{button.payload}")
                for button in row
            )
            for row in reply.buttons
        )
        return replace(reply, buttons=rows)


Handler = Callable[[Incoming, Conversation], Awaitable[None]]
"""A flow step: reads the update, changes the conversation, queues replies."""


def unstamped(payload: str) -> str:
    """A button payload without the prompt stamp the dispatcher added."""
    return payload.rpartition(_STAMP_SEPARATOR)[2]


def _names_no_row(payload: str) -> bool:
    """Whether a global payload has a part that is no id (`payload_id`) of a row.

    Its parts are words (`appt`, `qr`) and row ids: any other part (`-1`, `1.5`, `²`, nothing)
    was made up.
    """
    return payload.startswith(GLOBAL_PAYLOADS) and any(
        not _WORD.fullmatch(part) and payload_id(part) is None for part in payload.split(":")
    )
