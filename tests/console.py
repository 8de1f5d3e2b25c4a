"""A staff member's browser on /console over real HTTP, and staff and sites to sign in with.

`StaffBrowser` keeps its own cookies (the aiohttp test client's jar would not send a `__Host-`
cookie over http) and posts forms with the CSRF token of the last page it read, as a browser
posting the page's form does.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import cache
from http.cookies import SimpleCookie
from typing import Any

from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlalchemy import select

from bot.app import Service
from bot.domain import booking as booking_service
from storage import console, staff
from storage.models import Person, Site, Slot
from tests.registration_fixtures import consenting_account
from tests.remote import Remote

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')
# (site id, ward code): two wards of Ho Chi Minh City, a site in each.
SITES = (
    ("hcm-benthanh", 26743, "Trạm Y tế phường Bến Thành"),
    ("hcm-saigon", 26740, "Trạm Y tế phường Sài Gòn"),
)


@cache
def password_hash() -> str:
    """One argon2id hash of `PASSWORD` for every test (hashing takes a while on purpose)."""
    return PasswordHasher().hash(PASSWORD)


async def add_sites(svc: Service) -> None:
    """The two test sites."""
    async with svc.db.session_scope() as session:
        for site_id, ward, name in SITES:
            session.add(
                Site(
                    id=site_id,
                    name=name,
                    address="1 Lê Lợi",
                    province_code=79,
                    ward_code=ward,
                    active=True,
                )
            )


async def add_staff(
    svc: Service,
    login: str,
    role: str,
    *,
    name: str | None = None,
    wards: tuple[int, ...] = (),
    sites: tuple[str, ...] = (),
    channel: str = "console",
    user_id: str | None = None,
    password: bool = True,
) -> None:
    """A staff role with a console account (with `PASSWORD` unless `password` is False)."""
    async with svc.db.session_scope() as session:
        now = svc.clock()
        await staff.add_staff(
            session,
            channel=channel,
            user_id=user_id or login,
            role=role,
            name=name or login.title(),
            wards=wards,
            sites=sites,
            now=now,
        )
        account = await console.open_account(
            session, login=login, channel=channel, user_id=user_id or login, now=now
        )
        account.password_hash = password_hash() if password else None


class StaffBrowser:
    """One browser: its cookies, the last page it read and that page's CSRF token."""

    def __init__(self, client: TestClient | Remote, **headers: str) -> None:
        self.client, self.headers = client, headers
        self.cookies: dict[str, str] = {}
        self.page = ""
        self.status = 0
        self.location = ""

    def _remember(self, set_cookies: list[str]) -> None:
        for line in set_cookies:
            cookie = SimpleCookie()
            cookie.load(line)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    async def request(self, method: str, path: str, **kwargs: Any) -> int:
        """Send a request with the cookies; read the answer; return its status."""
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers = {**self.headers, **({"Cookie": cookie} if cookie else {})}
        response = await self.client.request(
            method, path, headers=headers, allow_redirects=False, **kwargs
        )
        self._remember(response.headers.getall("Set-Cookie", []))
        self.status, self.location = response.status, response.headers.get("Location", "")
        self.page = await response.text()
        return self.status

    async def get(self, path: str) -> int:
        """GET a page."""
        return await self.request("GET", path)

    @property
    def csrf(self) -> str:
        """The CSRF token of the last page's forms."""
        found = _CSRF.search(self.page)
        assert found, "the page has no form"
        return found.group(1)

    async def post(self, path: str, csrf: str | None = None, **fields: str) -> int:
        """Post a form, with the last page's CSRF token unless `csrf` is given."""
        data = {"csrf": self.csrf if csrf is None else csrf, **fields}
        return await self.request("POST", path, data=data)

    async def sign_in(self, login: str, password: str = PASSWORD) -> int:
        """Open the sign-in page and sign in; the status of the sign-in's answer."""
        assert await self.get("/console/sign-in") in (200, 303)
        if self.status == 303:
            return 303
        return await self.post("/console/sign-in", login=login, password=password)


async def book_resident(
    svc: Service, site: str, *, chat: int | None, name: str = "Trần Thị Bình"
) -> int:
    """A Bến Thành resident (on a Telegram chat, or none) booked on `site`'s next slot."""
    async with svc.db.session_scope() as session:
        account = (
            await consenting_account(session, str(chat), channel="telegram", now=svc.clock())
            if chat
            else None
        )
        person = Person(
            account_id=account.id if account else None,
            full_name=name,
            birth_date=date(1980, 5, 4),
            gender="female",
            id_sealed=svc.protector.seal("079180001234"),
            id_index=f"index-{name}",
            province_code=79,
            ward_code=26743,
            divisions_version="test",
            priority_group="nq21-5",
        )
        session.add(person)
        await session.flush()
        first = await session.scalar(
            select(Slot.id)
            .where(Slot.site_id == site, Slot.starts_at > svc.clock() + timedelta(hours=1))
            .order_by(Slot.starts_at)
            .limit(1)
        )
        assert first is not None
        made = await booking_service.book(
            session,
            person_id=person.id,
            slot_id=first,
            dose_number=1,
            screening={},
            needs_screening=False,
            now=svc.clock(),
        )
        assert made is not None
        return person.id
