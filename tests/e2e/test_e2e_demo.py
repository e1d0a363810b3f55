"""The demo in a real browser: two pages in sync, chat between them, surviving a server restart.

The server is ``aiosio serve`` started as a real process; the browser is Debian's Chromium in
headless mode, driven by Playwright. Screenshots land in ``artifacts/`` at the repository root.
"""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from peers import require_module

# Playwright is a dev dependency: without it this module skips locally, and fails to import on CI.
sync_api = require_module("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.e2e

AIOSIO = [sys.executable, "-m", "aiosio.cli.main"]
Start = Callable[[list[str]], Any]

# Generous: the CI machine may be busy, and a restart includes the client's reconnect backoff.
expect.set_options(timeout=20_000)


@pytest.fixture
def pages(browser: Any) -> Iterator[Callable[[], Any]]:
    """``new_page()`` opens a page in its own browser context (own storage: own chat name);
    any JavaScript error or dialog on any page fails the test."""
    contexts: list[Any] = []
    problems: list[str] = []

    def new_page() -> Any:
        context = browser.new_context(viewport={"width": 1100, "height": 760})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

        def on_dialog(dialog: Any) -> None:
            problems.append(f"unexpected dialog: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return page

    yield new_page
    for context in contexts:
        context.close()
    assert not problems, problems


def open_demo(page: Any, url: str, name: str) -> None:
    page.goto(url)
    expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    page.fill("#chat-name", name)
    page.press("#chat-name", "Enter")
    expect(page.locator("#online li.me")).to_have_text(name)


def todo(page: Any, text: str) -> Any:
    return page.locator("#todo-list li", has_text=text)


def test_two_pages_share_todos_and_chat(
    start: Start, pages: Callable[[], Any], artifacts: Path, tmp_path: Path
) -> None:
    server = start([*AIOSIO, "serve", "--port", "0", "--db", str(tmp_path / "todos.sqlite3")])
    alice, bob = pages(), pages()
    open_demo(alice, server.url, "alice")
    open_demo(bob, server.url, "bob")
    for page in (alice, bob):
        expect(page.locator("#online")).to_contain_text("alice")
        expect(page.locator("#online")).to_contain_text("bob")
        expect(page.locator("#todo-list li")).to_have_count(3)

    # A todo added in one page appears in the other, without a reload.
    alice.fill("#todo-name", "Buy milk")
    alice.press("#todo-name", "Enter")
    expect(todo(bob, "Buy milk")).to_have_count(1)
    expect(bob.locator("#todo-count")).to_have_text("4 of 4 left")

    # Completed in the second page: crossed out in the first.
    todo(bob, "Buy milk").locator("input[type=checkbox]").check()
    expect(todo(alice, "Buy milk")).to_have_class(re.compile(r"\bdone\b"))
    expect(alice.locator("#todo-count")).to_have_text("3 of 4 left")

    # User text is text: markup in a todo name is shown, never run or rendered.
    evil = '<img src=x onerror="alert(1)">'
    alice.fill("#todo-name", evil)
    alice.press("#todo-name", "Enter")
    expect(bob.locator("#todo-list .name", has_text="<img")).to_have_text(evil)
    assert bob.locator("#todo-list img").count() == 0

    # Invalid input gets the API's error message.
    alice.evaluate("document.querySelector('#todo-name').removeAttribute('maxlength')")
    alice.fill("#todo-name", "x" * 201)
    alice.press("#todo-name", "Enter")
    expect(alice.locator("#todo-error")).to_contain_text("at most 200 characters")

    # Deleted in the first page: gone from the second.
    todo(alice, "Buy milk").locator("button.delete").click()
    expect(todo(bob, "Buy milk")).to_have_count(0)

    # A chat message from one page appears in the other.
    alice.fill("#chat-text", "hello bob")
    alice.press("#chat-text", "Enter")
    message = bob.locator("#messages li", has_text="hello bob")
    expect(message).to_have_count(1)
    expect(message.locator(".author")).to_have_text("alice")
    bob.fill("#chat-text", "hi alice <b>bold?</b>")
    bob.press("#chat-text", "Enter")
    expect(alice.locator("#messages li .text").last).to_have_text("hi alice <b>bold?</b>")
    expect(alice.locator("#messages li.mine")).to_have_count(1)  # only her own is marked

    # The server logs the socket id and the message, as the tutorial's handler printed them.
    output = server.output()
    assert "Socket ID: " in output
    assert "hello bob" in output

    alice.screenshot(path=str(artifacts / "e2e-demo-alice.png"), full_page=True)
    bob.screenshot(path=str(artifacts / "e2e-demo-bob.png"), full_page=True)
    assert server.stop() == 0


def test_page_reconnects_after_a_server_restart(
    start: Start, pages: Callable[[], Any], artifacts: Path, tmp_path: Path
) -> None:
    db = str(tmp_path / "todos.sqlite3")
    server = start([*AIOSIO, "serve", "--port", "0", "--db", db])
    port = server.url.rsplit(":", 1)[1]
    page = pages()
    open_demo(page, server.url, "carol")
    page.fill("#todo-name", "Survive the restart")
    page.press("#todo-name", "Enter")
    expect(todo(page, "Survive the restart")).to_have_count(1)

    assert server.stop(signal.SIGTERM) == 0
    expect(page.locator("#status")).not_to_have_attribute("data-state", "connected")

    restarted = start([*AIOSIO, "serve", "--port", port, "--db", db])
    expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    # Back in the chat room, and live again: a change made now shows up without a reload.
    expect(page.locator("#online li.me")).to_have_text("carol")
    expect(todo(page, "Survive the restart")).to_have_count(1)
    page.fill("#chat-text", "still here")
    page.press("#chat-text", "Enter")
    expect(page.locator("#messages li", has_text="still here")).to_have_count(1)

    other = pages()
    open_demo(other, restarted.url, "dave")
    other.fill("#todo-name", "Added after the restart")
    other.press("#todo-name", "Enter")
    expect(todo(page, "Added after the restart")).to_have_count(1)
    page.screenshot(path=str(artifacts / "e2e-demo-reconnected.png"), full_page=True)
    assert restarted.stop() == 0


def prices(page: Any) -> dict[str, str]:
    """The prices table as shown: symbol -> price text."""
    rows = page.locator("#price-rows tr")
    return {
        rows.nth(i).locator(".symbol").inner_text(): rows.nth(i).locator(".price").inner_text()
        for i in range(rows.count())
    }


def test_prices_pane_updates_live(
    start: Start, pages: Callable[[], Any], artifacts: Path, tmp_path: Path
) -> None:
    server = start([*AIOSIO, "serve", "--port", "0", "--db", str(tmp_path / "todos.sqlite3")])
    alice, bob = pages(), pages()
    open_demo(alice, server.url, "alice")
    open_demo(bob, server.url, "bob")
    pane = alice.locator("#prices")

    # Pages join the prices room when they connect: six symbols, ticking.
    expect(pane).to_have_attribute("data-watching", "yes")
    expect(alice.locator("#price-rows tr")).to_have_count(6)
    expect(alice.locator("#prices-state")).to_contain_text("live")
    expect(alice.locator("#prices-toggle")).to_have_text("Leave")
    expect(pane).to_have_attribute("data-seq", re.compile(r"^\d+$"))
    before_seq = int(pane.get_attribute("data-seq"))
    before = prices(alice)
    expect(pane).not_to_have_attribute("data-seq", str(before_seq))
    alice.wait_for_function(
        "([seq]) => Number(document.querySelector('#prices').dataset.seq) >= seq + 5", arg=[before_seq]
    )
    assert prices(alice) != before  # a few ticks later, some price moved
    expect(alice.locator("#price-rows tr[data-tick]").first).to_be_visible()

    # The stats line: two clients, both in the room, ticks and messages flowing.
    expect(alice.locator("#stat-clients")).to_have_text("2")
    expect(alice.locator("#stat-watchers")).to_have_text("2")
    # A rate shown ("5.0"), not the placeholder, and not zero.
    for stat in ("#stat-ticks", "#stat-msgs"):
        expect(alice.locator(stat)).to_have_text(re.compile(r"^[1-9]\d*\.\d$"))
    alice.screenshot(path=str(artifacts / "e2e-demo-prices.png"), full_page=True)

    # Leave: no more ticks on this page, the other one goes on; the count follows.
    alice.click("#prices-toggle")
    expect(pane).to_have_attribute("data-watching", "no")
    expect(alice.locator("#prices-toggle")).to_have_text("Join")
    expect(alice.locator("#prices-state")).to_contain_text("paused")
    expect(bob.locator("#stat-watchers")).to_have_text("1")
    frozen_seq, frozen = pane.get_attribute("data-seq"), prices(alice)
    bob_seq = int(bob.locator("#prices").get_attribute("data-seq"))
    bob.wait_for_function(
        "([seq]) => Number(document.querySelector('#prices').dataset.seq) >= seq + 5", arg=[bob_seq]
    )
    assert pane.get_attribute("data-seq") == frozen_seq
    assert prices(alice) == frozen
    alice.screenshot(path=str(artifacts / "e2e-demo-prices-left.png"), full_page=True)

    # Join again: live once more, and the choice survives a reload.
    alice.click("#prices-toggle")
    expect(pane).to_have_attribute("data-watching", "yes")
    expect(pane).not_to_have_attribute("data-seq", frozen_seq or "")
    alice.click("#prices-toggle")
    expect(alice.locator("#prices-toggle")).to_have_text("Join")
    alice.reload()
    expect(alice.locator("#status")).to_have_attribute("data-state", "connected")
    expect(alice.locator("#prices-state")).to_contain_text("paused")
    expect(bob.locator("#stat-watchers")).to_have_text("1")
    assert server.stop() == 0


def test_page_says_so_when_the_client_bundle_is_missing(
    start: Start, pages: Callable[[], Any], artifacts: Path, tmp_path: Path
) -> None:
    server = start([*AIOSIO, "serve", "--port", "0", "--db", str(tmp_path / "todos.sqlite3")])
    page = pages()
    # As a server without the bundle answers (see aiosio.demo.bundle): a 404 with the fix.
    page.route(
        "**/socket.io/socket.io.min.js",
        lambda route: route.fulfill(status=404, content_type="application/javascript", body="// missing\n"),
    )
    page.goto(server.url)
    expect(page.locator("#status")).to_have_attribute("data-state", "error")
    banner = page.locator("#banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("cannot connect")
    expect(banner).to_contain_text("npm ci")
    expect(page.locator("#prices-state")).to_contain_text("unavailable")
    expect(page.locator("#prices-toggle")).to_be_disabled()
    expect(page.locator("#todo-list li")).to_have_count(3)  # the todos still load over HTTP
    page.screenshot(path=str(artifacts / "e2e-demo-no-bundle.png"), full_page=True)
    assert server.stop() == 0
