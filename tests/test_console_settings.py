"""The console's settings, read and checked as every other; demo staff never in production."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.config import ConfigError, Settings
from bot.console.demo_staff import how_to_sign_in, seed_console_demo
from storage.db import Database
from tests.clock import Clock


def test_console_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.console_idle_minutes, settings.console_session_hours) == (30.0, 12.0)
    assert (settings.console_link_minutes, settings.console_password_link_hours) == (15.0, 72.0)
    assert settings.console_base == "http://localhost:8080/console"
    assert "'admin'" in how_to_sign_in(settings)


@pytest.mark.parametrize(
    ("name", "value", "attribute", "expected"),
    [
        ("CONSOLE_IDLE_MINUTES", "10", "console_idle_minutes", 10.0),
        ("CONSOLE_SESSION_HOURS", "8", "console_session_hours", 8.0),
        ("CONSOLE_LINK_MINUTES", "5", "console_link_minutes", 5.0),
        ("CONSOLE_PASSWORD_LINK_HOURS", "24", "console_password_link_hours", 24.0),
        (
            "CONSOLE_URL",
            "https://staff.example.vn/console/",
            "console_base",
            "https://staff.example.vn/console",
        ),
    ],
)
def test_console_values_are_read(name: str, value: str, attribute: str, expected: object) -> None:
    assert getattr(Settings.from_env({name: value}), attribute) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONSOLE_IDLE_MINUTES", "0"),
        ("CONSOLE_IDLE_MINUTES", "soon"),
        ("CONSOLE_SESSION_HOURS", "1000"),
        ("CONSOLE_LINK_MINUTES", "-1"),
        ("CONSOLE_PASSWORD_LINK_HOURS", "nan"),
        ("CONSOLE_URL", "staff.example.vn"),
    ],
)
def test_bad_console_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({name: value})
    assert str(raised.value).startswith(name)


async def test_the_demo_staff_are_refused_in_production(database: Database) -> None:
    production = replace(Settings(), env="production", data_key="x")
    async with database.session_scope() as session:
        with pytest.raises(RuntimeError):
            await seed_console_demo(session, production, now=Clock()())
        assert await seed_console_demo(session, Settings(), now=Clock()())
        assert not await seed_console_demo(session, Settings(), now=Clock()())  # once
