"""Token buckets: a sustained rate with a small burst, shared fairly in arrival order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """`rate` tokens per second, holding at most `burst`. Callers reserve a token, then wait."""

    def __init__(
        self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._updated = clock()

    def reserve(self) -> float:
        """Take a token now; return how long to wait before using it (0 if none)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def take(self) -> None:
        """Wait until a token is ours."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)

    def pause(self, seconds: float) -> None:
        """Hold every later reservation back by `seconds` (the platform said "retry after")."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens = min(self._tokens, 1.0) - seconds * self.rate

    def idle(self) -> bool:
        """Whether the bucket is full again, so forgetting it changes nothing."""
        elapsed = self._clock() - self._updated
        return self._tokens + elapsed * self.rate >= self.burst
