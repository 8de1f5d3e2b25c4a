"""The service's one clock: every rule, worker and command is given the time, never reads it.

The composition root (`bot.app.build_service`, `run_bot.main`) chooses the clock and passes it
down; storage and the CLI take the time as an argument. Tests pass `tests.clock.Clock`, which
starts at a fixed moment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Something that says what time it is now, as an aware (UTC) datetime."""

    def __call__(self) -> datetime:
        """Now."""
        ...


def wall_clock() -> datetime:
    """The machine's time, in UTC: the production clock, chosen by the composition root only."""
    return datetime.now(UTC)
