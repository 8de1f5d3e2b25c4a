"""The Zalo token pair: stored sealed, renewed before it expires, one renewal across processes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.channels.zalo.tokens import TokenKeeper, TokenRefreshFailed
from bot.crypto import DataProtector
from storage.db import Database
from tests.conftest import Clock
from tests.fakes.zalo_api import ZaloEmulator


@pytest.fixture
async def zemu() -> AsyncIterator[ZaloEmulator]:
    async with ZaloEmulator(clock=Clock()) as emu:
        yield emu


@pytest.fixture
def protector() -> DataProtector:
    return DataProtector(secrets.token_bytes(32))


def keeper(
    database: Database, protector: DataProtector, zemu: ZaloEmulator, clock: Clock
) -> TokenKeeper:
    """One process's keeper (several share the database as several processes would)."""
    return TokenKeeper(
        database,
        protector,
        oauth_base_url=zemu.oauth_base_url,
        app_id=zemu.app_id,
        app_secret=zemu.app_secret,
        initial=(zemu.access_token, zemu.refresh_token),
        clock=clock,
    )


async def test_renewed_after_twenty_hours_not_before(
    database: Database, protector: DataProtector, zemu: ZaloEmulator, clock: Clock
) -> None:
    tokens = keeper(database, protector, zemu, clock)
    await tokens.load()
    assert tokens.current() == "AT-1"
    clock.advance(timedelta(hours=19, minutes=50))
    assert not await tokens.renew_if_due() and zemu.refreshes == 0
    clock.advance(timedelta(minutes=15))
    assert await tokens.renew_if_due()
    assert tokens.current() == zemu.access_token != "AT-1"
    assert zemu.refresh_tokens_used == ["RT-1"]
    again = keeper(database, protector, zemu, clock)  # a restart: the stored pair, not RT-1
    await again.load()
    assert again.current() == zemu.access_token


async def test_two_processes_renew_once(
    database: Database, protector: DataProtector, zemu: ZaloEmulator, clock: Clock
) -> None:
    first, second = (
        keeper(database, protector, zemu, clock),
        keeper(database, protector, zemu, clock),
    )
    await first.load()
    await second.load()
    zemu.expire_access_token()
    got = await asyncio.gather(
        first.refresh("AT-1"), second.refresh("AT-1"), first.refresh("AT-1")
    )
    assert zemu.refreshes == 1 and got == [zemu.access_token] * 3
    clock.advance(timedelta(hours=21))
    renewed = await asyncio.gather(first.renew_if_due(), second.renew_if_due())
    assert zemu.refreshes == 2 and sorted(renewed) == [True, True]  # one renewed, one adopted
    assert first.current() == second.current() == zemu.access_token


async def test_a_refused_refresh_is_told_once_and_keeps_the_old_pair(
    database: Database, protector: DataProtector, zemu: ZaloEmulator, clock: Clock
) -> None:
    tokens = keeper(database, protector, zemu, clock)
    told: list[str] = []

    async def alert(reason: str) -> None:
        told.append(reason)

    tokens.alert = alert
    await tokens.load()
    zemu.fail_next("token", error=-14014, times=2)
    with pytest.raises(TokenRefreshFailed, match="Invalid refresh token"):
        await tokens.refresh("AT-1")
    with pytest.raises(TokenRefreshFailed, match="refused moments ago"):  # Zalo not asked
        await tokens.refresh("AT-1")
    assert zemu.call_counts["token"] == 1
    clock.advance(timedelta(minutes=6))
    with pytest.raises(TokenRefreshFailed, match="Invalid refresh token"):
        await tokens.refresh("AT-1")
    assert len(told) == 1 and tokens.current() == "AT-1"
    clock.advance(timedelta(minutes=6))
    assert await tokens.refresh("AT-1") == zemu.access_token  # RT-1 was never spent
    assert zemu.refresh_tokens_used == ["RT-1"]


async def test_no_access_token_configured_means_one_at_once(
    database: Database, protector: DataProtector, zemu: ZaloEmulator, clock: Clock
) -> None:
    tokens = TokenKeeper(
        database,
        protector,
        oauth_base_url=zemu.oauth_base_url,
        app_id=zemu.app_id,
        app_secret=zemu.app_secret,
        initial=(None, zemu.refresh_token),
        clock=clock,
    )
    await tokens.load()
    assert await tokens.renew_if_due() and tokens.current() == zemu.access_token
