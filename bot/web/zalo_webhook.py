"""`POST /zalo/webhook`: Zalo OA events, signature checked on the raw body before anything else.

Then the body is parsed (bounded: `bot.web.json_body`) and its time checked: an event stamped
further than `ZALO_EVENT_WINDOW_S` from our clock, either way, is dropped. Deduplication
remembers events for days, far longer than that window, so a replayed event is either a
redelivery we remember or too old: it is never answered twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from aiohttp import web

from bot.channels.zalo.inbox import ZaloInbox
from bot.channels.zalo.oa_api import SIGNATURE_HEADER, event_skew, signature_matches
from bot.clock import Clock
from bot.web.app_keys import SETTINGS
from bot.web.json_body import BadJson, loads

log = logging.getLogger(__name__)

ZALO_WEBHOOK_PATH = "/zalo/webhook"
ZALO_INBOX = web.AppKey("zalo_inbox", ZaloInbox)
CLOCK = web.AppKey[Clock]("zalo_clock")
_SEEN_VARIANTS = web.AppKey("zalo_signature_variants", set)
_SUCCESS = {"error": 0, "message": "Success"}


def setup(app: web.Application, inbox: ZaloInbox, *, clock: Clock) -> None:
    """Add the webhook route, handing events to `inbox`; `clock` judges the events' age."""
    app[ZALO_INBOX] = inbox
    app[CLOCK] = clock
    app[_SEEN_VARIANTS] = set()
    app.router.add_post(ZALO_WEBHOOK_PATH, zalo_webhook)


async def zalo_webhook(request: web.Request) -> web.Response:
    """Store one signed, timely event and answer at once; it is handled after the answer.

    A missing or wrong signature is refused (401) and nothing is kept. The signature's first
    term is the app id; some OAs sign with the OA id instead, which is accepted and logged.
    A signed event outside the time window is dropped with a 200, like one we keep: Zalo
    retries anything else (for an hour, with the same stale stamp), and a replay learns
    nothing from the answer.
    """
    settings = request.app[SETTINGS]
    raw = await request.read()
    signed = signature_matches(
        raw,
        request.headers.get(SIGNATURE_HEADER),
        app_id=settings.zalo_app_id or "",
        oa_id=settings.zalo_oa_id,
        secret=settings.zalo_oa_secret_key or "",
    )
    if signed is None:
        log.warning("refused a Zalo webhook call without a valid %s", SIGNATURE_HEADER)
        raise web.HTTPUnauthorized()
    seen = request.app[_SEEN_VARIANTS]
    if signed.first not in seen:
        seen.add(signed.first)
        log.info("Zalo webhook signatures use the %s", signed.first)
    try:
        event = loads(raw)
    except BadJson:
        raise web.HTTPBadRequest() from None
    if (
        not isinstance(event, dict)
        or not event.get("event_name")
        or str(event.get("timestamp")) != signed.timestamp
    ):
        raise web.HTTPBadRequest()
    skew = event_skew(signed.timestamp, request.app[CLOCK]())
    window = timedelta(seconds=settings.zalo_event_window_s)
    if abs(skew) > window:
        log.warning(
            "dropped a signed Zalo event stamped %.0f s %s our clock (window: %.0f s)",
            abs(skew.total_seconds()),
            "ahead of" if skew > timedelta() else "behind",
            window.total_seconds(),
        )
        return web.json_response(_SUCCESS)
    await request.app[ZALO_INBOX].receive(event)
    return web.json_response(_SUCCESS)
