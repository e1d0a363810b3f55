"""Fixtures for the example tests: app servers in-process, the npm client driver, the Node server.

The apps under ``apps/`` run on aiosio (``import aiosio as socketio``) and, as the reference, on
python-socketio (``lib`` fixture). Pages are driven with the npm socket.io-client through
``tests/interop/node_driver.py``; client apps run in-process against each kind of server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent.parent / "interop"))

from example_support import HERE, LIBS, NODE_SERVER, RunApp, RunningApp, free_port
from node_driver import NodeDriver

from peers import require_chromium, require_module, require_node
from processes import ServerProcess, start_process


@pytest.fixture(params=list(LIBS))
def lib(request: pytest.FixtureRequest) -> ModuleType:
    """The library a server app runs on (python-socketio is the reference the test must also pass on)."""
    return LIBS[str(request.param)]


@pytest.fixture
async def run_app() -> AsyncIterator[RunApp]:
    """``await run_app(build())`` serves an app on a random port; stopped at teardown."""
    runners: list[tuple[Any, web.AppRunner]] = []

    async def _run(built: tuple[Any, web.Application]) -> RunningApp:
        sio, app = built
        runner = web.AppRunner(app, shutdown_timeout=1.0, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append((sio, runner))
        return RunningApp(sio, app, f"http://127.0.0.1:{runner.addresses[0][1]}")

    yield _run
    for sio, runner in reversed(runners):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sio.shutdown(), 5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runner.cleanup(), 5)


@pytest.fixture
async def node() -> AsyncIterator[NodeDriver]:
    """The npm socket.io-client (as a page would load it), driven from the test."""
    require_node()
    driver = await NodeDriver.start(watchdog=30)
    try:
        yield driver
    finally:
        await driver.close()


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``node_example_server.js``: the Node socket.io server doing what the greeter and ping-pong apps do."""
    require_node()
    server = start_process(["node", str(NODE_SERVER)], tmp_path_factory.mktemp("node-server"), timeout=15)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def programs(
    monkeypatch: pytest.MonkeyPatch, start: Callable[[list[str]], ServerProcess]
) -> Callable[..., ServerProcess]:
    """``programs("kitchen", TICK="0.2")`` runs ``python -m apps.kitchen`` on a free port until it listens."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))

    def run(name: str, **env: str) -> ServerProcess:
        monkeypatch.setenv("PORT", str(free_port()))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return start([sys.executable, "-m", f"apps.{name}"])

    return run


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Playwright (as tests/e2e launches it); skips (fails on CI) without."""
    chromium = require_chromium()
    sync_api = require_module("playwright.sync_api")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    args += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, args=args)
        try:
            yield instance
        finally:
            instance.close()
