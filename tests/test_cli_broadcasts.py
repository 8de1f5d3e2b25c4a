"""`run_bot.py broadcast ...`: create, list, report and cancel from the console, audited."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from sqlalchemy import select

from run_bot import main
from storage.db import Database
from storage.models import AuditEvent, Job
from tests.audiences import add_citizens
from tests.clock import Clock

BT = 26743
T = TypeVar("T")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv), clock=Clock())
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).splitlines()


def _db(db_url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        db = Database(db_url)
        try:
            await db.migrate()
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_create_list_report_cancel(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    _db(env, lambda db: add_citizens(db, [40_001, 40_002, 40_003], ward=BT))
    code, out = _run(
        capsys, "broadcast", "create", "--ward", str(BT), "--text", "Họp dân", "--at", "mai 9:00"
    )
    assert code == 0
    assert out[0].startswith("created broadcast 1 to Phường Bến Thành; sending ")
    assert out[1] == "recipients now: 3 (consenting, reachable, announcements on)"
    assert _run(capsys, "broadcast", "list")[1][0].startswith(
        "Announcement #1 to Phường Bến Thành: "
    )
    code, report = _run(capsys, "broadcast", "report", "1")
    assert code == 0 and report[1:4] == ["Recipients: 0", "Sent: 0", "Failed: 0"]
    assert _run(capsys, "broadcast", "cancel", "1") == (
        0,
        ["cancelled broadcast 1: 0 messages withdrawn"],
    )
    assert _run(capsys, "broadcast", "cancel", "1") == (
        1,
        ["broadcast 1 has already ended (cancelled)"],
    )
    assert _run(capsys, "broadcast", "report", "9") == (1, ["no broadcast 9"])

    async def trail(db: Database) -> tuple[list[tuple[str, str]], list[str]]:
        async with db.read_scope() as session:
            audit = (await session.execute(select(AuditEvent.actor, AuditEvent.action))).all()
            jobs = (await session.scalars(select(Job.status))).all()
        return [tuple(row) for row in audit], list(jobs)

    audit, jobs = _db(env, trail)
    assert audit == [("cli", "broadcast_sent"), ("cli", "broadcast_cancelled")]
    assert jobs == ["cancelled"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--ward", "99999"), "error: the area holds a code that is no current ward or province"),
        (("--ward", str(BT), "--at", "someday"), "error: --at 'someday' is no time"),
        (("--ward", str(BT), "--at", "1/1/2020 8:00"), "error: --at '1/1/2020 8:00' has passed"),
        (("--province", "79", "--text", "x" * 1001), "error: the text must be 1 to 1000"),
    ],
)
def test_create_refuses(
    env: str, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], error: str
) -> None:
    argv = ["broadcast", "create", *args]
    if "--text" not in args:
        argv += ["--text", "Họp dân"]
    code, out = _run(capsys, *argv)
    assert code == 2 and out[-1].startswith(error)
