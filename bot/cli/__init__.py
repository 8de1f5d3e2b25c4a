"""Operator commands of `run_bot.py`: imports, staff, keys, certificates, campaigns, broadcasts.

`add_commands` declares them, `check` refuses what needs no database (a missing file, exit
code 2), `init_signer` makes the certificate signer (no database), `run` does the rest in one
transaction. Exit codes: 0 done (a valid certificate), 1 done with problems (an invalid
certificate, nothing to remove or revoke), 2 refused.

One module per group of commands: arguments (declared and checked), import_commands,
staff_members, signing (keys, verify, certificate), campaign_commands, broadcast_commands,
children_commands (due lists and coverage), correction_commands (dose records), reactions_report.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli import (
    broadcast_commands,
    campaign_commands,
    children_commands,
    correction_commands,
    import_commands,
    reactions_report,
    signing,
    staff_members,
)
from bot.cli.arguments import CLI_ACTOR, COMMANDS, IMPORTS, add_commands, check
from bot.cli.signing import init_signer

if TYPE_CHECKING:
    from bot.app import Service

__all__ = ["COMMANDS", "add_commands", "check", "init_signer", "run"]


async def run(args: argparse.Namespace, service: Service) -> int:
    """Run an import, staff, certificate, campaign or broadcast command; the exit code."""
    if args.command in IMPORTS:
        return await import_commands.run_import(args.command, args.file, service)
    if args.command == "verify":
        return await signing.verify(args.certificate, service)
    if args.command == "certificate":
        return await signing.revoke_certificate(args.uvci, args.reason, service)
    if args.command == "campaign":
        return await campaign_commands.run(args, service)
    if args.command == "broadcast":
        return await broadcast_commands.run(args, service)
    if args.command == "children":
        return await children_commands.run(args, service)
    if args.command == "corrections":
        return await correction_commands.run(args, service, actor=CLI_ACTOR)
    if args.command == "reactions":
        return await reactions_report.run(args.since, service)
    if args.staff_command == "add":
        return await staff_members.add(args, service)
    if args.staff_command == "remove":
        return await staff_members.remove(args, service)
    return await staff_members.listing(service)
