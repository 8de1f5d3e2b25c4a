"""No silent changes (issue 16.6): erasure phrasings, the web chat's phone step, the notice of a
dose recorded elsewhere, `/xemdulieu` showing everything held."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from bot.app import Service
from bot.i18n import TIMEZONE
from bot.vn.intents import Intent, match_intent
from storage import jobs
from storage.models import (
    Booking,
    Child,
    ChildDose,
    Job,
    Person,
    Reaction,
    Sample,
    SampleMember,
    Ticket,
    Vaccination,
)
from tests.conftest import Clock
from tests.registration_fixtures import (
    ANSWERS_SELF,
    SITE,
    add_sites,
    book_first,
    fill_person,
    give_first_dose,
)
from tests.test_scheduler import news, scheduler
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
    await citizen.say(ANSWERS_SELF["name"])
    await citizen.say("có")  # the name without diacritics is kept
    await citizen.say(ANSWERS_SELF["dob"])
    asked = await citizen.say(ANSWERS_SELF["id"])
    assert asked[-1].endswith(
        "Số điện thoại di động của bạn là gì? Bạn gõ số, ví dụ 0912 345 678."
    )
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
    async with svc.db.read_scope() as session:
        left = await session.scalars(
            select(Job.kind).where(
                Job.group_key == f"booking:{booking.id}", Job.status == jobs.PENDING
            )
        )
        assert list(left) == []  # the cancelled appointment's reminders are withdrawn


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
    assert "sức khỏe về Nguyen Van An" in answer[-1]  # dose 2's booking: screening first


# ---------------------------------------------------------------- /xemdulieu


async def test_view_data_shows_everything_held_masked_and_as_stored(
    svc: Service, clock: Clock
) -> None:
    citizen = await booked_citizen(svc, clock)
    clock.set(datetime.combine(MONDAY + timedelta(days=1), time(8, 30), TIMEZONE))
    await give_first_dose(svc, clock(), MONDAY + timedelta(days=1), SITE, with_booking=True)
    clock.set(datetime.combine(MONDAY + timedelta(days=2), time(10), TIMEZONE))
    await scheduler(svc, clock).tick()  # the day-1 check-in
    await news(citizen)
    await citizen.press("Bình thường, khỏe")
    now = clock()
    async with svc.db.session_scope() as session:
        person = await session.scalar(select(Person))
        assert person is not None and person.account_id is not None
        sample = Sample(tube_code="HCM-T-0042", site_id=SITE, taken_at=now, result="negative",
                        tested_at=now, lab="Pasteur")  # fmt: skip
        session.add(sample)
        await session.flush()
        session.add(SampleMember(sample_id=sample.id, person_id=person.id, token_id="tok-42"))
        child = Child(account_id=person.account_id, full_name="Nguyen Thi Be",
                      birth_date=date(2026, 1, 5), gender="female", ward_code=26743)  # fmt: skip
        session.add(child)
        await session.flush()
        session.add(ChildDose(child_id=child.id, vaccine="bcg", dose_number=1,
                              given_on=date(2026, 1, 6)))  # fmt: skip
        session.add(
            Reaction(account_id=person.account_id, person_id=person.id, site_id=SITE,
                     product="astrazeneca", symptoms=["fever"], started="today",
                     severity="moderate", reported_at=now)
        )  # fmt: skip
        session.add(
            Ticket(account_id=person.account_id, reason="help", opened_at=now,
                   desk_channel="web", desk_chat_id="desk")
        )  # fmt: skip
    (shown,) = await citizen.say("/xemdulieu")
    async with svc.db.read_scope() as session:
        booking = await session.scalar(select(Booking))
        dose = await session.scalar(select(Vaccination))
    assert booking is not None and dose is not None
    assert "• Số điện thoại: +84 91* *** 678 (khai khi đăng ký)" in shown
    assert "chưa có" not in shown.split("Những người đã đăng ký tiêm:")[0]
    assert "Nguyen Van An, sinh ngày 02/01/1990, nam, số định danh 0790******45" in shown
    assert "số điện thoại +84 91* *** 678, Phường Bến Thành, Thành phố Hồ Chí Minh" in shown
    assert f"Lịch hẹn {booking.code}: mũi 1, Trạm Y tế phường Bến Thành" in shown
    assert ", đã đến tiêm" in shown
    assert shown.count("Sàng lọc: ") == len(booking.screening) > 0
    assert "Mũi 1: AstraZeneca (Vaxzevria), lô AZ1, Thứ Ba, 08/12/2026, Trạm Y tế" in shown
    assert "Ống mẫu HCM-T-0042, lấy mẫu " in shown and ": âm tính" in shown
    assert "Hỏi thăm một ngày sau mũi 1: bình thường" in shown
    assert "Trẻ em đã đăng ký:" in shown
    assert "Nguyen Thi Be, sinh ngày 05/01/2026, số định danh chưa có" in shown
    assert "BCG" in shown or "Lao" in shown
    assert "Phản ứng sau tiêm đã báo:" in shown and ": vừa (AstraZeneca (Vaxzevria))" in shown
    assert "• Hỏi thăm sau tiêm: đang bật (gõ /tathoitham để tắt)" in shown
    assert "Yêu cầu hỗ trợ:\n• Yêu cầu #" in shown and ": đang mở" in shown
    for secret in ("079090012345", "0912345678", "912345678"):
        assert secret not in shown.replace(" ", "")


async def test_the_goodbye_tells_the_web_page_to_forget(svc: Service) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    await citizen.say("xóa hết dữ liệu")
    (goodbye,) = await citizen.press("Xóa dữ liệu")
    assert goodbye.startswith("Toàn bộ dữ liệu của bạn đã được xóa.")
    assert citizen.last[-1].get("forget") is True
    await citizen.say("/help")
    assert not any(body.get("forget") for body in citizen.last)  # that one message only
