"""Browser fixtures: the real server in a subprocess and Debian's chromium through Playwright.

Chromium is the system one found on PATH (``make browser-deps`` installs it); Playwright
never downloads a browser here. Without chromium the browser tests skip, unless
``CI=true``, where a missing browser fails the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Request,
    sync_playwright,
)

from tests.support.processes import ServerProcess, free_port, server_environment

CI = os.environ.get("CI", "").lower() == "true"
TEST_JWT_KEY = "browser-test-signing-key-0123456789abcd"  # 40 characters
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Server:
    """The running app: its base URL and every request the browser sent anywhere."""

    base_url: str
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``python -m ticketing serve`` on a free port with its own data dir, stopped afterwards."""
    workdir = tmp_path_factory.mktemp("server")
    process = ServerProcess(
        name="server", port=free_port(), data_dir=workdir / "data", log=workdir / "server.log",
        env=server_environment(workdir / "data", TICKETING_JWT_KEY=TEST_JWT_KEY),
    )
    try:
        process.start_and_wait()
        yield Server(process.url)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium on PATH; skipped when absent (a failure when ``CI=true``)."""
    path = shutil.which("chromium")
    if path is None:
        message = "chromium not found on PATH (install it with `make browser-deps`)"
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


# Package scope, not session: Playwright's sync API keeps an event loop running in this
# thread while it lives, which would break the asyncio tests that run after these.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser_context(chromium_path: str, playwright: Playwright,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """One headless chromium for the browser tests, on a fresh temporary profile."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    context = playwright.chromium.launch_persistent_context(
        profile, executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 800},
    )
    context.set_default_timeout(5000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def separate_browser(chromium_path: str, playwright: Playwright) -> Iterator[Browser]:
    """Another chromium, whose contexts share no cookies: two people at once."""
    browser = playwright.chromium.launch(executable_path=chromium_path, headless=True,
                                         args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(browser_context: BrowserContext, server: Server) -> Iterator[Page]:
    """A new tab with no cookies; requests it sends are recorded on ``server.requests``.

    Every test also proves the pages work under the Content-Security-Policy: a script,
    style or frame the policy refused would show in the console and fail the test.
    """
    browser_context.clear_cookies()
    server.requests.clear()
    refused: list[str] = []

    def record(request: Request) -> None:
        server.requests.append(request.url)

    browser_context.on("request", record)
    tab = browser_context.new_page()
    tab.on("console", lambda message: refused.append(message.text)
           if "Content Security Policy" in message.text else None)
    try:
        yield tab
    finally:
        tab.close()
        browser_context.remove_listener("request", record)
    assert refused == [], "the Content-Security-Policy refused something the page needs"
