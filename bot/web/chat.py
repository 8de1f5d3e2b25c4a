"""Web chat routes: the page, posting a message, reading replies (long poll), images.

A browser is identified by an HttpOnly cookie holding a random token; the chat id stored in the
database is a keyed hash of it, so the table alone cannot be used to read someone's chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
import secrets
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.channels import web as web_channel
from bot.i18n import DEFAULT_LOCALE, LANGUAGE_NAMES, SUPPORTED, _, current_locale, use_locale
from bot.web.json_body import BadJson, read_json
from bot.web.keys import DATABASE, DISPATCHER, POSTING, PROTECTOR, WEB_CHANNEL
from storage import outbox

COOKIE = "chat_session"
LANG_COOKIE = "chat_lang"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_PAGE = (Path(__file__).parent / "static" / "chat.html").read_text(encoding="utf-8")
MAX_WAIT_S = 25.0
MAX_ID = 2**31 - 1  # row ids are 32-bit integers on PostgreSQL
routes = web.RouteTableDef()


def _chat_id(request: web.Request) -> str:
    token = request.cookies.get(COOKIE, "")
    if not _TOKEN.match(token):
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "open /chat first"}), content_type="application/json"
        )
    return request.app[PROTECTOR].blind_index("webchat", token)[:40]


def _is_https(request: web.Request) -> bool:
    # Behind a TLS-terminating proxy the scheme arrives in X-Forwarded-Proto.
    return request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"


def _bad_request(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": reason}), content_type="application/json")


@routes.get("/")
async def index(request: web.Request) -> web.StreamResponse:
    """Send visitors to the chat."""
    raise web.HTTPFound("/chat")


@routes.get("/chat")
async def chat_page(request: web.Request) -> web.Response:
    """The chat page: Vietnamese, or the language chosen with its switch (`?lang=en`).

    The browser's own language is not followed: the service is Vietnamese first, and many
    phones in Vietnam run an English interface.
    """
    chosen = request.query.get("lang") or request.cookies.get(LANG_COOKIE, "")
    locale = chosen if chosen in SUPPORTED else DEFAULT_LOCALE
    with use_locale(locale):
        values = {
            "lang": current_locale(),
            "switch_lang": "en" if locale == "vi" else "vi",
            "switch_label": LANGUAGE_NAMES["en" if locale == "vi" else "vi"],
            "title": _("Citizen health assistant"),
            "subtitle": _("Vaccination · Test results · Certificates"),
            "placeholder": _("Type a message…"),
            "send": _("Send"),
        }
        strings = {
            "offline": _("Connection lost. Trying again…"),
            "error": _("That message could not be sent. Please try again."),
            "phone_hint": _("In the web chat, please type your phone number."),
        }
    page = _PAGE
    for key, value in values.items():
        page = page.replace("{{" + key + "}}", html.escape(value))
    page = page.replace(
        "{{strings}}", json.dumps(strings, ensure_ascii=False).replace("<", "\\u003c")
    )
    response = web.Response(text=page, content_type="text/html")
    if request.query.get("lang") in SUPPORTED:
        response.set_cookie(LANG_COOKIE, locale, samesite="Strict", max_age=365 * 24 * 3600)
    if not _TOKEN.match(request.cookies.get(COOKIE, "")):
        response.set_cookie(
            COOKIE,
            secrets.token_urlsafe(24),
            httponly=True,
            samesite="Strict",
            max_age=180 * 24 * 3600,
            path="/",
            secure=_is_https(request),
        )
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'"
    )
    return response


@routes.post("/api/chat/messages")
async def post_message(request: web.Request) -> web.Response:
    """Handle what the citizen typed or pressed. The same `id` twice is handled once."""
    chat_id = _chat_id(request)
    if not request.app[POSTING].allow(chat_id):
        raise web.HTTPTooManyRequests(
            text=json.dumps({"error": "too many messages; wait a moment"}),
            content_type="application/json",
        )
    try:
        body = await read_json(request)
        incoming = web_channel.to_incoming(chat_id, body)
    except BadJson:
        raise _bad_request("body must be JSON") from None
    except web_channel.BadWebMessage as error:
        raise _bad_request(str(error)) from None
    await request.app[DISPATCHER].handle(incoming)
    return web.json_response({"ok": True})


@routes.get("/api/chat/messages")
async def get_messages(request: web.Request) -> web.Response:
    """Replies after `after` (a message id); with `wait`, long-poll up to that many seconds."""
    chat_id = _chat_id(request)
    try:
        after = int(request.query.get("after", "0"))
        wait = min(max(float(request.query.get("wait", "0")), 0.0), MAX_WAIT_S)
    except ValueError:
        raise _bad_request("after and wait must be numbers") from None
    if not 0 <= after <= MAX_ID:
        raise _bad_request("after is out of range")
    db = request.app[DATABASE]
    with request.app[WEB_CHANNEL].listen(chat_id) as sent:
        async with db.read_scope() as session:
            rows = await outbox.transcript(
                session, channel=web_channel.NAME, chat_id=chat_id, after=after
            )
        if not rows and wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sent.wait(), wait)
            async with db.read_scope() as session:
                rows = await outbox.transcript(
                    session, channel=web_channel.NAME, chat_id=chat_id, after=after
                )
    return web.json_response({"messages": [_render(row) for row in rows]})


@routes.get("/api/chat/images/{message_id:\\d+}")
async def get_image(request: web.Request) -> web.Response:
    """The image of one of this chat's messages."""
    chat_id = _chat_id(request)
    message_id = int(request.match_info["message_id"])
    if message_id > MAX_ID:
        raise web.HTTPNotFound()
    async with request.app[DATABASE].read_scope() as session:
        row = await outbox.get_for_chat(
            session,
            message_id=message_id,
            channel=web_channel.NAME,
            chat_id=chat_id,
        )
    if row is None or row.image is None:
        raise web.HTTPNotFound()
    return web.Response(body=row.image, content_type="image/png")


def _render(row: outbox.OutboxMessage) -> dict[str, Any]:
    body = row.body
    return {
        "id": row.id,
        "text": body["text"],
        "buttons": [
            [{"label": label, "payload": payload} for label, payload in button_row]
            for button_row in body.get("buttons", ())
        ],
        "image": f"/api/chat/images/{row.id}" if row.image is not None else None,
        "request_phone": bool(body.get("request_phone")),
        "replaces": body.get("replaces"),
    }
