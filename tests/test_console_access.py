"""Roles and scope in the console, exactly as in the chat: every route for every role."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import Service
from storage.models import AuditEvent, ConsoleAccount, StaffMember
from tests.console import StaffBrowser, add_sites, add_staff

FORBIDDEN = "Ngoài phạm vi của bạn"
# login -> (role, wards, sites)
STAFF = {
    "admin": ("admin", (), ()),
    "ward": ("ward_staff", (26743,), ()),
    "support": ("support", (), ()),
    "site": ("site_staff", (), ("hcm-benthanh",)),
    "sampler": ("sampler", (), ("hcm-saigon",)),
    "lab": ("lab", (), ("hcm-saigon",)),
}
# Every console page behind the gate, and who may open it.
ROUTES = {
    "/console/": set(STAFF),
    "/console/staff": {"admin"},
    "/console/staff/new": {"admin"},
    "/console/staff/1": {"admin"},
    "/console/audit": {"admin"},
    "/console/audit.csv": {"admin"},
    "/console/wards/26743": {"admin", "ward"},
    "/console/wards/26740": {"admin"},
    "/console/sites/hcm-benthanh": {"admin", "ward", "site"},
    "/console/sites/hcm-saigon": {"admin", "sampler", "lab"},
    "/console/sites/no-such-site": set(),
    "/console/wards/x1": set(),
}


@pytest.fixture
async def client(svc: Service) -> AsyncIterator[TestClient]:
    await add_sites(svc)
    for login, (role, wards, sites) in STAFF.items():
        await add_staff(svc, login, role, wards=wards, sites=sites)
    async with TestClient(TestServer(svc.web_app)) as client:
        yield client


@pytest.mark.parametrize("login", list(STAFF))
async def test_every_route_for_every_role(client: TestClient, login: str) -> None:
    browser = StaffBrowser(client)
    assert await browser.sign_in(login) == 303
    for path, allowed in ROUTES.items():
        status = await browser.get(path)
        if login in allowed:
            assert status == 200, path
        else:
            assert status == 403, path
            assert FORBIDDEN in browser.page
    await browser.get("/console/")
    # the one form that changes what staff may do: an empty one is answered, never done
    assert await browser.post("/console/staff") == (422 if login == "admin" else 403)
    # what is out of scope is not linked either
    await browser.get("/console/")
    for path, allowed in ROUTES.items():
        if login not in allowed:
            assert f'href="{path}"' not in browser.page, path


async def test_nobody_signed_in_is_sent_to_sign_in(client: TestClient) -> None:
    browser = StaffBrowser(client)
    for path in ROUTES:
        assert await browser.get(path) == 303
        assert browser.location == "/console/sign-in"
    await browser.get("/console/sign-in")
    assert await browser.post("/console/staff", login="x") == 303
    assert await browser.get("/console") == 308


async def test_a_page_of_another_ward_is_refused_and_tells_nothing(client: TestClient) -> None:
    browser = StaffBrowser(client)
    await browser.sign_in("ward")
    assert await browser.get("/console/wards/26740") == 403
    assert "Sài Gòn" not in browser.page
    assert await browser.get("/console/sites/hcm-saigon") == 403
    assert "Sài Gòn" not in browser.page and "1 Lê Lợi" not in browser.page
    assert await browser.get("/console/wards/26743") == 200
    assert "Bến Thành" in browser.page


async def test_an_admin_adds_staff_and_html_in_names_is_escaped(
    client: TestClient, svc: Service
) -> None:
    admin = StaffBrowser(client)
    await admin.sign_in("admin")
    await admin.get("/console/staff/new")
    evil = '<script>alert("x")</script> Lan'
    status = await admin.post(
        "/console/staff", login="lan", name=evil, role="ward_staff", wards="26743", sites=""
    )
    assert status == 200
    assert "<script>" not in admin.page
    link = admin.page.split('<code id="link">')[1].split("</code>")[0]
    assert link.startswith("http://localhost:") and "/console/password/" in link
    await admin.get("/console/staff")
    assert "&lt;script&gt;" in admin.page and "<script>" not in admin.page
    async with svc.db.read_scope() as session:
        trail = (await session.scalars(select(AuditEvent))).all()
        member = await session.scalar(select(StaffMember).where(StaffMember.user_id == "lan"))
    added = next(event for event in trail if event.action == "staff_added")
    assert added.actor.startswith("console:admin") and added.subject == "staff:console:lan"
    assert member is not None and member.wards == [26743]

    # the new officer sets a password with the link, once, then signs in
    lan = StaffBrowser(client)
    path = link[link.index("/console/") :]
    assert await lan.get(path) == 200
    assert await lan.post(path, password="short", repeated="short") == 422
    assert await lan.post(path, password="a long new password", repeated="other") == 422
    assert (
        await lan.post(path, password="a long new password", repeated="a long new password") == 303
    )
    assert await lan.get(path) == 410
    assert await lan.sign_in("lan", "a long new password") == 303
    await lan.get("/console/")
    assert "&lt;script&gt;" in lan.page and "<script>" not in lan.page


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"login": "A B", "role": "support"}, "Tên đăng nhập phải gồm"),
        ({"login": "admin", "role": "support"}, "Tên đăng nhập này đã có người dùng"),
        ({"role": "root"}, "Vui lòng chọn một trong các vai trò"),
        ({"role": "ward_staff", "wards": "99999999"}, "Mã phường là số"),
        ({"role": "ward_staff"}, "Cán bộ phường cần ít nhất một phường"),
        ({"role": "site_staff", "sites": "nowhere"}, "Mã điểm tiêm phải là"),
        ({"role": "support", "channel": "telegram"}, "Cuộc trò chuyện cần có kênh"),
    ],
)
async def test_a_wrong_staff_form_is_answered_and_nothing_is_written(
    client: TestClient, svc: Service, fields: dict[str, str], problem: str
) -> None:
    admin = StaffBrowser(client)
    await admin.sign_in("admin")
    await admin.get("/console/staff/new")
    form = {"login": "newbie", "name": "Người mới", "wards": "", "sites": "", **fields}
    assert await admin.post("/console/staff", **form) == 422
    assert problem in admin.page
    async with svc.db.read_scope() as session:
        assert len((await session.scalars(select(ConsoleAccount))).all()) == len(STAFF)
