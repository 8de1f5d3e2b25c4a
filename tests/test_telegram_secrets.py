"""The bot token never reaches a log line, a stored error or another host.

Every Bot API URL carries the token (`.../bot<TOKEN>/sendMessage`). The service runs against the
Telegram emulator behind `Front`, a small HTTP server that passes calls on and, for the methods
a test chooses, misbehaves the way networks and proxies do: it redirects to another host (which
must never be asked), closes the connection, answers something that is not JSON (quoting the
URL, as some error pages do) or never answers. Every log record of every logger is captured at
DEBUG, formatted with its traceback and the exceptions chained to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest

from bot.app import Service, build_service, running
from bot.channels.telegram.bot_api import TelegramChannel
from bot.channels.zalo.tokens import _Pair
from bot.config import Settings
from bot.workers.sender import Sender
from storage import outbox
from storage.db import Database
from tests.conftest import Clock
from tests.fakes.front import Front
from tests.fakes.telegram_api import TelegramEmulator
from tests.logs import AllLogs, secrets_of, stored_errors

CHAT = 7301


@pytest.fixture
def logs() -> Iterator[AllLogs]:
    root = logging.getLogger()
    handler, level = AllLogs(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
async def front(emulator: TelegramEmulator) -> AsyncIterator[Front]:
    front = Front(emulator.base_url)
    await front.start()
    yield front
    await front.stop()


def assert_no_token(logs: AllLogs, token: str, stored: list[str]) -> None:
    assert logs.records, "nothing was logged: the faults were not met"
    for secret in secrets_of(token):
        assert logs.leaks(secret) == []
        assert [error for error in stored if secret in error] == []


def png() -> bytes:
    return (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
        b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
        b"\x00\x00\x00IEND\xaeB`\x82"
    )


@contextlib.asynccontextmanager
async def serving(settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    service = build_service(settings, clock=clock)
    async with running(service):
        yield service


@pytest.mark.parametrize("mode", ["redirect", "close", "garbage", "error-page"])
async def test_no_token_in_logs_when_telegram_misbehaves(
    mode: str,
    telegram_settings: Settings,
    emulator: TelegramEmulator,
    front: Front,
    logs: AllLogs,
    clock: Clock,
) -> None:
    # Start-up check and its retry, the polling loop, a reply through the sender (given up at
    # once, so the sender logs its error), and a photo's download: each meets the fault once.
    settings = replace(
        telegram_settings, telegram_api_base_url=front.base_url, send_max_attempts=1
    )
    front.fail("getMe", mode, times=2)
    async with serving(settings, clock) as service:
        await logs.wait_for("bot.app", "Telegram is not reachable (")
        await logs.wait_for("bot.app", "Telegram is not reachable (")
        await emulator.wait_for_call("deleteWebhook")  # connected at the second try

        front.fail("getUpdates", mode)
        await logs.wait_for("bot.channels.telegram.bot_api", "getUpdates failed")

        front.fail("sendMessage", mode)
        emulator.user_command(CHAT, "/start")
        await logs.wait_for("bot.workers.sender", "giving up outbox row")

        if mode != "garbage":  # a file may hold any bytes: that one is read as a picture
            front.fail("file", mode, times=2)  # aiohttp asks again once on a dropped connection
            emulator.user_photo(CHAT, png())
            await logs.wait_for("bot.domain.photos", "could not fetch a photo")
        await service.sender.flush()
        stored = await stored_errors(service.db)

    assert front.failed["getMe"] == 2 and front.failed["getUpdates"] >= 1
    assert front.failed["sendMessage"] >= 1 and front.failed["file"] >= (mode != "garbage")
    assert front.elsewhere_asked == []  # the token went to no other host
    assert_no_token(logs, emulator.token, stored)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_no_token_in_logs_when_telegram_refuses_connections(
    telegram_settings: Settings, emulator: TelegramEmulator, logs: AllLogs, clock: Clock
) -> None:
    settings = replace(
        telegram_settings,
        telegram_api_base_url=f"http://127.0.0.1:{closed_port()}",
        send_max_attempts=1,
    )
    async with serving(settings, clock) as service:
        await logs.wait_for("bot.app", "Telegram is not reachable (")
        await logs.wait_for("bot.app", "Telegram is not reachable (NetworkError); retrying")
        async with service.db.session_scope() as session:
            message = outbox.NewMessage("telegram", str(CHAT), {"text": "Nhắc lịch tiêm"})
            await outbox.enqueue(session, [message], now=clock())
        service.sender.wake()
        await logs.wait_for("bot.workers.sender", "giving up outbox row")
        await service.sender.flush()
        stored = await stored_errors(service.db)
    assert [error.split(":")[:3] for error in stored] == [
        ["TemporaryFailure", " NetworkError", " aiohttp.ClientConnectorError"]
    ]
    assert_no_token(logs, emulator.token, stored)


async def test_no_token_in_logs_when_telegram_never_answers(
    database: Database, emulator: TelegramEmulator, front: Front, logs: AllLogs, clock: Clock
) -> None:
    # The sender on a channel with a short timeout; the channel's errors are logged with their
    # traceback too, as a caller that does not expect them would.
    channel = TelegramChannel(token=emulator.token, base_url=front.base_url, timeout_s=0.3)
    sender = Sender(database, {"telegram": channel}, clock=clock, max_attempts=1)
    front.fail("getMe", "hang")
    front.fail("sendMessage", "hang")
    worker = asyncio.create_task(sender.run())
    try:
        try:
            await channel.start()  # opens the transport, then getMe fails
        except Exception:
            logging.getLogger("tests").exception("the start-up check failed")
        async with database.session_scope() as session:
            message = outbox.NewMessage("telegram", str(CHAT), {"text": "Nhắc lịch tiêm"})
            await outbox.enqueue(session, [message], now=clock())
        sender.wake()
        await logs.wait_for("bot.workers.sender", "giving up outbox row")
        await sender.flush()
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        await channel.stop()
    stored = await stored_errors(database)
    assert stored == ["TemporaryFailure: TimedOut: Timed out"]
    assert_no_token(logs, emulator.token, stored)


async def test_errors_of_the_transport_carry_no_url(
    emulator: TelegramEmulator, front: Front
) -> None:
    # Whatever a caller does with the error (its text, its cause, its context), no URL.
    channel = TelegramChannel(token=emulator.token, base_url=front.base_url, timeout_s=0.3)
    await channel.start()
    try:
        for mode in ("redirect", "close", "garbage", "error-page", "hang"):
            front.fail("getChat", mode)
            with pytest.raises(Exception) as caught:
                await channel.bot.call("getChat", {"chat_id": CHAT})
            error: BaseException | None = caught.value
            while error is not None:
                assert emulator.token not in str(error), mode
                assert "/bot" not in str(error), mode
                error = error.__cause__ or (
                    None if error.__suppress_context__ else error.__context__
                )
    finally:
        await channel.stop()
    assert front.elsewhere_asked == []


async def test_redirects_are_refused_by_their_status(
    emulator: TelegramEmulator, front: Front
) -> None:
    channel = TelegramChannel(token=emulator.token, base_url=front.base_url)
    await channel.start()
    front.fail("getChat", "redirect")
    try:
        with pytest.raises(Exception, match=r"HTTP 302; redirects are not followed"):
            await channel.bot.call("getChat", {"chat_id": CHAT})
    finally:
        await channel.stop()


def test_settings_and_token_pairs_do_not_print_their_secrets(clock: Clock) -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://bot:pg-s3cret@db/bot",
        telegram_bot_token="123:tg-s3cret",
        data_key="data-s3cret",
        zalo_app_secret="app-s3cret",
        zalo_access_token="access-s3cret",
        zalo_refresh_token="refresh-s3cret",
    )
    now = clock()
    printed = repr(settings) + repr(_Pair("access-s3cret", "refresh-s3cret", now, now))
    assert "s3cret" not in printed
