"""Channel-neutral value types: what a citizen sent (`Incoming`), what we send (`Outgoing`).

Channels translate platform payloads to and from these; handlers see nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Telegram limits callback_data to 64 bytes (https://core.telegram.org/bots/api#inlinekeyboardbutton).
MAX_PAYLOAD_BYTES = 64
# The largest row id a button may name: PostgreSQL's `integer`, whatever the engine.
MAX_PAYLOAD_ID = 2**31 - 1


class Kind(StrEnum):
    """What an incoming update carries."""

    TEXT = "text"
    COMMAND = "command"
    BUTTON = "button"
    CONTACT = "contact"
    PHOTO = "photo"
    OTHER = "other"  # stickers, voice, location...: things the bot cannot use


@dataclass(frozen=True, slots=True)
class ChatRef:
    """One conversation on one platform: the address replies go to."""

    channel: str
    chat_id: str


@dataclass(frozen=True, slots=True)
class Contact:
    """A phone number shared through the platform's own button."""

    phone: str
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class Incoming:
    """One update from a citizen, whatever platform it came from."""

    chat: ChatRef
    update_id: str
    kind: Kind
    user_id: str | None = None
    text: str = ""
    command: str | None = None
    args: str = ""
    payload: str | None = None
    contact: Contact | None = None
    photo_file_id: str | None = None
    photo_status: str | None = None  # set once the photo was fetched and read (bot.domain.photos)
    photo_texts: tuple[str, ...] = ()  # the QR codes found in the photo
    photo_bytes: bytes | None = field(default=None, repr=False)  # the photo, once fetched
    language: str | None = None
    private: bool = True
    message_id: str | None = None  # the platform's id of this message in its chat
    thread_id: str | None = None  # the forum topic it was written in (Telegram supergroups)
    reply_to: str | None = None  # the message it answers, if any
    # Where it came from on the network, as a keyed hash (never the address itself): set by the
    # web chat, which sees the client's address; None on Telegram and Zalo, which hide it.
    client_key: str | None = None


def payload_id(part: str) -> int | None:
    """The row id a part of a button payload names (`"42"` of `"appt:qr:42"`).

    None unless it is ASCII digits naming 1..`MAX_PAYLOAD_ID`: a payload is whatever the
    client sends, so a made-up or corrupted one must not reach a query (or `int()`) as it is.
    """
    if not (part.isascii() and part.isdigit()) or len(part) > len(str(MAX_PAYLOAD_ID)):
        return None
    number = int(part)
    return number if 1 <= number <= MAX_PAYLOAD_ID else None


@dataclass(frozen=True, slots=True)
class Button:
    """A choice shown under a message. `payload` is short, opaque ASCII (see MAX_PAYLOAD_BYTES)."""

    label: str
    payload: str

    def __post_init__(self) -> None:
        if not self.payload.isascii() or not 0 < len(self.payload) <= MAX_PAYLOAD_BYTES:
            raise ValueError(f"button payload must be 1-{MAX_PAYLOAD_BYTES} ASCII characters")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send. Rows of buttons; an image as bytes or a platform file id."""

    chat: ChatRef
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    image: bytes | None = field(default=None, repr=False)
    image_file_id: str | None = None
    # Our name for a picture sent more than once (e.g. "certificate:12"): the platform's id of
    # the first upload is remembered under it, so later sends are references, not uploads.
    image_key: str | None = None
    request_phone: str | None = None  # label of the "share my phone number" keyboard button
    remove_keyboard: bool = False
    thread_id: str | None = None  # post into this forum topic (Telegram supergroups)
    reply_to: str | None = None  # as an answer to this message of the chat
    # Open a new forum topic named `text` instead of sending a message; the platform's id of
    # the topic is what the send returns (`Sent.message_id`).
    new_topic: bool = False
    # Replace the text of a message sent earlier: the platform's id of it (Telegram edits it
    # in place) and our outbox row id of it (the web chat redraws that row).
    edit_message_id: str | None = None
    replaces: int | None = None
    # The kind of a proactive message ("reminder", "result"...) and its facts, for platforms
    # that deliver such messages outside a conversation only as pre-approved templates (Zalo).
    template: str | None = None
    template_data: Mapping[str, str] | None = None
    # The account was erased: a client holding a copy of the chat (the web page) drops it.
    forget: bool = False

    def to_body(self) -> dict[str, Any]:
        """The JSON-safe part of this message, as stored in the outbox (image bytes apart)."""
        body: dict[str, Any] = {"text": self.text}
        if self.buttons:
            body["buttons"] = [[[b.label, b.payload] for b in row] for row in self.buttons]
        if self.image_file_id:
            body["image_file_id"] = self.image_file_id
        if self.image_key:
            body["image_key"] = self.image_key
        if self.request_phone:
            body["request_phone"] = self.request_phone
        if self.remove_keyboard:
            body["remove_keyboard"] = True
        for name in _OPTIONAL_KEYS:
            value = getattr(self, name)
            if value:
                body[name] = value
        if self.template_data:
            body["template_data"] = dict(self.template_data)
        return body

    @classmethod
    def from_body(cls, chat: ChatRef, body: dict[str, Any], image: bytes | None) -> Outgoing:
        """Rebuild a message from its outbox row."""
        return cls(
            chat=chat,
            text=body["text"],
            buttons=tuple(
                tuple(Button(label, payload) for label, payload in row)
                for row in body.get("buttons", ())
            ),
            image=image,
            image_file_id=body.get("image_file_id"),
            image_key=body.get("image_key"),
            request_phone=body.get("request_phone"),
            remove_keyboard=bool(body.get("remove_keyboard")),
            thread_id=body.get("thread_id"),
            reply_to=body.get("reply_to"),
            new_topic=bool(body.get("new_topic")),
            edit_message_id=body.get("edit_message_id"),
            replaces=body.get("replaces"),
            template=body.get("template"),
            template_data=body.get("template_data"),
            forget=bool(body.get("forget")),
        )


# Fields stored in an outbox row's body only when set.
_OPTIONAL_KEYS = (
    "thread_id", "reply_to", "new_topic", "edit_message_id", "replaces", "template", "forget",
)  # fmt: skip
# What a stripped outbox row keeps of its body: where it went and its kind, not what it said.
_SHAPE_KEYS = ("image_key", "remove_keyboard", *_OPTIONAL_KEYS)


def stripped_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """A stored body without its content: no text, buttons, picture reference or template facts.

    It still reads as an `Outgoing` (with empty text), so every reader of old rows works on it.
    """
    return {"text": "", **{key: body[key] for key in _SHAPE_KEYS if key in body}}
