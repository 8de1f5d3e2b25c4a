"""Telegram, through python-telegram-bot's `Bot` on an aiohttp transport.

We use PTB for the API calls, its transport abstraction and its errors, but not its
`Application` / `ConversationHandler`: their conversation state and jobs live in process memory
(see reference/channels.md §2), while ours live in the database. On the hot path (receiving
updates, sending text) we also skip PTB's object model: building an `Update` and a `Message`
per reply sets hundreds of attributes and cost about a quarter of the bot's CPU in
`bench/inbound.py`, so updates are read from their JSON and text goes out as plain parameters.
Updates arrive by long polling (default) or on our aiohttp server's webhook route (`bot/web/`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from telegram import Bot, BotCommand
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.channels import (
    ChannelLimits,
    RetryLater,
    Sent,
    TemporaryFailure,
    Undeliverable,
    Unreachable,
    fit,
)
from bot.channels.telegram.request import AiohttpRequest
from bot.messages import ChatRef, Contact, Incoming, Kind, Outgoing

log = logging.getLogger(__name__)

# Opt in to PTB 22's timedelta `retry_after` (otherwise every 429 logs a deprecation warning).
os.environ.setdefault("PTB_TIMEDELTA", "true")

NAME = "telegram"
# https://core.telegram.org/bots/api#sendmessage (text 1-4096), #sendphoto (caption 0-1024)
TEXT_LENGTH = 4096
CAPTION_LENGTH = 1024
# https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this: at most 20
# messages a minute in one group (the default of `group_rate_per_min`); group and supergroup
# ids are negative.
GROUP_RATE_PER_MIN = 20.0
TOPIC_NAME_LENGTH = 128  # https://core.telegram.org/bots/api#createforumtopic
POLL_TIMEOUT_S = 25
ALLOWED_UPDATES = ["message", "callback_query"]

HandleBatch = Callable[[Sequence[Incoming]], Awaitable[None]]
JSON = dict[str, Any]


class _Bot(Bot):
    """PTB's `Bot` with one addition: a call that returns the API's JSON as it is."""

    async def call(self, method: str, params: JSON, *, read_timeout: float | None = None) -> Any:
        """Call `method`; errors are raised as PTB's `TelegramError` subclasses."""
        if read_timeout is None:
            return await self._post(method, params)
        return await self._post(method, params, read_timeout=read_timeout)


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
        group_rate_per_min: float = GROUP_RATE_PER_MIN,
        paid_broadcast: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        # The long poll's request gives its own, longer read timeout (POLL_TIMEOUT_S + 10).
        self._requests = (
            AiohttpRequest(read_timeout=timeout_s),
            AiohttpRequest(connection_limit=1, read_timeout=timeout_s),
        )
        self.bot = _Bot(
            token,
            base_url=f"{base_url}/bot",
            base_file_url=f"{base_url}/file/bot",
            request=self._requests[0],
            get_updates_request=self._requests[1],
        )
        self.limits = ChannelLimits(
            text_length=TEXT_LENGTH,
            caption_length=CAPTION_LENGTH,
            chat_rate_per_s=chat_rate_per_s,
            chat_burst=chat_burst,
            bulk_rate_per_s=bulk_rate_per_s,
            group_rate_per_s=group_rate_per_min / 60,
            group_burst=3,
            group_chat_prefix="-",
        )
        self._paid_broadcast = paid_broadcast
        self._started = False

    async def start(self) -> None:
        """Open the transport and check the token (`getMe`); nothing more once it worked.

        Raises:
            telegram.error.InvalidToken: Telegram refused the token.
            telegram.error.TelegramError: Telegram could not be reached.
        """
        if not self._started:
            await self.bot.initialize()
            self._started = True

    async def stop(self) -> None:
        """Close the transport (also after a start that failed half way)."""
        await self.bot.shutdown()
        for request in self._requests:
            await request.shutdown()

    async def chat_is_forum(self, chat_id: str) -> bool:
        """Whether a supergroup has topics enabled (`getChat`).

        Raises:
            TemporaryFailure: Telegram could not be reached, or does not know the chat.
        """
        try:
            chat = await self.bot.call("getChat", {"chat_id": int(chat_id)})
        except TelegramError as error:
            raise TemporaryFailure(f"{type(error).__name__}: {error.message}") from error
        return bool(chat.get("is_forum"))

    async def set_commands(
        self, commands: Sequence[tuple[str, str]], language: str | None
    ) -> None:
        """Publish the command menu shown by Telegram clients for `language` (None: default)."""
        await self.bot.set_my_commands(
            [BotCommand(name, description) for name, description in commands],
            language_code=language,
        )

    # -- inbound -------------------------------------------------------------------------

    async def poll(self, handle: HandleBatch) -> None:
        """Long-poll `getUpdates` until cancelled; confirm a batch only once it is handled.

        A batch is confirmed by asking for the next offset, so an update that could not be
        handled (the database was down, say) comes again; deduplication skips the rest.
        """
        await self.bot.delete_webhook()
        offset = 0
        failures = 0
        while True:
            try:
                batch: list[JSON] = await self.bot.call(
                    "getUpdates",
                    {
                        "offset": offset,
                        "timeout": POLL_TIMEOUT_S,
                        "allowed_updates": ALLOWED_UPDATES,
                    },
                    read_timeout=POLL_TIMEOUT_S + 10,
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
            try:
                await self.process(batch, handle)
            except Exception:
                log.exception("could not handle %s updates; retrying the batch", len(batch))
                await asyncio.sleep(1)
                continue
            offset = max(update["update_id"] for update in batch) + 1

    async def process(self, updates: Sequence[JSON], handle: HandleBatch) -> None:
        """Hand updates to `handle` together; then stop the spinner of every pressed button."""
        incoming = [msg for msg in map(to_incoming, updates) if msg is not None]
        try:
            if incoming:
                await handle(incoming)
        finally:
            queries = [update.get("callback_query") for update in updates]
            await asyncio.gather(
                *(self._answer(str(q["id"])) for q in queries if isinstance(q, dict) and "id" in q)
            )

    async def _answer(self, query_id: str) -> None:
        try:
            await self.bot.call("answerCallbackQuery", {"callback_query_id": query_id})
        except TelegramError as error:  # too old, or already answered
            log.debug("could not answer a callback query: %s", error)

    # -- outbound ------------------------------------------------------------------------

    def fit(self, message: Outgoing) -> list[Outgoing]:
        """`message` cut to Telegram's text and caption lengths."""
        return fit(message, self.limits)

    async def send(self, message: Outgoing, *, bulk: bool = False) -> Sent:
        """Send one message; return its message id (and the file id of an uploaded picture)."""
        chat_id = int(message.chat.chat_id)
        markup = _markup(message)
        extra: JSON = {"allow_paid_broadcast": True} if bulk and self._paid_broadcast else {}
        if message.thread_id:
            extra["message_thread_id"] = int(message.thread_id)
        if message.reply_to:
            extra["reply_parameters"] = {
                "message_id": int(message.reply_to),
                "allow_sending_without_reply": True,  # a deleted message must not block ours
            }
        try:
            if message.new_topic:
                return await self._open_topic(chat_id, message.text)
            if message.edit_message_id:
                return await self._edit_text(chat_id, message, markup)
            if message.image is not None or message.image_file_id:
                return await self._send_photo(chat_id, message, markup, extra)
            return await self._send_text(chat_id, message.text, markup, extra)
        except RetryAfter as error:
            raise RetryLater(_seconds(error.retry_after)) from error
        except Forbidden as error:
            raise Unreachable(error.message) from error
        except BadRequest as error:
            if "chat not found" in error.message.lower():
                raise Unreachable(error.message) from error
            raise Undeliverable(error.message) from error
        except TelegramError as error:  # timeouts, network trouble, server errors
            raise TemporaryFailure(f"{type(error).__name__}: {error.message}") from error

    async def _send_text(self, chat_id: int, text: str, markup: JSON | None, extra: JSON) -> Sent:
        # Long texts were cut into rows of their own before they got here (bot.channels.fit).
        params: JSON = {"chat_id": chat_id, "text": text, **extra}
        if markup is not None:
            params["reply_markup"] = markup
        sent = await self.bot.call("sendMessage", params)
        return Sent(str(sent["message_id"]))

    async def _open_topic(self, chat_id: int, name: str) -> Sent:
        """Create a forum topic; what is returned is the topic's id (`message_thread_id`)."""
        params = {"chat_id": chat_id, "name": name[:TOPIC_NAME_LENGTH]}
        topic = await self.bot.call("createForumTopic", params)
        return Sent(str(topic["message_thread_id"]))

    async def _edit_text(self, chat_id: int, message: Outgoing, markup: JSON | None) -> Sent:
        """Replace a message's text (and buttons: none given removes them)."""
        assert message.edit_message_id is not None
        params: JSON = {
            "chat_id": chat_id,
            "message_id": int(message.edit_message_id),
            "text": message.text,
        }
        if markup is not None and "inline_keyboard" in markup:
            params["reply_markup"] = markup
        try:
            await self.bot.call("editMessageText", params)
        except BadRequest as error:
            if "message is not modified" not in error.message.lower():
                raise
        return Sent(message.edit_message_id)

    async def _send_photo(
        self, chat_id: int, message: Outgoing, markup: JSON | None, extra: JSON
    ) -> Sent:
        """A known file id is sent by reference; if Telegram no longer knows it, upload."""
        caption = message.text or None
        api_kwargs = {**extra, **({"reply_markup": markup} if markup is not None else {})}
        if message.image_file_id:
            try:
                sent = await self.bot.send_photo(
                    chat_id, message.image_file_id, caption=caption, api_kwargs=api_kwargs or None
                )
                return Sent(str(sent.message_id))
            except BadRequest as error:
                if message.image is None or "chat not found" in error.message.lower():
                    raise
                log.info("Telegram refused a cached file id (%s); uploading again", error.message)
        sent = await self.bot.send_photo(
            chat_id, message.image or b"", caption=caption, api_kwargs=api_kwargs or None
        )
        return Sent(str(sent.message_id), sent.photo[-1].file_id if sent.photo else None)

    async def fetch_file(self, file_id: str, *, max_bytes: int) -> bytes | None:
        """Download a file a user sent (a photo); None when it is larger than `max_bytes`.

        Raises:
            TemporaryFailure: Telegram could not be reached or refused the file id.
        """
        try:
            found = await self.bot.get_file(file_id)
            if found.file_size is not None and found.file_size > max_bytes:
                return None
            data = bytes(await found.download_as_bytearray())
        except TelegramError as error:
            raise TemporaryFailure(f"{type(error).__name__}: {error.message}") from error
        return data if len(data) <= max_bytes else None


def to_incoming(update: JSON) -> Incoming | None:
    """Translate a Telegram update; None for kinds the bot does not use (edits, polls...)."""
    try:
        return _to_incoming(update)
    except (KeyError, TypeError, ValueError, AttributeError):
        log.warning("ignoring a malformed Telegram update")
        return None


def _to_incoming(update: JSON) -> Incoming | None:
    update_id = str(int(update["update_id"]))
    query = update.get("callback_query")
    if query is not None:
        message, data, user = query.get("message"), query.get("data"), query["from"]
        if not message or not isinstance(data, str):
            return None
        return Incoming(
            chat=ChatRef(NAME, str(int(message["chat"]["id"]))),
            update_id=update_id,
            kind=Kind.BUTTON,
            user_id=str(int(user["id"])),
            payload=data,
            language=user.get("language_code"),
            private=message["chat"].get("type") == "private",
            message_id=_id_of(message),
            thread_id=_thread_of(message),
        )
    message = update.get("message")
    if message is None:
        return None
    user = message.get("from") or {}
    base: JSON = {
        "chat": ChatRef(NAME, str(int(message["chat"]["id"]))),
        "update_id": update_id,
        "user_id": str(int(user["id"])) if "id" in user else None,
        "language": user.get("language_code"),
        "private": message["chat"].get("type") == "private",
        "message_id": _id_of(message),
        "thread_id": _thread_of(message),
        "reply_to": _id_of(message.get("reply_to_message") or {}),
    }
    text = message.get("text")
    if isinstance(text, str):
        command = _command(text, message.get("entities") or ())
        if command is not None:
            name, args = command
            return Incoming(kind=Kind.COMMAND, text=text, command=name, args=args, **base)
        return Incoming(kind=Kind.TEXT, text=text, **base)
    contact = message.get("contact")
    if contact is not None:
        owner = contact.get("user_id")
        shared = Contact(str(contact["phone_number"]), str(owner) if owner else None)
        return Incoming(kind=Kind.CONTACT, contact=shared, **base)
    caption = message.get("caption")
    caption = caption if isinstance(caption, str) else ""
    photo = message.get("photo")
    if photo:
        return Incoming(
            kind=Kind.PHOTO, text=caption, photo_file_id=str(photo[-1]["file_id"]), **base
        )
    document = message.get("document") or {}
    if str(document.get("mime_type", "")).startswith("image/"):  # a picture sent "as a file"
        return Incoming(
            kind=Kind.PHOTO, text=caption, photo_file_id=str(document["file_id"]), **base
        )
    return Incoming(kind=Kind.OTHER, **base)


def _id_of(message: JSON) -> str | None:
    return str(int(message["message_id"])) if "message_id" in message else None


def _thread_of(message: JSON) -> str | None:
    """The forum topic a message belongs to (other threads are plain replies)."""
    if message.get("is_topic_message") and "message_thread_id" in message:
        return str(int(message["message_thread_id"]))
    return None


def _command(text: str, entities: Sequence[JSON]) -> tuple[str, str] | None:
    """`/start@bot payload` -> ("start", "payload") when the text begins with a bot command."""
    first = entities[0] if entities else None
    if not first or first.get("type") != "bot_command" or first.get("offset") != 0:
        return None
    length = int(first["length"])
    name = text[1:length].split("@", 1)[0].lower()
    return name, text[length:].strip()


def _markup(message: Outgoing) -> JSON | None:
    # A message carries one keyboard: inline buttons win; the contact keyboard is one-time,
    # so it hides itself once used.
    if message.buttons:
        return {
            "inline_keyboard": [
                [{"text": b.label, "callback_data": b.payload} for b in row]
                for row in message.buttons
            ]
        }
    if message.request_phone:
        return {
            "keyboard": [[{"text": message.request_phone, "request_contact": True}]],
            "resize_keyboard": True,
            "one_time_keyboard": True,
        }
    if message.remove_keyboard:
        return {"remove_keyboard": True}
    return None


def _seconds(retry_after: int | timedelta) -> float:
    return (
        retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)
    )
