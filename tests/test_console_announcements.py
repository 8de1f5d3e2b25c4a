"""Ward announcements from the console: compose, preview, send, follow, stop; scope; delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import Service
from bot.i18n import TIMEZONE
from storage.models import AuditEvent, Broadcast, Person
from tests.console import StaffBrowser, add_staff
from tests.fakes.telegram_api import TelegramEmulator
from tests.registration_fixtures import BEN_THANH, consenting_account

SAI_GON = 26740
CHATS = (6001, 6002)


async def residents(svc: Service, ward: int, chats: tuple[int, ...]) -> None:
    """One consenting Telegram citizen in `ward` per chat."""
    async with svc.db.session_scope() as session:
        for chat in chats:
            account = await consenting_account(
                session, str(chat), channel="telegram", now=svc.clock()
            )
            session.add(
                Person(
                    account_id=account.id,
                    full_name=f"Người {chat}",
                    birth_date=date(1970, 1, 1),
                    gender="male",
                    id_sealed=b"x",
                    id_index=f"index-{chat}",
                    province_code=79,
                    ward_code=ward,
                    divisions_version="test",
                    priority_group="nq21-5",
                )
            )


async def staff(svc: Service) -> None:
    await add_staff(svc, "ward", "ward_staff", name="Chị Lan", wards=(BEN_THANH,))
    await add_staff(svc, "other", "ward_staff", name="Anh Tư", wards=(SAI_GON,))
    await add_staff(svc, "support", "support", name="Chị Hoa")
    await add_staff(svc, "admin", "admin", name="Anh Quản")


@pytest.fixture
async def client(svc: Service) -> AsyncIterator[TestClient]:
    await staff(svc)
    await residents(svc, BEN_THANH, CHATS)
    async with TestClient(TestServer(svc.web_app)) as client:
        yield client


async def audit(svc: Service) -> list[str]:
    async with svc.db.read_scope() as session:
        return list(
            (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all()
        )


async def test_compose_preview_schedule_and_stop(client: TestClient, svc: Service) -> None:
    officer = StaffBrowser(client)
    await officer.sign_in("ward")
    assert await officer.get("/console/announcements/new") == 200
    assert f'name="w_{BEN_THANH}"' in officer.page and "ward_codes" not in officer.page
    ward = {f"w_{BEN_THANH}": "1"}
    assert await officer.post("/console/announcements/preview", text="", **ward) == 422
    assert "1 đến 1.000 ký tự" in officer.page
    assert await officer.post("/console/announcements/preview", text="x" * 1001, **ward) == 422
    assert await officer.post("/console/announcements/preview", text="Chào") == 422
    assert (
        await officer.post("/console/announcements/preview", text="Chào", **{f"w_{SAI_GON}": "1"})
        == 422
    )
    assert "ngoài phạm vi của bạn" in officer.page
    for when in ("next tuesday", "2031-01-01T08:00"):
        assert (
            await officer.post("/console/announcements/preview", text="Chào", send_at=when, **ward)
            == 422
        )
    text = "Thứ Bảy này phường tiêm mũi nhắc lại tại <b>nhà văn hóa</b>."
    later = (svc.clock() + timedelta(days=2)).astimezone(TIMEZONE).strftime("%Y-%m-%dT%H:%M")
    assert (
        await officer.post("/console/announcements/preview", text=text, send_at=later, **ward)
        == 200
    )
    assert "2 người sẽ nhận được" in officer.page
    assert officer.page.count("📢 Thông báo tới bà con Phường Bến Thành") == 2  # Telegram, Zalo
    assert "&lt;b&gt;nhà văn hóa&lt;/b&gt;" in officer.page and "<b>nhà" not in officer.page
    assert await audit(svc) == ["console_sign_in"]  # the preview wrote nothing
    assert await officer.post("/console/announcements", text=text, send_at=later, **ward) == 303
    number = int(officer.location.rsplit("/", 1)[1])
    await officer.get(officer.location)
    assert "Đã lên lịch" in officer.page and 'http-equiv="refresh"' in officer.page
    assert "<svg" in officer.page
    assert await officer.post(f"/console/announcements/{number}/stop") == 303
    await officer.get(f"/console/announcements/{number}")
    assert "Đã dừng" in officer.page and 'http-equiv="refresh"' not in officer.page
    async with svc.db.read_scope() as session:
        stored = await session.get(Broadcast, number)
    assert stored is not None and stored.status == "cancelled" and stored.wards == [BEN_THANH]
    assert await audit(svc) == ["console_sign_in", "broadcast_sent", "broadcast_cancelled"]
    other = StaffBrowser(client)
    await other.sign_in("other")
    assert await other.get(f"/console/announcements/{number}") == 403
    await other.get("/console/announcements")
    assert f"/console/announcements/{number}" not in other.page
    for path in (
        "/console/announcements",
        "/console/announcements/new",
        "/console/announcements/x",
    ):
        helper = StaffBrowser(client)
        await helper.sign_in("support")
        assert await helper.get(path) == 403, path


async def test_an_admin_types_ward_codes(client: TestClient) -> None:
    admin = StaffBrowser(client)
    await admin.sign_in("admin")
    await admin.get("/console/announcements/new")
    assert 'name="ward_codes"' in admin.page
    assert (
        await admin.post("/console/announcements/preview", text="Chào", ward_codes="99999") == 422
    )
    assert "Mã phường là số của các phường hiện hành" in admin.page
    assert (
        await admin.post(
            "/console/announcements/preview", text="Chào", ward_codes=f"{BEN_THANH}, {SAI_GON}"
        )
        == 200
    )
    assert "2 người sẽ nhận được" in admin.page


async def test_sent_now_reaches_the_residents_over_telegram(
    service: Service, emulator: TelegramEmulator
) -> None:
    await staff(service)
    await residents(service, BEN_THANH, CHATS)
    await residents(service, SAI_GON, (6003,))
    async with TestClient(TestServer(service.web_app)) as client:
        officer = StaffBrowser(client)
        await officer.sign_in("ward")
        await officer.get("/console/announcements/new")
        text = "Tối nay trạm y tế mở cửa đến 21 giờ."
        assert (
            await officer.post("/console/announcements", text=text, **{f"w_{BEN_THANH}": "1"})
            == 303
        )
        for chat in CHATS:
            (received,) = await emulator.wait_for_sent(chat, 1)
            assert text in received["text"] and "Phường Bến Thành" in received["text"]
        await officer.get(officer.location)
        assert "Đã gửi: 2" in officer.page or "Đang gửi" in officer.page
    assert emulator.sent(6003) == []  # another ward's resident


async def test_a_campaign_is_previewed_started_paused_and_stopped(
    client: TestClient, svc: Service
) -> None:
    officer = StaffBrowser(client)
    await officer.sign_in("ward")
    assert await officer.get("/console/campaigns/new") == 200
    good = {
        "name": "Mũi nhắc lại tháng 12",
        f"w_{BEN_THANH}": "1",
        "min_age": "50",
        "max_age": "",
        "status": "none",
        "text": "Mời bạn tiêm mũi nhắc lại tại trạm y tế phường.",
        "cap": "100",
    }
    for wrong in (
        {"name": ""},
        {"min_age": "60", "max_age": "20"},
        {"cap": "0"},
        {"status": "dose1", "weeks": "x"},
        {"starts_on": "2020-01-01"},
        {"vaccine": "no-such"},
        {f"w_{BEN_THANH}": "", f"w_{SAI_GON}": "1"},
    ):
        fields = {
            key: value
            for key, value in {**good, **wrong}.items()
            if value != "" or key in ("max_age",)
        }
        assert await officer.post("/console/campaigns/preview", **fields) == 422, wrong
        assert 'role="alert"' in officer.page
    assert await officer.post("/console/campaigns/preview", **good) == 200
    assert "Hôm nay có thể mời 2 người." in officer.page
    assert "Mời bạn tiêm mũi nhắc lại" in officer.page
    assert await officer.post("/console/campaigns", **good) == 303
    number = int(officer.location.rsplit("/", 1)[1])
    await officer.get("/console/campaigns/new")
    assert await officer.post("/console/campaigns", **good) == 303  # "Start" pressed again
    assert officer.location == f"/console/campaigns/{number}"  # the same campaign, not two
    await officer.get(officer.location)
    assert "Đang chạy" in officer.page and "<svg" in officer.page
    assert await officer.post(f"/console/campaigns/{number}/pause") == 303
    await officer.get(f"/console/campaigns/{number}")
    assert "Đang tạm dừng" in officer.page
    assert await officer.post(f"/console/campaigns/{number}/resume") == 303
    await officer.get(f"/console/campaigns/{number}")
    assert await officer.post(f"/console/campaigns/{number}/stop") == 303
    await officer.get(f"/console/campaigns/{number}")
    assert "Đã dừng" in officer.page and "Tạm dừng</button>" not in officer.page
    assert [a for a in await audit(svc) if a.startswith("campaign_")] == [
        "campaign_created",
        "campaign_paused",
        "campaign_resumed",
        "campaign_cancelled",
    ]
    other = StaffBrowser(client)
    await other.sign_in("other")
    assert await other.get(f"/console/campaigns/{number}") == 403
    await other.get("/console/campaigns")
    assert await other.post(f"/console/campaigns/{number}/stop") == 403


async def test_a_children_campaign_is_counted_for_a_vaccine(client: TestClient) -> None:
    officer = StaffBrowser(client)
    await officer.sign_in("ward")
    await officer.get("/console/campaigns/new")
    assert "Trẻ em: Sởi" in officer.page
    fields = {
        "name": "Sởi - Rubella 2026",
        f"w_{BEN_THANH}": "1",
        "vaccine": "measles",
        "min_age": "1",
        "max_age": "10",
        "status": "due",
        "text": "Mời bé tiêm sởi tại trạm y tế phường.",
        "cap": "50",
    }
    assert await officer.post("/console/campaigns/preview", **fields) == 200
    assert "Hôm nay có thể mời 0 người." in officer.page  # no child registered here


async def test_send_pressed_twice_sends_once(client: TestClient, svc: Service) -> None:
    officer = StaffBrowser(client)
    await officer.sign_in("ward")
    await officer.get("/console/announcements/new")
    fields = {"text": "Chiều nay trạm y tế nghỉ.", f"w_{BEN_THANH}": "1"}
    assert await officer.post("/console/announcements", **fields) == 303
    first = officer.location
    await officer.get("/console/announcements/new")
    assert await officer.post("/console/announcements", **fields) == 303
    assert officer.location == first
    async with svc.db.read_scope() as session:
        assert len((await session.scalars(select(Broadcast))).all()) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/console/announcements/²",
        "/console/announcements/99999999999",
        "/console/campaigns/²",
        "/console/staff/99999999999",
        "/console/wards/²",
        "/console/wards/²/children",
        "/console/audit?before=²",
        "/console/audit?to=9999-12-31",
        "/console/audit.csv?from=0001-01-01",
    ],
)
async def test_odd_numbers_and_days_are_answered_never_a_crash(
    client: TestClient, path: str
) -> None:
    admin = StaffBrowser(client)
    await admin.sign_in("admin")
    assert await admin.get(path) in (200, 403), path
    await admin.get("/console/announcements/new")
    odd = "0001-01-01T00:00"
    for fields in (
        {"ward_codes": "²", "text": "x"},
        {"w_" + "9" * 5000: "1", "text": "x"},
        {"ward_codes": str(BEN_THANH), "text": "x", "send_at": odd},
    ):
        assert await admin.post("/console/announcements/preview", **fields) == 422
