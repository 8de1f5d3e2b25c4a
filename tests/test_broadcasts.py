"""Ward announcements over the Telegram emulator: composing, scope, delivery, cancel, restarts.

Citizens are written in bulk (`tests.audiences`); the staff member is a Telegram chat with the
`ward_staff` role for Bến Thành. Delivery runs through the real sender at a raised bulk rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.app import Service, build_service, running
from bot.config import Settings
from bot.crypto import generate_key
from bot.domain import broadcast_batches as broadcasts
from bot.i18n import TIMEZONE
from bot.messages import ChatRef
from bot.workers.jobs_table import JOB_KINDS
from bot.workers.scheduler import Scheduler
from run_bot import main
from storage import staff
from storage.broadcasts import Audience
from storage.db import Database
from storage.models import Account, AuditEvent, Broadcast, OutboxMessage
from tests.audiences import add_citizens
from tests.chat import callback_data, consent, labels, press, say
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.quiet import eventually, quiet
from tests.test_restart import serving, started
from tests.webchat import Citizen

BT, SG = 26743, 26740  # Bến Thành, Sài Gòn (HCMC)
STAFF = 8001
Message = dict[str, Any]


@pytest.fixture
def fast_settings(telegram_settings: Settings) -> Settings:
    """Bulk sends at 500 a second (as with paid broadcasts), so thousands go in seconds.

    The staff chat's replies are not paced either: it gets many, and pacing is tested elsewhere.
    """
    return replace(
        telegram_settings, telegram_rate_per_s=500, chat_rate_per_s=100.0, chat_burst=100
    )


@contextlib.asynccontextmanager
async def staffed(settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    """The running service, with Bến Thành's ward staff member."""
    svc = build_service(settings, clock=clock)
    async with running(svc):
        async with svc.db.session_scope() as session:
            await staff.add_staff(
                session,
                channel="telegram",
                user_id=str(STAFF),
                role="ward_staff",
                name="Anh Minh",
                wards=[BT],
                sites=[],
                now=svc.clock(),
            )
        yield svc


@pytest.fixture
async def service(fast_settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    async with staffed(fast_settings, clock) as svc:
        yield svc


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 1 s of sending instead of 10 s: a few thousand recipients take several."""
    monkeypatch.setattr(broadcasts, "BATCH_SECONDS", 1)


async def compose(emulator: TelegramEmulator, text: str) -> Message:
    """Staff write an announcement to all their wards, now, without a picture: the preview."""
    await consent(emulator, STAFF)
    ask = await say(emulator, STAFF, "/thongbao")
    assert ask["text"].startswith("Soạn thông báo mới.")
    picture = await say(emulator, STAFF, text)
    area = await press(emulator, STAFF, picture, "Không kèm ảnh")
    groups = await press(emulator, STAFF, area, "Tất cả xã, phường của tôi")
    when = await press(emulator, STAFF, groups, "Tất cả các nhóm")
    before = len(emulator.sent(STAFF))
    emulator.press_button(STAFF, callback_data(when, "Gửi ngay"), message_id=when["message_id"])
    return (await emulator.wait_for_sent(STAFF, before + 2))[-1]


def received(emulator: TelegramEmulator, chats: range | list[int]) -> Counter[int]:
    """How many messages each chat got."""
    return Counter({chat: len(emulator.sent(chat)) for chat in chats})


async def final_edit(
    emulator: TelegramEmulator, *, then_report: bool = True, timeout: float = 15
) -> Message:
    """The progress message's last edit (its button gone), once it and the report came.

    They leave after the broadcast is marked done, so they are waited for. A stopped broadcast
    sends no report (the staff member who stopped it was answered): `then_report=False`.
    """

    def found() -> Message | None:
        sent = emulator.sent(STAFF)
        ends = [
            i for i, m in enumerate(sent) if m["method"] == "editMessageText" and not labels(m)
        ]
        if not ends:
            return None
        after = [m for m in sent[ends[-1] + 1 :] if m["method"] == "sendMessage"]
        return sent[ends[-1]] if after or not then_report else None

    await emulator.wait_until(lambda: found() is not None, timeout=timeout)
    result = found()
    assert result is not None
    return result


async def finished(service: Service, emulator: TelegramEmulator, *, timeout: float = 20) -> None:
    """Wait for the end of broadcast 1: its report to staff, written as it is marked done."""
    await final_edit(emulator, timeout=timeout)
    assert await _done(service)


async def status_of(db: Any, broadcast_id: int = 1) -> str:
    async with db.read_scope() as session:
        found = await session.get(Broadcast, broadcast_id)
        return found.status if found else "missing"


async def test_ward_staff_compose_preview_and_send(service: Service, emulator) -> None:
    citizens = list(range(20_001, 20_006))
    await add_citizens(service.db, citizens, ward=BT)
    await add_citizens(service.db, [20_100], ward=SG)  # another ward
    await add_citizens(service.db, [20_200], ward=BT, consented=False)
    await add_citizens(service.db, [20_300], ward=BT)
    assert (await say(emulator, 20_300, "/tatthongbao"))["text"].startswith("Đã xong: bạn sẽ")

    await consent(emulator, STAFF)
    await say(emulator, STAFF, "/thongbao")
    picture = await say(emulator, STAFF, "Chiều nay 15h phun thuốc diệt muỗi khu phố 3.")
    area = await press(emulator, STAFF, picture, "Không kèm ảnh")
    assert labels(area) == ["Tất cả xã, phường của tôi"]
    refused = await say(emulator, STAFF, "26740")
    assert refused["text"] == (
        "Phường Sài Gòn (26740) không thuộc địa bàn bạn phụ trách: địa bàn của bạn là "
        "Phường Bến Thành (26743). Bạn vui lòng nhập lại các mã."
    )
    unknown = await say(emulator, STAFF, "99999")
    assert unknown["text"].startswith("99999 không phải là mã xã, phường hiện hành")
    groups = await say(emulator, STAFF, "26743")
    when = await press(emulator, STAFF, groups, "Tất cả các nhóm")
    past = await say(emulator, STAFF, "25:99")
    assert past["text"].startswith("Bạn vui lòng nhập giờ gửi")
    before = len(emulator.sent(STAFF))
    emulator.press_button(STAFF, callback_data(when, "Gửi ngay"), message_id=when["message_id"])
    shown, summary = (await emulator.wait_for_sent(STAFF, before + 2))[-2:]
    assert shown["text"] == (
        "📢 Thông báo tới bà con Phường Bến Thành:\n\n"
        "Chiều nay 15h phun thuốc diệt muỗi khu phố 3.\n\n"
        "Để không nhận thông báo nữa, bạn gõ /tatthongbao."
    )
    assert "Số người nhận hiện tại: 5" in summary["text"]
    assert labels(summary) == ["Gửi", "Hủy"]
    going = await press(emulator, STAFF, summary, "Gửi")
    assert going["text"].startswith("Thông báo #1 đang được gửi đi.")

    await finished(service, emulator)
    assert received(emulator, citizens) == Counter(dict.fromkeys(citizens, 1))
    assert emulator.sent(citizens[0])[0]["text"] == shown["text"]
    assert received(emulator, [20_100, 20_200, 20_300]) == Counter(
        {20_100: 0, 20_200: 0, 20_300: 1}
    )
    report = (await emulator.wait_for_sent(STAFF, before + 5))[-1]
    assert report["text"].startswith("Thông báo #1 tới Phường Bến Thành: đã gửi xong")
    assert "Đã gửi: 5" in report["text"]
    async with service.db.read_scope() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert "broadcast_sent" in actions


async def _done(service: Service, broadcast_id: int = 1) -> bool:
    return await status_of(service.db, broadcast_id) == "done"


def poster_png() -> bytes:
    """A small real picture, as a phone would send."""
    out = io.BytesIO()
    Image.new("RGB", (120, 80), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def test_a_picture_goes_by_file_id(service: Service, emulator) -> None:
    await add_citizens(service.db, [21_001, 21_002], ward=BT)
    await consent(emulator, STAFF)
    await say(emulator, STAFF, "/thongbao")
    before = len(emulator.sent(STAFF))
    emulator.user_photo(STAFF, poster_png(), caption="Lịch tiêm tuần này")
    area = (await emulator.wait_for_sent(STAFF, before + 1))[-1]
    groups = await press(emulator, STAFF, area, "Tất cả xã, phường của tôi")
    when = await press(emulator, STAFF, groups, "Tất cả các nhóm")
    before = len(emulator.sent(STAFF))
    emulator.press_button(STAFF, callback_data(when, "Gửi ngay"), message_id=when["message_id"])
    shown, summary = (await emulator.wait_for_sent(STAFF, before + 2))[-2:]
    assert shown["method"] == "sendPhoto" and shown["caption"].endswith("/tatthongbao.")
    await press(emulator, STAFF, summary, "Gửi")
    await finished(service, emulator)
    (poster,) = emulator.sent(21_001)
    assert poster["method"] == "sendPhoto" and isinstance(poster["params"]["photo"], str)
    assert poster["photo_bytes"] is None  # a reference to the staff's photo, not an upload


async def test_scheduled_broadcast_waits_and_can_be_stopped(
    service: Service, emulator, clock: Clock
) -> None:
    await add_citizens(service.db, [22_001], ward=BT)
    await consent(emulator, STAFF)
    await say(emulator, STAFF, "/thongbao")
    picture = await say(emulator, STAFF, "Họp tổ dân phố tối mai.")
    area = await press(emulator, STAFF, picture, "Không kèm ảnh")
    groups = await press(emulator, STAFF, area, "Tất cả xã, phường của tôi")
    await press(emulator, STAFF, groups, "Tất cả các nhóm")
    later = (clock() + timedelta(hours=3)).astimezone(TIMEZONE)
    before = len(emulator.sent(STAFF))
    emulator.user_text(STAFF, later.strftime("%H:%M %d/%m/%Y"))
    summary = (await emulator.wait_for_sent(STAFF, before + 2))[-1]
    assert "Thời gian gửi: " in summary["text"]
    scheduled = await press(emulator, STAFF, summary, "Gửi")
    assert scheduled["text"].startswith("Thông báo #1 sẽ được gửi vào")
    await quiet(service, emulator)
    assert emulator.sent(22_001) == []
    stopped = await press(emulator, STAFF, scheduled, "Dừng #1")
    assert stopped["text"] == "Đã dừng thông báo #1: sẽ không gửi thêm tin nào nữa."
    clock.advance(timedelta(hours=4))
    await quiet(service, emulator)
    assert emulator.sent(22_001) == []
    assert await status_of(service.db) == "cancelled"
    again = await press(emulator, STAFF, scheduled, "Dừng #1")
    assert again["text"] == "Thông báo #1 đã kết thúc trước đó; không có gì thay đổi."


async def test_citizens_cannot_press_staff_buttons(service: Service, emulator) -> None:
    await add_citizens(service.db, [23_100], ward=BT)
    preview = await compose(emulator, "Thông báo thử")
    await press(emulator, STAFF, preview, "Gửi")
    citizen = 23_001
    menu = await consent(emulator, citizen)
    emulator.press_button(citizen, "bc:stop:1", message_id=menu["message_id"])  # forged
    (reply,) = (await emulator.wait_for_sent(citizen, 3))[-1:]
    assert reply["text"] == "Menu này đã hết hạn. Mời bạn dùng menu mới bên dưới."


async def test_two_thousand_with_blocked_and_rate_limits_each_once(
    service: Service, emulator, small_batches: None, env: str, capsys
) -> None:
    chats = list(range(100_001, 102_001))
    await add_citizens(service.db, chats, ward=BT)
    blocked = chats[::40]  # 50 citizens blocked the bot
    for chat in blocked:
        emulator.block_chat(chat)
    emulator.fail_next("sendMessage", status=429, retry_after=1, times=5)
    async with service.db.session_scope() as session:
        draft = broadcasts.Draft(
            text="Tiêm mũi nhắc lại từ thứ Hai.",
            audience=Audience((BT,)),
            send_at=service.clock(),
            staff_chat=ChatRef("telegram", str(STAFF)),
        )
        await broadcasts.create(session, draft, actor="test", now=service.clock())
    service.sender.wake()
    await finished(service, emulator, timeout=60)
    counts = received(emulator, chats)
    assert {chat: n for chat, n in counts.items() if chat not in blocked} == dict.fromkeys(
        [c for c in chats if c not in blocked], 1
    )
    assert all(counts[chat] == 0 for chat in blocked)
    limited = [c for c in emulator.calls if c.method == "sendMessage" and c.status == 429]
    assert len(limited) == 5
    async with service.db.read_scope() as session:
        found = await session.get(Broadcast, 1)
        assert found is not None
        result = await broadcasts.report(session, found)
        unreachable = await session.scalar(
            select(func.count()).select_from(Account).where(Account.unreachable_at.is_not(None))
        )
    assert (result.sent, result.blocked, result.failed, result.waiting) == (1950, 50, 0, 0)
    assert unreachable == 50
    edit = await final_edit(emulator)
    assert edit["text"].startswith("Thông báo #1 tới Phường Bến Thành: đã gửi xong")
    assert "Đã gửi: 1.950" in emulator.sent(STAFF)[-1]["text"]
    assert await asyncio.to_thread(main, ["broadcast", "report", "1"], clock=service.clock) == 0
    printed = capsys.readouterr().out
    assert "Sent: 1,950" in printed and "Blocked the bot or unreachable: 50" in printed


async def test_the_report_replaces_a_progress_message_that_was_late(
    service: Service, emulator
) -> None:
    """The staff chat is held up (429) while the citizens' copies go: the report still lands."""
    citizens = [23_001, 23_002, 23_003]
    await add_citizens(service.db, citizens, ward=BT)
    emulator.fail_next("sendMessage", status=429, retry_after=2, chat_id=STAFF)
    async with service.db.session_scope() as session:
        draft = broadcasts.Draft(
            text="Nghỉ tiêm chiều nay.",
            audience=Audience((BT,)),
            send_at=service.clock(),
            staff_chat=ChatRef("telegram", str(STAFF)),
        )
        await broadcasts.create(session, draft, actor="test", now=service.clock())
    service.sender.wake()
    await finished(service, emulator, timeout=30)
    assert received(emulator, citizens) == Counter(dict.fromkeys(citizens, 1))
    edit = await final_edit(emulator)
    progress = emulator.sent(STAFF)[0]
    assert progress["method"] == "sendMessage" and "Dừng gửi" in str(progress["params"])
    assert edit["text"].startswith("Thông báo #1 tới Phường Bến Thành: đã gửi xong")


async def test_stopping_mid_way_sends_nothing_more(
    fast_settings: Settings, emulator, clock: Clock, small_batches: None
) -> None:
    slow = replace(fast_settings, telegram_rate_per_s=100)  # slow enough to stop half way
    async with staffed(slow, clock) as service:
        await _stop_mid_way(service, emulator, clock)


async def _stop_mid_way(service: Service, emulator: TelegramEmulator, clock: Clock) -> None:
    chats = list(range(110_001, 112_001))
    await add_citizens(service.db, chats, ward=BT)
    preview = await compose(emulator, "Cắt nước ngày mai.")
    await press(emulator, STAFF, preview, "Gửi")
    progress = await _progress_message(emulator)
    await emulator.wait_until(lambda: _sent_at_least(emulator, chats, 200), timeout=20)
    stopped = await press(emulator, STAFF, progress, "Dừng gửi")
    assert stopped["text"] == "Đã dừng thông báo #1: sẽ không gửi thêm tin nào nữa."
    await quiet(service, emulator)
    sent_then = sum(received(emulator, chats).values())
    clock.advance(broadcasts.TICK * 2)  # its next steps come due
    await quiet(service, emulator)
    assert sum(received(emulator, chats).values()) == sent_then < 2000
    async with service.db.read_scope() as session:
        found = await session.get(Broadcast, 1)
        assert found is not None
        result = await broadcasts.report(session, found)
        waiting = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_(("pending", "sending")))
        )
    assert (result.sent, result.cancelled, result.waiting) == (sent_then, 2000 - sent_then, 0)
    assert waiting == 0
    assert all(n <= 1 for n in received(emulator, chats).values())
    final = await final_edit(emulator, then_report=False)
    assert "Không gửi (đã dừng): " in final["text"]


async def _progress_message(emulator: TelegramEmulator) -> Message:
    def found() -> list[Message]:
        return [m for m in emulator.sent(STAFF) if "Dừng gửi" in labels(m)]

    await emulator.wait_until(lambda: bool(found()), timeout=10)
    return found()[0]


def _sent_at_least(emulator: TelegramEmulator, chats: list[int], count: int) -> bool:
    return sum(received(emulator, chats).values()) >= count


async def test_a_restart_mid_broadcast_resumes_and_sends_nobody_twice(
    fast_settings: Settings, emulator, clock: Clock, small_batches: None
) -> None:
    chats = list(range(120_001, 122_001))
    first = build_service(replace(fast_settings, telegram_rate_per_s=200), clock=clock)
    async with running(first):
        await add_citizens(first.db, chats, ward=BT)
        async with first.db.session_scope() as session:
            draft = broadcasts.Draft("Mất điện sáng mai.", Audience((BT,)), first.clock())
            await broadcasts.create(session, draft, actor="test", now=first.clock())
        await emulator.wait_until(lambda: _sent_at_least(emulator, chats, 500), timeout=20)
    halfway = sum(received(emulator, chats).values())
    assert halfway < 2000
    second = build_service(fast_settings, clock=clock)
    async with running(second):
        # No staff chat: nothing but the broadcast's row tells that its last job ran.
        await eventually(lambda: _done(second), timeout=60)
    assert received(emulator, chats) == Counter(dict.fromkeys(chats, 1))


async def test_kill_9_mid_broadcast_then_restart_reaches_everyone(
    db_url: str, emulator: TelegramEmulator, tmp_path: Path
) -> None:
    """A process killed outright: every citizen gets it, and only what was on the wire twice."""
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "VAR_DIR": str(tmp_path),
        "DATA_KEY": generate_key(),
        "TELEGRAM_BOT_TOKEN": emulator.token,
        "TELEGRAM_API_BASE_URL": emulator.base_url,
        "TELEGRAM_RATE_PER_S": "200",
        "HTTP_PORT": "0",
        "LOG_LEVEL": "WARNING",
    }
    chats = list(range(130_001, 132_001))
    log = tmp_path / "bot.log"
    with serving(env, log) as process:
        await started(emulator, process, log)
        db = Database(db_url)
        await add_citizens(db, chats, ward=BT)
        async with db.session_scope() as session:
            # The process under test runs on the machine's clock, which is later than the test
            # clock's fixed start: a broadcast sent "now" by the test clock is due at once.
            now = Clock()()
            draft = broadcasts.Draft("Ngưng cấp nước.", Audience((BT,)), now)
            await broadcasts.create(session, draft, actor="test", now=now)
        await emulator.wait_until(lambda: _sent_at_least(emulator, chats, 400), timeout=20)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    with serving(env, log) as process:
        await started(emulator, process, log)
        await eventually(lambda: _finished(db), timeout=120)  # another process's work
    counts = received(emulator, chats)
    assert min(counts.values()) == 1  # nobody lost
    # Only messages on the wire, or sent but not yet recorded, when the process died.
    assert sum(counts.values()) - len(chats) <= 20
    await db.dispose()


async def _finished(db: Any) -> bool:
    return await status_of(db) == "done"


async def test_web_chat_staff_see_progress_redrawn_in_place(svc: Service, clock: Clock) -> None:
    """On the web chat the progress message is a row the page redraws (`replaces`)."""
    async with svc.db.session_scope() as session:
        await staff.add_staff(
            session,
            channel="web",
            user_id="staff-web",
            role="admin",
            name=None,
            wards=[],
            sites=[],
            now=clock(),
        )
    await add_citizens(svc.db, [24_001, 24_002], ward=SG, channel="web")
    officer = Citizen(svc, "staff-web")
    await officer.consent()
    await officer.say("/thongbao")
    await officer.say("Lịch tiêm tuần sau đã có.")
    await officer.press("Không kèm ảnh")
    assert (await officer.say("hồ chí minh"))[0].startswith("Những nhóm ưu tiên nào?")
    await officer.press("Tất cả các nhóm")
    shown, summary = await officer.press("Gửi ngay")
    assert shown.startswith("📢 Thông báo tới bà con Thành phố Hồ Chí Minh:")
    assert "Địa bàn: toàn bộ Thành phố Hồ Chí Minh" in summary
    await officer.press("Gửi")
    sender = asyncio.create_task(svc.sender.run())
    try:
        scheduler = Scheduler(svc.db, JOB_KINDS, settings=svc.settings, clock=clock)
        for _ in range(4):  # start, then progress edits every 5 s, then the end
            await scheduler.tick()
            await svc.sender.drained()
            clock.advance(timedelta(seconds=6))
        await svc.sender.flush()
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
    await officer.replies()
    async with svc.db.read_scope() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.chat_id == "staff-web")
                .order_by(OutboxMessage.id)
            )
        ).all()
    (progress,) = [
        r for r in rows for row in r.body.get("buttons", []) if ["Dừng gửi", "bc:stop:1"] in row
    ]
    edits = [r for r in rows if r.body.get("replaces")]
    assert edits and {r.body["replaces"] for r in edits} == {progress.id}
    assert edits[-1].body["text"].startswith("Thông báo #1 tới Thành phố Hồ Chí Minh: đã gửi xong")
