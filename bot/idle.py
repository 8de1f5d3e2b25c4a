"""Knowing when a worker loop has nothing left to do: for shutdown, health checks and tests.

A loop numbers its passes (`begin`) and reports those that found nothing to do (`quiet`).
`wait` wakes the loop and returns once a pass that began after the call found nothing to do:
a pass that looked at the tables before the caller's last commit does not count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class IdleWatch:
    """The passes of one worker loop, and who waits for a quiet one."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._begun = 0
        self._quiet = 0  # the number of the last pass that found nothing to do
        self._changed = asyncio.Event()
        self.waiting = 0  # callers in `wait`: the loop should look again when it can

    def begin(self) -> int:
        """A pass begins; its number."""
        self._begun += 1
        return self._begun

    def quiet(self, number: int) -> None:
        """Pass `number` found nothing to do."""
        self._quiet = max(self._quiet, number)
        self._changed.set()

    async def wait(self) -> None:
        """Wake the loop; return once a pass begun after this call found nothing to do."""
        after = self._begun
        self.waiting += 1
        try:
            while self._quiet <= after:
                self._changed.clear()
                self._wake()
                await self._changed.wait()
        finally:
            self.waiting -= 1
