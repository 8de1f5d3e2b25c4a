"""The sender: delivers outbox rows through their channels, within each platform's limits.

Replies are handed over right after their transaction commits (`deliver_now`), so the bot feels
instant; everything else (retries, bulk sends, leftovers of a crash) is claimed from the table by
the drain loop. A chat's messages leave in the order they were written: while one waits for a
retry, the later ones wait behind it in the table. Per chat there is a token bucket (Telegram:
1 message/s sustained, a burst of a few; 20 a minute in a group); per channel a second bucket
paces bulk sends only (Telegram: 30/s, 1000/s with paid broadcast; Zalo's rate), so a
broadcast in progress never holds back a reply. Outcomes are written in small batches.

429 -> wait `retry_after` and retry the same row (not counted as a failed attempt); 403 -> mark
the row `blocked` and the account unreachable, and stop; outside Zalo's interaction window ->
`waiting` until the citizen writes again; network trouble -> retry with
exponential backoff up to `max_attempts`, then `failed`. On shutdown (cancelled or stopped),
sends on the wire get `STOP_TIMEOUT_S` to finish and the rest is handed back, so the sender
stops within a second; a send cut off is recorded on its row (see `stop`).

Lanes (`storage.outbox`): rows are claimed replies first, then results and reminders, then bulk
(broadcasts, campaign waves) with the room left, at most `_BULK_BACKLOG` of them in memory; a
bulk job also waits while a job of a higher lane is queued here, so a citizen's reply never
waits behind an announcement. The table keeps each chat's order across workers (`claim_due`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.channels import (
    Channel,
    RetryLater,
    TemporaryFailure,
    Undeliverable,
    Unreachable,
    WaitForUser,
)
from bot.clock import Clock
from bot.domain.ratelimit import LocalLimiter, RateLimiter
from bot.idle import IdleWatch
from bot.messages import ChatRef, Outgoing
from storage import accounts, media, outbox
from storage.db import Database

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
# A job this close to losing its claim is left for a fresh claim. Larger than the longest a
# send can take (see the channels' request timeouts), so a claim never lapses mid-send.
_LEASE_MARGIN_S = 20.0
_BACKLOG = 200  # claimed rows held in memory at most
_BULK_BACKLOG = 150  # of which bulk rows: the rest is kept for the higher lanes
_POLL_S = 0.5
_INTERRUPTED = "cut off at shutdown while sending: it may have arrived"
_MAX_BACKOFF_S = 300.0
# A message that waits for the citizen to write is tried again after this all the same.
_WAIT_FOR_USER = timedelta(days=7)
# At shutdown, sends on the wire get this long to finish; one still running is cut off, which
# its row records (`last_error`), and, still claimed, it is sent again once its lease has passed
# (after a restart, say).
STOP_TIMEOUT_S = 0.75


@dataclass(slots=True)
class _Job:
    id: int
    message: Outgoing
    bulk: bool
    attempts: int
    deadline: float  # time.monotonic() after which our claim may have passed to another worker
    lane: int = outbox.REPLY


@dataclass(slots=True)
class _Hold:
    """Rows of one chat waiting in the table for a retry; later rows must wait behind them."""

    ids: set[int]
    until: datetime


@dataclass(frozen=True, slots=True)
class _Outcome:
    id: int
    chat: ChatRef
    status: str  # sent | retry | failed | blocked | dropped | waiting | interrupted
    external_id: str | None = None
    upload: tuple[str, str] | None = None  # (image key, platform file id) of a first upload
    error: str = ""
    not_before: datetime | None = None
    attempt: bool = True
    unreachable: bool = False


class Sender:
    """Delivers outbox rows; one per process, started by `run()`.

    `limiter` keeps the platforms' paces: in this process by default, or in Redis, shared by
    every worker (`storage.shared_limits`).
    """

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        *,
        clock: Clock,
        max_attempts: int = 6,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._db = db
        self._channels = dict(channels)
        self._clock = clock
        self._max_attempts = max_attempts
        self._queues: dict[ChatRef, deque[_Job]] = {}
        self._workers: dict[ChatRef, asyncio.Task[None]] = {}
        # The buckets: in this process (one worker), or in Redis, shared by all workers.
        self._limiter: RateLimiter = limiter or LocalLimiter()
        # A tenth of a second's worth of burst: a full second's would let twice the rate
        # through in the second after a pause (a restart, a lull), which the platform refuses.
        self._bulk_paces = {
            name: (ch.limits.bulk_rate_per_s, max(1.0, ch.limits.bulk_rate_per_s / 10))
            for name, ch in self._channels.items()
            if ch.limits.bulk_rate_per_s
        }
        self._unreachable: set[ChatRef] = set()
        self._outcomes: list[_Outcome] = []
        self._outcomes_ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._more_due = False  # the last claim was cut short by the backlog's size
        self._held: dict[ChatRef, _Hold] = {}
        self._on_wire: set[ChatRef] = set()
        self._delivering: dict[ChatRef, int] = {}  # the row each chat's worker has in hand
        self._withdrawn: set[int] = set()
        self._taken: set[int] = set()  # rows in hand: claimed or given, outcome not written
        self._stopping = False
        self._urgent: set[int] = set()  # jobs of the higher lanes held here: bulk jobs wait
        self._nudges: dict[ChatRef, asyncio.Event] = {}  # bulk jobs waiting for `_urgent`
        self._writing = 0  # batches of outcomes taken from `_outcomes`, not yet committed
        self._idle = IdleWatch(self.wake)

    # -- handing work over ---------------------------------------------------------------

    def deliver_now(self, jobs: Sequence[tuple[int, Outgoing]]) -> None:
        """Send rows the caller just committed as `sending` (replies), in the order given."""
        deadline = time.monotonic() + LEASE.total_seconds()
        for row_id, message in jobs:
            self._submit(_Job(row_id, message, bulk=False, attempts=0, deadline=deadline))

    def fit(self, message: Outgoing) -> list[Outgoing]:
        """`message` cut to its channel's limits (one outbox row per part)."""
        channel = self._channels.get(message.chat.channel)
        return channel.fit(message) if channel is not None else [message]

    def wake(self) -> None:
        """Tell the drain loop that new rows are due (after a broadcast or scheduler commit)."""
        self._wake.set()

    def withdraw(self, row_ids: set[int]) -> None:
        """Forget rows the caller just cancelled in the table (a broadcast stopped by staff).

        Rows this process holds in memory are not sent, unless already on the wire; their
        table status is left as the caller set it. Other processes send what they hold.
        """
        for chat, queue in self._queues.items():
            kept = [job for job in queue if job.id not in row_ids]
            for job in queue:
                if job.id in row_ids:
                    self._settle(job)
                    self._taken.discard(job.id)
            if len(kept) != len(queue):
                queue.clear()
                queue.extend(kept)
            if self._delivering.get(chat) in row_ids and chat not in self._on_wire:
                self._withdrawn.add(self._delivering[chat])

    def held_rows(self) -> set[int]:
        """The rows this sender has in hand (claimed or given), their outcome not yet written.

        It keeps each chat's order among them itself; rows in no one's hand are the table's.
        """
        return set(self._taken)

    def reachable_again(self, chat: ChatRef) -> None:
        """The citizen wrote to us, so the platform lets us write back again."""
        self._unreachable.discard(chat)

    async def drained(self) -> None:
        """Wait until nothing is left that this sender can send now.

        That is: a claim found no row due, no send is queued or on the wire, and every
        outcome is written. Rows due later (retries, messages waiting for the citizen) do not
        count. Needs `run()` going.
        """
        await self._idle.wait()

    def _busy(self) -> bool:
        return bool(self._workers or self._outcomes or self._writing)

    # -- the background loops ------------------------------------------------------------

    async def run(self) -> None:
        """Drain due rows and record outcomes until cancelled."""
        writer = asyncio.create_task(self._write_outcomes_forever(), name="outbox-writer")
        try:
            while True:
                number = self._idle.begin()
                claimed = await self._claim_due()
                if not claimed and not self._busy():
                    self._idle.quiet(number)
                if not (claimed and self._room()):  # nothing more due, or the backlog is full
                    # Not `wait_for`: before Python 3.12 it can swallow a cancellation that
                    # arrives as the event is set, and the sender would never stop.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(_POLL_S):
                            await self._wake.wait()
                    self._wake.clear()
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            await self.stop()

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait (bounded) for queued sends to finish and their outcomes to be written."""
        end = time.monotonic() + timeout
        while self._workers and time.monotonic() < end:
            await asyncio.wait(list(self._workers.values()), timeout=end - time.monotonic())
        await self._write_outcomes()

    async def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop sending; hand what waits in memory back to the table, due now.

        Sends already on the wire are let finish (bounded by `timeout`) and recorded, since
        sending them again after a restart could duplicate them.
        """
        self._stopping = True
        for chat, worker in list(self._workers.items()):
            if chat not in self._on_wire:
                worker.cancel()
        if self._workers:
            await asyncio.wait(list(self._workers.values()), timeout=timeout)
        for worker in list(self._workers.values()):
            worker.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        await self._write_outcomes()

    def _room(self, *, bulk: bool = False) -> int:
        held = [job for queue in self._queues.values() for job in queue]
        room = _BACKLOG - len(held)
        if bulk:
            room = min(room, _BULK_BACKLOG - sum(job.lane == outbox.BULK for job in held))
        return max(0, room)

    async def _claim_due(self) -> int:
        room = self._room()
        if not room or not self._channels or self._stopping:
            return 0
        async with self._db.session_scope() as session:
            now, deadline = self._clock(), time.monotonic() + LEASE.total_seconds()
            rows = await outbox.claim_due(
                session,
                now=now,
                lease_until=now + LEASE,
                limit=room,
                channels=tuple(self._channels),
                bulk_limit=self._room(bulk=True),
            )
        self._more_due = len(rows) == room
        for row, unreachable in rows:
            chat = ChatRef(row.channel, row.chat_id)
            if unreachable:
                self._unreachable.add(chat)
            message = Outgoing.from_body(chat, row.body, row.image)
            job = _Job(row.id, message, row.bulk, row.attempts, deadline, row.lane)
            self._submit(job, claimed=True)
        return len(rows)

    # -- delivery ------------------------------------------------------------------------

    def _submit(self, job: _Job, *, claimed: bool = False) -> None:
        """Queue a job behind the chat's earlier messages.

        While earlier messages of the chat wait for a retry, a later one waits in the table
        behind them (the drain claims in id order), so a chat never sees them out of order.
        """
        chat = job.message.chat
        self._taken.add(job.id)
        hold = self._held.get(chat)
        if hold is not None and self._clock() > hold.until + LEASE:
            del self._held[chat]  # its rows went to another worker; stop waiting for them
            hold = None
        if hold is not None and job.id not in hold.ids and (not claimed or job.id > min(hold.ids)):
            self._hand_back(chat, [job], hold.until, "waiting for an earlier message")
            return
        self._queues.setdefault(chat, deque()).append(job)
        if job.lane < outbox.BULK:
            self._urgent.add(job.id)
            nudge = self._nudges.pop(chat, None)
            if nudge is not None:  # the chat's bulk job waiting ahead of it must go first now
                nudge.set()
        if chat not in self._workers:
            self._workers[chat] = asyncio.create_task(self._work(chat))

    async def _work(self, chat: ChatRef) -> None:
        queue = self._queues[chat]
        try:
            while queue and not self._stopping:
                job = queue.popleft()
                try:
                    retry_at = await self._deliver(chat, job)
                finally:
                    self._settle(job)
                if retry_at is not None:  # keep the chat's order: the rest waits with it
                    self._hand_back(chat, list(queue), retry_at, "waiting for an earlier message")
                    queue.clear()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sender worker for a %s chat failed", chat.channel)
        finally:
            if queue:  # stopping, or cancelled while waiting for the rate limit
                self._hand_back(chat, list(queue), self._clock(), "sender stopped")
                queue.clear()
            del self._workers[chat]
            del self._queues[chat]

    async def _higher_lanes_first(self, chat: ChatRef) -> None:
        """Wait while jobs of higher lanes are in hand, unless one waits behind us in the chat."""
        while self._urgent and not self._urgent_behind(chat):
            await self._nudges.setdefault(chat, asyncio.Event()).wait()

    def _urgent_behind(self, chat: ChatRef) -> bool:
        """Whether a job of a higher lane waits in this chat's queue (it cannot pass ours)."""
        return any(job.id in self._urgent for job in self._queues.get(chat, ()))

    def _settle(self, job: _Job) -> None:
        """`job` has left this sender's hands (sent, settled or handed back)."""
        self._urgent.discard(job.id)
        if not self._urgent:
            for nudge in self._nudges.values():
                nudge.set()
            self._nudges.clear()

    def _hand_back(
        self, chat: ChatRef, jobs: Sequence[_Job], not_before: datetime, reason: str
    ) -> None:
        """Return jobs to the table, due at `not_before`, and hold the chat's later messages."""
        if not jobs:
            return
        hold = self._held.setdefault(chat, _Hold(set(), not_before))
        hold.until = max(hold.until, not_before)
        for job in jobs:
            self._settle(job)
            hold.ids.add(job.id)
            self._record(
                _Outcome(job.id, chat, "retry", attempt=False, not_before=hold.until, error=reason)
            )

    def _done(self, chat: ChatRef, outcome: _Outcome) -> None:
        """Record a final outcome; the chat's later messages need not wait for this one."""
        self._record(outcome)
        hold = self._held.get(chat)
        if hold is not None:
            hold.ids.discard(outcome.id)
            if not hold.ids:
                del self._held[chat]

    async def _deliver(self, chat: ChatRef, job: _Job) -> datetime | None:
        """Send one job; if it must be tried again, return when (the chat's rest waits too)."""
        channel = self._channels[chat.channel]
        if chat in self._unreachable:
            self._done(chat, _Outcome(job.id, chat, "dropped", error="recipient unreachable"))
            return None
        pace = self._chat_pace(chat, channel)
        if not await self._wait_turn(chat, job, pace):
            return None  # cancelled while it waited for its turn
        if time.monotonic() > job.deadline - _LEASE_MARGIN_S or self._stopping:
            self._queues[chat].appendleft(job)  # our claim may lapse mid-send: hand it back
            return self._clock()
        self._on_wire.add(chat)
        try:
            sent = await channel.send(job.message, bulk=job.bulk)
        except asyncio.CancelledError:  # cut off at shutdown: it may have arrived or not
            self._record(_Outcome(job.id, chat, "interrupted", error=_INTERRUPTED))
            raise
        except RetryLater as error:
            if pace is not None:
                await self._limiter.pause(_chat_key(chat), *pace, error.seconds)
            return self._retry(job, chat, str(error), delay=error.seconds, counts=False)
        except Unreachable as error:
            self._unreachable.add(chat)
            self._done(chat, _Outcome(job.id, chat, "blocked", error=str(error), unreachable=True))
            return None
        except Undeliverable as error:
            self._done(chat, _Outcome(job.id, chat, "failed", error=str(error)))
            return None
        except WaitForUser as error:
            wait = timedelta(seconds=error.seconds) if error.seconds else _WAIT_FOR_USER
            self._done(
                chat,
                _Outcome(
                    job.id, chat, "waiting", error=str(error), not_before=self._clock() + wait
                ),
            )
            return None
        except Exception as error:  # network trouble and anything unforeseen: retried, bounded
            if not isinstance(error, TemporaryFailure):
                log.exception("unexpected error sending outbox row %s", job.id)
            return self._retry(job, chat, f"{type(error).__name__}: {error}", delay=None)
        finally:
            self._on_wire.discard(chat)
        key = job.message.image_key
        upload = (key, sent.file_id) if key and sent.file_id else None
        self._done(
            chat, _Outcome(job.id, chat, "sent", external_id=sent.message_id, upload=upload)
        )
        return None

    async def _wait_turn(self, chat: ChatRef, job: _Job, pace: tuple[float, float] | None) -> bool:
        """Wait for the chat's and the channel's pace; False if the job was withdrawn meanwhile."""
        self._delivering[chat] = job.id
        try:
            if job.lane == outbox.BULK:
                await self._higher_lanes_first(chat)
            if pace is not None:
                await self._limiter.take(_chat_key(chat), *pace)
            if job.bulk and chat.channel in self._bulk_paces:
                await self._limiter.take(f"{chat.channel}:bulk", *self._bulk_paces[chat.channel])
        except asyncio.CancelledError:
            self._queues[chat].appendleft(job)  # not sent yet: handed back with the rest
            raise
        finally:
            del self._delivering[chat]
        if job.id in self._withdrawn:
            self._withdrawn.discard(job.id)
            return False
        return True

    def _retry(
        self, job: _Job, chat: ChatRef, error: str, *, delay: float | None, counts: bool = True
    ) -> datetime | None:
        """Record a retry of `job`, or its failure once out of attempts; return when it is due.

        A rate limit (`counts=False`) is waited out however often it comes: the platform said
        when to come back. Other failures count against `max_attempts`, with backoff.
        """
        attempts = job.attempts + 1 if counts else job.attempts
        if attempts >= self._max_attempts:
            log.warning("giving up outbox row %s after %s attempts: %s", job.id, attempts, error)
            self._done(chat, _Outcome(job.id, chat, "failed", error=error))
            return None
        wait = delay if delay is not None else min(2.0**attempts, _MAX_BACKOFF_S)
        not_before = self._clock() + timedelta(seconds=wait)
        hold = self._held.setdefault(chat, _Hold(set(), not_before))
        hold.ids.add(job.id)
        hold.until = max(hold.until, not_before)
        self._record(
            _Outcome(job.id, chat, "retry", error=error, not_before=not_before, attempt=counts)
        )
        return not_before

    @staticmethod
    def _chat_pace(chat: ChatRef, channel: Channel) -> tuple[float, float] | None:
        rate, burst = channel.limits.pace(chat.chat_id)
        return None if rate is None else (rate, float(burst))

    # -- recording outcomes --------------------------------------------------------------

    def _record(self, outcome: _Outcome) -> None:
        self._outcomes.append(outcome)
        self._outcomes_ready.set()
        if self._more_due and self._room() >= _BACKLOG // 2:
            self._more_due = False
            self._wake.set()  # half the backlog is sent and more rows wait: claim them now

    async def _write_outcomes_forever(self) -> None:
        while True:
            await self._outcomes_ready.wait()
            self._outcomes_ready.clear()
            try:
                await self._write_outcomes()
            except Exception:
                log.exception("could not record delivery outcomes; will retry")
                await asyncio.sleep(1)
                self._outcomes_ready.set()

    async def _write_outcomes(self) -> None:
        batch, self._outcomes = self._outcomes, []
        if not batch:
            return
        now = self._clock()
        self._writing += 1
        try:
            async with self._db.session_scope() as session:
                sent = [(o.id, o.external_id) for o in batch if o.status == "sent"]
                await outbox.mark_sent(session, outcomes=sent, at=now)
                uploads = [(o.chat.channel, *o.upload) for o in batch if o.upload]
                await media.remember(session, uploads, now=now)
                for o in batch:
                    if o.status == "retry":
                        assert o.not_before is not None
                        await outbox.mark_retry(
                            session,
                            message_id=o.id,
                            not_before=o.not_before,
                            error=o.error,
                            attempt=o.attempt,
                        )
                    elif o.status == "waiting":
                        assert o.not_before is not None
                        await outbox.mark_waiting(
                            session, message_id=o.id, not_before=o.not_before, error=o.error
                        )
                    elif o.status == "interrupted":
                        await outbox.mark_interrupted(session, message_id=o.id, error=o.error)
                    elif o.status in ("failed", "blocked", "dropped"):
                        await outbox.mark_final(
                            session, message_id=o.id, status=o.status, error=o.error
                        )
                    if o.unreachable:
                        await accounts.mark_unreachable(
                            session,
                            channel=o.chat.channel,
                            chat_id=o.chat.chat_id,
                            reason=o.error,
                            at=now,
                        )
        except BaseException:  # failed or cancelled (at shutdown): keep them for the next try
            self._outcomes[:0] = batch
            raise
        finally:
            self._writing -= 1
        self._taken.difference_update(o.id for o in batch)
        if any(o.status == "retry" for o in batch) or (self._idle.waiting and not self._busy()):
            self._wake.set()  # retries may be due now; someone waits to hear all is sent


def _chat_key(chat: ChatRef) -> str:
    """The name of a chat's bucket (in Redis, shared by every worker)."""
    return f"{chat.channel}:chat:{chat.chat_id}"
