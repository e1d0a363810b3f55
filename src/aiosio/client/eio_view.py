"""``AsyncClient.eio``: the Engine.IO connection under python-engineio ``AsyncClient``'s names.

python-socketio's client keeps its python-engineio client in ``client.eio``, and applications read
it: ``sio.eio.sid``, ``sio.eio.transport()``, ``sio.eio.state``, ``sio.eio.current_transport``. This
view answers those from aiosio's own connection. It offers no ``connect``, ``disconnect``, ``send``,
``wait`` or ``on``: the Socket.IO client owns the connection, and driving it from underneath would
bypass namespaces, acknowledgements and reconnection (use the ``AsyncClient`` methods instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .async_client import AsyncClient
    from .engine import EngineConnection

_T = TypeVar("_T")


class EngineIOView:
    """Read-only facts about the client's current Engine.IO connection (None/empty without one)."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def _engine(self) -> EngineConnection | None:
        return self._client._engine

    def is_asyncio_based(self) -> bool:
        """Always True."""
        return True

    @property
    def sid(self) -> str | None:
        """The Engine.IO session id, or None when there is no connection."""
        engine = self._engine()
        return engine.sid if engine is not None else None

    @property
    def state(self) -> str:
        """``'connected'`` while a connection is open, else ``'disconnected'`` (python-engineio's words)."""
        engine = self._engine()
        return "connected" if engine is not None and engine.is_open else "disconnected"

    @property
    def current_transport(self) -> str | None:
        """``'polling'`` or ``'websocket'``, or None when there is no connection."""
        engine = self._engine()
        return (engine.transport or None) if engine is not None else None

    def transport(self) -> str | None:
        """The current transport's name (as :attr:`current_transport`)."""
        return self.current_transport

    @property
    def transports(self) -> list[str] | None:
        """The transports ``connect()`` was allowed to use, in order (None before any ``connect()``)."""
        chosen = self._client.connection_transports
        return list(chosen) if chosen is not None else None

    @property
    def upgrades(self) -> list[str] | None:
        """The upgrades the server offered in its handshake, or None when there is no connection."""
        engine = self._engine()
        handshake = engine.handshake if engine is not None else None
        return list(handshake.upgrades) if handshake is not None else None

    @property
    def ping_interval(self) -> float | None:
        """The server's ping interval in seconds, or None when there is no connection."""
        engine = self._engine()
        handshake = engine.handshake if engine is not None else None
        return handshake.ping_interval if handshake is not None else None

    @property
    def ping_timeout(self) -> float | None:
        """The server's ping timeout in seconds, or None when there is no connection."""
        engine = self._engine()
        handshake = engine.handshake if engine is not None else None
        return handshake.ping_timeout if handshake is not None else None

    def start_background_task(
        self, target: Callable[..., Coroutine[Any, Any, _T]], *args: Any, **kwargs: Any
    ) -> asyncio.Task[_T]:
        """:meth:`AsyncClient.start_background_task`."""
        return self._client.start_background_task(target, *args, **kwargs)

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)

    def create_queue(self, *args: Any, **kwargs: Any) -> asyncio.Queue[Any]:
        """An ``asyncio.Queue``."""
        return asyncio.Queue(*args, **kwargs)

    def create_event(self, *args: Any, **kwargs: Any) -> asyncio.Event:
        """An ``asyncio.Event``."""
        return asyncio.Event(*args, **kwargs)
