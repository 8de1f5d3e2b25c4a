"""Dependencies: bounded both ways, floors above published advisories, a lock with hashes.

What is declared, locked and advised is read by tests/dependencies.py.
"""

from __future__ import annotations

import re

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.dependencies import DEV, LOCKS, ROOT, RUNTIME, advisories, floor, pins


@pytest.mark.parametrize("requirement", RUNTIME + DEV, ids=str)
def test_every_dependency_is_bounded_both_ways(requirement: Requirement) -> None:
    operators = {spec.operator for spec in requirement.specifier}
    assert ">=" in operators
    assert "<" in operators


@pytest.mark.parametrize("requirement", RUNTIME, ids=lambda r: r.name)
def test_floors_are_above_every_published_advisory(requirement: Requirement) -> None:
    table = advisories()
    rows = table.get(canonicalize_name(requirement.name))
    assert rows, f"{requirement.name} is missing from docs/dependencies.md's advisories"
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
