"""One-time links: a sign-in link sent over the Telegram emulator, the CLI's set-password link."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import Service, build_service, running
from bot.config import Settings
from run_bot import main
from storage.db import Database
from storage.models import AuditEvent, ConsoleLink
from tests.clock import Clock
from tests.console import StaffBrowser, add_staff
from tests.fakes.telegram_api import TelegramEmulator
from tests.remote import Remote

STAFF_CHAT = 4242
_LINK = re.compile(r"https?://\S+(/console/(?:link|password)/[A-Za-z0-9_-]+)")
EXPIRED = "Liên kết này không còn dùng được"


@pytest.fixture
async def remote(
    telegram_settings: Settings, clock: Clock
) -> AsyncIterator[tuple[Service, Remote]]:
    """The whole service, polling the emulator, and a client of its HTTP server."""
    svc = build_service(telegram_settings, clock=clock)
    async with running(svc) as runner:
        (host, port) = next(a for a in runner.addresses if len(a) == 2)
        async with Remote(f"http://{host}:{port}") as client:
            yield svc, client


async def test_a_sign_in_link_by_telegram_works_once(
    remote: tuple[Service, Remote], emulator: TelegramEmulator, clock: Clock
) -> None:
    svc, client = remote
    await add_staff(
        svc,
        "lan",
        "ward_staff",
        wards=(26743,),
        channel="telegram",
        user_id=str(STAFF_CHAT),
        password=False,
    )
    browser = StaffBrowser(client)
    await browser.get("/console/sign-in")
    assert await browser.post("/console/sign-in/link", login="lan") == 200
    assert "một liên kết đăng nhập đã được gửi" in browser.page
    (message,) = await emulator.wait_for_sent(STAFF_CHAT)
    found = _LINK.search(message["text"])
    assert found, message["text"]
    path = found.group(1)
    # opening it (as a chat's link preview does) uses nothing up
    assert await browser.get(path) == 200
    assert await browser.get(path) == 200
    assert await browser.post(path) == 303
    assert await browser.get("/console/") == 200
    assert "Lan" in browser.page
    # once only
    other = StaffBrowser(client)
    assert await other.get(path) == 410
    assert EXPIRED in other.page
    await other.get("/console/sign-in")
    assert await other.post(path) == 410
    async with svc.db.read_scope() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert {"console_link_sent", "console_sign_in"} <= set(actions)


async def test_a_sign_in_link_expires_and_unknown_names_get_the_same_answer(
    remote: tuple[Service, Remote], emulator: TelegramEmulator, clock: Clock
) -> None:
    svc, client = remote
    await add_staff(svc, "lan", "support", channel="telegram", user_id=str(STAFF_CHAT))
    browser = StaffBrowser(client)
    await browser.get("/console/sign-in")
    await browser.post("/console/sign-in/link", login="nobody")
    unknown = browser.page
    await browser.post("/console/sign-in/link", login="lan")
    assert browser.page.replace("lan", "nobody") == unknown.replace("lan", "nobody")
    (message,) = await emulator.wait_for_sent(STAFF_CHAT)
    found = _LINK.search(message["text"])
    assert found
    clock.advance(timedelta(minutes=16))
    assert await browser.get(found.group(1)) == 410


def test_staff_add_web_prints_a_set_password_link(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["staff", "add", "--channel", "telegram", "--user-id", "777", "--role", "support"]
    assert main([*argv, "--name", "Chị Mai", "--web", "--login", "Mai"], clock=Clock()) == 0
    out = capsys.readouterr().out
    found = _LINK.search(out)
    assert found and "/console/password/" in found.group(1), out
    # the same name for another person is refused, kindly
    argv2 = ["staff", "add", "--channel", "telegram", "--user-id", "778", "--role", "support"]
    assert main([*argv2, "--web", "--login", "mai"], clock=Clock()) == 2
    assert "another staff member" in capsys.readouterr().err

    async def links() -> int:
        db = Database(env)
        try:
            async with db.read_scope() as session:
                return len((await session.scalars(select(ConsoleLink))).all())
        finally:
            await db.dispose()

    assert asyncio.run(links()) == 1
