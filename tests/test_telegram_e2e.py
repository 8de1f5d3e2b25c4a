"""The whole service against the Telegram emulator, over real HTTP: what a citizen would see."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import build_service, running
from bot.config import ConfigError, Settings
from storage.models import Account, ConsentEvent, OutboxMessage
from tests.chat import callback_data, consent, labels, press, say
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.quiet import quiet

CHAT = 5001
NO_DESK = "Tôi đã nhờ nhân viên hỗ trợ giúp bạn"  # no desk: the console's inbox has it
KEPT = "Thông tin bạn đã nhập vẫn được giữ: bạn trả lời câu hỏi gần nhất để tiếp tục."
MENU = [
    "Đăng ký tiêm",
    "Kết quả xét nghiệm",
    "Giấy chứng nhận",
    "Hỗ trợ",
    "Lịch hẹn của tôi",
    "Mã QR xét nghiệm",
]


async def test_start_shows_vietnamese_welcome_and_consent(service, emulator) -> None:
    welcome = await say(emulator, CHAT, "/start")
    assert welcome["text"].startswith("Xin chào! Tôi là trợ lý sức khỏe công dân.")
    assert "dữ liệu cá nhân nhạy cảm" in welcome["text"]
    assert labels(welcome) == ["Tôi đồng ý", "Không đồng ý"]
    assert len(callback_data(welcome, "Tôi đồng ý").encode()) <= 64


async def test_any_first_message_asks_consent_before_anything(service, emulator) -> None:
    reply = await say(emulator, CHAT, "kq xn")
    assert labels(reply) == ["Tôi đồng ý", "Không đồng ý"]


async def test_consent_is_recorded_and_menu_shown(service, emulator) -> None:
    menu = await consent(emulator, CHAT)
    assert menu["text"] == "Cảm ơn bạn! Hôm nay tôi có thể giúp gì cho bạn?"
    assert labels(menu) == MENU
    async with service.db.read_scope() as session:
        account = (
            await session.execute(select(Account).where(Account.channel == "telegram"))
        ).scalar_one()
        events = list(
            (
                await session.execute(
                    select(ConsentEvent).where(ConsentEvent.account_id == account.id)
                )
            ).scalars()
        )
    assert account.consent_version == "2026-11" and account.consented_at is not None
    assert [(e.granted, e.version) for e in events] == [(True, "2026-11")]


async def test_refusing_consent_collects_nothing(service, emulator) -> None:
    welcome = await say(emulator, CHAT, "/start")
    reply = await press(emulator, CHAT, welcome, "Không đồng ý")
    assert "không thu thập dữ liệu cá nhân" in reply["text"]
    again = await say(emulator, CHAT, "/sodienthoai")
    assert labels(again) == ["Tôi đồng ý", "Không đồng ý"]


@pytest.mark.parametrize("text", ["ho tro", "Hỗ trợ", "cho toi noi chuyen voi nguoi that"])
async def test_free_text_intents(service, emulator, text: str) -> None:
    await consent(emulator, CHAT)
    reply = await say(emulator, CHAT, text)
    assert reply["text"].startswith(NO_DESK)  # no SUPPORT_CHAT_ID here: the console has it


@pytest.mark.parametrize(
    "text", ["Đăng ký tiêm", "dang ky tiem", "đk", "ĐĂNG KÍ TIÊM!!", "/dangky"]
)
async def test_registration_opens_from_text_and_command(service, emulator, text: str) -> None:
    await consent(emulator, CHAT)
    reply = await say(emulator, CHAT, text)
    assert labels(reply) == ["Bản thân tôi", "Người thân"]


async def test_menu_buttons_and_commands(service, emulator) -> None:
    menu = await consent(emulator, CHAT)
    reply = await press(emulator, CHAT, menu, "Giấy chứng nhận")
    assert reply["text"].startswith("Tài khoản này chưa có giấy chứng nhận nào.")
    reply = await say(emulator, CHAT, "gcn")
    assert reply["text"].startswith("Tài khoản này chưa có giấy chứng nhận nào.")
    reply = await say(emulator, CHAT, "/hotro")
    assert reply["text"].startswith(NO_DESK)
    assert emulator.answered_callbacks, "every button press must be answered"


async def test_duplicate_update_is_handled_once(service, emulator) -> None:
    update = emulator.user_command(CHAT, "/start")
    await emulator.wait_for_sent(CHAT, 1)
    emulator.queue_update(update)
    await emulator.wait_until_consumed()
    emulator.user_command(CHAT, "/help")
    sent = await emulator.wait_for_sent(CHAT, 2)
    await quiet(service, emulator)
    assert len(emulator.sent(CHAT)) == 2
    assert sent[1]["text"].startswith("Bạn có thể dùng các lệnh sau")


async def test_rate_limited_send_is_retried_after_retry_after(service, emulator) -> None:
    emulator.fail_next("sendMessage", status=429, retry_after=1, chat_id=CHAT)
    emulator.user_command(CHAT, "/start")
    (_welcome,) = await emulator.wait_for_sent(CHAT, 1, timeout=10)
    failed = [c for c in emulator.calls if c.method == "sendMessage" and c.status == 429]
    assert len(failed) == 1
    assert emulator.sent_times(CHAT)[0] - failed[0].time >= 0.9
    await quiet(service, emulator)
    async with service.db.read_scope() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
    assert (row.status, row.attempts) == ("sent", 0)  # a 429 is waited out, not counted
    assert "retry after" in (row.last_error or "")


async def test_blocked_bot_marks_account_unreachable(service, emulator) -> None:
    await consent(emulator, CHAT)
    emulator.block_chat(CHAT)
    emulator.user_text(CHAT, "kq")
    await quiet(service, emulator)
    async with service.db.read_scope() as session:
        account = (
            await session.execute(select(Account).where(Account.channel == "telegram"))
        ).scalar_one()
        statuses = [m.status for m in (await session.execute(select(OutboxMessage))).scalars()]
    assert account.unreachable_at is not None
    assert "blocked" in (account.unreachable_reason or "")
    assert statuses[-1] == "blocked"


async def test_server_errors_are_retried_with_backoff(service, emulator) -> None:
    emulator.fail_next("sendMessage", status=502, chat_id=CHAT)
    emulator.user_command(CHAT, "/help")
    (reply,) = await emulator.wait_for_sent(CHAT, 1, timeout=10)
    assert reply["text"].startswith("Bạn có thể dùng các lệnh sau")
    failed = [c for c in emulator.calls if c.status == 502]
    assert emulator.sent_times(CHAT)[0] - failed[0].time >= 1.5  # first backoff is 2 s


async def test_restart_mid_flow_continues_at_same_step(
    telegram_settings: Settings, emulator: TelegramEmulator, clock: Clock
) -> None:
    first = build_service(telegram_settings, clock=clock)
    async with running(first):
        await consent(emulator, CHAT)
        ask = await say(emulator, CHAT, "/sodienthoai")
        assert ask["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    second = build_service(telegram_settings, clock=clock)
    async with running(second):
        confirm = await say(emulator, CHAT, "0912 345 678")
        assert confirm["text"] == "Số điện thoại của bạn là +84 91* *** 678, đúng không ạ?"
        saved = await press(emulator, CHAT, confirm, "Đúng, lưu lại")
        assert saved["text"].startswith("Đã lưu số +84 91* *** 678.")


async def test_shared_contact_must_be_the_users_own(service, emulator) -> None:
    await consent(emulator, CHAT)
    await say(emulator, CHAT, "/sodienthoai")
    before = len(emulator.sent(CHAT))
    emulator.user_contact(CHAT, "+84912345678", contact_user_id=999)
    (refused,) = (await emulator.wait_for_sent(CHAT, before + 1))[-1:]
    assert "của chính mình" in refused["text"]
    emulator.user_contact(CHAT, "84912345678", contact_user_id=CHAT)
    confirm = (await emulator.wait_for_sent(CHAT, before + 2))[-1]
    assert "+84 91* *** 678" in confirm["text"]


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (lambda emu: emu.user_text(CHAT, "😀😀😀"), "Xin lỗi, tôi chưa hiểu ý bạn."),
        (lambda emu: emu.user_text(CHAT, "a" * 5000), "Tin nhắn của bạn dài quá (5000 ký tự)."),
        (lambda emu: emu.user_sticker(CHAT), "Cảm ơn bạn! Hiện tôi chỉ đọc được tin nhắn chữ"),
        (
            lambda emu: emu.user_photo(CHAT, b"\x89PNG fake"),
            "Không mở được tệp này dưới dạng ảnh. Bạn vui lòng gửi ảnh chụp mã QR.",
        ),
        (lambda emu: emu.user_command(CHAT, "/xyz"), "Xin lỗi, tôi không nhận ra lệnh /xyz."),
    ],
    ids=["emoji", "5000-chars", "sticker", "photo", "unknown-command"],
)
async def test_bad_input_gets_a_kind_answer(service, emulator, send, expected) -> None:
    await consent(emulator, CHAT)
    send(emulator)
    reply = (await emulator.wait_for_sent(CHAT, 3))[-1]
    assert reply["text"].startswith(expected)


async def test_bad_input_in_a_flow_keeps_the_step(service, emulator) -> None:
    await consent(emulator, CHAT)
    await say(emulator, CHAT, "/sodienthoai")
    emulator.user_photo(CHAT, b"\x89PNG fake")
    photo_reply = (await emulator.wait_for_sent(CHAT, 4))[-1]
    assert photo_reply["text"].startswith("Không mở được tệp này dưới dạng ảnh.")
    assert photo_reply["text"].endswith("bạn trả lời câu hỏi gần nhất để tiếp tục.")
    emulator.user_sticker(CHAT)
    sticker_reply = (await emulator.wait_for_sent(CHAT, 5))[-1]
    assert sticker_reply["text"].startswith("Số này chưa đúng dạng số di động Việt Nam")
    long_reply = await say(emulator, CHAT, "9" * 5000)
    assert long_reply["text"].startswith("Tin nhắn của bạn dài quá")
    unknown = await say(emulator, CHAT, "/abc")
    assert unknown["text"].startswith("Xin lỗi, tôi không nhận ra lệnh /abc.")
    confirm = await say(emulator, CHAT, "+84 912 345 678")
    assert "+84 91* *** 678" in confirm["text"]


async def test_old_button_after_step_changed_is_expired(service, emulator) -> None:
    await consent(emulator, CHAT)
    await say(emulator, CHAT, "/sodienthoai")
    confirm = await say(emulator, CHAT, "0912345678")
    await press(emulator, CHAT, confirm, "Đúng, lưu lại")
    stale = await press(emulator, CHAT, confirm, "Không, nhập lại")
    assert stale["text"] == "Menu này đã hết hạn. Mời bạn dùng menu mới bên dưới."
    assert labels(stale) == MENU


async def test_old_main_menu_buttons_keep_working(service, emulator) -> None:
    menu = await consent(emulator, CHAT)
    await say(emulator, CHAT, "/help")
    reply = await press(emulator, CHAT, menu, "Hỗ trợ")
    assert reply["text"].startswith(NO_DESK)


async def test_idle_conversation_is_reset_politely(service, emulator, clock: Clock) -> None:
    await consent(emulator, CHAT)
    await say(emulator, CHAT, "/sodienthoai")
    clock.advance(timedelta(hours=service.settings.conversation_idle_hours + 1))
    before = len(emulator.sent(CHAT))
    emulator.user_text(CHAT, "0912345678")
    notice, answer = (await emulator.wait_for_sent(CHAT, before + 2))[-2:]
    assert notice["text"].startswith("Phiên trò chuyện trước của bạn đã được đóng lại")
    assert "24 giờ" in notice["text"]
    assert answer["text"].startswith("Xin lỗi, tôi chưa hiểu ý bạn.")


async def test_replies_within_a_chat_respect_the_per_chat_rate(service, emulator) -> None:
    await consent(emulator, CHAT)
    for _ in range(5):
        emulator.user_command(CHAT, "/help")
    await emulator.wait_for_sent(CHAT, 7, timeout=10)
    times = emulator.sent_times(CHAT)[2:]
    # burst of 3 allowed, then about one message per second
    assert times[-1] - times[0] >= 1.5


async def test_english_speaker_gets_english(service, emulator) -> None:
    welcome = await say(emulator, CHAT, "/start", language_code="en-US")
    assert welcome["text"].startswith("Hello! I am the citizen health assistant.")
    menu = await press(emulator, CHAT, welcome, "I agree")
    assert labels(menu) == [
        "Register for vaccination",
        "Test results",
        "Certificates",
        "Support",
        "My appointments",
        "PCR test QR",
    ]
    choose = await say(emulator, CHAT, "/ngonngu")
    done = await press(emulator, CHAT, choose, "Tiếng Việt")
    assert done["text"].startswith("Đã chuyển sang tiếng Việt.")


async def test_commands_are_published(service, emulator) -> None:
    await emulator.wait_for_call(
        "setMyCommands", lambda call: call.params.get("language_code") == "en"
    )
    assert [c["command"] for c in emulator.commands[""]][:2] == ["start", "dangky"]
    assert emulator.commands[""][1]["description"] == "Đăng ký tiêm"
    assert emulator.commands["en"][1]["description"] == "Register for vaccination"


async def test_webhook_refuses_a_wrong_secret(
    telegram_settings: Settings, emulator: TelegramEmulator, clock: Clock
) -> None:
    settings = replace(
        telegram_settings,
        telegram_mode="webhook",
        telegram_webhook_secret="s3cret-token_1",
        telegram_webhook_url="https://bot.example.vn/telegram/webhook",
    )
    svc = build_service(settings, clock=clock)
    async with running(svc) as runner:
        (address,) = [a for a in runner.addresses if len(a) == 2]
        url = f"http://127.0.0.1:{address[1]}/telegram/webhook"
        update = {
            "update_id": 77,
            "message": {
                "message_id": 1,
                "date": 0,
                "text": "/start",
                "chat": {"id": CHAT, "type": "private"},
                "from": {"id": CHAT, "is_bot": False, "first_name": "An", "language_code": "vi"},
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        assert await emulator.deliver_webhook(url, update) == 401
        assert await emulator.deliver_webhook(url, update, secret_token="wrong") == 401
        await quiet(svc, emulator)
        assert emulator.sent(CHAT) == []
        assert await emulator.deliver_webhook(url, update, secret_token="s3cret-token_1") == 200
        (welcome,) = await emulator.wait_for_sent(CHAT, 1)
        assert welcome["text"].startswith("Xin chào!")
        assert emulator.webhook["url"] == "https://bot.example.vn/telegram/webhook"
        assert emulator.webhook["secret_token"] == "s3cret-token_1"


async def test_a_retried_reply_keeps_its_place_in_the_chat(service, emulator) -> None:
    await consent(emulator, CHAT)
    before = len(emulator.sent(CHAT))
    emulator.fail_next("sendMessage", status=502, chat_id=CHAT)
    emulator.user_command(CHAT, "/help")
    await emulator.wait_for_call("sendMessage", lambda call: call.status == 502)
    emulator.user_command(CHAT, "/xemdulieu")
    first, second = (await emulator.wait_for_sent(CHAT, before + 2, timeout=10))[before:]
    assert first["text"].startswith("Bạn có thể dùng các lệnh sau")
    assert second["text"].startswith("Dữ liệu chúng tôi đang lưu về bạn")


async def test_group_chats_are_refused_and_nothing_is_stored(service, emulator) -> None:
    group = -100123
    emulator.queue_update(
        {
            "update_id": 990001,
            "message": {
                "message_id": 5,
                "date": 0,
                "text": "kq",
                "chat": {"id": group, "type": "group", "title": "Tổ dân phố 3"},
                "from": {"id": 77, "is_bot": False, "first_name": "Lan", "language_code": "vi"},
            },
        }
    )
    (reply,) = await emulator.wait_for_sent(group, 1)
    assert reply["text"].startswith("Để bảo vệ dữ liệu cá nhân của bạn, tôi chỉ trò chuyện riêng.")
    async with service.db.read_scope() as session:
        stored = (
            await session.execute(select(Account).where(Account.chat_id == str(group)))
        ).all()
    assert stored == []


async def test_main_menu_buttons_work_inside_a_flow(service, emulator) -> None:
    menu = await consent(emulator, CHAT)
    await say(emulator, CHAT, "/sodienthoai")
    reply = await press(emulator, CHAT, menu, "Hỗ trợ")
    assert reply["text"].startswith(NO_DESK)
    ended = await say(emulator, CHAT, "/huy")
    assert ended["text"].endswith(KEPT)  # the phone question still waits for its answer


async def test_logs_carry_no_phone_number(service, emulator, caplog) -> None:
    caplog.set_level("DEBUG")
    await consent(emulator, CHAT)
    await say(emulator, CHAT, "/sodienthoai")
    confirm = await say(emulator, CHAT, "0912 345 678")
    await press(emulator, CHAT, confirm, "Đúng, lưu lại")
    logged = caplog.text.replace(" ", "")
    assert "912345678" not in logged and "0912" not in logged


async def test_a_refused_token_stops_start_up_in_one_line(
    telegram_settings: Settings, clock: Clock
) -> None:
    settings = replace(telegram_settings, telegram_bot_token="999:refused-token")
    with pytest.raises(ConfigError) as refused:
        async with running(build_service(settings, clock=clock)):
            pass
    assert str(refused.value) == "TELEGRAM_BOT_TOKEN was refused by Telegram"
