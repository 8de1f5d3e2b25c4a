"""Helpers that talk to the bot the way a citizen on Telegram would, through the emulator."""

from __future__ import annotations

from typing import Any

from bot.app import Service
from tests.fakes.telegram_api import TelegramEmulator
from tests.quiet import quiet

Message = dict[str, Any]


async def say(
    emu: TelegramEmulator, chat: int, text: str, *, timeout: float = 5.0, **kwargs: Any
) -> Message:
    """Send `text` (a command if it starts with /) and return the bot's next message."""
    before = len(emu.sent(chat))
    if text.startswith("/"):
        command, _, args = text.partition(" ")
        emu.user_command(chat, command, args, **kwargs)
    else:
        emu.user_text(chat, text, **kwargs)
    return (await emu.wait_for_sent(chat, before + 1, timeout=timeout))[-1]


async def press(emu: TelegramEmulator, chat: int, message: Message, label: str) -> Message:
    """Press the inline button labelled `label` under `message`; return the bot's next message."""
    before = len(emu.sent(chat))
    emu.press_button(chat, callback_data(message, label), message_id=message["message_id"])
    return (await emu.wait_for_sent(chat, before + 1))[-1]


def labels(message: Message) -> list[str]:
    """The labels of a message's inline buttons, row by row."""
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def callback_data(message: Message, label: str) -> str:
    """The callback data of the button labelled `label`."""
    markup = message.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if button["text"] == label:
                return str(button["callback_data"])
    raise AssertionError(f"no button {label!r} in {labels(message)}")


async def consent(emu: TelegramEmulator, chat: int) -> Message:
    """Start and agree; return the main-menu message."""
    welcome = await say(emu, chat, "/start")
    return await press(emu, chat, welcome, "Tôi đồng ý")


async def settle(service: Service, emu: TelegramEmulator, chat: int, before: int) -> list[Message]:
    """The messages sent to `chat` after the first `before` (one at least), once all are out."""
    await emu.wait_for_sent(chat, before + 1)
    await quiet(service, emu)
    return emu.sent(chat)[before:]


async def say_all(service: Service, emu: TelegramEmulator, chat: int, text: str) -> list[Message]:
    """Send `text` (a command if it starts with /); every message the bot answered with."""
    before = len(emu.sent(chat))
    if text.startswith("/"):
        command, _, args = text.partition(" ")
        emu.user_command(chat, command, args)
    else:
        emu.user_text(chat, text)
    return await settle(service, emu, chat, before)


async def press_all(
    service: Service, emu: TelegramEmulator, chat: int, message: Message, label: str
) -> list[Message]:
    """Press a button under `message`; every message the bot answered with."""
    before = len(emu.sent(chat))
    emu.press_button(chat, callback_data(message, label), message_id=message["message_id"])
    return await settle(service, emu, chat, before)
