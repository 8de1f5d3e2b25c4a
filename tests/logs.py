"""Every log record of every logger, captured with its traceback; secrets searched for in it."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from storage.db import Database
from storage.models import OutboxMessage


class AllLogs(logging.Handler):
    """Every record of every logger, formatted with its traceback and chained exceptions."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self._added = asyncio.Event()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        self.records.append(record)
        # The template and its arguments as given, besides the formatted line.
        self.lines.append(f"{text}\n{record.msg!r} {record.args!r} {record.stack_info or ''}")
        self._added.set()

    async def wait_for(self, name: str, start: str, timeout: float = 15.0) -> None:
        """Until `name` (a logger) logged a message starting with `start`."""

        def found() -> bool:
            return any(r.name == name and r.getMessage().startswith(start) for r in self.records)

        async with asyncio.timeout(timeout):
            while not found():
                self._added.clear()
                await self._added.wait()

    def leaks(self, secret: str) -> list[str]:
        return [line for line in self.lines if secret in line]


def secrets_of(token: str) -> list[str]:
    """The token, and its secret part alone (after the bot id)."""
    return [token, token.split(":", 1)[1]]


async def stored_errors(db: Database) -> list[str]:
    async with db.read_scope() as session:
        rows = (await session.execute(select(OutboxMessage.last_error))).scalars()
        return [error for error in rows if error]
