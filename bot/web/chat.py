"""Web chat routes: the page and its files, sessions, posting, reading replies (long poll), images.

A browser is identified by an HttpOnly `__Host-` cookie holding a session token that only we
issue (a random id and its MAC, `DataProtector.new_session`); the chat id stored in the
database is a keyed hash of it, so the table alone cannot be used to read someone's chat. The
page asks for a session with `POST /api/chat/session`; opening the page stores nothing, and an
account exists only once the citizen writes. New sessions and posts are limited per client
address as well as per session; posts must come from our page (its `Origin`, JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.channels import web_chat as web_channel
from bot.i18n import DEFAULT_LOCALE, LANGUAGE_NAMES, SUPPORTED, _, current_locale, use_locale
from bot.web.app_keys import (
    DATABASE,
    DISPATCHER,
    NEW_SESSIONS,
    POSTING,
    POSTING_BY_ADDRESS,
    PROTECTOR,
    SETTINGS,
    WEB_CHANNEL,
)
from bot.web.clients import client_key, hashed_client_key, is_loopback_host, is_same_origin, scheme
from bot.web.headers import page_headers
from bot.web.json_body import BadJson, read_json
from storage import outbox

COOKIE = "__Host-chat_session"
# Development over plain http from another machine only: browsers drop a Secure cookie there.
PLAIN_COOKIE = "chat_session"
SESSION_AGE = 180 * 24 * 3600
LANG_COOKIE = "chat_lang"
_STATIC = Path(__file__).parent / "static"
_PAGE = (_STATIC / "chat.html").read_text(encoding="utf-8")
# The page's own files: name -> (content, type).
_FILES = {
    "chat.js": ((_STATIC / "chat.js").read_bytes(), "text/javascript"),
    "chat.css": ((_STATIC / "chat.css").read_bytes(), "text/css"),
}
# Scripts and styles from our files only; the page's strings travel in a JSON data block.
_PAGE_HEADERS = page_headers(default_src="'self'", script_src="'self'")
MAX_WAIT_S = 25.0
MAX_ID = 2**31 - 1  # row ids are 32-bit integers on PostgreSQL
routes = web.RouteTableDef()


def _refusal(status: type[web.HTTPException], reason: str) -> web.HTTPException:
    return status(text=json.dumps({"error": reason}), content_type="application/json")


def _token(request: web.Request) -> str:
    token = request.cookies.get(COOKIE, "")
    if not token and not request.app[SETTINGS].is_production:
        token = request.cookies.get(PLAIN_COOKIE, "")
    return token


def _set_session(request: web.Request, response: web.Response, token: str) -> None:
    """The session cookie: `__Host-` (Secure, Path=/, no Domain) wherever a browser keeps it.

    Browsers keep a Secure cookie over https and on localhost (a secure context), so `make run`
    gets the `__Host-` cookie too. Only in development, over plain http to another host (a phone
    on the LAN), the cookie is a plain one: a Secure cookie would never come back there.
    """
    options: dict[str, Any] = {"httponly": True, "samesite": "Strict", "max_age": SESSION_AGE}
    secure = scheme(request) == "https" or is_loopback_host(request)
    if secure or request.app[SETTINGS].is_production:
        response.set_cookie(COOKIE, token, secure=True, path="/", **options)
    else:
        response.set_cookie(PLAIN_COOKIE, token, path="/", **options)


def _chat_id(request: web.Request) -> str:
    """The chat of this browser's session.

    Raises:
        HTTPUnauthorized: no session, or a token we did not issue (the page asks for one).
    """
    token = _token(request)
    protector = request.app[PROTECTOR]
    if not protector.is_our_session(token):
        raise _refusal(web.HTTPUnauthorized, "open /chat first")
    return protector.blind_index("webchat", token)[:40]


def _from_our_page(request: web.Request) -> None:
    """Refuse a post that our page did not send: another origin, or not JSON.

    Raises:
        HTTPForbidden: `Origin` is missing or is not this site.
        HTTPUnsupportedMediaType: the body is not declared `application/json`.
    """
    if not is_same_origin(request):
        raise _refusal(web.HTTPForbidden, "Origin must be this site")
    if request.content_type != "application/json":
        raise _refusal(web.HTTPUnsupportedMediaType, "Content-Type must be application/json")


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
        strings = json.dumps(_page_strings(), ensure_ascii=False)
    page = _PAGE
    for key, value in values.items():
        page = page.replace("{{" + key + "}}", html.escape(value))
    page = page.replace("{{strings}}", strings.replace("<", "\\u003c"))  # data, never markup
    response = web.Response(text=page, content_type="text/html", headers=_PAGE_HEADERS)
    if request.query.get("lang") in SUPPORTED:
        response.set_cookie(LANG_COOKIE, locale, samesite="Strict", max_age=365 * 24 * 3600)
    return response


def _page_strings() -> dict[str, str]:
    """What the page's script says, in the current language (a JSON data block on the page)."""
    start = _("Start")
    return {
        "offline": _("Connection lost. Trying again…"),
        "error": _("That message could not be sent. Please try again."),
        "phone_hint": _("In the web chat, please type your phone number."),
        "start": start,
        "intro": _(
            "Welcome! I can help you with vaccination, test results and certificates. "
            "Press “{start}” to chat."
        ).format(start=start),
        "too_many": _("Too many messages in a short time. Please wait a moment."),
        "busy": _(
            "Too many new chats were opened from your network in a short time. Please wait "
            "a few minutes and reload the page."
        ),
        "cookies": _(
            "The chat needs a cookie to recognise your conversation. Please allow cookies "
            "for this site and reload the page."
        ),
    }


@routes.get("/static/{name}")
async def static_file(request: web.Request) -> web.Response:
    """The page's script and style sheet."""
    found = _FILES.get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    body, content_type = found
    return web.Response(
        body=body,
        content_type=content_type,
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@routes.post("/api/chat/session")
async def new_session(request: web.Request) -> web.Response:
    """Issue a session to this browser, unless it has one of ours; a few per client address."""
    _from_our_page(request)
    if request.app[PROTECTOR].is_our_session(_token(request)):
        return web.json_response({"ok": True})
    if not request.app[NEW_SESSIONS].allow(client_key(request)):
        raise _refusal(web.HTTPTooManyRequests, "too many new sessions; wait a few minutes")
    response = web.json_response({"ok": True})
    _set_session(request, response, request.app[PROTECTOR].new_session())
    return response


@routes.post("/api/chat/messages")
async def post_message(request: web.Request) -> web.Response:
    """Handle what the citizen typed or pressed. The same `id` twice is handled once."""
    chat_id = _chat_id(request)
    _from_our_page(request)
    app = request.app
    if not (app[POSTING].allow(chat_id) and app[POSTING_BY_ADDRESS].allow(client_key(request))):
        raise _refusal(web.HTTPTooManyRequests, "too many messages; wait a moment")
    try:
        body = await read_json(request)
        incoming = web_channel.to_incoming(chat_id, body)
    except BadJson:
        raise _refusal(web.HTTPBadRequest, "body must be JSON") from None
    except web_channel.BadWebMessage as error:
        raise _refusal(web.HTTPBadRequest, str(error)) from None
    # The client's network, as a keyed hash: the result lookup's waits (bot.domain.lookups).
    incoming = replace(incoming, client_key=hashed_client_key(request, app[PROTECTOR]))
    await app[DISPATCHER].handle(incoming)
    return web.json_response({"ok": True})


@routes.get("/api/chat/messages")
async def get_messages(request: web.Request) -> web.Response:
    """Replies after `after` (a message id); with `wait`, long-poll up to that many seconds."""
    chat_id = _chat_id(request)
    try:
        after = int(request.query.get("after", "0"))
        wait = min(max(float(request.query.get("wait", "0")), 0.0), MAX_WAIT_S)
    except ValueError:
        raise _refusal(web.HTTPBadRequest, "after and wait must be numbers") from None
    if not 0 <= after <= MAX_ID:
        raise _refusal(web.HTTPBadRequest, "after is out of range")
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
        "forget": bool(body.get("forget")),
    }
