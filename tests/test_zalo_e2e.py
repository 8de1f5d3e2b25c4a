"""The citizen service on a Zalo Official Account, over HTTP against the Zalo OA emulator.

The emulator posts signed webhook events to the running service and answers its API calls as
Zalo does (HTTP 200 with an error code), with injectable errors.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import UPDATE_MEMORY, Service, build_service, running
from bot.channels.zalo import oa_api as zalo
from bot.channels.zalo import tokens as zalo_tokens
from bot.config import MAX_ZALO_EVENT_WINDOW_S, Settings
from bot.domain import notices
from bot.handlers.privacy import CONSENT_VERSION
from bot.i18n import TIMEZONE
from storage import outbox, updates
from storage.models import Account, Booking, InboundEvent, OutboxMessage, Person, PlatformToken
from tests.conftest import ZALO_TEMPLATE as TEMPLATE
from tests.conftest import Clock
from tests.fakes.zalo_api import ZaloEmulator
from tests.quiet import quiet
from tests.test_certificates import give_dose, register
from tests.test_pcr_citizen import sample_and_result

CODE = re.compile(r"\b([2-9A-HJKMNP-Z]{7})\b")
USER = "7001234567890123456"  # Zalo ids are strings beyond 2**53
SECOND = timedelta(seconds=1)
Message = dict[str, Any]


@contextlib.asynccontextmanager
async def serving(settings: Settings, clock: Clock, zemu: ZaloEmulator) -> AsyncIterator[Service]:
    """The running service, its webhook URL given to the emulator."""
    svc = build_service(settings, clock=clock)
    async with running(svc) as runner:
        (address,) = [a for a in runner.addresses if len(a) == 2]
        zemu.webhook_url = f"http://{address[0]}:{address[1]}/zalo/webhook"
        yield svc


@pytest.fixture
async def service(
    zalo_settings: Settings, clock: Clock, zemu: ZaloEmulator
) -> AsyncIterator[Service]:
    async with serving(zalo_settings, clock, zemu) as svc:
        yield svc


async def settle(
    service: Service, zemu: ZaloEmulator, before: int, user: str = USER
) -> list[Message]:
    """The bot's messages after the first `before` (one at least), once all are out."""
    await zemu.wait_for_sent(user, before + 1)
    await quiet(service, zemu)
    return zemu.sent(user)[before:]


async def say(service: Service, zemu: ZaloEmulator, text: str, user: str = USER) -> list[Message]:
    before = len(zemu.sent(user))
    assert await zemu.user_text(user, text) == 200
    return await settle(service, zemu, before, user)


async def press(
    service: Service, zemu: ZaloEmulator, message: Message, title: str
) -> list[Message]:
    before = len(zemu.sent(USER))
    assert await zemu.press(USER, message, title) == 200
    return await settle(service, zemu, before)


def titles(message: Message) -> list[str]:
    return [title for title, _kind, _payload in message["buttons"]]


async def consent(service: Service, zemu: ZaloEmulator) -> Message:
    """Follow the OA, read the welcome, agree: the main menu."""
    assert await zemu.follow(USER) == 200
    (welcome,) = await settle(service, zemu, 0)
    assert titles(welcome) == ["Tôi đồng ý", "Không đồng ý"]
    (menu,) = await press(service, zemu, welcome, "Tôi đồng ý")
    return menu


async def test_follow_consent_and_the_menu_as_a_numbered_list(
    service: Service, zemu: ZaloEmulator
) -> None:
    menu = await consent(service, zemu)
    before = len(zemu.sent(USER))
    assert await zemu.user_location(USER) == 200
    (polite,) = await settle(service, zemu, before)
    assert polite["text"].startswith("Cảm ơn bạn! Hiện tôi chỉ đọc được tin nhắn chữ")
    assert menu["kind"] == "text"  # six entries: more than Zalo's five actions
    lines = menu["text"].splitlines()
    assert "1. Đăng ký tiêm" in lines and lines[-1] == "Nhắn số thứ tự lựa chọn của bạn (1–6)."
    (who,) = await say(service, zemu, "1")
    assert titles(who) == ["Bản thân tôi", "Người thân"]
    # A label typed without diacritics is the button.
    (name,) = await say(service, zemu, "nguoi than")
    assert name["text"].startswith("Họ tên đầy đủ của người thân")


async def test_wrong_or_missing_signatures_are_refused_and_nothing_kept(
    service: Service, zemu: ZaloEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    assert await zemu.user_text(USER, "xin chào", sign="wrong") == 401
    assert await zemu.user_text(USER, "xin chào", sign="none") == 401
    assert await zemu.post_event({"event_name": "follow"}, raw=b"{not json") == 401
    await quiet(service, zemu)
    assert zemu.sent(USER) == []
    async with service.db.read_scope() as session:
        assert await session.scalar(select(func.count()).select_from(InboundEvent)) == 0
        zalo = select(func.count()).select_from(Account).where(Account.channel == "zalo")
        assert await session.scalar(zalo) == 0
    with caplog.at_level("INFO", logger="bot.web.zalo_webhook"):
        assert await zemu.follow(USER, sign="oa_id") == 200  # some OAs sign with the OA id
        await zemu.wait_for_sent(USER, 1)
    assert "Zalo webhook signatures use the oa_id" in caplog.text


async def test_a_redelivered_event_is_answered_once(service: Service, zemu: ZaloEmulator) -> None:
    await consent(service, zemu)
    before = len(zemu.sent(USER))
    assert await zemu.user_text(USER, "menu", msg_id="dup-1") == 200
    assert await zemu.post_event(zemu.last_event, num_retry=1) == 200  # Zalo retries
    replies = await settle(service, zemu, before)  # both posts answered, the events handled
    assert len(replies) == 1 and len(zemu.sent(USER)) == before + 1


async def stored_events(service: Service) -> int:
    """Events stored and not handled yet (a handled one keeps only its key, emptied)."""
    waiting = (
        select(func.count()).select_from(InboundEvent).where(InboundEvent.handled_at.is_(None))
    )
    async with service.db.read_scope() as session:
        return int(await session.scalar(waiting) or 0)


async def outbox_rows(service: Service) -> int:
    async with service.db.read_scope() as session:
        count = select(func.count()).select_from(OutboxMessage)
        return int(await session.scalar(count.where(OutboxMessage.chat_id == USER)) or 0)


async def test_events_outside_the_time_window_are_dropped_unstored(
    service: Service, zemu: ZaloEmulator, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    window = timedelta(seconds=service.settings.zalo_event_window_s)
    assert window == timedelta(minutes=5)  # the default
    late = [timedelta(days=-400), timedelta(days=400), -window - SECOND, window + SECOND]
    with caplog.at_level("INFO", logger="bot.web.zalo_webhook"):
        for skew in late:
            assert await zemu.user_text(USER, "/start 0912345678", at=clock() + skew) == 200
    assert await stored_events(service) == 0  # stored before the answer, if at all
    lines = [r.getMessage() for r in caplog.records if r.msg.startswith("dropped")]
    assert len(lines) == len(late)
    assert (
        lines[0]
        == "dropped a signed Zalo event stamped 34560000 s behind our clock (window: 300 s)"
    )
    assert lines[1].startswith("dropped a signed Zalo event stamped 34560000 s ahead of our clock")
    assert not any(USER in line or "0912345678" in line for line in caplog.messages)
    # Just inside the window, either way, is on time (clocks differ a little).
    assert await zemu.user_text(USER, "/start", at=clock() - window + SECOND) == 200
    assert await zemu.user_text(USER, "/menu", at=clock() + window - SECOND) == 200
    await zemu.wait_for_sent(USER, 2)


async def test_a_replay_is_never_answered_twice(
    service: Service, zemu: ZaloEmulator, clock: Clock
) -> None:
    await consent(service, zemu)
    before = len(zemu.sent(USER))
    assert await zemu.user_text(USER, "menu") == 200
    replay = zemu.last_event
    assert len(await settle(service, zemu, before)) == 1
    answered = await outbox_rows(service)
    window = timedelta(seconds=service.settings.zalo_event_window_s)
    clock.advance(window - SECOND)  # inside the window: deduplication remembers it
    assert await zemu.post_event(replay) == 200
    await quiet(service, zemu)
    clock.advance(2 * SECOND)  # past the window: refused by age before deduplication is asked
    assert await zemu.post_event(replay) == 200
    assert await stored_events(service) == 0
    clock.advance(UPDATE_MEMORY)  # deduplication forgets it (the hourly clean-up) ...
    async with service.db.session_scope() as session:
        assert await updates.forget_updates_before(session, cutoff=clock() - UPDATE_MEMORY)
    assert await zemu.post_event(replay) == 200  # ... long after the window closed for it
    assert await stored_events(service) == 0
    assert await outbox_rows(service) == answered
    assert 2 * timedelta(seconds=MAX_ZALO_EVENT_WINDOW_S) < UPDATE_MEMORY


async def test_a_signed_body_too_deep_or_with_another_timestamp_is_400(
    service: Service, zemu: ZaloEmulator, clock: Clock
) -> None:
    stamp = str(int(clock().timestamp() * 1000))
    deep = b'{"event_name": "follow", "timestamp": "%s", "x": ' % stamp.encode()
    deep += b"[" * 10_000 + b"]" * 10_000 + b"}"
    assert await zemu.post_event({"timestamp": stamp}, raw=deep) == 400
    huge = b'{"event_name": "follow", "timestamp": "%s", "x": %s}' % (stamp.encode(), b"9" * 5000)
    assert await zemu.post_event({"timestamp": stamp}, raw=huge) == 400
    # Signed with a timestamp that is not the event's own (top-level) one.
    other = (
        b'{"event_name": "follow", "x": {"timestamp": "%s"}, "timestamp": "1"}' % stamp.encode()
    )
    assert await zemu.post_event({"timestamp": stamp}, raw=other) == 400
    assert await stored_events(service) == 0


async def test_the_webhook_answers_before_handling(service: Service, zemu: ZaloEmulator) -> None:
    for n in range(20):
        assert await zemu.user_text(f"9{n:018d}", "/start") == 200
    assert max(zemu.webhook_ms) < 2000
    for n in range(20):
        await zemu.wait_for_sent(f"9{n:018d}", 1)


async def test_an_expired_token_is_renewed_once_with_the_single_use_refresh_token(
    service: Service, zemu: ZaloEmulator
) -> None:
    await consent(service, zemu)
    zemu.expire_access_token()
    (menu,) = await say(service, zemu, "menu")
    assert "1. Đăng ký tiêm" in menu["text"]
    assert zemu.refreshes == 1 and zemu.refresh_tokens_used == ["RT-1"]
    zemu.expire_access_token()
    await say(service, zemu, "menu")
    assert zemu.refresh_tokens_used == ["RT-1", "RT-2"]  # each refresh token used once
    assert service.zalo_tokens is not None
    assert service.zalo_tokens.current() == zemu.access_token
    async with service.db.read_scope() as session:
        (row,) = (await session.scalars(select(PlatformToken))).all()
    assert b"AT-" not in row.access_sealed and b"RT-" not in row.refresh_sealed  # sealed
    assert service.protector.open(row.refresh_sealed) == zemu.refresh_token


async def test_a_restart_keeps_the_renewed_pair(
    zalo_settings: Settings, clock: Clock, zemu: ZaloEmulator
) -> None:
    async with serving(zalo_settings, clock, zemu) as first:
        await consent(first, zemu)
        zemu.expire_access_token()
        await say(first, zemu, "menu")
    # The configured RT-1 was spent: the stored pair must win over the configuration.
    async with serving(zalo_settings, clock, zemu) as second:
        zemu.expire_access_token()
        await say(second, zemu, "menu")
    assert zemu.refresh_tokens_used == ["RT-1", "RT-2"]


async def test_a_refused_refresh_alerts_once_and_the_reply_waits(
    service: Service,
    zemu: ZaloEmulator,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(zalo, "TOKEN_WAIT_S", 1.5)  # five minutes in service
    monkeypatch.setattr(zalo_tokens, "RETRY_FAILED", timedelta(seconds=1))
    await consent(service, zemu)
    told: list[str] = []

    async def alert(reason: str) -> None:
        told.append(reason)

    assert service.zalo_tokens is not None
    service.zalo_tokens.alert = alert
    zemu.fail_next("token", error=-14014, times=2)
    zemu.expire_access_token()
    before = len(zemu.sent(USER))
    assert await zemu.user_text(USER, "menu") == 200
    # the first try and its retry both fail (a second apart; room for a loaded machine)
    await zemu.wait_for_calls("token", 2, timeout=15)
    assert len(zemu.sent(USER)) == before and len(told) == 1
    assert "Zalo refused to renew the OA token" in caplog.text
    (menu,) = await settle(service, zemu, before)  # the third try renews the pair and sends
    assert "1. Đăng ký tiêm" in menu["text"]
    assert len(told) == 1


async def zalo_account(service: Service, *, phone: str | None = "0912345678") -> Account:
    """The emulator's user as a consenting citizen with a phone number on record."""
    async with service.db.session_scope() as session:
        account = Account(
            channel="zalo",
            chat_id=USER,
            user_id=USER,
            locale="vi",
            consent_version=CONSENT_VERSION,
            phone_sealed=service.protector.seal(phone) if phone else None,
        )
        session.add(account)
    return account


async def remind(service: Service, account: Account) -> None:
    """The appointment reminder's notice, as `bot.domain.reminders` writes it."""

    def facts() -> tuple[str, dict[str, str]]:
        return "reminder", {"name": "Lê Văn Tám", "time": "07:30 04/12/2026", "site": "Trạm Y tế"}

    async with service.db.session_scope() as session:
        found = await session.get(Account, account.id)
        notice = notices.compose_for(
            found, lambda: "Nhắc lịch: Lê Văn Tám có lịch tiêm ngày mai.", template=facts
        )
        assert notice is not None
        await outbox.enqueue(session, [notice], now=service.clock())
    service.sender.wake()


async def notify(service: Service, text: str) -> None:
    """A notice with no template to the emulator's citizen (a result ready, say)."""
    async with service.db.session_scope() as session:
        account = await session.scalar(select(Account).where(Account.chat_id == USER))
        notice = notices.compose_for(account, lambda: text)
        assert notice is not None
        await outbox.enqueue(session, [notice], now=service.clock())
    service.sender.wake()


async def row_status(service: Service) -> tuple[str, datetime]:
    async with service.db.read_scope() as session:
        row = await session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.chat_id == USER)
            .order_by(OutboxMessage.id.desc())
        )
        assert row is not None
        return row.status, row.not_before


async def test_a_reminder_outside_the_window_goes_as_a_template_by_phone(
    service: Service, zemu: ZaloEmulator
) -> None:
    account = await zalo_account(service)
    zemu.add_follower(USER)
    zemu.expire_window(USER)
    await remind(service, account)
    (sent,) = await zemu.wait_for_templates(1)
    assert sent["phone"] == "84912345678" and sent["template_id"] == TEMPLATE
    assert sent["template_data"] == {
        "customer_name": "Lê Văn Tám",
        "schedule": "07:30 04/12/2026",
        "place": "Trạm Y tế",
    }
    assert 0 < len(sent["tracking_id"]) <= 48
    assert [c.error for c in zemu.calls if c.endpoint == "cs"] == [-230]
    await quiet(service, zemu)
    assert (await row_status(service))[0] == "sent"


async def test_templates_wait_out_the_night(
    service: Service, zemu: ZaloEmulator, clock: Clock
) -> None:
    clock.set_local(23)
    account = await zalo_account(service)
    zemu.add_follower(USER)
    zemu.expire_window(USER)
    await remind(service, account)
    await quiet(service, zemu)
    assert zemu.templates == [] and zemu.call_counts["template"] == 0  # not even tried
    status, due = await row_status(service)
    assert status == "waiting" and due.astimezone(TIMEZONE).hour == 6
    clock.advance(timedelta(hours=7, minutes=1))  # 06:01
    service.sender.wake()
    await zemu.wait_for_templates(1)


async def test_a_used_up_daily_quota_waits_for_tomorrow(
    service: Service, zemu: ZaloEmulator
) -> None:
    account = await zalo_account(service)
    zemu.add_follower(USER)
    zemu.expire_window(USER)
    zemu.quota_left = 0
    await remind(service, account)
    await quiet(service, zemu)
    async with service.db.read_scope() as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.chat_id == USER))
        assert row is not None
    assert row.status == "waiting" and "daily template quota" in (row.last_error or "")
    assert row.not_before.astimezone(TIMEZONE).hour == 6
    assert row.not_before - service.clock() > timedelta(hours=1)


async def test_without_a_template_a_proactive_message_waits_for_the_citizen(
    service: Service, zemu: ZaloEmulator
) -> None:
    await consent(service, zemu)
    zemu.expire_window(USER)
    await notify(service, "Kết quả xét nghiệm của bạn đã có.")
    await quiet(service, zemu)
    assert (await row_status(service))[0] == "waiting"
    replies = await say(service, zemu, "menu")  # writing opens the window again
    texts = [m["text"] for m in replies]
    assert "Kết quả xét nghiệm của bạn đã có." in texts
    assert any("1. Đăng ký tiêm" in t for t in texts)


async def test_unfollow_marks_the_citizen_unreachable_and_a_new_follow_undoes_it(
    service: Service, zemu: ZaloEmulator
) -> None:
    await consent(service, zemu)
    assert await zemu.unfollow(USER) == 200
    await quiet(service, zemu)
    async with service.db.read_scope() as session:
        account = await session.scalar(select(Account).where(Account.chat_id == USER))
    assert account is not None
    assert account.unreachable_reason == "unfollowed"
    before = len(zemu.sent(USER))
    assert await zemu.follow(USER) == 200
    (menu,) = await settle(service, zemu, before)
    assert "Xin chào" in menu["text"] or "1. " in menu["text"]


async def test_phone_shared_through_zalo_request_user_info(
    service: Service, zemu: ZaloEmulator
) -> None:
    await consent(service, zemu)
    (ask,) = await say(service, zemu, "/sodienthoai")  # one card: the question and Zalo's share
    assert ask["kind"] == "request_user_info"
    (card,) = ask["elements"]
    assert card["title"] == "Chia sẻ số điện thoại"
    assert card["subtitle"].startswith("Bạn vui lòng cho biết số điện thoại di động")
    before = len(zemu.sent(USER))
    assert await zemu.share_info(USER, phone="84912345678") == 200
    (confirm,) = await settle(service, zemu, before)
    assert "+84 91* *** 678" in confirm["text"] and titles(confirm)[0] == "Đúng, lưu lại"


async def test_a_certificate_is_uploaded_once_and_its_photo_verified(
    service: Service, zemu: ZaloEmulator
) -> None:
    await consent(service, zemu)
    person = await register(service, USER, "Đặng Thị Ánh Nguyệt", channel="zalo")
    await give_dose(service, person)
    before = len(zemu.sent(USER))
    recorded, picture, caption = (await zemu.wait_for_sent(USER, before + 3))[before:]
    assert recorded["text"].startswith("Mũi 1 của Đặng Thị Ánh Nguyệt đã được ghi nhận")
    assert picture["kind"] == "media" and picture["text"] == "" and zemu.uploads == 1
    assert caption["text"].startswith("Chứng nhận tiêm chủng COVID-19 của Đặng Thị Ánh Nguyệt")
    image = zemu.uploaded[picture["attachment_id"]]
    before = len(zemu.sent(USER))
    assert await zemu.user_image(USER, image) == 200
    (verdict,) = await settle(service, zemu, before)
    assert verdict["text"].startswith("Giấy chứng nhận HỢP LỆ. Họ tên: Đặng Thị Ánh Nguyệt.")


def choice_text(message: Message, label: str) -> str:
    """What a citizen sends to choose `label`: the action's text, or the list's number."""
    for title, _kind, payload in message["buttons"]:
        if title == label:
            return str(payload)
    for line in message["text"].splitlines():
        number, dot, rest = line.partition(". ")
        if dot and number.isdigit() and rest == label:
            return number
    raise AssertionError(f"no choice {label!r} in {message['text']!r} {message['buttons']!r}")


def choices(message: Message) -> list[str]:
    """The labels offered by a message: its actions, or its numbered list."""
    if message["buttons"]:
        return titles(message)
    found = []
    for line in message["text"].splitlines():
        number, dot, rest = line.partition(". ")
        if dot and number.isdigit():
            found.append(rest)
    return found


async def choose(
    service: Service, zemu: ZaloEmulator, message: Message, label: str
) -> list[Message]:
    return await say(service, zemu, choice_text(message, label))


async def test_registration_and_booking_over_zalo(service: Service, zemu: ZaloEmulator) -> None:
    await consent(service, zemu)
    (who,) = await say(service, zemu, "dk tiem")
    replies = await choose(service, zemu, who, "Bản thân tôi")
    replies = await say(service, zemu, "Nguyễn Văn An")
    (confirmed,) = await say(service, zemu, "02/01/1990")  # the echo opens the next question
    assert "02/01/1990" in confirmed["text"] and "định danh" in confirmed["text"]
    replies = await say(service, zemu, "079090012345")
    (card,) = replies  # the gender read from the ID number, and the phone question: one card
    assert "Giới tính: Nam" in card["elements"][0]["subtitle"]
    assert replies[-1]["kind"] == "request_user_info"  # Zalo's way to share a phone number
    before = len(zemu.sent(USER))
    assert await zemu.share_info(USER, phone="84912345678") == 200
    replies = await settle(service, zemu, before)
    assert "+84 91* *** 678" in replies[0]["text"]
    replies = await say(service, zemu, "Sài Gòn")
    replies = await say(service, zemu, "P. Bến Thành")
    replies = await choose(service, zemu, replies[-1], choices(replies[-1])[0])
    replies = await choose(service, zemu, replies[-1], "Không có điều nào")
    for _ in range(3):
        replies = await choose(service, zemu, replies[-1], choices(replies[-1])[0])
    summary = replies[-1]
    assert "Nguyễn Văn An" in summary["text"]
    card, *rest = await choose(service, zemu, summary, "Xác nhận")
    code = CODE.search(card["text"])
    assert code is not None
    assert any(m["kind"] == "media" for m in rest)  # the appointment QR, uploaded
    async with service.db.read_scope() as session:
        booking = await session.scalar(select(Booking))
        person = await session.scalar(select(Person))
    assert booking is not None and booking.code == code.group(1)
    assert person is not None and person.full_name == "Nguyễn Văn An"


async def test_a_pcr_result_is_pushed_to_the_zalo_chat(
    service: Service, zemu: ZaloEmulator, clock: Clock
) -> None:
    await consent(service, zemu)
    person_id = await register(service, USER, "Lê Thị Hoa", channel="zalo")
    async with service.db.read_scope() as session:
        person = await session.get(Person, person_id)
    assert person is not None
    before = len(zemu.sent(USER))
    await sample_and_result(service, clock, [person], "HCM-000777", "negative")
    service.sender.wake()
    await zemu.wait_for_sent(USER, before + 2)
    sampled, result = zemu.sent(USER)[before : before + 2]
    assert sampled["text"].startswith("Đã lấy mẫu xét nghiệm cho Lê Thị Hoa: ống HCM-000777")
    assert "Lê Thị Hoa" in result["text"] and "ÂM TÍNH" in result["text"]


async def test_a_citizen_who_left_the_oa_is_marked_unreachable_on_send(
    service: Service, zemu: ZaloEmulator
) -> None:
    await consent(service, zemu)
    zemu.followers.discard(USER)  # left without an unfollow event reaching us
    await notify(service, "Lịch tiêm tuần này đã có.")
    await quiet(service, zemu)
    async with service.db.read_scope() as session:
        account = await session.scalar(select(Account).where(Account.chat_id == USER))
    assert account is not None
    assert account.unreachable_at is not None and "-213" in (account.unreachable_reason or "")
    assert (await row_status(service))[0] == "blocked"


async def test_zalos_rate_limit_is_waited_out(
    service: Service, zemu: ZaloEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zalo, "RATE_LIMIT_WAIT_S", 1.0)  # Zalo's own wait is a minute
    await consent(service, zemu)
    zemu.fail_next("cs", error=-32)
    (menu,) = await say(service, zemu, "menu")
    assert "1. Đăng ký tiêm" in menu["text"]
    assert [c.error for c in zemu.calls if c.endpoint == "cs"][-2:] == [-32, 0]


async def test_an_expired_attachment_is_uploaded_again(
    service: Service, zemu: ZaloEmulator
) -> None:
    await consent(service, zemu)
    await give_dose(service, await register(service, USER, "Võ Thị Sáu", channel="zalo"))
    before = len(zemu.sent(USER))
    await zemu.wait_for_sent(USER, before + 3)
    first = next(m for m in zemu.sent(USER) if m["kind"] == "media")["attachment_id"]
    await quiet(service, zemu)  # the attachment id is remembered once the send is recorded
    zemu.expire_attachments()  # a week later
    replies = await say(service, zemu, "/chungnhan")
    media = [m for m in replies if m["kind"] == "media"]
    if not media:  # a choice of certificate first
        replies = await choose(service, zemu, replies[-1], choices(replies[-1])[0])
        media = [m for m in replies if m["kind"] == "media"]
    assert media and media[0]["attachment_id"] != first and zemu.uploads == 2
    assert [c.error for c in zemu.calls if c.endpoint == "cs"].count(-210) == 1
