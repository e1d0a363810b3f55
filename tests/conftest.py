"""Shared fixtures: a free-port helper and an in-process aiohttp runner for aiosio servers."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from peers import peers_required, require_chromium, require_module, require_node
from processes import ServerProcess, start_process

#: Every test fails when a server it ran logged an error (see tests/server_errors.py).
pytest_plugins = ["server_errors"]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``interop`` tests need Node and the npm peers, ``e2e`` tests Chromium and Playwright: a
    missing one skips the test locally and fails it on CI (tests/peers.py)."""
    if item.get_closest_marker("interop") is not None:
        require_node()
    if item.get_closest_marker("e2e") is not None:
        require_chromium()
        require_module("playwright.sync_api")


#: Tests that run a supervisor with its workers, or a browser and a server process: under a loaded
#: machine their outcome can hang on which worker the kernel hands a new connection or on process
#: scheduling (seen only in whole-suite runs). Each gets one rerun (pytest-rerunfailures); failing
#: twice fails the run.
_RERUN_ONCE = ("tests/workers/", "tests/e2e/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give the multi-process tests of :data:`_RERUN_ONCE` one rerun."""
    for item in items:
        if item.nodeid.startswith(_RERUN_ONCE) and item.get_closest_marker("flaky") is None:
            item.add_marker(pytest.mark.flaky(reruns=1))


_SKIPPED: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember every skipped test (for :func:`pytest_sessionfinish`)."""
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """When peers are required (CI), a run with a skipped test fails: CI must not pass by skipping."""
    if _SKIPPED and peers_required() and exitstatus == pytest.ExitCode.OK:
        shown = "\n  ".join(_SKIPPED[:20])
        count = len(_SKIPPED)
        print(f"\nerror: {count} test(s) skipped while peers are required (docs/testing.md):\n  {shown}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (prefer binding port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerHandle:
    """A running server: its base URL and a count of Engine.IO handshakes it received."""

    server: Any
    app: web.Application
    runner: web.AppRunner
    port: int
    path: str
    #: Requests to the Engine.IO endpoint without a ``sid`` (one per Engine.IO session opened).
    handshakes: int = 0
    #: Every request the endpoint received, as ``(method, query_string, status)``.
    requests: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        """URL of the Engine.IO endpoint, e.g. ``http://127.0.0.1:41234/socket.io/``."""
        return f"{self.url}/{self.path}/"


Serve = Callable[..., Awaitable[ServerHandle]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Factory fixture: ``handle = await serve(sio)`` runs *sio* on 127.0.0.1 (random port).

    *sio* is an ``aiosio.AsyncServer`` or ``aiosio.engineio.AsyncServer``; keyword arguments go
    to its ``attach()``. Servers are shut down (``shutdown()``) and their runners cleaned up
    when the test ends; an error (or a hang over 5 s) doing so fails the test, and so does any
    error the server logged (tests/server_errors.py).
    """
    handles: list[ServerHandle] = []

    async def _serve(server: Any, **attach_kwargs: Any) -> ServerHandle:
        path = str(
            attach_kwargs.get("socketio_path") or attach_kwargs.get("engineio_path") or "socket.io"
        ).strip("/")
        holder: dict[str, ServerHandle] = {}

        @web.middleware
        async def count_requests(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            handle = holder["handle"]
            is_eio = request.path.strip("/") == path
            if is_eio and "sid" not in request.query and request.method == "GET":
                handle.handshakes += 1
            response = await handler(request)
            if is_eio:
                handle.requests.append((request.method, request.query_string, response.status))
            return response

        app = web.Application(middlewares=[count_requests])
        server.attach(app, **attach_kwargs)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = int(runner.addresses[0][1])
        handle = ServerHandle(server=server, app=app, runner=runner, port=port, path=path)
        holder["handle"] = handle
        handles.append(handle)
        return handle

    yield _serve

    errors: list[BaseException] = []
    for handle in reversed(handles):
        shutdown = getattr(handle.server, "shutdown", None)
        try:
            if shutdown is not None:
                await asyncio.wait_for(shutdown(), 5)
        except Exception as exc:  # every server is still cleaned up; the first error is raised
            errors.append(exc)
        try:
            await asyncio.wait_for(handle.runner.cleanup(), 5)
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def start(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[list[str]], ServerProcess]]:
    """``start(cmd)`` runs a server process until it prints its URL.

    At teardown each one still running gets SIGTERM (SIGKILL if it has not exited 10 s later),
    then its stderr is checked: a traceback or an ERROR line fails the test
    (tests/server_errors.py), as does a server that had to be killed.
    """
    started: list[ServerProcess] = []

    def run(cmd: list[str]) -> ServerProcess:
        server = start_process(cmd, tmp_path)
        started.append(server)
        return server

    yield run
    from server_errors import report_process_output  # loaded as a plugin first (assert rewriting)

    stuck: list[str] = []
    for index, server in enumerate(started):
        if server.proc.poll() is None:
            try:
                server.stop(signal.SIGTERM, timeout=10)
            except AssertionError as exc:
                stuck.append(str(exc))
        report_process_output(request.node, server.err, f"server process {index} ({server.url})")
    assert not stuck, stuck
