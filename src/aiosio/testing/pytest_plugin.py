"""pytest fixtures for testing Socket.IO apps in-process (:mod:`aiosio.testing`).

Installed with aiosio as the ``aiosio`` plugin (a ``pytest11`` entry point), so a test only names a
fixture to use it; tests that do not are untouched. The fixtures are async (pytest-asyncio, in
``auto`` or ``strict`` mode), function-scoped, and run in the test's own function-scoped event
loop whatever ``asyncio_default_fixture_loop_scope`` says; a test running in a wider loop
(``@pytest.mark.asyncio(loop_scope="module")``) gets a :class:`RuntimeError` saying so from the
factory, rather than a teardown on the wrong loop:

``aiosio_test_server``
    a factory: ``server = await aiosio_test_server(sio, app=None)`` starts ``sio`` (and its aiohttp
    ``app``, if given) as a :class:`~aiosio.testing.TestServer`; every one is stopped at teardown.
``aiosio_test_client``
    a factory: ``client = await aiosio_test_client(sio, namespaces, auth=..., headers=...,
    query=...)`` connects a :class:`~aiosio.testing.TestClient` to ``sio`` (an ``AsyncServer`` or
    a ``TestServer``), with the arguments of :func:`aiosio.testing.connect`; every one is
    disconnected at teardown, before the servers of ``aiosio_test_server`` stop (it depends on
    that fixture, whatever order the test names them in).

Loading the plugin imports aiosio (as any test of an aiosio app does) and defines these two
fixtures, nothing else: no hooks, no options, no change to tests that do not name them.
``-p no:aiosio`` turns it off.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

import pytest

from .client import TestClient
from .environ import Query
from .server import TestServer

try:  # strict mode needs pytest-asyncio's own decorator; auto mode accepts it too
    import pytest_asyncio
except ImportError:  # pragma: no cover - then async fixtures need another async plugin (anyio...)
    _fixture: Callable[..., Any] = pytest.fixture
    _LOOP: dict[str, Any] = {}
else:
    _fixture = pytest_asyncio.fixture
    _LOOP = {"loop_scope": "function"}  # not asyncio_default_fixture_loop_scope: the test's own loop

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(fn: _F) -> _F:
    """A function-scoped async fixture in a function-scoped loop (pytest-asyncio's decorator when it
    is installed)."""
    return cast(_F, _fixture(**_LOOP)(fn))


ServerFactory = Callable[..., Awaitable[TestServer]]
ClientFactory = Callable[..., Awaitable[TestClient]]


def _same_loop(fixture: str, loop: asyncio.AbstractEventLoop) -> None:
    """The factory is called in the loop the fixture was set up in, else a clear error."""
    if asyncio.get_running_loop() is not loop:
        raise RuntimeError(
            f"{fixture} runs in the test's function-scoped event loop, but this test runs in another "
            "one (a loop_scope wider than 'function'): use the default loop scope for this test, or "
            "aiosio.testing.TestServer / aiosio.testing.connect directly in the test"
        )


@_async_fixture
async def aiosio_test_server() -> AsyncIterator[ServerFactory]:
    """Factory: ``await aiosio_test_server(sio, app=None)`` -> a started TestServer, stopped at teardown."""
    servers: list[TestServer] = []
    loop = asyncio.get_running_loop()

    async def start(sio: Any, app: Any = None) -> TestServer:
        _same_loop("aiosio_test_server", loop)
        server = TestServer(sio, app)
        await server.start()  # a failed start undoes itself
        servers.append(server)
        return server

    yield start
    errors: list[BaseException] = []
    for server in reversed(servers):
        try:
            await server.stop()
        except Exception as exc:  # every server is still stopped; the first error is raised
            errors.append(exc)
    if errors:
        raise errors[0]


@_async_fixture
async def aiosio_test_client(aiosio_test_server: ServerFactory) -> AsyncIterator[ClientFactory]:
    """Factory: ``await aiosio_test_client(sio, namespaces=None, auth=None, headers=None, query=None,
    *, transport=None, wait_timeout=5.0, socketio_path='socket.io')`` -> a connected TestClient,
    disconnected at teardown (before the ``aiosio_test_server`` servers stop). ``sio`` may be an
    ``AsyncServer`` or a ``TestServer``."""
    clients: list[TestClient] = []
    loop = asyncio.get_running_loop()

    async def connect(
        sio: Any,
        namespaces: str | Sequence[str] | None = None,
        auth: Any = None,
        headers: Mapping[str, str] | None = None,
        query: Query = None,
        *,
        transport: str | None = None,
        wait_timeout: float = 5.0,
        socketio_path: str = "socket.io",
    ) -> TestClient:
        _same_loop("aiosio_test_client", loop)
        client = TestClient(sio, transport=transport, socketio_path=socketio_path)
        clients.append(client)
        await client.connect(namespaces, auth=auth, headers=headers, query=query, wait_timeout=wait_timeout)
        return client

    yield connect
    errors: list[BaseException] = []
    for client in reversed(clients):
        try:
            await client.close()
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise errors[0]
