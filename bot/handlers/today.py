"""Today, as the conversation's clock sees it in Vietnam: the day every step reasons about."""

from __future__ import annotations

from datetime import date

from bot.conversation import Conversation
from bot.i18n import local_day


def local_today(conv: Conversation) -> date:
    """Today in Vietnam."""
    return local_day(conv.now)
