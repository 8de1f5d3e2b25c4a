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
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace

import pytest
from aiohttp import ClientSession, web
from sqlalchemy import select

from bot.app import Service, build_service, running
from bot.channels.telegram import TelegramChannel
from bot.config import Settings
from bot.services.outbox import Sender
from bot.services.zalo_tokens import _Pair
from storage import outbox
from storage.db import Database
from storage.models import OutboxMessage, utcnow
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator

CHAT = 7301
ELSEWHERE = "127.0.0.2"  # another host, as far as the bot can tell (still this machine)


@dataclass
class _Fault:
    mode: str
    times: int


class Front:
    """Passes Bot API calls on to the emulator; misbehaves for the methods given to `fail`.

    Modes: `redirect` (302 to another host), `close` (drop the connection), `garbage` (200 with
    an HTML page quoting the URL), `error-page` (502, the same page), `hang` (never answer).
    Downloads of files are the method `file`.
    """

    def __init__(self, upstream: str) -> None:
        self._upstream = upstream
        self._faults: dict[str, _Fault] = {}
        self.failed: Counter[str] = Counter()
        self.elsewhere_asked: list[str] = []  # paths the other host was asked for
        self._runners: list[web.AppRunner] = []
        self._client: ClientSession | None = None
        self.base_url = self._elsewhere = ""

    def fail(self, method: str, mode: str, *, times: int = 1) -> None:
        self._faults[method] = _Fault(mode, times)

    async def start(self) -> None:
        self._client = ClientSession()
        front = web.Application()
        front.router.add_route("*", "/bot{token}/{method}", self._api)
        front.router.add_get("/file/bot{token}/{path:.+}", self._file)
        elsewhere = web.Application()
        elsewhere.router.add_route("*", "/{path:.*}", self._other_host)
        self.base_url = await self._serve(front, "127.0.0.1")
        self._elsewhere = await self._serve(elsewhere, ELSEWHERE)

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _serve(self, app: web.Application, host: str) -> str:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        sock = socket.socket()
        sock.bind((host, 0))
        await web.SockSite(runner, sock).start()
        self._runners.append(runner)
        return f"http://{host}:{sock.getsockname()[1]}"

    async def _api(self, request: web.Request) -> web.StreamResponse:
        return await self._misbehave(request, request.match_info["method"])

    async def _file(self, request: web.Request) -> web.StreamResponse:
        return await self._misbehave(request, "file")

    async def _misbehave(self, request: web.Request, method: str) -> web.StreamResponse:
        fault = self._faults.get(method)
        if fault is None or fault.times <= 0:
            return await self._pass_on(request)
        fault.times -= 1
        self.failed[method] += 1
        page = f"<html><body>Cannot serve {request.url}</body></html>"
        if fault.mode == "redirect":
            raise web.HTTPFound(f"{self._elsewhere}{request.path_qs}")
        if fault.mode == "close":
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if fault.mode == "garbage":
            return web.Response(text=page, content_type="text/html")
        if fault.mode == "error-page":
            return web.Response(text=page, content_type="text/html", status=502)
        assert fault.mode == "hang", fault.mode
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def _pass_on(self, request: web.Request) -> web.Response:
        assert self._client is not None
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        async with self._client.request(
            request.method,
            f"{self._upstream}{request.path_qs}",
            data=await request.read(),
            headers=headers,
        ) as answer:
            return web.Response(
                body=await answer.read(),
                status=answer.status,
                content_type=answer.content_type,
            )

    async def _other_host(self, request: web.Request) -> web.Response:
        self.elsewhere_asked.append(request.path)
        raise web.HTTPFound(request.path_qs)  # and round again, till the client gives up


class AllLogs(logging.Handler):
    """Every record of every logger, formatted with its traceback and chained exceptions."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self._added = asyncio.Event()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        self.records.append(record)
        # The template and its arguments as given, besides the formatted line.
        self.lines.append(f"{text}\n{record.msg!r} {record.args!r} {record.stack_info or ''}")
        self._added.set()

    async def wait_for(self, name: str, start: str, timeout: float = 15.0) -> None:
        """Until `name` (a logger) logged a message starting with `start`."""

        def found() -> bool:
            return any(r.name == name and r.getMessage().startswith(start) for r in self.records)

        async with asyncio.timeout(timeout):
            while not found():
                self._added.clear()
                await self._added.wait()

    def leaks(self, secret: str) -> list[str]:
        return [line for line in self.lines if secret in line]


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


def secrets_of(token: str) -> list[str]:
    """The token, and its secret part alone (after the bot id)."""
    return [token, token.split(":", 1)[1]]


def assert_no_token(logs: AllLogs, token: str, stored: list[str]) -> None:
    assert logs.records, "nothing was logged: the faults were not met"
    for secret in secrets_of(token):
        assert logs.leaks(secret) == []
        assert [error for error in stored if secret in error] == []


async def stored_errors(db: Database) -> list[str]:
    async with db.read_scope() as session:
        rows = (await session.execute(select(OutboxMessage.last_error))).scalars()
        return [error for error in rows if error]


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
        await logs.wait_for("bot.channels.telegram", "getUpdates failed")

        front.fail("sendMessage", mode)
        emulator.user_command(CHAT, "/start")
        await logs.wait_for("bot.services.outbox", "giving up outbox row")

        if mode != "garbage":  # a file may hold any bytes: that one is read as a picture
            front.fail("file", mode, times=2)  # aiohttp asks again once on a dropped connection
            emulator.user_photo(CHAT, png())
            await logs.wait_for("bot.services.photos", "could not fetch a photo")
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
            await outbox.enqueue(session, [message], now=utcnow())
        service.sender.wake()
        await logs.wait_for("bot.services.outbox", "giving up outbox row")
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
            await outbox.enqueue(session, [message], now=utcnow())
        sender.wake()
        await logs.wait_for("bot.services.outbox", "giving up outbox row")
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


def test_settings_and_token_pairs_do_not_print_their_secrets() -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://bot:pg-s3cret@db/bot",
        telegram_bot_token="123:tg-s3cret",
        data_key="data-s3cret",
        zalo_app_secret="app-s3cret",
        zalo_access_token="access-s3cret",
        zalo_refresh_token="refresh-s3cret",
    )
    now = utcnow()
    printed = repr(settings) + repr(_Pair("access-s3cret", "refresh-s3cret", now, now))
    assert "s3cret" not in printed
