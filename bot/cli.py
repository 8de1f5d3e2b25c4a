"""Operator commands of `run_bot.py`: CSV imports and staff roles (README, "Command line").

`add_commands` declares them, `check` refuses what needs no database (a missing file, exit
code 2), `run` does the work in one transaction. Exit codes: 0 done, 1 done with problems (or
nothing to remove), 2 refused.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.vn import divisions
from storage import staff
from storage.models import Site, StaffMember, utcnow

if TYPE_CHECKING:
    from bot.app import Service
    from bot.imports import ImportReport

IMPORTS = ("import-sites", "import-slots", "import-vaccinations", "import-results")
COMMANDS = (*IMPORTS, "staff")
CHANNELS = ("telegram", "web")
CLI_ACTOR = "cli"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare the import and staff commands on the main parser's subcommands."""
    imports = {
        "import-sites": (
            "add or update vaccination sites from a CSV file",
            "site_id,name,address,province_code,ward_code[,active]",
        ),
        "import-slots": (
            "add slots, or change their end and capacity, from a CSV file",
            "site_id,date,start,end,capacity (times in Vietnam local time)",
        ),
        "import-vaccinations": (
            "record doses given (the citizens are told) from a CSV file",
            "id_number,dose_number,product,lot,given_on,site_id[,booking_code]",
        ),
        "import-results": (
            "record lab results of sample tubes (everyone in a tube is told) from a CSV file",
            "tube_code,result,tested_at,lab (result: negative, positive, inconclusive or "
            "âm tính, dương tính, không xác định; tested_at in Vietnam local time)",
        ),
    }
    for name, (summary, header) in imports.items():
        command = commands.add_parser(name, help=summary, description=f"Columns: {header}.")
        command.add_argument("file", type=Path, metavar="FILE", help="UTF-8 CSV with a header")

    roles = commands.add_parser("staff", help="grant, list or remove staff roles")
    actions = roles.add_subparsers(dest="staff_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="grant a role (or replace the scope of one held)")
    _who(add)
    add.add_argument("--role", required=True, choices=staff.ROLES)
    add.add_argument("--name", help="how the person appears in lists and the audit log")
    add.add_argument(
        "--ward",
        dest="wards",
        type=int,
        nargs="+",
        action="extend",
        default=[],
        metavar="CODE",
        help="ward code(s) of the scope (repeatable)",
    )
    add.add_argument(
        "--site",
        dest="sites",
        nargs="+",
        action="extend",
        default=[],
        metavar="SITE_ID",
        help="site(s) of the scope (repeatable)",
    )
    add.add_argument(
        "--keep-key",
        action="store_true",
        help="sampler or lab already granted: change name or scope, keep the API key",
    )
    actions.add_parser("list", help="every staff role with its scope")
    remove = actions.add_parser("remove", help="take away one role, or all of a user's roles")
    _who(remove)
    remove.add_argument("--role", choices=staff.ROLES, help="only this role (default: all)")


def _who(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--channel", required=True, choices=CHANNELS)
    parser.add_argument("--user-id", required=True, help="the platform's user id")


def check(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments before touching the database, or None."""
    file: Path | None = getattr(args, "file", None)
    if file is not None and not file.is_file():
        return f"error: no such file: {file}"
    user_id: str | None = getattr(args, "user_id", None)
    if user_id is not None and not 1 <= len(user_id) <= 64:
        return "error: --user-id must be 1 to 64 characters"
    return None


async def run(args: argparse.Namespace, service: Service) -> int:
    """Run an import or staff command in one transaction; the exit code."""
    if args.command in IMPORTS:
        return await _import(args.command, args.file, service)
    if args.staff_command == "add":
        return await _staff_add(args, service)
    if args.staff_command == "remove":
        return await _staff_remove(args, service)
    return await _staff_list(service)


async def _import(command: str, file: Path, service: Service) -> int:
    from bot.imports import (  # the heavy part
        import_results,
        import_sites,
        import_slots,
        import_vaccinations,
    )

    try:
        data = await asyncio.to_thread(file.read_bytes)
    except OSError as error:
        print(f"error: cannot read {file}: {error.strerror or error}", file=sys.stderr)
        return 2
    if command == "import-results":  # committed every CHECKPOINT_ROWS rows, notices and all
        async with service.db.batched_scope() as session:
            report = await import_results(session, data, now=utcnow(), checkpoint=session.commit)
        return _print_report(report)
    async with service.db.session_scope() as session:
        if command == "import-sites":
            report = await import_sites(session, data)
        elif command == "import-slots":
            report = await import_slots(session, data)
        else:
            report = await import_vaccinations(
                session,
                data,
                protector=service.protector,
                authority=service.authority,
                now=utcnow(),
            )
    return _print_report(report)


def _print_report(report: ImportReport) -> int:
    print(report.summary())
    for line, reason in report.problems:
        print(f"line {line}: {reason}")
    return 1 if report.problems else 0


async def _staff_add(args: argparse.Namespace, service: Service) -> int:
    if args.role == "site_staff" and not args.sites:
        print("error: a site_staff role needs at least one --site", file=sys.stderr)
        return 2
    for code in args.wards:
        try:
            divisions.ward(code)
        except KeyError:
            print(
                f"error: ward {code} is no current ward (codes since 1 July 2025)", file=sys.stderr
            )
            return 2
    async with service.db.session_scope() as session:
        for site_id in args.sites:
            if await session.get(Site, site_id) is None:
                print(
                    f"error: no site with site_id {site_id!r} (import-sites first)",
                    file=sys.stderr,
                )
                return 2
        held = await staff.roles_of(session, channel=args.channel, user_id=args.user_id)
        granted_before = any(member.role == args.role for member in held)
        member = await staff.add_staff(
            session,
            channel=args.channel,
            user_id=args.user_id,
            role=args.role,
            name=args.name,
            wards=args.wards,
            sites=args.sites,
        )
        detail = {"role": member.role, "wards": member.wards, "sites": member.sites}
        key = None
        if member.role in staff.API_ROLES and not (args.keep_key and member.api_key_hash):
            key = await staff.issue_api_key(session, member)
            detail["api_key"] = "rotated" if granted_before else "issued"  # never the key
        await staff.audit(
            session,
            actor=CLI_ACTOR,
            action="staff_updated" if granted_before else "staff_added",
            subject=f"staff:{member.channel}:{member.user_id}",
            now=utcnow(),
            detail=detail,
        )
        print(("updated: " if granted_before else "added: ") + _describe(member))
    if key is not None:  # printed once the key is committed, so it is the one that works
        print(f"api key: {key}")
        print(
            "This key is shown only once: put it in the scanner app or lab system now. "
            "Running staff add again for this role makes a new key and the old one stops "
            "working (--keep-key keeps it)."
        )
    return 0


async def _staff_list(service: Service) -> int:
    async with service.db.read_scope() as session:
        members = await staff.list_staff(session)
    for member in members:
        print(_describe(member))
    if not members:
        print("no staff roles")
    return 0


async def _staff_remove(args: argparse.Namespace, service: Service) -> int:
    async with service.db.session_scope() as session:
        removed = await staff.remove_staff(
            session, channel=args.channel, user_id=args.user_id, role=args.role
        )
        if removed:
            await staff.audit(
                session,
                actor=CLI_ACTOR,
                action="staff_removed",
                subject=f"staff:{args.channel}:{args.user_id}",
                now=utcnow(),
                detail={"role": args.role or "all", "removed": removed},
            )
    who = f"{args.channel}:{args.user_id}"
    if not removed:
        print(f"{who} holds no role {args.role}" if args.role else f"{who} holds no staff role")
        return 1
    print(f"removed {removed} role{'s' if removed > 1 else ''} of {who}")
    return 0


def _describe(member: StaffMember) -> str:
    wards = ", ".join(str(code) for code in member.wards) or "-"
    sites = ", ".join(member.sites) or "-"
    described = f"{staff.actor_label(member)} wards: {wards}; sites: {sites}"
    if member.role in staff.API_ROLES:
        described += f"; api key: {'set' if member.api_key_hash else 'none'}"
    return described
