"""Translations and locale-aware formatting.

`_()` translates into the locale of the current event, held in a ContextVar that the dispatcher
sets once per update (and bulk senders once per recipient). Vietnamese is the default; English
is second. Catalogs live in `bot/i18n/locales/<lang>/LC_MESSAGES/messages.po`; the `.mo` files
are compiled by the build (`make i18n-compile`), never committed.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT_LOCALE = "vi"
SUPPORTED = ("vi", "en")
# Each language named in itself (for pickers), so these are not translated.
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}
TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")

_locale: ContextVar[str] = ContextVar("locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalog for `locale`; the source text when none is compiled."""
    return gettext.translation(DOMAIN, LOCALES_DIR, languages=[locale], fallback=True)


def current_locale() -> str:
    """The locale of the event being handled."""
    return _locale.get()


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Translate into `locale` inside the block (falls back to Vietnamese if unsupported)."""
    token = _locale.set(locale if locale in SUPPORTED else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _locale.reset(token)


def _(message: str) -> str:
    """Translate `message` into the current locale. Fill placeholders after translating."""
    return translations(_locale.get()).gettext(message)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark `message` for extraction without translating it now (for module-level tables)."""
    return message


# The channels in words (translate with `_()` where shown).
CHANNEL_NAMES = {"telegram": N_("Telegram"), "web": N_("web chat"), "zalo": N_("Zalo")}


def negotiate(language_code: str | None) -> str:
    """Pick our locale from a platform language tag such as `en-US` (default Vietnamese)."""
    if language_code:
        primary = language_code.replace("_", "-").split("-")[0].lower()
        if primary in SUPPORTED:
            return primary
    return DEFAULT_LOCALE


def local_day(moment: datetime) -> date:
    """The day an aware moment falls on in Vietnam."""
    return moment.astimezone(TIMEZONE).date()


def format_day(day: date) -> str:
    """A day in words for the current locale, e.g. `Thứ Ba, 02/01/1990`."""
    return str(format_date(day, "EEEE, dd/MM/yyyy", locale=_locale.get()))


def format_moment(moment: datetime) -> str:
    """An aware moment in Vietnam time, e.g. `Thứ Hai, 23/08/2021 lúc 14:30`.

    Raises:
        ValueError: `moment` is naive (Babel would read it as UTC and shift it by 7 hours).
    """
    if moment.tzinfo is None:
        raise ValueError("format_moment needs an aware datetime")
    pattern = (
        "EEEE, dd/MM/yyyy 'lúc' HH:mm" if _locale.get() == "vi" else "EEEE, dd/MM/yyyy 'at' HH:mm"
    )
    return str(format_datetime(moment, pattern, tzinfo=TIMEZONE, locale=_locale.get()))


def format_count(number: int) -> str:
    """A whole number with the current locale's grouping: `12.345` in Vietnamese."""
    return str(format_decimal(number, locale=_locale.get()))
