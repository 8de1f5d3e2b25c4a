"""The dispatcher driven directly with web-chat updates: what the citizen reads back."""

from __future__ import annotations

import asyncio
import unicodedata

import pytest
from sqlalchemy import select

from bot import dispatch
from bot.app import Service
from bot.handlers.phone_number import PHONE_INDEX
from storage import accounts, outbox
from storage.models import OutboxMessage
from tests.webchat import APOLOGY, CONSENT_BUTTONS, MENU, THANKS, WELCOME, Citizen

GOODBYE = "Toàn bộ dữ liệu của bạn đã được xóa."


@pytest.mark.parametrize(
    "typed",
    ["đồng ý", "co", "ok", "Có", "ĐỒNG Ý!", unicodedata.normalize("NFD", "Đồng ý")],
    ids=["dong-y", "co", "ok", "co-diacritics", "upper-case", "nfd"],
)
async def test_consent_typed_as_text(svc: Service, typed: str) -> None:
    citizen = Citizen(svc)
    (welcome,) = await citizen.say("/start")
    assert welcome.startswith(WELCOME) and citizen.buttons() == CONSENT_BUTTONS
    assert await citizen.say(typed) == [THANKS]
    account, _conv, events = await citizen.state()
    assert account.consent_version == "2026-11"
    assert [e.granted for e in events] == [True]


async def test_refusal_typed_as_text(svc: Service) -> None:
    citizen = Citizen(svc)
    await citizen.say("/start")
    (reply,) = await citizen.say("không đồng ý")
    assert reply.startswith("Không sao ạ. Khi chưa có sự đồng ý của bạn")
    account, _conv, events = await citizen.state()
    assert account.consent_version is None and [e.granted for e in events] == [False]


@pytest.mark.parametrize(
    ("typed", "masked", "national"),
    [
        ("0912 345 678", "+84 91* *** 678", "912345678"),
        ("+84 386 123 456", "+84 38* *** 456", "386123456"),
    ],
    ids=["vinaphone", "viettel"],
)
async def test_phone_is_shown_masked_and_stored_sealed(
    svc: Service, typed: str, masked: str, national: str
) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    await citizen.say("/sodienthoai")
    assert await citizen.say(typed) == [f"Số điện thoại của bạn là {masked}, đúng không ạ?"]
    _account, conv, _events = await citizen.state()
    assert national not in repr(conv.data) and national[-6:] not in repr(conv.data)
    (saved,) = await citizen.press("Đúng, lưu lại")
    assert saved.startswith(f"Đã lưu số {masked}.")
    (mine,) = await citizen.say("/xemdulieu")
    assert mine.startswith("Dữ liệu chúng tôi đang lưu về bạn:")
    assert f"• Số điện thoại: {masked}" in mine
    assert "• Đồng ý xử lý dữ liệu: đã đồng ý vào " in mine
    for shown in (saved, mine):
        assert national not in shown.replace(" ", "")
    account, conv, _events = await citizen.state()
    assert national.encode() not in account.phone_sealed
    assert ("+84" + national).encode() not in account.phone_sealed
    assert len(account.phone_index) == 64 and int(account.phone_index, 16) >= 0
    assert account.phone_index == svc.protector.blind_index(PHONE_INDEX, "+84" + national)
    assert (conv.flow, conv.step, conv.data) == (None, None, {})


async def test_view_data_before_consent_says_nothing_is_held(svc: Service) -> None:
    (mine,) = await Citizen(svc).say("/xemdulieu")
    assert "• Đồng ý xử lý dữ liệu: chưa đồng ý" in mine
    assert "• Số điện thoại: chưa có" in mine


async def _with_phone(svc: Service) -> Citizen:
    citizen = Citizen(svc)
    await citizen.consent()
    await citizen.say("/sodienthoai")
    await citizen.say("0912345678")
    await citizen.press("Đúng, lưu lại")
    return citizen


async def test_erase_deletes_everything_and_still_says_goodbye(svc: Service) -> None:
    citizen = await _with_phone(svc)
    account, _conv, _events = await citizen.state()
    (question,) = await citizen.say("/xoadulieu")
    assert question.startswith("Bạn có chắc muốn xóa toàn bộ dữ liệu của mình không?")
    assert citizen.buttons() == ["Xóa dữ liệu", "Không, giữ lại"]
    citizen.after = 0  # the ids of the deleted rows may be reused (see test_web_chat.py)
    (goodbye,) = await citizen.press("Xóa dữ liệu")
    assert goodbye.startswith(GOODBYE)
    assert await citizen.state() == (None, None, [])
    async with svc.db.read_scope() as session:
        owned = await session.execute(
            select(OutboxMessage.id).where(OutboxMessage.account_id == account.id)
        )
        assert owned.all() == []
    (welcome,) = await citizen.say("kq")
    assert welcome.startswith(WELCOME)


async def test_keeping_data_changes_nothing(svc: Service) -> None:
    citizen = await _with_phone(svc)
    await citizen.say("/xoadulieu")
    assert await citizen.press("Không, giữ lại") == [
        "Chưa xóa gì cả: dữ liệu của bạn vẫn được giữ nguyên."
    ]
    account, conv, events = await citizen.state()
    assert account.phone_sealed is not None and account.consent_version == "2026-11"
    assert (conv.flow, [e.granted for e in events]) == (None, [True])


@pytest.mark.parametrize("typed", ["dừng", "Đừng"], ids=["stop", "dont"])
async def test_stop_or_dont_at_the_erase_question_keeps_the_data(svc: Service, typed: str) -> None:
    citizen = await _with_phone(svc)
    await citizen.say("/xoadulieu")
    replies = await citizen.say(typed)
    account, _conv, _events = await citizen.state()
    assert account is not None and account.phone_sealed is not None
    assert not any(reply.startswith(GOODBYE) for reply in replies)


async def test_withdrawn_consent_closes_the_services(svc: Service) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    (question,) = await citizen.say("/rutdongy")
    assert question.startswith("Nếu rút lại sự đồng ý")
    assert citizen.buttons() == ["Rút lại đồng ý", "Không"]
    (done,) = await citizen.press("Rút lại đồng ý")
    assert done.startswith("Đã ghi nhận bạn rút lại sự đồng ý")
    account, _conv, events = await citizen.state()
    assert account.consent_version is None
    assert [(e.version, e.granted) for e in events] == [("2026-11", True), ("2026-11", False)]
    for text in ("kq", "/sodienthoai", "/dangky"):
        (prompt,) = await citizen.say(text)
        assert prompt.startswith(WELCOME) and citizen.buttons() == CONSENT_BUTTONS
    assert await citizen.say("/rutdongy") == ["Bạn chưa đồng ý nên không có gì để rút lại."]


async def test_not_withdrawing_keeps_consent(svc: Service) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    await citizen.say("/rutdongy")
    assert await citizen.press("Không") == [
        "Không có gì thay đổi: sự đồng ý của bạn vẫn giữ nguyên."
    ]
    account, _conv, events = await citizen.state()
    assert account.consent_version == "2026-11" and len(events) == 1


@pytest.mark.parametrize(
    ("before", "typed", "expected"),
    [
        ("/sodienthoai", "/huy", "Đã hủy. Bạn cần hỗ trợ thêm gì không ạ?"),
        ("/sodienthoai", "hủy", "Đã hủy. Bạn cần hỗ trợ thêm gì không ạ?"),
        ("/sodienthoai", "Thôi!", "Đã hủy. Bạn cần hỗ trợ thêm gì không ạ?"),
        ("/xoadulieu", "/cancel", "Đã hủy. Bạn cần hỗ trợ thêm gì không ạ?"),
        ("/help", "/huy", "Hiện không có thao tác nào cần hủy."),
    ],
    ids=[
        "command-in-phone-flow",
        "typed-in-phone-flow",
        "thoi-in-phone-flow",
        "cancel-erase",
        "nothing-to-cancel",
    ],
)
async def test_cancel(svc: Service, before: str, typed: str, expected: str) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    await citizen.say(before)
    assert await citizen.say(typed) == [expected]
    assert citizen.buttons() == MENU
    _account, conv, _events = await citizen.state()
    assert (conv.flow, conv.step) == (None, None)


@pytest.mark.parametrize("typed", ["Nguyễn Văn Huy", "0912 345 678 thôi", "huỷ đi mà"])
async def test_a_cancel_word_inside_an_answer_is_not_a_cancel(svc: Service, typed: str) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    await citizen.say("/sodienthoai")
    (reply,) = await citizen.say(typed)
    assert not reply.startswith("Đã hủy")
    _account, conv, _events = await citizen.state()
    assert conv.flow == "phone"


async def test_crashing_handler_apologises_and_keeps_the_step(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(msg, conv) -> None:
        await accounts.record_consent(
            conv.session, conv.account, version="x", granted=False, now=conv.now
        )
        conv.account.phone_sealed = b"half-written"
        conv.goto("privacy", "confirm_erase")
        conv.reply("never sent")
        await conv.session.flush()
        raise RuntimeError("boom")

    monkeypatch.setitem(dispatch.COMMANDS, "sapdo", crash)
    citizen = Citizen(svc)
    await citizen.consent()
    await citizen.say("/sodienthoai")
    _account, before, _events = await citizen.state()
    assert await citizen.say("/sapdo") == [APOLOGY + " Bạn vui lòng thử lại sau ít phút."]
    account, after, events = await citizen.state()
    assert (after.flow, after.step, after.version) == (before.flow, before.step, before.version)
    assert (before.flow, before.step) == ("phone", "ask")
    assert account.phone_sealed is None and account.consent_version == "2026-11"
    assert [(e.version, e.granted) for e in events] == [("2026-11", True)]
    assert await citizen.say("0912 345 678") == [
        "Số điện thoại của bạn là +84 91* *** 678, đúng không ạ?"
    ]


async def test_crash_on_first_contact_still_apologises(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(msg, conv) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(dispatch.COMMANDS, "start", crash)
    citizen = Citizen(svc)
    (reply,) = await citizen.say("/start")
    assert reply.startswith(APOLOGY)
    assert await citizen.state() == (None, None, [])


async def test_same_update_twice_gets_one_reply(svc: Service) -> None:
    citizen = Citizen(svc)
    update = citizen.incoming("/help", id="same")
    await svc.dispatcher.handle(update)
    await svc.dispatcher.handle(update)
    replies = await citizen.replies()
    assert [r["text"].split("\n")[0] for r in replies] == ["Bạn có thể dùng các lệnh sau:"]


async def test_concurrent_updates_of_one_chat_keep_their_order(svc: Service) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    updates = [citizen.incoming(f"/lenh{n}") for n in range(10)]
    await asyncio.gather(*(svc.dispatcher.handle(u) for u in updates))
    async with svc.db.read_scope() as session:
        rows = await outbox.transcript(
            session, channel="web", chat_id=citizen.chat_id, after=citizen.after
        )
    assert [row.body["text"] for row in rows] == [
        f"Xin lỗi, tôi không nhận ra lệnh /lenh{n}. Bạn gõ /help để xem các lệnh có thể dùng nhé."
        for n in range(10)
    ]
    assert [row.id for row in rows] == sorted(row.id for row in rows)


async def test_other_chats_are_not_held_up(svc: Service) -> None:
    citizens = [Citizen(svc, f"chat-{n}") for n in range(5)]
    await asyncio.gather(*(svc.dispatcher.handle(c.incoming("/help")) for c in citizens))
    for citizen in citizens:
        (reply,) = await citizen.replies()
        assert reply["text"].startswith("Bạn có thể dùng các lệnh sau:")


async def test_my_data_lists_every_consent_decision(svc: Service) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    await citizen.say("/rutdongy")
    await citizen.press("Rút lại đồng ý")
    await citizen.say("/start")
    await citizen.press("Tôi đồng ý")
    (mine,) = await citizen.say("/xemdulieu")
    (history,) = [line for line in mine.splitlines() if "Các lần ghi nhận đồng ý" in line]
    decisions = history.split(": ", 1)[1].split("; ")
    assert [d.split(" vào ")[0] for d in decisions] == [
        "đồng ý",
        "không đồng ý hoặc rút lại",
        "đồng ý",
    ]


def test_every_menu_entry_opens_something() -> None:
    from bot.dispatch import MENU_FLOWS
    from bot.handlers.menu import ENTRIES

    assert set(ENTRIES) == set(MENU_FLOWS)
