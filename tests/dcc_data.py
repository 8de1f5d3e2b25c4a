"""Where the EU DCC test data lives (`shared/testdata/dcc/`, see its SOURCE.md)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "dcc"
if not DATA.is_dir():  # CI lays shared/ beside the clone; a developer's tree has it at /work
    DATA = Path("/work/shared/testdata/dcc")
