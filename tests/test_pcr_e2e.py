"""PCR end to end over the Telegram emulator: QR -> pooled sample -> lab import -> push.

Two citizens (one writing in Vietnamese, one in English) get their QR in the chat; a sampler
scans a tube and both QRs in the chat (the QR's text is what a phone scanner would paste: the
test takes it from the token service, as decoding the PNG would need a QR reader); the lab's
CSV is imported twice; each citizen hears of the sample and of the result once, in their own
language.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.app import Service, build_service, running
from bot.config import Settings
from bot.domain import qr_tokens
from bot.handlers import sampling
from bot.i18n import TIMEZONE
from bot.imports import import_results
from storage import staff
from storage.models import Person
from tests.chat import consent, labels, press, press_all, say, say_all
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator

VI_CHAT, EN_CHAT, SAMPLER = 501, 502, 777


@pytest.fixture
async def service(telegram_settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    settings = replace(telegram_settings, chat_rate_per_s=100.0, chat_burst=100)
    svc = build_service(settings, clock=clock)
    async with running(svc):
        yield svc


async def qr_for_me(
    service: Service, emu: TelegramEmulator, chat: int, name: str, number: str
) -> None:
    (who,) = await say_all(service, emu, chat, "/maqr")
    replies = await press_all(service, emu, chat, who, labels(who)[0])
    (asked,) = await say_all(service, emu, chat, name)
    if labels(asked):  # a name without diacritics: kept as typed
        await press_all(service, emu, chat, asked, labels(asked)[0])
    for text in ("02/01/1990", number, "0912345678", "hcm"):  # the gender is read from the ID
        await say_all(service, emu, chat, text)
    (summary,) = (await say_all(service, emu, chat, "ben thanh"))[-1:]
    replies = await press_all(service, emu, chat, summary, labels(summary)[0])
    photos = [r for r in replies if r["method"] == "sendPhoto"]
    assert len(photos) == 1 and photos[0]["photo_bytes"].startswith(b"\x89PNG")
    assert name in photos[0]["caption"]


async def test_qr_sample_import_push_in_both_languages(
    service: Service, emulator: TelegramEmulator, clock: Clock
) -> None:
    await consent(emulator, VI_CHAT)
    await qr_for_me(service, emulator, VI_CHAT, "Nguyễn Văn An", "079090012345")
    welcome = await say(emulator, EN_CHAT, "/start", language_code="en")
    await press(emulator, EN_CHAT, welcome, "I agree")
    await qr_for_me(service, emulator, EN_CHAT, "John Smith", "001090012346")

    async with service.db.session_scope() as session:
        await staff.add_staff(
            session, channel="telegram", user_id=str(SAMPLER), role="sampler",
            name="Anh Nam", wards=[], sites=["hcm-benthanh"], now=clock(),
        )  # fmt: skip
        people = (await session.scalars(select(Person).order_by(Person.id))).all()
    scanned = [qr_tokens.issue(service.protector, p.id, now=clock()) for p in people]
    await consent(emulator, SAMPLER)
    await say_all(service, emulator, SAMPLER, "/laymau")
    await say_all(service, emulator, SAMPLER, "HCM-TUBE-0042")
    (listed,) = await say_all(service, emulator, SAMPLER, "\n".join(scanned))
    assert "2/10" in listed["text"]
    before = {chat: len(emulator.sent(chat)) for chat in (VI_CHAT, EN_CHAT)}
    emulator.press_button(SAMPLER, _data(listed, sampling.DONE), message_id=listed["message_id"])
    vi = (await emulator.wait_for_sent(VI_CHAT, before[VI_CHAT] + 1))[-1]
    en = (await emulator.wait_for_sent(EN_CHAT, before[EN_CHAT] + 1))[-1]
    assert "HCM-TUBE-0042" in vi["text"] and "mẫu gộp" in vi["text"]
    assert "HCM-TUBE-0042" in en["text"] and "pooled sample" in en["text"]

    tested = clock().astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M")
    csv = f"tube_code,result,tested_at,lab\nhcm-tube-0042,âm tính,{tested},Viện Pasteur\n"
    for _ in range(2):  # the same file twice: one notice each
        async with service.db.session_scope() as session:
            await import_results(session, csv, now=clock())
    vi = (await emulator.wait_for_sent(VI_CHAT, before[VI_CHAT] + 2, timeout=10))[-1]
    en = (await emulator.wait_for_sent(EN_CHAT, before[EN_CHAT] + 2, timeout=10))[-1]
    assert "ÂM TÍNH" in vi["text"] and "Nguyễn Văn An" in vi["text"]
    assert "NEGATIVE" in en["text"] and "John Smith" in en["text"]
    await emulator.wait_until_consumed()
    assert len(emulator.sent(VI_CHAT)) == before[VI_CHAT] + 2
    assert len(emulator.sent(EN_CHAT)) == before[EN_CHAT] + 2


def _data(message: dict, payload: str) -> str:
    for row in message["reply_markup"]["inline_keyboard"]:
        for button in row:
            if button["callback_data"].endswith(payload):
                return str(button["callback_data"])
    raise AssertionError(payload)
