"""Made-up button payloads: an id no button of ours carries is answered as an old button.

A payload is whatever the client sends (web chat, Telegram callback data, a Zalo text), so the
ids in it are read by one helper (`bot.messages.payload_id`) and never reach a query as they are.
"""

from __future__ import annotations

import pytest

from bot.app import Service
from bot.messages import MAX_PAYLOAD_ID, payload_id
from tests.payloads import HUGE, MADE_UP, MENU_EXPIRED, OLD_BUTTON
from tests.webchat import APOLOGY, MENU, Citizen


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        *[("1", 1), ("0042", 42), (str(MAX_PAYLOAD_ID), MAX_PAYLOAD_ID), ("0", None)],
        *[(str(MAX_PAYLOAD_ID + 1), None), (HUGE, None), ("", None), ("-1", None)],
        *[("1e3", None), ("²", None), ("٣", None), (" 1", None), ("0" * 11 + "1", None)],
    ],
)
def test_payload_ids_are_row_ids_or_none(part: str, expected: int | None) -> None:
    assert payload_id(part) == expected


@pytest.mark.parametrize("payload", MADE_UP)
async def test_a_made_up_id_during_a_flow_is_an_old_button_and_the_flow_goes_on(
    svc: Service, payload: str
) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    await citizen.press("Đăng ký tiêm")
    relative = citizen.last[-1]["buttons"][0][1][1]  # "Người thân", still valid afterwards
    _account, before, _events = await citizen.state()
    assert before is not None and before.flow == "register"
    await svc.dispatcher.handle(citizen.incoming(payload=payload))
    assert [body["text"] for body in await citizen.replies()] == [OLD_BUTTON]
    _account, after, _events = await citizen.state()
    assert after is not None and (after.flow, after.step) == (before.flow, before.step)
    await svc.dispatcher.handle(citizen.incoming(payload=relative))
    (name,) = [body["text"] for body in await citizen.replies()]
    assert name.startswith("Họ tên đầy đủ của người thân")


@pytest.mark.parametrize("payload", MADE_UP[:3])
async def test_a_made_up_id_outside_a_flow_gets_the_current_menu(
    svc: Service, payload: str
) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    await svc.dispatcher.handle(citizen.incoming(payload=payload))
    assert [body["text"] for body in await citizen.replies()] == [MENU_EXPIRED]
    assert citizen.buttons() == MENU


async def test_a_step_button_with_a_made_up_id_is_asked_again(svc: Service) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    await citizen.press("Đăng ký tiêm")
    stamp = citizen.last[-1]["buttons"][0][0][1].partition("|")[0]
    await svc.dispatcher.handle(citizen.incoming(payload=f"{stamp}|reg:person:{HUGE}"))
    texts = [body["text"] for body in await citizen.replies()]
    assert not any(APOLOGY in text for text in texts)
    # The kind answer opens the question asked again: one message.
    assert texts[0].startswith("Bạn vui lòng chọn bằng các nút bên dưới.\nCùng đăng ký tiêm")
