"""Every kind of timed job the scheduler knows, and how each is fired."""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain import reminders, tickets
from bot.domain.jobs import JobKind
from bot.services import broadcasts, campaigns

JOB_KINDS: Mapping[str, JobKind] = {
    **reminders.KINDS,
    **campaigns.KINDS,
    **broadcasts.KINDS,
    **tickets.KINDS,
}
