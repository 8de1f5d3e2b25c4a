"""Citizens with distinctive values on each channel, their erasure, and where to look for traces.

Three citizens register with values found nowhere else (one per channel: the web chat, Zalo and
Telegram, over their emulators), two of them write to support staff; `erase_everyone` then has
each erase their data. `every_row` dumps every table and `checkpointed_files` the SQLite files
after a WAL checkpoint; `left` names the values still found in either.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from bot.app import Service
from storage.models import Base
from tests.chat import labels, press_all, say_all
from tests.fakes.telegram_api import TelegramEmulator
from tests.fakes.zalo_api import ZaloEmulator
from tests.quiet import quiet
from tests.registration_fixtures import book_first, fill_person
from tests.test_zalo_e2e import USER, choices, choose, settle
from tests.test_zalo_e2e import consent as zalo_consent
from tests.test_zalo_e2e import say as zalo_say
from tests.webchat import Citizen

DESK = -1009990002
CHAT = 7301  # the Telegram citizen
GONE = "Toàn bộ dữ liệu của bạn đã được xóa."


@dataclass(frozen=True)
class Values:
    """A citizen's distinctive answers, as typed and as they could be stored."""

    name: str
    token: str  # the part of the name found even in JSON with escaped accents
    born: str  # as typed
    born_iso: str
    born_shown: str
    id_number: str
    phone: str  # as typed or shared
    phone_digits: str  # national form
    support: str = ""  # what they write to support staff

    def traces(self) -> list[bytes]:
        """Every form of these values that must not be left anywhere."""
        texts = [
            self.name,
            self.token,
            self.born_iso,
            self.born_shown,
            self.id_number,
            self.phone_digits,
            self.phone_digits[1:],  # +84 and the rest
        ]
        return [text.encode() for text in texts]


WEB = Values(
    "Nguyễn Thị Xoaxoa",
    "Xoaxoa",
    "29/3/1987",
    "1987-03-29",
    "29/03/1987",
    "079187004321",
    "0987 654 321",
    "0987654321",
    "Tôi là Nguyễn Thị Xoaxoa, CCCD 079187004321, sđt 0987654321, sinh 29/03/1987",
)


ZALO = Values(
    "Trần Văn Xoazalo",
    "Xoazalo",
    "14/07/1979",
    "1979-07-14",
    "14/07/1979",
    "001079005678",
    "84976543210",
    "0976543210",
)


TELEGRAM = Values(
    "Lê Thị Xoatele",
    "Xoatele",
    "05.11.1968",
    "1968-11-05",
    "05/11/1968",
    "048168009876",
    "0965 432 109",
    "0965432109",
    "Tôi là Lê Thị Xoatele (CCCD 048168009876, sđt 0965432109), cần đổi lịch tiêm",
)


EVERYONE = (WEB, ZALO, TELEGRAM)


async def on_the_web(service: Service) -> Citizen:
    """Registered and booked over the web chat, then a message to support staff."""
    citizen = Citizen(service, "web-xoaxoa")
    await citizen.consent()
    await fill_person(
        citizen,
        name=WEB.name,
        dob=WEB.born,
        gender="Nữ",
        id=WEB.id_number,
        phone=WEB.phone,
    )
    assert any(WEB.name in text for text in await book_first(citizen))
    (opened,) = await citizen.say("gap nhan vien")
    assert opened.startswith("Tôi đã nhờ nhân viên hỗ trợ giúp bạn")
    await citizen.say(WEB.support)
    return citizen


async def on_zalo(service: Service, zemu: ZaloEmulator) -> None:
    """Registered and booked over Zalo, the phone number shared through Zalo's card."""
    await zalo_consent(service, zemu)
    (who,) = await zalo_say(service, zemu, "dk tiem")
    await choose(service, zemu, who, "Bản thân tôi")
    await zalo_say(service, zemu, ZALO.name)
    await zalo_say(service, zemu, ZALO.born)  # the gender is read from the ID number
    replies = await zalo_say(service, zemu, ZALO.id_number)
    assert replies[-1]["kind"] == "request_user_info"
    before = len(zemu.sent(USER))
    assert await zemu.share_info(USER, phone=ZALO.phone) == 200
    await settle(service, zemu, before)
    await zalo_say(service, zemu, "Sài Gòn")
    replies = await zalo_say(service, zemu, "P. Bến Thành")
    replies = await choose(service, zemu, replies[-1], choices(replies[-1])[0])
    replies = await choose(service, zemu, replies[-1], "Không có điều nào")
    for _ in range(3):
        replies = await choose(service, zemu, replies[-1], choices(replies[-1])[0])
    card, *_rest = await choose(service, zemu, replies[-1], "Xác nhận")
    assert ZALO.name in card["text"]


async def on_telegram(service: Service, emulator: TelegramEmulator) -> None:
    """Registered and booked over Telegram, then a message to support staff."""
    (welcome,) = await say_all(service, emulator, CHAT, "/start")
    await press_all(service, emulator, CHAT, welcome, "Tôi đồng ý")
    (who,) = await say_all(service, emulator, CHAT, "/dangky")
    await press_all(service, emulator, CHAT, who, "Bản thân tôi")
    await say_all(service, emulator, CHAT, TELEGRAM.name)
    await say_all(service, emulator, CHAT, TELEGRAM.born)  # the gender: from the ID number
    await say_all(service, emulator, CHAT, TELEGRAM.id_number)
    await say_all(service, emulator, CHAT, TELEGRAM.phone)
    await say_all(service, emulator, CHAT, "Sài Gòn")
    replies = await say_all(service, emulator, CHAT, "P. Bến Thành")
    replies = await say_all(service, emulator, CHAT, "5")
    replies = await press_all(service, emulator, CHAT, replies[-1], "Không có điều nào")
    for _ in range(3):
        replies = await press_all(service, emulator, CHAT, replies[-1], labels(replies[-1])[0])
    card, _qr = await press_all(service, emulator, CHAT, replies[-1], "Xác nhận")
    assert TELEGRAM.name in card["text"]
    await say_all(service, emulator, CHAT, "gap nhan vien")
    emulator.user_text(CHAT, TELEGRAM.support)  # relayed to the desk, not answered


async def erase_everyone(
    service: Service, citizen: Citizen, zemu: ZaloEmulator, emulator: TelegramEmulator
) -> None:
    """Each citizen erases their data, on their own channel."""
    await citizen.say("/xoadulieu")
    assert (await citizen.press("Xóa dữ liệu"))[0].startswith(GONE)
    await zalo_say(service, zemu, "/xoadulieu")
    (gone,) = await zalo_say(service, zemu, "có")
    assert gone["text"].startswith(GONE)
    (ask,) = await say_all(service, emulator, CHAT, "/xoadulieu")
    (gone,) = await press_all(service, emulator, CHAT, ask, "Xóa dữ liệu")
    assert gone["text"].startswith(GONE)


async def settled(service: Service) -> None:
    """Wait until every Zalo event is handled and no message waits to be sent."""
    await quiet(service)


async def every_row(service: Service) -> bytes:
    """Every row of every table, as text (sealed numbers stay sealed)."""
    dumped = []
    async with service.db.read_scope() as session:
        for table in Base.metadata.sorted_tables:
            for row in await session.execute(select(table)):
                dumped.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(dumped).encode()


def checkpointed_files(database: str) -> bytes:
    """The bytes of the database and its WAL files, the WAL written back and emptied first."""
    with sqlite3.connect(database, timeout=5) as connection:
        busy, _wal, _copied = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    connection.close()
    assert busy == 0
    path = Path(database)
    return b"".join(
        p.read_bytes() for p in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm")))
    )


def left(found: bytes) -> list[str]:
    """The distinctive values found (escaped JSON counts too: see `Values.token`)."""
    return [trace.decode() for values in EVERYONE for trace in values.traces() if trace in found]
