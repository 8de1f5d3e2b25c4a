"""`run_bot.py staff ...`: grant, list and remove roles from the command line, audited."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from run_bot import main
from storage.db import Database
from storage.models import AuditEvent, StaffMember
from tests.clock import Clock

SITES = (
    "site_id,name,address,province_code,ward_code\n"
    "hcm-benthanh,Trạm Y tế phường Bến Thành,186 Lê Thánh Tôn,79,26743\n"
)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    """Run the command line; its exit code and the lines it printed."""
    code = main(list(argv), clock=Clock())
    return code, capsys.readouterr().out.splitlines()


def _read(db_url: str) -> tuple[list[tuple[str, str, str, list[int], list[str]]], list[tuple]]:
    """The staff rows and the audit lines, as plain tuples."""

    async def read() -> tuple[list, list]:
        db = Database(db_url)
        try:
            async with db.read_scope() as session:
                members = (await session.scalars(select(StaffMember))).all()
                trail = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
        finally:
            await db.dispose()
        return (
            [(m.channel, m.user_id, m.role, m.wards, m.sites) for m in members],
            [(a.actor, a.action, a.subject, a.detail) for a in trail],
        )

    return asyncio.run(read())


def test_staff_add_list_remove_with_audit(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add = ("staff", "add", "--channel", "telegram", "--user-id", "1001")
    assert _run(capsys, *add, "--role", "ward_staff", "--name", "Chị Lan", "--ward", "26743") == (
        0,
        ["added: telegram:1001 Chị Lan (ward_staff) wards: 26743; sites: -"],
    )
    assert _run(
        capsys, *add, "--role", "ward_staff", "--name", "Chị Lan", "--ward", "26743", "26740"
    ) == (0, ["updated: telegram:1001 Chị Lan (ward_staff) wards: 26743, 26740; sites: -"])

    sites = tmp_path / "sites.csv"
    sites.write_text(SITES, encoding="utf-8")
    assert _run(capsys, "import-sites", str(sites)) == (
        0,
        ["added 1, updated 0, unchanged 0, problems 0"],
    )
    web_add = ("staff", "add", "--channel", "web", "--user-id", "w-7")
    assert _run(capsys, *web_add, "--role", "site_staff", "--site", "hcm-benthanh") == (
        0,
        ["added: web:w-7 (site_staff) wards: -; sites: hcm-benthanh"],
    )
    assert _run(capsys, *add, "--role", "support") == (
        0,
        ["added: telegram:1001 (support) wards: -; sites: -"],
    )

    assert _run(capsys, "staff", "list") == (
        0,
        [
            "telegram:1001 (support) wards: -; sites: -",
            "telegram:1001 Chị Lan (ward_staff) wards: 26743, 26740; sites: -",
            "web:w-7 (site_staff) wards: -; sites: hcm-benthanh",
        ],
    )

    remove = ("staff", "remove", "--channel", "telegram", "--user-id", "1001")
    assert _run(capsys, *remove, "--role", "ward_staff") == (
        0,
        ["removed 1 role of telegram:1001"],
    )
    assert _run(capsys, *remove, "--role", "ward_staff") == (
        1,
        ["telegram:1001 holds no role ward_staff"],
    )
    assert _run(capsys, *remove) == (0, ["removed 1 role of telegram:1001"])
    assert _run(capsys, *remove) == (1, ["telegram:1001 holds no staff role"])

    members, trail = _read(env)
    assert members == [("web", "w-7", "site_staff", [], ["hcm-benthanh"])]
    assert trail == [
        (
            "cli",
            "staff_added",
            "staff:telegram:1001",
            {"role": "ward_staff", "wards": [26743], "sites": []},
        ),
        (
            "cli",
            "staff_updated",
            "staff:telegram:1001",
            {"role": "ward_staff", "wards": [26743, 26740], "sites": []},
        ),
        (
            "cli",
            "staff_added",
            "staff:web:w-7",
            {"role": "site_staff", "wards": [], "sites": ["hcm-benthanh"]},
        ),
        (
            "cli",
            "staff_added",
            "staff:telegram:1001",
            {"role": "support", "wards": [], "sites": []},
        ),
        ("cli", "staff_removed", "staff:telegram:1001", {"role": "ward_staff", "removed": 1}),
        ("cli", "staff_removed", "staff:telegram:1001", {"role": "all", "removed": 1}),
    ]


def test_staff_list_when_there_is_none(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "staff", "list") == (0, ["no staff roles"])


@pytest.mark.parametrize(
    ("scope", "error"),
    [
        (("--ward", "99999"), "error: ward 99999 is no current ward (codes since 1 July 2025)"),
        (("--site", "nowhere"), "error: no site with site_id 'nowhere' (import-sites first)"),
    ],
    ids=["unknown-ward", "unknown-site"],
)
def test_staff_add_refuses_an_unknown_scope(
    env: str, capsys: pytest.CaptureFixture[str], scope: tuple[str, ...], error: str
) -> None:
    argv = ("staff", "add", "--channel", "web", "--user-id", "u1", "--role", "ward_staff")
    assert main([*argv, *scope], clock=Clock()) == 2
    assert capsys.readouterr().err == error + "\n"
    assert _read(env) == ([], [])


@pytest.mark.parametrize(
    "argv",
    [
        ("--channel", "web", "--user-id", "u1", "--role", "boss"),
        ("--channel", "zalo", "--user-id", "u1", "--role", "admin"),
        ("--channel", "web", "--role", "admin"),
    ],
    ids=["unknown-role", "unknown-channel", "no-user-id"],
)
def test_staff_add_refuses_bad_arguments(
    env: str, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["staff", "add", *argv], clock=Clock())
    assert stop.value.code == 2
    assert "usage: run_bot.py staff add" in capsys.readouterr().err


def test_staff_add_refuses_an_empty_user_id(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["staff", "add", "--channel", "web", "--user-id", "", "--role", "admin"], clock=Clock()
        )
        == 2
    )
    assert capsys.readouterr().err == "error: --user-id must be 1 to 64 characters\n"


def test_import_command_reports_problems_by_line(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sites = tmp_path / "sites.csv"
    sites.write_text(SITES + "bad id,Trạm,1 Lê Lợi,79,26743\n", encoding="utf-8")
    assert _run(capsys, "import-sites", str(sites)) == (
        1,
        [
            "added 1, updated 0, unchanged 0, problems 1",
            "line 3: site_id must be 1 to 32 letters, digits, '_' or '-'",
        ],
    )
    assert _run(capsys, "import-sites", str(sites))[1][0] == (
        "added 0, updated 0, unchanged 1, problems 1"
    )


def test_import_vaccinations_command_never_prints_the_id_number(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doses = tmp_path / "doses.csv"
    doses.write_text(
        "id_number,dose_number,product,lot,given_on,site_id\n079190012345,1,pfizer,F1,2024-05-02,\n",
        encoding="utf-8",
    )
    code, lines = _run(capsys, "import-vaccinations", str(doses))
    assert (code, lines) == (
        1,
        [
            "added 0, updated 0, unchanged 0, problems 1",
            "line 2: no registered person with this ID number (0791******45)",
        ],
    )


def test_import_command_refuses_a_missing_file(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.csv"
    for command in ("import-sites", "import-slots", "import-vaccinations"):
        assert main([command, str(missing)], clock=Clock()) == 2
        captured = capsys.readouterr()
        assert captured.err == f"error: no such file: {missing}\n"
        assert captured.out == ""


def test_site_staff_needs_a_site(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["staff", "add", "--channel", "telegram", "--user-id", "7", "--role", "site_staff"]
    assert main(argv, clock=Clock()) == 2
    assert "--site" in capsys.readouterr().err
    assert _read(env) == ([], [])
