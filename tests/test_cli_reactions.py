"""`run_bot.py reactions`: reports of reactions after vaccination, per site and product."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from bot.i18n import TIMEZONE
from run_bot import main
from storage.db import Database
from storage.models import Account, Reaction
from tests.clock import Clock

SITES = (
    "site_id,name,address,province_code,ward_code,phone\n"
    "hcm-benthanh,Trạm Y tế phường Bến Thành,186 Lê Thánh Tôn,79,26743,028 3829 1234\n"
)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv), clock=Clock())
    return code, capsys.readouterr().out.splitlines()


def _add_reports(db_url: str) -> None:
    async def add() -> None:
        db = Database(db_url)
        try:
            async with db.session_scope() as session:
                account = Account(channel="web", chat_id="c1", locale="vi")
                session.add(account)
                await session.flush()
                for day, site, product, severity in (
                    (1, "hcm-benthanh", "pfizer", "severe"),
                    (5, "hcm-benthanh", "pfizer", "mild"),
                    (5, None, None, "moderate"),
                ):
                    session.add(
                        Reaction(
                            account_id=account.id, site_id=site, product=product,
                            symptoms=["fever"], started="today", severity=severity,
                            reported_at=datetime(2026, 12, day, 10, tzinfo=TIMEZONE),
                        )
                    )  # fmt: skip
        finally:
            await db.dispose()

    asyncio.run(add())


def test_reactions_report_per_site_and_product(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sites = tmp_path / "sites.csv"
    sites.write_text(SITES, encoding="utf-8")
    assert _run(capsys, "import-sites", str(sites))[0] == 0
    _add_reports(env)
    code, lines = _run(capsys, "reactions")
    assert code == 0
    assert lines[0].split() == ["site", "product", "reports", "severe"]
    assert lines[1].split() == ["hcm-benthanh", "pfizer", "2", "1"]
    assert lines[2].split() == ["(no", "dose", "named)", "-", "1", "0"]
    assert lines[-1].split() == ["total", "3", "1"]
    code, lines = _run(capsys, "reactions", "--since", "2026-12-03")
    assert [line.split()[-3:] for line in lines[1:]] == [
        ["-", "1", "0"],  # ties: the reports without a dose first
        ["pfizer", "1", "0"],
        ["total", "2", "0"],
    ]
