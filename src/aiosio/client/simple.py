"""A simple, sequential Socket.IO client: python-socketio's ``AsyncSimpleClient`` API."""

from __future__ import annotations

import asyncio
import types
from collections import deque
from typing import Any

from aiosio import exceptions

from .async_client import AsyncClient, Dynamic, _State


class AsyncSimpleClient:
    """Connect, then ``emit``/``call``/``receive`` in sequence; usable as ``async with``.

    Positional and keyword arguments are passed to the underlying :class:`AsyncClient` (reconnection
    settings, ``serializer``, engine options, ...). It reconnects on its own; events emitted meanwhile
    are buffered, and :meth:`receive` keeps waiting across a reconnection. Once the connection has
    ended for good, every method raises :class:`~aiosio.exceptions.DisconnectedError`.
    """

    client_class = AsyncClient

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.client_args = args
        self.client_kwargs = kwargs
        self.client: AsyncClient | None = None
        self.namespace = "/"
        self._inbox: deque[list[Any]] = deque()
        self._arrived = asyncio.Event()

    @property
    def connected(self) -> bool:
        """True from a successful :meth:`connect` until the connection ends for good (reconnecting
        counts as connected, as in python-socketio)."""
        return self.client is not None and self.client._state is not _State.IDLE

    async def connect(
        self,
        url: Dynamic,
        headers: Dynamic = {},  # noqa: B006 - python-socketio's signature; never mutated
        auth: Dynamic = None,
        transports: str | list[str] | None = None,
        namespace: str = "/",
        socketio_path: str = "socket.io",
        wait_timeout: float = 5,
    ) -> None:
        """Connect to the server and join ``namespace``; see :meth:`AsyncClient.connect`.

        Raises :class:`~aiosio.exceptions.ConnectionError` if that fails.
        """
        if self.connected:
            raise RuntimeError("Already connected")
        self.namespace = namespace
        self._inbox.clear()
        self._arrived.clear()
        client = self.client_class(*self.client_args, **self.client_kwargs)

        def on_event(event: str, *args: Any) -> None:
            self._inbox.append([event, *args])
            self._arrived.set()

        client.on("*", on_event, namespace=namespace)
        await client.connect(
            url,
            headers=headers,
            auth=auth,
            transports=transports,
            namespaces=[namespace],
            socketio_path=socketio_path,
            wait_timeout=wait_timeout,
        )
        self.client = client

    @property
    def sid(self) -> str | None:
        """The session id in the namespace (it changes when the client reconnects)."""
        return self.client.get_sid(self.namespace) if self.client else None

    @property
    def transport(self) -> str:
        """``'polling'`` or ``'websocket'``, or ``''`` when not connected."""
        return (self.client.transport() or "") if self.client else ""

    def _client(self) -> AsyncClient:
        if self.client is None or not self.connected:
            raise exceptions.DisconnectedError("not connected")
        return self.client

    async def emit(self, event: str, data: Any = None) -> None:
        """Emit an event (a tuple ``data`` sends several arguments); buffered while reconnecting."""
        await self._client().emit(event, data, namespace=self.namespace)

    async def call(self, event: str, data: Any = None, timeout: float | None = 60) -> Any:
        """Emit an event and return the server's acknowledgement.

        Raises :class:`~aiosio.exceptions.TimeoutError` after ``timeout`` seconds, and
        :class:`~aiosio.exceptions.DisconnectedError` at once if the connection is lost meanwhile
        (python-socketio retries after reconnecting, which can run the server's handler twice).
        """
        return await self._client().call(event, data, namespace=self.namespace, timeout=timeout)

    async def receive(self, timeout: float | None = None) -> list[Any]:
        """The next event from the server, as ``[event, *args]``.

        Raises :class:`~aiosio.exceptions.TimeoutError` if none arrives within ``timeout`` seconds
        and :class:`~aiosio.exceptions.DisconnectedError` once the connection has ended for good.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._inbox:
            client = self._client()
            self._arrived.clear()
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            waiters = {loop.create_task(self._arrived.wait()), loop.create_task(client.wait())}
            try:
                done, _ = await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
                await asyncio.gather(*waiters, return_exceptions=True)
            if not done:
                raise exceptions.TimeoutError("no event received within the timeout")
        return self._inbox.popleft()

    async def disconnect(self) -> None:
        """Disconnect (and stop reconnecting)."""
        client, self.client = self.client, None
        if client is not None:
            await client.disconnect()

    async def __aenter__(self) -> AsyncSimpleClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self.disconnect()
