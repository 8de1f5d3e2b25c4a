"""Typed settings, read once from the environment (and an optional `.env` file).

Every setting the service reads lives here. A wrong value raises `ConfigError` with one line that
names the variable, so start-up stops with a clear message instead of a traceback.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit

VAR_DIR = Path(__file__).resolve().parent.parent / "var"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/bot.db"
_SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Says plainly that certificates signed with generated keys are not the Ministry of Health's.
DEFAULT_DCC_ISSUER = "TEST - not the Ministry of Health"
# Zalo retries a webhook for an hour at most; deduplication (bot.app.UPDATE_MEMORY) must outlast
# twice the window, so that an event is refused by age before it is forgotten.
MAX_ZALO_EVENT_WINDOW_S = 3600


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one line meant for the operator."""


@dataclass(frozen=True)
class Settings:
    """Everything the service can be told from outside. Build it with `Settings.from_env`."""

    env: str = "development"
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)  # may hold a password
    telegram_bot_token: str | None = field(default=None, repr=False)
    telegram_api_base_url: str = "https://api.telegram.org"
    telegram_mode: str = "polling"
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    telegram_webhook_url: str | None = None
    telegram_rate_per_s: float = 30.0
    telegram_group_rate_per_min: float = 20.0  # messages a minute into one group chat
    telegram_paid_broadcast: bool = False
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # Reverse proxies in front of us: only their X-Forwarded-For / X-Forwarded-Proto are read.
    trusted_proxies: tuple[Network, ...] = ()
    data_key: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    conversation_idle_hours: float = 24.0
    chat_rate_per_s: float = 1.0
    chat_burst: int = 3
    send_max_attempts: int = 6
    # Sent messages keep their text and pictures this long, then only their delivery record.
    outbox_retention_days: int = 30
    # Their delivery records are deleted this long after they were written, unless a report
    # (broadcast, campaign) or a ticket refers to them.
    outbox_prune_days: int = 90
    var_dir: Path = VAR_DIR
    min_age: int = 18
    booking_days: int = 14
    priority_groups_file: Path | None = None
    dcc_key_file: Path | None = None  # default var/keys/dcc-signer.key
    dcc_cert_file: Path | None = None  # default var/keys/dcc-signer.pem
    dcc_trust_dir: Path | None = None  # default var/keys/trusted
    dcc_issuer: str = DEFAULT_DCC_ISSUER
    dcc_country: str = "VN"
    quiet_start: time = time(21, 0)  # non-urgent scheduled messages wait from here ...
    quiet_end: time = time(7, 0)  # ... until here (Vietnam time)
    support_chat_id: str | None = None  # the Telegram group where support staff answer
    support_claim_minutes: float = 15.0  # an unclaimed ticket is announced again after this
    recovery_code_minutes: float = 15.0  # a code proving "this ID number is mine" lasts this
    zalo_app_id: str | None = None
    zalo_oa_id: str | None = None  # some signatures start with the OA id instead of the app id
    zalo_oa_secret_key: str | None = field(default=None, repr=False)
    zalo_app_secret: str | None = field(default=None, repr=False)
    zalo_access_token: str | None = field(default=None, repr=False)  # first start only
    zalo_refresh_token: str | None = field(default=None, repr=False)  # first start only
    zalo_api_base_url: str = "https://openapi.zalo.me"
    zalo_oauth_base_url: str = "https://oauth.zaloapp.com"
    zalo_business_api_base_url: str = "https://business.openapi.zalo.me"
    zalo_rate_per_s: float = 10.0  # proactive sends a second (Zalo publishes no figure)
    # kind of notice -> (template id, {template parameter: our field}); see ZALO_TEMPLATES
    zalo_templates: Mapping[str, tuple[str, Mapping[str, str]]] = field(default_factory=dict)
    zalo_info_image_url: str | None = None  # the picture of the "share your phone" request
    # Webhook events stamped further than this from our clock, either way, are dropped.
    zalo_event_window_s: float = 300.0
    # The staff console (/console): sessions end after this long unused, or this long at most.
    console_idle_minutes: float = 30.0
    console_session_hours: float = 12.0
    console_link_minutes: float = 15.0  # a one-time sign-in link sent to a staff member's chat
    console_password_link_hours: float = 72.0  # a set-password link
    console_url: str | None = None  # how staff reach the console, for links (default: HTTP_*)
    console_first_response_minutes: float = 30.0  # the inbox highlights tickets unanswered longer
    console_dashboard_refresh_s: float = 30.0  # the live dashboard refreshes at least this often
    # The platforms' rate limits, shared by every worker through Redis; without it each process
    # keeps its own, which is right only for one worker (`WORKERS`).
    redis_url: str | None = None
    workers: int = 1

    @property
    def zalo_enabled(self) -> bool:
        """Whether the Zalo OA channel runs (its app id, OA secret key and app secret are set)."""
        return bool(self.zalo_app_id and self.zalo_oa_secret_key and self.zalo_app_secret)

    @property
    def console_base(self) -> str:
        """Where the console is reached, without a trailing slash (for links sent to staff)."""
        if self.console_url:
            return self.console_url
        host = "localhost" if self.http_host in ("127.0.0.1", "0.0.0.0", "::") else self.http_host
        return f"http://{host}:{self.http_port}/console"

    @property
    def is_production(self) -> bool:
        """Whether this runs with real citizens' data (no generated keys, no defaults)."""
        return self.env == "production"

    @property
    def keys_dir(self) -> Path:
        """Where `keys init` puts the certificate signer's key, certificate and local CA."""
        return self.var_dir / "keys"

    @property
    def dcc_key_path(self) -> Path:
        """The document signer's private key (PEM or DER, owner-only)."""
        return self.dcc_key_file or self.keys_dir / "dcc-signer.key"

    @property
    def dcc_cert_path(self) -> Path:
        """The document signer's X.509 certificate (PEM or DER)."""
        return self.dcc_cert_file or self.keys_dir / "dcc-signer.pem"

    @property
    def dcc_trust_path(self) -> Path:
        """A folder of other signers' certificates (PEM or DER) the verifier also trusts."""
        return self.dcc_trust_dir or self.keys_dir / "trusted"

    @property
    def bulk_rate_per_s(self) -> float:
        """Messages per second for proactive sends on Telegram (1000/s with paid broadcast)."""
        return 1000.0 if self.telegram_paid_broadcast else self.telegram_rate_per_s

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `environ` (default: `.env` overlaid by the process environment).

        Raises:
            ConfigError: a value is malformed or a production secret is missing.
        """
        env = dict(environ) if environ is not None else {**read_dotenv(), **os.environ}
        settings = cls(
            env=_choice(env, "ENV", "development", ("development", "production")),
            database_url=_database_url(env.get("DATABASE_URL") or DEFAULT_DATABASE_URL),
            telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_api_base_url=_http_url(
                "TELEGRAM_API_BASE_URL",
                env.get("TELEGRAM_API_BASE_URL") or "https://api.telegram.org",
            ),
            telegram_mode=_choice(env, "TELEGRAM_MODE", "polling", ("polling", "webhook")),
            telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
            telegram_webhook_url=env.get("TELEGRAM_WEBHOOK_URL") or None,
            telegram_rate_per_s=_number(env, "TELEGRAM_RATE_PER_S", 30.0, low=0.1, high=1000),
            telegram_group_rate_per_min=_number(
                env, "TELEGRAM_GROUP_RATE_PER_MIN", 20.0, low=1, high=6000
            ),
            telegram_paid_broadcast=_flag(env, "TELEGRAM_PAID_BROADCAST"),
            http_host=env.get("HTTP_HOST") or "127.0.0.1",
            http_port=_integer(env, "HTTP_PORT", 8080, low=0, high=65535),
            trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
            data_key=env.get("DATA_KEY") or None,
            log_level=_choice(env, "LOG_LEVEL", "INFO", _LOG_LEVELS, upper=True),
            conversation_idle_hours=_number(
                env, "CONVERSATION_IDLE_HOURS", 24.0, low=0.01, high=24 * 365
            ),
            chat_rate_per_s=_number(env, "CHAT_RATE_PER_S", 1.0, low=0.01, high=100),
            chat_burst=_integer(env, "CHAT_BURST", 3, low=1, high=100),
            send_max_attempts=_integer(env, "SEND_MAX_ATTEMPTS", 6, low=1, high=100),
            outbox_retention_days=_integer(env, "OUTBOX_RETENTION_DAYS", 30, low=1, high=3650),
            outbox_prune_days=_integer(env, "OUTBOX_PRUNE_DAYS", 90, low=1, high=3650),
            var_dir=Path(env.get("VAR_DIR") or VAR_DIR),
            min_age=_integer(env, "MIN_AGE", 18, low=0, high=120),
            booking_days=_integer(env, "BOOKING_DAYS", 14, low=1, high=90),
            priority_groups_file=_existing_file(env, "PRIORITY_GROUPS_FILE"),
            dcc_key_file=_path(env, "DCC_KEY_FILE"),
            dcc_cert_file=_path(env, "DCC_CERT_FILE"),
            dcc_trust_dir=_path(env, "DCC_TRUST_DIR"),
            dcc_issuer=(env.get("DCC_ISSUER") or DEFAULT_DCC_ISSUER).strip(),
            dcc_country=(env.get("DCC_COUNTRY") or "VN").strip(),
            **_quiet_hours(env.get("QUIET_HOURS") or "21:00-07:00"),
            support_chat_id=_chat_id(env, "SUPPORT_CHAT_ID"),
            support_claim_minutes=_number(env, "SUPPORT_CLAIM_MINUTES", 15.0, low=1, high=24 * 60),
            recovery_code_minutes=_number(env, "RECOVERY_CODE_MINUTES", 15.0, low=1, high=24 * 60),
            zalo_app_id=_digits(env, "ZALO_APP_ID"),
            zalo_oa_id=_digits(env, "ZALO_OA_ID"),
            zalo_oa_secret_key=env.get("ZALO_OA_SECRET_KEY") or None,
            zalo_app_secret=env.get("ZALO_APP_SECRET") or None,
            zalo_access_token=env.get("ZALO_ACCESS_TOKEN") or None,
            zalo_refresh_token=env.get("ZALO_REFRESH_TOKEN") or None,
            zalo_api_base_url=_http_url(
                "ZALO_API_BASE_URL", env.get("ZALO_API_BASE_URL") or "https://openapi.zalo.me"
            ),
            zalo_oauth_base_url=_http_url(
                "ZALO_OAUTH_BASE_URL",
                env.get("ZALO_OAUTH_BASE_URL") or "https://oauth.zaloapp.com",
            ),
            zalo_business_api_base_url=_http_url(
                "ZALO_BUSINESS_API_BASE_URL",
                env.get("ZALO_BUSINESS_API_BASE_URL") or "https://business.openapi.zalo.me",
            ),
            zalo_rate_per_s=_number(env, "ZALO_RATE_PER_S", 10.0, low=0.1, high=1000),
            zalo_templates=_zalo_templates(env.get("ZALO_TEMPLATES") or ""),
            zalo_info_image_url=env.get("ZALO_INFO_IMAGE_URL") or None,
            zalo_event_window_s=_number(
                env, "ZALO_EVENT_WINDOW_S", 300.0, low=30, high=MAX_ZALO_EVENT_WINDOW_S
            ),
            console_idle_minutes=_number(env, "CONSOLE_IDLE_MINUTES", 30.0, low=1, high=24 * 60),
            console_session_hours=_number(
                env, "CONSOLE_SESSION_HOURS", 12.0, low=0.1, high=24 * 7
            ),
            console_link_minutes=_number(env, "CONSOLE_LINK_MINUTES", 15.0, low=1, high=24 * 60),
            console_password_link_hours=_number(
                env, "CONSOLE_PASSWORD_LINK_HOURS", 72.0, low=0.1, high=24 * 30
            ),
            console_url=_console_url(env.get("CONSOLE_URL") or None),
            console_first_response_minutes=_number(
                env, "CONSOLE_FIRST_RESPONSE_MINUTES", 30.0, low=1, high=7 * 24 * 60
            ),
            console_dashboard_refresh_s=_number(
                env, "CONSOLE_DASHBOARD_REFRESH_S", 30.0, low=1, high=3600
            ),
            redis_url=_redis_url(env.get("REDIS_URL") or None),
            workers=_integer(env, "WORKERS", 1, low=1, high=256),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse combinations that cannot work, naming the variable to fix."""
        if self.telegram_webhook_url is not None:
            _http_url("TELEGRAM_WEBHOOK_URL", self.telegram_webhook_url)
        if self.telegram_mode == "webhook" and self.telegram_bot_token:
            if not self.telegram_webhook_secret:
                raise ConfigError("TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_MODE=webhook")
            if not self.telegram_webhook_url:
                raise ConfigError("TELEGRAM_WEBHOOK_URL is required when TELEGRAM_MODE=webhook")
        if self.telegram_webhook_secret and not _SECRET_TOKEN_RE.match(
            self.telegram_webhook_secret
        ):
            raise ConfigError(
                "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -"
            )
        zalo = {
            "ZALO_APP_ID": self.zalo_app_id,
            "ZALO_OA_SECRET_KEY": self.zalo_oa_secret_key,
            "ZALO_APP_SECRET": self.zalo_app_secret,
        }
        if any(zalo.values()) and not all(zalo.values()):
            missing = ", ".join(name for name, value in zalo.items() if not value)
            raise ConfigError(
                f"Zalo needs ZALO_APP_ID, ZALO_OA_SECRET_KEY and ZALO_APP_SECRET: set {missing}"
            )
        if self.support_chat_id and not self.telegram_bot_token:
            raise ConfigError("SUPPORT_CHAT_ID is a Telegram group: it needs TELEGRAM_BOT_TOKEN")
        if self.is_production and not self.data_key:
            raise ConfigError("DATA_KEY is required when ENV=production")
        if not 0 < len(self.dcc_issuer) <= 80:
            raise ConfigError("DCC_ISSUER must be 1-80 characters (the certificate's `is` field)")
        if not re.fullmatch(r"[A-Z]{2}", self.dcc_country):
            raise ConfigError(
                f"DCC_COUNTRY must be two capital letters, ISO 3166-1 (got {self.dcc_country!r})"
            )
        if self.workers > 1 and not self.redis_url:
            raise ConfigError(
                f"WORKERS={self.workers} needs REDIS_URL: without Redis each worker would keep "
                "the platforms' rate limits on its own and together exceed them"
            )


def read_dotenv(path: Path | None = None) -> dict[str, str]:
    """Parse a `.env` file of `KEY=VALUE` lines (comments and blank lines ignored)."""
    path = path or Path.cwd() / ".env"
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _quiet_hours(value: str) -> dict[str, time]:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value)
    try:
        if match is None:
            raise ValueError
        hour1, minute1, hour2, minute2 = (int(part) for part in match.groups())
        return {"quiet_start": time(hour1, minute1), "quiet_end": time(hour2, minute2)}
    except ValueError:
        raise ConfigError(
            f"QUIET_HOURS must look like 21:00-07:00 (got {value!r}); 00:00-00:00 turns it off"
        ) from None


def _chat_id(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    if not re.fullmatch(r"-?\d{1,20}", value):
        raise ConfigError(
            f"{name} must be a Telegram chat id such as -1001234567890 (got {value!r})"
        )
    return value


def _digits(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    if not re.fullmatch(r"\d{1,30}", value):
        raise ConfigError(f"{name} must be the number shown in the Zalo console (got {value!r})")
    return value


# The facts each kind of notice (bot.domain.notices) gives a Zalo template, for the operator's
# mapping in ZALO_TEMPLATES to be checked against.
TEMPLATE_FIELDS: dict[str, frozenset[str]] = {
    "reminder": frozenset({"name", "site", "address", "time", "code", "dose"}),
    "missed": frozenset({"name", "site", "time", "code", "dose"}),
    "next_dose": frozenset({"name", "dose"}),
    "result": frozenset({"name", "result", "tube", "time"}),
    "invitation": frozenset({"name", "campaign"}),
    "recovery_code": frozenset({"code"}),
    "checkin": frozenset({"name", "product", "day"}),
    "child_reminder": frozenset({"name", "doses", "day"}),
}


def _zalo_templates(value: str) -> dict[str, tuple[str, Mapping[str, str]]]:
    """`{"reminder": {"template_id": "231677", "data": {"customer_name": "name", ...}}, ...}`."""
    if not value.strip():
        return {}
    hint = (
        "ZALO_TEMPLATES must be JSON like "
        '{"reminder": {"template_id": "231677", "data": {"customer_name": "name"}}}'
    )
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ConfigError(hint) from None
    if not isinstance(parsed, dict):
        raise ConfigError(hint)
    templates: dict[str, tuple[str, Mapping[str, str]]] = {}
    for kind, spec in parsed.items():
        if kind not in TEMPLATE_FIELDS:
            known = ", ".join(sorted(TEMPLATE_FIELDS))
            raise ConfigError(f"ZALO_TEMPLATES: {kind!r} is not a kind of notice ({known})")
        if not isinstance(spec, dict) or not isinstance(spec.get("template_id"), (str, int)):
            raise ConfigError(hint)
        data = spec.get("data") or {}
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ConfigError(hint)
        unknown = sorted(set(data.values()) - TEMPLATE_FIELDS[kind])
        if unknown:
            fields = ", ".join(sorted(TEMPLATE_FIELDS[kind]))
            raise ConfigError(
                f"ZALO_TEMPLATES: {kind} has no {', '.join(unknown)} (it has {fields})"
            )
        templates[kind] = (str(spec["template_id"]), {str(k): v for k, v in data.items()})
    return templates


def _networks(env: Mapping[str, str], name: str) -> tuple[Network, ...]:
    """Comma-separated addresses or networks (`127.0.0.1, 10.0.0.0/8, ::1`)."""
    networks = []
    for part in (env.get(name) or "").split(","):
        if not part.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"{name} must list IP addresses or networks such as 127.0.0.1, 10.0.0.0/8 "
                f"(got {part.strip()!r})"
            ) from None
    return tuple(networks)


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name)
    return Path(value) if value else None


def _existing_file(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name)
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"{name} must name a readable file (got {value!r})")
    return path


def _choice(
    env: Mapping[str, str],
    name: str,
    default: str,
    allowed: tuple[str, ...],
    *,
    upper: bool = False,
) -> str:
    value = env.get(name) or default
    value = value.upper() if upper else value.lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _number(
    env: Mapping[str, str], name: str, default: float, *, low: float, high: float
) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number (got {raw!r})") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g} (got {raw!r})")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    if not raw.strip().isdigit():
        raise ConfigError(f"{name} must be a whole number (got {raw!r})")
    value = int(raw)
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high} (got {raw!r})")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "false").lower()
    if raw not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ConfigError(f"{name} must be true or false (got {raw!r})")
    return raw in ("1", "true", "yes", "on")


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL (got {value!r})")
    return value.rstrip("/")


def _redis_url(value: str | None) -> str | None:
    """REDIS_URL: redis://, rediss:// (TLS) or unix:// (a socket), with a database number."""
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.netloc or parts.path):
        raise ConfigError("REDIS_URL must look like redis://127.0.0.1:6379/0")
    return value.strip()


def _console_url(value: str | None) -> str | None:
    """CONSOLE_URL: an http(s) address, kept without its trailing slash."""
    if value is None:
        return None
    return _http_url("CONSOLE_URL", value.strip()).rstrip("/")


def _database_url(value: str) -> str:
    if value.startswith("sqlite+aiosqlite://"):
        return value
    if value.startswith(("postgresql+asyncpg://", "postgresql://", "postgres://")):
        rest = value.partition("://")[2]
        return "postgresql+asyncpg://" + rest
    scheme = value.split(":", 1)[0]  # never echo the rest: it may hold a password
    shown = repr(scheme) if re.fullmatch(r"[a-z0-9+]{1,40}", scheme) else "something else"
    raise ConfigError(
        f"DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg:// (got {shown})"
    )
