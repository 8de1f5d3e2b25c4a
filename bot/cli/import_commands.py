"""`import-*`: CSV files of sites, slots, doses given and lab results, with a line per problem."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.imports import (
    ImportReport,
    import_results,
    import_sites,
    import_slots,
    import_vaccinations,
)

if TYPE_CHECKING:
    from bot.app import Service


async def run_import(command: str, file: Path, service: Service) -> int:
    """Run an `import-*` command on a CSV file; the exit code."""
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
