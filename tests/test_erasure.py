"""/xoadulieu leaves nothing of the citizen: not in any table, not in the SQLite files.

Three citizens register with distinctive values, one per channel (the web chat, Zalo and
Telegram, over their emulators), two of them write to support staff, then each erases their
data (tests/erasure_flows.py). Every row of every table is then searched for those values, on
each engine; on SQLite, after a WAL checkpoint, so are the raw bytes of the database file and
its `-wal` and `-shm`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from bot.app import Service
from bot.config import Settings
from storage.models import Certificate, MediaFile, Person
from tests.chat import press_all, say_all
from tests.conftest import Clock
from tests.erasure_flows import (
    CHAT,
    DESK,
    EVERYONE,
    GONE,
    TELEGRAM,
    checkpointed_files,
    erase_everyone,
    every_row,
    left,
    on_telegram,
    on_the_web,
    on_zalo,
    settled,
)
from tests.fakes.telegram_api import TelegramEmulator
from tests.fakes.zalo_api import ZaloEmulator
from tests.test_certificates import cached_file_id, give_dose, register, wait_photos
from tests.test_zalo_e2e import serving


@pytest.fixture
async def service(
    zalo_settings: Settings, telegram_settings: Settings, clock: Clock, zemu: ZaloEmulator
) -> AsyncIterator[Service]:
    """The whole service on Telegram, Zalo and the web chat, with a support desk."""
    settings = replace(
        zalo_settings,
        telegram_bot_token=telegram_settings.telegram_bot_token,
        telegram_api_base_url=telegram_settings.telegram_api_base_url,
        support_chat_id=str(DESK),
        telegram_group_rate_per_min=600,
    )
    async with serving(settings, clock, zemu) as svc:
        yield svc


async def test_erasure_leaves_nothing_of_the_citizen(
    service: Service, emulator: TelegramEmulator, zemu: ZaloEmulator
) -> None:
    citizen = await on_the_web(service)
    await on_zalo(service, zemu)
    await on_telegram(service, emulator)
    await emulator.wait_for_sent(DESK, 4, timeout=10)  # both tickets' headers and messages
    await settled(service)
    rows = await every_row(service)
    assert all(values.token.encode() in rows for values in EVERYONE)  # the search works
    sqlite = service.db.url.database if service.db.is_sqlite else None
    if sqlite:
        found = checkpointed_files(sqlite)
        assert all(values.token.encode() in found for values in EVERYONE)

    await erase_everyone(service, citizen, zemu, emulator)
    await settled(service)

    assert left(await every_row(service)) == []
    if sqlite:
        assert left(checkpointed_files(sqlite)) == []


async def test_a_vaccinated_person_is_kept_without_the_chats_traces(
    service: Service, emulator: TelegramEmulator
) -> None:
    (welcome,) = await say_all(service, emulator, CHAT, "/start")
    await press_all(service, emulator, CHAT, welcome, "Tôi đồng ý")
    person_id = await register(service, CHAT, TELEGRAM.name)
    await give_dose(service, person_id)  # a medical record: the person is kept
    await wait_photos(emulator, 1, CHAT)
    assert await cached_file_id(service)  # the certificate picture's id on Telegram
    (ask,) = await say_all(service, emulator, CHAT, "/xoadulieu")
    (gone,) = await press_all(service, emulator, CHAT, ask, "Xóa dữ liệu")
    assert gone["text"].startswith(GONE)
    async with service.db.read_scope() as session:
        person = await session.get(Person, person_id)
        cached = await session.scalar(select(func.count()).select_from(MediaFile))
        certificates = await session.scalar(select(func.count()).select_from(Certificate))
    assert person is not None and person.account_id is None and person.phone_sealed is None
    assert (cached, certificates) == (0, 1)
