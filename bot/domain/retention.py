"""How long sent messages keep what they said: `OUTBOX_RETENTION_DAYS`, then only their record.

The outbox keeps a row as the delivery record (reports, deduplication, replies to a message
by its platform id), but a settled row's text, buttons, picture and template facts (names, birth
dates, results) are stripped once it is older than the retention period, and the record itself
is deleted after `OUTBOX_PRUNE_DAYS` unless a report or a ticket refers to it. The periodic cleanup
(`bot.app`) does it in batches of `BATCH` rows, each its own short transaction, so a large
backlog never holds the write lock for long and other writers get their turn in between.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.messages import stripped_body
from storage import outbox
from storage.db import Database

BATCH = 200


async def prune_old_messages(db: Database, *, now: datetime, keep: timedelta) -> int:
    """Delete settled outbox rows written more than `keep` before `now`; how many there were.

    Rows a report or a ticket refers to stay. Batches as `strip_old_messages`.
    """
    total = 0
    while True:
        async with db.session_scope() as session:
            pruned = await outbox.prune(session, before=now - keep, limit=BATCH)
        total += pruned
        if pruned < BATCH:
            return total


async def strip_old_messages(db: Database, *, now: datetime, keep: timedelta) -> int:
    """Strip settled outbox rows written more than `keep` before `now`; how many there were."""
    total = 0
    while True:
        async with db.session_scope() as session:
            ids = await outbox.settled_before(session, before=now - keep, limit=BATCH)
            await outbox.strip(session, ids, shape=stripped_body, now=now)
        total += len(ids)
        if len(ids) < BATCH:
            return total
