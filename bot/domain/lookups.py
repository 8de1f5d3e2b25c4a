"""Failed result lookups: waits for whoever fails, and an alarm to staff for a targeted tube or ID.

A lookup (`/tracuu`, bot.handlers.pcr) that matches nothing is recorded against the chat, the
client's network (web chat only) and the looked-up tube or ID number, all as keyed hashes.
The chat and the network that failed wait before their next try: `FREE_TRIES` failures are
free, then the wait is `FIRST_WAIT` and doubles with each further failure up to
`LONGEST_WAIT`; failures older than `MEMORY` no longer count. The target is never locked, so
the right answer from the right citizen works however many strangers are guessing. Instead, a
target that draws `ALARM_FAILURES` failures from at least `ALARM_CHATS` chats within
`ALARM_WINDOW` raises an alarm, once per window: an audit-log line and a message to the
support desk, which name the target masked, never in clear.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.tickets import BOT_ACTOR, DESK_LOCALE
from bot.i18n import _, use_locale
from bot.messages import ChatRef, Outgoing
from storage import outbox, samples, staff
from storage.outbox import NewMessage

log = logging.getLogger(__name__)

FREE_TRIES = 3
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=4)
MEMORY = timedelta(days=1)  # records are kept two days (bot.app), longer than any window
ALARM_FAILURES = 5
ALARM_CHATS = 3
ALARM_WINDOW = timedelta(days=1)
ALARM_ACTION = "lookup_alarm"
TUBE, ID_NUMBER = "tube", "id"  # what a lookup names


def wait_after(failures: Sequence[datetime], *, now: datetime) -> timedelta | None:
    """How long a chat or network still waits, given its failures within `MEMORY`, in order."""
    if len(failures) < FREE_TRIES:
        return None
    # 2**16 minutes is far beyond the cap; a timedelta cannot grow without bound.
    doublings = min(len(failures) - FREE_TRIES, 16)
    left = failures[-1] + min(FIRST_WAIT * 2**doublings, LONGEST_WAIT) - now
    return left if left > timedelta(0) else None


async def wait_left(
    session: AsyncSession, *, chat_key: str, client_key: str | None, now: datetime
) -> timedelta | None:
    """The longest wait the chat, or the client's network, still owes before a new lookup."""
    since = now - MEMORY
    sources = [await samples.failed_lookups_since(session, since=since, chat_key=chat_key)]
    if client_key is not None:
        sources.append(
            await samples.failed_lookups_since(session, since=since, client_key=client_key)
        )
    waits = [wait for failures in sources if (wait := wait_after(failures, now=now))]
    return max(waits, default=None)


async def record_failure(
    session: AsyncSession,
    *,
    chat_key: str,
    client_key: str | None,
    target: str,
    kind: str,
    masked: str,
    desk: ChatRef | None,
    now: datetime,
) -> bool:
    """Count a failed lookup; raise the target's alarm if it is due.

    `target` is the keyed hash of the tube or ID number, `masked` how staff see it.

    Returns:
        Whether a message for the desk was written (the caller wakes the sender after commit).
    """
    await samples.record_failed_lookup(
        session, chat_key=chat_key, client_key=client_key, target=target, now=now
    )
    since = now - ALARM_WINDOW
    failures, chats = await samples.failures_against(session, target=target, since=since)
    if failures < ALARM_FAILURES or chats < ALARM_CHATS:
        return False
    subject = f"lookup:{target}"  # the keyed hash: once per target and window
    if await staff.audited_since(session, action=ALARM_ACTION, subject=subject, since=since):
        return False
    await staff.audit(
        session,
        actor=BOT_ACTOR,
        action=ALARM_ACTION,
        subject=subject,
        detail={"kind": kind, "target": masked, "failures": failures, "chats": chats},
        now=now,
    )
    log.warning("a looked-up %s drew %d failed lookups from %d chats", kind, failures, chats)
    if desk is None:
        return False
    with use_locale(DESK_LOCALE):
        text = alarm_text(kind, masked, failures=failures, chats=chats)
    body = Outgoing(desk, text).to_body()
    await outbox.enqueue(session, [NewMessage(desk.channel, desk.chat_id, body)], now=now)
    return True


def alarm_text(kind: str, masked: str, *, failures: int, chats: int) -> str:
    """What the desk is told when a tube or ID number draws failed lookups from many chats."""
    what = (
        _("tube {code}").format(code=masked)
        if kind == TUBE
        else _("ID number {number}").format(number=masked)
    )
    return _(
        "⚠️ Result lookups: {what} drew {failures} unsuccessful lookups from {chats} different "
        "chats in the last {hours} hours. Someone may be guessing a birth date. Those chats "
        "now wait longer after each try; the person's own lookups still work. Recorded in the "
        "audit log ({action})."
    ).format(
        what=what,
        failures=failures,
        chats=chats,
        hours=int(ALARM_WINDOW.total_seconds() // 3600),
        action=ALARM_ACTION,
    )


def mask_code(code: str) -> str:
    """A tube code shown without revealing it: at most half of it, e.g. `HCM-*****0`."""
    shown = len(code) // 2
    head, tail = min(4, shown - shown // 3), min(2, shown // 3)
    return code[:head] + "*" * (len(code) - head - tail) + (code[-tail:] if tail else "")
