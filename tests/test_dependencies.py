"""Dependencies: bounded both ways, floors above published advisories, a lock with hashes.

The advisories are the README's table (section "Dependencies"): one row per advisory with the
release that fixed it, or "none known" for a package without any. The lock files are what
`make` installs, with `pip install --require-hashes`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = [Requirement(line) for line in PROJECT["dependencies"]]
DEV = [Requirement(line) for line in PROJECT["optional-dependencies"]["dev"]]
LOCKS = ("requirements.lock", "requirements-divisions.lock")
NONE_KNOWN = "none known"


def advisories() -> dict[str, list[tuple[str, Version | None]]]:
    """The README's table: package -> [(advisory, fixed in or None)]."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Dependencies\n", 1)[1].split("\n## ", 1)[0]
    table: dict[str, list[tuple[str, Version | None]]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or len(cells) != 3 or cells[0] in ("package", "---"):
            continue
        package, advisory, fixed = cells
        version = None if advisory == NONE_KNOWN else Version(fixed)
        table.setdefault(canonicalize_name(package), []).append((advisory, version))
    return table


def floor(requirement: Requirement) -> Version:
    (lowest,) = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    return lowest


def pins(lock: str) -> Iterator[tuple[str, str, list[str]]]:
    """(name, version, hashes) of each requirement of a lock file."""
    text = (ROOT / lock).read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0].strip() for line in text.replace("\\\n", " ").splitlines()]
    for line in filter(None, lines):
        requirement, *options = line.split()
        name, _, version = requirement.partition("==")
        hashes = [o.removeprefix("--hash=") for o in options if o.startswith("--hash=sha256:")]
        assert len(hashes) == len(options), f"{lock}: unexpected options in {line!r}"
        yield canonicalize_name(name), version, hashes


@pytest.mark.parametrize("requirement", RUNTIME + DEV, ids=str)
def test_every_dependency_is_bounded_both_ways(requirement: Requirement) -> None:
    operators = {spec.operator for spec in requirement.specifier}
    assert ">=" in operators
    assert "<" in operators


@pytest.mark.parametrize("requirement", RUNTIME, ids=lambda r: r.name)
def test_floors_are_above_every_published_advisory(requirement: Requirement) -> None:
    table = advisories()
    rows = table.get(canonicalize_name(requirement.name))
    assert rows, f"{requirement.name} is missing from the README's table of advisories"
    for advisory, fixed in rows:
        if fixed is not None:
            assert floor(requirement) >= fixed, f"{requirement} allows {advisory}"
    assert set(table) <= {canonicalize_name(r.name) for r in RUNTIME}, "a stale row"


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_pins_every_package_with_hashes(lock: str) -> None:
    locked = list(pins(lock))
    assert locked
    for name, version, hashes in locked:
        assert re.fullmatch(r"[0-9][0-9a-z.+!-]*", version), f"{name} is not pinned with =="
        assert hashes, f"{name} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name
    names = [name for name, _, _ in locked]
    assert len(names) == len(set(names))


def test_the_lock_satisfies_the_project() -> None:
    locked = {name: Version(version) for name, version, _ in pins("requirements.lock")}
    for requirement in RUNTIME + DEV:
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in the lock"
        assert requirement.specifier.contains(locked[name]), f"{name}=={locked[name]}"
    divisions = [name for name, _, _ in pins("requirements-divisions.lock")]
    assert divisions == ["vietnam-provinces"]


def test_make_installs_from_the_locks() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for variable, lock in zip(("LOCK", "DIVISIONS_LOCK"), LOCKS, strict=True):
        assert f"{variable} := {lock}\n" in makefile
        assert re.search(rf"pip install -q --require-hashes .*-r \$\({variable}\)\n", makefile)
    assert "pip install -q --no-deps --no-build-isolation -e ." in makefile
