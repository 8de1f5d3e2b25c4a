"""Erasing a citizen (/xoadulieu): nothing of them is left in any table.

A citizen is an account with the chats linked to it. Their accounts go with their
conversations, consent records and every message to their chats (sent or not); the people they
registered go with their bookings, unless a dose or a sample is on record (then the person is
kept for the medical record, detached and without a phone number); so do the children they
registered, with the doses they reported (a child with a dose a site gave is kept, detached,
with those doses only); so do their requests to correct a dose record (words and photos).
What they wrote to support staff is stripped from the desk's messages and their tickets, which
are closed (the desk is told why). On SQLite, `secure_delete` zeroes what was deleted, so once
the WAL is checkpointed none of it is left in the files either.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import tickets
from bot.domain.certificate_issuing import image_key
from bot.messages import stripped_body
from storage import accounts, certificates, children, corrections, media, outbox, people
from storage import tickets as ticket_store

WHY = "data deleted"  # what the desk's audit trail says closed the tickets


async def erase_citizen(session: AsyncSession, holder_id: int, *, now: datetime) -> set[int]:
    """Erase the citizen whose account (or the account their chat is linked to) is `holder_id`.

    Returns:
        Desk messages withdrawn before they were sent (a sender may hold copies of them).
    """
    chats = await accounts.linked_chats(session, holder_id)
    copies = await ticket_store.forget_citizen(session, [chat.id for chat in chats])
    withdrawn = await outbox.strip(session, copies, shape=stripped_body, now=now)
    for chat in chats:  # after the strip: the note telling the desk stays
        await tickets.close_for_account(session, chat, why=WHY, now=now)
    await outbox.delete_for_chats(session, [(chat.channel, chat.chat_id) for chat in chats])
    registered = [person.id for person in await people.people_of(session, holder_id)]
    held = await certificates.of_people(session, registered)
    await media.forget(session, [image_key(certificate.id) for certificate in held])
    await children.erase_for_account(session, holder_id)  # before the parents they point to
    await corrections.erase_for_account(session, holder_id)  # their words and card photos
    await people.erase_for_account(session, holder_id, now=now)
    await accounts.delete_account(session, account_id=holder_id)
    return withdrawn
