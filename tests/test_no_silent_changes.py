"""No silent changes (issue 16.6): erasure phrasings, the web chat's phone step, the notice of a
dose recorded elsewhere, `/xemdulieu` showing everything held."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from bot.app import Service
from bot.i18n import TIMEZONE
from bot.vn.intents import Intent, match_intent
from storage.models import Booking, Job
from tests.conftest import Clock
from tests.registration_fixtures import (
    ANSWERS_SELF,
    SITE,
    add_sites,
    book_first,
    fill_person,
    give_first_dose,
)
from tests.test_scheduler import news
from tests.webchat import Citizen

MONDAY = date(2026, 12, 7)
ERASE_QUESTION = "Bạn có chắc muốn xóa toàn bộ dữ liệu của mình không?"


@pytest.mark.parametrize(
    "typed",
    [
        "xoa du lieu cua toi",
        "Xóa dữ liệu của tôi",
        "xóa hết dữ liệu",
        "toi muon xoa thong tin cua toi",
        "hủy tài khoản",
        "delete my account",
    ],
)
def test_erasure_phrasings_mean_erasure(typed: str) -> None:
    assert match_intent(typed) == Intent.DELETE_DATA


@pytest.mark.parametrize("typed", ["du lieu cua toi", "xem du lieu cua toi", "my data"])
def test_viewing_phrasings_still_mean_viewing(typed: str) -> None:
    assert match_intent(typed) == Intent.VIEW_DATA


async def test_erasure_typed_in_a_sentence_asks_for_confirmation(svc: Service) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    (question,) = await citizen.say("xoa du lieu cua toi")
    assert question.startswith(ERASE_QUESTION)
    assert citizen.buttons() == ["Xóa dữ liệu", "Không, giữ lại"]
    (kept,) = await citizen.press("Không, giữ lại")
    account, _conv, _events = await citizen.state()
    assert account is not None and kept.startswith("Chưa xóa gì cả")


async def test_the_web_chat_phone_step_mentions_no_button(svc: Service, clock: Clock) -> None:
    await add_sites(svc.db, clock())
    citizen = Citizen(svc)
    await citizen.consent()
    await citizen.say("dang ky tiem")
    await citizen.press("Bản thân tôi")
    for field in ("name", "dob"):
        await citizen.say(ANSWERS_SELF[field])
    await citizen.press(ANSWERS_SELF["gender"])
    asked = await citizen.say(ANSWERS_SELF["id"])
    assert asked[-1] == "Số điện thoại di động của bạn là gì? Bạn gõ số, ví dụ 0912 345 678."
    assert not any(body.get("request_phone") for body in citizen.last)
    assert not any("Chia sẻ" in text or "bấm nút" in text for text in asked)
    (phone,) = await citizen.say("/sodienthoai")
    assert phone == "Bạn vui lòng gõ số điện thoại di động, ví dụ 0912 345 678."
    assert not citizen.last[-1].get("request_phone")


# ---------------------------------------------------------------- a dose recorded elsewhere


async def booked_citizen(svc: Service, clock: Clock) -> Citizen:
    """Booked on Monday 7 December for Tuesday 08:00 at Bến Thành (nothing read since)."""
    clock.set(datetime.combine(MONDAY, time(10), TIMEZONE))
    await add_sites(svc.db, clock())
    citizen = Citizen(svc)
    await citizen.consent()
    await fill_person(citizen)
    await book_first(citizen)
    await news(citizen)
    return citizen


async def test_a_dose_given_elsewhere_says_the_appointment_is_cancelled_and_when_the_next_is(
    svc: Service, clock: Clock
) -> None:
    citizen = await booked_citizen(svc, clock)
    await give_first_dose(svc, clock(), MONDAY, None)  # imported: another site, another day
    (notice,) = await news(citizen)
    text = notice["text"]
    assert text.startswith("Mũi 1 của Nguyen Van An đã được ghi nhận")
    async with svc.db.read_scope() as session:
        booking = await session.scalar(select(Booking))
    assert booking is not None and booking.status == "cancelled"
    assert (
        "lịch hẹn tiêm mũi 1 tại Trạm Y tế phường Bến Thành vào Thứ Ba, 08/12/2026 lúc 08:00 "
        f"(mã {booking.code}) đã được hủy"
    ) in text
    assert "Mũi 2 có thể tiêm từ Thứ Hai, 01/02/2027." in text  # AstraZeneca: 8 weeks
    assert notice.get("buttons", []) == []
    async with svc.db.read_scope() as session:
        invitation = await session.scalar(
            select(Job).where(Job.kind == "next_dose", Job.status == "pending")
        )
    assert invitation is not None
    assert invitation.due_at == datetime.combine(date(2027, 2, 1), time(9), TIMEZONE)


async def test_a_dose_at_the_appointment_says_nothing_of_a_cancellation(
    svc: Service, clock: Clock
) -> None:
    citizen = await booked_citizen(svc, clock)
    clock.set(datetime.combine(MONDAY + timedelta(days=1), time(8, 30), TIMEZONE))
    await give_first_dose(svc, clock(), MONDAY + timedelta(days=1), SITE)
    (notice,) = await news(citizen)
    assert "đã được hủy" not in notice["text"]
    assert "Mũi 2 có thể tiêm từ Thứ Ba, 02/02/2027." in notice["text"]


async def test_an_old_dose_imported_invites_to_book_the_next_now(
    svc: Service, clock: Clock
) -> None:
    citizen = await booked_citizen(svc, clock)
    await give_first_dose(svc, clock(), MONDAY - timedelta(days=200), None)
    (notice,) = await news(citizen)
    assert "Mũi 2 đã có thể tiêm: bạn có thể đặt lịch ngay bên dưới." in notice["text"]
    assert citizen.buttons() == ["Đặt lịch tiêm mũi 2"]
    answer = await citizen.press("Đặt lịch tiêm mũi 2")
    assert answer[-1].startswith("Câu 1/8: Nguyen Van An")  # dose 2's booking: screening first
