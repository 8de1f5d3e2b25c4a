"""The certificate renderer: draws each new certificate's QR picture once and sends it.

Issuing (`bot.domain.certificate_issuing`) signs in the caller's transaction; drawing the QR
takes tens of milliseconds of pure Python, so this loop does it off the request path and queues
the photo in the transaction that stores the picture. It also renews expired certificates,
hourly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain.certificate_issuing import RENEW_BATCH, queue_photo, renew_expired
from bot.domain.dcc.trust import Authority
from bot.domain.qr_image import certificate_png
from bot.idle import IdleWatch
from bot.messages import Outgoing
from storage import certificates
from storage.db import Database
from storage.models import Account, Certificate, Person

log = logging.getLogger(__name__)

RENDER_BATCH = 20
RENEW_EVERY = timedelta(hours=1)


class Renderer:
    """Renders the pictures of new certificates and sends them; renews expired ones hourly."""

    def __init__(
        self,
        db: Database,
        authority: Authority,
        *,
        clock: Clock,
        on_queued: Callable[[], None] = lambda: None,
        fit: Callable[[Outgoing], list[Outgoing]] = lambda message: [message],
    ) -> None:
        self._db = db
        self._authority = authority
        self._clock = clock
        self._on_queued = on_queued
        self._fit = fit
        self._wake = asyncio.Event()
        self._idle = IdleWatch(self._wake.set)
        self._next_renewal: datetime | None = None

    def wake(self) -> None:
        """New certificates were committed: render them now rather than at the next poll."""
        self._wake.set()

    async def idle(self) -> None:
        """Wait until nothing is left to render or renew now (needs `run()` going)."""
        await self._idle.wait()

    async def run(self, *, poll_s: float = 2.0) -> None:
        """Render and renew until cancelled."""
        while True:
            number, busy = self._idle.begin(), False
            try:
                busy = bool(await self.renew_due())
            except Exception:  # the database may be away: the next sweep is an hour away
                log.exception("renewing expired certificates failed")
                busy = True
            try:
                while await self.render_pending():
                    busy = True
            except Exception:  # the database may be away for a while: try again shortly
                log.exception("certificate rendering failed; retrying")
                busy = True
            if not busy:
                self._idle.quiet(number)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll_s)
            self._wake.clear()

    async def renew_due(self) -> int:
        """Renew expired certificates, at most once per `RENEW_EVERY`."""
        now = self._clock()
        if self._next_renewal is not None and now < self._next_renewal:
            return 0
        self._next_renewal = now + RENEW_EVERY
        total = 0
        while True:
            async with self._db.session_scope() as session:
                seen, renewed = await renew_expired(session, self._authority, now=now)
            total += renewed
            if seen < RENEW_BATCH:
                break
        if total:
            log.info("renewed %s expired certificates", total)
        return total

    async def render_pending(self) -> int:
        """Render up to `RENDER_BATCH` new certificates and queue them; how many were done."""
        async with self._db.read_scope() as session:
            todo = await certificates.pending(session, limit=RENDER_BATCH)
        done = 0
        for certificate_id, hc1 in todo:
            png = await asyncio.to_thread(certificate_png, hc1)
            async with self._db.session_scope() as session:
                if not await certificates.mark_rendered(session, certificate_id, png):
                    continue
                certificate = await session.get(Certificate, certificate_id)
                assert certificate is not None
                person = await session.get(Person, certificate.person_id)
                account = (
                    await session.get(Account, person.account_id)
                    if person is not None and person.account_id
                    else None
                )
                await queue_photo(session, certificate, account, now=self._clock(), fit=self._fit)
            done += 1
        if done:
            self._on_queued()
        return done
