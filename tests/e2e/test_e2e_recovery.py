"""The demo page and connection-state recovery, in a real browser: the connection is cut (a TCP
relay between the page and ``aiosio serve`` resets it and keeps the page away for a moment) and
the page shows it was recovered, with the chat message and the todo sent meanwhile; after a server
restart (the session is gone) it shows that it was not, and reloads.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_e2e_demo import AIOSIO, Start, open_demo, pages, todo

from peers import require_module
from recovery.cutter import Cutter

sync_api = require_module("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.e2e
#: ``pages`` is test_e2e_demo.py's fixture (a page per browser context; page errors fail the test).
USES = (pages,)


class HoldingCutter(Cutter):
    """A :class:`Cutter` that can keep a client away: while held, new connections are reset."""

    held = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.held:
            writer.transport.abort()
            return
        await super()._accept(reader, writer)


class RelayThread:
    """The relay on its own event loop in a thread (the browser test is synchronous)."""

    def __init__(self, upstream_port: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.cutter = HoldingCutter(upstream_port)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self.cutter.start())

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def hold(self) -> None:
        """Cut every connection now and keep the page away."""

        async def go() -> None:
            self.cutter.held = True
            self.cutter.cut()

        self.call(go())

    def release(self) -> None:
        async def go() -> None:
            self.cutter.held = False

        self.call(go())

    def close(self) -> None:
        self.call(self.cutter.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def relay() -> Iterator[Callable[[int], RelayThread]]:
    made: list[RelayThread] = []

    def make(port: int) -> RelayThread:
        made.append(RelayThread(port))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_page_shows_a_recovered_connection_and_what_it_missed(
    start: Start,
    pages: Callable[[], Any],
    relay: Callable[[int], RelayThread],
    artifacts: Path,
    tmp_path: Path,
    workers: int,
) -> None:
    """One process, and ``--workers 2`` (the session and the missed events are the hub's: the page
    may come back on either worker)."""
    db = str(tmp_path / "todos.sqlite3")
    extra = ["--workers", str(workers)]
    server = start([*AIOSIO, "serve", "--port", "0", "--db", db, *extra])
    port = int(server.url.rsplit(":", 1)[1])
    cut = relay(port)
    alice, bob = pages(), pages()
    open_demo(alice, f"http://127.0.0.1:{cut.cutter.port}", "alice")  # through the relay
    open_demo(bob, server.url, "bob")
    expect(alice.locator("#online")).to_contain_text("bob")
    expect(alice.locator("#recovery")).to_be_hidden()  # a first connection: nothing to say

    # Cut: alice's connection is reset and she is kept away while bob writes and adds a todo.
    cut.hold()
    expect(alice.locator("#status")).not_to_have_attribute("data-state", "connected")
    bob.fill("#chat-text", "sent while alice was away")
    bob.press("#chat-text", "Enter")
    expect(bob.locator("#messages li", has_text="sent while alice was away")).to_have_count(1)
    bob.fill("#todo-name", "Added while alice was away")
    bob.press("#todo-name", "Enter")
    expect(todo(bob, "Added while alice was away")).to_have_count(1)
    cut.release()

    # Back: recovered (same session), and what she missed was replayed, not reloaded.
    expect(alice.locator("#status")).to_have_attribute("data-state", "connected")
    recovery = alice.locator("#recovery")
    expect(recovery).to_have_attribute("data-state", "recovered")
    expect(recovery).to_contain_text("recovered, 2 missed events replayed")
    expect(alice.locator("#messages li", has_text="sent while alice was away")).to_have_count(1)
    expect(todo(alice, "Added while alice was away")).to_have_count(1)
    expect(alice.locator("#online li.me")).to_have_text("alice")  # her name and room kept
    alice.fill("#chat-text", "back again")
    alice.press("#chat-text", "Enter")
    expect(bob.locator("#messages li", has_text="back again")).to_have_count(1)
    alice.screenshot(path=str(artifacts / f"e2e-demo-recovered-w{workers}.png"), full_page=True)

    # A server restart loses every session: the page says it was not recovered, and reloads.
    assert server.stop() == 0
    expect(alice.locator("#status")).not_to_have_attribute("data-state", "connected")
    restarted = start([*AIOSIO, "serve", "--port", str(port), "--db", db, *extra])
    expect(alice.locator("#status")).to_have_attribute("data-state", "connected")
    expect(recovery).to_have_attribute("data-state", "fresh")
    expect(recovery).to_contain_text("not recovered")
    if workers == 1:
        expect(alice.locator("#online li.me")).to_have_text("alice")  # joined again
    else:
        # The chat's presence list is each worker's own (docs/demo.md): after the restart alice and
        # bob may be on different workers, and bob's worker's list (without alice) may be the last
        # one she got. That she joined again shows across workers: her message reaches bob.
        expect(bob.locator("#status")).to_have_attribute("data-state", "connected")
        alice.fill("#chat-text", "back after the restart")
        alice.press("#chat-text", "Enter")
        expect(bob.locator("#messages li", has_text="back after the restart")).to_have_count(1)
    expect(todo(alice, "Added while alice was away")).to_have_count(1)  # the list reloaded
    assert restarted.stop() == 0
