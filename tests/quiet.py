"""Waiting for the bot to be done, instead of waiting for it to fall silent for a while."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.app import Service
from tests.fakes.telegram_api import TelegramEmulator
from tests.fakes.zalo_api import ZaloEmulator


async def quiet(
    service: Service, *emulators: TelegramEmulator | ZaloEmulator, timeout: float = 10.0
) -> None:
    """Wait until the running bot has done everything it can do now.

    In the order work flows: every update the emulators queued was fetched and handled (Telegram)
    or every event they posted was answered (Zalo); every stored Zalo event was handled; no
    update is in the dispatcher's hands; no scheduled job is due; nothing is left to render;
    nothing is left that the sender could send now. Work due later (the next job of a chain, a
    retry after its back-off) is not waited for.
    """
    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        (f"{type(emu).__name__} idle", emu.idle) for emu in emulators
    ]
    if service.zalo_inbox is not None:
        steps.append(("Zalo events handled", service.zalo_inbox.idle))
    steps += [
        ("dispatcher idle", service.dispatcher.idle),
        ("no job due", service.scheduler.idle),
        ("certificates rendered", service.renderer.idle),
        ("sender drained", service.sender.drained),
    ]
    for name, step in steps:
        try:
            async with asyncio.timeout(timeout):
                await step()
        except TimeoutError:
            raise AssertionError(f"the bot was not quiet within {timeout}s: {name}") from None


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 20.0, every: float = 0.05
) -> None:
    """Wait until `check()` holds, looking again every `every` seconds.

    Only for states reached through timed work that announces nothing, such as a broadcast
    carried by a chain of scheduler jobs a second apart, or a separate process: everything the
    bot does on its own has an event to wait on (`quiet`).
    """
    try:
        async with asyncio.timeout(timeout):
            while True:
                if await check():
                    return
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"still not so after {timeout}s") from None
