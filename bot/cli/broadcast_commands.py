"""`run_bot.py broadcast create|list|report|cancel`: ward announcements from the console.

The running service sends them (its scheduler picks the broadcast up); this process only
writes, reads or stops them. Everything is audited with actor `cli`. Exit codes: 0 done, 1 an
unknown broadcast or one that has ended already, 2 refused.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.domain import broadcast_batches as broadcasts
from bot.domain import staff_operations as operations
from bot.domain.form_lists import group_codes
from bot.i18n import TIMEZONE, use_locale
from bot.vn.dates import parse_send_time
from storage import broadcasts as store
from storage.models import Broadcast

if TYPE_CHECKING:
    from bot.app import Service

CLI_ACTOR = "cli"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare `broadcast` and its actions."""
    broadcast = commands.add_parser("broadcast", help="ward announcements: create, report, cancel")
    actions = broadcast.add_subparsers(dest="broadcast_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="send an announcement to wards or a province")
    where = create.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--ward",
        dest="wards",
        type=int,
        action="append",
        default=[],
        metavar="CODE",
        help="a current ward code (repeatable)",
    )
    where.add_argument("--province", type=int, metavar="CODE", help="a whole province")
    create.add_argument(
        "--group",
        dest="groups",
        action="append",
        default=[],
        metavar="G",
        help="a priority group code or number (repeatable; default: every group)",
    )
    create.add_argument("--text", required=True, help="the announcement, as citizens read it")
    create.add_argument(
        "--at", metavar="WHEN", help='Vietnam time, e.g. "17:30" or "8:00 15/12" (default: now)'
    )
    actions.add_parser("list", help="the newest broadcasts first")
    report = actions.add_parser("report", help="sent, failed, blocked, remaining")
    report.add_argument("id", type=int, metavar="ID")
    cancel = actions.add_parser("cancel", help="stop it: nothing more is sent")
    cancel.add_argument("id", type=int, metavar="ID")


async def run(args: argparse.Namespace, service: Service) -> int:
    """Run a `broadcast` action; the exit code."""
    if args.broadcast_command == "create":
        return await _create(args, service)
    if args.broadcast_command == "list":
        return await _list(service)
    if args.broadcast_command == "report":
        return await _report(args.id, service)
    return await _cancel(args.id, service)


async def _create(args: argparse.Namespace, service: Service) -> int:
    now = service.clock()
    send_at = now if args.at is None else parse_send_time(args.at, now=now, tz=TIMEZONE)
    if send_at is None:
        print(f"error: --at {args.at!r} is no time (e.g. 17:30 or 8:00 15/12)", file=sys.stderr)
        return 2
    if send_at < now - timedelta(minutes=1):
        print(f"error: --at {args.at!r} has passed", file=sys.stderr)
        return 2
    draft = operations.Draft(
        kind=operations.Kind.BROADCAST,
        wards=tuple(args.wards),
        province=args.province,
        groups=tuple(group_codes(args.groups, service.settings)),
        text=args.text,
        send_at=send_at,
    )
    async with service.db.session_scope() as session:
        created = await operations.confirm(
            session, draft, scope=None, actor=CLI_ACTOR, now=now, settings=service.settings
        )
        reached = await operations.audience_count(session, draft, None, now=now)
    if isinstance(created, operations.Problem):
        print(f"error: {created.detail}", file=sys.stderr)
        return 2
    local = created.starts_at.astimezone(TIMEZONE)
    when = "now" if created.starts_at <= now else f"at {local:%Y-%m-%d %H:%M} (Vietnam time)"
    area = created.record.area if isinstance(created.record, Broadcast) else ""
    print(f"created broadcast {created.id} to {area}; sending {when}")
    print(f"recipients now: {reached} (consenting, reachable, announcements on)")
    return 0


async def _list(service: Service) -> int:

    async with service.db.read_scope() as session:
        found = await store.list_broadcasts(session, limit=50)
    with use_locale("en"):
        for broadcast in found:
            print(f"{broadcasts.headline(broadcast)} (by {broadcast.created_by})")
    if not found:
        print("no broadcasts")
    return 0


async def _report(broadcast_id: int, service: Service) -> int:
    kind = operations.Kind.BROADCAST
    with use_locale("en"):
        async with service.db.read_scope() as session:
            found = await operations.report(session, kind, broadcast_id, None)
    if isinstance(found, operations.Problem):
        print(f"no broadcast {broadcast_id}")
        return 1
    print("\n".join(found.lines))
    return 0


async def _cancel(broadcast_id: int, service: Service) -> int:

    async with service.db.session_scope() as session:
        found, withdrawn = await broadcasts.cancel(
            session, broadcast_id, actor=CLI_ACTOR, now=service.clock()
        )
    if found is None:
        print(f"no broadcast {broadcast_id}")
        return 1
    if withdrawn is None:
        print(f"broadcast {found.id} has already ended ({found.status})")
        return 1
    print(f"cancelled broadcast {found.id}: {len(withdrawn)} messages withdrawn")
    return 0
