"""The operator commands' arguments: declared on the main parser, checked before the database."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from bot.cli import broadcast_commands, children_commands, correction_commands
from bot.domain.campaign_waves import CampaignError, parse_dose_status
from bot.domain.certificate_issuing import MAX_REASON
from storage import staff

IMPORTS = ("import-sites", "import-slots", "import-vaccinations", "import-results")


# the commands `run` does
COMMANDS = (
    *IMPORTS,
    "staff",
    "verify",
    "certificate",
    "campaign",
    "broadcast",
    "reactions",
    "children",
    "corrections",
)


PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


CHANNELS = ("telegram", "web")


CLI_ACTOR = "cli"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare the import and staff commands on the main parser's subcommands."""
    imports = {
        "import-sites": (
            "add or update vaccination sites from a CSV file",
            "site_id,name,address,province_code,ward_code[,active][,phone]",
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

    reactions = commands.add_parser(
        "reactions",
        help="reactions reported after vaccination and check-in answers, per site and product",
    )
    reactions.add_argument(
        "--since", type=_iso_day, metavar="YYYY-MM-DD", help="reported on or after this day"
    )

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
    broadcast_commands.add_commands(commands)
    children_commands.add_commands(commands)
    correction_commands.add_commands(commands)


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
        "--children-vaccine",
        metavar="CODE",
        help="invite children (their parents) for this vaccine of the children's schedule, "
        "e.g. measles; with --dose-status none|due and --max-age under 16",
    )
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
    if reason is not None and not 1 <= len(reason.strip()) <= MAX_REASON:
        return f"error: --reason must be 1 to {MAX_REASON} characters"
    shown: str | None = getattr(args, "certificate", None)
    if shown is not None and _is_missing_picture(shown):
        return f"error: no such file: {shown}"
    return None


def _is_missing_picture(argument: str) -> bool:
    """Whether a `verify` argument names a picture file that is not there (a mistyped path)."""
    return Path(argument).suffix.lower() in PICTURE_SUFFIXES and not is_file(argument)


def is_file(argument: str) -> bool:
    """Whether an argument names a file (a certificate's text is no path)."""
    try:
        return Path(argument).is_file()
    except (OSError, ValueError):  # an HC1 text is no path: too long, or odd characters
        return False
