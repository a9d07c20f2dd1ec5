"""Debian's headless Chromium driven by Playwright for Python (the system browser, never a download).

`ensure_chromium()` finds /usr/bin/chromium, or installs it with the project's own script
(`.ci/install-browser`, root and apt-get only) the way the Claude Code tests install their client;
where neither works the browser tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "install-browser"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def ensure_chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("Debian's chromium is not installed and cannot be installed here (run .ci/install-browser as root)")
    result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900)
    if result.returncode != 0 or not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium could not be installed: {result.stderr.strip()[-300:]}")
    return CHROMIUM


@asynccontextmanager
async def chromium_page() -> AsyncIterator[tuple[Any, list[str]]]:
    """A fresh page in a fresh profile, and the list its console errors and page errors go to."""
    playwright_api = pytest.importorskip("playwright.async_api", reason="pip install -e '.[test]' installs playwright")
    executable = ensure_chromium()
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="axonhub-chromium-") as profile:
        async with playwright_api.async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(executable),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1360, "height": 900},
            )
            page = context.pages[0] if context.pages else await context.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            try:
                yield page, problems
            finally:
                await context.close()


async def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
