"""`staff add|list|remove`: who may act as staff, with the audit line of each change."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.cli.arguments import CLI_ACTOR
from bot.console.passwords import login_problem, password_link
from bot.vn import divisions
from storage import staff
from storage.models import Site, StaffMember

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.app import Service


async def add(args: argparse.Namespace, service: Service) -> int:
    """`staff add`: give a role (with its scope, and an API key for machines); the exit code.

    With `--web` the person also gets a staff console account, and a one-time set-password
    link is printed once everything is committed (so it is the link that works).
    """
    problem = _argument_problem(args)
    login = (args.login or args.user_id).strip().lower()
    link = None
    async with service.db.session_scope() as session:
        problem = problem or await _scope_problem(session, args, login)
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        member, key = await _grant(session, args, service)
        if args.web:
            link = await password_link(
                session,
                service.settings,
                channel=member.channel,
                user_id=member.user_id,
                login=login,
                now=service.clock(),
            )
    if link is not None:
        print(f"console set-password link (works once): {link}")
    if key is not None:  # printed once the key is committed, so it is the one that works
        print(f"api key: {key}")
        print(
            "This key is shown only once: put it in the scanner app or lab system now. "
            "Running staff add again for this role makes a new key and the old one stops "
            "working (--keep-key keeps it)."
        )
    return 0


def _argument_problem(args: argparse.Namespace) -> str | None:
    """Why `staff add`'s arguments are refused before the database is asked, if they are."""
    if args.role in ("site_staff", "lab") and not args.sites:
        return f"a {args.role} role needs at least one --site"
    problem = _lab_problem(args.role, _lab_name(args))
    if problem is not None:
        return problem
    for code in args.wards:
        try:
            divisions.ward(code)
        except KeyError:
            return f"ward {code} is no current ward (codes since 1 July 2025)"
    return None


async def _scope_problem(
    session: AsyncSession, args: argparse.Namespace, login: str
) -> str | None:
    """Why the sites named, or the console sign-in name with `--web`, are refused, if they are."""
    for site_id in args.sites:
        if await session.get(Site, site_id) is None:
            return f"no site with site_id {site_id!r} (import-sites first)"
    if args.web:
        return await login_problem(session, args.channel, args.user_id, login)
    return None


def _lab_name(args: argparse.Namespace) -> str | None:
    """`--lab` with its spaces tidied, or None."""
    return " ".join(args.lab.split()) if args.lab is not None else None


async def _grant(
    session: AsyncSession, args: argparse.Namespace, service: Service
) -> tuple[StaffMember, str | None]:
    """Store the role and audit it; the member and a new API key for machines (or None)."""
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
        lab=_lab_name(args),
        now=service.clock(),
    )
    detail = {"role": member.role, "wards": member.wards, "sites": member.sites}
    if member.lab is not None:
        detail["lab"] = member.lab
    key = None
    if member.role in staff.API_ROLES and not (args.keep_key and member.api_key_hash):
        key = await staff.issue_api_key(session, member)
        detail["api_key"] = "rotated" if granted_before else "issued"  # never the key
    await staff.audit(
        session,
        actor=CLI_ACTOR,
        action="staff_updated" if granted_before else "staff_added",
        subject=f"staff:{member.channel}:{member.user_id}",
        now=service.clock(),
        detail=detail,
    )
    print(("updated: " if granted_before else "added: ") + _describe(member))
    return member, key


def _lab_problem(role: str, lab: str | None) -> str | None:
    """Why `--lab` is refused: a lab role needs one (1 to 120 printable characters)."""
    if lab is None:
        return 'a lab role needs --lab "<the lab\'s name>"' if role == "lab" else None
    if role != "lab":
        return "--lab is for the lab role only"
    if not 1 <= len(lab) <= 120 or not lab.isprintable():
        return "--lab must be 1 to 120 printable characters"
    return None


async def listing(service: Service) -> int:
    """`staff list`: every staff role with its scope; the exit code."""
    async with service.db.read_scope() as session:
        members = await staff.list_staff(session)
    for member in members:
        print(_describe(member))
    if not members:
        print("no staff roles")
    return 0


async def remove(args: argparse.Namespace, service: Service) -> int:
    """`staff remove`: take away one role, or all of a user's roles; the exit code."""
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
                now=service.clock(),
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
    if member.role == "lab":
        described += f"; lab: {member.lab or '- (its key is refused until given --lab)'}"
    if member.role in staff.API_ROLES:
        described += f"; api key: {'set' if member.api_key_hash else 'none'}"
    return described
