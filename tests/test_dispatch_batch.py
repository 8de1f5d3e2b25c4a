"""Group commit: updates that arrive together share one unit of work, and one bad update
does not take the others down with it."""

from __future__ import annotations

import pytest

from bot import dispatch
from bot.app import Service
from tests.webchat import APOLOGY, Citizen

HELP = "Bạn có thể dùng các lệnh sau"


async def consented(svc: Service, *names: str) -> list[Citizen]:
    citizens = [Citizen(svc, name) for name in names]
    for citizen in citizens:
        await citizen.consent()
    return citizens


async def test_a_batch_answers_everyone_in_order(svc: Service) -> None:
    an, binh = await consented(svc, "an", "binh")
    batch = [an.incoming("/help"), binh.incoming("/sodienthoai"), binh.incoming("0912345678")]
    await svc.dispatcher.handle_batch(batch)
    assert [body["text"][:28] for body in await an.replies()] == [HELP]
    assert [body["text"] for body in await binh.replies()] == [
        "Bạn vui lòng gõ số điện thoại di động, ví dụ 0912 345 678.",  # no share button here
        "Số điện thoại của bạn là +84 91* *** 678, đúng không ạ?",
    ]
    _account, state, _events = await binh.state()
    assert state is not None and (state.flow, state.step) == ("phone", "confirm")


async def test_a_redelivery_inside_a_batch_is_handled_once(svc: Service) -> None:
    (an,) = await consented(svc, "an")
    update = an.incoming("/help", id="same")
    await svc.dispatcher.handle_batch([update, update])
    await svc.dispatcher.handle_batch([update])
    assert len(await an.replies()) == 1


async def test_first_contacts_in_one_batch_each_get_the_welcome(svc: Service) -> None:
    newcomers = [Citizen(svc, f"new-{i}") for i in range(3)]
    await svc.dispatcher.handle_batch([c.incoming("xin chào") for c in newcomers])
    for citizen in newcomers:
        (welcome,) = await citizen.replies()
        assert welcome["text"].startswith("Xin chào! Tôi là trợ lý sức khỏe công dân.")


async def test_erasure_then_a_new_message_in_the_same_batch(svc: Service) -> None:
    (an,) = await consented(svc, "an")
    await an.say("/xoadulieu")
    erase = next(p for row in an.last[-1]["buttons"] for label, p in row if label == "Xóa dữ liệu")
    await svc.dispatcher.handle_batch([an.incoming(payload=erase), an.incoming("/start")])
    goodbye, welcome = [body["text"] for body in await an.replies()]
    assert goodbye.startswith("Toàn bộ dữ liệu của bạn đã được xóa.")
    assert welcome.startswith("Xin chào! Tôi là trợ lý sức khỏe công dân.")


async def test_one_failing_update_does_not_sink_the_batch(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(msg, conv) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(dispatch.COMMANDS, "sapdo", crash)
    an, binh = await consented(svc, "an", "binh")
    await svc.dispatcher.handle_batch(
        [an.incoming("/help"), binh.incoming("/sapdo"), binh.incoming("/help")]
    )
    assert [body["text"][:28] for body in await an.replies()] == [HELP]
    first, second = [body["text"] for body in await binh.replies()]
    assert first.startswith(APOLOGY)
    assert second.startswith(HELP)
    account, _state, events = await binh.state()
    assert account is not None and account.consent_version == "2026-11"
    assert [e.granted for e in events] == [True]
