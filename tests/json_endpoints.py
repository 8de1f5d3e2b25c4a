"""The four JSON endpoints of one service, each posted to as its real client would.

The web chat with its cookie, the staff API with a sampler's key, the Telegram webhook with
its secret header and the Zalo webhook with a valid signature (stamped now): each is a function
taking a body and returning the HTTP status and text, for tests of what bodies do. `SHAPES` are
bodies Python's own parser fails on, or that we refuse; `USUAL_400` what each endpoint answers.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Service, build_service
from bot.config import Settings
from bot.web.json_body import MAX_DEPTH, MAX_INT_DIGITS
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.fakes.zalo_api import ZaloEmulator
from tests.remote import Remote
from tests.staff_api import add_sites, make_key
from tests.webchat import Browser

SECRET = "s3cret-token_1"
_TIMESTAMP = re.compile(rb'"timestamp": ?"?(\d+)')
Post = Callable[[bytes], Awaitable[tuple[int, str]]]


@dataclass
class Endpoints:
    """The service and one poster per endpoint."""

    svc: Service
    client: TestClient
    post: dict[str, Post]


@contextlib.asynccontextmanager
async def every_endpoint(
    zalo_settings: Settings, emulator: TelegramEmulator, zemu: ZaloEmulator, clock: Clock
) -> AsyncIterator[Endpoints]:
    """A service with every JSON endpoint (Telegram in webhook mode), served but not started."""
    settings = replace(
        zalo_settings,
        telegram_bot_token=emulator.token,
        telegram_api_base_url=emulator.base_url,
        telegram_mode="webhook",
        telegram_webhook_secret=SECRET,
        telegram_webhook_url="https://bot.example.vn/telegram/webhook",
    )
    svc = build_service(settings, clock=clock)
    await svc.db.migrate()
    await add_sites(svc.db)
    async with TestClient(TestServer(svc.web_app), cookie_jar=DummyCookieJar()) as client:
        yield Endpoints(svc, client, await posters(svc, client, zemu))
    await svc.sender.flush()
    await svc.db.dispose()


async def posters(
    svc: Service, client: TestClient | Remote, zemu: ZaloEmulator
) -> dict[str, Post]:
    """One poster per endpoint of `svc`, called through `client`.

    The service must have the staff API's sites (`add_sites`), run Telegram in webhook mode
    (`SECRET`) and Zalo on `zemu`.
    """
    browser = Browser(client)
    await browser.open()
    sampler = await make_key(svc, "sampler", "hcm-test")

    async def answer(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        headers = {"Content-Type": "application/json", **headers}
        response = await client.post(path, data=body, headers=headers)
        return response.status, await response.text()

    async def chat(body: bytes) -> tuple[int, str]:
        return await answer("/api/chat/messages", body, browser.headers)

    async def staff(body: bytes) -> tuple[int, str]:
        return await answer("/api/samples", body, {"Authorization": f"Bearer {sampler}"})

    async def telegram(body: bytes) -> tuple[int, str]:
        secret = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        return await answer("/telegram/webhook", body, secret)

    async def zalo(body: bytes) -> tuple[int, str]:
        found = _TIMESTAMP.search(body)  # Zalo signs the timestamp its body carries
        stamp = found.group(1).decode() if found else ""
        signature = {"X-ZEvent-Signature": zemu.signature(body, stamp)}
        return await answer("/zalo/webhook", body, signature)

    return {"chat": chat, "staff": staff, "telegram": telegram, "zalo": zalo}


def envelope(endpoint: str, value: bytes, clock: Clock) -> bytes:
    """A body of the endpoint's usual shape, `value` (JSON text) where the client's data goes."""
    stamp = str(int(clock().timestamp() * 1000)).encode()
    return {
        "chat": b'{"id": "m1", "text": %s}',
        "staff": b'{"tube_code": "HCM-000001", "tokens": %s}',
        "telegram": b'{"update_id": 1, "message": %s}',
        "zalo": b'{"event_name": "user_send_text", "timestamp": "' + stamp + b'", "message": %s}',
    }[endpoint] % value


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# (name, a JSON value's text) that Python's json module cannot take as it is, or that we refuse.
SHAPES = [
    ("nested-10000", nested(10_000)),
    ("nested-33", nested(MAX_DEPTH + 1)),
    ("objects-10000", b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
    ("digits-5000", b"9" * 5000),
    ("digits-21", b"1" * (MAX_INT_DIGITS + 1)),
    ("float-overflow", b"1e400"),
    ("float-long", b"0." + b"1" * 40),
    ("nan", b"NaN"),
    ("nul", b'"a\\u0000b"'),
    ("half-surrogate", b'"\\ud800"'),
]


# What each endpoint answers a body it cannot read: its usual 400.
USUAL_400 = {
    "chat": '{"error": "body must be JSON"}',
    "staff": '{"error": "the body must be JSON"}',
    "telegram": "400: Bad Request",
    "zalo": "400: Bad Request",
}
