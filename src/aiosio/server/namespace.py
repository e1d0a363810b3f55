"""Class-based namespace handlers: python-socketio's ``AsyncNamespace``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .handlers import positional_capacity

if TYPE_CHECKING:
    from .server import AsyncServer

#: Lifecycle events whose handlers may take fewer arguments than they are given (legacy
#: ``on_connect(sid, environ)`` without ``auth``, ``on_disconnect(sid)`` without ``reason``).
_TRIMMED_EVENTS = frozenset({"connect", "disconnect"})


class AsyncNamespace:
    """Handlers for one namespace as ``on_<event>`` methods; register with ``register_namespace``.

    The return value of an event method is the acknowledgement, as with function handlers. Override
    :meth:`trigger_event` to see every event of the namespace first (middleware, a catch-all); the
    server then calls it for every event, as python-socketio does. The helpers below wrap the
    server's methods with the same arguments and defaults, acting on this namespace unless told
    otherwise.
    """

    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace or "/"
        self.server: AsyncServer | None = None

    #: True when the class overrides :meth:`trigger_event` (set on registration; checked once).
    custom_dispatch = False

    def _set_server(self, server: AsyncServer) -> None:
        self.server = server
        self.custom_dispatch = type(self).trigger_event is not AsyncNamespace.trigger_event

    def is_asyncio_based(self) -> bool:
        """Always True."""
        return True

    def _srv(self) -> AsyncServer:
        if self.server is None:
            raise RuntimeError("namespace is not registered with a server")
        return self.server

    def handler_for(self, event: str) -> Callable[..., Any] | None:
        """The bound ``on_<event>`` method, if defined."""
        method = getattr(self, "on_" + (event or ""), None)
        return method if callable(method) else None

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Call ``on_<event>(*args)`` if defined and return its result (python-socketio's hook).

        ``on_connect`` and ``on_disconnect`` may take fewer arguments than given (no ``auth``, no
        ``reason``). An override may call ``await super().trigger_event(event, *args)``.
        """
        handler = self.handler_for(event)
        if handler is None:
            return None
        if event in _TRIMMED_EVENTS:
            capacity = positional_capacity(handler)
            if capacity < len(args):
                args = args[:capacity]
        result = handler(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def emit(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
        volatile: bool = False,
    ) -> None:
        """Emit to clients of this namespace (see :meth:`AsyncServer.emit`)."""
        await self._srv().emit(
            event,
            data,
            to=to,
            room=room,
            skip_sid=skip_sid,
            namespace=namespace or self.namespace,
            callback=callback,
            ignore_queue=ignore_queue,
            volatile=volatile,
        )

    async def send(
        self,
        data: Any,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """Send a ``message`` event (see :meth:`AsyncServer.send`)."""
        await self._srv().send(
            data,
            to=to,
            room=room,
            skip_sid=skip_sid,
            namespace=namespace or self.namespace,
            callback=callback,
            ignore_queue=ignore_queue,
        )

    async def call(
        self,
        event: str,
        data: Any = None,
        to: str | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float | None = None,
        ignore_queue: bool = False,
    ) -> Any:
        """Emit to one client and wait for its acknowledgement (see :meth:`AsyncServer.call`).

        As in python-socketio, the default ``timeout`` here is None (wait while the client is
        connected), where ``AsyncServer.call`` waits 60 seconds.
        """
        return await self._srv().call(
            event,
            data,
            to=to,
            sid=sid,
            namespace=namespace or self.namespace,
            timeout=timeout,
            ignore_queue=ignore_queue,
        )

    async def emit_with_ack(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        timeout: float | None = 60,
        volatile: bool = False,
    ) -> list[Any]:
        """Emit and wait for every recipient's ack (see :meth:`AsyncServer.emit_with_ack`)."""
        return await self._srv().emit_with_ack(
            event,
            data,
            to=to,
            room=room,
            skip_sid=skip_sid,
            namespace=namespace or self.namespace,
            timeout=timeout,
            volatile=volatile,
        )

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Put a client in a room."""
        await self._srv().enter_room(sid, room, namespace=namespace or self.namespace)

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Take a client out of a room."""
        await self._srv().leave_room(sid, room, namespace=namespace or self.namespace)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """Empty a room."""
        await self._srv().close_room(room, namespace=namespace or self.namespace)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """The rooms a client is in."""
        return self._srv().rooms(sid, namespace=namespace or self.namespace)

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[Any, Any]:
        """The user session of a client."""
        return await self._srv().get_session(sid, namespace=namespace or self.namespace)

    async def save_session(self, sid: str, session: dict[Any, Any], namespace: str | None = None) -> None:
        """Replace the user session of a client."""
        await self._srv().save_session(sid, session, namespace=namespace or self.namespace)

    def session(self, sid: str, namespace: str | None = None) -> Any:
        """Async context manager giving the user session of a client."""
        return self._srv().session(sid, namespace=namespace or self.namespace)

    async def disconnect(self, sid: str, namespace: str | None = None) -> None:
        """Disconnect a client from this namespace."""
        await self._srv().disconnect(sid, namespace=namespace or self.namespace)
