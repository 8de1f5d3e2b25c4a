"""The staff console in Chromium: sign-in by keyboard, a scope refusal, the pages under the CSP.

With `CONSOLE_SCREENSHOTS=docs/screenshots` the main pages are saved there, at 1366×768 (an
office PC) and at phone width, for docs/console.md.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from bot.app import Service, build_service, running
from bot.config import Settings
from bot.console.demo_staff import DEMO_PASSWORD
from tests.conftest import Clock

SHOTS = os.environ.get("CONSOLE_SCREENSHOTS")
OFFICE = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def site(settings: Settings, clock: Clock) -> AsyncIterator[str]:
    """The whole service running (with its demo staff), and its address."""
    svc: Service = build_service(settings, clock=clock)
    async with running(svc) as runner:
        (host, port) = next(a for a in runner.addresses if len(a) == 2)
        yield f"http://{host}:{port}"


async def open_page(chromium: Browser, viewport: dict[str, int]) -> tuple[Page, list[str]]:
    context = await chromium.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = await context.new_page()
    problems: list[str] = []
    # (a 401 or 403 page is logged as a failed load: that is the page itself, not a problem)
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page, problems


async def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


async def sign_in_by_keyboard(page: Page, base: str, login: str) -> None:
    """Sign in with the keyboard alone: the name field has the focus, Tab, Enter."""
    await page.goto(f"{base}/console/")
    assert page.url.endswith("/console/sign-in")
    assert await page.evaluate("document.activeElement.id") == "login"
    await page.keyboard.type(login)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "password"
    await page.keyboard.type(DEMO_PASSWORD)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.type") == "submit"
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/console/")


@pytest.mark.parametrize(("viewport", "suffix"), [(OFFICE, "office"), (PHONE, "phone")])
async def test_a_ward_officer_signs_in_and_is_refused_another_ward(
    chromium: Browser, site: str, viewport: dict[str, int], suffix: str
) -> None:
    page, problems = await open_page(chromium, viewport)
    await page.goto(f"{site}/console/sign-in")
    assert await page.get_by_label("Tên đăng nhập").first.is_visible()
    assert await page.get_by_label("Mật khẩu").is_visible()
    await shot(page, f"console-sign-in-{suffix}")
    await page.fill("#login", "ward")
    await page.fill("#password", "not the password")
    await page.click("form[action='/console/sign-in'] button")
    await page.get_by_text("Tên đăng nhập hoặc mật khẩu chưa đúng").wait_for()
    await shot(page, f"console-wrong-password-{suffix}")

    await sign_in_by_keyboard(page, site, "ward")
    await page.get_by_role("heading", name="Xin chào, Cán bộ phường Bến Thành (demo)").wait_for()
    assert await page.get_by_role("link", name="Phường Bến Thành", exact=True).count() == 1
    await shot(page, f"console-home-ward-{suffix}")

    response = await page.goto(f"{site}/console/wards/26740")
    assert response is not None and response.status == 403
    await page.get_by_role("heading", name="Ngoài phạm vi của bạn").wait_for()
    assert "Sài Gòn" not in await page.content()
    await shot(page, f"console-refused-{suffix}")
    response = await page.goto(f"{site}/console/staff")
    assert response is not None and response.status == 403
    assert problems == []  # no CSP violation, no script error


async def test_an_admin_adds_a_staff_member(chromium: Browser, site: str) -> None:
    page, problems = await open_page(chromium, OFFICE)
    await sign_in_by_keyboard(page, site, "admin")
    await shot(page, "console-home-admin-office")
    await page.get_by_role("link", name="Thêm nhân viên").first.click()
    await page.fill("#name", "Chị Mai")
    await page.get_by_label("Tên đăng nhập").fill("mai")
    await page.get_by_label("Vai trò").select_option("site_staff")
    await page.get_by_label("Mã điểm tiêm, cách nhau bằng dấu phẩy (nhân viên điểm tiêm)").fill(
        "hcm-benthanh"
    )
    await page.get_by_role("button", name="Thêm", exact=True).click()
    link = await page.locator("#link").text_content()
    assert link and "/console/password/" in link
    await shot(page, "console-staff-added-office")
    await page.get_by_role("link", name="Nhân viên", exact=True).click()
    await page.get_by_role("cell", name="Chị Mai").wait_for()
    await shot(page, "console-staff-office")
    page_phone, _ = await open_page(chromium, PHONE)
    await sign_in_by_keyboard(page_phone, site, "admin")
    await page_phone.goto(f"{site}/console/staff")
    await shot(page_phone, "console-staff-phone")
    assert problems == []
