"""Ward announcements: from staff's draft to one message per citizen, paced, resumable.

A broadcast is a row and a chain of scheduler jobs (`broadcast_run`, group `broadcast:<id>`),
so it survives restarts and runs once across processes. At `send_at` the first job counts the
recipients and posts the staff member's progress message; each job then:

1. writes the next batch of outbox rows (one per recipient account, in account id order after
   the broadcast's cursor, with its delivery row) when less than half of the previous batch
   is still waiting: about `BATCH_SECONDS` of sending at the channel's bulk rate, so the
   outbox never holds the whole audience and reminders or results written meanwhile wait
   behind seconds of announcements, not hours;
2. edits the progress message about every `PROGRESS_EVERY` (sent / failed / blocked /
   remaining), with a "Dừng gửi" button;
3. schedules the next job a second later, or, once every recipient is queued and every
   message settled (the progress message too), marks the broadcast done and ends with the report.

The sender delivers the rows at the channel's rate (overall and per chat): 429 waits, 403 is
recorded as blocked. A delivery row per (broadcast, account) means a batch written twice is
refused, so nobody gets the announcement twice. Cancelling withdraws every row not yet sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.jobs import JobKind, Run, Verdict
from bot.i18n import DEFAULT_LOCALE, _, format_count, format_moment, use_locale
from bot.messages import Button, ChatRef, Outgoing
from bot.vn import divisions
from storage import accounts, jobs, outbox, staff
from storage import broadcasts as store
from storage.broadcasts import CANCELLED, DONE, SCHEDULED, SENDING, Audience, Recipient
from storage.jobs import NewJob
from storage.models import Broadcast, OutboxMessage
from storage.outbox import WAITING, NewMessage

log = logging.getLogger(__name__)

RUN = "broadcast_run"
TICK = timedelta(seconds=1)
PROGRESS_EVERY = timedelta(seconds=5)
BATCH_SECONDS = 10  # a batch holds about this long of sending at the channel's bulk rate
MIN_BATCH, MAX_BATCH = 100, 5000
MAX_TEXT = 1000
# With a picture the text is its caption: Telegram allows 1024 characters, and the greeting
# and the opt-out line take the rest.
MAX_CAPTION_TEXT = 800
MAX_IMAGE_BYTES = 1024 * 1024  # Zalo's limit for pictures, and plenty for an announcement
MAX_AHEAD = timedelta(days=30)
STOP = "bc:stop:"  # + broadcast id: the progress message's button


class BroadcastError(ValueError):
    """A broadcast that cannot be sent as drafted (the message says why, in English)."""


@dataclass(frozen=True)
class Draft:
    """An announcement as staff composed it."""

    text: str
    audience: Audience
    send_at: datetime
    image: bytes | None = None
    image_file_id: str | None = None  # the platform's id of the picture on `image_channel`
    image_channel: str | None = None
    staff_chat: ChatRef | None = None  # where progress and the report go (None: nowhere)


@dataclass(frozen=True)
class Report:
    """What became of a broadcast's messages."""

    planned: int
    sent: int = 0
    failed: int = 0
    blocked: int = 0  # the recipient blocked the bot or is gone
    cancelled: int = 0  # withdrawn by a cancel, or never written because of it
    waiting: int = 0  # written, not yet sent
    held: int = 0  # kept until the citizen writes to us again (outside Zalo's window)


def group_of(broadcast_id: int) -> str:
    """The job group of a broadcast's runs."""
    return f"broadcast:{broadcast_id}"


def area_name(audience: Audience) -> str:
    """The area as citizens read it: the wards' or the province's names (not translated)."""
    try:
        if audience.province is not None:
            return divisions.province(audience.province).name
        return ", ".join(divisions.ward(code).name for code in audience.wards)
    except KeyError:
        raise BroadcastError("the area holds a code that is no current ward or province") from None


def check(draft: Draft, *, now: datetime) -> None:
    """Refuse a draft that cannot be sent.

    Raises:
        BroadcastError: what is wrong, in English (the chat checks each answer as it comes).
    """
    limit = MAX_CAPTION_TEXT if draft.image or draft.image_file_id else MAX_TEXT
    if not 1 <= len(draft.text.strip()) <= limit:
        raise BroadcastError(f"the text must be 1 to {limit} characters")
    if draft.image is not None and len(draft.image) > MAX_IMAGE_BYTES:
        raise BroadcastError("the picture is larger than 1 MB")
    audience = draft.audience
    if (audience.province is None) == (not audience.wards):
        raise BroadcastError("an audience is some wards or one province")
    area_name(audience)
    if draft.send_at > now + MAX_AHEAD:
        raise BroadcastError("a broadcast is sent within 30 days")


def announcement(
    *,
    text: str,
    area: str,
    chat: ChatRef,
    image: bytes | None = None,
    image_file_id: str | None = None,
    image_channel: str | None = None,
) -> Outgoing:
    """The message a citizen gets, in the current locale: who it is for, the text, the opt-out.

    Staff-written text is data: it is sent as written, in whatever language staff wrote it.
    """
    body = "\n\n".join(
        (
            _("📢 Announcement for residents of {area}:").format(area=area),
            text.strip(),
            _("To stop receiving announcements, type /tatthongbao."),
        )
    )
    if image_file_id and image_channel == chat.channel:
        return Outgoing(chat, body, image_file_id=image_file_id)
    return Outgoing(chat, body, image=image)


def message_for(broadcast: Broadcast, chat: ChatRef) -> Outgoing:
    """A stored broadcast's message to one chat (in the current locale)."""
    return announcement(
        text=broadcast.text,
        area=broadcast.area,
        chat=chat,
        image=broadcast.image,
        image_file_id=broadcast.image_file_id,
        image_channel=broadcast.image_channel,
    )


def audience_of(broadcast: Broadcast) -> Audience:
    """Whom a stored broadcast reaches."""
    return Audience(tuple(broadcast.wards), broadcast.province_code, tuple(broadcast.groups))


# ---------------------------------------------------------------- creating and cancelling


async def create(session: AsyncSession, draft: Draft, *, actor: str, now: datetime) -> Broadcast:
    """Store a broadcast, schedule its first run (at `send_at`, or now) and audit it.

    Raises:
        BroadcastError: the draft cannot be sent (see `check`).
    """
    check(draft, now=now)
    broadcast = _new_broadcast(draft, actor=actor, now=now)
    session.add(broadcast)
    await session.flush()
    first = NewJob(RUN, broadcast.send_at, {"broadcast": broadcast.id}, group_of(broadcast.id))
    await jobs.schedule(session, [first], now=now)
    await staff.audit(
        session,
        actor=actor,
        action="broadcast_sent",
        subject=f"broadcast:{broadcast.id}",
        now=now,
        detail={
            "wards": broadcast.wards,
            "province": broadcast.province_code,
            "groups": broadcast.groups,
            "send_at": broadcast.send_at.isoformat(),
            "picture": bool(draft.image or draft.image_file_id),
            "recipients_now": await store.count_recipients(session, draft.audience),
        },
    )
    return broadcast


def _new_broadcast(draft: Draft, *, actor: str, now: datetime) -> Broadcast:
    """The broadcast row of a checked draft, scheduled at `send_at` (never before now)."""
    audience = draft.audience
    return Broadcast(
        created_by=actor[:120],
        staff_channel=draft.staff_chat.channel if draft.staff_chat else None,
        staff_chat_id=draft.staff_chat.chat_id if draft.staff_chat else None,
        text=draft.text.strip(),
        image=draft.image,
        image_file_id=draft.image_file_id,
        image_channel=draft.image_channel,
        area=area_name(audience)[:300],
        wards=list(dict.fromkeys(audience.wards)),
        province_code=audience.province,
        groups=list(dict.fromkeys(audience.groups)),
        send_at=max(draft.send_at, now),
        status=SCHEDULED,
        planned=0,
        cursor=0,
        exhausted=False,
        created_at=now,
    )


async def cancel(
    session: AsyncSession, broadcast_id: int, *, actor: str, now: datetime
) -> tuple[Broadcast | None, set[int] | None]:
    """Stop a scheduled or running broadcast: nothing more is sent; audited.

    Returns:
        The broadcast (None if unknown) and the outbox ids withdrawn, for the sender to forget
        (None when it had ended already).
    """
    broadcast = await store.lock_broadcast(session, broadcast_id)
    if broadcast is None or broadcast.status not in (SCHEDULED, SENDING):
        return broadcast, None
    broadcast.status = CANCELLED
    broadcast.cancelled_by = actor[:120]
    broadcast.finished_at = now
    await jobs.cancel_group(session, group_of(broadcast.id), now=now)
    withdrawn = await store.cancel_unsent(session, broadcast.id)
    await staff.audit(
        session,
        actor=actor,
        action="broadcast_cancelled",
        subject=f"broadcast:{broadcast.id}",
        now=now,
        detail={"withdrawn": len(withdrawn)},
    )
    await _finish(session, broadcast, now=now, notify=False)  # the canceller is told anyway
    return broadcast, withdrawn


# ---------------------------------------------------------------- the report


async def report(session: AsyncSession, broadcast: Broadcast) -> Report:
    """What became of a broadcast's messages so far."""
    counts = await store.outcome_counts(session, broadcast.id)
    queued = sum(counts.values())
    unqueued = 0 if broadcast.exhausted else max(0, broadcast.planned - queued)
    ended = broadcast.status == CANCELLED
    return Report(
        planned=max(broadcast.planned, queued),
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        blocked=counts.get("blocked", 0) + counts.get("dropped", 0) + counts.get("erased", 0),
        cancelled=counts.get("cancelled", 0) + (unqueued if ended else 0),
        waiting=counts.get("pending", 0) + counts.get("sending", 0) + (0 if ended else unqueued),
        held=counts.get(WAITING, 0),
    )


def headline(broadcast: Broadcast) -> str:
    """A broadcast in one line, in the current locale: number, area, status."""
    status = {
        SCHEDULED: _("scheduled for {when}").format(when=format_moment(broadcast.send_at)),
        SENDING: _("sending"),
        DONE: _("all sent"),
        CANCELLED: _("stopped"),
    }.get(broadcast.status, broadcast.status)
    return _("Announcement #{id} to {area}: {status}").format(
        id=broadcast.id, area=broadcast.area, status=status
    )


def report_lines(broadcast: Broadcast, result: Report) -> list[str]:
    """The report in the current locale, one figure a line."""
    lines = [
        headline(broadcast),
        _("Recipients: {count}").format(count=format_count(result.planned)),
        _("Sent: {count}").format(count=format_count(result.sent)),
        _("Failed: {count}").format(count=format_count(result.failed)),
        _("Blocked the bot or unreachable: {count}").format(count=format_count(result.blocked)),
    ]
    if result.cancelled:
        lines.append(_("Not sent (stopped): {count}").format(count=format_count(result.cancelled)))
    if result.held:
        lines.append(
            _("Held until the citizen writes to us (Zalo): {count}").format(
                count=format_count(result.held)
            )
        )
    if broadcast.status in (SCHEDULED, SENDING):
        lines.append(_("Remaining: {count}").format(count=format_count(result.waiting)))
    return lines


# ---------------------------------------------------------------- running


def batch_size(bulk_rate_per_s: float) -> int:
    """Recipients a batch writes: `BATCH_SECONDS` of sending at the rate, within bounds."""
    return int(min(MAX_BATCH, max(MIN_BATCH, bulk_rate_per_s * BATCH_SECONDS)))


async def run_broadcast(run: Run) -> Verdict:
    """One step of a broadcast: start it, top up its outbox rows, show progress, or finish."""
    session, now = run.session, run.now
    broadcast = await store.lock_broadcast(session, int(run.job.payload["broadcast"]))
    if broadcast is None or broadcast.status not in (SCHEDULED, SENDING):
        return Verdict.SKIPPED  # cancelled meanwhile
    if broadcast.status == SCHEDULED:
        await _begin(session, broadcast, now=now)
    size = batch_size(run.settings.bulk_rate_per_s)
    if not broadcast.exhausted and await _room_for_batch(session, broadcast, size):
        await _queue_batch(session, broadcast, size, now=now)
    if (
        broadcast.exhausted
        and not await _batch_in_flight(session, broadcast)
        and await _progress_settled(session, broadcast)
    ):
        result = await report(session, broadcast)
        if not result.waiting:
            broadcast.status = DONE
            broadcast.finished_at = now
            await _finish(session, broadcast, now=now, result=result, notify=True)
            return Verdict.DONE
    if broadcast.progress_at is None or now - broadcast.progress_at >= PROGRESS_EVERY:
        await _show_progress(session, broadcast, now=now)
    follow = NewJob(RUN, now + TICK, {"broadcast": broadcast.id}, group_of(broadcast.id))
    await jobs.schedule(session, [follow], now=now)
    return Verdict.DONE


async def _begin(session: AsyncSession, broadcast: Broadcast, *, now: datetime) -> None:
    broadcast.status = SENDING
    broadcast.started_at = now
    broadcast.planned = await store.count_recipients(session, audience_of(broadcast))
    staff_chat = _staff_chat(broadcast)
    if staff_chat is None:
        return
    message = await _progress_message(session, broadcast, staff_chat, Report(broadcast.planned))
    (row_id,) = await outbox.enqueue(session, [_row(message)], now=now)
    broadcast.progress_outbox_id = row_id
    broadcast.progress_at = now


async def _room_for_batch(session: AsyncSession, broadcast: Broadcast, size: int) -> bool:
    if broadcast.batch_first is None or broadcast.batch_last is None:
        return True
    waiting = await store.in_flight_between(session, broadcast.batch_first, broadcast.batch_last)
    return waiting < size // 2


async def _batch_in_flight(session: AsyncSession, broadcast: Broadcast) -> bool:
    if broadcast.batch_first is None or broadcast.batch_last is None:
        return False
    return bool(
        await store.in_flight_between(session, broadcast.batch_first, broadcast.batch_last)
    )


async def _progress_settled(session: AsyncSession, broadcast: Broadcast) -> bool:
    """Whether the progress message is on screen (or never will be) for the report to replace."""
    if broadcast.progress_outbox_id is None:
        return True
    shown = await session.get(OutboxMessage, broadcast.progress_outbox_id)
    return shown is None or shown.status not in ("pending", "sending")


async def _queue_batch(
    session: AsyncSession, broadcast: Broadcast, size: int, *, now: datetime
) -> None:
    """Write the next `size` recipients' messages and delivery rows."""
    found = await store.recipients_after(
        session, audience_of(broadcast), after=broadcast.cursor, limit=size
    )
    if len(found) < size:
        broadcast.exhausted = True
    if not found:
        return
    rows = [_row(_for(broadcast, recipient), recipient.account_id) for recipient in found]
    ids = await outbox.enqueue(session, rows, now=now)
    await store.record_deliveries(
        session, broadcast.id, [(r.account_id, row) for r, row in zip(found, ids, strict=True)]
    )
    broadcast.cursor = found[-1].account_id
    broadcast.batch_first, broadcast.batch_last = min(ids), max(ids)


def _for(broadcast: Broadcast, recipient: Recipient) -> Outgoing:
    with use_locale(recipient.locale):
        return message_for(broadcast, ChatRef(recipient.channel, recipient.chat_id))


def _row(message: Outgoing, account_id: int | None = None) -> NewMessage:
    chat = message.chat
    bulk = account_id is not None  # the citizens' copies share the channel's bulk rate
    return NewMessage(
        chat.channel,
        chat.chat_id,
        message.to_body(),
        account_id,
        message.image,
        bulk=bulk,
        lane=outbox.BULK if bulk else outbox.NOTICE,
    )


# ---------------------------------------------------------------- progress and the end


def _staff_chat(broadcast: Broadcast) -> ChatRef | None:
    if broadcast.staff_channel is None or broadcast.staff_chat_id is None:
        return None
    return ChatRef(broadcast.staff_channel, broadcast.staff_chat_id)


async def _staff_locale(session: AsyncSession, chat: ChatRef) -> str:
    # Read without a lock: the staff member's own events lock their chat, then the broadcast.
    found = await accounts.locale_of(session, channel=chat.channel, chat_id=chat.chat_id)
    return found or DEFAULT_LOCALE


async def _progress_message(
    session: AsyncSession, broadcast: Broadcast, chat: ChatRef, result: Report
) -> Outgoing:
    with use_locale(await _staff_locale(session, chat)):
        return Outgoing(
            chat,
            "\n".join(report_lines(broadcast, result)),
            buttons=((Button(_("Stop sending"), f"{STOP}{broadcast.id}"),),),
        )


async def _edit_progress(
    session: AsyncSession, broadcast: Broadcast, message: Outgoing, *, now: datetime
) -> bool:
    """Queue the progress message's new text in place of the old; False if not sent yet."""
    if broadcast.progress_outbox_id is None:
        return False
    chat = message.chat
    shown = await outbox.get_for_chat(
        session,
        message_id=broadcast.progress_outbox_id,
        channel=chat.channel,
        chat_id=chat.chat_id,
    )
    if shown is None or shown.status != "sent":
        return False
    edit = Outgoing(
        chat,
        message.text,
        buttons=message.buttons,
        edit_message_id=shown.external_id,
        replaces=shown.id,
    )
    await outbox.enqueue(session, [_row(edit)], now=now)
    return True


async def _show_progress(session: AsyncSession, broadcast: Broadcast, *, now: datetime) -> None:
    chat = _staff_chat(broadcast)
    if chat is None:
        return
    message = await _progress_message(session, broadcast, chat, await report(session, broadcast))
    if await _edit_progress(session, broadcast, message, now=now):
        broadcast.progress_at = now


async def _finish(
    session: AsyncSession,
    broadcast: Broadcast,
    *,
    now: datetime,
    notify: bool,
    result: Report | None = None,
) -> None:
    """The last word: the progress message shows the report; with `notify`, it is sent too.

    (An edit makes no sound on the staff member's phone; a new message does.)
    """
    chat = _staff_chat(broadcast)
    if chat is None:
        return
    result = result or await report(session, broadcast)
    with use_locale(await _staff_locale(session, chat)):
        final = Outgoing(chat, "\n".join(report_lines(broadcast, result)))
    broadcast.progress_at = now
    await _edit_progress(session, broadcast, final, now=now)
    if notify:
        await outbox.enqueue(session, [_row(final)], now=now)


KINDS = {RUN: JobKind(run_broadcast, urgent=True)}
