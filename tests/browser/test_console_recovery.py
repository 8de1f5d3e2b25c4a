"""A recovery case in Chromium: staff check the person and move them to the citizen's new chat.

A citizen lost their web chat (its cookie); in a new one they type their ID number, say it is
theirs, cannot get the code, and a recovery ticket opens. In the console's inbox the ticket
shows the person they claim (masked) and "Verified: move to this chat"; pressing it moves the
person, tells the citizen and writes the audit log (issue 17, item 6).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
from playwright.async_api import Browser
from sqlalchemy import select

from bot.app import Service, build_service, running
from bot.config import Settings
from bot.domain import account_recovery
from bot.domain.identity import id_index
from storage.models import Account, AuditEvent, Person
from tests.browser.test_console_pages import OFFICE, open_page, shot, sign_in_by_keyboard
from tests.conftest import Clock
from tests.quiet import quiet
from tests.registration_fixtures import consenting_account
from tests.test_recovery import CASE, MINE, NUMBER, type_own_id
from tests.webchat import Citizen


@pytest.fixture
async def served(settings: Settings, clock: Clock) -> AsyncIterator[tuple[Service, str]]:
    """The whole service (web chat and console, its demo staff) and its address."""
    svc = build_service(settings, clock=clock)
    async with running(svc) as runner:
        (host, port) = next(a for a in runner.addresses if len(a) == 2)
        yield svc, f"http://{host}:{port}"


async def lost_web_chat(svc: Service) -> int:
    """Lê Văn Cư registered from a web chat whose cookie is gone; his person's id."""
    protector = svc.protector
    async with svc.db.session_scope() as session:
        lost = await consenting_account(session, "lost-cookie")
        person = Person(
            account_id=lost.id,
            full_name="Lê Văn Cư",
            birth_date=date(1958, 3, 15),
            gender="male",
            id_sealed=protector.seal(NUMBER),
            id_index=id_index(protector, NUMBER),
            phone_sealed=protector.seal("+84912345678"),
            province_code=79,
            ward_code=26743,
            divisions_version="x",
            priority_group="",
            is_holder=True,
        )
        session.add(person)
        await session.flush()
        return person.id


async def test_staff_verify_and_move_a_recovery_case(
    chromium: Browser, served: tuple[Service, str]
) -> None:
    svc, site = served
    person_id = await lost_web_chat(svc)
    web = Citizen(svc, "new-cookie")
    await web.consent()
    await type_own_id(web)
    await web.press(MINE)
    (case,) = await web.press("Tôi không nhận được mã")
    assert case.startswith(CASE)

    page, problems = await open_page(chromium, OFFICE)
    await sign_in_by_keyboard(page, site, "admin")
    await page.goto(f"{site}/console/inbox/1")
    card = page.locator("#recovery")
    await card.get_by_role(
        "heading", name="Lấy lại tài khoản: “số định danh này là của tôi”"
    ).wait_for()
    text = await card.inner_text()
    assert "Lê Văn Cư" in text and "15/03/1958" in text and "0791******23" in text
    assert "+84 91* *** 678" in text  # the phone on record, masked
    assert NUMBER not in await page.content() and "0912345678" not in await page.content()
    assert "web" in text  # registered from: the lost web chat
    await shot(page, "console-inbox-recovery-office")
    await card.get_by_role("button", name="Đã xác minh: chuyển về cuộc trò chuyện này").click()
    await card.get_by_text("Đã chuyển về cuộc trò chuyện này").wait_for()
    await page.get_by_text("đã kiểm tra và chuyển người này về cuộc trò chuyện này").wait_for()
    assert problems == []

    async with svc.db.read_scope() as session:
        person = await session.get(Person, person_id)
        new = await session.scalar(select(Account).where(Account.chat_id == "new-cookie"))
        (event,) = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == account_recovery.MOVED)
        )
    assert person is not None and new is not None and person.account_id == new.id
    assert event.actor.startswith("console:admin ") and event.detail["to"] == new.id
    await quiet(svc)
    told = await web.replies()
    assert any(
        body["text"].startswith("Nhân viên hỗ trợ đã kiểm tra số định danh của bạn")
        for body in told
    )
