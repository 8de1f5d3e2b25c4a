"""Tickets for the inbox's tests: a citizen with a registered person and an open ticket."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Service
from bot.crypto import DataProtector
from storage.models import Account, Person, Ticket, TicketEntry

WARD, OTHER_WARD = 26743, 26740


async def add_ticket(
    svc: Service,
    *,
    name: str = "Nguyễn Văn An",
    text: str = "Tôi cần giúp",
    ward: int | None = WARD,
    chat_id: str = "5001",
    channel: str = "telegram",
    status: str = "open",
    reason: str = "Nhắn tin xin hỗ trợ",
    ago: timedelta = timedelta(0),
) -> int:
    """A citizen with one registered person and an open ticket (no desk): the ticket's id."""
    protector: DataProtector = svc.protector
    async with svc.db.session_scope() as session:
        now = svc.clock()
        account = Account(channel=channel, chat_id=chat_id, locale="vi", created_at=now)
        account.consent_version, account.consented_at = "2026-11", now
        session.add(account)
        await session.flush()
        if ward is not None:
            session.add(
                Person(
                    account_id=account.id,
                    full_name=name,
                    birth_date=now.date().replace(year=1990),
                    gender="male",
                    id_sealed=protector.seal("079190012345"),
                    id_index=f"idx-{chat_id}",
                    province_code=79,
                    ward_code=ward,
                    divisions_version="2025-07",
                    priority_group="general",
                    is_holder=True,
                )
            )
        ticket = Ticket(
            account_id=account.id,
            status=status,
            reason=reason,
            opened_at=now - ago,
            desk_channel="",
            desk_chat_id="",
            ward_code=ward,
        )
        session.add(ticket)
        await session.flush()
        session.add(
            TicketEntry(
                ticket_id=ticket.id,
                kind="citizen",
                author="citizen",
                text=text,
                created_at=now - ago,
            )
        )
        return ticket.id
