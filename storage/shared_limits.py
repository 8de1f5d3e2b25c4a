"""Rate limits kept in Redis, shared by every worker that sends (`REDIS_URL`).

In the style of nyaruka/courier's Lua-scripted limits: one script per take, run atomically by
Redis, so workers never both take the last token. Each bucket is a GCRA ("generic cell rate
algorithm") key holding one number, the theoretical arrival time (TAT) of the next token: a
take reserves the next token and returns how long to wait before using it, as the in-process
`TokenBucket.reserve` does, so `burst` tokens go at once after a pause and then one every
1/`rate` seconds, in arrival order. A key lives as long as its bucket is not full again.

Time comes from Redis (`TIME` in the script), not from the workers: the workers' clocks may
disagree by more than a token's interval (1 ms at 1,000 messages a second), and the service's
injected clock is the business time that tests move by days; the waits here are real seconds
slept by the caller. One clock, read where the decision is made, keeps all workers in step.
A script that writes after reading `TIME` needs Redis 5 or later (effects replication; tested
with 7.0). Keys are named `chb:limit:<channel>:chat:<id>` and `chb:limit:<channel>:bulk`: give
each deployment its own Redis database.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["RedisError", "RedisLimiter"]

# KEYS[1]: the bucket. ARGV: interval (s a token), burst, pause (s; 0 for a take).
# Returns the seconds to wait, as a string (Redis would cut a Lua number to an integer).
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local tolerance = (tonumber(ARGV[2]) - 1) * interval
local pause = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = 0
if pause > 0 then
  tat = math.max(tat, now + pause + tolerance)
else
  wait = math.max(0, tat - tolerance - now)
  tat = tat + interval
end
redis.call('SET', KEYS[1], string.format('%.6f', tat),
  'PX', math.ceil((tat - now) * 1000) + 1000)
return string.format('%.6f', wait)
"""


class RedisLimiter:
    """A `RateLimiter` (bot.domain.ratelimit) whose buckets live in Redis under `prefix`."""

    def __init__(self, redis: Redis, *, prefix: str = "chb:limit:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script: Any = redis.register_script(_SCRIPT)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "chb:limit:") -> RedisLimiter:
        """A limiter on the Redis server at `url` (redis://host:port/db)."""
        return cls(Redis.from_url(url), prefix=prefix)

    async def _call(self, key: str, rate: float, burst: float, pause: float) -> float:
        args = (repr(1.0 / rate), repr(float(burst)), repr(float(pause)))
        return float(await self._script(keys=[self._prefix + key], args=args))

    async def reserve(self, key: str, rate: float, burst: float) -> float:
        """Take the next token of `key`'s bucket now; the seconds to wait before using it."""
        return await self._call(key, rate, burst, 0.0)

    async def take(self, key: str, rate: float, burst: float) -> None:
        """Wait until a token of `key`'s bucket is ours (reserved now, used after the wait)."""
        delay = await self.reserve(key, rate, burst)
        if delay > 0:
            await asyncio.sleep(delay)

    async def pause(self, key: str, rate: float, burst: float, seconds: float) -> None:
        """Hold `key`'s later takers back by `seconds`, in every worker."""
        if seconds > 0:
            await self._call(key, rate, burst, seconds)

    async def check(self) -> None:
        """Raise if Redis does not answer (checked at start-up)."""
        await self._redis.ping()

    async def close(self) -> None:
        """Close the connections."""
        await self._redis.aclose()
