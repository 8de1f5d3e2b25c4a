"""Every kind of timed job the scheduler knows, and how each is fired."""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain import broadcast_batches as broadcasts
from bot.domain import campaign_waves as campaigns
from bot.domain import checkin_jobs, reminders, tickets
from bot.domain.immunisation import child_reminders
from bot.domain.jobs import JobKind

JOB_KINDS: Mapping[str, JobKind] = {
    **reminders.KINDS,
    **campaigns.KINDS,
    **broadcasts.KINDS,
    **tickets.KINDS,
    **checkin_jobs.KINDS,
    **child_reminders.KINDS,
}
