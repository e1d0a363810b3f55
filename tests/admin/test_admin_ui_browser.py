"""The Admin UI itself (the npm package's ``ui/dist``, served by ``aiosio.admin.serve_ui``) in
headless Chromium: log in through its connection form and see the test server's sockets and rooms.

The server is a real process (tests/admin/ui_server.py) with two clients of its own in two rooms.
The UI loads fonts and icons from CDNs; the page is given no network beyond 127.0.0.1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from admin_support import CREDENTIALS, free_port

from peers import require_chromium, require_module
from processes import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]
HERE = Path(__file__).resolve().parent
MS = 15_000
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
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Playwright (skips without them locally, fails on CI)."""
    chromium = require_chromium()
    sync_api = require_module("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def ui_server(start: Callable[[list[str]], ServerProcess]) -> tuple[ServerProcess, dict[str, str]]:
    """The instrumented server process and its own clients' sids (sid -> room)."""
    server = start([sys.executable, str(HERE / "ui_server.py"), str(free_port())])
    sockets = {}
    for line in server.out.read_text().splitlines():
        if line.startswith("SOCKET "):
            _, sid, room = line.split()
            sockets[sid] = room
    assert len(sockets) == 2, server.output()
    return server, sockets


def open_ui(browser: Any, url: str) -> tuple[Any, list[str]]:
    """A page on the UI, local network only; errors on it are collected."""
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    def local_only(route: Any) -> None:
        if route.request.url.startswith("http://127.0.0.1") or route.request.url.startswith("ws://127.0.0.1"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", local_only)
    page.goto(f"{url}/admin-ui/", wait_until="domcontentloaded")
    return page, problems


def log_in(page: Any, url: str, password: str) -> None:
    """Fill the UI's connection form (server URL, username, password) and submit it."""
    page.get_by_label("Server URL").fill(url)
    page.get_by_label("Username").fill(CREDENTIALS["username"])
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Connect").click()


def test_ui_logs_in_and_lists_sockets_and_rooms(
    browser: Any, ui_server: tuple[ServerProcess, dict[str, str]]
) -> None:
    """Wrong password: the form says so. Right one: the form closes, the Sockets page lists both
    clients' sids, the Rooms page both rooms; a socket's disconnect button disconnects it; the
    Servers page shows the server, healthy."""
    from playwright.sync_api import expect

    server, sockets = ui_server
    page, problems = open_ui(browser, server.url)
    log_in(page, server.url, "wrong")
    expect(page.get_by_text("Invalid credentials")).to_be_visible(timeout=MS)

    log_in(page, server.url, CREDENTIALS["password"])
    expect(page.get_by_label("Server URL")).to_be_hidden(timeout=MS)

    page.evaluate("location.hash = '#/sockets/'")
    for sid in sockets:
        expect(page.get_by_text(sid, exact=True)).to_be_visible(timeout=MS)

    page.evaluate("location.hash = '#/rooms/'")
    for room in sockets.values():
        expect(page.get_by_text(room, exact=True)).to_be_visible(timeout=MS)

    # The UI's own operation: its disconnect button on one socket's row (a `_disconnect` event).
    gone = next(iter(sockets))
    page.evaluate("location.hash = '#/sockets/'")
    rows = page.get_by_role("row")
    rows.filter(has_text=gone).get_by_role("button").click()
    # The click also reaches the row, which opens the socket's page: it says the socket is gone.
    expect(page.get_by_text("disconnected", exact=False).first).to_be_visible(timeout=MS)
    page.evaluate("location.hash = '#/sockets/'")
    expect(rows.filter(has_text=gone)).to_have_count(0, timeout=MS)
    for sid in sockets:
        if sid != gone:
            expect(rows.filter(has_text=sid)).to_have_count(1)

    # The server's row (its server_stats arrived): its id, and healthy (stats within 10 s).
    page.evaluate("location.hash = '#/servers/'")
    server_row = page.get_by_role("row").filter(has_text="ui-test-server")
    expect(server_row).to_have_count(1, timeout=MS)
    expect(server_row).to_be_visible()
    expect(server_row.get_by_text("Healthy", exact=True)).to_be_visible(timeout=MS)
    assert not problems, problems
