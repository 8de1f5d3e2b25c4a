"""Token buckets: a sustained rate with a small burst, shared fairly in arrival order.

`RateLimiter` is what the sender paces its sends with: buckets by key (a chat, a channel's bulk
sends). `LocalLimiter` keeps them in this process (one worker); `storage.shared_limits` keeps
them in Redis, shared by every worker (`REDIS_URL`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


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

    def try_take(self) -> bool:
        """Take a token only if one is free now."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

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


class KeyedLimiter:
    """One token bucket per key (a chat, a session, an address), forgotten once idle."""

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst, self._max_keys, self._clock = rate, burst, max_keys, clock
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, key: str) -> bool:
        """Take a token for `key` if one is free now; False means refuse (nothing is queued)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._buckets = {k: b for k, b in self._buckets.items() if not b.idle()}
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, clock=self._clock)
        return bucket.try_take()


class RateLimiter(Protocol):
    """Token buckets by key: `rate` tokens a second, holding at most `burst`."""

    async def take(self, key: str, rate: float, burst: float) -> None:
        """Wait until a token of `key`'s bucket is ours."""

    async def pause(self, key: str, rate: float, burst: float, seconds: float) -> None:
        """Hold `key`'s later takers back by `seconds` (the platform said "retry after")."""

    async def close(self) -> None:
        """Let go of what the limiter holds (connections)."""


class LocalLimiter:
    """A `RateLimiter` in this process's memory: right for one worker only."""

    def __init__(self, *, max_keys: int = 10_000) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._max_keys = max_keys

    def _bucket(self, key: str, rate: float, burst: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None or (bucket.rate, bucket.burst) != (rate, burst):
            if len(self._buckets) >= self._max_keys:  # forget the full ones: nothing changes
                self._buckets = {k: b for k, b in self._buckets.items() if not b.idle()}
            bucket = self._buckets[key] = TokenBucket(rate, burst)
        return bucket

    async def take(self, key: str, rate: float, burst: float) -> None:
        """Wait until a token of `key`'s bucket is ours."""
        await self._bucket(key, rate, burst).take()

    async def pause(self, key: str, rate: float, burst: float, seconds: float) -> None:
        """Hold `key`'s later takers back by `seconds`."""
        self._bucket(key, rate, burst).pause(seconds)

    async def close(self) -> None:
        """Nothing to let go of."""
