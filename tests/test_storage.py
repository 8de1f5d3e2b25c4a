"""The storage layer on every engine: deduplication, accounts and consent, the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import accounts, outbox, updates
from storage.db import Database
from storage.models import Account, ConsentEvent, ConversationRow, OutboxMessage, ProcessedUpdate
from storage.outbox import NewMessage

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


async def _open(db: Database, chat_id: str = "c1", channel: str = "web") -> int:
    async with db.session_scope() as session:
        account, _row = await accounts.open_chat(
            session, channel=channel, chat_id=chat_id, user_id=None, locale="vi", now=NOW
        )
        return account.id


async def _enqueue(db: Database, *messages: NewMessage, lease_until: datetime | None = None):
    async with db.session_scope() as session:
        return await outbox.enqueue(session, messages, now=NOW, lease_until=lease_until)


async def _count(db: Database, entity, **where) -> int:
    async with db.read_scope() as session:
        statement = select(func.count()).select_from(entity).filter_by(**where)
        return int((await session.execute(statement)).scalar_one())


def _text(text: str, chat_id: str = "c1", **kwargs) -> NewMessage:
    return NewMessage("web", chat_id, {"text": text}, **kwargs)


async def test_migration_is_idempotent(database: Database) -> None:
    await database.migrate()
    await database.migrate()
    assert await _count(database, Account) == 0


async def test_claim_update_once_per_channel(database: Database) -> None:
    async with database.session_scope() as session:
        assert await updates.claim_update(session, channel="telegram", update_id="42", now=NOW)
        assert not await updates.claim_update(session, channel="telegram", update_id="42", now=NOW)
        assert await updates.claim_update(session, channel="web", update_id="42", now=NOW)
    async with database.session_scope() as session:
        assert not await updates.claim_update(session, channel="telegram", update_id="42", now=NOW)


async def test_processed_updates_primary_key_holds(database: Database) -> None:
    row = {"channel": "telegram", "update_id": "7", "processed_at": NOW}
    async with database.session_scope() as session:
        await session.execute(insert(ProcessedUpdate).values(**row))
    with pytest.raises(IntegrityError):
        async with database.session_scope() as session:
            await session.execute(insert(ProcessedUpdate).values(**row))
    assert await _count(database, ProcessedUpdate) == 1


async def test_forget_updates_before(database: Database) -> None:
    async with database.session_scope() as session:
        await updates.claim_update(session, channel="web", update_id="old", now=NOW)
    async with database.session_scope() as session:
        forgotten = await updates.forget_updates_before(session, cutoff=NOW + SECOND)
    assert forgotten == 1
    async with database.session_scope() as session:
        assert await updates.claim_update(session, channel="web", update_id="old", now=NOW)


async def test_open_chat_twice_is_the_same_account(database: Database) -> None:
    first = await _open(database)
    assert await _open(database) == first
    assert await _open(database, channel="telegram") != first
    assert await _count(database, Account) == 2
    assert await _count(database, ConversationRow) == 2


async def test_consent_is_recorded_with_its_history(database: Database) -> None:
    account_id = await _open(database)
    async with database.session_scope() as session:
        account, _row = await accounts.load_chat(session, channel="web", chat_id="c1")
        await accounts.record_consent(session, account, version="2026-11", granted=True, now=NOW)
    async with database.session_scope() as session:
        account, _row = await accounts.load_chat(session, channel="web", chat_id="c1")
        assert account.consent_version == "2026-11" and account.consented_at is not None
        assert account.consented_at.tzinfo is not None
        await accounts.record_consent(session, account, version="2026-11", granted=False, now=NOW)
    async with database.read_scope() as session:
        account, _row = await accounts.load_chat(session, channel="web", chat_id="c1")
        history = await accounts.consent_history(session, account_id=account_id)
    assert (account.consent_version, account.consented_at) == (None, None)
    assert [(e.version, e.granted) for e in history] == [("2026-11", True), ("2026-11", False)]


async def test_delete_account_cascades(database: Database) -> None:
    keep = await _open(database, chat_id="keep")
    gone = await _open(database, chat_id="gone")
    for account_id in (keep, gone):
        async with database.session_scope() as session:
            account = await session.get(Account, account_id)
            await accounts.record_consent(session, account, version="v", granted=True, now=NOW)
    await _enqueue(
        database, _text("a", "gone", account_id=gone), _text("b", "keep", account_id=keep)
    )
    async with database.session_scope() as session:
        await accounts.delete_account(session, account_id=gone)
    for entity, column in (
        (Account, "id"),
        (ConversationRow, "account_id"),
        (ConsentEvent, "account_id"),
        (OutboxMessage, "account_id"),
    ):
        assert await _count(database, entity, **{column: gone}) == 0, entity.__name__
        assert await _count(database, entity, **{column: keep}) == 1, entity.__name__


async def test_enqueue_with_and_without_lease(database: Database) -> None:
    pending = await _enqueue(database, _text("1"), _text("2"), _text("3"))
    sending = await _enqueue(database, _text("4"), lease_until=NOW + 60 * SECOND)
    assert pending == sorted(pending) and sending[0] > pending[-1]
    async with database.read_scope() as session:
        rows = await _rows(session, [*pending, *sending])
    assert [(r.body["text"], r.status, r.attempts) for r in rows] == [
        ("1", "pending", 0),
        ("2", "pending", 0),
        ("3", "pending", 0),
        ("4", "sending", 0),
    ]
    assert rows[-1].lease_until == NOW + 60 * SECOND and rows[0].lease_until is None
    assert await _enqueue(database) == []


async def _claim(db: Database, *, at: datetime, limit: int = 10, channels=("web",)):
    async with db.session_scope() as session:
        claimed = await outbox.claim_due(
            session, now=at, lease_until=at + 60 * SECOND, limit=limit, channels=channels
        )
        return [(m.body["text"], unreachable) for m, unreachable in claimed]


async def test_claim_due_takes_due_and_expired_rows_in_order(database: Database) -> None:
    # "later" and "lease running" in chats of their own: in c1 they would wait behind "due"
    # while it is being sent (a chat's messages leave in order; tests/test_outbox_lanes.py).
    await _enqueue(database, _text("due"), _text("later", "c3", not_before=NOW + 10 * SECOND))
    await _enqueue(database, _text("lease expired"), lease_until=NOW - SECOND)
    await _enqueue(database, _text("lease running", "c2"), lease_until=NOW + 30 * SECOND)
    await _enqueue(database, NewMessage("telegram", "9", {"text": "other channel"}))
    await _enqueue(database, _text("due too"))
    assert await _claim(database, at=NOW) == [
        ("due", False),
        ("lease expired", False),
        ("due too", False),
    ]
    assert await _claim(database, at=NOW) == []  # now leased for 60 s
    assert await _claim(database, at=NOW + 11 * SECOND) == [("later", False)]
    # Rows claimed by their writer are replies: their lane goes first; "due" comes along ahead
    # of "lease expired", its chat's later row.
    assert await _claim(database, at=NOW + 61 * SECOND, limit=2) == [
        ("due", False),
        ("lease expired", False),
        ("lease running", False),
    ]
    assert await _claim(database, at=NOW, channels=("telegram",)) == [("other channel", False)]


async def test_claim_due_reports_unreachable_accounts(database: Database) -> None:
    blocked = await _open(database, chat_id="blocked")
    fine = await _open(database, chat_id="fine")
    async with database.session_scope() as session:
        await accounts.mark_unreachable(
            session, channel="web", chat_id="blocked", reason="blocked by user", at=NOW
        )
    await _enqueue(
        database,
        _text("to blocked", "blocked", account_id=blocked),
        _text("to fine", "fine", account_id=fine),
        _text("no account", "anon"),
    )
    assert await _claim(database, at=NOW) == [
        ("to blocked", True),
        ("to fine", False),
        ("no account", False),
    ]


async def _row(db: Database, message_id: int) -> OutboxMessage:
    async with db.read_scope() as session:
        (row,) = await _rows(session, [message_id])
        return row


async def _rows(session: AsyncSession, ids: list[int]) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
    return list((await session.execute(query)).scalars())


async def test_outcomes_sent_retry_final(database: Database) -> None:
    sent, retried, failed = await _enqueue(
        database, _text("s"), _text("r"), _text("f"), lease_until=NOW + 60 * SECOND
    )
    async with database.session_scope() as session:
        await outbox.mark_sent(session, outcomes=[(sent, "m-17")], at=NOW)
        await outbox.mark_retry(
            session, message_id=retried, not_before=NOW + 2 * SECOND, error="502", attempt=True
        )
        await outbox.mark_retry(
            session, message_id=retried, not_before=NOW + 4 * SECOND, error="wait", attempt=False
        )
        await outbox.mark_final(session, message_id=failed, status="failed", error="x" * 600)
    row = await _row(database, sent)
    assert (row.status, row.external_id, row.sent_at, row.lease_until) == (
        "sent",
        "m-17",
        NOW,
        None,
    )
    row = await _row(database, retried)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "wait")
    assert row.not_before == NOW + 4 * SECOND
    row = await _row(database, failed)
    assert (row.status, row.attempts, len(row.last_error)) == ("failed", 1, 500)
    assert await _claim(database, at=NOW + 5 * SECOND) == [("r", False)]


async def test_transcript_shows_only_handed_over_messages_after_an_id(database: Database) -> None:
    first, _pending = await _enqueue(database, _text("hello"), _text("not yet"))
    await _enqueue(database, _text("reply 1"), _text("reply 2"), lease_until=NOW + 60 * SECOND)
    await _enqueue(database, _text("other chat", "c2"), lease_until=NOW + 60 * SECOND)
    async with database.session_scope() as session:
        await outbox.mark_sent(session, outcomes=[(first, None)], at=NOW)
    async with database.read_scope() as session:
        everything = await outbox.transcript(session, channel="web", chat_id="c1", after=0)
        later = await outbox.transcript(
            session, channel="web", chat_id="c1", after=everything[0].id
        )
        limited = await outbox.transcript(session, channel="web", chat_id="c1", after=0, limit=1)
    assert [r.body["text"] for r in everything] == ["hello", "reply 1", "reply 2"]
    assert [r.body["text"] for r in later] == ["reply 1", "reply 2"]
    assert [r.body["text"] for r in limited] == ["hello"]


async def test_get_for_chat_refuses_another_chats_message(database: Database) -> None:
    (mine,) = await _enqueue(database, NewMessage("web", "c1", {"text": "qr"}, image=b"\x89PNG"))
    async with database.read_scope() as session:
        row = await outbox.get_for_chat(session, message_id=mine, channel="web", chat_id="c1")
        assert row is not None and row.image == b"\x89PNG"
        for channel, chat_id in (("web", "c2"), ("telegram", "c1")):
            assert (
                await outbox.get_for_chat(
                    session, message_id=mine, channel=channel, chat_id=chat_id
                )
                is None
            )
        assert (
            await outbox.get_for_chat(session, message_id=mine + 1, channel="web", chat_id="c1")
            is None
        )
