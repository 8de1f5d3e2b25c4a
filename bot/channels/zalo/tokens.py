"""The Zalo OA access token: kept in the database, refreshed before it expires, one at a time.

The access token lasts 25 hours; the refresh token lasts three months but works once, and
each refresh returns a new pair (reference/channels.md §4). So a refresh happens:

- in one transaction that holds the token row's lock (PostgreSQL `FOR UPDATE`; on SQLite the
  write transaction), and stores the new pair before anyone uses it; a process that waited
  for the lock finds the pair already renewed and takes it instead of spending the old refresh
  token a second time;
- about 20 hours after the last one (`REFRESH_AFTER`), from a background loop, and at once
  when Zalo calls the token invalid (-216, -220), at most once per stale token.

A refresh Zalo refuses needs a person (the OA admin consents again): it is logged as an error
and told to the support staff's chat, once until a refresh works again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.crypto import DataProtector
from storage import tokens
from storage.db import Database
from storage.models import PlatformToken

log = logging.getLogger(__name__)

CHANNEL = "zalo"
LIFETIME = timedelta(hours=25)  # `expires_in` when Zalo does not say
REFRESH_AFTER = timedelta(hours=20)
RETRY_FAILED = timedelta(minutes=5)
CHECK_EVERY_S = 600.0  # the clock is looked at this often (a suspended laptop, a changed clock)

Alert = Callable[[str], Awaitable[None]]


class TokenRefreshFailed(Exception):
    """Zalo would not renew the token pair: the OA admin must grant access again."""


@dataclass(frozen=True, slots=True)
class _Pair:
    access: str = field(repr=False)
    refresh: str = field(repr=False)
    expires_at: datetime
    refreshed_at: datetime


class TokenKeeper:
    """Holds the current access token and renews the pair (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        protector: DataProtector,
        *,
        oauth_base_url: str,
        app_id: str,
        app_secret: str,
        initial: tuple[str | None, str] | None,
        clock: Clock,
        alert: Alert | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._db = db
        self._protector = protector
        self._url = f"{oauth_base_url.rstrip('/')}/v4/oa/access_token"
        self._app_id = app_id
        self._app_secret = app_secret
        self._initial = initial
        self._clock = clock
        self.alert = alert  # set after building, once the staff chat is known
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._pair: _Pair | None = None
        self._lock = asyncio.Lock()
        self._alerted = False
        self._failed_at: datetime | None = None  # the last refused renewal, not retried at once

    def current(self) -> str:
        """The access token to use now (empty before `load`)."""
        return self._pair.access if self._pair else ""

    async def load(self) -> None:
        """Read the stored pair; on first start, store the pair from the configuration.

        Tokens given in the configuration are only a seed: once the database holds a pair,
        it wins (the configured refresh token was spent by the first refresh).
        """
        async with self._db.session_scope() as session:
            row = await tokens.get(session, CHANNEL, lock=True)
            if row is None and self._initial is not None:
                access, refresh = self._initial
                now = self._clock()
                # Without an access token, one is due at once (expires "now").
                pair = _Pair(access or "", refresh, now + LIFETIME if access else now, now)
                await self._store(session, pair)
                self._pair = pair
                return
        self._pair = self._unseal(row) if row is not None else None

    async def refresh(self, stale: str) -> str:
        """A new access token instead of `stale` (a refresh already done by others is reused).

        Raises:
            TokenRefreshFailed: Zalo refused to renew the pair.
        """
        async with self._lock:
            if self._pair is not None and self._pair.access != stale:
                return self._pair.access  # renewed while we waited
            if self._failed_at is not None and self._clock() - self._failed_at < RETRY_FAILED:
                raise TokenRefreshFailed("the last renewal was refused moments ago")
            pair = await self._renew(lambda stored: stored.access != stale)
            return pair.access

    async def run(self) -> None:
        """Renew the pair about every 20 hours until cancelled; retry a failed renewal."""
        while True:
            try:
                await self.renew_if_due()
                wait = min((self._next_refresh() - self._clock()).total_seconds(), CHECK_EVERY_S)
            except TokenRefreshFailed:
                wait = RETRY_FAILED.total_seconds()
            except Exception:  # the database or the network away: try again shortly
                log.exception("could not renew the Zalo token pair; retrying")
                wait = RETRY_FAILED.total_seconds()
            await asyncio.sleep(max(1.0, wait))

    async def renew_if_due(self) -> bool:
        """Renew the pair if it is about 20 hours old (or expiring); whether it was renewed.

        Raises:
            TokenRefreshFailed: Zalo refused to renew the pair.
        """
        if self._next_refresh() > self._clock():
            return False
        async with self._lock:
            before = self._pair
            pair = await self._renew(self._recent)
            return before is None or pair.refreshed_at != before.refreshed_at

    def _recent(self, stored: _Pair) -> bool:
        """Renewed lately (by another process, say), so not due yet."""
        now = self._clock()
        return (
            stored.access != ""
            and now - stored.refreshed_at < REFRESH_AFTER
            and stored.expires_at - now > RETRY_FAILED
        )

    def _next_refresh(self) -> datetime:
        if self._pair is None:
            return self._clock() + RETRY_FAILED
        return min(self._pair.refreshed_at + REFRESH_AFTER, self._pair.expires_at)

    async def _renew(self, fresh_enough: Callable[[_Pair], bool]) -> _Pair:
        """Under the row's lock: take the stored pair if `fresh_enough`, else refresh it."""
        try:
            async with self._db.session_scope() as session:
                row = await tokens.get(session, CHANNEL, lock=True)
                if row is None:
                    raise TokenRefreshFailed("no Zalo token pair stored: set ZALO_REFRESH_TOKEN")
                stored = self._unseal(row)
                if fresh_enough(stored):
                    self._pair = stored
                    return stored
                pair = await self._exchange(stored.refresh)
                await self._store(session, pair)
        except TokenRefreshFailed as error:  # told after the transaction: the alert writes too
            self._failed_at = self._clock()
            await self._tell(str(error))
            raise
        self._failed_at = None
        self._pair = pair  # committed: only now is the new access token used
        if self._alerted:
            log.info("the Zalo token pair was renewed again")
        self._alerted = False
        return pair

    async def _exchange(self, refresh_token: str) -> _Pair:
        form = {
            "app_id": self._app_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as http,
                # Not redirected: the app secret and the refresh token would go along.
                http.post(
                    self._url,
                    data=form,
                    headers={"secret_key": self._app_secret},
                    allow_redirects=False,
                ) as response,
            ):
                if 300 <= response.status < 400:
                    raise OSError(f"Zalo's token endpoint answered HTTP {response.status}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            # The kind of error only: its text may quote the URL.
            raise OSError(
                f"Zalo's token endpoint could not be reached ({type(error).__name__})"
            ) from None
        if not isinstance(answer, dict) or not answer.get("access_token"):
            detail = (
                answer.get("error_name") or answer.get("error") if isinstance(answer, dict) else ""
            )
            raise TokenRefreshFailed(f"Zalo refused to renew the OA token ({detail})")
        now = self._clock()
        try:
            lifetime = timedelta(seconds=int(answer.get("expires_in") or 0)) or LIFETIME
        except ValueError:
            lifetime = LIFETIME
        return _Pair(
            str(answer["access_token"]), str(answer["refresh_token"]), now + lifetime, now
        )

    async def _tell(self, reason: str) -> None:
        """Log (and tell staff, once) that a person must grant the OA access again."""
        log.error("%s: the OA admin must grant access again (see README, Zalo)", reason)
        if not self._alerted and self.alert is not None:
            self._alerted = True
            try:
                await self.alert(reason)
            except Exception:
                log.exception("could not tell the staff chat about the Zalo token")

    async def _store(self, session: AsyncSession, pair: _Pair) -> None:
        await tokens.put(
            session,
            CHANNEL,
            access_sealed=self._protector.seal(pair.access),
            refresh_sealed=self._protector.seal(pair.refresh),
            expires_at=pair.expires_at,
            refreshed_at=pair.refreshed_at,
        )

    def _unseal(self, row: PlatformToken) -> _Pair:
        return _Pair(
            self._protector.open(row.access_sealed),
            self._protector.open(row.refresh_sealed),
            row.expires_at,
            row.refreshed_at,
        )
