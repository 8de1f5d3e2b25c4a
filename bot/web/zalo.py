"""`POST /zalo/webhook`: Zalo OA events, signature checked on the raw body before anything else."""

from __future__ import annotations

import json
import logging

from aiohttp import web

from bot.channels.zalo import SIGNATURE_HEADER, signature_matches
from bot.services.zalo_inbox import ZaloInbox
from bot.web.keys import SETTINGS

log = logging.getLogger(__name__)

ZALO_WEBHOOK_PATH = "/zalo/webhook"
ZALO_INBOX = web.AppKey("zalo_inbox", ZaloInbox)
_SEEN_VARIANTS = web.AppKey("zalo_signature_variants", set)


def setup(app: web.Application, inbox: ZaloInbox) -> None:
    """Add the webhook route, handing events to `inbox`."""
    app[ZALO_INBOX] = inbox
    app[_SEEN_VARIANTS] = set()
    app.router.add_post(ZALO_WEBHOOK_PATH, zalo_webhook)


async def zalo_webhook(request: web.Request) -> web.Response:
    """Store one signed event and answer at once; it is handled after the answer.

    A missing or wrong signature is refused (401) and nothing is kept. The signature's first
    term is the app id; some OAs sign with the OA id instead, which is accepted and logged.
    """
    settings = request.app[SETTINGS]
    raw = await request.read()
    matched = signature_matches(
        raw,
        request.headers.get(SIGNATURE_HEADER),
        app_id=settings.zalo_app_id or "",
        oa_id=settings.zalo_oa_id,
        secret=settings.zalo_oa_secret_key or "",
    )
    if matched is None:
        log.warning("refused a Zalo webhook call without a valid %s", SIGNATURE_HEADER)
        raise web.HTTPUnauthorized()
    seen = request.app[_SEEN_VARIANTS]
    if matched not in seen:
        seen.add(matched)
        log.info("Zalo webhook signatures use the %s", matched)
    try:
        event = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest() from None
    if not isinstance(event, dict) or not event.get("event_name"):
        raise web.HTTPBadRequest()
    await request.app[ZALO_INBOX].receive(event)
    return web.json_response({"error": 0, "message": "Success"})
