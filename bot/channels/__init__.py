"""Channels translate between a platform and our `Incoming`/`Outgoing`; they never decide.

Each channel module holds one platform: parsing its updates, sending through its API, mapping
its errors to the four outcomes below, and its limits as data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Protocol

from bot.messages import Outgoing


@dataclass(frozen=True)
class ChannelLimits:
    """Platform limits the sender respects. `None` means the platform sets no limit."""

    text_length: int
    caption_length: int
    chat_rate_per_s: float | None
    chat_burst: int
    bulk_rate_per_s: float | None
    # Group chats may have a pace of their own (Telegram: 20 messages a minute); a chat is a
    # group when its id starts with `group_chat_prefix`.
    group_rate_per_s: float | None = None
    group_burst: int = 3
    group_chat_prefix: str | None = None

    def pace(self, chat_id: str) -> tuple[float | None, int]:
        """The sustained rate (None: no limit) and the burst allowed in one chat."""
        prefix = self.group_chat_prefix
        if prefix is not None and chat_id.startswith(prefix) and self.group_rate_per_s:
            return self.group_rate_per_s, self.group_burst
        return self.chat_rate_per_s, self.chat_burst


def fit(message: Outgoing, limits: ChannelLimits) -> list[Outgoing]:
    """Cut a message the platform would refuse as too long into several it accepts.

    Text is cut at paragraph, line or sentence ends where possible; the keyboard goes with the
    last part. An image whose text is too long for a caption goes first, without one. Each part
    becomes its own outbox row, so a retry never sends a part twice.
    """
    if message.image is not None or message.image_file_id:
        if len(message.text) <= limits.caption_length:
            return [message]
        bare = replace(message, text="", buttons=(), request_phone=None, remove_keyboard=False)
        text_only = replace(message, image=None, image_file_id=None)
        return [bare, *fit(text_only, limits)]
    parts = _cut(message.text, limits.text_length)
    if len(parts) == 1:
        return [message]
    plain = replace(message, buttons=(), request_phone=None, remove_keyboard=False)
    return [replace(plain, text=part) for part in parts[:-1]] + [replace(message, text=parts[-1])]


_BREAKS = (re.compile(r"\n\n"), re.compile(r"\n"), re.compile(r"[.!?…]\s"), re.compile(r"\s"))


def _cut(text: str, limit: int) -> list[str]:
    parts: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = limit
        for pattern in _BREAKS:
            ends = [m.end() for m in pattern.finditer(window) if m.end() > limit // 2]
            if ends:
                cut = ends[-1]
                break
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    parts.append(text)
    return parts


@dataclass(frozen=True, slots=True)
class Sent:
    """What the platform told us about a message it accepted.

    Attributes:
        message_id: The platform's id of the message, if it gives one.
        file_id: The platform's id of a picture we uploaded with it, to send it again by
            reference (Telegram's `file_id`); None when nothing was uploaded.
    """

    message_id: str | None = None
    file_id: str | None = None


class Channel(Protocol):
    """A platform the sender can deliver through."""

    name: str
    limits: ChannelLimits

    async def send(self, message: Outgoing, *, bulk: bool = False) -> Sent:
        """Deliver one message; return what the platform said about it.

        `bulk` marks proactive sends (broadcasts, reminders), which some platforms bill or
        pace differently from replies.

        Raises:
            RetryLater: the platform asks us to wait (HTTP 429).
            Unreachable: the recipient blocked the bot or no longer exists (HTTP 403).
            TemporaryFailure: network trouble or a server error; worth retrying.
            Undeliverable: the platform refuses this message for good (HTTP 400).
            WaitForUser: the platform accepts it only after the user writes again.
        """
        ...

    def fit(self, message: Outgoing) -> list[Outgoing]:
        """`message` cut into the messages the platform accepts (one outbox row each)."""
        ...


class SendError(Exception):
    """A delivery did not happen; the subclass says what to do about it."""


class RetryLater(SendError):
    """The platform is rate limiting us (or closed for now): try the same message later."""

    def __init__(self, seconds: float, reason: str = "rate limited") -> None:
        super().__init__(f"{reason}, retry after {seconds:g} s")
        self.seconds = seconds


class Unreachable(SendError):
    """The recipient cannot receive messages from us any more."""


class TemporaryFailure(SendError):
    """Network trouble or a server error."""


class Undeliverable(SendError):
    """The platform refused the message itself."""


class WaitForUser(SendError):
    """The platform takes the message only once the user writes again (Zalo's window).

    The message is kept and sent when they do, or after `seconds` if the platform will take
    it then another way (Zalo's template messages after the night ban); None: only then.
    """

    def __init__(self, reason: str, seconds: float | None = None) -> None:
        super().__init__(reason)
        self.seconds = seconds
