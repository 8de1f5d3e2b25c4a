"""The outbox's lanes, each chat's order across workers, stopping in time, and pruning."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select

from bot.app import Service, build_service, running
from bot.config import Settings
from bot.domain import retention
from bot.messages import ChatRef, Outgoing
from storage import outbox
from storage.db import Database
from storage.models import Broadcast, BroadcastDelivery, OutboxMessage, table
from tests.clock import Clock
from tests.fakes.telegram_api import TelegramEmulator

LEASE = timedelta(seconds=60)
LITERAL = {"literal_binds": True}


def row(chat: int, text: str, *, lane: int = outbox.NOTICE) -> outbox.NewMessage:
    bulk = lane == outbox.BULK
    return outbox.NewMessage("telegram", str(chat), {"text": text}, bulk=bulk, lane=lane)


async def write(db: Database, clock: Clock, messages: list[outbox.NewMessage]) -> list[int]:
    async with db.session_scope() as session:
        return await outbox.enqueue(session, messages, now=clock())


async def claim(db: Database, clock: Clock, limit: int = 200, **kwargs: int) -> list[int]:
    """What a worker claims now: the row ids, in the order it gets them."""
    async with db.session_scope() as session:
        claimed = await outbox.claim_due(
            session,
            now=clock(),
            lease_until=clock() + LEASE,
            limit=limit,
            channels=("telegram",),
            **kwargs,
        )
        return [message.id for message, _ in claimed]


async def statuses(db: Database, ids: list[int]) -> dict[int, OutboxMessage]:
    async with db.read_scope() as session:
        rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))
        return {r.id: r for r in rows}


async def settle(db: Database, ids: list[int], clock: Clock) -> None:
    async with db.session_scope() as session:
        await outbox.mark_sent(session, outcomes=[(i, None) for i in ids], at=clock())


# -- claiming: lanes and each chat's order ---------------------------------------------------


async def test_a_reply_is_claimed_before_a_thousand_bulk_messages(database, clock) -> None:
    bulk = [row(10_000 + i, "Thông báo", lane=outbox.BULK) for i in range(1000)]
    bulk_ids = await write(database, clock, bulk)
    (reply,) = await write(database, clock, [row(42, "Trả lời", lane=outbox.REPLY)])
    (notice,) = await write(database, clock, [row(43, "Kết quả xét nghiệm")])
    first = await claim(database, clock, limit=50, bulk_limit=10)
    assert first[-2:] == [reply, notice]  # in id order, the higher lanes with room to spare
    assert first[:-2] == bulk_ids[:10]  # bulk gets at most its share
    full = await write(database, clock, [row(50_000 + i, "Nhắc lịch") for i in range(5)])
    assert await claim(database, clock, limit=5) == full  # no room left: bulk waits


async def test_a_chat_s_later_message_waits_for_the_one_another_worker_holds(
    database, clock
) -> None:
    first, second = await write(database, clock, [row(7, "Một"), row(7, "Hai")])
    assert await claim(database, clock, limit=1) == [first]  # worker A
    assert await claim(database, clock) == []  # worker B: "Hai" waits behind A's "Một"
    await settle(database, [first], clock)
    assert await claim(database, clock) == [second]


async def test_a_reply_pulls_its_chat_s_earlier_bulk_message_along(database, clock) -> None:
    others = await write(
        database, clock, [row(100 + i, "Tin", lane=outbox.BULK) for i in range(5)]
    )
    (earlier,) = await write(database, clock, [row(7, "Thông báo", lane=outbox.BULK)])
    (reply,) = await write(database, clock, [row(7, "Trả lời", lane=outbox.REPLY)])
    # The reply's lane comes first; the chat's announcement must leave before it, so goes too.
    assert await claim(database, clock, limit=2, bulk_limit=0) == [earlier, reply]
    assert await claim(database, clock) == others


async def test_a_retry_holds_the_chat_s_later_messages_but_a_scheduled_one_does_not(
    database, clock
) -> None:
    tomorrow = clock() + timedelta(days=1)
    scheduled = replace(row(8, "Nhắc lịch ngày mai"), not_before=tomorrow)
    retried, later, _scheduled, after = await write(
        database, clock, [row(7, "Một"), row(7, "Hai"), scheduled, row(8, "Bây giờ")]
    )
    assert await claim(database, clock, limit=1) == [retried]
    async with database.session_scope() as session:
        await outbox.mark_retry(
            session,
            message_id=retried,
            not_before=clock() + timedelta(seconds=30),
            error="502",
            attempt=True,
        )
    assert await claim(database, clock) == [after]  # "Hai" waits for "Một"'s retry
    clock.advance(timedelta(seconds=31))
    assert await claim(database, clock) == [retried, later]


async def test_claiming_walks_only_the_unsent_rows(database, clock) -> None:
    sent = await write(database, clock, [row(1000 + i, "Đã gửi") for i in range(50)])
    await settle(database, sent, clock)
    (due,) = await write(database, clock, [row(1, "Còn chờ")])
    claim_rows = outbox.due_rows(clock(), ("telegram",), 200, OutboxMessage.lane < outbox.BULK)
    # The partial index of unsent rows, entered by lane: the sent rows are never walked.
    plan = await explain(database, claim_rows)
    assert "ix_outbox_pending" in plan and "SCAN" not in plan.replace("CONSTANT", ""), plan
    # Each chat's own rows, for its order: sought chat by chat, not the whole backlog.
    plan = await explain(database, outbox.chat_rows({("telegram", "1"), ("telegram", "2")}))
    assert "ix_outbox_chat" in plan, plan
    assert await claim(database, clock) == [due]


async def explain(database: Database, statement: Any) -> str:
    sql = str(statement.compile(dialect=database.engine.dialect, compile_kwargs=LITERAL))
    async with database.engine.connect() as conn:
        if not database.is_sqlite:  # on a table this small a plain scan would be cheaper
            await conn.exec_driver_sql("SET enable_seqscan = off")
        explain = "EXPLAIN QUERY PLAN " if database.is_sqlite else "EXPLAIN "
        return " ".join(str(line) for line in await conn.exec_driver_sql(explain + sql))


# -- the sender: lanes, order and stopping -------------------------------------------------


async def test_the_sender_sends_a_reply_before_a_thousand_bulk_messages(
    telegram_settings: Settings, clock: Clock, emulator: TelegramEmulator
) -> None:
    settings = replace(telegram_settings, telegram_rate_per_s=20.0)
    svc = build_service(settings, clock=clock)
    async with running(svc):
        bulk = [row(10_000 + i, f"Thông báo {i}", lane=outbox.BULK) for i in range(1000)]
        await write(svc.db, clock, [*bulk, row(42, "Trả lời", lane=outbox.REPLY)])
        svc.sender.wake()
        await emulator.wait_for_sent(42, 1, timeout=10)
        (reply_at,) = emulator.sent_times(42)
        bulk_times = [t for i in range(1000) for t in emulator.sent_times(10_000 + i)]
    assert len(bulk_times) < 1000
    assert all(t >= reply_at for t in bulk_times)


async def test_a_chat_s_messages_leave_in_order_across_lanes(
    service: Service, clock: Clock, emulator: TelegramEmulator
) -> None:
    texts = ["Thông báo", "Kết quả", "Trả lời"]
    lanes = [outbox.BULK, outbox.NOTICE, outbox.REPLY]
    await write(
        service.db, clock, [row(77, t, lane=lane) for t, lane in zip(texts, lanes, strict=True)]
    )
    service.sender.wake()
    await emulator.wait_for_sent(77, 3, timeout=10)
    assert [m["text"] for m in emulator.sent(77)] == texts


async def test_a_cancelled_sender_stops_within_a_second_recording_what_is_in_flight(
    telegram_settings: Settings, clock: Clock, emulator: TelegramEmulator
) -> None:
    arrived, release = emulator.hold_chat(501)
    svc = build_service(telegram_settings, clock=clock)
    try:
        async with running(svc):
            held, *rest = await write(
                svc.db, clock, [row(501, "Đang gửi"), *(row(600 + i, "Tin") for i in range(50))]
            )
            svc.sender.wake()
            await arrived.wait()
            sender = next(task for task in svc.tasks if task.get_name() == "sender")
            sender.cancel()
            async with asyncio.timeout(1.0):
                await asyncio.gather(sender, return_exceptions=True)
            rows = await statuses(svc.db, [held, *rest])
    finally:
        release.set()
    assert rows[held].status == "sending"  # it may have arrived: not sent twice before its lease
    assert "cut off" in (rows[held].last_error or "")
    assert {rows[i].status for i in rest} <= {"sent", "pending"}
    sent = sum(len(emulator.sent(600 + i)) for i in range(50))
    assert sum(rows[i].status == "sent" for i in rest) == sent


# -- pruning ---------------------------------------------------------------------------------


async def test_settled_rows_are_pruned_after_the_period_unless_referenced(database, clock) -> None:
    old_sent, old_referenced, old_pending = await write(
        database, clock, [row(1, "Cũ"), row(2, "Cũ, trong báo cáo"), row(3, "Chưa gửi")]
    )
    await settle(database, [old_sent, old_referenced], clock)
    async with database.session_scope() as session:
        broadcast = Broadcast(created_by="staff", text="Tiêm", area="Phường 1", send_at=clock())
        session.add(broadcast)
        await session.flush()
        await session.execute(
            insert(table(BroadcastDelivery)),
            [{"broadcast_id": broadcast.id, "account_id": 1, "outbox_id": old_referenced}],
        )
    clock.advance(timedelta(days=10))
    (recent,) = await write(database, clock, [row(4, "Mới")])
    await settle(database, [recent], clock)
    keep = timedelta(days=10)
    assert await retention.prune_old_messages(database, now=clock(), keep=keep) == 1
    left = await statuses(database, [old_sent, old_referenced, old_pending, recent])
    assert sorted(left) == [old_referenced, old_pending, recent]
    assert await retention.prune_old_messages(database, now=clock(), keep=keep) == 0


async def test_a_reply_waits_in_the_table_behind_its_chat_s_handed_back_or_retried_message(
    database, clock
) -> None:
    due, retried, claimed = await write(
        database, clock, [row(7, "Trả lại"), row(8, "Thử lại"), row(9, "Đang gửi")]
    )
    assert await claim(database, clock, limit=3) == [due, retried, claimed]
    (fresh,) = await write(database, clock, [row(11, "Kết quả, chưa ai nhận")])
    async with database.session_scope() as session:
        await outbox.mark_retry(
            session, message_id=due, not_before=clock(), error="stopped", attempt=False
        )
        await outbox.mark_retry(
            session,
            message_id=retried,
            not_before=clock() + timedelta(seconds=30),
            error="502",
            attempt=True,
        )
        written = await outbox.enqueue_replies(
            session,
            [row(c, "Trả lời") for c in (7, 8, 9, 10, 11)],
            now=clock(),
            lease_until=clock() + LEASE,
        )
    # Chat 11's notice, due and unclaimed, lets the reply the citizen waits for go first.
    assert [mine for _id, mine in written] == [False, False, True, True, True]
    (behind_due, _), (behind_retry, _), (passing, _), (alone, _), _first = written
    rows = await statuses(database, [behind_due, behind_retry, passing, alone])
    assert [rows[i].status for i in (behind_due, behind_retry, passing, alone)] == [
        "pending", "pending", "sending", "sending"
    ]  # fmt: skip
    assert rows[behind_due].lane == outbox.REPLY
    # Chat 7's order, in one claim; chat 11's notice, still due, leaves after its reply.
    assert await claim(database, clock) == [due, fresh, behind_due]
    clock.advance(timedelta(seconds=31))
    assert await claim(database, clock) == [retried, behind_retry]


async def test_a_reply_behind_its_chat_s_waiting_bulk_message_takes_it_along(
    service: Service, clock: Clock, emulator: TelegramEmulator
) -> None:
    arrived, release = emulator.hold_chat(91)
    try:
        await write(service.db, clock, [row(91, "Trả lời treo", lane=outbox.REPLY)])
        (bulk,) = await write(service.db, clock, [row(92, "Thông báo", lane=outbox.BULK)])
        service.sender.wake()
        await arrived.wait()  # a reply is on the wire: bulk sends wait for it
        assert bulk in service.sender.held_rows()
        async with service.db.session_scope() as session:
            ((reply, mine),) = await outbox.enqueue_replies(
                session,
                [row(92, "Trả lời")],
                now=clock(),
                lease_until=clock() + LEASE,
                held_here=service.sender.held_rows(),
            )
        assert mine
        service.sender.deliver_now([(reply, Outgoing(ChatRef("telegram", "92"), "Trả lời"))])
        await emulator.wait_for_sent(92, 2, timeout=10)  # not stuck behind chat 91's reply
        assert [m["text"] for m in emulator.sent(92)] == ["Thông báo", "Trả lời"]
        assert emulator.sent(91) == []
    finally:
        release.set()
