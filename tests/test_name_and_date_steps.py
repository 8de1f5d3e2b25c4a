"""The registration's name and birth-date steps (issue 16.4): names stored in title case, a name
without diacritics confirmed once (it goes onto the certificate), dates typed in words."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import Service
from storage.models import Person
from tests.clock import Clock
from tests.registration_fixtures import add_sites, answer_screening, book_first
from tests.webchat import Citizen

ASKED = "“Nguyen Thi Lan” đang viết không dấu"


@pytest.fixture
async def at_name(svc: Service, clock: Clock) -> Citizen:
    await add_sites(svc.db, clock())
    citizen = Citizen(svc)
    await citizen.consent()
    await citizen.say("dang ky tiem")
    await citizen.press("Bản thân tôi")
    return citizen


async def test_typed_with_diacritics_in_capitals_is_title_cased_and_not_asked(
    at_name: Citizen,
) -> None:
    (question,) = await at_name.say("NGUYỄN THỊ LAN")
    assert question.startswith("Ngày sinh của Nguyễn Thị Lan?")


async def test_without_diacritics_asked_once_then_typed_with_them(at_name: Citizen) -> None:
    (confirm,) = await at_name.say("nguyen thi lan")
    assert confirm.startswith(ASKED) and "in trên giấy chứng nhận" in confirm
    (question,) = await at_name.say("Nguyễn Thị Lan")
    assert question.startswith("Ngày sinh của Nguyễn Thị Lan?")


async def test_without_diacritics_kept_when_typed_the_same_again(at_name: Citizen) -> None:
    await at_name.say("nguyen thi lan")
    (question,) = await at_name.say("NGUYEN THI LAN")
    assert question.startswith("Ngày sinh của Nguyen Thi Lan?")


async def test_retype_button_asks_again_and_another_plain_name_is_asked_about(
    at_name: Citizen,
) -> None:
    await at_name.say("nguyen thi lan")
    (again,) = await at_name.press("Gõ lại có dấu")
    assert again == "Bạn vui lòng gõ lại họ tên có dấu, ví dụ: Nguyễn Thị Lan"
    (confirm,) = await at_name.say("tran van binh")
    assert confirm.startswith("“Tran Van Binh” đang viết không dấu")
    assert at_name.buttons() == ["Giữ “Tran Van Binh”", "Gõ lại có dấu"]


async def test_the_stored_name_and_a_birth_date_in_words(at_name: Citizen, svc: Service) -> None:
    await at_name.say("nguyễn thị lan")
    (confirmed,) = await at_name.say("mùng 2 tháng 9 năm 1958")
    assert confirmed.startswith("Ngày sinh: Thứ Ba, 02/09/1958.\n")  # then the next question
    for text in ("079 158 012 345", "0912 345 678", "tphcm", "ben thanh", "5"):
        await at_name.say(text)
    await answer_screening(at_name)
    await book_first(at_name)
    async with svc.db.read_scope() as session:
        names = (await session.scalars(select(Person.full_name))).all()
    assert names == ["Nguyễn Thị Lan"]
