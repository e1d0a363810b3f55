"""One AsyncServer used by several tests: made ready for the running event loop, or refused with why.

Apps usually create their server once, at module level, as python-socketio's documentation does,
and pytest-asyncio gives each test a new event loop. A server's engine binds itself to the first
loop it runs on, and ``shutdown()`` makes it refuse new connections for good. Both are right for a
process serving one application; a test suite needs the server again in the next test, so the test
client and :class:`~aiosio.testing.TestServer` call :func:`ready_for_this_loop` first:

- a server bound to another loop, with no connection left, is bound to the running loop (its
  memory adapter, which holds nothing loop-bound, starts again there); one that still has
  connections there, or whose cluster adapter was started there (its Redis connections belong to
  that loop), cannot be: a :class:`RuntimeError` says so;
- a server that was shut down starts again when a :class:`~aiosio.testing.TestServer` starts it
  (``restart=True``), unless its adapter is a cluster one (Redis), which does not start again
  once closed (a :class:`RuntimeError` says so); a bare test client is refused with
  :class:`~aiosio.exceptions.ConnectionError` naming the shutdown, instead of an unexplained
  refused handshake.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .. import exceptions
from ..adapters.cluster import ClusterAdapter

if TYPE_CHECKING:
    from ..server.server import AsyncServer

#: Why a bare test client cannot connect to a server that was shut down.
SHUT_DOWN = (
    "the server was shut down (sio.shutdown(), or the TestServer / aiosio_test_server fixture that "
    "ran it stopped): start it again with TestServer(sio) or aiosio_test_server(sio), or make a "
    "new server for each test"
)


def ready_for_this_loop(sio: AsyncServer, *, restart: bool) -> None:
    """Make ``sio`` usable on the running loop (see the module text); ``restart`` reopens a server
    that was shut down."""
    core = sio.eio.core
    loop = asyncio.get_running_loop()
    init = sio._adapter_init
    if init is not None and init.get_loop() is not loop:
        if isinstance(sio._adapter, ClusterAdapter):
            raise RuntimeError(
                "this AsyncServer's adapter was started on another event loop (an earlier test's) "
                "and its connections belong to that loop: with a cluster adapter (Redis), make a new "
                "server (and client manager) for each test"
            )
        sio._adapter_init = None  # a memory adapter: init again here (it sets up nothing)
        sio._adapter_ready = False
    bound = core._loop
    if bound is not None and bound is not loop:
        if core.sessions:
            raise RuntimeError(
                f"this AsyncServer still has {len(core.sessions)} connection(s) on another event loop "
                "(an earlier test's, or another loop scope's): disconnect them before the loop ends "
                "(the aiosio_test_client fixture does), or make a new server for each test"
            )
        core._loop = None  # bound again on first use, to this loop
        core._tasks.clear()  # tasks of the other loop: that loop runs them, or they are gone
        core._farewells.clear()
    if sio._closing:
        if not restart:
            raise exceptions.ConnectionError(SHUT_DOWN)
        if isinstance(sio._adapter, ClusterAdapter):
            raise RuntimeError(
                "this AsyncServer was shut down, and its cluster adapter (Redis) does not start again "
                "once closed: make a new server (and client manager) for each test"
            )
        sio._closing = False
