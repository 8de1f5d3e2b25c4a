"""`run_bot.py reactions`: reactions citizens reported after vaccination, per site and product."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from bot.i18n import TIMEZONE
from storage import reactions

if TYPE_CHECKING:
    from bot.app import Service


async def run(since: date | None, service: Service) -> int:
    """Print the reactions reported per site and product (all of them, or since a day)."""
    start = datetime.combine(since, datetime.min.time(), TIMEZONE) if since else None
    async with service.db.read_scope() as session:
        counts = await reactions.counts(session, since=start)
    print(f"{'site':<34}{'product':<16}{'reports':>9}{'severe':>9}")
    for row in counts:
        site = row.site_id or "(no dose named)"
        print(f"{site[:33]:<34}{(row.product or '-')[:15]:<16}{row.total:>9}{row.severe:>9}")
    total, severe = sum(c.total for c in counts), sum(c.severe for c in counts)
    print(f"{'total':<50}{total:>9}{severe:>9}")
    return 0
