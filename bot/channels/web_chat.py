"""The built-in web chat: the embedded default channel, needing no token at all.

The browser posts what the citizen typed or pressed; what the bot says is read back from the
outbox (so a reload or a restart loses nothing). "Sending" a web message therefore only wakes
the browser's long poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Iterator
from typing import Any

from bot.channels import ChannelLimits, Sent, fit
from bot.messages import ChatRef, Incoming, Kind, Outgoing
from bot.vn.text import clean_text

NAME = "web"
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\S+)?(?:\s+(.*))?$", re.DOTALL)


class BadWebMessage(ValueError):
    """The browser sent something that is not a chat message."""


class WebChannel:
    """Translate web chat posts to `Incoming`; wake long polls when a reply is ready."""

    name = NAME
    limits = ChannelLimits(
        text_length=10_000,
        caption_length=10_000,
        chat_rate_per_s=None,
        chat_burst=1,
        bulk_rate_per_s=None,
    )

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._closed = False

    @property
    def listeners(self) -> int:
        """How many browsers wait for a reply now (long polls in progress)."""
        return sum(len(waiters) for waiters in self._waiters.values())

    def fit(self, message: Outgoing) -> list[Outgoing]:
        """`message` as it is, unless longer than a page of text."""
        return fit(message, self.limits)

    async def send(self, message: Outgoing, *, bulk: bool = False) -> Sent:
        """Wake the browsers waiting on this chat; the message itself is read from the outbox."""
        for event in self._waiters.get(message.chat.chat_id, ()):
            event.set()
        return Sent()

    def close(self) -> None:
        """Wake every waiting browser now, and from now on do not let them wait (shutdown)."""
        self._closed = True
        for events in self._waiters.values():
            for event in events:
                event.set()

    @contextlib.contextmanager
    def listen(self, chat_id: str) -> Iterator[asyncio.Event]:
        """An event set when something is sent to `chat_id`.

        Listen first, then read, then wait: so nothing sent in between is missed. Once the
        server is stopping, the event is set at once: nobody waits through a shutdown.
        """
        event = asyncio.Event()
        if self._closed:  # shutting down: nobody waits
            event.set()
        self._waiters.setdefault(chat_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters[chat_id]
            waiters.discard(event)
            if not waiters:
                del self._waiters[chat_id]


def to_incoming(chat_id: str, body: Any) -> Incoming:
    """Translate a posted JSON body `{id, text | payload, language?}`.

    Raises:
        BadWebMessage: the body is not a chat message.
    """
    if not isinstance(body, dict):
        raise BadWebMessage("expected a JSON object")
    message_id, text, payload = body.get("id"), body.get("text"), body.get("payload")
    language = body.get("language")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= 64:
        raise BadWebMessage("id must be a string of 1-64 characters")
    if language is not None and not isinstance(language, str):
        raise BadWebMessage("language must be a string")
    base: dict[str, Any] = {
        "chat": ChatRef(NAME, chat_id),
        # Browsers choose their message ids, so two chats may both send "1": scope it.
        "update_id": hashlib.sha256(f"{chat_id}\0{message_id}".encode()).hexdigest(),
        "user_id": chat_id,
        "language": language[:16] if language else None,
    }
    if isinstance(payload, str) and 0 < len(payload) <= 64:
        return Incoming(kind=Kind.BUTTON, payload=payload, **base)
    if not isinstance(text, str):
        raise BadWebMessage("text or payload is required")
    text = clean_text(text)  # control characters out, NFC: browsers send what keyboards type
    match = _COMMAND.match(text.strip())
    if match:
        return Incoming(
            kind=Kind.COMMAND,
            text=text,
            command=match.group(1).lower(),
            args=(match.group(2) or "").strip(),
            **base,
        )
    return Incoming(kind=Kind.TEXT, text=text, **base)
