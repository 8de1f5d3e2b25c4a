"""`run_bot.py children due|coverage|record`: due lists, coverage, a site's doses (issue 21).

`due|coverage --ward CODE`: the ward's due list and coverage, read-only; names are masked
(initials) as in all staff output, a child is found by its number (`#id`) and birth date.
`record --child ID --vaccine CODE --dose N --day DAY --site SITE`: a site records a dose given
(confirming the parent's report of it), audited, and the parent gets the updated card.
Exit codes: 0 done, 1 refused, 2 an unknown ward, child or site.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import TYPE_CHECKING

from bot.domain.immunisation import due_list as lists
from bot.domain.immunisation import site_doses
from bot.domain.immunisation.schedule import load_schedule
from bot.i18n import local_day
from bot.vn import divisions
from bot.vn.dates import InvalidDate, parse_birth_date
from storage import children, sites

CLI_ACTOR = "cli"  # the audit log's actor (as `bot.cli.arguments.CLI_ACTOR`)

if TYPE_CHECKING:
    from bot.app import Service


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare `children` and its actions."""
    parser = commands.add_parser("children", help="children's immunisation: due list, coverage")
    actions = parser.add_subparsers(dest="children_command", metavar="ACTION", required=True)
    due = actions.add_parser("due", help="children to vaccinate in a ward in the coming days")
    due.add_argument("--ward", type=int, required=True, metavar="CODE", help="a ward code")
    due.add_argument("--days", type=int, default=7, help="how many days ahead (default 7)")
    cover = actions.add_parser("coverage", help="coverage per vaccine dose in a ward")
    cover.add_argument("--ward", type=int, required=True, metavar="CODE", help="a ward code")
    record = actions.add_parser("record", help="a site records a dose given to a child")
    record.add_argument("--child", type=int, required=True, metavar="ID", help="the child's #id")
    record.add_argument("--vaccine", required=True, metavar="CODE", help="e.g. dtp, measles")
    record.add_argument("--dose", type=int, required=True, metavar="N", help="the dose number")
    record.add_argument("--day", required=True, metavar="DAY", help="DD/MM/YYYY or YYYY-MM-DD")
    record.add_argument("--site", required=True, metavar="SITE", help="the site's code")


async def run(args: argparse.Namespace, service: Service) -> int:
    """Run a `children` action; the exit code."""
    if args.children_command == "record":
        return await record(args, service)
    try:
        ward = divisions.ward(args.ward)
    except KeyError:
        print(f"error: no ward with code {args.ward}", file=sys.stderr)
        return 2
    if args.children_command == "due" and not 0 <= args.days <= 366:
        print("error: --days is 0 to 366", file=sys.stderr)
        return 2
    today = local_day(service.clock())
    async with service.db.read_scope() as session:
        rows = await lists.load_rows(session, ward.code, today)
    if args.children_command == "due":
        print_due(ward.name, rows, today=today, days=args.days)
    else:
        print_coverage(ward.name, rows, today=today)
    return 0


def print_due(ward: str, rows: list[lists.ChildRow], *, today: date, days: int) -> None:
    """Print the due list: one line per child, its doses with their state and day."""
    found = lists.due_list(load_schedule(), rows, today=today, days=days)
    print(f"Due list for {ward}, {today:%d/%m/%Y} + {days} days: {len(found)} children")
    for entry in found:
        child = entry.child
        doses = "; ".join(
            f"{d.dose.name_en} ({d.state.value}, due {d.due_on:%d/%m/%Y})" for d in entry.doses
        )
        print(f"#{child.id} {lists.mask_name(child.name)} born {child.born:%d/%m/%Y}: {doses}")


def print_coverage(ward: str, rows: list[lists.ChildRow], *, today: date) -> None:
    """Print coverage per dose: eligible, covered (and %), confirmed by a site."""
    print(f"Coverage in {ward} on {today:%d/%m/%Y}: {len(rows)} children")
    print("vaccine      dose  eligible  covered      %  confirmed")
    for line in lists.coverage(load_schedule(), rows, today=today):
        print(
            f"{line.dose.vaccine:<12} {line.dose.number:>4}  {line.eligible:>8}  "
            f"{line.covered:>7}  {line.percent:>5.1f}  {line.confirmed:>9}"
        )


async def record(args: argparse.Namespace, service: Service) -> int:
    """Record a dose a site gave a child; the exit code."""
    now = service.clock()
    try:
        day = parse_birth_date(args.day, today=local_day(now))
    except InvalidDate:
        print(f"error: {args.day!r} is not a day on or before today", file=sys.stderr)
        return 1
    async with service.db.session_scope() as session:
        child = await children.get_child(session, args.child)
        site = await sites.get_site(session, args.site)
        if child is None or site is None:
            missing = "child" if child is None else "site"
            print(f"error: no such {missing}", file=sys.stderr)
            return 2
        try:
            recorded = await site_doses.record_given(
                session,
                child,
                vaccine=args.vaccine,
                number=args.dose,
                given_on=day,
                site=site,
                actor=CLI_ACTOR,
                staff_id=None,
                now=now,
                fit=service.sender.fit,
            )
        except site_doses.ChildDoseRefused as refused:
            print(f"error: {refused.problem.value}", file=sys.stderr)
            return 1
    service.sender.wake()
    done = "recorded" if recorded else "already recorded, nothing changed"
    print(f"child #{child.id}: {args.vaccine} dose {args.dose} {done}")
    return 0
