"""Logging policy: our own loggers at LOG_LEVEL, library loggers never below WARNING."""

from __future__ import annotations

import logging

# At DEBUG these print whole API calls, with what citizens typed (phone numbers), and request
# URLs, which carry the Telegram token; alembic chats at INFO on every start.
LIBRARY_LOGGERS = ("telegram", "httpx", "httpcore", "aiohttp.access", "aiohttp.client", "alembic")


def configure_logging(level: str) -> None:
    """Log to stderr at `level`, one line per record."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_library_loggers()


def quiet_library_loggers() -> None:
    """Keep library loggers at WARNING, whatever LOG_LEVEL says."""
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
