"""Which staff role, if any, the person writing holds (staff commands check it every step)."""

from __future__ import annotations

from bot.conversation import Conversation
from bot.messages import Incoming
from storage import staff
from storage.models import StaffMember


async def role_held(msg: Incoming, conv: Conversation, role: str) -> StaffMember | None:
    """The sender's `role` with its scope, or None (then staff commands answer as unknown)."""
    roles = await staff.roles_of(
        conv.session, channel=conv.chat.channel, user_id=msg.user_id or conv.chat.chat_id
    )
    return next((held for held in roles if held.role == role), None)
