"""Accounts (one per chat and channel), their conversation row, and consent records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage._dialect import insert_ignoring_conflicts, supports_row_locks
from storage.conversations import SavedState
from storage.models import (
    Account,
    CampaignInvitation,
    ConsentEvent,
    ConversationRow,
    OutboxMessage,
    Person,
    Ticket,
    table,
)


async def load_chat(
    session: AsyncSession, *, channel: str, chat_id: str
) -> tuple[Account, SavedState] | None:
    """The account of a chat and its conversation, row-locked on PostgreSQL until commit."""
    return (await load_chats(session, channel=channel, chat_ids=[chat_id])).get(chat_id)


async def load_chats(
    session: AsyncSession, *, channel: str, chat_ids: Sequence[str]
) -> dict[str, tuple[Account, SavedState]]:
    """Accounts and conversations of several chats of one channel, in one query.

    Rows are locked on PostgreSQL until commit. Chats without an account are absent.
    """
    statement = _LOAD_CHATS_LOCKED if supports_row_locks(session) else _LOAD_CHATS
    result = await session.execute(statement, {"channel": channel, "chat_ids": list(chat_ids)})
    return {row[0].chat_id: (row[0], SavedState(*row[1:])) for row in result}


_LOAD_CHATS = (
    select(
        Account,
        ConversationRow.flow,
        ConversationRow.step,
        ConversationRow.data,
        ConversationRow.prompt,
        ConversationRow.version,
        ConversationRow.updated_at,
        select(Ticket.id)
        .where(Ticket.account_id == Account.id, Ticket.status == "open")
        .correlate(Account)
        .scalar_subquery(),
    )
    .join(ConversationRow, ConversationRow.account_id == Account.id)
    .where(
        Account.channel == bindparam("channel"),
        Account.chat_id.in_(bindparam("chat_ids", expanding=True)),
    )
    .order_by(Account.id)  # one lock order for every worker on PostgreSQL
)
_LOAD_CHATS_LOCKED = _LOAD_CHATS.with_for_update()


async def locale_of(session: AsyncSession, *, channel: str, chat_id: str) -> str | None:
    """A chat's language, read without locking anything (for messages to staff)."""
    return await session.scalar(
        select(Account.locale).where(Account.channel == channel, Account.chat_id == chat_id)
    )


async def sealed_phone(session: AsyncSession, *, channel: str, chat_id: str) -> bytes | None:
    """A chat's own phone number, sealed (never a person's: it may be a relative's)."""
    return await session.scalar(
        select(Account.phone_sealed).where(Account.channel == channel, Account.chat_id == chat_id)
    )


async def flow_of(session: AsyncSession, account_id: int) -> str | None:
    """The flow an account's conversation is in, read without locking it."""
    return await session.scalar(
        select(ConversationRow.flow).where(ConversationRow.account_id == account_id)
    )


async def open_chat(
    session: AsyncSession,
    *,
    channel: str,
    chat_id: str,
    user_id: str | None,
    locale: str,
    now: datetime,
) -> tuple[Account, SavedState]:
    """The account of a chat, created with an empty conversation on first contact."""
    await session.execute(
        insert_ignoring_conflicts(session, table(Account)),
        {
            "channel": channel,
            "chat_id": chat_id,
            "user_id": user_id,
            "locale": locale,
            "created_at": now,
        },
    )
    account = (
        await session.execute(
            select(Account).where(Account.channel == channel, Account.chat_id == chat_id)
        )
    ).scalar_one()
    await session.execute(
        insert_ignoring_conflicts(session, table(ConversationRow)),
        {"account_id": account.id, "data": {}, "prompt": 0, "version": 0, "updated_at": now},
    )
    loaded = await load_chat(session, channel=channel, chat_id=chat_id)
    assert loaded is not None  # just inserted in this transaction
    return loaded


async def record_consent(
    session: AsyncSession, account: Account, *, version: str, granted: bool, now: datetime
) -> None:
    """Store a consent decision on the account and in its history."""
    account.consent_version = version if granted else None
    account.consented_at = now if granted else None
    session.add(ConsentEvent(account_id=account.id, version=version, granted=granted, at=now))


async def consent_history(session: AsyncSession, *, account_id: int) -> list[ConsentEvent]:
    """Every consent decision of an account, oldest first."""
    result = await session.execute(
        select(ConsentEvent).where(ConsentEvent.account_id == account_id).order_by(ConsentEvent.id)
    )
    return list(result.scalars())


async def mark_unreachable(
    session: AsyncSession, *, channel: str, chat_id: str, reason: str, at: datetime
) -> None:
    """Remember that the platform refuses messages to this chat (blocked, deactivated).

    An account that sent its messages there (a linked chat) sends them to its own chat again.
    """
    await session.execute(
        update(Account)
        .where(Account.channel == channel, Account.chat_id == chat_id)
        .values(unreachable_at=at, unreachable_reason=reason[:200])
    )
    await session.execute(
        update(Account)
        .where(Account.reach_channel == channel, Account.reach_chat_id == chat_id)
        .values(reach_channel=None, reach_chat_id=None, reach_pinned=False)
    )


async def holders_by_phone(
    session: AsyncSession, *, phone_index: str, channels: Sequence[str]
) -> list[Account]:
    """Unlinked accounts on `channels` with this phone on record, best first.

    An account's own number comes before a number it registered for a person (a relative's
    account may hold ours); newer accounts before older ones.
    """
    by_person = select(Person.account_id).where(Person.phone_index == phone_index)
    own = Account.phone_index == phone_index
    result = await session.scalars(
        select(Account)
        .where(
            Account.channel.in_(channels),
            Account.holder_id.is_(None),
            own | Account.id.in_(by_person),
        )
        .order_by(own.desc(), Account.id.desc())
    )
    return list(result)


async def link(session: AsyncSession, chat: Account, holder: Account) -> None:
    """Make `chat` one of `holder`'s chats: its people and invitations move over."""
    await session.execute(
        update(Person).where(Person.account_id == chat.id).values(account_id=holder.id)
    )
    await session.execute(
        update(CampaignInvitation)
        .where(CampaignInvitation.account_id == chat.id)
        .values(account_id=holder.id)
    )
    await session.execute(  # no chains: chats linked to `chat` follow it
        update(Account).where(Account.holder_id == chat.id).values(holder_id=holder.id)
    )
    chat.holder_id = holder.id
    holder.reach_channel, holder.reach_chat_id = chat.channel, chat.chat_id
    holder.reach_pinned = False


async def linked_chats(session: AsyncSession, holder_id: int) -> list[Account]:
    """The holder and the chats linked to it, holder first."""
    result = await session.scalars(
        select(Account)
        .where((Account.id == holder_id) | (Account.holder_id == holder_id))
        .order_by(Account.holder_id.is_not(None), Account.id)
    )
    return list(result)


async def used_now(session: AsyncSession, *, holder_id: int, channel: str, chat_id: str) -> None:
    """A linked chat was written from: the holder's messages go there from now (unless pinned)."""
    await session.execute(
        update(Account)
        .where(
            Account.id == holder_id,
            Account.reach_pinned.is_(False),
            (Account.reach_channel.is_(None))
            | (Account.reach_channel != channel)
            | (Account.reach_chat_id != chat_id),
        )
        .values(reach_channel=channel, reach_chat_id=chat_id)
    )


async def delete_account(session: AsyncSession, *, account_id: int) -> None:
    """Erase an account and its linked chats, with conversations, consents, pending messages."""
    await session.execute(
        delete(Account).where((Account.id == account_id) | (Account.holder_id == account_id))
    )


async def forget_never_consented(session: AsyncSession, *, idle_before: datetime) -> int:
    """Delete the accounts that never consented and wrote nothing since `idle_before`.

    Their conversations, consent refusals and messages go with them. An account that consented
    once is kept, even after withdrawing (its history is the citizen's to see and delete), and
    so is a chat linked to another.

    Returns:
        How many accounts were deleted.
    """
    never_consented = (
        select(Account.id)
        .join(ConversationRow, ConversationRow.account_id == Account.id)
        .where(
            Account.consented_at.is_(None),
            Account.holder_id.is_(None),
            ConversationRow.updated_at < idle_before,
            Account.id.not_in(
                select(ConsentEvent.account_id).where(ConsentEvent.granted.is_(True))
            ),
        )
    )
    chats = select(Account.channel, Account.chat_id).where(Account.id.in_(never_consented))
    # Replies kept without an account (an apology) are found by their chat.
    await session.execute(
        delete(OutboxMessage)
        .where(tuple_(OutboxMessage.channel, OutboxMessage.chat_id).in_(chats))
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        delete(Account)
        .where(Account.id.in_(never_consented))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
