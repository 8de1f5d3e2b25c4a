"""Operator commands of `run_bot.py`: imports, staff, keys, certificates, campaigns, broadcasts.

`add_commands` declares them, `check` refuses what needs no database (a missing file, exit
code 2), `init_signer` makes the certificate signer (no database), `run` does the rest in one
transaction. Exit codes: 0 done (a valid certificate), 1 done with problems (an invalid
certificate, nothing to remove or revoke), 2 refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot import cli_broadcasts, cli_children
from bot.config import DEFAULT_DCC_ISSUER, Settings
from bot.console.passwords import login_problem, password_link
from bot.i18n import TIMEZONE, local_day
from bot.vn import divisions
from storage import staff
from storage.models import Campaign, Site, StaffMember

if TYPE_CHECKING:
    from bot.app import Service
    from bot.imports import ImportReport

IMPORTS = ("import-sites", "import-slots", "import-vaccinations", "import-results")
# the commands `run` does
COMMANDS = (*IMPORTS, "staff", "verify", "certificate", "campaign", "broadcast", "children")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
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
            "tube_code,result,tested_at,lab[,correction_reason] (result: negative, positive, "
            "inconclusive or âm tính, dương tính, không xác định; tested_at in Vietnam local "
            "time; a negative or positive result changes only with a correction_reason)",
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
        help="site(s) of the scope (repeatable); for a lab, the sites whose tubes it results",
    )
    add.add_argument(
        "--lab",
        metavar="NAME",
        help='lab role only (required): the lab citizens are told, e.g. "Viện Pasteur TP.HCM"',
    )
    add.add_argument(
        "--web",
        action="store_true",
        help="also a staff console account: prints a one-time set-password link",
    )
    add.add_argument("--login", help="console sign-in name with --web (default: the user id)")
    add.add_argument(
        "--keep-key",
        action="store_true",
        help="sampler or lab already granted: change name or scope, keep the API key",
    )
    actions.add_parser("list", help="every staff role with its scope")
    remove = actions.add_parser("remove", help="take away one role, or all of a user's roles")
    _who(remove)
    remove.add_argument("--role", choices=staff.ROLES, help="only this role (default: all)")
    _add_certificate_commands(commands)
    _add_campaign_commands(commands)
    cli_broadcasts.add_commands(commands)
    cli_children.add_commands(commands)


def _add_certificate_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    keys = commands.add_parser(
        "keys",
        help="make the certificate signer, or print a new DATA_KEY",
        description="Without an action, prints a new DATA_KEY (as `keys data-key`).",
    )
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    actions.add_parser(
        "init", help="create the certificate signing key and certificate (never overwritten)"
    )
    actions.add_parser("data-key", help="print a new random DATA_KEY")
    verify = commands.add_parser(
        "verify", help="check a certificate: its HC1: text, or a picture of its QR code"
    )
    verify.add_argument(
        "certificate", metavar="TEXT_OR_PICTURE", help="HC1:... or a PNG, JPEG or WebP file"
    )
    certificate = commands.add_parser("certificate", help="revoke a signed certificate")
    actions = certificate.add_subparsers(
        dest="certificate_command", metavar="ACTION", required=True
    )
    revoke = actions.add_parser(
        "revoke", help="revoke a certificate by its UVCI: verifiers report it revoked from now on"
    )
    revoke.add_argument("uvci", metavar="UVCI", help="URN:UVCI:01:VN:...#C, as printed")
    revoke.add_argument("--reason", required=True, help="why (1 to 200 characters; audited)")


def _add_campaign_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    campaign = commands.add_parser("campaign", help="invitation campaigns: create, list, report")
    actions = campaign.add_subparsers(dest="campaign_command", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="invite people in waves, at most --daily-cap a day (first wave now or at 09:00)",
    )
    create.add_argument("--name", required=True, help="1 to 80 characters")
    create.add_argument(
        "--ward",
        dest="wards",
        type=int,
        action="append",
        required=True,
        metavar="CODE",
        help="a current ward code (repeatable)",
    )
    create.add_argument(
        "--group",
        dest="groups",
        action="append",
        default=[],
        metavar="G",
        help="a priority group code or number (repeatable; default: every group)",
    )
    create.add_argument("--min-age", type=int, default=0, metavar="N")
    create.add_argument("--max-age", type=int, metavar="N")
    create.add_argument(
        "--dose-status",
        required=True,
        type=_dose_status,
        metavar="none|due|dose1-older-than-weeks:N",
        help="no dose yet; next dose due; exactly one dose, given at least N weeks ago",
    )
    create.add_argument(
        "--text-vi", required=True, metavar="TEXT", help="the invitation in Vietnamese"
    )
    create.add_argument(
        "--text-en", metavar="TEXT", help="the same in English (default: the Vietnamese one)"
    )
    create.add_argument("--daily-cap", type=int, required=True, metavar="N")
    create.add_argument(
        "--start", type=_iso_day, metavar="YYYY-MM-DD", help="first day (default: today)"
    )
    actions.add_parser("list", help="every campaign, newest first")
    report = actions.add_parser(
        "report", help="per ward: invited, booked, declined, no answer, unreachable"
    )
    report.add_argument("id", type=int, metavar="ID")
    cancel = actions.add_parser(
        "cancel", help="stop a campaign for good (sent buttons still work)"
    )
    cancel.add_argument("id", type=int, metavar="ID")


def _dose_status(value: str) -> str:
    from bot.services.campaigns import CampaignError, parse_dose_status

    try:
        return parse_dose_status(value)
    except CampaignError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _iso_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("a day as YYYY-MM-DD") from None


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
    reason: str | None = getattr(args, "reason", None)
    if reason is not None:
        from bot.services.certificates import MAX_REASON

        if not 1 <= len(reason.strip()) <= MAX_REASON:
            return f"error: --reason must be 1 to {MAX_REASON} characters"
    shown: str | None = getattr(args, "certificate", None)
    if shown is not None and _is_missing_picture(shown):
        return f"error: no such file: {shown}"
    return None


def _is_missing_picture(argument: str) -> bool:
    """Whether a `verify` argument names a picture file that is not there (a mistyped path)."""
    return Path(argument).suffix.lower() in PICTURE_SUFFIXES and not _is_file(argument)


def _is_file(argument: str) -> bool:
    try:
        return Path(argument).is_file()
    except (OSError, ValueError):  # an HC1 text is no path: too long, or odd characters
        return False


def init_signer(settings: Settings, *, now: datetime) -> int:
    """`keys init`: create the certificate signer and say where it is; the exit code."""
    from bot.services.dcc.cose import kid_of
    from bot.services.dcc.keys import load_signer
    from bot.services.dcc.trust import init_keys

    try:
        files = init_keys(settings, now=now)
    except FileExistsError as error:
        print(
            f"error: a certificate signing key already exists at {error.args[0]}; it is never "
            "overwritten (the certificates it signed would stop verifying)",
            file=sys.stderr,
        )
        return 2
    signer = load_signer(files.key, files.cert)
    print(f"signing key: {files.key} (owner-only, 0600: keep it secret and backed up)")
    print(f"signer certificate: {files.cert}")
    print(f"local CA certificate: {files.csca_cert} (what verifiers elsewhere must trust)")
    print(f"kid: {kid_of(signer.cert).hex()}")
    print(f"issuer: {settings.dcc_issuer} ({settings.dcc_country})")
    if settings.dcc_issuer == DEFAULT_DCC_ISSUER:
        print(
            "This is the default TEST issuer: certificates signed with this key are test "
            "certificates. For real ones, set DCC_ISSUER (and DCC_COUNTRY), move these files "
            "away and run keys init again."
        )
    return 0


async def run(args: argparse.Namespace, service: Service) -> int:
    """Run an import, staff, certificate, campaign or broadcast command; the exit code."""
    if args.command in IMPORTS:
        return await _import(args.command, args.file, service)
    if args.command == "verify":
        return await _verify(args.certificate, service)
    if args.command == "certificate":
        return await _revoke(args.uvci, args.reason, service)
    if args.command == "campaign":
        return await _campaign(args, service)
    if args.command == "broadcast":
        return await cli_broadcasts.run(args, service)
    if args.command == "children":
        return await cli_children.run(args, service)
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
            report = await import_results(
                session, data, now=service.clock(), checkpoint=session.commit
            )
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
                now=service.clock(),
            )
    return _print_report(report)


def _print_report(report: ImportReport) -> int:
    print(report.summary())
    for line, reason in report.problems:
        print(f"line {line}: {reason}")
    return 1 if report.problems else 0


async def _staff_add(args: argparse.Namespace, service: Service) -> int:
    if args.role in ("site_staff", "lab") and not args.sites:
        print(f"error: a {args.role} role needs at least one --site", file=sys.stderr)
        return 2
    lab = " ".join(args.lab.split()) if args.lab is not None else None
    problem = _lab_problem(args.role, lab)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
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
        login = (args.login or args.user_id).strip().lower()
        refused = await login_problem(session, args.channel, args.user_id, login)
        if args.web and refused is not None:
            print(f"error: {refused}", file=sys.stderr)
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
            lab=lab,
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
        if args.web:
            link = await password_link(
                session,
                service.settings,
                channel=member.channel,
                user_id=member.user_id,
                login=login,
                now=service.clock(),
            )
    if args.web:  # printed once committed, so it is the link that works
        print(f"console set-password link (works once): {link}")
    if key is not None:  # printed once the key is committed, so it is the one that works
        print(f"api key: {key}")
        print(
            "This key is shown only once: put it in the scanner app or lab system now. "
            "Running staff add again for this role makes a new key and the old one stops "
            "working (--keep-key keeps it)."
        )
    return 0


def _lab_problem(role: str, lab: str | None) -> str | None:
    """Why `--lab` is refused: a lab role needs one (1 to 120 printable characters)."""
    if lab is None:
        return 'a lab role needs --lab "<the lab\'s name>"' if role == "lab" else None
    if role != "lab":
        return "--lab is for the lab role only"
    if not 1 <= len(lab) <= 120 or not lab.isprintable():
        return "--lab must be 1 to 120 printable characters"
    return None


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


async def _verify(argument: str, service: Service) -> int:
    from bot.services.certificates import check, describe_verified
    from bot.services.dcc import DccInvalid

    text = await _certificate_text(argument) if _is_file(argument) else argument
    if text is None:
        return 2
    try:
        async with service.db.read_scope() as session:
            verified = await check(session, service.authority, text, now=service.clock())
    except DccInvalid as invalid:
        detail = f": {invalid.detail}" if invalid.detail else ""
        print(f"invalid: {invalid.reason.value}{detail}", file=sys.stderr)
        return 1
    print(json.dumps(describe_verified(verified), ensure_ascii=False, indent=2))
    return 0


async def _certificate_text(file: str) -> str | None:
    """The certificate's text in a picture of its QR code; None (said why) if there is none."""
    from bot.services.dcc.qr_reader import (
        MAX_PIXELS,
        ImageTooLarge,
        NotAnImage,
        certificate_text,
        read_qr_texts,
    )

    try:
        data = await asyncio.to_thread(Path(file).read_bytes)
        text = certificate_text(await asyncio.to_thread(read_qr_texts, data))
    except OSError as error:
        print(f"error: cannot read {file}: {error.strerror or error}", file=sys.stderr)
        return None
    except ImageTooLarge:
        print(f"error: {file} has more than {MAX_PIXELS:,} pixels", file=sys.stderr)
        return None
    except NotAnImage:
        print(f"error: {file} is not a PNG, JPEG or WebP picture", file=sys.stderr)
        return None
    if text is None:
        print(f"error: no QR code found in {file}", file=sys.stderr)
    return text


async def _revoke(uvci: str, reason: str, service: Service) -> int:
    from bot.services.certificates import revoke

    now = service.clock()
    async with service.db.session_scope() as session:
        certificate = await revoke(session, uvci, reason=reason, actor=CLI_ACTOR, now=now)
    if certificate is None:
        print(f"no certificate has the UVCI {uvci.strip()}")
        return 1
    revoked_at = certificate.revoked_at or now
    if revoked_at != now:  # revoked before: the first revocation stands
        print(
            f"already revoked on {_day(revoked_at)}: {certificate.uvci} "
            f"({certificate.revoked_reason})"
        )
        return 1
    kind = "vaccination" if certificate.kind == "v" else "test"
    print(f"revoked: {certificate.uvci} ({kind} certificate issued {_day(certificate.issued_at)})")
    return 0


def _day(moment: datetime) -> str:
    """The day of a moment in Vietnam, as YYYY-MM-DD."""
    return local_day(moment).isoformat()


# ---------------------------------------------------------------- campaigns


async def _campaign(args: argparse.Namespace, service: Service) -> int:
    if args.campaign_command == "create":
        return await _campaign_create(args, service)
    if args.campaign_command == "list":
        return await _campaign_list(service)
    if args.campaign_command == "report":
        return await _campaign_report(args.id, service)
    return await _campaign_cancel(args.id, service)


def group_codes(given: list[str], settings: Settings) -> list[str]:
    """Priority groups by code or by number in the list (unknown ones kept: refused later)."""
    from bot.services.forms import priority_groups

    groups = priority_groups(settings.priority_groups_file)
    return [
        groups[int(g) - 1].code if g.isdigit() and 1 <= int(g) <= len(groups) else g for g in given
    ]


async def _campaign_create(args: argparse.Namespace, service: Service) -> int:
    from bot.services import campaigns

    now = service.clock()
    today = local_day(now)
    if args.start is not None and args.start < today:
        print(f"error: --start {args.start} is in the past", file=sys.stderr)
        return 2
    new = campaigns.NewCampaign(
        name=args.name,
        targeting=campaigns.Targeting(
            wards=tuple(args.wards),
            dose_status=args.dose_status,
            groups=tuple(group_codes(args.groups, service.settings)),
            min_age=args.min_age,
            max_age=args.max_age,
        ),
        text_vi=args.text_vi,
        text_en=args.text_en,
        daily_cap=args.daily_cap,
        starts_on=args.start or today,
    )
    try:
        campaigns.check(new, service.settings)
    except campaigns.CampaignError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    async with service.db.session_scope() as session:
        campaign, first = await campaigns.create_campaign(
            session, new, actor=CLI_ACTOR, now=now, settings=service.settings
        )
        eligible = await campaigns.count_eligible(session, new.targeting, now=now)
    when = "now" if first <= now else first.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M")
    print(f"created campaign {campaign.id}: {campaign.name}")
    print(
        f"eligible now: {eligible}; first wave: {when} (Vietnam time); "
        f"at most {campaign.daily_cap} a day"
    )
    return 0


async def _campaign_list(service: Service) -> int:
    from storage import campaigns as store

    async with service.db.read_scope() as session:
        found = await store.list_campaigns(session)
        invited = await store.invited_counts(session, [c.id for c in found])
    for campaign in found:
        print(
            f"{campaign.id} [{campaign.status}] {campaign.name}: "
            f"wards {', '.join(str(w) for w in campaign.wards)}; "
            f"groups {', '.join(campaign.groups) or 'all'}; ages {_ages(campaign)}; "
            f"dose {campaign.dose_status}; {campaign.daily_cap}/day from "
            f"{campaign.starts_on.isoformat()}; invited {invited.get(campaign.id, 0)}; "
            f"by {campaign.created_by}"
        )
    if not found:
        print("no campaigns")
    return 0


def _ages(campaign: Campaign) -> str:
    if campaign.max_age is not None:
        return f"{campaign.min_age}-{campaign.max_age}"
    return f"{campaign.min_age}+" if campaign.min_age else "any"


REPORT_COLUMNS = ("invited", "booked", "declined", "no answer", "unreachable")


async def _campaign_report(campaign_id: int, service: Service) -> int:
    from bot.services import campaigns
    from storage import campaigns as store

    async with service.db.read_scope() as session:
        campaign = await store.get_campaign(session, campaign_id)
        counts = await campaigns.report(session, campaign_id) if campaign else []
    if campaign is None:
        print(f"no campaign {campaign_id}")
        return 1
    print(f"campaign {campaign.id}: {campaign.name} [{campaign.status}]")
    print(f"{'ward':<36}" + "".join(f"{column:>13}" for column in REPORT_COLUMNS))
    for ward in [*counts, campaigns.total(counts)]:
        try:
            name = f"{ward.ward_code} {divisions.ward(ward.ward_code).name}"
        except KeyError:
            name = "total" if ward.ward_code == 0 else str(ward.ward_code)
        numbers = (ward.invited, ward.booked, ward.declined, ward.no_answer, ward.unreachable)
        print(f"{name[:35]:<36}" + "".join(f"{number:>13}" for number in numbers))
    return 0


async def _campaign_cancel(campaign_id: int, service: Service) -> int:
    from bot.services import campaigns
    from storage import campaigns as store

    async with service.db.session_scope() as session:
        campaign = await store.get_campaign(session, campaign_id)
        cancelled = campaign is not None and await campaigns.cancel(
            session, campaign, actor=CLI_ACTOR, now=service.clock()
        )
    if campaign is None:
        print(f"no campaign {campaign_id}")
        return 1
    if not cancelled:
        print(f"campaign {campaign.id} has already ended ({campaign.status})")
        return 1
    print(f"cancelled campaign {campaign.id}: {campaign.name}")
    return 0
