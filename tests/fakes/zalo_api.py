"""Zalo Official Account (OA Open API v3) emulator (aiohttp) for tests and benchmarks.

One server on ``127.0.0.1`` stands for Zalo's three hosts under path prefixes:
``api_base_url`` (``/openapi``, https://openapi.zalo.me: ``/v3.0/oa/message/cs`` and
``/v2.0/oa/upload/image``), ``oauth_base_url`` (``/oauth``, https://oauth.zaloapp.com:
``/v4/oa/access_token``) and ``business_base_url`` (``/business``,
https://business.openapi.zalo.me: ``/message/template``, the ZBS template message by phone).
``/files/<name>`` serves the pictures users send.

Like Zalo, every answer is HTTP 200 with ``{"error": 0, "message": "Success", "data": {...}}``
or ``{"error": <negative>, "message": "..."}``; the token endpoint answers without the envelope
(``{"access_token", "refresh_token", "expires_in"}`` or ``{"error", "error_name",
"error_description"}``). Auth is a bare ``access_token`` header.

The bot is driven through signed webhook POSTs to ``webhook_url`` (``user_text``, ``press``,
``user_image``, ``follow``...), each answering the bot's HTTP status.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import re
import secrets
import socket
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self

from aiohttp import BodyPartReader, ClientSession, web

JSON = dict[str, Any]
Files = dict[str, tuple[str, str, bytes]]  # form field -> (file name, content type, bytes)
Handler = Callable[[JSON, Files], Awaitable[JSON]]
Sign = Literal["app_id", "oa_id", "none", "wrong"]
Button = tuple[str, str, Any]  # (title, type, payload)

ENDPOINTS = ("cs", "upload", "token", "template")
SIGNATURE_HEADER = "X-ZEvent-Signature"
WINDOW_S = 7 * 24 * 3600.0  # cs messages need an interaction within 7 days
TEXT_LENGTH = 2000
MAX_BUTTONS = 5
TITLE_LENGTH = 100
SUBTITLE_LENGTH = 500
MAX_UPLOAD = 1024 * 1024
TRACKING_ID_LENGTH = 48
EXPIRES_IN = "90000"  # 25 h, as a string like Zalo's
BUTTON_TYPES = frozenset(
    {"oa.open.url", "oa.query.show", "oa.query.hide", "oa.open.sms", "oa.open.phone"}
)
_QUERY_TYPES = frozenset({"oa.query.show", "oa.query.hide"})
_PHONE = re.compile(r"^84\d{9}$")
_JPEG, _PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"
_MESSAGES = {
    -32: "Exceeded the limit of requests per minute",
    -100: "Parameters invalid: tracking_id",
    -108: "Phone number is invalid",
    -118: "Template data is invalid",
    -124: "Template not found",
    -133: "Sending ZNS at night is not allowed (22:00-06:00)",
    -144: "Daily quota exceeded",
    -201: "Parameters invalid",
    -210: "Attachment is invalid or expired",
    -213: "User has not followed OA",
    -216: "Access token is invalid",
    -220: "Access token has expired",
    -230: "User has not interacted with the OA in the last 7 days",
}
_OAUTH_NAMES = {
    -14002: "Invalid secret key",
    -14003: "Invalid parameter",
    -14014: "Invalid refresh token",
}


class _ZaloError(Exception):
    """An error answer: ``{"error", "message"}``, or the OAuth shape for the token endpoint."""

    def __init__(
        self,
        code: int,
        message: str | None = None,
        *,
        oauth: bool = False,
        description: str | None = None,
        status: int = 200,
    ) -> None:
        default = _OAUTH_NAMES.get(code, "Unknown error") if oauth else _MESSAGES.get(code)
        message = message or default or "Error"
        super().__init__(message)
        self.code, self.message, self.oauth, self.status = code, message, oauth, status
        self.description = description or message

    def body(self) -> JSON:
        if self.oauth:
            return {
                "error": self.code,
                "error_name": self.message,
                "error_description": self.description,
            }
        return {"error": self.code, "message": self.message}


@dataclass(slots=True)
class RecordedCall:
    """One API call the bot made, failed ones included.

    Attributes:
        endpoint: ``"cs"``, ``"upload"``, ``"token"`` or ``"template"``.
        params: The JSON body or form (an upload's ``file`` is ``{filename, content_type,
            size}``).
        error: The error code answered; 0 on success.
        time: ``time.monotonic()`` when it was answered.
        user_id: The cs recipient, or the template's phone; None otherwise.
    """

    endpoint: str
    params: JSON
    error: int
    time: float
    user_id: str | None = None


@dataclass(slots=True)
class _Fault:
    error: int
    times: int
    user_id: str | None
    message: str | None
    status: int


def _ok(data: JSON) -> JSON:
    return {"error": 0, "message": "Success", "data": data}


def _invalid(what: str) -> _ZaloError:
    return _ZaloError(-201, f"Parameters invalid: {what}")


async def _read(request: web.Request) -> tuple[JSON, Files]:
    params: JSON = {}
    files: Files = {}
    if not request.body_exists:
        return params, files
    ctype = request.content_type
    if ctype == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise _invalid("body is not JSON") from None
        if not isinstance(body, dict):
            raise _invalid("body is not a JSON object")
        params.update(body)
    elif ctype == "multipart/form-data":
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader) or not part.name:
                continue
            if part.filename is None:
                params[part.name] = await part.text()
            else:
                data = bytes(await part.read())
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                files[part.name] = (part.filename, content_type, data)
                params[part.name] = {
                    "filename": part.filename,
                    "content_type": content_type,
                    "size": len(data),
                }
    else:
        form = await request.post()
        params.update((k, v) for k, v in form.items() if isinstance(v, str))
    return params, files


def _subject(endpoint: str, params: JSON) -> str | None:
    """Whom a call is about: the cs recipient or the template's phone."""
    if endpoint == "cs":
        recipient = params.get("recipient")
        user = recipient.get("user_id") if isinstance(recipient, dict) else None
        return str(user) if user else None
    if endpoint == "template":
        phone = params.get("phone")
        return str(phone) if phone else None
    return None


def _buttons(raw: Any) -> list[Button]:
    if not isinstance(raw, list) or not raw:
        raise _invalid("buttons must be a non-empty list")
    if len(raw) > MAX_BUTTONS:
        raise _invalid(f"at most {MAX_BUTTONS} buttons")
    buttons: list[Button] = []
    for button in raw:
        if not isinstance(button, dict):
            raise _invalid("button must be an object")
        title, kind, payload = button.get("title"), button.get("type"), button.get("payload")
        if not isinstance(title, str) or not title.strip():
            raise _invalid("button title is empty")
        if len(title) > TITLE_LENGTH:
            raise _invalid(f"button title longer than {TITLE_LENGTH}")
        if kind not in BUTTON_TYPES:
            raise _invalid(f"button type {kind!r}")
        if kind in _QUERY_TYPES and not (isinstance(payload, str) and payload):
            raise _invalid("query button payload must be a non-empty string")
        if kind not in _QUERY_TYPES and not isinstance(payload, dict):
            raise _invalid("button payload must be an object")
        buttons.append((title, str(kind), payload))
    return buttons


class ZaloEmulator:
    """An in-memory Zalo OA Open API server on ``127.0.0.1`` for one OA.

    Args:
        app_id: The app; token refreshes must name it, webhook signatures start with it.
        oa_id: The OA; the other first term of webhook signatures.
        oa_secret_key: The OA secret key ending each webhook signature.
        app_secret: The ``secret_key`` header the token endpoint wants.
        access_token: The first access token accepted.
        refresh_token: The first (single-use) refresh token.
        port: TCP port to listen on; 0 picks a free one.
        clock: Zalo's clock (UTC), which stamps events: the bot's clock in tests (a fixed start),
            the wall clock only where the bot under test runs on it (bench/inbound.py).

    Attributes:
        webhook_url: Where webhook events are POSTed (the bot's ``/zalo/webhook``).
        followers: Users following the OA; cs sends to others get -213.
        night: When true, template sends get -133.
        quota_left: Template sends left today (-144 at 0); ``daily_quota`` is the day's total.
        calls: Every API call, failed ones included (``error`` != 0); ``call_counts`` by
            endpoint.
        templates: Template messages sent: ``{phone, template_id, template_data, tracking_id,
            msg_id}``.
        uploads: Images uploaded; ``uploaded`` maps attachment ids to their bytes.
        refreshes: Successful token refreshes; ``refresh_tokens_used`` the tokens they spent.
        messages_sent: Successful cs sends.
        webhook_ms: How long the bot took to answer each webhook POST, in ms.
        latencies_ms: Helper event -> next cs message to that user, in ms (FIFO per user).
        events: Every event POSTed; ``last_event`` the last one (post it again to redeliver).
    """

    def __init__(
        self,
        *,
        app_id: str = "3001234567890",
        oa_id: str = "5550001112223",
        oa_secret_key: str = "oa-secret-key",
        app_secret: str = "app-secret",
        access_token: str = "AT-1",
        refresh_token: str = "RT-1",
        port: int = 0,
        clock: Callable[[], datetime],
    ) -> None:
        self.app_id, self.oa_id = app_id, oa_id
        self._clock = clock
        self.oa_secret_key, self.app_secret = oa_secret_key, app_secret
        self.access_token, self.refresh_token = access_token, refresh_token
        self.webhook_url: str | None = None
        self.followers: set[str] = set()
        self.night = False
        self.daily_quota = 1000
        self.quota_left = 1000
        self.refreshes = 0
        self.refresh_tokens_used: list[str] = []
        self.uploaded: dict[str, bytes] = {}
        self.last_event: JSON = {}
        self._port = port
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self._changed = asyncio.Event()
        self._older_tokens: set[str] = set()  # earlier access tokens, still valid
        self._expired_tokens: set[str] = set()
        self._token_seq = itertools.count(2)
        self._expired_attachments: set[str] = set()
        self._template_params: dict[str, frozenset[str]] = {}
        self._last_seen: dict[str, float] = {}
        self._user_files: dict[str, bytes] = {}
        self._last_ts = 0
        self._posting = 0  # webhook POSTs not answered yet
        self._handlers: dict[str, Handler] = {
            "cs": self._send_cs,
            "upload": self._upload,
            "token": self._refresh,
            "template": self._send_template,
        }
        self.reset()

    def reset(self) -> None:
        """Forgets what was recorded (calls, sends, faults, timings); keeps tokens, followers,
        interaction times, attachments, registered templates and the quota."""
        self.calls: list[RecordedCall] = []
        self.call_counts: Counter[str] = Counter()
        self.templates: list[JSON] = []
        self.events: list[JSON] = []
        self.webhook_ms: list[float] = []
        self.latencies_ms: list[float] = []
        self.messages_sent = 0
        self.uploads = 0
        self._sent: dict[str, list[JSON]] = defaultdict(list)
        self._faults: dict[str, list[_Fault]] = defaultdict(list)
        self._latency_fifo: dict[str, deque[int]] = defaultdict(deque)
        self._notify()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Starts serving on ``127.0.0.1`` (a free port unless one was given)."""
        app = web.Application(client_max_size=16 * 1024 * 1024)
        routes = (
            ("/openapi/v3.0/oa/message/cs", "cs"),
            ("/openapi/v2.0/oa/upload/image", "upload"),
            ("/oauth/v4/oa/access_token", "token"),
            ("/business/message/template", "template"),
        )
        for path, endpoint in routes:
            app.router.add_post(path, self._route(endpoint))
        app.router.add_get("/files/{name}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        """Stops the server and closes the webhook client."""
        if self._client is not None:
            await self._client.close()
            self._client = None
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
        """``http://127.0.0.1:PORT``."""
        if self._runner is None:
            raise RuntimeError("ZaloEmulator is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_base_url(self) -> str:
        """Stands for https://openapi.zalo.me."""
        return f"{self.base_url}/openapi"

    @property
    def oauth_base_url(self) -> str:
        """Stands for https://oauth.zaloapp.com."""
        return f"{self.base_url}/oauth"

    @property
    def business_base_url(self) -> str:
        """Stands for https://business.openapi.zalo.me."""
        return f"{self.base_url}/business"

    # -- test controls ----------------------------------------------------------------------

    def fail_next(
        self,
        endpoint: str,
        *,
        error: int,
        times: int = 1,
        user_id: str | None = None,
        message: str | None = None,
        status: int = 200,
    ) -> None:
        """Makes the next ``times`` calls of ``endpoint`` answer ``error``.

        Args:
            endpoint: ``"cs"``, ``"upload"``, ``"token"`` or ``"template"``.
            error: The error code (negative, like Zalo's).
            times: How many matching calls fail.
            user_id: Only calls about this user (cs recipient; the phone for templates).
            message: The ``message`` (``error_name`` for the token endpoint); a default
                otherwise.
            status: The HTTP status (Zalo uses 200 even for errors; 5xx for outages).
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {ENDPOINTS}, not {endpoint!r}")
        if user_id is not None and endpoint not in ("cs", "template"):
            raise ValueError("user_id only applies to the cs and template endpoints")
        if times < 1:
            raise ValueError("times must be at least 1")
        self._faults[endpoint].append(_Fault(error, times, user_id, message, status))

    def add_follower(self, user_id: str, *, interacted: bool = True) -> None:
        """Makes ``user_id`` a follower, by default one who just interacted (in the window)."""
        self.followers.add(user_id)
        if interacted:
            self._last_seen[user_id] = time.monotonic()

    def expire_window(self, user_id: str) -> None:
        """The user last interacted 8 days ago: cs sends get -230 until they write again."""
        self._last_seen[user_id] = time.monotonic() - 8 * 24 * 3600.0

    def expire_access_token(self) -> None:
        """The current access token (and every earlier one) gets -216 from now on."""
        self._expired_tokens.add(self.access_token)
        self._expired_tokens.update(self._older_tokens)
        self._older_tokens.clear()

    def expire_attachments(self) -> None:
        """Every attachment id issued so far gets -210 from now on."""
        self._expired_attachments.update(self.uploaded)

    def add_template(self, template_id: str, params: Iterable[str]) -> None:
        """Registers an approved template with its parameter names."""
        self._template_params[template_id] = frozenset(params)

    def signature(self, body: bytes, timestamp: str, *, first: str = "app_id") -> str:
        """The ``X-ZEvent-Signature`` value: ``mac=`` + SHA-256(first + body + timestamp +
        OA secret key), ``first`` being ``"app_id"`` or ``"oa_id"``."""
        term = {"app_id": self.app_id, "oa_id": self.oa_id}[first]
        digest = hashlib.sha256(
            term.encode() + body + timestamp.encode() + self.oa_secret_key.encode()
        )
        return f"mac={digest.hexdigest()}"

    # -- inspecting what the bot sent -------------------------------------------------------

    def sent(self, user_id: str) -> list[JSON]:
        """The cs messages successfully sent to a user, oldest first.

        Each is ``{kind, text, buttons, attachment_id, elements, message_id, raw, at}``:
        ``kind`` is ``"text"``, ``"buttons"``, ``"media"`` or ``"request_user_info"``,
        ``buttons`` a list of ``(title, type, payload)``, ``raw`` the message as sent and
        ``at`` its ``time.monotonic()``.
        """
        return list(self._sent.get(user_id, ()))

    async def wait_for_sent(
        self, user_id: str, count: int = 1, timeout: float = 5.0
    ) -> list[JSON]:
        """Waits until at least ``count`` cs messages were sent to ``user_id`` in total.

        Raises:
            AssertionError: On timeout, listing what was sent and the failed calls for that
                user.
        """
        if await self._wait(lambda: len(self._sent.get(user_id, ())) >= count, timeout):
            return self.sent(user_id)
        got = [(m["kind"], m["text"][:80]) for m in self.sent(user_id)]
        failed = [(c.endpoint, c.error) for c in self.calls if c.error and c.user_id == user_id]
        raise AssertionError(
            f"expected >= {count} messages to Zalo user {user_id} within {timeout}s,"
            f" got {len(got)}: {got!r}; failed calls: {failed!r}"
        )

    async def wait_for_calls(
        self, endpoint: str, count: int = 1, timeout: float = 5.0
    ) -> list[RecordedCall]:
        """Waits until ``endpoint`` was called at least ``count`` times (failed calls too).

        Raises:
            AssertionError: On timeout.
        """
        if await self._wait(lambda: self.call_counts[endpoint] >= count, timeout):
            return [c for c in self.calls if c.endpoint == endpoint]
        raise AssertionError(
            f"expected >= {count} {endpoint} calls within {timeout}s,"
            f" got {self.call_counts[endpoint]}"
        )

    async def wait_for_templates(self, count: int = 1, timeout: float = 5.0) -> list[JSON]:
        """Waits until at least ``count`` template messages were sent in total.

        Raises:
            AssertionError: On timeout, listing the failed template calls.
        """
        if await self._wait(lambda: len(self.templates) >= count, timeout):
            return list(self.templates)
        failed = [(c.user_id, c.error) for c in self.calls if c.endpoint == "template" and c.error]
        raise AssertionError(
            f"expected >= {count} template messages within {timeout}s,"
            f" got {len(self.templates)}; failed calls: {failed!r}"
        )

    # -- driving the bot: webhook events ----------------------------------------------------

    async def post_event(
        self,
        event: JSON,
        *,
        sign: Sign = "app_id",
        raw: bytes | None = None,
        num_retry: int | None = None,
    ) -> int:
        """POSTs an event to ``webhook_url`` like Zalo does; returns the bot's HTTP status.

        Args:
            event: The event; its ``timestamp`` goes into the signature.
            sign: ``"app_id"`` or ``"oa_id"`` (the signature's first term), ``"none"`` (no
                signature header) or ``"wrong"`` (a bad mac).
            raw: The body to post instead of ``json.dumps(event, ensure_ascii=False)``.
            num_retry: Adds Zalo's redelivery header ``num_retry``.
        """
        if self.webhook_url is None:
            raise RuntimeError("set webhook_url before posting events")
        body = raw if raw is not None else json.dumps(event, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        timestamp = str(event.get("timestamp", ""))
        if sign in ("app_id", "oa_id"):
            headers[SIGNATURE_HEADER] = self.signature(body, timestamp, first=sign)
        elif sign == "wrong":
            digest = hashlib.sha256(self.app_id.encode() + body + b"not-the-secret")
            headers[SIGNATURE_HEADER] = f"mac={digest.hexdigest()}"
        elif sign != "none":
            raise ValueError(f"sign must be app_id, oa_id, none or wrong, not {sign!r}")
        if num_retry is not None:
            headers["num_retry"] = str(num_retry)
        self.last_event = event
        self.events.append(event)
        if self._client is None or self._client.closed:
            self._client = ClientSession()
        started = time.monotonic()
        self._posting += 1
        try:
            async with self._client.post(self.webhook_url, data=body, headers=headers) as resp:
                await resp.read()
                status = resp.status
        finally:
            self._posting -= 1
            self._notify()
        self.webhook_ms.append((time.monotonic() - started) * 1000)
        return status

    async def idle(self, timeout: float = 5.0) -> None:
        """Waits until every webhook POST was answered (the bot stored its event).

        Raises:
            AssertionError: On timeout.
        """
        if not await self._wait(lambda: not self._posting, timeout):
            raise AssertionError(f"{self._posting} webhook POSTs unanswered after {timeout}s")

    async def user_text(
        self,
        user_id: str,
        text: str,
        *,
        msg_id: str | None = None,
        sign: Sign = "app_id",
        at: datetime | None = None,
    ) -> int:
        """A ``user_send_text`` event: the user wrote ``text`` (stamped ``at``, default now)."""
        message = {"text": text, "msg_id": msg_id or self._msg_id()}
        return await self._user_event(user_id, "user_send_text", {"message": message}, sign, at=at)

    async def press(
        self, user_id: str, message: JSON, title: str, *, sign: Sign = "app_id"
    ) -> int:
        """The user presses the button ``title`` of a sent message (a dict from :meth:`sent`).

        An ``oa.query.*`` button comes back as the user's text: its payload.

        Raises:
            AssertionError: The message has no such button, or it opens a link/phone/SMS
                (which reaches no bot).
        """
        buttons = message.get("buttons") or []
        found = next((b for b in buttons if b[0] == title), None)
        if found is None:
            titles = [b[0] for b in buttons]
            raise AssertionError(f"no button {title!r} in the message; buttons: {titles!r}")
        _, kind, payload = found
        if kind not in _QUERY_TYPES:
            raise AssertionError(f"button {title!r} is {kind}: pressing it sends the bot nothing")
        return await self.user_text(user_id, str(payload), sign=sign)

    async def user_image(
        self,
        user_id: str,
        data: bytes,
        *,
        caption: str = "",
        msg_id: str | None = None,
        sign: Sign = "app_id",
    ) -> int:
        """A ``user_send_image`` event; the picture is served at ``/files/<name>.jpg``."""
        name = f"{secrets.token_hex(8)}.jpg"
        self._user_files[name] = data
        url = f"{self.base_url}/files/{name}"
        message = {
            "text": caption,
            "msg_id": msg_id or self._msg_id(),
            "attachments": [{"type": "image", "payload": {"thumbnail": url, "url": url}}],
        }
        return await self._user_event(user_id, "user_send_image", {"message": message}, sign)

    async def user_location(
        self,
        user_id: str,
        lat: float = 10.7769,
        lon: float = 106.7009,
        *,
        msg_id: str | None = None,
        sign: Sign = "app_id",
    ) -> int:
        """A ``user_send_location`` event (coordinates as strings, as Zalo sends them)."""
        coordinates = {"latitude": str(lat), "longitude": str(lon)}
        message = {
            "msg_id": msg_id or self._msg_id(),
            "attachments": [{"type": "location", "payload": {"coordinates": coordinates}}],
        }
        return await self._user_event(user_id, "user_send_location", {"message": message}, sign)

    async def follow(self, user_id: str, *, sign: Sign = "app_id") -> int:
        """A ``follow`` event: the user follows the OA (and joins ``followers``)."""
        return await self._user_event(user_id, "follow", {}, sign)

    async def unfollow(self, user_id: str, *, sign: Sign = "app_id") -> int:
        """An ``unfollow`` event: the user leaves ``followers``."""
        return await self._user_event(user_id, "unfollow", {}, sign)

    async def share_info(
        self,
        user_id: str,
        *,
        name: str = "Nguyễn Văn An",
        phone: str = "84912345678",
        sign: Sign = "app_id",
    ) -> int:
        """A ``user_submit_info`` event: the answer to a ``request_user_info`` template."""
        info = {"name": name, "phone": phone, "address": "", "city": "", "district": ""}
        return await self._user_event(user_id, "user_submit_info", {"info": info}, sign)

    # -- internals --------------------------------------------------------------------------

    def _msg_id(self) -> str:
        return secrets.token_hex(16)

    def _now_ms(self) -> int:
        return int(self._clock().timestamp() * 1000)

    def _timestamp(self) -> str:
        """Milliseconds since the epoch, strictly increasing (events stay distinct)."""
        self._last_ts = max(self._now_ms(), self._last_ts + 1)
        return str(self._last_ts)

    async def _user_event(
        self, user_id: str, name: str, fields: JSON, sign: Sign, *, at: datetime | None = None
    ) -> int:
        event: JSON = {"app_id": self.app_id, "user_id_by_app": f"app-{user_id}"}
        if name in ("follow", "unfollow"):
            event.update(
                event_name=name,
                oa_id=self.oa_id,
                follower={"id": user_id},
                source="oa_profile",
            )
        else:
            event.update(event_name=name, sender={"id": user_id}, recipient={"id": self.oa_id})
        event.update(fields)
        event["timestamp"] = str(int(at.timestamp() * 1000)) if at else self._timestamp()
        if name == "unfollow":
            self.followers.discard(user_id)
        else:
            self.followers.add(user_id)
            self._latency_fifo[user_id].append(time.monotonic_ns())
        self._last_seen[user_id] = time.monotonic()
        return await self.post_event(event, sign=sign)

    def _in_window(self, user_id: str) -> bool:
        seen = self._last_seen.get(user_id)
        return seen is not None and time.monotonic() - seen <= WINDOW_S

    def _token_ok(self, token: str | None) -> bool:
        if not token or token in self._expired_tokens:
            return False
        return token == self.access_token or token in self._older_tokens

    def _authorize(self, endpoint: str, request: web.Request) -> None:
        if endpoint == "token":
            if request.headers.get("secret_key") != self.app_secret:
                raise _ZaloError(
                    -14002, oauth=True, description="The secret_key header is not the app secret"
                )
        elif not self._token_ok(request.headers.get("access_token")):
            raise _ZaloError(-216)

    def _check_faults(self, endpoint: str, subject: str | None) -> None:
        faults = self._faults.get(endpoint, [])
        for fault in faults:
            if fault.user_id is None or fault.user_id == subject:
                fault.times -= 1
                if fault.times <= 0:
                    faults.remove(fault)
                raise _ZaloError(
                    fault.error, fault.message, oauth=endpoint == "token", status=fault.status
                )

    def _route(self, endpoint: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return await self._handle(endpoint, request)

        return handle

    async def _handle(self, endpoint: str, request: web.Request) -> web.Response:
        params: JSON = {}
        subject: str | None = None
        status, error = 200, 0
        try:
            params, files = await _read(request)
            subject = _subject(endpoint, params)
            self._authorize(endpoint, request)
            self._check_faults(endpoint, subject)
            body = await self._handlers[endpoint](params, files)
        except _ZaloError as err:
            body, error, status = err.body(), err.code, err.status
        self.calls.append(RecordedCall(endpoint, params, error, time.monotonic(), subject))
        self.call_counts[endpoint] += 1
        self._notify()
        return web.json_response(body, status=status)

    async def _send_cs(self, p: JSON, files: Files) -> JSON:
        user = _subject("cs", p)
        message = p.get("message")
        if user is None:
            raise _invalid("recipient.user_id is missing")
        if not isinstance(message, dict):
            raise _invalid("message is missing")
        if user not in self.followers:
            raise _ZaloError(-213)
        if not self._in_window(user):
            raise _ZaloError(-230)
        record = self._parse_message(message)
        message_id = secrets.token_hex(16)
        record.update(message_id=message_id, raw=message, at=time.monotonic())
        self._sent[user].append(record)
        self.messages_sent += 1
        fifo = self._latency_fifo.get(user)
        if fifo:
            self.latencies_ms.append((time.monotonic_ns() - fifo.popleft()) / 1e6)
        return _ok({"message_id": message_id, "user_id": user})

    def _parse_message(self, message: JSON) -> JSON:
        text = message.get("text", "")
        if not isinstance(text, str):
            raise _invalid("text must be a string")
        if len(text) > TEXT_LENGTH:
            raise _invalid("text too long")
        record: JSON = {
            "kind": "text",
            "text": text,
            "buttons": [],
            "attachment_id": None,
            "elements": [],
        }
        attachment = message.get("attachment")
        if attachment is None:
            if not text.strip():
                raise _invalid("text is empty")
            return record
        if not isinstance(attachment, dict) or attachment.get("type") != "template":
            raise _invalid("attachment type must be template")
        payload = attachment.get("payload")
        if not isinstance(payload, dict):
            raise _invalid("attachment payload is missing")
        template_type = payload.get("template_type")
        if template_type is None:
            if not text.strip():
                raise _invalid("text is empty")
            record.update(kind="buttons", buttons=_buttons(payload.get("buttons")))
        elif template_type == "media":
            record.update(kind="media", **self._media(payload))
        elif template_type == "request_user_info":
            record.update(kind="request_user_info", elements=_info_elements(payload))
        else:
            raise _invalid(f"template_type {template_type!r}")
        return record

    def _media(self, payload: JSON) -> JSON:
        elements = payload.get("elements")
        if not isinstance(elements, list) or len(elements) != 1:
            raise _invalid("a media template has exactly 1 element")
        (element,) = elements
        if not isinstance(element, dict) or element.get("media_type") not in ("image", "gif"):
            raise _invalid("media_type must be image or gif")
        attachment_id = element.get("attachment_id")
        if attachment_id is None and not isinstance(element.get("url"), str):
            raise _invalid("a media element needs attachment_id or url")
        if attachment_id is not None and (
            attachment_id not in self.uploaded or attachment_id in self._expired_attachments
        ):
            raise _ZaloError(-210)
        buttons = _buttons(payload["buttons"]) if "buttons" in payload else []
        return {"attachment_id": attachment_id, "elements": elements, "buttons": buttons}

    async def _upload(self, p: JSON, files: Files) -> JSON:
        if "file" not in files:
            raise _invalid("file is missing")
        data = files["file"][2]
        if not data:
            raise _invalid("file is empty")
        if len(data) > MAX_UPLOAD:
            raise _invalid("file is larger than 1 MB")
        if not data.startswith((_JPEG, _PNG)):
            raise _invalid("only jpg and png images are accepted")
        attachment_id = secrets.token_hex(16)
        self.uploaded[attachment_id] = data
        self.uploads += 1
        return _ok({"attachment_id": attachment_id})

    async def _refresh(self, p: JSON, files: Files) -> JSON:
        if p.get("app_id") != self.app_id:
            raise _ZaloError(-14003, oauth=True, description="app_id is not this app's")
        if p.get("grant_type") != "refresh_token":
            raise _ZaloError(-14003, oauth=True, description="grant_type must be refresh_token")
        used = p.get("refresh_token")
        if not used or used != self.refresh_token or used in self.refresh_tokens_used:
            raise _ZaloError(-14014, oauth=True, description="Refresh token is invalid or used")
        n = next(self._token_seq)
        self._older_tokens.add(self.access_token)
        self.access_token, self.refresh_token = f"AT-{n}", f"RT-{n}"
        self.refreshes += 1
        self.refresh_tokens_used.append(used)
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": EXPIRES_IN,
        }

    async def _send_template(self, p: JSON, files: Files) -> JSON:
        if self.night:
            raise _ZaloError(-133)
        tracking_id = p.get("tracking_id")
        if not isinstance(tracking_id, str) or not tracking_id:
            raise _ZaloError(-100, "Parameters invalid: tracking_id is required")
        if len(tracking_id) > TRACKING_ID_LENGTH:
            raise _ZaloError(
                -100, f"Parameters invalid: tracking_id longer than {TRACKING_ID_LENGTH}"
            )
        phone = p.get("phone")
        if not isinstance(phone, str) or not _PHONE.fullmatch(phone):
            raise _ZaloError(-108)
        template_id = str(p.get("template_id") or "")
        params = self._template_params.get(template_id)
        if params is None:
            raise _ZaloError(-124)
        data = p.get("template_data")
        if not isinstance(data, dict) or set(data) != params:
            raise _ZaloError(-118)
        if self.quota_left <= 0:
            raise _ZaloError(-144)
        self.quota_left -= 1
        msg_id = secrets.token_hex(16)
        self.templates.append(
            {
                "phone": phone,
                "template_id": template_id,
                "template_data": data,
                "tracking_id": tracking_id,
                "msg_id": msg_id,
            }
        )
        quota = {"dailyQuota": str(self.daily_quota), "remainingQuota": str(self.quota_left)}
        return _ok({"msg_id": msg_id, "sent_time": str(self._now_ms()), "quota": quota})

    async def _handle_file(self, request: web.Request) -> web.Response:
        data = self._user_files.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        content_type = "image/png" if data.startswith(_PNG) else "image/jpeg"
        return web.Response(body=data, content_type=content_type)

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


def _info_elements(payload: JSON) -> list[JSON]:
    elements = payload.get("elements")
    if not isinstance(elements, list) or len(elements) != 1:
        raise _invalid("request_user_info takes exactly 1 element")
    (element,) = elements
    if not isinstance(element, dict):
        raise _invalid("element must be an object")
    title, subtitle = element.get("title"), element.get("subtitle", "")
    if not isinstance(title, str) or not title.strip() or len(title) > TITLE_LENGTH:
        raise _invalid(f"element title must be 1-{TITLE_LENGTH} characters")
    if not isinstance(subtitle, str) or len(subtitle) > SUBTITLE_LENGTH:
        raise _invalid(f"element subtitle longer than {SUBTITLE_LENGTH}")
    return elements
