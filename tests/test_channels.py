"""Platform limits as data: long messages are cut into parts each platform accepts."""

from __future__ import annotations

import pytest

from bot.channels import ChannelLimits, fit
from bot.messages import Button, ChatRef, Outgoing

LIMITS = ChannelLimits(
    text_length=100, caption_length=30, chat_rate_per_s=1, chat_burst=3, bulk_rate_per_s=30
)
CHAT = ChatRef("telegram", "1")
MENU = ((Button("Hỗ trợ", "menu:support"),),)


def message(text: str, **kwargs: object) -> Outgoing:
    return Outgoing(chat=CHAT, text=text, **kwargs)  # type: ignore[arg-type]


def test_a_short_message_is_left_alone() -> None:
    short = message("Xin chào", buttons=MENU)
    assert fit(short, LIMITS) == [short]


@pytest.mark.parametrize(
    ("text", "first_ends_with"),
    [
        ("Đoạn một.\n\n" + "x" * 60 + "\n\n" + "y" * 60, "x"),
        ("Câu một. " + "Câu hai dài hơn một chút. " * 6, "."),
        ("từ " * 60, "từ"),
        ("x" * 250, "x"),
    ],
    ids=["paragraphs", "sentences", "words", "no-break"],
)
def test_long_text_is_cut_at_natural_breaks(text: str, first_ends_with: str) -> None:
    parts = fit(message(text, buttons=MENU), LIMITS)
    assert len(parts) > 1
    assert all(len(p.text) <= LIMITS.text_length for p in parts)
    assert parts[0].text.endswith(first_ends_with)
    assert [p.buttons for p in parts] == [()] * (len(parts) - 1) + [MENU]
    assert "".join(p.text for p in parts).replace(" ", "").replace("\n", "") == text.replace(
        " ", ""
    ).replace("\n", "")


def test_an_image_with_a_long_text_goes_first_without_caption() -> None:
    parts = fit(message("Mã QR của bạn. " * 4, image=b"png", buttons=MENU), LIMITS)
    assert parts[0].image == b"png" and parts[0].text == "" and parts[0].buttons == ()
    assert [p.image for p in parts[1:]] == [None] * (len(parts) - 1)
    assert parts[-1].buttons == MENU


def test_an_image_with_a_short_caption_stays_one_message() -> None:
    qr = message("Mã QR", image=b"png")
    assert fit(qr, LIMITS) == [qr]
