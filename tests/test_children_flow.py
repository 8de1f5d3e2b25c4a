"""Parents register children from the chat: over the Telegram and Zalo emulators, the web chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import select

from bot.app import Service, build_service, running
from bot.config import Settings
from bot.domain.immunisation import site_doses
from storage.models import Account, Child, ChildDose, Person, Site
from tests.chat import consent, labels, press_all, say_all
from tests.clock import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.fakes.zalo_api import ZaloEmulator
from tests.test_zalo_e2e import USER as ZALO_USER
from tests.test_zalo_e2e import choice_text, choices, serving, titles
from tests.test_zalo_e2e import consent as zalo_consent
from tests.test_zalo_e2e import press as zalo_press
from tests.test_zalo_e2e import say as zalo_say
from tests.webchat import Citizen

CHAT = 4343


@pytest.fixture
async def service(telegram_settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    settings = replace(telegram_settings, chat_rate_per_s=100.0, chat_burst=100)
    svc = build_service(settings, clock=clock)
    async with running(svc):
        yield svc


async def test_a_parent_adds_a_child_with_an_id_and_past_doses_over_telegram(
    service: Service, emulator: TelegramEmulator
) -> None:
    await consent(emulator, CHAT)
    replies = await say_all(service, emulator, CHAT, "Thêm con")
    assert "Họ tên đầy đủ của bé" in replies[-1]["text"]
    (refused,) = await say_all(service, emulator, CHAT, "Lê Minh 😀")
    assert "chỉ gồm chữ cái" in refused["text"] or "chữ" in refused["text"]
    (too_long,) = await say_all(service, emulator, CHAT, "a" * 5000)
    assert "dài" in too_long["text"]
    (dob,) = await say_all(service, emulator, CHAT, "Lê Minh An")
    assert "Ngày sinh của Lê Minh An" in dob["text"]
    (future,) = await say_all(service, emulator, CHAT, "04/05/2027")
    assert "tương lai" in future["text"]
    confirmed, gender = await say_all(service, emulator, CHAT, "04/05/2026")
    assert "04/05/2026" in confirmed["text"] and labels(gender) == ["Nam", "Nữ"]
    (ask_id,) = await press_all(service, emulator, CHAT, gender, "Nữ")
    assert "12 số" in ask_id["text"] and labels(ask_id) == ["Chưa có số"]
    (short,) = await say_all(service, emulator, CHAT, "07932600012")
    assert "12" in short["text"] and "11" in short["text"]
    (wrong_sex,) = await say_all(service, emulator, CHAT, "079226000123")
    assert "Giới tính" in wrong_sex["text"]
    (ward,) = await say_all(service, emulator, CHAT, "079 326 000 123")
    assert "phường/xã" in ward["text"]
    registered, doses = await say_all(service, emulator, CHAT, "Bến Thành, TP HCM")
    assert "Lê Minh An" in registered["text"] and "Bến Thành" in registered["text"]
    assert "Lao (BCG), trong vòng 1 tháng sau sinh" in labels(doses)
    (when,) = await press_all(
        service, emulator, CHAT, doses, "Lao (BCG), trong vòng 1 tháng sau sinh"
    )
    (doses,) = await press_all(service, emulator, CHAT, when, "Không nhớ ngày")
    assert "Lao (BCG), trong vòng 1 tháng sau sinh" not in labels(doses)
    (when,) = await press_all(service, emulator, CHAT, doses, "5 trong 1 (DPT-VGB-Hib) mũi 1")
    (before_birth,) = await say_all(service, emulator, CHAT, "01/01/2026")
    assert "trước ngày sinh" in before_birth["text"]
    (doses,) = await say_all(service, emulator, CHAT, "04/07/2026")
    assert "5 trong 1 (DPT-VGB-Hib) mũi 2" in labels(doses)
    (done,) = await press_all(service, emulator, CHAT, doses, "Xong")
    assert "Với bé Lê Minh An" in done["text"] and "Cần tiêm ngay" in done["text"]
    async with service.db.read_scope() as session:
        child = await session.scalar(select(Child))
        stored = (await session.scalars(select(ChildDose).order_by(ChildDose.vaccine))).all()
    assert child is not None and child.gender == "female" and child.ward_code == 26743
    assert child.id_sealed is not None and b"079326000123" not in child.id_sealed
    assert [(d.vaccine, d.status, d.date_approximate) for d in stored] == [
        ("bcg", "reported", True),
        ("dtp", "reported", False),
    ]
    record, card = await say_all(service, emulator, CHAT, "sổ tiêm")
    assert "Lê Minh An (Thứ Hai, 04/05/2026)" in record["text"]
    assert card["method"] == "sendPhoto" and card["photo_bytes"][:8] == b"\x89PNG\r\n\x1a\n"
    assert "Sổ tiêm chủng của bé Lê Minh An" in card["caption"]
    assert labels(card) == ["Thêm con"]
    (same,) = (m for m in await say_all(service, emulator, CHAT, "/sotiem") if m["caption"])
    assert same["photo_bytes"] == card["photo_bytes"]  # the same day, the same card


async def test_a_newborn_without_an_id_over_the_web_chat(svc: Service) -> None:
    parent = Citizen(svc, "parent-1")
    await parent.consent()
    texts = await parent.say("dang ky cho con")
    assert any("Họ tên đầy đủ của bé" in t for t in texts)
    await parent.say("Trần Bảo Ngọc")
    texts = await parent.say("20/11/2026")
    texts = await parent.press("Nữ")
    assert any("Chưa có số" in t for t in texts)
    texts = await parent.press("Chưa có số")
    assert any("phường/xã" in t for t in texts)
    texts = await parent.say("không biết")
    assert any("chưa tìm thấy phường/xã" in t for t in texts)
    texts = await parent.say("Sài Gòn, Hồ Chí Minh")
    assert any("Đã đăng ký cho bé Trần Bảo Ngọc" in t for t in texts)
    texts = await parent.press("Chưa tiêm / Xong")
    assert any("Cần tiêm ngay" in t or "Mũi tiếp theo" in t for t in texts), texts
    async with svc.db.read_scope() as session:
        child = await session.scalar(select(Child))
    assert child is not None and child.id_sealed is None and child.id_index is None
    assert child.account_id is not None and child.ward_code == 26740


async def test_older_children_need_their_id_and_the_schedule_has_an_age_limit(
    svc: Service,
) -> None:
    parent = Citizen(svc, "parent-2")
    await parent.consent()
    await parent.say("/themcon")
    await parent.say("Phạm Gia Huy")
    texts = await parent.say("01/01/2000")
    assert any("dưới 16 tuổi" in t for t in texts)
    await parent.say("01/01/2022")
    texts = await parent.press("Nam")
    assert not any("Chưa có số" in t for t in texts)
    assert parent.last and not parent.last[-1].get("buttons")
    texts = await parent.say("079222000111")
    assert any("phường/xã" in t for t in texts)


async def test_a_registered_parent_s_ward_is_the_child_s_and_back_re_asks(svc: Service) -> None:
    parent = Citizen(svc, "parent-3")
    await parent.consent()
    async with svc.db.session_scope() as session:
        account = await session.scalar(select(Account).where(Account.chat_id == "parent-3"))
        assert account is not None
        person = Person(
            account_id=account.id,
            full_name="Lê Văn Bố",
            birth_date=date(1990, 1, 2),
            gender="male",
            id_sealed=b"x",
            id_index="parent-3",
            province_code=79,
            ward_code=26740,
            divisions_version="x",
            priority_group="",
            is_holder=True,
            created_at=svc.clock(),
        )
        session.add(person)
        await session.flush()
        parent_id = person.id
    await parent.say("Thêm con")
    for _ in range(3):
        texts = await parent.say("123")
    assert any(
        "Quay lại" in label for body in parent.last for row in body["buttons"] for label, _p in row
    )
    texts = await parent.press("Quay lại")
    assert any("Họ tên đầy đủ của bé" in t for t in texts)
    await parent.say("Lê Bé Ba")
    await parent.say("01/11/2026")
    await parent.press("Nam")
    texts = await parent.press("Chưa có số")
    assert any("Đã đăng ký cho bé Lê Bé Ba (Phường Sài Gòn)" in t for t in texts), texts
    async with svc.db.read_scope() as session:
        child = await session.scalar(select(Child))
    assert child is not None and child.parent_person_id == parent_id and child.ward_code == 26740
    texts = await parent.say("/huy")
    assert await parent.say("sổ tiêm")
    assert any("Lê Bé Ba" in t for t in await parent.last_texts())


async def test_an_id_number_held_elsewhere_gets_the_one_answer(svc: Service) -> None:
    first, second = Citizen(svc, "parent-a"), Citizen(svc, "parent-b")
    for parent in (first, second):
        await parent.consent()
        await parent.say("/themcon")
        await parent.say("Phạm Gia Huy")
        await parent.say("01/01/2022")
        await parent.press("Nam")
    await first.say("079222000111")
    await first.say("Sài Gòn, Hồ Chí Minh")
    texts = await second.say("079222000111")  # the same number, another account
    assert any("không thể đăng ký tại đây" in t for t in texts), texts
    assert not any("đã được đăng ký" in t or "Phạm Gia Huy" in t for t in texts)
    texts = await first.say("/themcon")  # the holder's own account is told plainly
    for text in ("Phạm Gia Huy", "01/01/2022"):
        await first.say(text)
    await first.press("Nam")
    texts = await first.say("079222000111")
    assert any("Phạm Gia Huy" in t and "đã được đăng ký" in t for t in texts), texts


async def test_a_parent_adds_a_child_and_gets_the_card_over_zalo(
    zalo_settings: Settings, clock: Clock, zemu: ZaloEmulator
) -> None:
    async with serving(zalo_settings, clock, zemu) as svc:
        await zalo_consent(svc, zemu)
        asked = await zalo_say(svc, zemu, "them con")  # typed without diacritics
        assert "Họ tên đầy đủ của bé" in asked[-1]["text"]
        await zalo_say(svc, zemu, "Đỗ Khánh Linh")
        _confirmed, gender = await zalo_say(svc, zemu, "15/10/2026")
        assert titles(gender) == ["Nam", "Nữ"]
        (ask_id,) = await zalo_press(svc, zemu, gender, "Nữ")
        assert choices(ask_id) == ["Chưa có số"]
        (ward,) = await zalo_say(svc, zemu, choice_text(ask_id, "Chưa có số"))
        assert "phường/xã" in ward["text"]
        _registered, doses = await zalo_say(svc, zemu, "Ben Thanh, TP HCM")
        assert "Lao (BCG), trong vòng 1 tháng sau sinh" in choices(doses)
        await zalo_say(svc, zemu, choice_text(doses, "Lao (BCG), trong vòng 1 tháng sau sinh"))
        (doses,) = await zalo_say(svc, zemu, "20/10/2026")
        (done,) = await zalo_say(svc, zemu, choice_text(doses, "Xong"))
        assert "Với bé Đỗ Khánh Linh" in done["text"]
        record, picture, caption = await zalo_say(svc, zemu, "so tiem")
        assert "Đỗ Khánh Linh" in record["text"]
        assert picture["kind"] == "media" and picture["text"] == ""
        assert zemu.uploaded[picture["attachment_id"]][:8] == b"\x89PNG\r\n\x1a\n"
        assert caption["text"].startswith("Sổ tiêm chủng của bé Đỗ Khánh Linh.")
        async with svc.db.session_scope() as session:  # a site gives the 2-month doses
            child = await session.scalar(select(Child))
            assert child is not None
            session.add(
                Site(
                    id="BT",
                    name="Trạm Y tế",
                    address="1 Lê Lợi",
                    province_code=79,
                    ward_code=26743,
                )
            )
            await session.flush()
            site = await session.get(Site, "BT")
            assert site is not None
            assert await site_doses.record_given(
                session,
                child,
                vaccine="dtp",
                number=1,
                given_on=date(2026, 12, 3),
                site=site,
                actor="test",
                staff_id=None,
                now=clock(),
                fit=svc.sender.fit,
            )
        svc.sender.wake()
        before = len(zemu.sent(ZALO_USER))
        new_picture, new_caption = (await zemu.wait_for_sent(ZALO_USER, before + 2))[before:]
        assert new_picture["kind"] == "media"
        first, updated = picture["attachment_id"], new_picture["attachment_id"]
        assert zemu.uploaded[updated] != zemu.uploaded[first]
        assert new_caption["text"].startswith(
            "Mũi tiêm của bé Đỗ Khánh Linh đã được ghi nhận tại Trạm Y tế."
        )
