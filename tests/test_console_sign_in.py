"""The staff console's sign-in over real HTTP: passwords, waits, sessions, CSRF, sign-out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import Service, forget_old_rows
from storage.models import AuditEvent, ConsoleFailure, ConsoleSession
from tests.clock import Clock
from tests.console import StaffBrowser, add_sites, add_staff

WRONG = "Tên đăng nhập hoặc mật khẩu chưa đúng"
ENDED = "Phiên làm việc của bạn đã kết thúc"
BAD_FORM = "Không thể nhận biểu mẫu này"


@pytest.fixture
async def client(svc: Service) -> AsyncIterator[TestClient]:
    await add_sites(svc)
    await add_staff(svc, "lan", "ward_staff", name="Chị Lan", wards=(26743,))
    async with TestClient(TestServer(svc.web_app)) as client:
        yield client


async def actions(svc: Service) -> list[str]:
    async with svc.db.read_scope() as session:
        return list(
            (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all()
        )


async def test_sign_in_shows_the_home_page(client: TestClient, svc: Service) -> None:
    browser = StaffBrowser(client)
    assert await browser.get("/console/") == 303
    assert browser.location == "/console/sign-in"
    assert await browser.sign_in("lan") == 303
    assert browser.location == "/console/"
    assert await browser.get("/console/") == 200
    assert "Chị Lan" in browser.page and "Cán bộ phường" in browser.page
    assert "/console/wards/26743" in browser.page
    assert "/console/sites/hcm-benthanh" in browser.page
    assert "/console/staff" not in browser.page  # not an admin
    assert "console_sign_in" in await actions(svc)
    async with svc.db.read_scope() as session:
        stored = (await session.scalars(select(ConsoleSession.token_hash))).all()
    cookie = next(v for k, v in browser.cookies.items() if k.endswith("console_session"))
    assert cookie not in stored  # only its hash is kept


async def test_english_switch(client: TestClient) -> None:
    browser = StaffBrowser(client)
    await browser.get("/console/sign-in?lang=en")
    assert "Sign-in name" in browser.page and 'lang="en"' in browser.page
    assert browser.cookies["console_lang"] == "en"
    await browser.get("/console/sign-in")
    assert "Password" in browser.page


@pytest.mark.parametrize("login", ["lan", "nobody"])
async def test_a_wrong_password_or_name_is_refused_alike(client: TestClient, login: str) -> None:
    browser = StaffBrowser(client)
    assert await browser.sign_in(login, "not the password") == 401
    assert WRONG in browser.page
    assert not any(k.endswith("console_session") for k in browser.cookies)


async def test_failed_sign_ins_make_the_name_wait_longer(
    client: TestClient, svc: Service, clock: Clock
) -> None:
    browser = StaffBrowser(client)
    for _ in range(3):
        assert await browser.sign_in("lan", "wrong password") == 401
    # the right password waits too
    assert await browser.sign_in("lan") == 429
    assert "1 phút" in browser.page
    clock.advance(timedelta(minutes=1, seconds=1))
    assert await browser.sign_in("lan", "wrong again") == 401
    assert await browser.sign_in("lan") == 429
    assert "2 phút" in browser.page  # doubled
    clock.advance(timedelta(minutes=2, seconds=1))
    assert await browser.sign_in("lan") == 303
    assert "console_sign_in_failed" in await actions(svc)


async def test_failed_sign_ins_make_the_address_wait(client: TestClient) -> None:
    guesser = StaffBrowser(client)
    for name in ("an", "binh", "chi"):
        assert await guesser.sign_in(name, "guess") == 401
    assert await guesser.sign_in("lan") == 429  # another name, from the same address


async def test_an_idle_session_ends(client: TestClient, clock: Clock) -> None:
    browser = StaffBrowser(client)
    await browser.sign_in("lan")
    clock.advance(timedelta(minutes=29))
    assert await browser.get("/console/") == 200
    clock.advance(timedelta(minutes=31))
    assert await browser.get("/console/") == 303
    assert browser.location == "/console/sign-in?expired=1"
    assert not any(k.endswith("console_session") for k in browser.cookies)
    await browser.get(browser.location)
    assert ENDED in browser.page


async def test_a_session_ends_after_its_hours_however_busy(
    client: TestClient, clock: Clock
) -> None:
    browser = StaffBrowser(client)
    await browser.sign_in("lan")
    for _ in range(12 * 3):
        assert await browser.get("/console/") == 200
        clock.advance(timedelta(minutes=20))
    assert await browser.get("/console/") == 303


@pytest.mark.parametrize("csrf", ["", "forged-token"])
async def test_a_form_without_the_right_csrf_token_is_refused(
    client: TestClient, csrf: str
) -> None:
    browser = StaffBrowser(client)
    await browser.sign_in("lan")
    await browser.get("/console/")
    assert await browser.post("/console/sign-out", csrf=csrf) == 403
    assert BAD_FORM in browser.page
    assert await browser.get("/console/") == 200  # still signed in: nothing was done
    # the sign-in form too
    other = StaffBrowser(client)
    await other.get("/console/sign-in")
    assert await other.post("/console/sign-in", csrf=csrf, login="lan", password="x") == 403


async def test_a_token_of_another_browser_is_refused(client: TestClient) -> None:
    mine, theirs = StaffBrowser(client), StaffBrowser(client)
    await mine.sign_in("lan")
    await mine.get("/console/")
    await theirs.sign_in("lan")
    await theirs.get("/console/")
    assert await theirs.post("/console/sign-out", csrf=mine.csrf) == 403


async def test_sign_out_and_sign_out_everywhere(client: TestClient, svc: Service) -> None:
    office, phone, laptop = StaffBrowser(client), StaffBrowser(client), StaffBrowser(client)
    for browser in (office, phone, laptop):
        assert await browser.sign_in("lan") == 303
    await laptop.get("/console/")
    assert await laptop.post("/console/sign-out") == 303
    assert await laptop.get("/console/") == 303
    assert await office.get("/console/") == 200
    assert await office.post("/console/sign-out-everywhere") == 303
    assert await phone.get("/console/") == 303
    assert await office.get("/console/") == 303
    trail = await actions(svc)
    assert "console_sign_out" in trail and "console_sign_out_everywhere" in trail


@pytest.mark.parametrize(
    "path",
    ["/console/link/" + "x" * 300, "/console/link/%00%ff", "/console/password/nope"],
)
async def test_a_made_up_link_is_answered_kindly(client: TestClient, path: str) -> None:
    browser = StaffBrowser(client)
    assert await browser.get(path) == 410
    assert "Liên kết này không còn dùng được" in browser.page


async def test_odd_sign_in_input_is_answered_kindly(client: TestClient) -> None:
    browser = StaffBrowser(client)
    assert await browser.sign_in("lan", "x" * 10_000) == 401
    assert await browser.sign_in("<b>lan</b>" * 20, "x") == 401
    assert "<b>" not in browser.page
    await browser.get("/console/sign-in")
    assert await browser.request("POST", "/console/sign-in", json={"login": "lan"}) == 403


async def test_old_sessions_and_failures_are_forgotten(
    client: TestClient, svc: Service, clock: Clock
) -> None:
    browser = StaffBrowser(client)
    await browser.sign_in("lan", "wrong")
    await browser.sign_in("lan")
    clock.advance(timedelta(days=3))
    await forget_old_rows(svc.db, now=clock())
    async with svc.db.read_scope() as session:
        assert (await session.scalars(select(ConsoleSession))).all() == []
        assert (await session.scalars(select(ConsoleFailure))).all() == []
