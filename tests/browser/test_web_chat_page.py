"""The web chat page in Chromium, under its Content-Security-Policy, on the running service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page
from sqlalchemy import func, select

from bot.app import Service, build_service, running
from bot.config import Settings
from bot.web.chat import COOKIE
from storage.models import Account
from tests.conftest import Clock
from tests.webchat import THANKS

HELP = "Bạn có thể dùng các lệnh sau:"


@pytest.fixture
async def site(settings: Settings, clock: Clock) -> AsyncIterator[tuple[Service, str]]:
    """The whole service running, and the address of its web chat."""
    svc = build_service(settings, clock=clock)
    async with running(svc) as runner:
        (host, port) = next(a for a in runner.addresses if len(a) == 2)
        yield svc, f"http://{host}:{port}"


class Tab:
    """A page with every console message and page error it produced."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context, self.page = context, page
        self.console: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")

    def violations(self) -> list[str]:
        return [line for line in self.console if "Content Security Policy" in line]


async def open_tab(chromium: Browser) -> Tab:
    context = await chromium.new_context()
    return Tab(context, await context.new_page())


async def accounts(svc: Service) -> int:
    async with svc.db.read_scope() as session:
        return await session.scalar(select(func.count()).select_from(Account)) or 0


async def test_consent_and_a_message_under_the_policy(
    chromium: Browser, site: tuple[Service, str]
) -> None:
    svc, base = site
    before = await accounts(svc)  # the demo data's
    tab = await open_tab(chromium)
    page = tab.page
    response = await page.goto(f"{base}/chat")
    assert (
        response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    )
    start = page.locator("#start")
    await start.wait_for()
    assert await start.text_content() == "Bắt đầu"
    assert await accounts(svc) == before  # opened, session issued, nothing stored
    (cookie,) = await tab.context.cookies()
    assert (cookie["name"], cookie["secure"], cookie["httpOnly"]) == (COOKIE, True, True)
    assert cookie["sameSite"] == "Strict" and cookie["path"] == "/"

    await start.click()
    await page.get_by_role("button", name="Tôi đồng ý").click()
    await page.get_by_text(THANKS).wait_for()
    await page.fill("#text", "/help")
    await page.press("#text", "Enter")
    await page.get_by_text(HELP).wait_for()
    assert await page.locator(".msg.me").all_text_contents() == ["Tôi đồng ý", "/help"]
    assert await accounts(svc) == before + 1
    assert tab.violations() == [], tab.console

    # The policy is in force: an inline script added now is refused, and reported.
    ran = await page.evaluate(
        """() => new Promise(done => {
            document.addEventListener("securitypolicyviolation", () => done(window.ran === true));
            const script = document.createElement("script");
            script.textContent = "window.ran = true";
            document.body.appendChild(script);
        })"""
    )
    assert ran is False
    assert any("inline script" in line for line in tab.violations()), tab.console
    await tab.context.close()


async def test_an_invented_cookie_is_replaced_and_the_language_switch_stores_nothing(
    chromium: Browser, site: tuple[Service, str]
) -> None:
    svc, base = site
    before = await accounts(svc)
    tab = await open_tab(chromium)
    page = tab.page
    invented = "A" * 32 + "." + "B" * 22
    await page.goto(f"{base}/healthz")  # a script of the site sets a session it made up
    await page.evaluate(f"document.cookie = '{COOKIE}={invented}; Secure; Path=/'")
    assert [c["value"] for c in await tab.context.cookies()] == [invented]
    await page.goto(f"{base}/chat")
    await page.locator("#start").wait_for()
    (cookie,) = await tab.context.cookies()
    assert cookie["value"] != invented and svc.protector.is_our_session(cookie["value"])
    await page.click("#switch")
    await page.wait_for_url(f"{base}/chat?lang=en")
    start = page.locator("#start")
    await start.wait_for()
    assert await start.text_content() == "Start"
    assert await accounts(svc) == before
    await page.fill("#text", "hello")
    await page.press("#text", "Enter")
    await page.get_by_role("button", name="I agree").wait_for()  # the consent question, in English
    assert await accounts(svc) == before + 1
    assert tab.violations() == [], tab.console
    await tab.context.close()


async def test_erasure_wipes_what_the_page_holds(
    chromium: Browser, site: tuple[Service, str]
) -> None:
    svc, base = site
    before = await accounts(svc)
    tab = await open_tab(chromium)
    page = tab.page
    await page.goto(f"{base}/chat")
    await page.locator("#start").click()
    await page.get_by_role("button", name="Tôi đồng ý").click()
    await page.get_by_text(THANKS).wait_for()
    typed = ["dang ky tiem", "Nguyễn Văn Vĩ", "2/1/90"]  # the ID is asked next
    for number, text in enumerate(typed):
        await page.fill("#text", text)
        await page.press("#text", "Enter")
        if number == 0:
            await page.get_by_role("button", name="Bản thân tôi").click()
        await page.locator(".msg.bot").nth(-1).wait_for()
    await page.get_by_text("Số định danh cá nhân", exact=False).last.wait_for()
    await page.fill("#text", "079 090 077 345")
    await page.press("#text", "Enter")
    await page.get_by_text("số định danh", exact=False).first.wait_for()
    held = await page.evaluate("() => sessionStorage.getItem('my-messages')")
    assert "079 090 077 345" in held and "2/1/90" in held

    await page.fill("#text", "/xoadulieu")
    await page.press("#text", "Enter")
    await page.get_by_role("button", name="Xóa dữ liệu").click()
    await page.get_by_text("Toàn bộ dữ liệu của bạn đã được xóa.").wait_for()
    shown = await page.locator("#log").inner_text()
    for trace in ("079 090 077 345", "2/1/90", "Nguyễn Văn Vĩ", "Xóa dữ liệu", "/xoadulieu"):
        assert trace not in shown, shown
    assert await page.locator(".msg").count() == 1  # the goodbye alone
    assert await accounts(svc) == before  # and the account is gone from the database
    assert await page.evaluate("() => sessionStorage.getItem('my-messages')") in (None, "[]")
    await page.reload()
    await page.get_by_text("Toàn bộ dữ liệu của bạn đã được xóa.").wait_for()
    assert "079 090 077 345" not in await page.locator("#log").inner_text()
    assert tab.violations() == [], tab.console
    await tab.context.close()
