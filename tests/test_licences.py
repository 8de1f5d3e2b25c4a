"""Licences: every runtime package is in NOTICE, as it declares itself, and fits AGPL-3.0-or-later.

The runtime packages are pyproject.toml's dependencies and everything they require (read from
the installed packages' metadata, extras and markers included), plus vietnam-provinces (its own
lock file). pip-licenses reads what each declares. docs/licensing.md says why the project is
AGPL-3.0-or-later and which licences combine with it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from importlib.metadata import distribution

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.dependencies import ROOT, RUNTIME, pins

PROJECT_LICENCE = "AGPL-3.0-or-later"
# Licences whose code may be part of an AGPL-3.0-or-later work (docs/licensing.md). Not here on
# purpose: GPL-2.0-only and LGPL-2.1-only (no way into a v3 work), proprietary, non-commercial.
COMPATIBLE = {
    "0BSD",
    "MIT",
    "MIT-0",
    "MIT-CMU",
    "ISC",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "PSF-2.0",
    "Apache-2.0",  # one way: Apache-2.0 code into a (A)GPLv3 work, not the reverse
    "MPL-2.0",  # section 3.3, unless a file says "Incompatible With Secondary Licenses"
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "GPL-3.0-only",  # section 13 of the GPLv3 and the AGPLv3 allow the combination
    "GPL-3.0-or-later",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
}
# Licences that packages declare in words (trove classifiers), as SPDX identifiers.
IN_WORDS = {
    "MIT License": "MIT",
    "Apache Software License": "Apache-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
}
# Declarations too vague or wrong to trust, with what the package's LICENSE file says. Should
# the declaration change, the lookup fails and the file must be read again.
READ_BY_HAND = {
    ("httpx", "BSD License"): "BSD-3-Clause",
    ("jinja2", "BSD License"): "BSD-3-Clause",
    # "Other/Proprietary" is an upstream mistake: BSD-3-Clause, and MIT for the pyqrnative port.
    ("qrcode", "BSD License; Other/Proprietary License"): "BSD-3-Clause AND MIT",
}
NOTICE_LINE = re.compile(r"^([A-Za-z0-9._-]+) {2,}(\S.*?) {2,}(https?://\S+)$", re.MULTILINE)


def runtime_packages(requirements: Iterable[Requirement]) -> set[str]:
    """The installed packages these requirements need, theirs included (extras and markers)."""
    extras: dict[str, set[str]] = {}
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in extras and set(requirement.extras) <= extras[name]:
            continue
        wanted = extras.setdefault(name, set())
        wanted.update(requirement.extras)
        for line in distribution(name).requires or ():
            needed = Requirement(line)
            if needed.marker is None or any(
                needed.marker.evaluate({"extra": extra}) for extra in wanted | {""}
            ):
                todo.append(needed)
    return set(extras)


def declared(packages: Iterable[str]) -> dict[str, str]:
    """What pip-licenses reads for each installed package: name -> licence as declared."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "piplicenses",
            "--from=mixed",
            "--format=json",
            "--with-system",  # else pip-licenses leaves out itself and what it needs
            "--packages",
            *sorted(packages),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {canonicalize_name(row["Name"]): row["License"] for row in json.loads(out)}


def as_spdx(package: str, licence: str) -> str:
    """A declared licence as an SPDX expression."""
    return READ_BY_HAND.get((package, licence)) or IN_WORDS.get(licence, licence)


def compatible(expression: str) -> bool:
    """Whether some choice an SPDX expression offers (A OR B) is all compatible (A AND B)."""
    if "(" in expression or " WITH " in expression:
        return False  # not written by hand in NOTICE yet: read it and extend this check
    return any(set(choice.split(" AND ")) <= COMPATIBLE for choice in expression.split(" OR "))


def notice() -> dict[str, str]:
    """NOTICE's package lines: package -> SPDX expression."""
    text = (ROOT / "NOTICE").read_text(encoding="utf-8")
    return {canonicalize_name(name): spdx for name, spdx, _url in NOTICE_LINE.findall(text)}


def problems(packages: set[str], licences: dict[str, str], listed: dict[str, str]) -> list[str]:
    """What is wrong between the runtime packages, their declared licences and NOTICE."""
    found = [f"{p}: used at run time, no line in NOTICE" for p in sorted(packages - set(listed))]
    found += [f"{p}: in NOTICE, not used at run time" for p in sorted(set(listed) - packages)]
    found += [f"{p}: not installed" for p in sorted(packages - set(licences))]
    for package in sorted(packages & set(listed) & set(licences)):
        if (spdx := as_spdx(package, licences[package])) != listed[package]:
            found.append(
                f"{package}: declares {licences[package]!r} ({spdx}), NOTICE says "
                f"{listed[package]!r}"
            )
    found += [
        f"{p}: {spdx} is not known to combine with {PROJECT_LICENCE}"
        for p, spdx in sorted(listed.items())
        if not compatible(spdx)
    ]
    return found


def the_runtime() -> set[str]:
    divisions = [Requirement(f"{name}=={v}") for name, v, _ in pins("requirements-divisions.lock")]
    return runtime_packages([*RUNTIME, *divisions])


def test_notice_lists_every_runtime_package_with_its_licence() -> None:
    packages = the_runtime()
    assert len(packages) > len(RUNTIME)  # their own dependencies are counted too
    assert problems(packages, declared(packages), notice()) == []


def test_every_runtime_package_is_locked() -> None:
    locked = {
        name
        for lock in ("requirements.lock", "requirements-divisions.lock")
        for name, _, _ in pins(lock)
    }
    assert the_runtime() <= locked


def test_a_new_dependency_without_a_notice_line_fails() -> None:
    packages = the_runtime() | runtime_packages([Requirement("pip-licenses")])
    assert {"pip-licenses", "prettytable"} <= packages  # and what it needs
    found = problems(packages, declared(packages), notice())
    assert "pip-licenses: used at run time, no line in NOTICE" in found
    assert "prettytable: used at run time, no line in NOTICE" in found
    assert not [problem for problem in found if problem.endswith("not installed")]


def test_a_changed_or_incompatible_licence_fails() -> None:
    listed = {"pypng": "MIT", "vietnam-provinces": "GPL-3.0-or-later"}
    assert problems(set(listed), {**listed, "pypng": "GPL-2.0-only"}, listed) == [
        "pypng: declares 'GPL-2.0-only' (GPL-2.0-only), NOTICE says 'MIT'"
    ]
    listed = {"oddity": "GPL-2.0-only", "either": "GPL-2.0-only OR MIT"}
    assert problems(set(listed), dict(listed), listed) == [
        f"oddity: GPL-2.0-only is not known to combine with {PROJECT_LICENCE}"
    ]
    assert not compatible("LicenseRef-Proprietary") and not compatible("MIT AND SSPL-1.0")


def test_the_project_says_one_licence_everywhere() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == PROJECT_LICENCE
    assert {"LICENSE", "NOTICE"} <= set(project["license-files"])
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith("GNU AFFERO GENERAL PUBLIC LICENSE\n")
    assert "Version 3, 19 November 2007" in text
    assert "13. Remote Network Interaction; Use with the GNU General Public License." in text


def test_notice_repeats_the_attribution_of_the_bundled_eu_dcc_data() -> None:
    (bundled,) = ROOT.glob("bot/**/dcc/data/NOTICE")  # wherever the DCC package lives
    assert (
        (bundled.parent / "LICENSE")
        .read_text(encoding="utf-8")
        .lstrip()
        .startswith("Apache License")
    )
    ours = " ".join((ROOT / "NOTICE").read_text(encoding="utf-8").split())
    for line in filter(None, (line.strip() for line in bundled.read_text().splitlines())):
        assert " ".join(line.split()) in ours, line
