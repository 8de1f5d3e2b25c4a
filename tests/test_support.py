"""Support tickets over the Telegram emulator: the citizen, the staff desk, and back.

The desk is a supergroup of the emulator: with topics (one forum topic per ticket) or without
(a thread of replies under each ticket's header). Staff are members holding the support role.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import time, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from bot.app import Service, build_service, running
from bot.config import Settings
from bot.workers.jobs_table import JOB_KINDS
from bot.workers.scheduler import Scheduler
from storage import staff
from storage.models import AuditEvent, OutboxMessage, Ticket
from tests.chat import callback_data, consent, labels, press, say
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.quiet import quiet
from tests.webchat import Citizen

DESK = -1009990001
AGENT = 777  # a member of the desk with the support role
STRANGER = 778  # a member without it
CHAT = 6001
OPENED = "Tôi đã nhờ nhân viên hỗ trợ giúp bạn (yêu cầu số 1)."
CLOSED = "Nhân viên hỗ trợ đã kết thúc cuộc trò chuyện."
Message = dict[str, Any]


@pytest.fixture
def desk_settings(telegram_settings: Settings) -> Settings:
    """The service with a support desk; no quiet hours, so re-announcements fire any time.

    The desk's pace (20 messages a minute, as Telegram allows in a group) is raised so the tests
    need not wait 3 s for each message after the first few.
    """
    return replace(
        telegram_settings,
        support_chat_id=str(DESK),
        telegram_group_rate_per_min=600,
        quiet_start=time(0, 0),
        quiet_end=time(0, 0),
    )


async def _agents(service: Service) -> None:
    async with service.db.session_scope() as session:
        await staff.add_staff(
            session,
            channel="telegram",
            user_id=str(AGENT),
            role="support",
            name="Chị Lan",
            wards=[],
            sites=[],
            now=service.clock(),
        )


@pytest.fixture
async def forum(
    desk_settings: Settings, emulator: TelegramEmulator, clock: Clock
) -> AsyncIterator[Service]:
    """The service running with a desk that has topics enabled."""
    emulator.make_forum(DESK)
    service = build_service(desk_settings, clock=clock)
    async with running(service):
        await _agents(service)
        yield service


@pytest.fixture
async def threads(
    desk_settings: Settings, emulator: TelegramEmulator, clock: Clock
) -> AsyncIterator[Service]:
    """The service running with a desk without topics (reply threads)."""
    service = build_service(desk_settings, clock=clock)
    async with running(service):
        await _agents(service)
        yield service


async def desk_news(emulator: TelegramEmulator, before: int, count: int = 1) -> list[Message]:
    """The next `count` messages the bot posts on the desk after the first `before`."""
    return (await emulator.wait_for_sent(DESK, before + count, timeout=10))[before:]


async def open_ticket(emulator: TelegramEmulator, text: str = "gap nhan vien") -> Message:
    """A citizen who consents and asks for a human; the bot's answer."""
    await consent(emulator, CHAT)
    reply = await say(emulator, CHAT, text)
    assert reply["text"].startswith(OPENED)
    assert labels(reply) == ["Kết thúc"]
    return reply


async def staff_says(
    emulator: TelegramEmulator, text: str, *, user: int = AGENT, **where: int
) -> None:
    emulator.group_message(DESK, user_id=user, text=text, **where)


async def audit_actions(service: Service) -> list[str]:
    async with service.db.read_scope() as session:
        return list(
            (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all()
        )


async def test_ticket_in_a_forum_topic_both_ways(
    forum: Service, emulator: TelegramEmulator
) -> None:
    await open_ticket(emulator)
    topic, header = await desk_news(emulator, 0, 2)
    assert topic["method"] == "createForumTopic"
    thread = topic["message_id"]
    assert emulator.topics[DESK][thread] == "#1 Nhắn tin xin hỗ trợ"
    assert header["params"]["message_thread_id"] == thread
    assert header["text"].startswith("🆕 Phiếu hỗ trợ #1\n\nLý do: Nhắn tin xin hỗ trợ")
    assert "Người dân: gap nhan vien" in header["text"]
    assert labels(header) == ["Nhận phiếu #1"]

    await say_nothing(emulator, CHAT, "Tôi đăng ký nhầm ngày sinh 0791 9001 2345 ạ")
    (relayed,) = await desk_news(emulator, 2)
    assert relayed["text"] == "👤 #1: Tôi đăng ký nhầm ngày sinh 0791 9001 2345 ạ"
    assert relayed["params"]["message_thread_id"] == thread

    before = len(emulator.sent(CHAT))
    await staff_says(emulator, "Chào bạn, tôi sẽ sửa giúp bạn.", thread_id=thread)
    answer = (await emulator.wait_for_sent(CHAT, before + 1))[-1]
    assert answer["text"] == "💬 Nhân viên hỗ trợ: Chào bạn, tôi sẽ sửa giúp bạn."
    (claimed,) = await desk_news(emulator, 3)
    assert claimed["text"] == "✅ Chị Lan đã nhận phiếu #1."

    emulator.group_message(DESK, user_id=AGENT, photo=b"\x89PNG staff photo", thread_id=thread)
    photo = (await emulator.wait_for_sent(CHAT, before + 2))[-1]
    assert (photo["method"], photo["caption"]) == ("sendPhoto", "💬 Nhân viên hỗ trợ")
    assert isinstance(photo["params"]["photo"], str)  # sent by file id: nothing uploaded again

    emulator.user_photo(CHAT, b"\x89PNG citizen photo", caption="Ảnh CCCD")
    (forwarded,) = await desk_news(emulator, 4)
    assert (forwarded["method"], forwarded["caption"]) == ("sendPhoto", "👤 #1: Ảnh CCCD")
    assert forwarded["params"]["message_thread_id"] == thread

    await staff_says(emulator, "/close đã sửa ngày sinh", thread_id=thread)
    closing = (await emulator.wait_for_sent(CHAT, before + 3))[-1]
    assert closing["text"].startswith(CLOSED)
    assert labels(closing) == ["1", "2", "3", "4", "5"]
    (closed,) = await desk_news(emulator, 5)
    assert closed["text"] == "🔒 Phiếu #1 đã đóng."

    thanks = await press(emulator, CHAT, closing, "4")
    assert thanks["text"] == "Cảm ơn bạn đã đánh giá!"
    (rated,) = await desk_news(emulator, 6)
    assert rated["text"] == "⭐ Người dân đánh giá phiếu #1: 4/5"
    again = await press(emulator, CHAT, closing, "5")
    assert again["text"].startswith("Đánh giá này đã được ghi nhận trước đó")
    async with forum.db.read_scope() as session:
        ticket = (await session.scalars(select(Ticket))).one()
    assert (ticket.status, ticket.rating, ticket.close_note) == ("closed", 4, "đã sửa ngày sinh")
    assert ticket.claimed_by == "telegram:777 Chị Lan (support)"
    assert await audit_actions(forum) == [
        "ticket_opened",
        "ticket_claimed",
        "ticket_replied",
        "ticket_replied",
        "ticket_closed",
    ]


async def say_nothing(emulator: TelegramEmulator, chat: int, text: str) -> None:
    """Write as the citizen; the bot answers nothing (the words went to staff)."""
    emulator.user_text(chat, text)
    await emulator.wait_until_consumed()


async def test_without_topics_each_ticket_is_a_reply_thread(
    threads: Service, emulator: TelegramEmulator
) -> None:
    await open_ticket(emulator, "/hotro")
    (header,) = await desk_news(emulator, 0)
    assert header["method"] == "sendMessage" and "message_thread_id" not in header["params"]
    assert "Lý do: Gõ lệnh /hotro" in header["text"]
    await say_nothing(emulator, CHAT, "Cho tôi hỏi lịch tiêm")
    (relayed,) = await desk_news(emulator, 1)
    assert relayed["params"]["reply_parameters"]["message_id"] == header["message_id"]

    await staff_says(
        emulator, "Tôi không phải nhân viên", user=STRANGER, reply_to=relayed["message_id"]
    )
    (refused,) = await desk_news(emulator, 2)
    assert refused["text"].startswith("Tin này không được chuyển đi")
    before = len(emulator.sent(CHAT))
    await staff_says(emulator, "Lịch tiêm ở mục Lịch hẹn ạ", reply_to=relayed["message_id"])
    answer = (await emulator.wait_for_sent(CHAT, before + 1))[-1]
    assert answer["text"] == "💬 Nhân viên hỗ trợ: Lịch tiêm ở mục Lịch hẹn ạ"
    assert len(emulator.sent(CHAT)) == before + 1  # the stranger's words never reached them

    await staff_says(emulator, "/tickets")
    listing = (await desk_news(emulator, 3, 2))[-1]
    assert listing["text"].startswith("Phiếu hỗ trợ đang mở (1):\n#1 · mở 0 phút · telegram:777")
    await staff_says(emulator, "/tickets", user=STRANGER)
    refused = (await desk_news(emulator, 5))[-1]
    assert refused["text"] == "Chỉ thành viên có vai trò hỗ trợ (support) mới xem được các phiếu."

    await staff_says(emulator, "/close", reply_to=header["message_id"])
    closing = (await emulator.wait_for_sent(CHAT, before + 2))[-1]
    assert closing["text"].startswith(CLOSED)
    await staff_says(emulator, "Còn gì nữa không?", reply_to=relayed["message_id"])
    late = (await desk_news(emulator, 6, 2))[-1]
    assert late["text"] == "Phiếu #1 đã đóng: tin này không được gửi."
    assert "tickets_listed" in await audit_actions(threads)


async def test_a_flow_waits_while_staff_help_and_resumes(forum: Service, emulator) -> None:
    menu = await consent(emulator, CHAT)
    ask = await say(emulator, CHAT, "/sodienthoai")
    assert ask["text"].startswith("Bạn vui lòng cho biết số điện thoại di động")
    opened = await press(emulator, CHAT, menu, "Hỗ trợ")
    assert opened["text"].startswith(OPENED)
    topic, header = await desk_news(emulator, 0, 2)
    assert "Lý do: Cần giúp khi đang cập nhật số điện thoại (bước “" in header["text"]
    await say_nothing(emulator, CHAT, "0912 345 678")  # for staff now, not the phone question
    (relayed,) = await desk_news(emulator, 2)
    assert relayed["text"] == "👤 #1: 0912 345 678"
    busy = await say(emulator, CHAT, "/dangky")
    assert busy["text"].startswith("Bạn đang trò chuyện với nhân viên hỗ trợ")
    before = len(emulator.sent(CHAT))
    await staff_says(emulator, "/close", thread_id=topic["message_id"])
    (closed,) = await desk_news(emulator, 3)
    assert closed["text"] == "🔒 Phiếu #1 đã đóng."
    closing = (await emulator.wait_for_sent(CHAT, before + 1))[-1]
    assert closing["text"].startswith(CLOSED)
    assert "Thông tin bạn đã nhập vẫn được giữ" in closing["text"]
    confirm = await say(emulator, CHAT, "0912 345 678")
    assert confirm["text"] == "Số điện thoại của bạn là +84 91* *** 678, đúng không ạ?"


async def test_citizen_ends_the_ticket_and_the_bot_is_back(forum: Service, emulator) -> None:
    opened = await open_ticket(emulator)
    await desk_news(emulator, 0, 2)
    ended = await press(emulator, CHAT, opened, "Kết thúc")
    assert ended["text"].startswith("Bạn đã kết thúc cuộc trò chuyện với nhân viên hỗ trợ.")
    assert labels(ended)[0] == "Đăng ký tiêm"  # nobody had taken it: no rating asked
    (note,) = await desk_news(emulator, 2)
    assert note["text"] == "🔒 Người dân đã kết thúc, phiếu #1 đã đóng."
    menu = await say(emulator, CHAT, "dk")
    assert labels(menu) == ["Bản thân tôi", "Người thân"]
    gone = await press(emulator, CHAT, opened, "Kết thúc")  # the old button again
    assert gone["text"] == "Cuộc trò chuyện với nhân viên hỗ trợ đã kết thúc."


async def test_unclaimed_ticket_is_announced_again_until_taken(
    forum: Service, emulator: TelegramEmulator, clock: Clock
) -> None:
    await open_ticket(emulator)
    await desk_news(emulator, 0, 2)
    scheduler = Scheduler(forum.db, JOB_KINDS, settings=forum.settings, clock=clock)
    clock.advance(timedelta(minutes=16))
    await scheduler.tick()
    forum.sender.wake()
    (again,) = await desk_news(emulator, 2)
    assert again["text"].startswith("⏰ Phiếu #1 đã chờ 16 phút mà chưa có ai nhận.")
    assert "message_thread_id" not in again["params"]  # in the general topic, for everyone
    assert labels(again) == ["Nhận phiếu #1"]
    emulator.press_button(
        DESK, callback_data(again, "Nhận phiếu #1"), message_id=again["message_id"], user_id=AGENT
    )
    (taken,) = await desk_news(emulator, 3)
    assert taken["text"] == "✅ Chị Lan đã nhận phiếu #1."
    clock.advance(timedelta(minutes=16))
    assert await scheduler.tick() == 0  # claimed: nothing more to announce
    emulator.press_button(
        DESK, callback_data(again, "Nhận phiếu #1"), message_id=again["message_id"], user_id=AGENT
    )
    (twice,) = await desk_news(emulator, 4)
    assert twice["text"] == "Phiếu #1 đã có người nhận: telegram:777 Chị Lan (support)."


async def test_erasing_data_closes_the_ticket(forum: Service, emulator) -> None:
    await open_ticket(emulator)
    await desk_news(emulator, 0, 2)
    ask = await say(emulator, CHAT, "/xoadulieu")
    done = await press(emulator, CHAT, ask, "Xóa dữ liệu")
    assert done["text"].startswith("Toàn bộ dữ liệu của bạn đã được xóa.")
    (note,) = await desk_news(emulator, 2)
    assert note["text"] == "🔒 Người dân đã kết thúc, phiếu #1 đã đóng."
    async with forum.db.read_scope() as session:
        ticket = (await session.scalars(select(Ticket))).one()
    assert (ticket.status, ticket.account_id) == ("closed", None)


@pytest.mark.parametrize("command", ["/tickets", "/close", "/thongbao", "/claim"])
async def test_staff_commands_are_unknown_to_citizens(forum: Service, emulator, command) -> None:
    await consent(emulator, CHAT)
    reply = await say(emulator, CHAT, command)
    assert reply["text"] == (
        f"Xin lỗi, tôi không nhận ra lệnh {command}. Bạn gõ /help để xem các lệnh có thể dùng nhé."
    )


async def test_bad_input_while_talking_to_staff(forum: Service, emulator) -> None:
    await open_ticket(emulator)
    await desk_news(emulator, 0, 2)
    long = await say(emulator, CHAT, "a" * 5000)
    assert long["text"].startswith("Tin nhắn của bạn dài quá (5000 ký tự).")
    sticker = emulator.user_sticker(CHAT)
    assert sticker
    reply = (await emulator.wait_for_sent(CHAT, len(emulator.sent(CHAT)) + 1))[-1]
    assert reply["text"].startswith("Nhân viên hỗ trợ chỉ đọc được tin nhắn chữ và hình ảnh.")
    update = emulator.user_text(CHAT, "🙂 xin chào")
    await emulator.wait_until_consumed()
    emulator.queue_update(update)  # the same update twice
    await quiet(forum, emulator)
    relayed = [m for m in emulator.sent(DESK) if m["text"] == "👤 #1: 🙂 xin chào"]
    assert len(relayed) == 1


async def test_a_web_chat_citizen_talks_to_the_desk(forum: Service, emulator) -> None:
    citizen = Citizen(forum, "web-citizen")
    await citizen.consent()
    (opened,) = await citizen.press("Hỗ trợ")
    assert opened.startswith(OPENED)
    topic, header = await desk_news(emulator, 0, 2)
    assert "Kênh: trang trò chuyện trên web · ngôn ngữ: Tiếng Việt" in header["text"]
    assert await citizen.say("Cho tôi hỏi về mũi 3") == []  # for staff, not the bot
    (relayed,) = await desk_news(emulator, 2)
    assert relayed["text"] == "👤 #1: Cho tôi hỏi về mũi 3"
    thread = topic["message_id"]
    await staff_says(emulator, "Bạn đặt lịch bằng /dangky nhé.", thread_id=thread)
    emulator.group_message(DESK, user_id=AGENT, photo=poster(), thread_id=thread)
    await quiet(forum, emulator)  # both relayed to the citizen's outbox
    texts = [body["text"] for body in await citizen.replies()]
    assert texts == ["💬 Nhân viên hỗ trợ: Bạn đặt lịch bằng /dangky nhé.", "💬 Nhân viên hỗ trợ"]
    async with forum.db.read_scope() as session:
        picture = (
            await session.scalars(
                select(OutboxMessage.image).where(OutboxMessage.chat_id == "web-citizen")
            )
        ).all()
    assert poster() in picture  # the web chat gets the picture itself, fetched from Telegram


def poster() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()
