"""The project's dependencies as declared, as locked, and docs/dependencies.md's advisories.

The advisories are the table of docs/dependencies.md: one row per advisory with the
release that fixed it, or "none known" for a package without any. The lock files are what
`make` installs, with `pip install --require-hashes`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = [Requirement(line) for line in PROJECT["dependencies"]]
DEV = [Requirement(line) for line in PROJECT["optional-dependencies"]["dev"]]
LOCKS = ("requirements.lock", "requirements-divisions.lock")
NONE_KNOWN = "none known"
ADVISORIES = "docs/dependencies.md"


def advisories() -> dict[str, list[tuple[str, Version | None]]]:
    """docs/dependencies.md's table: package -> [(advisory, fixed in or None)]."""
    text = (ROOT / ADVISORIES).read_text(encoding="utf-8")
    section = text.split("\n## ", 1)[0]  # the table comes before the page's first section
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
