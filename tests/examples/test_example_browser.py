"""The example pages themselves, in headless Chromium, against the server apps run as programs.

The other tests do what the pages' scripts do with the npm client; this one runs the scripts
(``apps/static/*.js`` with the socket.io-client browser bundle) to show they do just that.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from processes import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]
MS = 10_000  # Playwright waits, in milliseconds


def open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    """A new page at *url*, and the list its console messages and errors go to."""
    page = browser.new_page()
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(msg.text))
    page.on("pageerror", lambda exc: messages.append(f"page error: {exc}"))
    page.goto(url)
    return page, messages


def log_lines(page: Any) -> list[str]:
    """The kitchen page's log, without the background ticks."""
    text = page.locator("#log").text_content() or ""
    return [line for line in text.splitlines() if line and line != "got: tick"]


def wait_logged(page: Any, *lines: str) -> None:
    """Wait until the kitchen page has logged every one of *lines*."""
    page.wait_for_function(
        "(want) => { const log = document.getElementById('log').textContent.split('\\n');"
        " return want.every((line) => log.includes(line)); }",
        arg=list(lines),
        timeout=MS,
    )


def test_kitchen_page_in_a_browser(browser: Any, programs: Callable[..., ServerProcess]) -> None:
    """Two tabs: the forms' echo, broadcast, rooms and disconnect, and the background tick."""
    kitchen = programs("kitchen", TICK="0.5")
    a, a_console = open_page(browser, kitchen.url)
    b, _ = open_page(browser, kitchen.url)
    for page in (a, b):
        wait_logged(page, "got: welcome", "got: page connected")
        assert log_lines(page) == ["got: welcome", "got: page connected"]

    def submit(page: Any, form: str, **fields: str) -> None:
        for field, value in fields.items():
            page.fill(f"#{form}_{field}", value)
        page.click(f"#{form} button")

    submit(a, "shout_back", text="just me")
    submit(a, "shout_all", text="everyone")
    wait_logged(b, "got: everyone")
    wait_logged(a, "got: everyone")
    assert log_lines(a)[2:] == ["got: just me", "got: everyone"]
    submit(b, "enter", room="r9")
    wait_logged(b, "got: in r9")
    submit(a, "shout_room", room="r9", text="to r9")
    wait_logged(b, "got: to r9")
    submit(b, "depart", room="r9")
    wait_logged(b, "got: out of r9")
    submit(a, "enter", room="r9")
    submit(b, "dissolve", room="r9")  # b is out: only a hears the room close
    wait_logged(a, "got: r9 closes")
    wait_logged(b, "got: tick")
    submit(a, "hang_up")
    wait_logged(a, "disconnected")
    assert "got: just me" not in log_lines(b)
    assert "got: to r9" not in log_lines(a)
    assert "got: r9 closes" not in log_lines(b)
    assert not [m for m in a_console if m.startswith("page error")], a_console


def test_greeter_and_pingpong_pages_in_a_browser(
    browser: Any, programs: Callable[..., ServerProcess]
) -> None:
    """The greeter page logs the greeting; the ping-pong page shows round trips over WebSocket."""
    from playwright.sync_api import expect

    greeter = programs("greeter")
    page, console = open_page(browser, greeter.url)
    for _ in range(200):
        if any(m.startswith("7 8") for m in console):
            break
        page.wait_for_timeout(50)
    assert any(m.startswith("up ") for m in console), console
    assert any(m.startswith("7 8") for m in console), console
    assert "auth=None" in greeter.output()  # the page sends no auth

    pingpong = programs("pingpong")
    page, console = open_page(browser, pingpong.url)
    expect(page.locator("#rtt")).to_have_text(re.compile(r"^\d+ ms$"), timeout=MS)
    expect(page.locator("#transport")).to_have_text("websocket", timeout=MS)
    assert not [m for m in console if m.startswith("page error")], console
