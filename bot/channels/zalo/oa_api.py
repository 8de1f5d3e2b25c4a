"""Zalo Official Account (OA Open API v3, ZBS template messages), straight over aiohttp.

Facts, endpoints and error codes: reference/channels.md §4. What differs from Telegram:

- Every answer is HTTP 200 with `{error, message, data}`: `error != 0` is checked on each.
- Auth is a bare `access_token` header; the token lasts 25 h and is refreshed through a
  `TokenSource` (bot.channels.zalo.tokens) when Zalo says it expired (-216, -220), once.
- There are no inline buttons. Up to `MAX_ACTIONS` short choices go as `oa.query.show`
  actions, whose press comes back as the user's own text message (the label); more choices
  become a numbered list that accepts "1", "2"... Either way `choice_payload` maps the text
  back to the button's payload, from the buttons we last offered in that chat.
- Replies are free only within the interaction window (-230 outside it). A proactive message
  (a reminder, a result) then goes as a ZBS template message by phone, if the operator set a
  template for its kind, never during the night ban; otherwise it waits for the user's next
  message (`WaitForUser`).
- Pictures are uploaded first (`/v2.0/oa/upload/image`) and sent as a media template; the
  attachment id is reused until Zalo refuses it (they expire after about a week).
- Messages cannot be edited: an edit is skipped (the final word always comes as a message).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol

import aiohttp

from bot.channels import (
    ChannelLimits,
    RetryLater,
    Sent,
    TemporaryFailure,
    Undeliverable,
    Unreachable,
    WaitForUser,
    fit,
)
from bot.clock import Clock
from bot.i18n import TIMEZONE, _, use_locale
from bot.messages import Button, ChatRef, Contact, Incoming, Kind, Outgoing
from bot.vn.text import fold

log = logging.getLogger(__name__)

NAME = "zalo"
TEXT_LENGTH = 2000  # message/cs text
MAX_ACTIONS = 5  # buttons of one template
ACTION_TITLE_LENGTH = 100
INFO_SUBTITLE_LENGTH = 500  # request_user_info element subtitle
TRACKING_ID_LENGTH = 48
EVENT_KEY_LENGTH = 64  # processed_updates.update_id
NIGHT = (time(22, 0), time(6, 0))  # template sends are refused then (-133), Vietnam time
RATE_LIMIT_WAIT_S = 60.0  # -32: Zalo's per-minute limit; its numbers are not published
TOKEN_WAIT_S = 300.0  # messages wait this long while the token cannot be renewed
SIGNATURE_HEADER = "X-ZEvent-Signature"
TIMESTAMP_CANDIDATES = 4  # `"timestamp"` values of a raw body tried against its signature
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIMESTAMP = re.compile(rb'"timestamp"\s*:\s*"?(\d{1,16})(?![\d.eE])')
CITIZEN_EVENTS = frozenset({"follow", "user_submit_info"})  # besides every user_send_*
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:\s+(.*))?$", re.DOTALL)
_VIETNAMESE = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]")

# Error codes (reference/channels.md §4)
TOKEN_INVALID = (-216, -220)
OUTSIDE_WINDOW = -230
NOT_FOLLOWER = -213
RATE_LIMITED = -32
ATTACHMENT_INVALID = -210
NIGHT_BAN = -133
DAILY_QUOTA = -144

JSON = dict[str, Any]


class TokenSource(Protocol):
    """Where the channel gets the OA access token, and a fresh one when Zalo refuses it."""

    def current(self) -> str:
        """The access token to use now."""
        ...

    async def refresh(self, stale: str) -> str:
        """A new access token to replace `stale` (single-flight; may be another's refresh)."""
        ...


PhoneOf = Callable[[str], Awaitable[str | None]]  # Zalo user id -> the citizen's phone number


@dataclass(frozen=True, slots=True)
class Template:
    """A ZBS template message for one kind of proactive message.

    `fields` maps the template's parameter names to the fields of the message's
    `template_data` (e.g. `{"customer_name": "name", "schedule_time": "time"}`).
    """

    template_id: str
    fields: Mapping[str, str]


class _ZaloError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Zalo error {code}: {message}")
        self.code = code


@dataclass(frozen=True, slots=True)
class Signed:
    """A webhook body whose signature checked out."""

    first: str  # the signature's first term: "app_id" or "oa_id"
    timestamp: str  # the body's `timestamp` the signature covers: milliseconds since 1970


def signature_matches(
    raw: bytes, header: str | None, *, app_id: str, oa_id: str | None, secret: str
) -> Signed | None:
    """Which first term (`app_id` or `oa_id`) and timestamp make `header` the body's signature.

    `mac=` + hex SHA-256 of first term + raw body + the body's `timestamp` + the OA secret key.
    The body is not parsed (nothing unsigned reaches a parser): the timestamp is one of the
    first `TIMESTAMP_CANDIDATES` values written as `"timestamp": ...` in the raw bytes. None if
    no pair matches.
    """
    if not header or not header.startswith("mac="):
        return None
    given = header.removeprefix("mac=").strip().lower().encode()
    candidates = (found.group(1) for found in _TIMESTAMP.finditer(raw))
    for timestamp in dict.fromkeys(itertools.islice(candidates, TIMESTAMP_CANDIDATES)):
        for name, first in (("app_id", app_id), ("oa_id", oa_id)):
            if not first:
                continue
            digest = hashlib.sha256(first.encode() + raw + timestamp + secret.encode())
            if hmac.compare_digest(given, digest.hexdigest().encode()):
                return Signed(name, timestamp.decode())
    return None


def event_skew(timestamp: str, now: datetime) -> timedelta:
    """How far an event's `timestamp` (milliseconds) is ahead of `now` (negative: behind)."""
    return timedelta(milliseconds=int(timestamp)) - (now - EPOCH)


def event_key(event: JSON) -> str:
    """The event's own id: Zalo's `msg_id` for messages, else its name, user and time.

    At most `EVENT_KEY_LENGTH` characters (a longer one is hashed), as deduplication stores it.
    """
    message = event.get("message")
    if isinstance(message, dict) and message.get("msg_id"):
        key = str(message["msg_id"])
    else:
        key = f"{event.get('event_name', '')}:{user_of(event) or ''}:{event.get('timestamp', '')}"
    if len(key) > EVENT_KEY_LENGTH:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:48]
    return key


def user_of(event: JSON) -> str | None:
    """The Zalo user (per OA) an event comes from."""
    for holder in ("sender", "follower"):
        found = event.get(holder)
        if isinstance(found, dict) and found.get("id"):
            return str(found["id"])
    return None


def is_unfollow(event: JSON) -> bool:
    """The user stopped following the OA: we can no longer write to them."""
    return event.get("event_name") == "unfollow"


def to_incoming(event: JSON) -> Incoming | None:
    """Translate a webhook event; None for events the bot does not act on (receipts, echoes)."""
    try:
        return _to_incoming(event)
    except (KeyError, TypeError, ValueError, AttributeError):
        log.warning("ignoring a malformed Zalo event")
        return None


def _to_incoming(event: JSON) -> Incoming | None:
    name = str(event.get("event_name", ""))
    user = user_of(event)
    if user is None or not (name in CITIZEN_EVENTS or name.startswith("user_send_")):
        return None  # receipts, echoes of our own messages, OA management events
    message = event.get("message") or {}
    base: JSON = {
        "chat": ChatRef(NAME, user),
        "update_id": event_key(event),
        "user_id": user,
        "message_id": str(message["msg_id"]) if message.get("msg_id") else None,
    }
    if name == "follow":  # welcome and consent, as /start
        return Incoming(kind=Kind.COMMAND, command="start", text="/start", **base)
    if name == "user_submit_info":  # the answer to `request_user_info`: Zalo's contact share
        info = event.get("info") or {}
        phone = str(info.get("phone") or "")
        if not phone:
            return Incoming(kind=Kind.OTHER, **base)
        return Incoming(kind=Kind.CONTACT, contact=Contact(phone, user), **base)
    text = message.get("text")
    text = text if isinstance(text, str) else ""
    if name == "user_send_text":
        command = _COMMAND.match(text.strip())
        if command is not None:
            return Incoming(
                kind=Kind.COMMAND,
                text=text,
                command=command.group(1).lower(),
                args=(command.group(2) or "").strip(),
                **base,
            )
        return Incoming(kind=Kind.TEXT, text=text, **base)
    if name == "user_send_image":
        for attachment in message.get("attachments") or ():
            url = (attachment.get("payload") or {}).get("url")
            if attachment.get("type") == "image" and isinstance(url, str):
                return Incoming(kind=Kind.PHOTO, text=text, photo_file_id=url, **base)
    return Incoming(kind=Kind.OTHER, **base)  # location, sticker, voice...: politely ignored


# -- choices: buttons on a platform without buttons -------------------------------------


def _flat(message: Outgoing) -> list[Button]:
    return [button for row in message.buttons for button in row]


def numbered(buttons: Sequence[Button]) -> bool:
    """Whether these choices go as a numbered list (too many, or too long, for actions)."""
    return len(buttons) > MAX_ACTIONS or any(len(b.label) > ACTION_TITLE_LENGTH for b in buttons)


def choice_payload(text: str, offered: Sequence[Sequence[Button]]) -> str | None:
    """The payload a text stands for, given the choices of the latest messages (newest first).

    A label (with or without diacritics) chooses its button, from the newest message that
    offers it; a number chooses from the newest message only, and only if it showed a list.
    """
    folded = fold(text)
    if not folded:
        return None
    if offered and numbered(offered[0]) and folded.isascii() and folded.isdecimal():
        index = int(folded) - 1
        return offered[0][index].payload if 0 <= index < len(offered[0]) else None
    for buttons in offered:
        for button in buttons:
            if fold(button.label) == folded:
                return button.payload
    return None


def offered_buttons(body: JSON) -> list[Button]:
    """The choices an outbox row offered (as stored by `Outgoing.to_body`)."""
    return [Button(label, payload) for row in body.get("buttons", ()) for label, payload in row]


def _locale_of(text: str) -> str:
    """The language a message was written in: ours are Vietnamese or English."""
    return "vi" if _VIETNAMESE.search(text.lower()) else "en"


def _numbered_text(text: str, buttons: Sequence[Button]) -> str:
    lines = [f"{number}. {button.label}" for number, button in enumerate(buttons, 1)]
    with use_locale(_locale_of(text + "".join(b.label for b in buttons))):
        hint = _("Reply with the number of your choice (1–{count}).").format(count=len(buttons))
    return "\n".join([text, "", *lines, "", hint]).strip()


def _list_length(buttons: Sequence[Button]) -> int:
    """Room the numbered list takes (with its hint, in the longer language)."""
    return sum(len(b.label) + 6 for b in buttons) + 120


# -- the channel ------------------------------------------------------------------------


class ZaloChannel:
    """Translate `Outgoing` to OA API calls; fetch the pictures users send."""

    name = NAME

    def __init__(
        self,
        *,
        api_base_url: str,
        business_base_url: str,
        tokens: TokenSource,
        phone_of: PhoneOf,
        templates: Mapping[str, Template] | None = None,
        clock: Clock,
        chat_rate_per_s: float = 1.0,
        chat_burst: int = 3,
        bulk_rate_per_s: float = 10.0,
        info_image_url: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._api = api_base_url.rstrip("/")
        self._business = business_base_url.rstrip("/")
        self._tokens = tokens
        self._phone_of = phone_of
        self._templates = dict(templates or {})
        self._clock = clock
        self._info_image_url = info_image_url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self.limits = ChannelLimits(
            text_length=TEXT_LENGTH,
            caption_length=TEXT_LENGTH,
            chat_rate_per_s=chat_rate_per_s,
            chat_burst=chat_burst,
            bulk_rate_per_s=bulk_rate_per_s,
        )

    async def start(self) -> None:
        """Open the connection pool."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def stop(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- cutting messages to Zalo's shape -------------------------------------------------

    def fit(self, message: Outgoing) -> list[Outgoing]:
        """Cut `message` into what Zalo takes in one call each.

        A picture goes alone (with its text as caption when that is all); buttons go with
        the last piece of text, leaving room for their numbered list; the phone request is
        a template of its own after the text.
        """
        if message.image is not None or message.image_file_id:
            if not message.buttons and not message.request_phone:
                return fit(message, self.limits)
            picture = replace(message, text="", buttons=(), request_phone=None, template=None)
            rest = replace(message, image=None, image_file_id=None, image_key=None)
            return [picture, *self.fit(rest)]
        if message.request_phone:  # the card says it all if the text fits under its title
            if len(message.text) <= INFO_SUBTITLE_LENGTH:
                return [replace(message, buttons=(), remove_keyboard=False)]
            ask = replace(message, text="", buttons=(), remove_keyboard=False)
            text = replace(message, request_phone=None)
            return [*_once(self.fit(text)), ask]
        buttons = _flat(message)
        if buttons and numbered(buttons):
            room = max(200, TEXT_LENGTH - _list_length(buttons))
            return _once(fit(message, replace(self.limits, text_length=room)))
        return _once(fit(message, self.limits))

    # -- sending ----------------------------------------------------------------------------

    async def send(self, message: Outgoing, *, bulk: bool = False) -> Sent:
        """Send one message (a proactive one outside the window as a template message)."""
        if message.edit_message_id or message.new_topic:
            return Sent(message.edit_message_id)  # Zalo cannot edit messages or open topics
        try:
            try:
                return await self._send_cs(message)
            except _ZaloError as error:
                if error.code != OUTSIDE_WINDOW:
                    raise
                if bulk and message.template:
                    return await self._send_template(message)
                raise WaitForUser(str(error)) from None
        except _ZaloError as error:
            raise _outcome(error) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TemporaryFailure(f"{type(error).__name__}: {error}") from error

    async def _send_cs(self, message: Outgoing) -> Sent:
        user = message.chat.chat_id
        if message.image is not None or message.image_file_id:
            return await self._send_picture(message)
        if message.request_phone:
            payload = await self._post(f"{self._api}/v3.0/oa/message/cs", self._ask_info(message))
            return Sent(_message_id(payload))
        body = {"recipient": {"user_id": user}, "message": _text_message(message)}
        payload = await self._post(f"{self._api}/v3.0/oa/message/cs", body)
        return Sent(_message_id(payload))

    def _ask_info(self, message: Outgoing) -> JSON:
        element: JSON = {
            "title": (message.request_phone or "")[:ACTION_TITLE_LENGTH],
            "subtitle": message.text[:INFO_SUBTITLE_LENGTH],
        }
        if self._info_image_url:
            element["image_url"] = self._info_image_url
        template = {"template_type": "request_user_info", "elements": [element]}
        return {
            "recipient": {"user_id": message.chat.chat_id},
            "message": {"attachment": {"type": "template", "payload": template}},
        }

    async def _send_picture(self, message: Outgoing) -> Sent:
        """A known attachment id is sent by reference; if Zalo refuses it, upload again."""
        uploaded = None
        attachment = message.image_file_id
        if attachment is None:
            attachment = uploaded = await self._upload(message.image or b"")
        try:
            payload = await self._post_picture(message, attachment)
        except _ZaloError as error:
            if error.code != ATTACHMENT_INVALID or uploaded is not None or message.image is None:
                raise
            log.info("Zalo refused a cached attachment id (expired?); uploading again")
            uploaded = await self._upload(message.image)
            payload = await self._post_picture(message, uploaded)
        return Sent(_message_id(payload), uploaded)

    async def _post_picture(self, message: Outgoing, attachment_id: str) -> JSON:
        media = {
            "template_type": "media",
            "elements": [{"media_type": "image", "attachment_id": attachment_id}],
        }
        content: JSON = {"attachment": {"type": "template", "payload": media}}
        if message.text:
            content["text"] = message.text
        body = {"recipient": {"user_id": message.chat.chat_id}, "message": content}
        return await self._post(f"{self._api}/v3.0/oa/message/cs", body)

    async def _upload(self, image: bytes) -> str:
        form = aiohttp.FormData()
        png = image.startswith(b"\x89PNG")
        name, kind = ("image.png", "image/png") if png else ("image.jpg", "image/jpeg")
        form.add_field("file", image, filename=name, content_type=kind)
        payload = await self._post(f"{self._api}/v2.0/oa/upload/image", form=form)
        return str(payload["data"]["attachment_id"])

    async def _send_template(self, message: Outgoing) -> Sent:
        """Send a proactive message as its ZBS template by phone; wait if that cannot be."""
        template = self._templates.get(message.template or "")
        if template is None:
            raise WaitForUser(
                f"outside the interaction window; no template for {message.template}"
            )
        phone = await self._phone_of(message.chat.chat_id)
        if phone is None:
            raise WaitForUser("outside the interaction window; no phone number on record")
        now = self._clock()
        if _at_night(now):  # replies still work: the citizen writing sends it at once
            raise WaitForUser("template messages wait out the night", _until_morning(now))
        data = message.template_data or {}
        body = {
            "phone": _international(phone),
            "template_id": template.template_id,
            "template_data": {
                name: data.get(field, "") for name, field in template.fields.items()
            },
            "tracking_id": f"{message.template}-{message.chat.chat_id}-{now:%Y%m%d%H%M%S%f}"[
                :TRACKING_ID_LENGTH
            ],
        }
        try:
            payload = await self._post(f"{self._business}/message/template", body)
        except _ZaloError as error:
            if error.code == NIGHT_BAN:
                raise WaitForUser("Zalo refuses templates at night", _until_morning(now)) from None
            if error.code == DAILY_QUOTA:
                log.warning("Zalo's daily template quota is used up; the rest waits for tomorrow")
                wait = _until_morning(now)
                raise WaitForUser("Zalo daily template quota reached", wait) from None
            raise
        return Sent(str((payload.get("data") or {}).get("msg_id") or "") or None)

    async def _post(self, url: str, body: JSON | None = None, *, form: Any = None) -> JSON:
        """POST with the access token; on -216/-220 refresh it once and try again."""
        token = self._tokens.current()
        try:
            return await self._post_once(url, token, body, form)
        except _ZaloError as error:
            if error.code not in TOKEN_INVALID:
                raise
        try:
            token = await self._tokens.refresh(token)
        except Exception as error:  # refused (staff were told) or unreachable: wait, uncounted
            raise RetryLater(
                TOKEN_WAIT_S, f"the Zalo token could not be renewed ({error})"
            ) from error
        return await self._post_once(url, token, body, form)

    async def _post_once(self, url: str, token: str, body: JSON | None, form: Any) -> JSON:
        await self.start()
        assert self._session is not None
        kwargs: JSON = {"json": body} if form is None else {"data": form}
        # Not redirected: the access token would go along, to whichever host is named.
        async with self._session.post(
            url, headers={"access_token": token}, allow_redirects=False, **kwargs
        ) as response:
            if response.status >= 500 or 300 <= response.status < 400:
                raise TemporaryFailure(f"Zalo answered HTTP {response.status}")
            try:
                payload = await response.json(content_type=None)
            except ValueError:
                raise TemporaryFailure(f"Zalo answered HTTP {response.status}, not JSON") from None
        if not isinstance(payload, dict):
            raise TemporaryFailure("Zalo answered something other than a JSON object")
        code = int(payload.get("error") or 0)
        if code != 0:
            raise _ZaloError(code, str(payload.get("message") or ""))
        return payload

    # -- receiving pictures -----------------------------------------------------------------

    async def fetch_file(self, file_id: str, *, max_bytes: int) -> bytes | None:
        """Download a picture a user sent (`file_id` is its URL); None when too large.

        Raises:
            TemporaryFailure: the picture could not be downloaded.
        """
        if not file_id.startswith(("https://", "http://")):
            raise TemporaryFailure("not a picture URL")
        await self.start()
        assert self._session is not None
        try:
            async with self._session.get(file_id) as response:
                if response.status != 200:
                    raise TemporaryFailure(f"HTTP {response.status}")
                if (response.content_length or 0) > max_bytes:
                    return None
                data = await response.content.read(max_bytes + 1)
        except (aiohttp.ClientError, TimeoutError) as error:
            # Not the error's text: it quotes the picture's URL, a citizen's photo.
            raise TemporaryFailure(type(error).__name__) from error
        return data if len(data) <= max_bytes else None


def _once(parts: list[Outgoing]) -> list[Outgoing]:
    """Only the last part of a cut message may go as a template (one billable send)."""
    return [replace(p, template=None, template_data=None) for p in parts[:-1]] + parts[-1:]


def _text_message(message: Outgoing) -> JSON:
    buttons = _flat(message)
    if not buttons:
        return {"text": message.text}
    if numbered(buttons):
        return {"text": _numbered_text(message.text, buttons)}
    actions = [
        {"title": button.label, "type": "oa.query.show", "payload": button.label}
        for button in buttons
    ]
    template = {"buttons": actions}
    return {"text": message.text, "attachment": {"type": "template", "payload": template}}


def _message_id(payload: JSON) -> str | None:
    found = (payload.get("data") or {}).get("message_id")
    return str(found) if found else None


def _outcome(error: _ZaloError) -> Exception:
    """The sender's view of a Zalo error."""
    if error.code == NOT_FOLLOWER:
        return Unreachable(str(error))
    if error.code == RATE_LIMITED:
        return RetryLater(RATE_LIMIT_WAIT_S, "Zalo rate limit")
    if error.code in TOKEN_INVALID:  # still refused after a refresh: a human must look
        return TemporaryFailure(str(error))
    return Undeliverable(str(error))


def _international(phone: str) -> str:
    """`0912345678` or `+84912345678` -> `84912345678`, as ZBS wants it."""
    digits = re.sub(r"\D", "", phone)
    return "84" + digits[1:] if digits.startswith("0") else digits


def _at_night(moment: datetime) -> bool:
    local = moment.astimezone(TIMEZONE).time()
    return local >= NIGHT[0] or local < NIGHT[1]


def _until_morning(moment: datetime) -> float:
    """Seconds from `moment` to the next 06:00 in Vietnam (the night ban ends, quotas renew)."""
    local = moment.astimezone(TIMEZONE)
    morning = local.replace(hour=NIGHT[1].hour, minute=0, second=0, microsecond=0)
    if morning <= local:
        morning += timedelta(days=1)
    return max(1.0, (morning - local).total_seconds())
