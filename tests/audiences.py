"""Many consenting citizens at once, written with bulk inserts (tests and `bench/broadcast.py`).

Each citizen is an account (Telegram by default; chat id = user id) with its conversation row
and one registered person in a ward. Nothing is encrypted for real: these rows are only ever
counted and written to, never shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from bot.handlers.privacy import CONSENT_VERSION
from storage.db import Database
from storage.models import Account, ConversationRow, Person, table
from tests.clock import START

BATCH = 5000


async def _bulk(db: Database, entity: type, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        async with db.session_scope() as session:
            await session.execute(insert(table(entity)), list(rows[start : start + BATCH]))


async def add_citizens(
    db: Database,
    chat_ids: Sequence[int],
    *,
    ward: int,
    province: int = 79,
    group: str = "general",
    consented: bool = True,
    channel: str = "telegram",
    now: datetime = START,
) -> list[int]:
    """Citizens (on Telegram unless told) with one person each in `ward`; their account ids.

    They agreed and were created at `now` (the moment every test starts, unless told).
    """
    await _bulk(
        db,
        Account,
        [
            {
                "channel": channel,
                "chat_id": str(chat),
                "user_id": str(chat),
                "locale": "vi",
                "consent_version": CONSENT_VERSION if consented else None,
                "consented_at": now if consented else None,
                "created_at": now,
            }
            for chat in chat_ids
        ],
    )
    async with db.read_scope() as session:
        found = dict(
            (
                await session.execute(
                    select(Account.chat_id, Account.id).where(
                        Account.channel == channel,
                        Account.chat_id.in_([str(chat) for chat in chat_ids]),
                    )
                )
            ).all()
        )
    account_ids = [found[str(chat)] for chat in chat_ids]
    await _bulk(
        db,
        ConversationRow,
        [
            {"account_id": a, "data": {}, "prompt": 0, "version": 0, "updated_at": now}
            for a in account_ids
        ],
    )
    await _bulk(
        db,
        Person,
        [
            {
                "account_id": account_id,
                "full_name": f"Nguyễn Văn {chat}",
                "birth_date": date(1960, 1, 1) + timedelta(days=chat % 15_000),
                "gender": "male",
                "id_sealed": b"sealed",
                "id_index": f"audience-{chat}",
                "province_code": province,
                "ward_code": ward,
                "divisions_version": "2025",
                "priority_group": group,
                "is_holder": True,
                "created_at": now,
            }
            for chat, account_id in zip(chat_ids, account_ids, strict=True)
        ],
    )
    return account_ids
