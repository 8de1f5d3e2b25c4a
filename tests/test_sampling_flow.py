"""Samplers record tubes in the chat (/laymau), over the Telegram emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Service, build_service, running
from bot.config import Settings
from bot.crypto import DataProtector, generate_key
from bot.crypto import _decode_key as decode_key
from bot.domain import qr_tokens
from bot.domain.samples import SampleProblem
from bot.handlers import sampling
from bot.i18n import use_locale
from storage import accounts, staff
from storage.models import Sample, SampleMember, StaffMember
from tests.chat import Message, consent, say_all, settle
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.test_staff_api import notices_of, register

STAFF_CHAT = 777
OTHER_CHAT = 778
SITE = "hcm-benthanh"


@pytest.fixture
async def service(telegram_settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    settings = replace(telegram_settings, chat_rate_per_s=100.0, chat_burst=100)
    svc = build_service(settings, clock=clock)
    async with running(svc):  # start-up seeds the demo sites in HCMC
        yield svc


async def make_staff(service: Service, role: str, chat: int = STAFF_CHAT, *sites: str) -> int:
    async with service.db.session_scope() as session:
        member = await staff.add_staff(
            session,
            channel="telegram",
            user_id=str(chat),
            role=role,
            name="Anh Tùng",
            wards=[],
            sites=list(sites),
            now=service.clock(),
        )
        return member.id


def token(service: Service, person_id: int, *, days_ago: int = 0) -> str:
    now = service.clock() - timedelta(days=days_ago)
    return qr_tokens.issue(service.protector, person_id, now=now)


def reason(problem: SampleProblem, **facts: str) -> str:
    """What the sampler reads for a refused QR (the staff chat is in Vietnamese)."""
    with use_locale("vi"):
        return sampling.reason_text(problem, **facts)


async def press_payload(
    service: Service, emu: TelegramEmulator, chat: int, message: Message, payload: str
) -> list[Message]:
    """Press the button whose payload is `payload` (labels are being translated)."""
    markup = message.get("reply_markup") or {}
    data = [
        str(button["callback_data"])
        for row in markup.get("inline_keyboard", [])
        for button in row
        if str(button["callback_data"]).endswith("|" + payload)
    ]
    assert data, markup
    before = len(emu.sent(chat))
    emu.press_button(chat, data[0], message_id=message["message_id"])
    return await settle(service, emu, chat, before)


async def tubes(service: Service) -> dict[str, tuple[bool, str | None, int | None, list[int]]]:
    """Each tube: (pooled, site, taken by, its people's ids)."""
    async with service.db.read_scope() as session:
        found: dict[str, Any] = {}
        for sample in (await session.scalars(select(Sample).order_by(Sample.id))).all():
            people = await session.scalars(
                select(SampleMember.person_id)
                .where(SampleMember.sample_id == sample.id)
                .order_by(SampleMember.person_id)
            )
            found[sample.tube_code] = (
                sample.pooled,
                sample.site_id,
                sample.taken_by,
                list(people),
            )
        return found


async def test_a_sampler_records_a_single_and_a_pooled_tube(
    service: Service, emulator: TelegramEmulator
) -> None:
    staff_id = await make_staff(service, "sampler", STAFF_CHAT, SITE)
    an = await register(service, "Nguyễn Văn An")
    binh = await register(service, "Trần Thị Bình")
    chi = await register(service, "Lê Văn Chí")
    await consent(emulator, STAFF_CHAT)

    await say_all(service, emulator, STAFF_CHAT, "/laymau")
    (scan,) = await say_all(service, emulator, STAFF_CHAT, "tube-0001")
    assert "TUBE-0001" in scan["text"]
    (listed,) = await say_all(service, emulator, STAFF_CHAT, token(service, an[1]))
    assert "Nguyễn Văn An" in listed["text"] and "1/10" in listed["text"]
    (done,) = await press_payload(service, emulator, STAFF_CHAT, listed, sampling.DONE)
    assert "TUBE-0001" in done["text"] and "1" in done["text"]
    assert await tubes(service) == {"TUBE-0001": (False, SITE, staff_id, [an[1]])}
    (told,) = await notices_of(service, an[0])
    assert "TUBE-0001" in told

    # Back at the tube step: the next tube, two QRs in one message.
    await say_all(service, emulator, STAFF_CHAT, "TUBE-0002")
    both = f"{token(service, binh[1])}\n{token(service, chi[1])}"
    (listed,) = await say_all(service, emulator, STAFF_CHAT, both)
    assert "Trần Thị Bình" in listed["text"] and "Lê Văn Chí" in listed["text"]
    assert "2/10" in listed["text"]
    (done,) = await press_payload(service, emulator, STAFF_CHAT, listed, sampling.DONE)
    assert "TUBE-0002" in done["text"] and "2" in done["text"]
    assert (await tubes(service))["TUBE-0002"] == (True, SITE, staff_id, [binh[1], chi[1]])
    for account_id, _pid in (binh, chi):
        (told,) = await notices_of(service, account_id)
        assert "TUBE-0002" in told
    assert len(await notices_of(service, an[0])) == 1


async def test_refused_qrs_are_explained_and_a_tube_can_be_dropped(
    service: Service, emulator: TelegramEmulator
) -> None:
    await make_staff(service, "sampler", STAFF_CHAT)  # a sampler without a site
    an = await register(service, "Nguyễn Văn An")
    binh = await register(service, "Trần Thị Bình")
    await consent(emulator, STAFF_CHAT)
    used = token(service, an[1])
    await say_all(service, emulator, STAFF_CHAT, "/laymau TUBE-0001")
    (listed,) = await say_all(service, emulator, STAFF_CHAT, used)
    await press_payload(service, emulator, STAFF_CHAT, listed, sampling.DONE)
    assert await tubes(service) == {"TUBE-0001": (False, None, await _staff_id(service), [an[1]])}

    (scan,) = await say_all(service, emulator, STAFF_CHAT, "TUBE-0002")
    assert "TUBE-0002" in scan["text"]
    other = DataProtector(decode_key(generate_key()))
    cases = [
        (qr_tokens.issue(other, binh[1], now=service.clock()), reason(SampleProblem.FORGED)),
        (token(service, binh[1], days_ago=8), reason(SampleProblem.EXPIRED)),
        (used, reason(SampleProblem.TOKEN_USED)),
        (
            token(service, an[1]),
            reason(SampleProblem.IN_OPEN_TUBE, name="Nguyễn Văn An", tube="TUBE-0001"),
        ),
    ]
    for text, why in cases:
        (refused,) = await say_all(service, emulator, STAFF_CHAT, text)
        assert why in refused["text"] and "0/10" in refused["text"], refused["text"]
    assert "/maqr" in reason(SampleProblem.EXPIRED)

    good = token(service, binh[1])
    (listed,) = await say_all(service, emulator, STAFF_CHAT, good)
    assert "Trần Thị Bình" in listed["text"] and "1/10" in listed["text"]
    (twice,) = await say_all(service, emulator, STAFF_CHAT, token(service, binh[1]))
    assert reason(SampleProblem.TWICE, name="Trần Thị Bình") in twice["text"]
    assert "1/10" in twice["text"]

    (dropped,) = await press_payload(service, emulator, STAFF_CHAT, twice, sampling.DROP)
    assert "TUBE-0002" in dropped["text"]
    assert list(await tubes(service)) == ["TUBE-0001"]
    assert await notices_of(service, binh[0]) == []
    # The dropped tube's QR is still good for the next tube.
    await say_all(service, emulator, STAFF_CHAT, "TUBE-0003")
    (listed,) = await say_all(service, emulator, STAFF_CHAT, good)
    assert "1/10" in listed["text"]
    await press_payload(service, emulator, STAFF_CHAT, listed, sampling.DONE)
    assert list(await tubes(service)) == ["TUBE-0001", "TUBE-0003"]


async def _staff_id(service: Service) -> int:
    async with service.db.read_scope() as session:
        member = await session.scalar(
            select(StaffMember).where(StaffMember.user_id == str(STAFF_CHAT))
        )
        assert member is not None
        return member.id


async def test_only_samplers_may_record(service: Service, emulator: TelegramEmulator) -> None:
    await make_staff(service, "site_staff", OTHER_CHAT, SITE)
    for chat in (STAFF_CHAT, OTHER_CHAT):  # a citizen, then staff of another role
        await consent(emulator, chat)
        (reply,) = await say_all(service, emulator, chat, "/laymau TUBE-0001")
        assert "/laymau" in reply["text"] and "TUBE-0001" not in reply["text"]
        async with service.db.read_scope() as session:
            loaded = await accounts.load_chat(session, channel="telegram", chat_id=str(chat))
        assert loaded is not None and loaded[1].flow is None
    assert await tubes(service) == {}
