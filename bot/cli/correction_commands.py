"""`run_bot.py corrections list|decide`: citizens' requests to correct a dose record (16.7).

`list` shows a site's queue (every site without `--site`), oldest first, names masked as in all
staff output; `decide ID --accept|--refuse [--note TEXT]` decides one: audited, and the citizen
told in their language. Exit codes: 0 done, 1 nothing to decide (unknown or already decided).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.domain.dose_corrections import CorrectionRefused, decide, dose_label
from bot.domain.immunisation.due_list import mask_name
from bot.i18n import format_moment, use_locale
from storage import corrections
from storage.models import Person, Vaccination

if TYPE_CHECKING:
    from bot.app import Service


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare `corrections` and its actions."""
    parser = commands.add_parser("corrections", help="citizens' requests to correct a dose")
    actions = parser.add_subparsers(dest="corrections_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="a site's requests, oldest first")
    listing.add_argument("--site", help="a site id (default: every site)")
    listing.add_argument(
        "--status", choices=(corrections.OPEN, corrections.ACCEPTED, corrections.REFUSED),
        default=corrections.OPEN, help="which requests (default: open)",
    )  # fmt: skip
    deciding = actions.add_parser("decide", help="accept or refuse one request")
    deciding.add_argument("id", type=int, help="the request's number")
    verdict = deciding.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--accept", action="store_true", help="the record is wrong")
    verdict.add_argument("--refuse", action="store_true", help="the record stays")
    deciding.add_argument("--note", default="", help="a note the citizen reads")


async def run(args: argparse.Namespace, service: Service, *, actor: str) -> int:
    """List or decide (as `actor`, in the audit log); the exit code."""
    if args.corrections_command == "list":
        return await _list(args.site, args.status, service)
    now = service.clock()
    try:
        async with service.db.session_scope() as session:
            request = await decide(
                session, args.id, accept=args.accept, note=args.note, actor=actor,
                sites=None, now=now,
            )  # fmt: skip
    except CorrectionRefused as refused:
        print(f"#{args.id}: {refused.problem}", file=sys.stderr)
        return 1
    print(f"#{request.id}: {request.status}")
    return 0


async def _list(site: str | None, status: str, service: Service) -> int:
    async with service.db.read_scope() as session:
        found = await corrections.queue(session, sites=[site] if site else None, status=status)
        with use_locale("vi"):
            for request in found:
                person = await session.get(Person, request.person_id)
                dose = await session.get(Vaccination, request.vaccination_id)
                photo = " [ảnh]" if request.photo_sealed else ""
                print(
                    f"#{request.id}\t{request.site_id or '-'}\t"
                    f"{format_moment(request.created_at)}\t"
                    f"{mask_name(person.full_name) if person else '-'}\t"
                    f"{dose_label(dose) if dose else '-'}\t{request.problem}{photo}"
                )
    print(f"{len(found)} request(s)")
    return 0
