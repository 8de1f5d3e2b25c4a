"""Telegram Bot API emulator (aiohttp) for tests and benchmarks.

Bot side: ``telegram.Bot(token, base_url=f"{emu.base_url}/bot",
base_file_url=f"{emu.base_url}/file/bot")``.  As a process (``python -m
tests.fakes.telegram_api --port 0 --token T``) it prints ``READY <url>`` and serves until
SIGTERM/SIGINT; control routes live under ``/_emu/`` (``inject``, ``stats``, ``deliveries``,
``reset``).
Groups: ``make_forum`` turns topics on (``getChat``, ``createForumTopic``); ``group_message``
queues a member's message in a topic or as a reply.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import mimetypes
import re
import secrets
import signal
import socket
import sys
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import BodyPartReader, ClientSession, web

JSON = dict[str, Any]
Files = dict[str, tuple[str, bytes]]
Handler = Callable[[JSON, Files], Awaitable[Any]]

# Form/multipart values are strings; these keys carry JSON, integers or booleans.
_JSON_KEYS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "commands",
        "entities",
        "caption_entities",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
        "results",
    }
)
_INT_KEYS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "cache_time",
        "max_connections",
        "message_thread_id",
        "reply_to_message_id",
        "from_chat_id",
    }
)
_BOOL_PREFIXES = ("disable_", "protect_", "show_", "drop_", "has_", "allow_", "is_")
_SEND_PREFIXES = ("send", "edit", "copy", "forward")
_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are"
    " exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


class _ApiError(Exception):
    """A Bot API error answer (``ok: false``)."""

    def __init__(
        self, status: int, description: str | None = None, retry_after: int | None = None
    ) -> None:
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if status == 429
                else _DESCRIPTIONS.get(status, "Error")
            )
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after

    def response(self) -> web.Response:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.status)


@dataclass(slots=True)
class RecordedCall:
    """One Bot API call made by the bot: canonical method name, decoded params, status."""

    method: str
    params: JSON
    time: float
    status: int = 200


@dataclass(slots=True)
class _Pending:
    update: JSON
    enqueued_ns: int
    redelivery: bool = False
    delivered: bool = False

    def droppable(self, offset: int) -> bool:
        # A re-queued old update (redelivery) survives confirmation until delivered once.
        return self.update["update_id"] < offset and (self.delivered or not self.redelivery)


@dataclass(slots=True)
class _Fault:
    status: int
    retry_after: int | None
    description: str | None
    chat_id: int | None
    times: int


@dataclass(slots=True)
class _StoredFile:
    file_id: str
    unique_id: str
    path: str
    name: str
    data: bytes


def _check_text(text: Any, limit: int, what: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise _ApiError(400, f"Bad Request: {what} is empty")
    if len(text) > limit:
        raise _ApiError(
            400,
            "Bad Request: message is too long"
            if what == "message text"
            else f"Bad Request: {what} is too long",
        )
    return text


def _coerce(params: JSON) -> JSON:
    for key, value in params.items():
        if not isinstance(value, str):
            continue
        if key in _JSON_KEYS:
            try:
                params[key] = json.loads(value)
            except ValueError:
                what = "reply keyboard markup" if key == "reply_markup" else key
                raise _ApiError(400, f"Bad Request: can't parse {what} JSON object") from None
        elif key in _INT_KEYS:
            with contextlib.suppress(ValueError):
                params[key] = int(value)
        elif key.startswith(_BOOL_PREFIXES) and value in ("true", "false"):
            params[key] = value == "true"
    return params


async def _read_params(request: web.Request) -> tuple[JSON, Files]:
    params: JSON = dict(request.query)
    files: Files = {}
    if request.body_exists:
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _ApiError(400, "Bad Request: can't parse JSON body") from None
            if isinstance(body, dict):
                params.update(body)
        elif ctype == "multipart/form-data":
            async for part in await request.multipart():
                if isinstance(part, BodyPartReader) and part.name:
                    if part.filename is None:
                        params[part.name] = await part.text()
                    else:
                        files[part.name] = (part.filename, bytes(await part.read()))
        else:
            form = await request.post()
            params.update((k, v) for k, v in form.items() if isinstance(v, str))
    return _coerce(params), files


def _chat_id(params: JSON) -> int:
    chat_id = params.get("chat_id")
    if chat_id is None or chat_id == "":
        raise _ApiError(400, "Bad Request: chat_id is empty")
    if not isinstance(chat_id, int):
        raise _ApiError(400, "Bad Request: chat not found")
    return chat_id


def _chat(chat_id: int, first_name: str = "An") -> JSON:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": first_name}
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "type": kind, "title": "Test group"}


def _check_markup(markup: Any) -> None:
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", ()):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not (isinstance(data, str) and 1 <= len(data.encode()) <= 64):
                raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if not button.get("text") or len(button) < 2:
                raise _ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )


class TelegramEmulator:
    """An in-memory Telegram Bot API server on ``127.0.0.1`` for one bot token.

    Args:
        token: The only bot token accepted; other tokens get 401 Unauthorized.
        port: TCP port to listen on; 0 picks a free one.
        clock: The time messages are dated with, in seconds since the epoch.

    Attributes:
        bot_user: The bot's ``User`` object (id from the token, ``test_health_bot``).
        calls: Every Bot API call, failed ones included (``status`` != 200).
        answered_callbacks: ``callback_query_id`` -> params of its answerCallbackQuery.
        commands: ``language_code`` ("" by default) -> commands set by setMyCommands.
        webhook: ``url``, ``secret_token``, ``allowed_updates`` of setWebhook, or ``{}``.
        allowed_updates: The last ``allowed_updates`` given to getUpdates (not enforced).
        latencies_ms: Injected-update -> first-reply latencies (see ``/_emu/stats``).
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._token = token
        self._port = port
        self._clock = clock
        prefix = token.split(":", 1)[0]
        self.bot_user: JSON = {
            "id": int(prefix) if prefix.isdigit() else 123456,
            "is_bot": True,
            "first_name": "Sức khỏe",
            "username": "test_health_bot",
        }
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()
        self._poll_gen = 0
        self._polls_waiting = 0  # getUpdates long polls waiting for an update
        self._closing = False
        handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "editMessageText": self._edit_text,
            "editMessageReplyMarkup": self._edit_markup,
            "answerCallbackQuery": self._answer_callback,
            "sendChatAction": self._chat_action,
            "setMyCommands": self._set_commands,
            "getMyCommands": self._get_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._webhook_info,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "createForumTopic": self._create_topic,
        }
        self._handlers = {name.lower(): (name, fn) for name, fn in handlers.items()}
        self._reset_state()

    def _reset_state(self) -> None:
        self.calls: list[RecordedCall] = []
        self.call_counts: Counter[str] = Counter()  # calls by method, failed ones included
        self.answered_callbacks: dict[str, JSON] = {}
        self.commands: dict[str, list[JSON]] = {}
        self.webhook: JSON = {}
        self.allowed_updates: list[str] | None = None
        self.latencies_ms: list[float] = []
        self.queued_count = self.consumed_count = self.messages_sent = 0
        self._pending: deque[_Pending] = deque()
        self._confirmed = 0
        self._next_update_id = 1
        self._message_ids: dict[int, int] = defaultdict(int)
        self._messages: dict[tuple[int, int], JSON] = {}
        self._sent: dict[int, list[JSON]] = defaultdict(list)
        self._sent_times: dict[int, list[float]] = defaultdict(list)
        self._latency_fifo: dict[int, deque[int]] = defaultdict(deque)
        self._faults: dict[str, list[_Fault]] = {}
        self._blocked: set[int] = set()
        self._holds: dict[int, tuple[asyncio.Event, asyncio.Event]] = {}
        self._open_queries: set[str] = set()
        self._files: dict[str, _StoredFile] = {}
        self._paths: dict[str, _StoredFile] = {}
        self._seq = itertools.count(1)
        self._forums: set[int] = set()
        self.topics: dict[int, dict[int, str]] = defaultdict(dict)  # chat -> thread -> name

    async def start(self) -> None:
        """Starts serving on ``127.0.0.1`` (a free port unless one was given)."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_post("/_emu/inject", self._handle_inject)
        app.router.add_get("/_emu/stats", self._handle_stats)
        app.router.add_get("/_emu/deliveries", self._handle_deliveries)
        app.router.add_post("/_emu/reset", self._handle_reset)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._closing = False

    async def stop(self) -> None:
        """Wakes pending long polls (they answer with no updates) and stops the server."""
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``; the bot calls ``{base_url}/bot{token}/{method}``."""
        if self._runner is None:
            raise RuntimeError("TelegramEmulator is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def token(self) -> str:
        """The accepted bot token."""
        return self._token

    def sent(self, chat_id: int) -> list[JSON]:
        """What the bot successfully sent or edited in a chat, oldest first.

        Each entry has ``method``, ``chat_id``, ``message_id``, ``text``, ``caption``,
        ``reply_markup`` (decoded), ``parse_mode``, ``photo_bytes``/``document_bytes`` (uploaded
        bytes or None), ``params`` and ``time``.
        """
        return list(self._sent.get(chat_id, ()))

    def sent_times(self, chat_id: int) -> list[float]:
        """``time.monotonic()`` of each entry of :meth:`sent` for that chat."""
        return list(self._sent_times.get(chat_id, ()))

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return [p.update for p in self._pending]

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        description: str | None = None,
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """Makes the next ``times`` calls of ``method`` (optionally to one chat) fail.

        Args:
            method: Bot API method name (case-insensitive).
            status: HTTP status / ``error_code`` (429, 400, 403, 500, 502, ...).
            retry_after: ``parameters.retry_after`` for 429.
            description: Overrides Telegram's usual description for that status.
            chat_id: Only calls with this ``chat_id`` fail.
            times: How many calls fail.
        """
        fault = _Fault(status, retry_after if status == 429 else None, description, chat_id, times)
        self._faults.setdefault(method.lower(), []).append(fault)

    def hold_chat(self, chat_id: int) -> tuple[asyncio.Event, asyncio.Event]:
        """Calls to ``chat_id`` from now on hang, unanswered, until the second event is set.

        The first event is set once such a call has arrived (a send is on the wire).
        """
        arrived, release = asyncio.Event(), asyncio.Event()
        self._holds[chat_id] = (arrived, release)
        return arrived, release

    def block_chat(self, chat_id: int) -> None:
        """From now on every send/edit to ``chat_id`` answers 403 (bot blocked by the user)."""
        self._blocked.add(chat_id)

    def make_forum(self, chat_id: int) -> None:
        """Turns topics on in the supergroup ``chat_id`` (``getChat`` says ``is_forum``)."""
        self._forums.add(chat_id)

    def group_message(
        self,
        chat_id: int,
        *,
        user_id: int,
        text: str | None = None,
        photo: bytes | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
        first_name: str = "Lan",
    ) -> JSON:
        """Queues a member's message in a group: text (a command if it starts with /) or a
        photo (``text`` is its caption), in a forum topic or as a reply to a message."""
        content: JSON = {}
        if photo is not None:
            content["photo"] = self._photo_sizes(self._store("photos", photo, "photo.jpg"))
            if text:
                content["caption"] = text
        elif text is not None:
            content["text"] = text
            if text.startswith("/"):
                length = len(text.split(" ", 1)[0])
                content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if thread_id is not None:
            content["message_thread_id"] = thread_id
            content["is_topic_message"] = True
        if reply_to is not None or thread_id is not None:
            replied = self._messages.get((chat_id, reply_to or thread_id or 0))
            content["reply_to_message"] = replied or {"message_id": reply_to or thread_id}
        return self._queue_user_message(chat_id, content, user_id, "vi", first_name)

    def queue_update(self, update: JSON) -> JSON:
        """Queues a raw update, keeping its ``update_id`` if it has one (re-delivery)."""
        return self._enqueue(update).update

    def user_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        language_code: str = "vi",
        first_name: str = "An",
    ) -> JSON:
        """Queues a text message from a user and returns the update."""
        content = {"text": text}
        return self._queue_user_message(chat_id, content, user_id, language_code, first_name)

    def user_command(
        self,
        chat_id: int,
        command: str,
        args: str = "",
        *,
        user_id: int | None = None,
        language_code: str = "vi",
        first_name: str = "An",
    ) -> JSON:
        """Queues ``/command args`` with a ``bot_command`` entity at offset 0."""
        content = {
            "text": f"{command} {args}" if args else command,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        }
        return self._queue_user_message(chat_id, content, user_id, language_code, first_name)

    def user_contact(
        self,
        chat_id: int,
        phone_number: str,
        *,
        contact_user_id: int | None = None,
        user_id: int | None = None,
        language_code: str = "vi",
        first_name: str = "An",
    ) -> JSON:
        """Queues a shared contact; ``contact_user_id`` differing from the sender = forwarded."""
        sender = user_id if user_id is not None else chat_id
        contact = {
            "phone_number": phone_number,
            "first_name": first_name,
            "user_id": sender if contact_user_id is None else contact_user_id,
        }
        return self._queue_user_message(
            chat_id, {"contact": contact}, user_id, language_code, first_name
        )

    def user_photo(
        self,
        chat_id: int,
        data: bytes,
        *,
        caption: str | None = None,
        user_id: int | None = None,
        language_code: str = "vi",
        first_name: str = "An",
    ) -> JSON:
        """Queues a photo whose file can be fetched with getFile and the download route."""
        content: JSON = {"photo": self._photo_sizes(self._store("photos", data, "photo.jpg"))}
        if caption is not None:
            content["caption"] = caption
        return self._queue_user_message(chat_id, content, user_id, language_code, first_name)

    def user_document(
        self,
        chat_id: int,
        data: bytes,
        file_name: str,
        *,
        user_id: int | None = None,
        language_code: str = "vi",
        first_name: str = "An",
    ) -> JSON:
        """Queues a file sent as a document (e.g. a screenshot sent "as a file")."""
        f = self._store("documents", data, file_name)
        document = {
            "file_id": f.file_id,
            "file_unique_id": f.unique_id,
            "file_name": file_name,
            "mime_type": mimetypes.guess_type(file_name)[0] or "application/octet-stream",
            "file_size": len(data),
        }
        content: JSON = {"document": document}
        return self._queue_user_message(chat_id, content, user_id, language_code, first_name)

    def user_sticker(
        self,
        chat_id: int,
        *,
        user_id: int | None = None,
        language_code: str = "vi",
        first_name: str = "An",
    ) -> JSON:
        """Queues a sticker message."""
        f = self._store("stickers", b"RIFF-webp", "sticker.webp")
        sticker = {
            "file_id": f.file_id,
            "file_unique_id": f.unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self._queue_user_message(
            chat_id, {"sticker": sticker}, user_id, language_code, first_name
        )

    def press_button(
        self,
        chat_id: int,
        callback_data: str,
        *,
        message_id: int,
        user_id: int | None = None,
        language_code: str = "vi",
        first_name: str = "An",
    ) -> JSON:
        """Queues a callback_query for a button of the bot message ``message_id``."""
        stored = self._messages.get((chat_id, message_id))
        if stored is None:
            raise KeyError(f"the bot sent no message {message_id} to chat {chat_id}")
        query_id = str(4_000_000_000 + next(self._seq))
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": self._user(chat_id, user_id, language_code, first_name),
            "message": stored,
            "chat_instance": str(-abs(chat_id)),
            "data": callback_data,
        }
        return self.queue_update({"callback_query": query})

    async def wait_for_sent(
        self, chat_id: int, count: int = 1, timeout: float = 5.0
    ) -> list[JSON]:
        """Waits until the bot has sent at least ``count`` entries to ``chat_id`` in total.

        Raises:
            AssertionError: On timeout, listing what was sent and failed calls to that chat.
        """
        if await self._wait(lambda: len(self._sent.get(chat_id, ())) >= count, timeout):
            return self.sent(chat_id)
        got = [(e["method"], e["text"] or e["caption"]) for e in self.sent(chat_id)]
        failed = [
            (c.method, c.status)
            for c in self.calls
            if c.status != 200 and c.params.get("chat_id") == chat_id
        ]
        raise AssertionError(
            f"expected >= {count} messages to chat {chat_id} within {timeout}s,"
            f" got {len(got)}: {got!r}; failed calls: {failed!r}"
        )

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5.0,
    ) -> RecordedCall:
        """Waits for a recorded call of ``method`` (since start) matching ``predicate``."""
        lower = method.lower()

        def first() -> RecordedCall | None:
            return next(
                (
                    c
                    for c in self.calls
                    if c.method.lower() == lower and (predicate is None or predicate(c))
                ),
                None,
            )

        if await self._wait(lambda: first() is not None, timeout) and (call := first()):
            return call
        seen = sorted({c.method for c in self.calls})
        raise AssertionError(f"no matching {method} call within {timeout}s; methods seen: {seen}")

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Waits until ``predicate()`` holds, looking again after each call the bot makes.

        Raises:
            AssertionError: On timeout.
        """
        if not await self._wait(predicate, timeout):
            raise AssertionError(f"not so within {timeout}s")

    async def wait_for_calls(
        self, method: str, count: int, timeout: float = 5.0
    ) -> list[RecordedCall]:
        """Waits until ``method`` was called successfully at least ``count`` times in total."""

        def done() -> list[RecordedCall]:
            lower = method.lower()
            return [c for c in self.calls if c.method.lower() == lower and c.status == 200]

        if await self._wait(lambda: len(done()) >= count, timeout):
            return done()
        raise AssertionError(
            f"expected >= {count} {method} calls within {timeout}s, got {len(done())}"
        )

    async def wait_for_poll(self, timeout: float = 5.0) -> None:
        """Waits until a getUpdates long poll is waiting for updates.

        Raises:
            AssertionError: On timeout.
        """
        if not await self._wait(lambda: self._polls_waiting > 0, timeout):
            raise AssertionError(f"no getUpdates long poll waiting within {timeout}s")

    async def idle(self, timeout: float = 5.0) -> None:
        """Waits until every queued update was fetched and confirmed: the bot handled it."""
        await self.wait_until_consumed(timeout)

    async def wait_until_consumed(self, timeout: float = 5.0) -> None:
        """Waits until every queued update was confirmed by a getUpdates offset."""
        if not await self._wait(lambda: not self._pending, timeout):
            ids = [p.update["update_id"] for p in self._pending]
            raise AssertionError(f"updates not consumed within {timeout}s: {ids}")

    async def deliver_webhook(
        self, url: str, update: JSON, *, secret_token: str | None = None
    ) -> int:
        """POSTs ``update`` to a webhook ``url`` like Telegram does; returns the HTTP status."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret_token} if secret_token else {}
        async with (
            ClientSession() as session,
            session.post(url, json=update, headers=headers) as resp,
        ):
            return resp.status

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, predicate: Callable[[], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
        return True

    def _enqueue(self, update: JSON) -> _Pending:
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
        uid = update["update_id"]
        self._next_update_id = max(self._next_update_id, uid + 1)
        entry = _Pending(update, time.monotonic_ns(), redelivery=uid < self._confirmed)
        q = self._pending
        if not q or q[-1].update["update_id"] <= uid:
            q.append(entry)
        else:
            q.insert(next(i for i, e in enumerate(q) if e.update["update_id"] > uid), entry)
        self.queued_count += 1
        self._notify()
        return entry

    def _confirm(self, offset: int) -> None:
        q, before = self._pending, len(self._pending)
        if offset < 0:  # keep only the last -offset updates
            while len(q) > -offset:
                q.popleft()
        else:
            self._confirmed = max(self._confirmed, offset)
            while q and q[0].droppable(offset):
                q.popleft()
            if q and q[0].update["update_id"] < offset:  # a re-delivery waits at the head
                self._pending = q = deque(e for e in q if not e.droppable(offset))
        self.consumed_count += before - len(q)

    def _user(
        self, chat_id: int, user_id: int | None, language_code: str, first_name: str
    ) -> JSON:
        uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 1111)
        return {
            "id": uid,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }

    def _user_message(
        self,
        chat_id: int,
        content: JSON,
        user_id: int | None = None,
        language_code: str = "vi",
        first_name: str = "An",
    ) -> JSON:
        self._message_ids[chat_id] += 1
        return {
            "message_id": self._message_ids[chat_id],
            "date": int(self._clock()),
            "chat": _chat(chat_id, first_name),
            "from": self._user(chat_id, user_id, language_code, first_name),
            **content,
        }

    def _queue_user_message(
        self, chat_id: int, content: JSON, user_id: int | None, language_code: str, first_name: str
    ) -> JSON:
        message = self._user_message(chat_id, content, user_id, language_code, first_name)
        return self.queue_update({"message": message})

    def _store(self, folder: str, data: bytes, name: str) -> _StoredFile:
        n = next(self._seq)
        ext = name.rsplit(".", 1)[-1] if "." in name else "bin"
        f = _StoredFile(
            f"AgAC{secrets.token_hex(8)}{n}", f"AQAD{n}", f"{folder}/file_{n}.{ext}", name, data
        )
        self._files[f.file_id] = self._paths[f.path] = f
        return f

    def _photo_sizes(self, full: _StoredFile) -> list[JSON]:
        thumb = self._store("photos", full.data, full.name)
        return [
            {
                "file_id": f.file_id,
                "file_unique_id": f.unique_id,
                "width": w,
                "height": h,
                "file_size": len(f.data),
            }
            for f, w, h in ((thumb, 90, 68), (full, 800, 600))
        ]

    def _input_file(
        self, p: JSON, files: Files, field: str, folder: str
    ) -> tuple[_StoredFile, bytes | None]:
        if field in files:
            name, data = files[field]
            return self._store(folder, data, name), data
        ref = p.get(field)
        if ref is None:
            raise _ApiError(400, f"Bad Request: there is no {field} in the request")
        if isinstance(ref, str) and ref in self._files:
            return self._files[ref], None
        raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _check_faults(self, method: str, p: JSON) -> None:
        chat_id = p.get("chat_id")
        if chat_id in self._blocked and method.startswith(_SEND_PREFIXES):
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        for fault in self._faults.get(method.lower(), ()):
            if fault.chat_id is None or fault.chat_id == chat_id:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults[method.lower()].remove(fault)
                raise _ApiError(fault.status, fault.description, fault.retry_after)

    def _record_sent(
        self, method: str, chat_id: int, msg: JSON, p: JSON, upload: bytes | None = None
    ) -> None:
        now = time.monotonic()
        self._sent[chat_id].append(
            {
                "method": method,
                "chat_id": chat_id,
                "message_id": msg["message_id"],
                "text": p.get("text"),
                "caption": p.get("caption"),
                "reply_markup": p.get("reply_markup"),
                "parse_mode": p.get("parse_mode"),
                "photo_bytes": upload if method == "sendPhoto" else None,
                "document_bytes": upload if method == "sendDocument" else None,
                "params": p,
                "time": now,
            }
        )
        self._sent_times[chat_id].append(now)

    def _bot_message(
        self, method: str, p: JSON, content: JSON, upload: bytes | None = None
    ) -> JSON:
        chat_id = _chat_id(p)
        _check_markup(p.get("reply_markup"))
        self._message_ids[chat_id] += 1
        msg = {
            "message_id": self._message_ids[chat_id],
            "from": self.bot_user,
            "chat": _chat(chat_id),
            "date": int(self._clock()),
            **content,
        }
        markup = p.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        thread = p.get("message_thread_id")
        if isinstance(thread, int):
            if chat_id not in self._forums or thread not in self.topics[chat_id]:
                raise _ApiError(400, "Bad Request: message thread not found")
            msg.update(message_thread_id=thread, is_topic_message=True)
        replied = (p.get("reply_parameters") or {}).get("message_id")
        if isinstance(replied, int):
            msg["reply_to_message"] = self._messages.get(
                (chat_id, replied), {"message_id": replied}
            )
        self._messages[(chat_id, msg["message_id"])] = msg
        self.messages_sent += 1
        fifo = self._latency_fifo.get(chat_id)
        if fifo and method == "sendMessage":
            self.latencies_ms.append((time.monotonic_ns() - fifo.popleft()) / 1e6)
        self._record_sent(method, chat_id, msg, p, upload)
        return msg

    def _caption(self, p: JSON) -> JSON:
        if p.get("caption") is None:
            return {}
        return {"caption": _check_text(p["caption"], 1024, "message caption")}

    def _find(self, p: JSON) -> tuple[int, JSON]:
        chat_id = _chat_id(p)
        message_id = p.get("message_id")
        stored = self._messages.get((chat_id, message_id)) if isinstance(message_id, int) else None
        if stored is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        return chat_id, stored

    def _edit(self, method: str, p: JSON, content: JSON) -> JSON:
        chat_id, old = self._find(p)
        markup = p.get("reply_markup")
        _check_markup(markup)
        if markup == old.get("reply_markup") and all(old.get(k) == v for k, v in content.items()):
            raise _ApiError(400, _NOT_MODIFIED)
        msg = {k: v for k, v in old.items() if k != "reply_markup"} | content
        msg["edit_date"] = int(self._clock())
        if markup:
            msg["reply_markup"] = markup
        self._messages[(chat_id, msg["message_id"])] = msg
        self._record_sent(method, chat_id, msg, p)
        return msg

    async def _get_me(self, p: JSON, files: Files) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_updates(self, p: JSON, files: Files) -> list[JSON]:
        if self.webhook.get("url"):
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active;"
                " use deleteWebhook to delete the webhook first",
            )
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        if p.get("allowed_updates") is not None:
            self.allowed_updates = p["allowed_updates"]
        self._confirm(int(p.get("offset") or 0))
        self._poll_gen += 1
        generation = self._poll_gen
        waiting = int(not self._pending and not self._closing)
        self._polls_waiting += waiting
        self._notify()  # an older poll still waiting gets a 409 Conflict
        try:
            while not self._pending and not self._closing:
                if not await self._wait(
                    lambda: bool(self._pending) or self._closing or generation != self._poll_gen,
                    deadline - time.monotonic(),
                ):
                    break
                if generation != self._poll_gen:
                    raise _ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make"
                        " sure that only one bot instance is running",
                    )
        finally:
            self._polls_waiting -= waiting
        batch = list(itertools.islice(self._pending, limit))
        for entry in batch:
            entry.delivered = True
        return [entry.update for entry in batch]

    async def _send_message(self, p: JSON, files: Files) -> JSON:
        _chat_id(p)
        content: JSON = {"text": _check_text(p.get("text"), 4096, "message text")}
        if p.get("entities"):
            content["entities"] = p["entities"]
        return self._bot_message("sendMessage", p, content)

    async def _send_photo(self, p: JSON, files: Files) -> JSON:
        _chat_id(p)
        stored, upload = self._input_file(p, files, "photo", "photos")
        content = {"photo": self._photo_sizes(stored), **self._caption(p)}
        return self._bot_message("sendPhoto", p, content, upload)

    async def _send_document(self, p: JSON, files: Files) -> JSON:
        _chat_id(p)
        f, upload = self._input_file(p, files, "document", "documents")
        mime = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
        document = {
            "file_id": f.file_id,
            "file_unique_id": f.unique_id,
            "file_name": f.name,
            "mime_type": mime,
            "file_size": len(f.data),
        }
        content = {"document": document, **self._caption(p)}
        return self._bot_message("sendDocument", p, content, upload)

    async def _edit_text(self, p: JSON, files: Files) -> JSON:
        if "text" not in self._find(p)[1]:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        text = _check_text(p.get("text"), 4096, "message text")
        return self._edit("editMessageText", p, {"text": text})

    async def _edit_markup(self, p: JSON, files: Files) -> JSON:
        return self._edit("editMessageReplyMarkup", p, {})

    async def _answer_callback(self, p: JSON, files: Files) -> bool:
        query_id = str(p.get("callback_query_id"))
        if query_id not in self._open_queries:
            raise _ApiError(400, _QUERY_INVALID)
        self._open_queries.discard(query_id)
        self.answered_callbacks[query_id] = p
        return True

    async def _chat_action(self, p: JSON, files: Files) -> bool:
        _chat_id(p)
        return True

    async def _set_commands(self, p: JSON, files: Files) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        for c in commands:
            if not (
                isinstance(c, dict)
                and _COMMAND_RE.fullmatch(str(c.get("command")))
                and 1 <= len(str(c.get("description") or "")) <= 256
            ):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands[str(p.get("language_code") or "")] = commands
        return True

    async def _get_commands(self, p: JSON, files: Files) -> list[JSON]:
        return self.commands.get(str(p.get("language_code") or ""), [])

    async def _set_webhook(self, p: JSON, files: Files) -> bool:
        if p.get("drop_pending_updates"):
            self._confirm(self._next_update_id)
        url = str(p.get("url") or "")
        self.webhook = (
            {
                "url": url,
                "secret_token": p.get("secret_token"),
                "allowed_updates": p.get("allowed_updates"),
            }
            if url
            else {}
        )
        return True

    async def _delete_webhook(self, p: JSON, files: Files) -> bool:
        if p.get("drop_pending_updates"):
            self._confirm(self._next_update_id)
        self.webhook = {}
        return True

    async def _webhook_info(self, p: JSON, files: Files) -> JSON:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    async def _get_chat(self, p: JSON, files: Files) -> JSON:
        chat_id = _chat_id(p)
        chat = _chat(chat_id)
        if chat["type"] == "supergroup":
            chat["is_forum"] = chat_id in self._forums
        return chat

    async def _create_topic(self, p: JSON, files: Files) -> JSON:
        chat_id = _chat_id(p)
        if chat_id not in self._forums:
            raise _ApiError(400, "Bad Request: the chat is not a forum")
        name = str(p.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise _ApiError(400, "Bad Request: TOPIC_TITLE_EMPTY")
        self._message_ids[chat_id] += 1  # a topic's id is the id of its service message
        thread = self._message_ids[chat_id]
        self.topics[chat_id][thread] = name
        self._record_sent("createForumTopic", chat_id, {"message_id": thread}, p)
        return {"message_thread_id": thread, "name": name, "icon_color": 7322096}

    async def _get_file(self, p: JSON, files: Files) -> JSON:
        f = self._files.get(str(p.get("file_id")))
        if f is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": f.file_id,
            "file_unique_id": f.unique_id,
            "file_size": len(f.data),
            "file_path": f.path,
        }

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self._token:
            return _ApiError(401).response()
        given = request.match_info["method"]
        method, handler = self._handlers.get(given.lower(), (given, None))
        params: JSON = {}
        try:
            params, files = await _read_params(request)
            if handler is None:
                raise _ApiError(404)
            self._check_faults(method, params)
            chat = params.get("chat_id")
            hold = self._holds.get(chat) if isinstance(chat, int) else None
            if hold is not None:
                hold[0].set()
                await hold[1].wait()
            result = await handler(params, files)
        except _ApiError as err:
            gone = request.transport is None or request.transport.is_closing()
            if err.status != 409 or not gone:  # skip a superseded poll nobody waits for
                self.calls.append(RecordedCall(method, params, time.monotonic(), err.status))
                self.call_counts[method] += 1
                self._notify()
            return err.response()
        self.calls.append(RecordedCall(method, params, time.monotonic()))
        self.call_counts[method] += 1
        self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        f = self._paths.get(request.match_info["path"])
        if request.match_info["token"] != self._token or f is None:
            return _ApiError(404).response()
        return web.Response(body=f.data, content_type="application/octet-stream")

    async def _handle_inject(self, request: web.Request) -> web.Response:
        try:
            items = (await request.json())["updates"]
            first = None
            for item in items:
                chat_id = int(item["chat_id"])
                message = self._user_message(
                    chat_id, {"text": str(item["text"])}, item.get("user_id")
                )
                entry = self._enqueue({"message": message})
                self._latency_fifo[chat_id].append(entry.enqueued_ns)
                first = entry.update["update_id"] if first is None else first
        except (ValueError, KeyError, TypeError) as err:
            return web.json_response({"ok": False, "description": repr(err)}, status=400)
        return web.json_response({"first_update_id": first, "count": len(items)})

    async def _handle_stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "queued": self.queued_count,
                "consumed": self.consumed_count,
                "sent": self.messages_sent,
                "latencies_ms": self.latencies_ms,
                "calls": dict(self.call_counts),
            }
        )

    async def _handle_deliveries(self, request: web.Request) -> web.Response:
        """How many messages (texts and photos) each chat received: ``{chat_id: count}``."""
        counts = {
            str(chat): sum(1 for e in entries if e["method"] in ("sendMessage", "sendPhoto"))
            for chat, entries in self._sent.items()
        }
        return web.json_response(counts)

    async def _handle_reset(self, request: web.Request) -> web.Response:
        self._reset_state()
        self._notify()
        return web.json_response({"ok": True})


async def _serve(port: int, token: str) -> None:
    emulator = TelegramEmulator(token, port=port)
    await emulator.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(f"READY {emulator.base_url}\n")
    sys.stdout.flush()
    await stop.wait()
    await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    """Runs the emulator as a process: ``--port 0 --token T``; prints ``READY <url>``."""
    parser = argparse.ArgumentParser(description="Telegram Bot API emulator")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="123456:TEST-token")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port, args.token))


if __name__ == "__main__":
    main()
