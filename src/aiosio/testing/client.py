"""The Socket.IO half of a test client: namespaces, events, acknowledgements, what was received."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import exceptions
from ..client.recovery import RecoveryState
from ..protocol.errors import ParseError
from ..protocol.frames import Frame
from ..protocol.parser import Parser
from ..protocol.socketio import Packet, PacketType
from .environ import Query, make_environ
from .events import Inbox, Received, ack_value
from .link import CLIENT_DISCONNECT, TRANSPORT_CLOSE, EngineLink, make_link

if TYPE_CHECKING:
    from ..server.server import AsyncServer

logger = logging.getLogger("aiosio.testing")

Handler = Callable[..., Any]

#: Why a namespace was disconnected by the server (a DISCONNECT packet), in the client's words.
SERVER_DISCONNECT = "server disconnect"
#: The server sent something this client could not decode.
PARSE_ERROR = "parse error"


class NamespaceRefusedError(exceptions.ConnectionError):
    """The server refused to connect a namespace (CONNECT_ERROR): ``str(error)`` is its message.

    ``namespace`` is the namespace refused, ``message`` the server's message and ``data`` the
    ``data`` it added (``ConnectionRefusedError("message", data)`` on the server), or None.
    """

    def __init__(self, namespace: str, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.namespace = namespace
        self.message = message
        self.data = data


def _as_args(data: Any) -> list[Any]:
    # python-socketio's rule: a tuple is several arguments, None is none, anything else is one.
    if isinstance(data, tuple):
        return list(data)
    if data is None:
        return []
    return [data]


def _refusal(namespace: str, error: Any) -> NamespaceRefusedError:
    if isinstance(error, dict):
        return NamespaceRefusedError(namespace, str(error.get("message", "")), error.get("data"))
    return NamespaceRefusedError(namespace, str(error))


class TestClient:
    """A Socket.IO client connected in-process to ``server`` (an :class:`aiosio.AsyncServer`).

    No socket and no thread: the connection is a session of the server's own engine (see
    :mod:`aiosio.testing.link`), so namespaces, connect handlers, auth, rooms, broadcasts, acks,
    session data, the adapter and disconnects behave as they do for a network client. The methods
    are named after :class:`aiosio.AsyncClient`'s; what the server sends is kept in
    :attr:`received` and returned, in order, by :meth:`receive`.

    ``transport`` is ``'websocket'`` (the default, when the server allows it) or ``'polling'``.
    """

    __test__ = False  # not a test class, whatever pytest makes of the name

    #: Disconnect reasons as this client reports them (the words of ``AsyncClient.reason``).
    CLIENT_DISCONNECT = CLIENT_DISCONNECT
    SERVER_DISCONNECT = SERVER_DISCONNECT
    TRANSPORT_CLOSE = TRANSPORT_CLOSE

    def __init__(
        self, server: AsyncServer, *, transport: str | None = None, socketio_path: str = "socket.io"
    ) -> None:
        self.server = server
        allowed = server.options.transports
        if transport is None:
            transport = "websocket" if "websocket" in allowed else "polling"
        elif transport not in allowed:
            raise ValueError(f"the server does not allow the {transport!r} transport (transports={allowed})")
        #: ``'websocket'`` or ``'polling'``: how this client reaches the server's engine.
        self.transport = transport
        self.socketio_path = socketio_path
        #: The server's own packet codec (its serializer and ``json`` module).
        self._parser: Parser = server._parser
        self._decoder = self._parser.decoder()
        self._handlers: dict[str, dict[str, Handler]] = {}
        self._inbox = Inbox()
        #: Connected namespaces and this client's sid in each.
        self.namespaces: dict[str, str] = {}
        #: Why each namespace was disconnected, once it was.
        self.disconnect_reasons: dict[str, str] = {}
        #: Why the client was last disconnected (from its last namespace), or None.
        self.disconnect_reason: str | None = None
        self._link: EngineLink | None = None
        self._joins: dict[str, asyncio.Future[Any]] = {}
        self._acks: dict[int, tuple[str, asyncio.Future[list[Any]]]] = {}
        self._ack_ids = itertools.count()
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Connection-state recovery (a server with ``connection_state_recovery``): pids, offsets.
        self._recovery = RecoveryState()

    # -- state --------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the connection is open and at least one namespace is connected."""
        return self._link is not None and self._link.is_open and bool(self.namespaces)

    @property
    def sid(self) -> str | None:
        """This client's Socket.IO sid in ``'/'`` (else in its first namespace): the ``sid`` the
        server's handlers get. (``AsyncClient.sid`` is the Engine.IO sid: see :attr:`eio_sid`.)"""
        if "/" in self.namespaces:
            return self.namespaces["/"]
        return next(iter(self.namespaces.values()), None)

    def get_sid(self, namespace: str | None = None) -> str | None:
        """The sid in ``namespace`` (default ``'/'``), or None if it is not connected."""
        return self.namespaces.get(namespace or "/")

    @property
    def eio_sid(self) -> str | None:
        """The Engine.IO session id of the connection (``sio.eio`` calls take it)."""
        return self._link.sid if self._link is not None else None

    @property
    def recovered(self) -> bool:
        """True if every namespace of this connection was recovered (connection-state recovery:
        same sids, rooms and session, missed events received), as ``AsyncClient.recovered``."""
        return bool(self.namespaces) and all(ns in self._recovery.recovered for ns in self.namespaces)

    @property
    def received(self) -> list[Received]:
        """Every event the server sent this client, in arrival order (also those :meth:`receive`
        returned already)."""
        return self._inbox.history

    # -- handlers -----------------------------------------------------------------------------------

    def on(self, event: str, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """Run ``handler(*args)`` (sync or async) when the server sends ``event``; its return value
        answers a server's ``call()`` (a tuple is several arguments). ``'*'`` catches every event,
        called as ``handler(event, *args)``. Usable as a decorator. Events are also recorded in
        :attr:`received` either way."""
        ns = namespace or "/"

        def register(fn: Handler) -> Handler:
            self._handlers.setdefault(ns, {})[event] = fn
            return fn

        return register if handler is None else register(handler)

    # -- connecting ---------------------------------------------------------------------------------

    async def connect(
        self,
        namespaces: str | Sequence[str] | None = None,
        auth: Any = None,
        headers: Mapping[str, str] | None = None,
        query: Query = None,
        wait_timeout: float = 5.0,
    ) -> None:
        """Open a connection and connect ``namespaces`` (default ``'/'``), sending ``auth`` with each.

        ``headers`` and ``query`` are what the server sees in the environ (``HTTP_*``, ``QUERY_STRING``)
        and in Node-style handshakes. After :meth:`lose_connection`, connecting again asks a server
        with connection-state recovery to recover the session (see :attr:`recovered`).

        Raises :class:`NamespaceRefusedError` (an :class:`aiosio.exceptions.ConnectionError`) with
        the server's message when a namespace is refused, and
        :class:`~aiosio.exceptions.ConnectionError` when the server refuses the connection or a
        namespace is not connected within ``wait_timeout`` seconds.
        """
        if self._link is not None and self._link.is_open:
            raise exceptions.ConnectionError("Already connected")
        if namespaces is None:
            names = ["/"]
        elif isinstance(namespaces, str):
            names = [namespaces]
        else:
            names = list(dict.fromkeys(namespaces))
        self.namespaces = {}
        self.disconnect_reasons = {}
        self.disconnect_reason = None
        self._decoder = self._parser.decoder()
        self._inbox.reopen()
        self._recovery.recovered.clear()
        environ = make_environ(
            path=self.socketio_path, transport=self.transport, headers=headers, query=query
        )
        link = make_link(self.transport, self.server.eio.core, self._on_message, self._on_close)
        self._link = link
        await link.open(environ)
        loop = asyncio.get_running_loop()
        self._joins = {ns: loop.create_future() for ns in names}
        frames: list[Frame] = []
        for ns in names:
            payload = self._recovery.connect_payload(ns, auth)
            frames.extend(self._parser.encode(Packet(PacketType.CONNECT, ns, payload)))
        await link.send(frames)
        await asyncio.wait(list(self._joins.values()), timeout=wait_timeout)
        refused: NamespaceRefusedError | None = None
        missing: list[str] = []
        for ns, join in self._joins.items():
            # Not answered, or the connection ended meanwhile (its close_reason says why).
            if not join.done() or join.exception() is not None:
                missing.append(ns)
            elif join.result() is not None and refused is None:
                refused = _refusal(ns, join.result())
        self._joins = {}
        if refused is None and not missing and link.is_open:
            return
        await self._abandon()
        if refused is not None:
            raise refused
        if link.close_reason not in (None, CLIENT_DISCONNECT):
            raise exceptions.ConnectionError(f"Connection lost while connecting ({link.close_reason})")
        raise exceptions.ConnectionError(
            f"Timed out after {wait_timeout}s waiting for namespaces: " + ", ".join(missing)
        )

    async def _abandon(self) -> None:
        """A failed connect: leave what joined, close the connection (no reason recorded)."""
        link = self._link
        if link is None:
            return
        if link.is_open:
            frames: list[Frame] = []
            for ns in self.namespaces:
                frames.extend(self._parser.encode(Packet(PacketType.DISCONNECT, ns)))
            if frames:
                with contextlib.suppress(exceptions.DisconnectedError):  # the server closed it
                    await link.send(frames)
            link.hang_up()
        await link.aclose()
        self.namespaces = {}
        self.disconnect_reasons = {}
        self.disconnect_reason = None

    # -- sending ------------------------------------------------------------------------------------

    def _connected_link(self, namespace: str) -> EngineLink:
        link = self._link
        if link is None or not link.is_open or namespace not in self.namespaces:
            raise exceptions.BadNamespaceError(f"{namespace} is not a connected namespace.")
        return link

    async def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        callback: Handler | None = None,
    ) -> None:
        """Send ``event`` with ``data`` (a tuple is several arguments; ``bytes`` travel as binary).

        ``callback(*args)`` is called with the server's acknowledgement when it arrives. Returns
        once the server's engine has taken the packet (its handler may still be running: see
        :meth:`wait_idle`). Raises :class:`~aiosio.exceptions.BadNamespaceError` if ``namespace``
        (default ``'/'``) is not connected.
        """
        ns = namespace or "/"
        link = self._connected_link(ns)
        if callback is None:
            await link.send(self._parser.encode_event(ns, event, _as_args(data), None))
            return
        ack_id, future = self._expect_ack(ns)

        def answered(done: asyncio.Future[list[Any]]) -> None:
            if not done.cancelled() and done.exception() is None:
                self._spawn(self._run(callback, done.result()))

        future.add_done_callback(answered)
        await link.send(self._parser.encode_event(ns, event, _as_args(data), ack_id))

    async def send(self, data: Any, namespace: str | None = None, callback: Handler | None = None) -> None:
        """Emit a ``'message'`` event."""
        await self.emit("message", data, namespace, callback)

    async def call(
        self, event: str, data: Any = None, namespace: str | None = None, timeout: float | None = 5.0
    ) -> Any:
        """Emit ``event`` and return the server's acknowledgement (one argument as is, several as
        a tuple, none as None). Raises :class:`~aiosio.exceptions.TimeoutError` after ``timeout``
        seconds and :class:`~aiosio.exceptions.DisconnectedError` if the connection ends first."""
        ns = namespace or "/"
        link = self._connected_link(ns)
        ack_id, future = self._expect_ack(ns)
        try:
            await link.send(self._parser.encode_event(ns, event, _as_args(data), ack_id))
            try:
                args = await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise exceptions.TimeoutError(f"no acknowledgement of {event!r} within {timeout}s") from None
        finally:
            self._acks.pop(ack_id, None)
        return ack_value(args)

    def _expect_ack(self, namespace: str) -> tuple[int, asyncio.Future[list[Any]]]:
        ack_id = next(self._ack_ids)
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._acks[ack_id] = (namespace, future)
        return ack_id, future

    # -- receiving ----------------------------------------------------------------------------------

    async def receive(
        self, event: str | None = None, namespace: str | None = None, timeout: float | None = 5.0
    ) -> Received:
        """The oldest event not returned yet (only ``event`` in ``namespace``, when given: others
        stay for later calls), waiting up to ``timeout`` seconds for one.

        Raises :class:`~aiosio.exceptions.TimeoutError` when none arrives in time, and
        :class:`~aiosio.exceptions.DisconnectedError` at once when the client is disconnected and
        none is left.
        """
        return await self._inbox.take(event, namespace, timeout)

    async def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until the server runs no handler for this connection (events, connect and disconnect
        handlers) and holds none back: what was sent so far has been handled.

        Raises :class:`~aiosio.exceptions.TimeoutError` after ``timeout`` seconds.
        """
        link = self._link
        session = link.session if link is not None else None
        if session is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while session.inflight or session.at_capacity:
            if loop.time() >= deadline:
                raise exceptions.TimeoutError(
                    f"the server still runs {session.inflight} handler(s) for this client after {timeout}s"
                )
            await asyncio.sleep(0.001)
        await asyncio.sleep(0)

    def pause_reading(self) -> None:
        """Stop reading what the server sends, as a stalled or slow client would.

        It piles up on the server's side (the WebSocket sink's buffer; on polling, the queue, once
        the GET already waiting is answered), where the server's limits apply: ``volatile=True``
        emits are dropped once it passes ``volatile_threshold`` (on polling, while no GET waits),
        and past ``max_queue_bytes`` (or ``max_queue_packets`` on polling) the server closes the
        connection as a slow consumer. PINGs are not answered meanwhile either."""
        if self._link is not None:
            self._link.pause_reading()

    def resume_reading(self) -> None:
        """Read again (what piled up first, in order)."""
        if self._link is not None:
            self._link.resume_reading()

    def _on_message(self, data: str | bytes) -> None:
        try:
            packet = self._decoder.feed(data)
        except ParseError as exc:
            logger.warning("the server sent a packet this client cannot decode: %s", exc)
            if self._link is not None:
                self._link.hang_up(PARSE_ERROR)
            return
        if packet is None:
            return
        ptype, ns = packet.type, packet.namespace
        if ptype == PacketType.EVENT:
            if packet.id is None and self._recovery.pids:
                self._recovery.on_event(ns, packet.data)  # the recovery offset is not the app's
            self._on_event(ns, packet.data, packet.id)
        elif ptype == PacketType.ACK:
            pending = self._acks.pop(packet.id, None) if packet.id is not None else None
            if pending is not None and not pending[1].done():
                pending[1].set_result(packet.data)
        elif ptype == PacketType.CONNECT:
            join = self._joins.get(ns)
            if join is not None and not join.done():
                reply: Any = packet.data
                self.namespaces[ns] = str(reply.get("sid", "")) if isinstance(reply, dict) else ""
                self._recovery.on_connect(ns, reply)
                join.set_result(None)
        elif ptype == PacketType.CONNECT_ERROR:
            join = self._joins.get(ns)
            if join is not None and not join.done():
                join.set_result(packet.data if packet.data is not None else "")
        elif ptype == PacketType.DISCONNECT:
            self._namespace_gone(ns, SERVER_DISCONNECT)
            if not self.namespaces and self._link is not None:
                # As AsyncClient does: a connection left with no namespace is closed.
                self._link.hang_up(SERVER_DISCONNECT)

    def _on_event(self, ns: str, data: list[Any], ack_id: int | None) -> None:
        event, args = data[0], data[1:]
        reply = None if ack_id is None else self._replier(ns, ack_id)
        item = Received(event, args, ns, ack_id, reply)
        self._inbox.put(item)
        handlers = self._handlers.get(ns, {})
        handler = handlers.get(event)
        call_args: list[Any] = args
        if handler is None:
            handler = handlers.get("*")
            call_args = [event, *args]
        if handler is not None:
            self._spawn(self._handle(item, handler, call_args))

    def _replier(self, ns: str, ack_id: int) -> Callable[[list[Any]], Any]:
        async def reply(args: list[Any]) -> None:
            link = self._link
            if link is None or not link.is_open:
                raise exceptions.DisconnectedError("the client is disconnected")
            await link.send(self._parser.encode(Packet(PacketType.ACK, ns, args, ack_id)))

        return reply

    async def _handle(self, item: Received, handler: Handler, args: list[Any]) -> None:
        try:
            result = await self._run(handler, args)
        except Exception:
            logger.exception("the test client's handler for %r failed", item.event)
            return
        if item.wants_ack:
            await item.ack(*_as_args(result))

    @staticmethod
    async def _run(handler: Handler, args: list[Any]) -> Any:
        result = handler(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- disconnecting ------------------------------------------------------------------------------

    def _namespace_gone(self, ns: str, reason: str) -> None:
        if self.namespaces.pop(ns, None) is None:
            return
        self.disconnect_reasons[ns] = reason
        self.disconnect_reason = reason
        self._fail_acks(lambda n: n == ns, f"namespace {ns} was disconnected ({reason})")
        if not self.namespaces:
            self._inbox.close(reason)

    def _fail_acks(self, which: Callable[[str], bool], why: str) -> None:
        for ack_id, (ns, future) in list(self._acks.items()):
            if which(ns):
                del self._acks[ack_id]
                if not future.done():
                    future.set_exception(exceptions.DisconnectedError(why))

    def _on_close(self, reason: str) -> None:
        """The connection ended: every namespace is disconnected with ``reason``."""
        for ns in list(self.namespaces):
            self._namespace_gone(ns, reason)
        for join in self._joins.values():
            if not join.done():
                join.set_exception(exceptions.DisconnectedError(f"the connection closed ({reason})"))
        self._fail_acks(lambda _ns: True, f"the connection closed ({reason})")
        self._inbox.close(reason)

    async def disconnect(self, namespace: str | None = None, wait: bool = True) -> None:
        """Leave ``namespace``, or every namespace and close the connection (the default).

        The server's disconnect handlers see ``'client disconnect'``. With ``wait`` (the default)
        this returns once the server has run them (see :meth:`wait_idle`). Does nothing if not
        connected.
        """
        link = self._link
        if link is None or not link.is_open:
            return
        names = list(self.namespaces) if namespace is None else [namespace]
        frames: list[Frame] = []
        for ns in names:
            if ns in self.namespaces:
                frames.extend(self._parser.encode(Packet(PacketType.DISCONNECT, ns)))
        if frames:
            with contextlib.suppress(exceptions.DisconnectedError):  # the server closed it meanwhile
                await link.send(frames)
        for ns in names:
            self._namespace_gone(ns, CLIENT_DISCONNECT)
        if not self.namespaces:
            self._recovery.forget()  # left on purpose: nothing to recover
            link.hang_up(CLIENT_DISCONNECT)
            await link.aclose()
        if wait:
            await self.wait_idle()

    async def lose_connection(self) -> None:
        """End the connection without a word, as a closed laptop lid or a dropped network would:
        the server's disconnect handlers see ``'transport close'``. A later :meth:`connect` asks
        to recover the session (connection-state recovery)."""
        link = self._link
        if link is None or not link.is_open:
            return
        link.drop()
        await link.aclose()

    async def close(self) -> None:
        """Disconnect if connected, wait for the server's handlers of this connection to finish
        (:meth:`wait_idle`), and stop this client's handler tasks."""
        await self.disconnect(wait=False)
        await self.wait_idle()
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._link is not None:
            await self._link.aclose()

    async def __aenter__(self) -> TestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _retrieve(future: asyncio.Future[Any]) -> None:
    # An ack future nobody awaits any more (a timed-out call) must not log "never retrieved".
    if not future.cancelled():
        future.exception()
