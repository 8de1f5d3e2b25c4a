"""Settings from the environment: defaults, URL rewriting, one-line errors naming the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_DATABASE_URL, ConfigError, Settings, read_dotenv
from bot.crypto import generate_key

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK = {
    "TELEGRAM_BOT_TOKEN": "123:abc",
    "TELEGRAM_MODE": "webhook",
    "TELEGRAM_WEBHOOK_SECRET": "s3cret_token-1",
    "TELEGRAM_WEBHOOK_URL": "https://bot.example.vn/telegram/webhook",
}


def test_defaults_run_locally_with_no_configuration() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///var/bot.db"
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.telegram_mode == "polling"
    assert settings.telegram_bot_token is None
    assert settings.env == "development" and not settings.is_production
    assert settings.log_level == "INFO"


def test_secrets_are_kept_out_of_repr() -> None:
    settings = Settings.from_env({**WEBHOOK, "DATA_KEY": "k" * 43})
    shown = repr(settings)
    assert "123:abc" not in shown and "s3cret_token-1" not in shown and "k" * 43 not in shown


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/bot", "postgresql+asyncpg://u:p@db:5432/bot"),
        ("postgres://u:p@db/bot", "postgresql+asyncpg://u:p@db/bot"),
        ("postgresql+asyncpg://u:p@db/bot", "postgresql+asyncpg://u:p@db/bot"),
        ("sqlite+aiosqlite:////srv/bot.db", "sqlite+aiosqlite:////srv/bot.db"),
        ("", DEFAULT_DATABASE_URL),
    ],
    ids=["postgresql", "postgres-heroku-style", "already-asyncpg", "sqlite-absolute", "empty"],
)
def test_database_url_is_rewritten_for_asyncpg(given: str, expected: str) -> None:
    assert Settings.from_env({"DATABASE_URL": given}).database_url == expected


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HTTP_PORT", "9000", 9000),
        ("HTTP_HOST", "0.0.0.0", "0.0.0.0"),
        ("LOG_LEVEL", "debug", "DEBUG"),
        ("TELEGRAM_MODE", "WEBHOOK", "webhook"),
        ("ENV", "Development", "development"),
        ("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/", "http://127.0.0.1:8081"),
        ("TELEGRAM_PAID_BROADCAST", "yes", True),
        ("CHAT_BURST", "5", 5),
        ("OUTBOX_RETENTION_DAYS", "7", 7),
    ],
    ids=[
        "port",
        "host",
        "log-level-lower",
        "mode-upper",
        "env-mixed-case",
        "api-url",
        "flag",
        "burst",
        "retention",
    ],
)
def test_good_values_are_read(name: str, value: str, expected: object) -> None:
    settings = Settings.from_env({name: value})
    assert getattr(settings, name.lower()) == expected


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"TELEGRAM_API_BASE_URL": "ftp://x"}, "TELEGRAM_API_BASE_URL"),
        ({"TELEGRAM_API_BASE_URL": "not a url"}, "TELEGRAM_API_BASE_URL"),
        ({"TELEGRAM_MODE": "hook"}, "TELEGRAM_MODE"),
        ({"HTTP_PORT": "abc"}, "HTTP_PORT"),
        ({"HTTP_PORT": "70000"}, "HTTP_PORT"),
        ({"HTTP_PORT": "-1"}, "HTTP_PORT"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"ENV": "staging"}, "ENV"),
        ({"TELEGRAM_PAID_BROADCAST": "maybe"}, "TELEGRAM_PAID_BROADCAST"),
        ({"TELEGRAM_RATE_PER_S": "nan"}, "TELEGRAM_RATE_PER_S"),
        ({"DATABASE_URL": "mysql://u:p@h/db"}, "DATABASE_URL"),
        ({"TELEGRAM_WEBHOOK_URL": "bot.example.vn/hook"}, "TELEGRAM_WEBHOOK_URL"),
        ({**WEBHOOK, "TELEGRAM_WEBHOOK_SECRET": ""}, "TELEGRAM_WEBHOOK_SECRET"),
        ({**WEBHOOK, "TELEGRAM_WEBHOOK_URL": ""}, "TELEGRAM_WEBHOOK_URL"),
        ({"TELEGRAM_WEBHOOK_SECRET": "has space"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"TELEGRAM_WEBHOOK_SECRET": "x" * 257}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"ENV": "production"}, "DATA_KEY"),
        pytest.param(
            {"HTTP_PORT": "70000\n"},
            "HTTP_PORT",
            id="port-with-trailing-newline",
        ),
    ],
    ids=[
        "api-url-ftp",
        "api-url-not-a-url",
        "mode-hook",
        "port-abc",
        "port-70000",
        "port-negative",
        "log-level-loud",
        "env-staging",
        "flag-maybe",
        "rate-nan",
        "database-mysql",
        "webhook-url-no-scheme",
        "webhook-without-secret",
        "webhook-without-url",
        "secret-with-space",
        "secret-too-long",
        "production-without-data-key",
        "port-with-trailing-newline",
    ],
)
def test_bad_value_is_one_line_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    message = str(raised.value)
    assert message.startswith(variable)
    assert "\n" not in message


def test_webhook_mode_without_token_needs_no_secret() -> None:
    assert Settings.from_env({"TELEGRAM_MODE": "webhook"}).telegram_mode == "webhook"


def test_webhook_mode_with_everything_is_accepted() -> None:
    settings = Settings.from_env(WEBHOOK)
    assert settings.telegram_webhook_url == "https://bot.example.vn/telegram/webhook"


def test_production_with_a_data_key_is_accepted() -> None:
    assert Settings.from_env({"ENV": "production", "DATA_KEY": "k" * 43}).is_production


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:p@h/db",
        pytest.param(
            "postgresql:/admin:p@db/bot",
        ),
    ],
    ids=["wrong-engine", "missing-slash"],
)
def test_database_url_error_never_shows_the_password(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^DATABASE_URL") as raised:
        Settings.from_env({"DATABASE_URL": url})
    assert ":p@" not in str(raised.value) and "p@" not in str(raised.value)


def test_read_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# local settings\n"
        "\n"
        "HTTP_PORT=9001\n"
        "export LOG_LEVEL=debug\n"
        "TELEGRAM_BOT_TOKEN='123:abc'\n"
        'DATABASE_URL="postgres://u:p@db/bot"\n'
        "  HTTP_HOST = 0.0.0.0  \n"
        "not a setting line\n",
        encoding="utf-8",
    )
    values = read_dotenv(dotenv)
    assert values == {
        "HTTP_PORT": "9001",
        "LOG_LEVEL": "debug",
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "DATABASE_URL": "postgres://u:p@db/bot",
        "HTTP_HOST": "0.0.0.0",
    }
    settings = Settings.from_env(values)
    assert (settings.http_port, settings.log_level) == (9001, "DEBUG")
    assert settings.database_url == "postgresql+asyncpg://u:p@db/bot"


def test_missing_dotenv_is_empty(tmp_path: Path) -> None:
    assert read_dotenv(tmp_path / ".env") == {}


def _run_bot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), *args],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_configuration_error_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    result = _run_bot(
        ["migrate"],
        {"TELEGRAM_MODE": "hook", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/bot.db"},
        tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: TELEGRAM_MODE")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "bot.db").exists()


def test_cli_help_lists_the_commands(tmp_path: Path) -> None:
    result = _run_bot(["--help"], {}, tmp_path)
    assert result.returncode == 0
    for command in ("serve", "migrate", "seed-demo"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("url", "code", "start"),
    [
        ("postgresql://nobody:s3cret@127.0.0.1:1/x", 2, "configuration error: cannot open"),
        ("sqlite+aiosqlite:////proc/no-such-dir/bot.db", 1, "start-up error: No such file"),
    ],
    ids=["database-down", "unwritable-folder"],
)
def test_cli_start_up_failure_is_one_line(tmp_path: Path, url: str, code: int, start: str) -> None:
    env = {"DATABASE_URL": url, "VAR_DIR": str(tmp_path), "DATA_KEY": generate_key()}
    result = _run_bot(["migrate"], env, tmp_path)
    assert result.returncode == code
    (line,) = result.stderr.splitlines()
    assert line.startswith(start)
    assert "s3cret" not in result.stderr
