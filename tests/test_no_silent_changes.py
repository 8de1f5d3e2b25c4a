"""No silent changes (issue 16.6): erasure phrasings, the web chat's phone step, the notice of a
dose recorded elsewhere, `/xemdulieu` showing everything held."""

from __future__ import annotations

import pytest

from bot.app import Service
from bot.vn.intents import Intent, match_intent
from tests.conftest import Clock
from tests.registration_fixtures import ANSWERS_SELF, add_sites
from tests.webchat import Citizen

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
