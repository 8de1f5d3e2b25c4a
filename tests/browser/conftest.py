"""Debian's Chromium driven by Playwright: pages as a citizen's browser runs them.

The tests skip only when `/usr/bin/chromium` is missing (`apt-get install chromium`; CI
installs it). Playwright's own browser downloads are never used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium, closed after the test."""
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's Chromium is not installed (/usr/bin/chromium): apt-get install chromium"
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()
