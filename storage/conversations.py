"""Conversation state: where a chat is in a flow, saved with the event that moved it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConversationRow, table


class ConcurrentUpdateError(RuntimeError):
    """Another worker changed the conversation since it was loaded (the event is retried)."""


@dataclass(frozen=True, slots=True)
class SavedState:
    """A conversation as stored.

    `prompt` numbers the question being asked (its buttons carry it); `version` counts saves,
    for optimistic concurrency. `open_ticket` is not part of the row: it is read with it (the
    account's open support ticket, if any).
    """

    flow: str | None
    step: str | None
    data: dict[str, Any]
    prompt: int
    version: int
    updated_at: datetime
    open_ticket: int | None = None


async def save_states(
    session: AsyncSession, changes: Sequence[tuple[int, SavedState, int]]
) -> None:
    """Store new states, as (account id, state, version it was loaded at), in one statement.

    Each is refused if its stored version moved meanwhile.

    Raises:
        ConcurrentUpdateError: another worker saved one of these conversations first.
    """
    if not changes:
        return
    rows = [
        {
            "key": account_id,
            "expected": loaded_version,
            "flow": state.flow,
            "step": state.step,
            "data": state.data,
            "prompt": state.prompt,
            "version": state.version,
            "updated_at": state.updated_at,
        }
        for account_id, state, loaded_version in changes
    ]
    result = await session.execute(_SAVE, rows)
    sane = session.get_bind().dialect.supports_sane_multi_rowcount or len(rows) == 1
    if sane and result.rowcount != len(rows):  # type: ignore[attr-defined]
        raise ConcurrentUpdateError("a conversation changed while this event was handled")


_CONVERSATIONS = table(ConversationRow)
_SAVE = update(_CONVERSATIONS).where(
    _CONVERSATIONS.c.account_id == bindparam("key"),
    _CONVERSATIONS.c.version == bindparam("expected"),
)
