"""Class-based namespaces for the client: ``on_<event>`` methods receive that namespace's events."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from .dispatch import disconnect_args

if TYPE_CHECKING:
    import asyncio

    from .async_client import AsyncClient


class AsyncClientNamespace:
    """Base class for class-based client namespaces, as python-socketio's ``AsyncClientNamespace``.

    Subclass it, define ``on_connect``, ``on_disconnect(reason)``, ``on_connect_error(data)`` and
    ``on_<event>(*args)`` methods (plain or ``async``), and pass an instance to
    :meth:`AsyncClient.register_namespace`. A handler's return value is the acknowledgement sent back
    when the server asked for one.
    """

    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace or "/"
        self.client: AsyncClient | None = None

    def is_asyncio_based(self) -> bool:
        """Always True: this namespace class is for the asyncio client."""
        return True

    def _set_client(self, client: AsyncClient) -> None:
        self.client = client

    def _client(self) -> AsyncClient:
        if self.client is None:
            raise RuntimeError("this namespace is not registered with a client")
        return self.client

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Call the ``on_<event>`` method if there is one and return its result.

        Override to route events differently (for example, one method for every event).
        """
        handler = getattr(self, "on_" + (event or ""), None)
        if handler is None:
            return None
        if event == "disconnect":
            args = disconnect_args(handler, args)
        result = handler(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        callback: Any = None,
        timeout: float | None = None,
    ) -> asyncio.Future[Any] | None:
        """:meth:`AsyncClient.emit`, defaulting to this namespace."""
        return await self._client().emit(
            event, data=data, namespace=namespace or self.namespace, callback=callback, timeout=timeout
        )

    async def send(self, data: Any, namespace: str | None = None, callback: Any = None) -> None:
        """:meth:`AsyncClient.send`, defaulting to this namespace."""
        await self._client().send(data, namespace=namespace or self.namespace, callback=callback)

    async def call(
        self, event: str, data: Any = None, namespace: str | None = None, timeout: float | None = None
    ) -> Any:
        """:meth:`AsyncClient.call`, defaulting to this namespace (no deadline unless ``timeout``)."""
        return await self._client().call(
            event, data=data, namespace=namespace or self.namespace, timeout=timeout
        )

    async def disconnect(self) -> None:
        """:meth:`AsyncClient.disconnect` (the whole connection, as in python-socketio)."""
        await self._client().disconnect()
