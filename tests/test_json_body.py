"""No body's shape makes a 500: bounded JSON on all four JSON endpoints, and the last resort.

Each endpoint is called as its real client would (the web chat's cookie, a staff key, Telegram's
secret header, a Zalo signature), with bodies Python's own parser fails on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Service
from bot.config import Settings
from bot.web.json_body import MAX_DEPTH, MAX_INT_DIGITS, BadJson, loads
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.fakes.zalo_api import ZaloEmulator
from tests.json_endpoints import (
    SHAPES,
    USUAL_400,
    Endpoints,
    envelope,
    every_endpoint,
    nested,
)


@pytest.fixture
async def served(
    zalo_settings: Settings, emulator: TelegramEmulator, zemu: ZaloEmulator, clock: Clock
) -> AsyncIterator[Endpoints]:
    async with every_endpoint(zalo_settings, emulator, zemu, clock) as endpoints:
        yield endpoints


@pytest.mark.parametrize(("shape", "value"), SHAPES, ids=[name for name, _ in SHAPES])
async def test_every_json_endpoint_answers_a_bad_shape_with_its_usual_400(
    served: Endpoints, clock: Clock, shape: str, value: bytes
) -> None:
    for name, post in served.post.items():
        answer = await post(envelope(name, value, clock))
        assert answer == (400, USUAL_400[name]), (name, shape)


async def test_an_unexpected_failure_answers_a_bare_json_500(
    svc: Service, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception no handler expected, on any route: here one added for the test."""

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("could not read 079123456789 for Nguyễn Văn An")

    svc.web_app.router.add_post("/api/broken/{id}", broken)
    loop = asyncio.get_running_loop()
    loop.set_debug(True)  # aiohttp's own answer would then show the traceback
    async with TestClient(TestServer(svc.web_app)) as client:
        html = {"Accept": "text/html"}
        response = await client.post("/api/broken/7", data="0912345678", headers=html)
        text = await response.text()
    loop.set_debug(False)
    assert (response.status, response.content_type) == (500, "application/json")
    assert json.loads(text) == {"error": "internal error"}
    (line,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert line.startswith("RuntimeError answering POST /api/broken/{id}, at test_json_body.py:")
    assert not any(r.exc_info for r in caplog.records)
    for secret in ("079123456789", "Nguyễn", "0912345678", "Traceback"):
        assert secret not in caplog.text and secret not in text


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (nested(MAX_DEPTH), json.loads(nested(MAX_DEPTH))),
        (
            b'{"id": "a\\\\u0000", "text": "\\ud83d\\ude00 [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',
            {"id": "a\\u0000", "text": "😀 " + "[" * 34},
        ),
        (b"-" + b"9" * MAX_INT_DIGITS, -int("9" * MAX_INT_DIGITS)),
        (b"[1.5e300, -0.0]", [1.5e300, -0.0]),
    ],
    ids=["deepest", "escapes-and-brackets-in-text", "longest-integer", "floats"],
)
def test_what_is_within_the_bounds_is_read_as_json_reads_it(raw: bytes, value: object) -> None:
    assert loads(raw) == value


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" + b"1," * 500 + b"1]", "the body is over 1000 bytes"),
        (b"\xff", "not JSON"),
        (b"{", "not JSON"),
        (nested(MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH} levels"),
        (b"1" * (MAX_INT_DIGITS + 1), f"an integer longer than {MAX_INT_DIGITS} digits"),
        (b"-Infinity", "-Infinity is not a JSON number"),
        (b'["\\ud83d", "\\ude00"]', "a string with a NUL or half of a surrogate pair"),
        (b'{"\\u0000": 1}', "a string with a NUL or half of a surrogate pair"),
    ],
)
def test_what_is_outside_them_is_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BadJson) as refused:
        loads(raw, max_bytes=1000)
    assert str(refused.value) == reason
