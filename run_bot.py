"""Command line: `serve` (default), `migrate`, `seed-demo` and the operator commands.

The operator commands (`import-*`, `staff`, `keys`, `verify`, `certificate`, `campaign`) live
in `bot/cli/`; run with --help.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot import cli
from bot.app import build_service, migrate, serve
from bot.clock import Clock, wall_clock
from bot.config import ConfigError, Settings
from bot.crypto import generate_key
from bot.demo import seed_demo
from bot.logs import configure_logging
from storage.process_lock import DatabaseInUse, hold_database


def main(argv: list[str] | None = None, *, clock: Clock = wall_clock) -> int:
    """Parse the command line, read the settings and run the chosen command.

    `clock` is the service's time (tests pass theirs).
    """
    parser = argparse.ArgumentParser(
        prog="run_bot.py", description="Citizen health chatbot service (Telegram, web chat)."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="run the whole service (the default)")
    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser("seed-demo", help="add the demo data (safe to run twice)")
    cli.add_commands(commands)
    args = parser.parse_args(argv)
    args.command = args.command or "serve"
    if args.command == "keys" and args.keys_command != "init":  # needs no settings
        print(generate_key())
        return 0
    if refused := cli.check(args):
        print(refused, file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        if args.command == "keys":  # needs no database
            return cli.init_signer(settings, now=clock())
        if args.command in ("serve", "migrate"):  # one at a time on a SQLite file: see the lock
            hold_database(settings.database_url)
        return asyncio.run(_run(args, settings, clock))
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    except DatabaseInUse as error:
        print(f"start-up error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # e.g. the folder of the SQLite file cannot be created
        where = f" ({error.filename})" if error.filename else ""
        print(f"start-up error: {error.strerror or error}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _run(args: argparse.Namespace, settings: Settings, clock: Clock) -> int:
    command = args.command
    if command == "serve":
        await serve(settings, clock=clock)
        return 0
    service = build_service(settings, clock=clock)
    try:
        await migrate(service.db)
        if command in cli.COMMANDS:
            return await cli.run(args, service)
        if command == "seed-demo":
            async with service.db.session_scope() as session:
                created = await seed_demo(session, service.protector, now=clock())
            print("demo data seeded" if created else "demo data already present")
        else:
            print("database schema is up to date")
    finally:
        await service.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
