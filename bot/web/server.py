"""Builds the aiohttp application: every route in one place."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from aiohttp import web
from sqlalchemy import text

from bot.channels.telegram.bot_api import TelegramChannel
from bot.channels.web_chat import WebChannel
from bot.channels.zalo.inbox import ZaloInbox
from bot.clock import Clock
from bot.config import Settings
from bot.console import mount as console
from bot.console.gate import Console
from bot.crypto import DataProtector
from bot.dispatch import Dispatcher
from bot.domain.dcc.trust import Authority
from bot.domain.ratelimit import KeyedLimiter
from bot.messages import Outgoing
from bot.web import chat, headers, staff_api
from bot.web import verify_page as verify
from bot.web import zalo_webhook as zalo
from bot.web.app_keys import (
    AUTHORITY,
    DATABASE,
    DISPATCHER,
    NEW_SESSIONS,
    POSTING,
    POSTING_BY_ADDRESS,
    PROTECTOR,
    SETTINGS,
    TELEGRAM,
    WEB_CHANNEL,
)
from bot.web.crash_handler import last_resort
from bot.web.json_body import BadJson, read_json
from storage.db import Database

TELEGRAM_WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 256 * 1024
# A person types a few messages a second at most; more is a script filling the database.
WEB_POSTS_PER_S, WEB_POST_BURST = 2.0, 10
# One address may be a whole office or a mobile carrier's NAT: room for many people, not for
# a script opening hundreds of chats.
WEB_ADDRESS_POSTS_PER_S, WEB_ADDRESS_POST_BURST = 5.0, 50
WEB_SESSIONS_PER_S, WEB_SESSION_BURST = 0.1, 20


def build_web_app(
    *,
    settings: Settings,
    db: Database,
    dispatcher: Dispatcher,
    protector: DataProtector,
    web_channel: WebChannel,
    telegram: TelegramChannel | None,
    authority: Authority,
    clock: Clock,
    zalo_inbox: ZaloInbox | None = None,
    outbox_written: Callable[[], None] = lambda: None,
    outbox_withdrawn: Callable[[set[int]], None] = lambda _ids: None,
    certificates_issued: Callable[[], None] = lambda: None,
    fit: Callable[[Outgoing], list[Outgoing]] = lambda message: [message],
) -> web.Application:
    """The HTTP application: web chat, staff API, /verify, the staff console, webhooks, health."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[last_resort])
    app[SETTINGS] = settings
    app[DATABASE] = db
    app[DISPATCHER] = dispatcher
    app[PROTECTOR] = protector
    app[WEB_CHANNEL] = web_channel
    app[AUTHORITY] = authority

    def seconds() -> float:  # the limits follow the service's clock, as every rule does
        return clock().timestamp()

    app[POSTING] = KeyedLimiter(rate=WEB_POSTS_PER_S, burst=WEB_POST_BURST, clock=seconds)
    app[POSTING_BY_ADDRESS] = KeyedLimiter(
        rate=WEB_ADDRESS_POSTS_PER_S, burst=WEB_ADDRESS_POST_BURST, clock=seconds
    )
    app[NEW_SESSIONS] = KeyedLimiter(
        rate=WEB_SESSIONS_PER_S, burst=WEB_SESSION_BURST, clock=seconds
    )
    app.on_response_prepare.append(headers.on_prepare)
    app.on_shutdown.append(_wake_long_polls)
    app.add_routes(chat.routes)
    staff_api.setup(app, clock=clock)
    verify.setup(app, clock=clock)
    app.router.add_get("/healthz", healthz)
    if telegram is not None and settings.telegram_mode == "webhook":
        app[TELEGRAM] = telegram
        app.router.add_post(TELEGRAM_WEBHOOK_PATH, telegram_webhook)
    if zalo_inbox is not None:
        zalo.setup(app, zalo_inbox, clock=clock)
    console.setup(
        app,
        Console(
            settings,
            db,
            protector,
            clock,
            outbox_written,
            outbox_withdrawn,
            authority=authority,
            certificates_issued=certificates_issued,
            fit=fit,
        ),
    )
    return app


async def _wake_long_polls(app: web.Application) -> None:
    """On shutdown, before waiting for requests in flight: web chat long polls return now."""
    app[WEB_CHANNEL].close()


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers."""
    async with request.app[DATABASE].read_scope() as session:
        await session.execute(text("SELECT 1"))
    return web.json_response({"status": "ok"})


async def telegram_webhook(request: web.Request) -> web.Response:
    """Receive one Telegram update; without the right secret header nothing is processed."""
    expected = request.app[SETTINGS].telegram_webhook_secret or ""
    given = request.headers.get(SECRET_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise web.HTTPUnauthorized()
    try:
        update = await read_json(request)
    except BadJson:
        raise web.HTTPBadRequest() from None
    if not isinstance(update, dict) or "update_id" not in update:
        raise web.HTTPBadRequest()
    await request.app[TELEGRAM].process([update], request.app[DISPATCHER].handle_batch)
    return web.Response(status=200)
