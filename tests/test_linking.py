"""One citizen on Telegram and Zalo: linking the chats by a code sent to the one on record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import Service
from bot.config import Settings
from bot.domain import broadcast_batches as broadcasts
from bot.handlers.phone_number import PHONE_INDEX
from bot.vn.phone import normalize_phone
from storage.broadcasts import Audience
from storage.models import Account, Person
from tests.chat import consent as telegram_consent
from tests.chat import say as telegram_say
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.fakes.zalo_api import ZaloEmulator
from tests.quiet import quiet
from tests.test_certificates import register
from tests.test_pcr_citizen import sample_and_result
from tests.test_zalo_e2e import USER, consent, say, serving, settle

CHAT = 5151
PHONE = "0903111222"  # not the demo citizen's


@pytest.fixture
async def service(
    zalo_settings: Settings, telegram_settings: Settings, clock: Clock, zemu: ZaloEmulator
) -> AsyncIterator[Service]:
    both = replace(
        zalo_settings,
        telegram_bot_token=telegram_settings.telegram_bot_token,
        telegram_api_base_url=telegram_settings.telegram_api_base_url,
    )
    async with serving(both, clock, zemu) as svc:
        yield svc


async def telegram_citizen(service: Service, emulator: TelegramEmulator) -> int:
    """A citizen registered on Telegram with their phone number on record; their person's id."""
    await telegram_consent(emulator, CHAT)
    person = await register(service, CHAT, "Phạm Văn Đồng")
    async with service.db.session_scope() as session:
        account = await session.scalar(select(Account).where(Account.chat_id == str(CHAT)))
        assert account is not None
        phone = normalize_phone(PHONE)
        assert phone is not None
        account.phone_sealed = service.protector.seal(phone)  # as /sodienthoai stores it
        account.phone_index = service.protector.blind_index(PHONE_INDEX, phone)
    return person


async def code_sent(emulator: TelegramEmulator, before: int) -> str:
    (message,) = (await emulator.wait_for_sent(CHAT, before + 1))[before:]
    assert message["text"].startswith("Mã liên kết cuộc trò chuyện Zalo với cuộc trò chuyện này:")
    return message["text"].split(": ")[1][:6]


async def test_a_zalo_chat_linked_to_telegram_shares_the_records(
    service: Service, emulator: TelegramEmulator, zemu: ZaloEmulator, clock: Clock
) -> None:
    person_id = await telegram_citizen(service, emulator)
    await consent(service, zemu)
    (ask,) = await say(service, zemu, "/lienket")  # a "share your number" card with the question
    assert ask["kind"] == "request_user_info"
    assert ask["elements"][0]["subtitle"].startswith("Bạn có thể dùng dịch vụ trên Telegram, Zalo")
    before = len(emulator.sent(CHAT))
    (sent,) = await say(service, zemu, "0903 111 222")
    assert sent["text"].startswith("Nếu số này đã được lưu ở cuộc trò chuyện kia")
    code = await code_sent(emulator, before)
    wrong = "000000" if code != "000000" else "111111"
    (again,) = await say(service, zemu, wrong)
    assert again["text"] == "Mã chưa đúng. Bạn vui lòng kiểm tra và nhập lại 6 chữ số."
    (done,) = await say(service, zemu, code)
    assert done["text"].startswith(
        "Xong: cuộc trò chuyện này đã được liên kết với cuộc trò chuyện Telegram"
    )
    (certificates,) = await say(service, zemu, "kq")  # the Telegram person's results, from Zalo
    assert "Phạm Văn Đồng" in certificates["text"]

    async with service.db.read_scope() as session:
        person = await session.get(Person, person_id)
    assert person is not None
    telegram_before = len(emulator.sent(CHAT))
    zalo_before = len(zemu.sent(USER))
    await sample_and_result(service, clock, [person], "HCM-000901", "negative")
    service.sender.wake()
    sampled, *_result = await settle(service, zemu, zalo_before)  # Zalo was used last
    assert sampled["text"].startswith("Đã lấy mẫu xét nghiệm cho Phạm Văn Đồng")
    assert len(emulator.sent(CHAT)) == telegram_before

    await telegram_say(emulator, CHAT, "menu")  # Telegram is used last now
    telegram_before = len(emulator.sent(CHAT))
    await sample_and_result(service, clock, [person], "HCM-000902", "negative")
    service.sender.wake()
    sampled, *_result = (await emulator.wait_for_sent(CHAT, telegram_before + 1))[telegram_before:]
    assert "HCM-000902" in sampled["text"]

    (status,) = await say(service, zemu, "/lienket")
    assert status["text"].startswith("Cuộc trò chuyện này đã được liên kết: Telegram, Zalo")
    (pinned,) = await say(service, zemu, "Luôn gửi tin về đây")
    assert pinned["text"] == "Từ giờ, tin nhắn sẽ gửi về cuộc trò chuyện này."
    await telegram_say(emulator, CHAT, "menu")
    zalo_before = len(zemu.sent(USER))
    await sample_and_result(service, clock, [person], "HCM-000903", None)
    service.sender.wake()
    # Pinned here, whatever was used last.
    sampled, *_result = await settle(service, zemu, zalo_before)
    assert "HCM-000903" in sampled["text"]


async def test_an_unknown_number_gets_the_same_answer_and_no_code_links(
    service: Service, emulator: TelegramEmulator, zemu: ZaloEmulator
) -> None:
    await telegram_citizen(service, emulator)
    await consent(service, zemu)
    await say(service, zemu, "/lienket")
    (sent,) = await say(service, zemu, "0987 654 321")  # not on record anywhere
    assert sent["text"].startswith("Nếu số này đã được lưu ở cuộc trò chuyện kia")
    await quiet(service, zemu, emulator)
    assert not any(m["text"].startswith("Mã liên kết") for m in emulator.sent(CHAT))
    for _ in range(4):
        (again,) = await say(service, zemu, "123456")
        assert again["text"].startswith("Mã chưa đúng.")
    (last,) = await say(service, zemu, "123456")
    assert last["text"].startswith("Mã chưa đúng, và đây là lần thử cuối cùng.")
    async with service.db.read_scope() as session:
        account = await session.scalar(select(Account).where(Account.chat_id == USER))
    assert account is not None and account.holder_id is None


async def test_an_old_code_no_longer_links(
    service: Service, emulator: TelegramEmulator, zemu: ZaloEmulator, clock: Clock
) -> None:
    await telegram_citizen(service, emulator)
    await consent(service, zemu)
    await say(service, zemu, "/lienket")
    before = len(emulator.sent(CHAT))
    await say(service, zemu, PHONE)
    code = await code_sent(emulator, before)

    clock.advance(timedelta(minutes=11))
    (expired,) = await say(service, zemu, code)
    assert expired["text"] == "Mã đã hết hạn. Bạn gõ /lienket để nhận mã mới nhé."


async def link_zalo(service: Service, emulator: TelegramEmulator, zemu: ZaloEmulator) -> None:
    await consent(service, zemu)
    await say(service, zemu, "/lienket")
    before = len(emulator.sent(CHAT))
    await say(service, zemu, PHONE)
    (done,) = await say(service, zemu, await code_sent(emulator, before))
    assert done["text"].startswith("Xong:")


async def test_erasing_from_a_linked_chat_erases_the_citizen_everywhere(
    service: Service, emulator: TelegramEmulator, zemu: ZaloEmulator
) -> None:
    person_id = await telegram_citizen(service, emulator)
    await link_zalo(service, emulator, zemu)
    await say(service, zemu, "/xoadulieu")
    (gone,) = await say(service, zemu, "có")
    assert gone["text"].startswith("Toàn bộ dữ liệu của bạn đã được xóa")
    async with service.db.read_scope() as session:
        left = (
            await session.scalars(select(Account.channel).where(Account.channel != "web"))
        ).all()
        person = await session.get(Person, person_id)
    assert left == [] and (person is None or person.account_id is None)


async def test_a_blocked_linked_chat_sends_messages_back_to_the_holder(
    service: Service, emulator: TelegramEmulator, zemu: ZaloEmulator, clock: Clock
) -> None:
    person_id = await telegram_citizen(service, emulator)
    await link_zalo(service, emulator, zemu)
    zemu.followers.discard(USER)  # the citizen left the OA: -213 on the next send
    async with service.db.read_scope() as session:
        person = await session.get(Person, person_id)
    assert person is not None
    before = len(emulator.sent(CHAT))
    await sample_and_result(service, clock, [person], "HCM-000911", "negative")
    service.sender.wake()
    await quiet(service, zemu, emulator)  # the first notice meets -213 and is recorded
    await sample_and_result(service, clock, [person], "HCM-000912", "negative")
    service.sender.wake()
    later = (await emulator.wait_for_sent(CHAT, before + 1))[before:]
    assert any("HCM-000912" in m["text"] for m in later)


async def test_consent_withdrawn_in_a_linked_chat_stops_messages_to_the_citizen(
    service: Service, emulator: TelegramEmulator, zemu: ZaloEmulator, clock: Clock
) -> None:
    person_id = await telegram_citizen(service, emulator)
    await link_zalo(service, emulator, zemu)
    await say(service, zemu, "/rutdongy")
    (withdrawn,) = await say(service, zemu, "có")
    assert withdrawn["text"].startswith("Đã ghi nhận bạn rút lại sự đồng ý")
    async with service.db.read_scope() as session:
        consents = (
            await session.scalars(select(Account.consent_version).where(Account.channel != "web"))
        ).all()
        person = await session.get(Person, person_id)
    assert consents == [None, None] and person is not None
    zalo_before, telegram_before = len(zemu.sent(USER)), len(emulator.sent(CHAT))
    await sample_and_result(service, clock, [person], "HCM-000921", "negative")
    service.sender.wake()
    await quiet(service, zemu, emulator)
    assert len(zemu.sent(USER)) == zalo_before and len(emulator.sent(CHAT)) == telegram_before


async def test_announcements_follow_the_citizen_and_opting_out_anywhere_counts(
    service: Service, emulator: TelegramEmulator, zemu: ZaloEmulator
) -> None:
    await telegram_citizen(service, emulator)  # a person in Bến Thành
    await link_zalo(service, emulator, zemu)

    async def announce(text: str) -> None:
        async with service.db.session_scope() as session:
            draft = broadcasts.Draft(
                text=text, audience=Audience((26743,)), send_at=service.clock(), staff_chat=None
            )
            await broadcasts.create(session, draft, actor="test", now=service.clock())
        service.sender.wake()

    before = len(zemu.sent(USER))
    await announce("Tiêm mũi nhắc lại từ thứ Hai.")
    (got,) = await settle(service, zemu, before)  # Zalo was used last
    assert "Tiêm mũi nhắc lại từ thứ Hai." in got["text"]
    await say(service, zemu, "/tatthongbao")
    telegram_before, zalo_before = len(emulator.sent(CHAT)), len(zemu.sent(USER))
    await announce("Họp tổ dân phố.")
    await quiet(service, zemu, emulator)  # its first step queues every recipient's message
    assert len(emulator.sent(CHAT)) == telegram_before and len(zemu.sent(USER)) == zalo_before


async def test_codes_are_limited_per_chat_and_per_number(
    service: Service, emulator: TelegramEmulator, zemu: ZaloEmulator
) -> None:
    await telegram_citizen(service, emulator)
    await consent(service, zemu)
    for _ in range(3):
        await say(service, zemu, "/lienket")
        (sent,) = await say(service, zemu, PHONE)
        assert sent["text"].startswith("Nếu số này đã được lưu")
        await say(service, zemu, "/huy")
    await say(service, zemu, "/lienket")
    (refused,) = await say(service, zemu, PHONE)
    assert refused["text"].startswith("Hôm nay đã có nhiều yêu cầu mã")
    codes = [m for m in emulator.sent(CHAT) if m["text"].startswith("Mã liên kết")]
    assert len(codes) == 3
