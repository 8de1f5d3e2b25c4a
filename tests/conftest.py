"""Shared fixtures: databases, settings, the Telegram emulator and the running service.

Every storage-touching test runs on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import Service, build_service, running
from bot.config import DEFAULT_DCC_ISSUER, Settings
from bot.crypto import generate_key
from bot.domain.dcc.keys import Signer, create_csca, create_dsc, write_signer
from bot.domain.dcc.trust import Authority
from storage.db import Database
from tests.clock import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.fakes.zalo_api import ZaloEmulator

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
ZALO_TEMPLATE = "tpl-remind"  # the approved template of appointment reminders in Zalo tests
DATABASES = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(params=DATABASES)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database for each test, on each engine under test."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    assert POSTGRES_URL is not None
    url = POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    return url


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    """The test database, migrated to the newest revision."""
    db = Database(db_url)
    await db.migrate()
    yield db
    await db.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


# Test signers are valid from long before any fixed clock a test uses (a certificate may not be
# signed before its signer's certificate starts).
SIGNER_FROM = datetime(2020, 1, 1, tzinfo=UTC)
SIGNER_VALIDITY = timedelta(days=30 * 365)


def make_signer() -> Signer:
    """A document signer for tests, certified by a throwaway CSCA."""
    csca = create_csca(now=SIGNER_FROM)
    return create_dsc(csca=csca, now=SIGNER_FROM, validity=SIGNER_VALIDITY)


@pytest.fixture(scope="session")
def signer() -> Signer:
    return make_signer()


@pytest.fixture
def authority(signer: Signer) -> Authority:
    """Our certificate authority in tests: the default (test) issuer, Vietnam."""
    return Authority(signer, DEFAULT_DCC_ISSUER, "VN", (signer.cert,))


@pytest.fixture
def settings(db_url: str, tmp_path: Path, signer: Signer) -> Settings:
    """Settings for a service on the test database, its HTTP server on a free port."""
    settings = Settings(
        database_url=db_url,
        data_key=generate_key(),
        http_port=0,
        var_dir=tmp_path / "var",
        log_level="DEBUG",
    )
    write_signer(signer, settings.dcc_key_path, settings.dcc_cert_path)
    return settings


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The process environment of a `run_bot.py` command: the test database, a fresh data key."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_KEY", generate_key())
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("ENV", "development")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return db_url


@pytest.fixture
async def emulator(clock: Clock) -> AsyncIterator[TelegramEmulator]:
    """The Telegram emulator; its messages are dated by the test's clock."""
    async with TelegramEmulator(clock=lambda: clock().timestamp()) as emu:
        yield emu


@pytest.fixture
def telegram_settings(settings: Settings, emulator: TelegramEmulator) -> Settings:
    """Settings of a service that polls the emulator."""
    return replace(
        settings, telegram_bot_token=emulator.token, telegram_api_base_url=emulator.base_url
    )


@pytest.fixture
async def svc(settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    """The service wired but not started: drive `svc.dispatcher` directly (web chat updates)."""
    service = build_service(settings, clock=clock)
    await service.db.migrate()
    yield service
    await service.sender.flush()
    await service.db.dispose()


@pytest.fixture
async def service(telegram_settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    """The whole service (web, sender, Telegram polling) running against the emulator."""
    svc = build_service(telegram_settings, clock=clock)
    async with running(svc):
        yield svc


@pytest.fixture
async def zemu(clock: Clock) -> AsyncIterator[ZaloEmulator]:
    """The Zalo emulator, stamping its events with the test clock (as the bot reads it)."""
    async with ZaloEmulator(clock=clock) as emu:
        emu.add_template(ZALO_TEMPLATE, ["customer_name", "schedule", "place"])
        yield emu


@pytest.fixture
def zalo_settings(settings: Settings, zemu: ZaloEmulator) -> Settings:
    """A service on the emulator: the first token pair from the console, no Telegram."""
    return replace(
        settings,
        zalo_app_id=zemu.app_id,
        zalo_oa_id=zemu.oa_id,
        zalo_oa_secret_key=zemu.oa_secret_key,
        zalo_app_secret=zemu.app_secret,
        zalo_access_token=zemu.access_token,
        zalo_refresh_token=zemu.refresh_token,
        zalo_api_base_url=zemu.api_base_url,
        zalo_oauth_base_url=zemu.oauth_base_url,
        zalo_business_api_base_url=zemu.business_base_url,
        zalo_templates={
            "reminder": (
                ZALO_TEMPLATE,
                {"customer_name": "name", "schedule": "time", "place": "site"},
            )
        },
        chat_rate_per_s=100.0,
        chat_burst=100,
    )


DESK = "-1009990002"  # the support staff's group of `desk_svc`


@pytest.fixture
async def desk_svc(telegram_settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    """`svc` with a support desk (Telegram): desk messages stay in the outbox, nothing is sent."""
    service = build_service(replace(telegram_settings, support_chat_id=DESK), clock=clock)
    await service.db.migrate()
    yield service
    await service.db.dispose()
