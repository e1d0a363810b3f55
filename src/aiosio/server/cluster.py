"""The server's side of cluster operations: Node's ``io.fetchSockets()``, ``socketsJoin``,
``socketsLeave``, ``disconnectSockets``, ``serverSideEmit`` (with and without acks) and
``serverCount`` with Pythonic names, the handlers of server-side events, and the back-interface
(:class:`~aiosio.adapters.base.AdapterHost`) an adapter uses to reach this server.

Every operation takes python-socketio's selection arguments (``to``: a sid, a room or a list of
them; ``skip_sid``: sids or rooms to leave out; ``namespace``) and goes through the adapter, so
it acts on every node of a cluster; with the in-memory adapter, on this process.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..adapters.base import Adapter, Answers, Selector
from ..engine.eager import start_task
from ..protocol.frames import Frame
from .handlers import Handler
from .remote import RemoteSocket

if TYPE_CHECKING:
    from ..engine.server import EngineCore
    from ..protocol.parser import Parser


class ClusterOps:
    """Cluster-wide operations of :class:`~aiosio.AsyncServer` (state it uses is set up there)."""

    logger: logging.Logger
    _adapter: Adapter
    _core: EngineCore
    _parser: Parser
    namespaces: Sequence[str] | str
    #: namespace -> event -> handler of server-side events (:meth:`on_server_event`).
    _server_handlers: dict[str, dict[str, Handler]]

    def on_server_event(
        self, event: str, handler: Handler | None = None, namespace: str | None = None
    ) -> Any:
        """Register a handler for an event other servers send with :meth:`server_side_emit` or
        :meth:`server_side_call` (Node's ``io.on(event)`` for ``serverSideEmit``); usable as a
        decorator. The handler gets the event's arguments (no sid: no client sent it); what it
        returns is its answer to :meth:`server_side_call`. Never called for this server's own
        emits."""
        ns = namespace or "/"

        def register(fn: Handler) -> Handler:
            self._server_handlers.setdefault(ns, {})[event] = fn
            return fn

        return register(handler) if handler is not None else register

    async def fetch_sockets(
        self,
        to: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        timeout: float | None = None,
    ) -> Answers[RemoteSocket]:
        """The sockets selected by ``to``/``skip_sid`` on every server (Node's ``fetchSockets``).

        Each is a :class:`~aiosio.server.remote.RemoteSocket` (sid, rooms, data, handshake; emit,
        join, leave, disconnect). Servers that do not answer within ``timeout`` seconds (5 by
        default) do not fail the call: what arrived is returned and ``missing`` counts them.
        """
        ns = namespace or "/"
        selector = Selector.of(to, skip_sid, timeout=timeout)
        infos = await self._adapter.fetch_sockets(ns, selector)
        server: Any = self
        return Answers((RemoteSocket(server, info) for info in infos), infos.missing, infos.missing_servers)

    async def sockets_join(
        self, rooms: str | Iterable[str], to: Any = None, skip_sid: Any = None, namespace: str | None = None
    ) -> None:
        """Put the selected sockets of every server in ``rooms`` (Node's ``socketsJoin``)."""
        names = [rooms] if isinstance(rooms, str) else list(rooms)
        await self._adapter.add_sockets(namespace or "/", Selector.of(to, skip_sid), names)

    async def sockets_leave(
        self, rooms: str | Iterable[str], to: Any = None, skip_sid: Any = None, namespace: str | None = None
    ) -> None:
        """Take the selected sockets of every server out of ``rooms`` (Node's ``socketsLeave``)."""
        names = [rooms] if isinstance(rooms, str) else list(rooms)
        await self._adapter.del_sockets(namespace or "/", Selector.of(to, skip_sid), names)

    async def disconnect_sockets(
        self, to: Any = None, skip_sid: Any = None, namespace: str | None = None, close: bool = False
    ) -> None:
        """Disconnect the selected sockets of every server (Node's ``disconnectSockets``);
        ``close`` also closes their connections."""
        await self._adapter.disconnect_sockets(namespace or "/", Selector.of(to, skip_sid), close)

    async def server_side_emit(self, event: str, *args: Any, namespace: str | None = None) -> None:
        """Send an event to every *other* server of the cluster (Node's ``serverSideEmit``); their
        :meth:`on_server_event` handlers get ``args``. Nobody answers; no-op on one server."""
        await self._adapter.server_side_emit(namespace or "/", event, args)

    async def server_side_call(
        self,
        event: str,
        *args: Any,
        namespace: str | None = None,
        timeout: float | None = None,
    ) -> Answers[Any]:
        """Send an event to every other server and wait for their answers (Node's
        ``serverSideEmitWithAck``): one per server whose handler answered, what it returned.

        Servers that do not answer within ``timeout`` seconds (None: the adapter's request timeout,
        5 s by default: ``AsyncRedisManager(request_timeout=)``) do not fail the call: ``missing``
        counts them (a server with no handler for the event never answers). ``[]`` on one server.
        """
        return await self._adapter.server_side_emit(
            namespace or "/", event, args, timeout=timeout, want_answers=True
        )

    async def server_count(self, namespace: str | None = None) -> int:
        """How many servers serve ``namespace`` (this one included): 1 without a cluster."""
        return await self._adapter.server_count(namespace or "/")


class AdapterHostView:
    """The :class:`~aiosio.adapters.base.AdapterHost` of one server: all its adapter may call."""

    __slots__ = ("_server",)

    def __init__(self, server: ClusterOps) -> None:
        self._server = server

    def encode_event(
        self, namespace: str, event: str, args: tuple[Any, ...], ack_id: int | None
    ) -> Sequence[Frame]:
        """Encode an EVENT with the server's packet codec."""
        return self._server._parser.encode_event(namespace, event, args, ack_id)

    def served_namespaces(self) -> list[str]:
        """The namespaces named in ``namespaces=`` or by a handler ('/' always)."""
        server: Any = self._server
        names = ["/"]
        if server.namespaces != "*":
            names.extend(server.namespaces)
        names.extend(server.handlers)
        names.extend(server.namespace_handlers)
        names.extend(self._server._server_handlers)
        return [n for n in dict.fromkeys(names) if n != "*"]

    def deliver_server_event(
        self, namespace: str, event: str, args: tuple[Any, ...], reply: Callable[[Any], None] | None
    ) -> bool:
        """Run the :meth:`ClusterOps.on_server_event` handler in a task; its result is the reply."""
        server = self._server
        handler = server._server_handlers.get(namespace, {}).get(event)
        if handler is None:
            return False

        async def run() -> Any:
            result = handler(*args)
            if inspect.isawaitable(result):
                result = await result
            return result

        def done(result: Any, exc: BaseException | None) -> None:
            if exc is not None:
                if not isinstance(exc, asyncio.CancelledError):
                    server.logger.error(
                        "server-side event %r handler failed",
                        event,
                        exc_info=(type(exc), exc, exc.__traceback__),
                    )
                return
            if reply is not None:
                try:
                    reply(result)
                except (TypeError, ValueError) as error:  # an answer the wire cannot carry
                    server.logger.error("server-side event %r: its answer cannot be sent: %s", event, error)

        start_task(server._core.loop, run(), done)
        return True
