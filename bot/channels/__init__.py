"""Channels translate between a platform and our `Incoming`/`Outgoing`; they never decide.

Each channel module holds one platform: parsing its updates, sending through its API, mapping
its errors to the four outcomes below, and its limits as data.
"""

from __future__ import annotations

from dataclasses import dataclass
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


class Channel(Protocol):
    """A platform the sender can deliver through."""

    name: str
    limits: ChannelLimits

    async def send(self, message: Outgoing, *, bulk: bool = False) -> str | None:
        """Deliver one message; return the platform's message id if it gives one.

        `bulk` marks proactive sends (broadcasts, reminders), which some platforms bill or
        pace differently from replies.

        Raises:
            RetryLater: the platform asks us to wait (HTTP 429).
            Unreachable: the recipient blocked the bot or no longer exists (HTTP 403).
            TemporaryFailure: network trouble or a server error; worth retrying.
            Undeliverable: the platform refuses this message for good (HTTP 400).
        """
        ...


class SendError(Exception):
    """A delivery did not happen; the subclass says what to do about it."""


class RetryLater(SendError):
    """The platform is rate limiting us; try the same message after `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"rate limited, retry after {seconds:g} s")
        self.seconds = seconds


class Unreachable(SendError):
    """The recipient cannot receive messages from us any more."""


class TemporaryFailure(SendError):
    """Network trouble or a server error."""


class Undeliverable(SendError):
    """The platform refused the message itself."""
