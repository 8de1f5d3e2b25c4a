"""The documentation: a short README, links and paths that lead somewhere, a current picture.

README.md is the newcomer's page; the rest lives in docs/. Every relative link of README.md and
docs/*.md must reach a file (and a heading of it, for a `#` link), every repository path they
or NOTICE name must exist (so a moved module shows up here, with the page to fix), and the
import graph in docs/architecture.md must be the one tools/deps.py draws from the code now.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from tools import deps

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# A repository path in running text or a code block: bot/..., storage/..., tests/... (not a URL).
PATH = re.compile(r"(?<![\w/.:-])((?:bot|storage|tests|bench|tools|docs)/[\w./-]*)")
# A dotted module name in backquotes: `bot.domain.booking.book`, `tests.fakes.telegram_api`.
MODULE = re.compile(r"`((?:bot|storage|tests|bench|tools)(?:\.\w+)+)`")
NOT_MODULES = {"bot.db", "bot.db.lock"}  # the SQLite file and its process lock
MAX_README_LINES = 250


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = "".join(
        c for c in heading.strip().lower() if c in " -_" or unicodedata.category(c)[0] in "LN"
    )
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a Markdown page's headings (a repeated heading gets -1, -2 ...)."""
    counts: dict[str, int] = {}
    found = set()
    for line in without_code(page.read_text(encoding="utf-8")).splitlines():
        if match := re.match(r"#{1,6} (.+)", line):
            base = slug(match.group(1))
            found.add(f"{base}-{counts[base]}" if base in counts else base)
            counts[base] = counts.get(base, 0) + 1
    return found


def without_code(text: str) -> str:
    """The text without its fenced code blocks."""
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def exists(path: str) -> bool:
    """Whether a repository path names a file or folder (`bot/channels.fit`: a module's name)."""
    path = path.rstrip(".")
    if (ROOT / path).exists():
        return True
    module, _, _attribute = path.rpartition(".")
    return bool(module) and ((ROOT / module).is_dir() or (ROOT / f"{module}.py").is_file())


def module_exists(dotted: str) -> bool:
    """Whether some leading part of a dotted name is a module or package of the repository."""
    parts = dotted.split(".")
    return any(
        (ROOT / Path(*parts[:n])).is_dir()
        or (ROOT / Path(*parts[:n])).with_suffix(".py").is_file()
        for n in range(len(parts), 1, -1)
    )


def test_the_readme_is_a_newcomers_page() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_README_LINES
    assert "make run" in text and "make test" in text
    for page in ("architecture", "operations", "security", "testing", "benchmarks"):
        assert f"](docs/{page}.md)" in text, page


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_reach_a_file_and_its_heading(page: Path) -> None:
    broken = []
    for target in LINK.findall(without_code(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or (anchor and (file.suffix != ".md" or anchor not in anchors(file))):
            broken.append(target)
    assert not broken, f"{page.name}: links that lead nowhere: {broken}"


@pytest.mark.parametrize("page", [*PAGES, ROOT / "NOTICE"], ids=lambda p: p.name)
def test_every_path_named_exists(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    missing = sorted({p for p in PATH.findall(text) if not exists(p)})
    missing += sorted(
        {m for m in MODULE.findall(text) if m not in NOT_MODULES and not module_exists(m)}
    )
    assert not missing, f"{page.name} names what is not in the repository: {missing}"


def test_the_import_graph_is_current() -> None:
    text = deps.DOC.read_text(encoding="utf-8")
    drawn = text.split(deps.START, 1)[1].split(deps.END, 1)[0].strip()
    assert drawn == deps.mermaid(), "the code changed: run `python -m tools.deps --write`"
