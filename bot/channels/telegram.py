"""Telegram, through python-telegram-bot's `Bot` on an aiohttp transport.

We use PTB for the API calls, the `Update` model and its errors, but not its `Application` /
`ConversationHandler`: their conversation state and jobs live in process memory (see
reference/channels.md §2), while ours live in the database. Updates arrive by long polling
(default) or on our aiohttp server's webhook route (`bot/web/`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.channels import (
    ChannelLimits,
    RetryLater,
    TemporaryFailure,
    Undeliverable,
    Unreachable,
)
from bot.channels.telegram_request import AiohttpRequest
from bot.messages import ChatRef, Contact, Incoming, Kind, Outgoing

log = logging.getLogger(__name__)

# Opt in to PTB 22's timedelta `retry_after` (otherwise every 429 logs a deprecation warning).
os.environ.setdefault("PTB_TIMEDELTA", "true")

NAME = "telegram"
# https://core.telegram.org/bots/api#sendmessage (text 1-4096), #sendphoto (caption 0-1024)
TEXT_LENGTH = 4096
CAPTION_LENGTH = 1024
POLL_TIMEOUT_S = 25
ALLOWED_UPDATES = ["message", "callback_query"]

Handle = Callable[[Incoming], Awaitable[None]]


class TelegramChannel:
    """Translate Telegram updates to `Incoming` and `Outgoing` to Bot API calls."""

    name = NAME

    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        chat_rate_per_s: float = 1.0,
        chat_burst: int = 3,
        bulk_rate_per_s: float = 30.0,
        paid_broadcast: bool = False,
    ) -> None:
        self.bot = Bot(
            token,
            base_url=f"{base_url}/bot",
            base_file_url=f"{base_url}/file/bot",
            request=AiohttpRequest(),
            get_updates_request=AiohttpRequest(connection_limit=1),
        )
        self.limits = ChannelLimits(
            text_length=TEXT_LENGTH,
            caption_length=CAPTION_LENGTH,
            chat_rate_per_s=chat_rate_per_s,
            chat_burst=chat_burst,
            bulk_rate_per_s=bulk_rate_per_s,
        )
        self._paid_broadcast = paid_broadcast

    async def start(self) -> None:
        """Open the transport and check the token (`getMe`)."""
        await self.bot.initialize()

    async def stop(self) -> None:
        """Close the transport."""
        await self.bot.shutdown()

    async def set_commands(
        self, commands: Sequence[tuple[str, str]], language: str | None
    ) -> None:
        """Publish the command menu shown by Telegram clients for `language` (None: default)."""
        await self.bot.set_my_commands(
            [BotCommand(name, description) for name, description in commands],
            language_code=language,
        )

    # -- inbound -------------------------------------------------------------------------

    async def poll(self, handle: Handle) -> None:
        """Long-poll `getUpdates` until cancelled; confirm a batch only once it is handled."""
        await self.bot.delete_webhook()
        offset: int | None = None
        failures = 0
        while True:
            try:
                batch = await self.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT_S, allowed_updates=ALLOWED_UPDATES
                )
            except RetryAfter as error:
                await asyncio.sleep(_seconds(error.retry_after))
                continue
            except TimedOut:
                continue
            except Conflict:
                log.error("another process is polling this bot token; retrying in 5 s")
                await asyncio.sleep(5)
                continue
            except TelegramError as error:
                failures += 1
                log.warning("getUpdates failed (%s); retrying", error)
                await asyncio.sleep(min(2**failures, 60))
                continue
            failures = 0
            if not batch:
                continue
            results = await asyncio.gather(
                *(self.process(update, handle) for update in batch), return_exceptions=True
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:  # not confirmed: the batch comes again, deduplication skips what was done
                log.error(
                    "could not handle %s updates; retrying the batch",
                    len(errors),
                    exc_info=errors[0],
                )
                await asyncio.sleep(1)
                continue
            offset = batch[-1].update_id + 1

    async def process_json(self, data: dict[str, Any], handle: Handle) -> None:
        """Handle one update received on the webhook."""
        update = Update.de_json(data, self.bot)
        await self.process(update, handle)

    async def process(self, update: Update, handle: Handle) -> None:
        """Hand one update to `handle`; always answer a button press so the spinner stops."""
        incoming = to_incoming(update)
        try:
            if incoming is not None:
                await handle(incoming)
        finally:
            if update.callback_query is not None:
                try:
                    await update.callback_query.answer()
                except TelegramError as error:  # too old, or already answered
                    log.debug("could not answer a callback query: %s", error)

    # -- outbound ------------------------------------------------------------------------

    async def send(self, message: Outgoing, *, bulk: bool = False) -> str | None:
        """Send one message (split if longer than Telegram allows); return its message id."""
        chat_id = int(message.chat.chat_id)
        markup = _markup(message)
        extra: dict[str, Any] = (
            {"allow_paid_broadcast": True} if bulk and self._paid_broadcast else {}
        )
        try:
            sent: Message
            if message.image is not None or message.image_file_id:
                fits = len(message.text) <= CAPTION_LENGTH
                photo: bytes | str = message.image or message.image_file_id or ""
                sent = await self.bot.send_photo(
                    chat_id,
                    photo=photo,
                    caption=message.text if fits else None,
                    reply_markup=markup if fits else None,
                    **extra,
                )
                rest = [] if fits else _split(message.text, TEXT_LENGTH)
            else:
                rest = _split(message.text, TEXT_LENGTH)
            for index, part in enumerate(rest):
                last = index == len(rest) - 1
                sent = await self.bot.send_message(
                    chat_id, part, reply_markup=markup if last else None, **extra
                )
        except RetryAfter as error:
            raise RetryLater(_seconds(error.retry_after)) from error
        except Forbidden as error:
            raise Unreachable(error.message) from error
        except BadRequest as error:
            if "chat not found" in error.message.lower():
                raise Unreachable(error.message) from error
            raise Undeliverable(error.message) from error
        except (TimedOut, NetworkError, TelegramError) as error:
            raise TemporaryFailure(f"{type(error).__name__}: {error.message}") from error
        return str(sent.message_id)


def to_incoming(update: Update) -> Incoming | None:
    """Translate a Telegram update; None for kinds the bot does not use (edits, polls...)."""
    query = update.callback_query
    if query is not None:
        if query.message is None or query.data is None:
            return None
        chat = query.message.chat
        return Incoming(
            chat=ChatRef(NAME, str(chat.id)),
            update_id=str(update.update_id),
            kind=Kind.BUTTON,
            user_id=str(query.from_user.id),
            payload=query.data,
            language=query.from_user.language_code,
            private=chat.type == "private",
        )
    message = update.message
    if message is None:
        return None
    user = message.from_user
    base: dict[str, Any] = {
        "chat": ChatRef(NAME, str(message.chat.id)),
        "update_id": str(update.update_id),
        "user_id": str(user.id) if user else None,
        "language": user.language_code if user else None,
        "private": message.chat.type == "private",
    }
    if message.text is not None:
        command = _command(message)
        if command is not None:
            name, args = command
            return Incoming(kind=Kind.COMMAND, text=message.text, command=name, args=args, **base)
        return Incoming(kind=Kind.TEXT, text=message.text, **base)
    if message.contact is not None:
        contact_user = message.contact.user_id
        contact = Contact(
            message.contact.phone_number, str(contact_user) if contact_user else None
        )
        return Incoming(kind=Kind.CONTACT, contact=contact, **base)
    if message.photo:
        return Incoming(
            kind=Kind.PHOTO,
            text=message.caption or "",
            photo_file_id=message.photo[-1].file_id,
            **base,
        )
    return Incoming(kind=Kind.OTHER, **base)


def _command(message: Message) -> tuple[str, str] | None:
    """`/start@bot payload` -> ("start", "payload") when the text begins with a bot command."""
    entities = message.entities or ()
    if not entities or entities[0].type != "bot_command" or entities[0].offset != 0:
        return None
    text = message.text or ""
    length = entities[0].length
    name = text[1:length].split("@", 1)[0].lower()
    return name, text[length:].strip()


def _markup(
    message: Outgoing,
) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    # A message carries one keyboard: inline buttons win; the contact keyboard is one-time,
    # so it hides itself once used.
    if message.buttons:
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(b.label, callback_data=b.payload) for b in row]
                for row in message.buttons
            ]
        )
    if message.request_phone:
        return ReplyKeyboardMarkup(
            [[KeyboardButton(message.request_phone, request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    if message.remove_keyboard:
        return ReplyKeyboardRemove()
    return None


def _split(text: str, limit: int) -> list[str]:
    """Cut `text` into parts of at most `limit` characters, at line breaks where possible."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return parts


def _seconds(retry_after: int | timedelta) -> float:
    return (
        retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)
    )
