"""pytest fixtures for testing Socket.IO apps in-process (:mod:`aiosio.testing`).

Installed with aiosio as the ``aiosio`` plugin (a ``pytest11`` entry point), so a test only names a
fixture to use it; tests that do not are untouched. The fixtures are async (pytest-asyncio, in
``auto`` or ``strict`` mode) and function-scoped:

``aiosio_test_server``
    a factory: ``server = await aiosio_test_server(sio, app=None)`` starts ``sio`` (and its aiohttp
    ``app``, if given) as a :class:`~aiosio.testing.TestServer`; every one is stopped at teardown.
``aiosio_test_client``
    a factory: ``client = await aiosio_test_client(sio, auth=..., headers=..., query=...)``
    connects a :class:`~aiosio.testing.TestClient` to ``sio`` (an ``AsyncServer`` or a
    ``TestServer``); every one is disconnected at teardown.

Loading the plugin imports aiosio (as any test of an aiosio app does) and defines these two
fixtures, nothing else: no hooks, no options, no change to tests that do not name them.
``-p no:aiosio`` turns it off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import pytest

from .client import TestClient
from .server import TestServer

try:  # strict mode needs pytest-asyncio's own decorator; auto mode accepts it too
    import pytest_asyncio
except ImportError:  # pragma: no cover - then async fixtures need another async plugin (anyio...)
    _fixture: Any = pytest.fixture
else:
    _fixture = pytest_asyncio.fixture

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(fn: _F) -> _F:
    """A function-scoped async fixture (pytest-asyncio's decorator when it is installed)."""
    return cast(_F, _fixture(fn))


ServerFactory = Callable[..., Awaitable[TestServer]]
ClientFactory = Callable[..., Awaitable[TestClient]]


@_async_fixture
async def aiosio_test_server() -> AsyncIterator[ServerFactory]:
    """Factory: ``await aiosio_test_server(sio, app=None)`` -> a started TestServer, stopped at teardown."""
    servers: list[TestServer] = []

    async def start(sio: Any, app: Any = None) -> TestServer:
        server = TestServer(sio, app)
        await server.start()
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
async def aiosio_test_client() -> AsyncIterator[ClientFactory]:
    """Factory: ``await aiosio_test_client(sio, namespaces=..., auth=..., headers=..., query=...,
    transport=...)`` -> a connected TestClient, disconnected at teardown. ``sio`` may be an
    ``AsyncServer`` or a ``TestServer``."""
    clients: list[TestClient] = []

    async def connect(sio: Any, *, transport: str | None = None, **kwargs: Any) -> TestClient:
        if isinstance(sio, TestServer):
            sio = sio.sio
        client = TestClient(sio, transport=transport)
        clients.append(client)
        await client.connect(**kwargs)
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
