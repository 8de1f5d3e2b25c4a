"""`run_bot.py reactions`: reactions reported, and check-ins answered, per site and product."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from bot.i18n import TIMEZONE
from storage import checkins, reactions

if TYPE_CHECKING:
    from bot.app import Service


async def run(since: date | None, service: Service) -> int:
    """Print the reactions reported and the check-ins answered per site and product."""
    start = datetime.combine(since, datetime.min.time(), TIMEZONE) if since else None
    async with service.db.read_scope() as session:
        counts = await reactions.counts(session, since=start)
        answers = await checkins.counts(session, since=start)
    print(f"{'site':<34}{'product':<16}{'reports':>9}{'severe':>9}")
    for row in counts:
        site = row.site_id or "(no dose named)"
        print(f"{site[:33]:<34}{(row.product or '-')[:15]:<16}{row.total:>9}{row.severe:>9}")
    total, severe = sum(c.total for c in counts), sum(c.severe for c in counts)
    print(f"{'total':<50}{total:>9}{severe:>9}")
    if answers:
        _print_checkins(answers)
    return 0


def _print_checkins(answers: list[checkins.CheckInCount]) -> None:
    """The check-ins asked per site and product, and how they were answered."""
    print()
    print("post-vaccination check-ins (day 1 and day 7)")
    print(f"{'site':<34}{'product':<16}{'asked':>7}{'fine':>7}{'mild':>7}{'help':>7}{'none':>7}")
    for a in answers:
        site = a.site_id or "-"
        print(
            f"{site[:33]:<34}{a.product[:15]:<16}{a.asked:>7}{a.fine:>7}{a.mild:>7}"
            f"{a.help:>7}{a.unanswered:>7}"
        )
