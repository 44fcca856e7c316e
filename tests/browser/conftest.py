"""Browser tests: Debian's Chromium driven by Playwright's Python package (no downloaded browser)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch) -> None:
    """Playwright's sync API runs an event loop in this thread while it is started; the test's own
    ORM calls are still plain synchronous code, so Django's async-safety guard is off for browser
    tests only, and only while one runs. Playwright itself is started and stopped per test (the
    `browser` fixture), so its loop never outlives the test into the database teardown."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
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
def browser() -> Iterator["playwright.sync_api.Browser"]:  # noqa: F821
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
