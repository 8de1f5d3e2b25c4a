"""Per-staff API keys: `staff add --role sampler|lab` prints a key once; only its hash is kept."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from run_bot import main
from storage import staff
from storage.db import Database
from storage.models import AuditEvent, StaffMember
from tests.clock import START, Clock

SITES = (
    "site_id,name,address,province_code,ward_code\n"
    "hcm-benthanh,Trạm Y tế phường Bến Thành,186 Lê Thánh Tôn,79,26743\n"
)
SAMPLER = ("staff", "add", "--channel", "web", "--user-id", "scanner-1", "--role", "sampler")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv), clock=Clock())
    return code, capsys.readouterr().out.splitlines()


def _key_of(lines: list[str]) -> str:
    """The key a `staff add` printed, checking it was printed once with its warning."""
    keys = [line.removeprefix("api key: ") for line in lines if line.startswith("api key: ")]
    assert len(keys) == 1, lines
    assert any("shown only once" in line for line in lines), lines
    return keys[0]


def _lookup(db_url: str, key: str) -> tuple[str, str, str | None] | None:
    """Who `key` authenticates as: (user id, role, stored hash), or None."""

    async def find() -> tuple[str, str, str | None] | None:
        db = Database(db_url)
        try:
            async with db.read_scope() as session:
                member = await staff.staff_by_api_key(session, key)
        finally:
            await db.dispose()
        return (member.user_id, member.role, member.api_key_hash) if member else None

    return asyncio.run(find())


def _rows(db_url: str) -> tuple[dict[tuple[str, str], str | None], list[tuple[str, dict]]]:
    """The stored key hashes by (user id, role), and the audit lines (action, detail)."""

    async def read() -> tuple[dict, list]:
        db = Database(db_url)
        try:
            async with db.read_scope() as session:
                members = (await session.scalars(select(StaffMember))).all()
                trail = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
        finally:
            await db.dispose()
        return (
            {(m.user_id, m.role): m.api_key_hash for m in members},
            [(a.action, a.detail) for a in trail],
        )

    return asyncio.run(read())


def test_a_sampler_gets_a_key_shown_once_and_only_its_hash_is_stored(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _run(capsys, *SAMPLER, "--name", "Máy quét 1")
    assert code == 0
    assert lines[0] == "added: web:scanner-1 Máy quét 1 (sampler) wards: -; sites: -; api key: set"
    key = _key_of(lines)
    assert len(key) >= 40 and key.isascii()
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert _lookup(env, key) == ("scanner-1", "sampler", digest)
    hashes, trail = _rows(env)
    assert hashes == {("scanner-1", "sampler"): digest}
    assert trail == [
        ("staff_added", {"role": "sampler", "wards": [], "sites": [], "api_key": "issued"})
    ]
    assert key not in str(trail)
    # Near misses are nobody.
    for wrong in (key[:-1], key + "x", key.upper(), "", digest, "x" * 500):
        assert _lookup(env, wrong) is None


def test_adding_again_rotates_the_key_unless_kept(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _key_of(_run(capsys, *SAMPLER)[1])
    sites = tmp_path / "sites.csv"
    sites.write_text(SITES, encoding="utf-8")
    assert _run(capsys, "import-sites", str(sites))[0] == 0

    code, lines = _run(capsys, *SAMPLER, "--site", "hcm-benthanh")
    assert code == 0
    assert (
        lines[0] == "updated: web:scanner-1 (sampler) wards: -; sites: hcm-benthanh; api key: set"
    )
    second = _key_of(lines)
    assert second != first
    assert _lookup(env, first) is None
    assert _lookup(env, second) is not None

    # --keep-key: the scope changes, the key stays, nothing is printed about it.
    code, lines = _run(capsys, *SAMPLER, "--name", "Quầy 2", "--keep-key")
    assert (code, lines) == (
        0,
        ["updated: web:scanner-1 Quầy 2 (sampler) wards: -; sites: -; api key: set"],
    )
    assert _lookup(env, second) is not None

    _hashes, trail = _rows(env)
    assert [(action, detail.get("api_key")) for action, detail in trail] == [
        ("staff_added", "issued"),
        ("staff_updated", "rotated"),
        ("staff_updated", None),
    ]


def test_lab_gets_a_key_and_other_roles_none(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sites = tmp_path / "sites.csv"
    sites.write_text(SITES, encoding="utf-8")
    assert _run(capsys, "import-sites", str(sites))[0] == 0
    lab = ("staff", "add", "--channel", "web", "--user-id", "lab-cr", "--role", "lab")
    bound = ("--lab", "Bệnh viện  Chợ Rẫy ", "--site", "hcm-benthanh")
    lab_key = _key_of(_run(capsys, *lab, "--name", "Chợ Rẫy", *bound)[1])
    found = _lookup(env, lab_key)
    assert found is not None and found[:2] == ("lab-cr", "lab")

    other = ("staff", "add", "--channel", "telegram", "--user-id", "1001")
    for role in ("admin", "ward_staff", "support"):
        code, lines = _run(capsys, *other, "--role", role)
        assert code == 0 and len(lines) == 1 and "api key" not in lines[0], lines

    hashes, trail = _rows(env)
    assert {who for who, digest in hashes.items() if digest} == {("lab-cr", "lab")}
    assert trail[0] == (
        "staff_added",
        {
            "role": "lab",
            "wards": [],
            "sites": ["hcm-benthanh"],
            "lab": "Bệnh viện Chợ Rẫy",
            "api_key": "issued",
        },
    )
    assert _run(capsys, "staff", "list")[1] == [
        "telegram:1001 (admin) wards: -; sites: -",
        "telegram:1001 (support) wards: -; sites: -",
        "telegram:1001 (ward_staff) wards: -; sites: -",
        "web:lab-cr Chợ Rẫy (lab) wards: -; sites: hcm-benthanh; lab: Bệnh viện Chợ Rẫy; "
        "api key: set",
    ]


def test_a_lab_needs_its_lab_and_sites(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sites = tmp_path / "sites.csv"
    sites.write_text(SITES, encoding="utf-8")
    assert _run(capsys, "import-sites", str(sites))[0] == 0
    lab = ("staff", "add", "--channel", "web", "--user-id", "lab-1", "--role", "lab")
    refused = [
        ((*lab, "--site", "hcm-benthanh"), 'a lab role needs --lab "<the lab\'s name>"'),
        ((*lab, "--lab", "Viện Pasteur TP.HCM"), "a lab role needs at least one --site"),
        ((*lab, "--lab", " ", "--site", "hcm-benthanh"), "--lab must be 1 to 120 printable"),
        ((*lab, "--lab", "\x1b[31mPasteur", "--site", "hcm-benthanh"), "--lab must be 1 to 120"),
        ((*SAMPLER, "--lab", "Viện Pasteur TP.HCM"), "--lab is for the lab role only"),
    ]
    for argv, error in refused:
        assert main(list(argv)) == 2, argv
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.startswith(f"error: {error}"), argv
    hashes, trail = _rows(env)
    assert hashes == {} and trail == []


def test_a_kept_key_is_issued_when_there_was_none(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _key_of(_run(capsys, *SAMPLER, "--keep-key")[1])
    assert _lookup(env, key) is not None


async def test_only_api_roles_take_a_key(database: Database) -> None:
    async with database.session_scope() as session:
        member = await staff.add_staff(
            session,
            channel="web",
            user_id="w1",
            role="support",
            name=None,
            wards=[],
            sites=[],
            now=START,
        )
        with pytest.raises(ValueError, match="takes no API key"):
            await staff.issue_api_key(session, member)
        assert member.api_key_hash is None
