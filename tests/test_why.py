"""“Why?” answered from the person's own record, with the next step (issue 16.7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import Service
from storage import certificates
from storage.models import Account, Certificate, Person, Sample, SampleMember
from tests.chat import consent, labels, say
from tests.clock import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.registration_fixtures import SITE, add_sites, book_first, fill_person, give_first_dose
from tests.webchat import Citizen

NAME = "Nguyen Van An"


@pytest.fixture
async def booked(svc: Service, clock: Clock) -> Citizen:
    """A citizen registered and booked for tomorrow at Bến Thành."""
    await add_sites(svc.db, clock())
    citizen = Citizen(svc)
    await citizen.consent()
    await fill_person(citizen)
    await book_first(citizen)
    return citizen


async def test_nobody_registered_is_said_plainly(svc: Service) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    (answer,) = await citizen.say("sao chưa có giấy chứng nhận")
    assert answer.startswith("Tài khoản này chưa đăng ký cho ai")


async def test_certificate_why_follows_the_record(
    booked: Citizen, svc: Service, clock: Clock
) -> None:
    (answer,) = await booked.say("sao chưa có giấy chứng nhận")
    assert answer.startswith(f"{NAME}: chưa có mũi tiêm nào được ghi nhận, nên chưa có giấy")
    clock.advance(timedelta(days=2))  # the appointment passed; the site recorded nothing yet
    (answer,) = await booked.say("sao chua co gcn")
    assert answer.startswith(f"{NAME}: lịch hẹn ")
    assert "chưa có mũi tiêm nào được ghi nhận: điểm tiêm chưa cập nhật" in answer
    assert booked.buttons() == ["Giấy chứng nhận", "Báo thông tin mũi tiêm bị sai", "Hỗ trợ"]
    await give_first_dose(svc, clock(), clock().date(), SITE, with_booking=True)
    async with svc.db.session_scope() as session:
        (cert,) = (await session.scalars(select(Certificate))).all()
        await certificates.mark_rendered(session, cert.id, b"png")
    (answer,) = await booked.say("Sao chưa có giấy chứng nhận?")
    assert answer.startswith(f"{NAME}: giấy chứng nhận đã được cấp vào ")
    assert "gửi tới cuộc trò chuyện trang trò chuyện trên web của bạn" in answer
    # The next step: a wrong record is reported from the same answer.
    (question,) = await booked.press("Báo thông tin mũi tiêm bị sai")
    assert question == "Mũi tiêm nào bị ghi sai?"


async def _tubes(svc: Service, clock: Clock) -> None:
    """Three earlier tubes at the site (results after 5, 6 and 7 hours), one pending."""
    now = clock()
    async with svc.db.session_scope() as session:
        person = await session.scalar(select(Person).where(Person.full_name == NAME))
        assert person is not None
        for number, hours in enumerate((5, 6, 7, None), start=1):
            taken = now - timedelta(days=10 - number) if hours else now - timedelta(hours=2)
            sample = Sample(
                tube_code=f"T-{number}", site_id=SITE, taken_at=taken, pooled=False,
                result="negative" if hours else None,
                tested_at=taken + timedelta(hours=hours) if hours else None,
                lab="Lab" if hours else None, result_version=1 if hours else 0,
            )  # fmt: skip
            session.add(sample)
            await session.flush()
            session.add(
                SampleMember(sample_id=sample.id, person_id=person.id, token_id=f"k{number}")
            )


async def test_results_why_tells_the_tube_the_usual_wait_and_what_next(
    booked: Citizen, svc: Service, clock: Clock
) -> None:
    (answer,) = await booked.say("tại sao chưa có kết quả")
    assert answer.startswith(f"{NAME}: chưa có mẫu xét nghiệm nào được ghi nhận")
    await _tubes(svc, clock)
    (answer,) = await booked.say("tại sao chưa có kết quả")
    assert answer.startswith(f"{NAME}: ống T-4 được lấy mẫu vào ")
    assert "thường mất khoảng 6 giờ, và đã 2 giờ trôi qua" in answer
    assert "Lâu hơn bình thường" not in answer
    assert booked.buttons() == ["Kết quả xét nghiệm", "Tra cứu kết quả", "Hỗ trợ"]
    clock.advance(timedelta(hours=12))
    (answer,) = await booked.say("sao lâu có kết quả thế")
    assert "đã 14 giờ trôi qua" in answer and "Lâu hơn bình thường" in answer


async def test_reminders_why_says_when_and_where_and_what_is_off(
    booked: Citizen, svc: Service, clock: Clock
) -> None:
    (answer,) = await booked.say("sao không nhận được nhắc lịch")
    assert answer.startswith(f"{NAME}: lịch hẹn ")
    assert "tại Trạm Y tế phường Bến Thành. Nhắc lịch được gửi tối hôm trước (18:00)" in answer
    assert "Thông báo của phường/xã" not in answer
    async with svc.db.session_scope() as session:
        account = await session.scalar(select(Account).where(Account.chat_id == booked.chat_id))
        assert account is not None
        account.announcements_off_at = clock()
    (answer,) = await booked.say("sao ko thay nhac lich")
    assert "Thông báo của phường/xã đã tắt từ " in answer and "/batthongbao" in answer
    clock.advance(timedelta(days=5))
    (answer,) = await booked.say("sao ko thay nhac lich")
    assert answer.startswith(f"{NAME}: chưa có lịch hẹn nào, nên chưa có gì để nhắc.")


async def test_dose_why_lists_the_record(booked: Citizen, svc: Service, clock: Clock) -> None:
    clock.advance(timedelta(days=2))
    await give_first_dose(svc, clock(), clock().date(), SITE, with_booking=True)
    (answer,) = await booked.say("sao chưa ghi nhận mũi 2")
    assert answer.startswith(f"{NAME}: Mũi 1 · AstraZeneca")
    assert answer.endswith("· Trạm Y tế phường Bến Thành")
    assert booked.buttons() == ["Báo thông tin mũi tiêm bị sai", "Hỗ trợ"]


async def test_over_telegram(service: Service, emulator: TelegramEmulator) -> None:
    chat = 6161
    await consent(emulator, chat)
    answer = await say(emulator, chat, "sao chua co ket qua")
    assert answer["text"].startswith("Tài khoản này chưa đăng ký cho ai")
    assert "Đăng ký tiêm" in labels(answer)
