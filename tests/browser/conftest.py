"""Shared pieces of the Chromium tests: one browser per test process, and signing in.

Never ``playwright install``: the tests use Debian's /usr/bin/chromium. Without it they skip
locally and fail in CI (CI=true), so a broken image cannot pass silently.

One Chromium serves every browser test of a process (each pytest-xdist worker is a process of
its own); each test still gets fresh browser contexts (cookies, storage), closed after it.
Playwright's sync API marks its event loop as running in this thread after every call; the
``browser`` fixture clears that mark after each test, so the tests that follow on the same worker
(the ORM, ``asyncio.run``) do not see an event loop, and sets it again before the next browser
test so that Playwright's own loop resumes as it expects.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "a-long-admin-password-for-tests"
DASHBOARD = re.compile(r"://[^/]+/$")
# Names the element behind a CSP violation (the console message alone does not).
CSP_REPORTER = (
    "document.addEventListener('securitypolicyviolation', e => console.error('CSP violation:',"
    " e.violatedDirective, e.sourceFile, e.lineNumber, e.target && e.target.outerHTML"
    " && e.target.outerHTML.slice(0, 120)))"
)


@dataclass
class _Chromium:
    manager: Any  # playwright's PlaywrightContextManager
    playwright: Any
    browser: Any

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.manager._loop


def _launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def _chromium() -> Iterator[_Chromium]:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    manager = sync_playwright()
    playwright = manager.start()
    chromium = _Chromium(manager=manager, playwright=playwright, browser=_launch(playwright))
    asyncio._set_running_loop(None)
    try:
        yield chromium
    finally:
        asyncio._set_running_loop(chromium.loop)
        try:
            chromium.browser.close()
        finally:
            playwright.stop()
            asyncio._set_running_loop(None)


@pytest.fixture
def browser(_chromium: _Chromium, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The worker's Chromium (a Playwright ``Browser``); contexts a test opens are closed after it."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls a test makes
    # between browser steps are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    asyncio._set_running_loop(_chromium.loop)
    try:
        if not _chromium.browser.is_connected():  # a crash in an earlier test
            _chromium.browser = _launch(_chromium.playwright)
        yield _chromium.browser
        for context in list(_chromium.browser.contexts):
            context.close()
    finally:
        asyncio._set_running_loop(None)


def open_page(
    browser_or_context: Any,
    viewport: tuple[int, int] | None = (1366, 900),
    *,
    problems: list[str] | None = None,
    timeout_ms: int = 10_000,
) -> Any:
    """A new page (in a new context when given the browser).

    With *problems*, every console error, uncaught script error and CSP violation is appended
    to it; the test asserts it stays empty.
    """
    if hasattr(browser_or_context, "new_context"):
        size = {"width": viewport[0], "height": viewport[1]} if viewport else None
        context = browser_or_context.new_context(viewport=size)
    else:
        context = browser_or_context
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    if problems is not None:
        page.on(
            "console",
            lambda message: (
                problems.append(f"{message.text} @ {message.location}") if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.add_init_script(CSP_REPORTER)
    return page


def sign_in(
    browser_or_context: Any,
    base_url: str,
    email: str,
    password: str = PASSWORD,
    viewport: tuple[int, int] | None = (1366, 900),
    *,
    problems: list[str] | None = None,
    timeout_ms: int = 10_000,
    page: Any = None,
) -> Any:
    """Sign *email* in with the login form and return the page, on the dashboard.

    Opens a new page (see ``open_page``) unless *page* is given.
    """
    from playwright.sync_api import expect

    if page is None:
        page = open_page(browser_or_context, viewport, problems=problems, timeout_ms=timeout_ms)
    page.goto(f"{base_url}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(DASHBOARD)
    return page
