"""The registration's shortcuts (issue 16 item 3): typed answers wherever a list is offered,
the same site for the next dose, and a menu entry mid-form that asks before dropping it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import Service
from storage.models import Booking, Person
from tests.clock import Clock
from tests.registration_fixtures import (
    add_sites,
    book_first,
    fill_person,
    give_first_dose,
    step_of,
)
from tests.webchat import Citizen


@pytest.fixture
async def citizen(svc: Service, clock: Clock) -> Citizen:
    await add_sites(svc.db, clock())  # Fri 4/12 to Sun 6/12, 08:00 and 09:00, two sites
    person = Citizen(svc)
    await person.consent()
    return person


async def test_site_day_and_time_typed_without_diacritics(citizen: Citizen) -> None:
    await fill_person(citizen)
    texts = await citizen.say("ben thanh")
    assert "ngày nào" in texts[-1] and await step_of(citizen) == "day"
    texts = await citizen.say("5/12")
    assert "Thứ Bảy, 05/12/2026" in texts[-1] and await step_of(citizen) == "slot"
    texts = await citizen.say("9h")
    assert "09:00–10:00" in texts[-1] and citizen.buttons() == ["Xác nhận", "Sửa"]
    done = await citizen.press("Xác nhận")
    assert "Trạm Y tế phường Bến Thành" in done[0] and "05/12/2026, 09:00–10:00" in done[0]


async def test_a_weekday_or_tomorrow_morning_typed_at_the_day_question(citizen: Citizen) -> None:
    await fill_person(citizen)
    await citizen.say("sai gon")  # the other site, by its name
    texts = await citizen.say("sáng mai")  # tomorrow morning: the day and the time at once
    assert "Thứ Sáu, 04/12/2026, 08:00–09:00" in texts[-1]
    assert citizen.buttons() == ["Xác nhận", "Sửa"]
    await citizen.press("Sửa")
    await citizen.press("Ngày giờ tiêm")
    texts = await citizen.say("chu nhat")
    assert "Chủ Nhật, 06/12/2026" in texts[-1] and await step_of(citizen) == "slot"


async def test_a_typed_answer_that_fits_no_offer_is_refused_kindly(citizen: Citizen) -> None:
    await fill_person(citizen)
    texts = await citizen.say("cho ray")  # no such site offered
    assert len(texts) == 1 and "gõ tên điểm tiêm" in texts[0]
    assert "Trạm Y tế phường Bến Thành" in citizen.buttons()  # the list with the answer
    await citizen.say("ben thanh")
    texts = await citizen.say("24/12")  # not offered
    assert "ngày/tháng" in texts[0] and await step_of(citizen) == "day"
    await citizen.say("thu 6")
    texts = await citizen.say("15h")  # no slot in the afternoon
    assert "8h" in texts[0] and await step_of(citizen) == "slot"


async def test_the_next_dose_is_offered_at_the_same_site_first(
    citizen: Citizen, svc: Service, clock: Clock
) -> None:
    await fill_person(citizen)
    await book_first(citizen)
    given = clock().date() - timedelta(days=90)
    await give_first_dose(svc, clock(), given, "SG-01")
    await citizen.say("/dangky")
    await citizen.press("Nguyen Van An")
    texts = await citizen.say("khong")
    assert "Trung tâm Y tế Sài Gòn, nơi đã tiêm mũi 1" in texts[-1]
    assert await step_of(citizen) == "day" and citizen.buttons()[-1] == "Điểm tiêm khác"
    await citizen.press("Điểm tiêm khác")
    assert await step_of(citizen) == "site"
    assert citizen.buttons()[0] == "Trạm Y tế phường Bến Thành"


async def test_a_menu_command_mid_form_asks_before_dropping_it(citizen: Citizen) -> None:
    await citizen.say("/dangky")
    await citizen.press("Bản thân tôi")
    await citizen.say("Nguyễn Văn An")
    texts = await citizen.say("/lichhen")
    assert "chưa đăng ký xong" in texts[0] and "Lịch hẹn của tôi" in texts[0]
    assert citizen.buttons() == ["Tiếp tục đăng ký", "Bỏ đăng ký"]
    texts = await citizen.press("Tiếp tục đăng ký")
    assert "Ngày sinh của Nguyễn Văn An" in texts[-1]  # the name is kept
    await citizen.say("2/1/90")
    await citizen.say("/lichhen")
    texts = await citizen.press("Bỏ đăng ký")
    assert "chưa đăng ký cho ai" in texts[0]
    _account, state, _events = await citizen.state()
    assert state is not None and state.flow is None


async def test_screening_item_by_item_is_still_stored_answer_by_answer(
    citizen: Citizen, svc: Service
) -> None:
    await fill_person(citizen)  # "none of these apply": every question answered "no"
    await book_first(citizen)
    async with svc.db.read_scope() as session:
        booking = await session.scalar(select(Booking))
        people = await session.scalar(select(func.count()).select_from(Person))
    assert booking is not None and people == 1
    assert len(booking.screening) == 8 and set(booking.screening.values()) == {"no"}
    assert not booking.needs_screening


async def test_back_goes_past_what_the_form_filled_in_by_itself(citizen: Citizen) -> None:
    await citizen.say("/dangky")
    await citizen.press("Bản thân tôi")
    for text in ("Nguyễn Văn An", "2/1/90", "079 090 012 345"):
        await citizen.say(text)
    for _ in range(3):
        await citizen.say("abc")  # not a phone number
    texts = await citizen.press("Quay lại")  # the gender was read, not asked: the ID again
    assert "định danh" in texts[-1] and await step_of(citizen) == "id"


async def test_what_the_form_filled_in_is_asked_when_changed(
    citizen: Citizen, svc: Service, clock: Clock
) -> None:
    await fill_person(citizen)
    await book_first(citizen)
    await fill_person(
        citizen, "Người thân", name="Tran Thi Binh", dob="15/3/1958", id="079158000123"
    )
    while await step_of(citizen) in ("site", "day", "slot"):
        await citizen.press(citizen.buttons()[0])
    assert "Phường Bến Thành" in (await citizen.last_texts())[-1]  # the holder's address
    await citizen.press("Sửa")
    await citizen.press("Tỉnh và phường/xã")
    assert await step_of(citizen) == "province"  # asked now, not the holder's again
    await citizen.say("tphcm")
    await citizen.say("sai gon")
    assert await step_of(citizen) == "site"
    await citizen.press(citizen.buttons()[0])
    await book_first(citizen)
    given = clock().date() - timedelta(days=90)
    await give_first_dose(svc, clock(), given, "SG-01", name="Tran Thi Binh")
    await citizen.say("/dangky")
    await citizen.press("Tran Thi Binh")
    await citizen.say("khong")
    assert await step_of(citizen) == "day"  # the site of dose 1
    while await step_of(citizen) in ("day", "slot"):
        await citizen.press(citizen.buttons()[0])
    await citizen.press("Sửa")
    await citizen.press("Điểm tiêm")
    assert await step_of(citizen) == "site"  # a change: the list, not the same site again


async def test_typed_answers_at_the_who_change_and_ward_questions(
    citizen: Citizen, svc: Service, clock: Clock
) -> None:
    await citizen.say("/dangky")
    await citizen.press("Bản thân tôi")
    for text in ("Nguyễn Văn An", "2/1/90", "079 090 012 345", "0912 345 678", "Sài Gòn"):
        await citizen.say(text)
    texts = await citizen.say("pham ngu lao")  # an old ward name: "Is this the ward?"
    assert "Có phải phường/xã này không?" in texts[-1]
    texts = await citizen.say("có")
    assert "Phạm Ngũ Lão" in texts[0] and await step_of(citizen) == "group"
    await citizen.say("5")
    await citizen.say("khong")
    await book_first(citizen)
    await give_first_dose(
        svc, clock(), clock().date() - timedelta(days=90), "BT-01", name="Nguyễn Văn An"
    )
    await citizen.say("/dangky")
    await citizen.say("an")  # the registered person's name typed
    assert await step_of(citizen) == "screen"
    await citizen.say("khong")
    await citizen.press(citizen.buttons()[0])
    await citizen.press(citizen.buttons()[0])
    await citizen.press("Sửa")
    await citizen.say("ngay gio tiem")  # a field's name typed
    assert await step_of(citizen) == "day"
