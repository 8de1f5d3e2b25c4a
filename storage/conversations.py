"""Conversation state: where a chat is in a flow, saved with the event that moved it."""

from __future__ import annotations

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
    for optimistic concurrency.
    """

    flow: str | None
    step: str | None
    data: dict[str, Any]
    prompt: int
    version: int
    updated_at: datetime


async def save_state(session: AsyncSession, *, account_id: int, state: SavedState) -> None:
    """Store `state`, which must be one version past the stored one.

    Raises:
        ConcurrentUpdateError: the stored version is not `state.version - 1`.
    """
    result = await session.execute(
        _SAVE,
        {
            "key": account_id,
            "expected": state.version - 1,
            "flow": state.flow,
            "step": state.step,
            "data": state.data,
            "prompt": state.prompt,
            "version": state.version,
            "updated_at": state.updated_at,
        },
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentUpdateError(f"conversation of account {account_id} changed meanwhile")


_CONVERSATIONS = table(ConversationRow)
_SAVE = update(_CONVERSATIONS).where(
    _CONVERSATIONS.c.account_id == bindparam("key"),
    _CONVERSATIONS.c.version == bindparam("expected"),
)
