"""Make every English catalog entry read as its source text (`make i18n-extract` runs this).

The code's strings are English, so the English catalog is the identity; keeping it filled (and
never fuzzy) lets the placeholder checks in tests/test_i18n.py cover it like Vietnamese.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po, write_po

CATALOG = Path(__file__).parent / "locales" / "en" / "LC_MESSAGES" / "messages.po"


def main() -> None:
    """Rewrite the English catalog with msgstr = msgid."""
    with CATALOG.open(encoding="utf-8") as source:
        catalog = read_po(source)
    for message in catalog:
        if message.id:
            message.string = message.id
            message.flags.discard("fuzzy")
            message.previous_id = []
    with CATALOG.open("wb") as target:
        write_po(target, catalog, width=99, sort_output=True, include_previous=False)


if __name__ == "__main__":
    main()
