"""Tests of the Telegram Bot API emulator, driven by a real python-telegram-bot ``Bot``."""

from __future__ import annotations

import asyncio
import datetime as dtm
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakes.telegram_api import TelegramEmulator

CHAT = 84_900_001
ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(
        emu.token, base_url=f"{emu.base_url}/bot", base_file_url=f"{emu.base_url}/file/bot"
    ) as tg_bot:
        yield tg_bot


async def test_get_me(emu: TelegramEmulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.first_name) == (123456, "test_health_bot", "Sức khỏe")
    assert me.is_bot
    assert [c.method for c in emu.calls] == ["getMe", "getMe"]  # Bot.initialize() + ours


async def test_wrong_token_is_unauthorized(emu: TelegramEmulator) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot("999:wrong", base_url=f"{emu.base_url}/bot"):
            pass
    async with aiohttp.ClientSession() as http, http.get(f"{emu.base_url}/bot9:x/getMe") as r:
        assert r.status == 401
        assert await r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_raw_encodings_and_case_insensitive_methods(emu: TelegramEmulator) -> None:
    api = f"{emu.base_url}/bot{emu.token}"
    markup = {"inline_keyboard": [[{"text": "Có", "callback_data": "yes"}]]}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{api}/SENDMESSAGE", params={"chat_id": "5", "text": "q"}) as r:
            assert (await r.json())["result"]["chat"] == {
                "id": 5,
                "type": "private",
                "first_name": "An",
            }
        async with http.post(
            f"{api}/sendMessage", json={"chat_id": 5, "text": "j", "reply_markup": markup}
        ) as r:
            assert (await r.json())["result"]["reply_markup"] == markup
        form = {
            "chat_id": "5",
            "text": "123",
            "disable_notification": "true",
            "reply_markup": '{"remove_keyboard": true}',
        }
        async with http.post(f"{api}/sendmessage", data=form) as r:
            assert r.status == 200
        async with http.post(f"{api}/noSuchMethod") as r:
            assert r.status == 404
            assert await r.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    params = emu.sent(5)[2]["params"]
    assert params["text"] == "123"  # text stays a string even though it looks like JSON
    assert params["disable_notification"] is True
    assert params["reply_markup"] == {"remove_keyboard": True}
    assert [e["text"] for e in emu.sent(5)] == ["q", "j", "123"]
    assert emu.calls[-1].status == 404


async def test_get_updates_offset_confirms(emu: TelegramEmulator, bot: Bot) -> None:
    first = emu.user_text(CHAT, "xin chào")
    emu.user_command(CHAT, "/start", args="ref_42")
    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [first["update_id"], first["update_id"] + 1]
    assert updates[0].message.text == "xin chào"
    assert updates[0].message.from_user.language_code == "vi"
    assert updates[1].message.text == "/start ref_42"
    assert updates[1].message.entities[0].type == "bot_command"
    # Not confirmed yet: delivered again.
    assert len(await bot.get_updates()) == 2
    # offset = last + 1 confirms both, forever.
    assert await bot.get_updates(offset=updates[-1].update_id + 1) == ()
    await emu.wait_until_consumed(timeout=0.1)
    assert await bot.get_updates(offset=0) == ()
    # Re-delivery of the very same update keeps its update_id.
    emu.queue_update(first)
    again = await bot.get_updates(offset=updates[-1].update_id + 1)
    assert [u.update_id for u in again] == [first["update_id"]]
    assert await bot.get_updates(offset=again[0].update_id + 1) == ()


async def test_get_updates_limit_and_other_updates(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user_contact(CHAT, "+84901234567", contact_user_id=777)
    emu.user_photo(CHAT, PNG)
    emu.user_sticker(CHAT)
    (contact_update,) = await bot.get_updates(limit=1)
    contact = contact_update.message.contact
    assert (contact.phone_number, contact.user_id) == ("+84901234567", 777)
    assert contact_update.message.from_user.id == CHAT
    rest = await bot.get_updates(offset=contact_update.update_id + 1, allowed_updates=["message"])
    assert emu.allowed_updates == ["message"]
    photo_msg, sticker_msg = (u.message for u in rest)
    assert sticker_msg.sticker is not None
    tg_file = await bot.get_file(photo_msg.photo[-1].file_id)
    assert bytes(await tg_file.download_as_bytearray()) == PNG


async def test_long_poll_returns_promptly(emu: TelegramEmulator, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=60, read_timeout=70))
    await emu.wait_for_poll()
    assert not poll.done()
    emu.user_text(CHAT, "đây rồi")
    updates = await asyncio.wait_for(poll, 10)  # woken by the update, not by its deadline
    assert updates[0].message.text == "đây rồi"


async def test_long_poll_times_out_empty(emu: TelegramEmulator, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=1))
    await emu.wait_for_poll()  # it waits for updates...
    assert await poll == ()  # ...until its deadline, with none


async def test_send_message_keyboards(emu: TelegramEmulator, bot: Bot) -> None:
    inline = InlineKeyboardMarkup([[InlineKeyboardButton("Đặt lịch", callback_data="book:1")]])
    msg = await bot.send_message(CHAT, "Chọn", reply_markup=inline)
    assert msg.reply_markup == inline
    assert msg.from_user.username == "test_health_bot"
    contact_kb = ReplyKeyboardMarkup(
        [[KeyboardButton("Chia sẻ số điện thoại", request_contact=True)]], resize_keyboard=True
    )
    await bot.send_message(CHAT, "Số điện thoại?", reply_markup=contact_kb)
    await bot.send_message(CHAT, "Cảm ơn", reply_markup=ReplyKeyboardRemove())
    first, second, third = await emu.wait_for_sent(CHAT, 3)
    assert first["reply_markup"] == {
        "inline_keyboard": [[{"text": "Đặt lịch", "callback_data": "book:1"}]]
    }
    assert first["message_id"] == msg.message_id and first["method"] == "sendMessage"
    assert second["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    assert third["reply_markup"] == {"remove_keyboard": True}
    assert len(emu.sent_times(CHAT)) == 3


async def test_send_message_validation(emu: TelegramEmulator, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(CHAT, "   ")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "a" * 4097)
    # 33 Vietnamese letters = 66 UTF-8 bytes: refused although only 33 characters.
    for data in ("x" * 65, "ư" * 33):
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("B", callback_data=data)]])
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(CHAT, "hi", reply_markup=markup)
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("B", callback_data="ư" * 32)]])
    await bot.send_message(CHAT, "a" * 4096, reply_markup=ok)
    assert len(emu.sent(CHAT)) == 1
    assert [c.status for c in emu.calls if c.method == "sendMessage"] == [400] * 4 + [200]


async def test_photo_upload_get_file_download(emu: TelegramEmulator, bot: Bot) -> None:
    msg = await bot.send_photo(CHAT, photo=PNG, caption="Giấy chứng nhận")
    assert msg.caption == "Giấy chứng nhận"
    (sent,) = emu.sent(CHAT)
    assert (sent["method"], sent["photo_bytes"], sent["caption"]) == (
        "sendPhoto",
        PNG,
        "Giấy chứng nhận",
    )
    tg_file = await bot.get_file(msg.photo[-1].file_id)
    assert tg_file.file_path.startswith(f"{emu.base_url}/file/bot{emu.token}/photos/")
    assert bytes(await tg_file.download_as_bytearray()) == PNG
    # Re-sending by file_id works and uploads nothing.
    again = await bot.send_photo(CHAT, photo=msg.photo[-1].file_id)
    assert again.photo[-1].file_id == msg.photo[-1].file_id
    assert emu.sent(CHAT)[1]["photo_bytes"] is None
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(CHAT, photo="no-such-file-id")
    doc = await bot.send_document(CHAT, document=b"%PDF-1.4", filename="ket_qua.pdf")
    assert (doc.document.file_name, doc.document.mime_type) == ("ket_qua.pdf", "application/pdf")
    assert emu.sent(CHAT)[2]["document_bytes"] == b"%PDF-1.4"


async def test_callback_query_answer_and_edit(emu: TelegramEmulator, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="ok")]])
    msg = await bot.send_message(CHAT, "Xác nhận?", reply_markup=markup)
    emu.press_button(CHAT, "ok", message_id=msg.message_id)
    (update,) = await bot.get_updates()
    query = update.callback_query
    assert (query.data, query.message.message_id, query.from_user.id) == (
        "ok",
        msg.message_id,
        CHAT,
    )
    assert await bot.answer_callback_query(query.id, text="Đã xác nhận")
    assert emu.answered_callbacks[query.id]["text"] == "Đã xác nhận"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("424242")
    edited = await bot.edit_message_text("Đã xác nhận ✅", chat_id=CHAT, message_id=msg.message_id)
    assert edited.text == "Đã xác nhận ✅" and edited.reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Đã xác nhận ✅", chat_id=CHAT, message_id=msg.message_id)
    await bot.edit_message_reply_markup(CHAT, msg.message_id, reply_markup=markup)
    assert [e["method"] for e in emu.sent(CHAT)] == [
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
    ]
    call = await emu.wait_for_call("answercallbackquery", lambda c: c.status == 400)
    assert call.params["callback_query_id"] == "424242"


async def test_retry_after_injection(
    emu: TelegramEmulator, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # avoid PTB's int-retry_after deprecation warning
    emu.fail_next("sendMessage", retry_after=3)
    with pytest.raises(RetryAfter) as excinfo:
        await bot.send_message(CHAT, "một")
    assert excinfo.value.retry_after == dtm.timedelta(seconds=3)
    await bot.send_message(CHAT, "hai")
    assert [e["text"] for e in emu.sent(CHAT)] == ["hai"]
    assert [(c.status, c.params["text"]) for c in emu.calls[-2:]] == [(429, "một"), (200, "hai")]


async def test_forbidden_and_server_errors(emu: TelegramEmulator, bot: Bot) -> None:
    emu.fail_next("sendMessage", status=403, chat_id=2)
    await bot.send_message(1, "không ảnh hưởng")
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(2, "x")
    await bot.send_message(2, "lần sau được")
    emu.block_chat(3)
    for _ in range(2):
        with pytest.raises(Forbidden):
            await bot.send_message(3, "x")
    emu.fail_next("sendMessage", status=502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(1, "x")
    assert [len(emu.sent(c)) for c in (1, 2, 3)] == [1, 1, 0]
    with pytest.raises(AssertionError, match=r"chat 3 .*got 0.*\('sendMessage', 403\)"):
        await emu.wait_for_sent(3, timeout=0.1)


async def test_commands_and_webhook(emu: TelegramEmulator, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Bắt đầu"), BotCommand("lich", "Lịch tiêm")])
    assert emu.commands[""] == [
        {"command": "start", "description": "Bắt đầu"},
        {"command": "lich", "description": "Lịch tiêm"},
    ]
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand("Start", "Hoa")])
    assert await bot.set_webhook("https://example.invalid/tg", secret_token="s3cret")
    assert (await bot.get_webhook_info()).url == "https://example.invalid/tg"
    with pytest.raises(Conflict):
        await bot.get_updates()
    emu.user_text(CHAT, "bỏ qua")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()
    assert (await bot.get_webhook_info()).url == ""

    received: list[tuple[str | None, dict]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        update = {
            "update_id": 9,
            "message": {
                "message_id": 1,
                "date": 0,
                "text": "x",
                "chat": {"id": 1, "type": "private"},
            },
        }
        status = await emu.deliver_webhook(
            f"http://127.0.0.1:{port}/hook", update, secret_token="s3cret"
        )
    finally:
        await runner.cleanup()
    assert status == 200
    assert received == [("s3cret", update)]


async def test_inject_and_stats(emu: TelegramEmulator, bot: Bot) -> None:
    async with aiohttp.ClientSession(base_url=emu.base_url) as http:
        body = {
            "updates": [
                {"chat_id": 11, "text": "a"},
                {"chat_id": 12, "text": "b"},
                {"chat_id": 11, "text": "c"},
            ]
        }
        async with http.post("/_emu/inject", json=body) as r:
            assert await r.json() == {"first_update_id": 1, "count": 3}
        updates = await bot.get_updates()
        assert [u.message.text for u in updates] == ["a", "b", "c"]
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
        for chat_id in (11, 12, 11):
            await bot.send_message(chat_id, "ok")
        await bot.send_message(11, "extra reply, no update left to match")
        async with http.get("/_emu/stats") as r:
            stats = await r.json()
        assert (stats["queued"], stats["consumed"], stats["sent"]) == (3, 3, 4)
        assert len(stats["latencies_ms"]) == 3
        assert all(0 < ms < 5000 for ms in stats["latencies_ms"])
        async with http.post("/_emu/reset") as r:
            assert r.status == 200
        async with http.get("/_emu/stats") as r:
            assert await r.json() == {
                "queued": 0,
                "consumed": 0,
                "sent": 0,
                "latencies_ms": [],
                "calls": {},
            }
    assert emu.calls == [] and emu.sent(11) == []
    assert (await bot.get_me()).username == "test_health_bot"  # token kept


async def test_runs_as_a_process() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.telegram_api",
        "--port",
        "0",
        "--token",
        "42:T",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
        assert line.startswith("READY http://127.0.0.1:")
        url = line.split()[1]
        async with Bot("42:T", base_url=f"{url}/bot") as tg_bot:
            assert (await tg_bot.get_me()).id == 42
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_second_poller_conflicts(emu: TelegramEmulator, bot: Bot) -> None:
    # A second instance of the same bot (PTB's getUpdates pool holds one connection per Bot).
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await emu.wait_for_poll()
    async with Bot(emu.token, base_url=f"{emu.base_url}/bot") as second:
        assert await second.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_ptb_application_end_to_end(emu: TelegramEmulator) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Xong", callback_data="done")]])
        await update.message.reply_text(f"Chào! {context.args}", reply_markup=keyboard)

    async def done(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("Đã xong")

    app = (
        Application.builder()
        .token(emu.token)
        .base_url(f"{emu.base_url}/bot")
        .base_file_url(f"{emu.base_url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(done))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        emu.user_command(CHAT, "/start", args="abc")
        (greeting,) = await emu.wait_for_sent(CHAT)
        assert greeting["text"] == "Chào! ['abc']"
        emu.press_button(CHAT, "done", message_id=greeting["message_id"])
        _, edit = await emu.wait_for_sent(CHAT, 2)
        assert (edit["method"], edit["text"]) == ("editMessageText", "Đã xong")
        await emu.wait_until_consumed()
        await app.updater.stop()
        await app.stop()
    assert len(emu.answered_callbacks) == 1
    assert all(call.status == 200 for call in emu.calls)
