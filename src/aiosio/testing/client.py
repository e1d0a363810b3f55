"""The Socket.IO half of a test client: namespaces, events, acknowledgements, what was received."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import exceptions
from ..client.dispatch import LIFECYCLE_EVENTS, disconnect_args, find_handler
from ..client.recovery import RecoveryState
from ..protocol.errors import ParseError
from ..protocol.frames import Frame
from ..protocol.parser import Parser
from ..protocol.socketio import Packet, PacketType
from ..server.server import AsyncServer
from .binding import ready_for_this_loop
from .environ import Query, make_environ
from .events import NOT_CONNECTED, Inbox, Received, ack_value
from .link import CLIENT_DISCONNECT, TRANSPORT_CLOSE, EngineLink, make_link

if TYPE_CHECKING:
    from .server import TestServer

logger = logging.getLogger("aiosio.testing")

Handler = Callable[..., Any]

#: Why a namespace was disconnected by the server (a DISCONNECT packet), in the client's words.
SERVER_DISCONNECT = "server disconnect"
#: The server sent something this client could not decode.
PARSE_ERROR = "parse error"
#: How long leaving waits for the DISCONNECT packet to be taken by a server that is not reading
#: (after that the connection is closed anyway; a namespace left alone gets it once it reads).
LEAVE_SEND_WAIT = 1.0


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


def _server_of(server: Any) -> AsyncServer:
    """The AsyncServer itself, given one or a TestServer running one."""
    if isinstance(server, AsyncServer):
        return server
    inner = getattr(server, "sio", None)
    if isinstance(inner, AsyncServer):
        return inner
    raise TypeError(f"expected an aiosio.AsyncServer or an aiosio.testing.TestServer, not {server!r}")


def _namespace_list(namespaces: str | Sequence[str]) -> list[str]:
    names = [namespaces] if isinstance(namespaces, str) else list(dict.fromkeys(namespaces))
    if not names:
        raise ValueError("no namespace to connect: give None (the default), a namespace or a list of them")
    for ns in names:
        if not isinstance(ns, str) or not ns.startswith("/"):
            raise ValueError(f"a namespace is a string starting with '/', not {ns!r}")
    return names


def _refusal(namespace: str, error: Any) -> NamespaceRefusedError:
    if isinstance(error, dict):
        return NamespaceRefusedError(namespace, str(error.get("message", "")), error.get("data"))
    return NamespaceRefusedError(namespace, str(error))


class TestClient:
    """A Socket.IO client connected in-process to ``server`` (an :class:`aiosio.AsyncServer`, or a
    :class:`~aiosio.testing.TestServer` running one).

    No socket and no thread: the connection is a session of the server's own engine (see
    :mod:`aiosio.testing.link`), so namespaces, connect handlers, auth, rooms, broadcasts, acks,
    session data, the adapter and disconnects behave as they do for a network client. The methods
    are named after :class:`aiosio.AsyncClient`'s (``on``, ``event``, ``connect``, ``emit``,
    ``call``, ``disconnect``, ``transport()``, ``get_sid``, ``is_recovered``; the lifecycle
    handlers ``connect()``, ``connect_error(data)`` and ``disconnect(reason)`` are called as it
    calls them); what the server sends is also kept in :attr:`received` and returned, in order, by
    :meth:`receive`.

    ``transport`` is ``'websocket'`` (the default, when the server allows it) or ``'polling'``;
    ``socketio_path`` is the endpoint path the server sees in the environ (``PATH_INFO``).
    """

    __test__ = False  # not a test class, whatever pytest makes of the name

    #: Disconnect reasons as this client reports them (the words of ``AsyncClient.reason``).
    CLIENT_DISCONNECT = CLIENT_DISCONNECT
    SERVER_DISCONNECT = SERVER_DISCONNECT
    TRANSPORT_CLOSE = TRANSPORT_CLOSE

    def __init__(
        self,
        server: AsyncServer | TestServer,
        *,
        transport: str | None = None,
        socketio_path: str = "socket.io",
    ) -> None:
        sio = _server_of(server)
        self.server = sio
        allowed = sio.options.transports
        if transport is None:
            transport = "websocket" if "websocket" in allowed else "polling"
        elif transport not in ("websocket", "polling"):
            raise ValueError(f"unknown transport {transport!r}; use 'websocket' or 'polling'")
        elif transport not in allowed:
            raise ValueError(f"the server does not allow the {transport!r} transport (transports={allowed})")
        self._transport = transport
        self.socketio_path = socketio_path
        #: The server's own packet codec (its serializer and ``json`` module).
        self._parser: Parser = sio._parser
        self._decoder = self._parser.decoder()
        #: Handlers by namespace and event, as ``AsyncClient.handlers``.
        self.handlers: dict[str, dict[str, Handler]] = {}
        self._inbox = Inbox()
        #: Connected namespaces and this client's sid in each.
        self.namespaces: dict[str, str] = {}
        #: Why each namespace was disconnected, once it was.
        self.disconnect_reasons: dict[str, str] = {}
        #: Why the client was last disconnected (from its last namespace), or None.
        self.disconnect_reason: str | None = None
        self._link: EngineLink | None = None
        self._joins: dict[str, asyncio.Future[Any]] = {}
        #: Namespaces whose async ``connect`` handler is still running (their events wait for it).
        self._connecting: dict[str, asyncio.Task[Any]] = {}
        #: disconnect() was called while connect() was waiting.
        self._aborted = False
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

    def transport(self) -> str:
        """``'websocket'`` or ``'polling'``: how this client reaches the server's engine (a method, as
        ``AsyncClient.transport()``; it never changes, there is no upgrade)."""
        return self._transport

    @property
    def recovered(self) -> bool:
        """True if every namespace of this connection was recovered (connection-state recovery:
        same sids, rooms and session, missed events received), as ``AsyncClient.recovered``."""
        return bool(self.namespaces) and all(ns in self._recovery.recovered for ns in self.namespaces)

    def is_recovered(self, namespace: str | None = None) -> bool:
        """True if ``namespace`` (default ``'/'``) recovered its session on this connection."""
        return (namespace or "/") in self._recovery.recovered

    @property
    def received(self) -> list[Received]:
        """Every event the server sent this client, in arrival order (also those :meth:`receive`
        returned already)."""
        return self._inbox.history

    # -- handlers -----------------------------------------------------------------------------------

    def on(self, event: str, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """Run ``handler`` (sync or async) when the server sends ``event``, as ``AsyncClient.on``:
        its return value answers a server's ``call()`` (a tuple is several arguments); ``'*'``
        catches every other event, called as ``handler(event, *args)``; ``'*'`` as the namespace
        catches the namespaces without handlers. The lifecycle events are ``connect()``,
        ``connect_error(data)`` and ``disconnect(reason)``. Usable as a decorator. Events are also
        recorded in :attr:`received` either way."""
        ns = namespace or "/"

        def register(fn: Handler) -> Handler:
            self.handlers.setdefault(ns, {})[event] = fn
            return fn

        return register if handler is None else register(handler)

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Decorator registering a handler named after the function: ``@client.event`` or
        ``@client.event(namespace='/chat')``."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__, args[0])

        def register(fn: Handler) -> Handler:
            return self.on(fn.__name__, fn, *args, **kwargs)  # type: ignore[no-any-return]

        return register

    # -- connecting ---------------------------------------------------------------------------------

    async def connect(
        self,
        namespaces: str | Sequence[str] | None = None,
        auth: Any = None,
        headers: Mapping[str, str] | None = None,
        query: Query = None,
        wait_timeout: float = 5.0,
    ) -> None:
        """Open a connection and connect ``namespaces``, sending ``auth`` with each.

        ``namespaces`` defaults, as ``AsyncClient.connect``'s, to those with handlers (else
        ``'/'``); each must start with ``'/'`` (:class:`ValueError`). ``headers`` and ``query`` are
        what the server sees in the environ (``HTTP_*``, ``QUERY_STRING``) and in Node-style
        handshakes. After :meth:`lose_connection`, connecting again asks a server with
        connection-state recovery to recover the session (see :attr:`recovered`).

        Returns once every namespace is connected and its ``connect`` handler ran. Raises
        :class:`NamespaceRefusedError` (an :class:`aiosio.exceptions.ConnectionError`) with the
        server's message when a namespace is refused, and
        :class:`~aiosio.exceptions.ConnectionError` when the server refuses the connection, the
        connection ends, :meth:`disconnect` is called meanwhile, or the handshake and the
        namespaces take more than ``wait_timeout`` seconds together. Whatever fails (an error, a
        cancellation), nothing stays open.
        """
        if self._link is not None and self._link.is_open:
            raise exceptions.ConnectionError("Already connected")
        if namespaces is None:
            found = set(self.handlers)
            found.discard("*")
            names = sorted(found) or ["/"]
        else:
            names = _namespace_list(namespaces)
        frames: list[Frame] = []
        for ns in names:  # an auth the serializer cannot encode fails here, before anything opens
            payload = self._recovery.connect_payload(ns, auth)
            frames.extend(self._parser.encode(Packet(PacketType.CONNECT, ns, payload)))
        ready_for_this_loop(self.server, restart=False)
        self.namespaces = {}
        self.disconnect_reasons = {}
        self.disconnect_reason = None
        self._aborted = False
        self._decoder = self._parser.decoder()
        self._inbox.reopen(names)
        self._recovery.recovered.clear()
        environ = make_environ(
            path=self.socketio_path, transport=self._transport, headers=headers, query=query
        )
        link = make_link(self._transport, self.server.eio.core, self._on_message, self._on_close)
        self._link = link
        try:
            missing, refused = await self._open_and_join(link, environ, names, frames, wait_timeout)
        except BaseException:
            await asyncio.shield(self._abandon())
            raise
        if refused is None and not missing and link.is_open:
            return
        await self._abandon()
        if refused is not None:
            raise refused
        if self._aborted:
            raise exceptions.ConnectionError("Disconnected while connecting (disconnect() was called)")
        if link.close_reason not in (None, CLIENT_DISCONNECT):
            raise exceptions.ConnectionError(f"Connection lost while connecting ({link.close_reason})")
        raise exceptions.ConnectionError(
            f"Timed out after {wait_timeout}s waiting for namespaces: " + ", ".join(missing)
        )

    async def _open_and_join(
        self,
        link: EngineLink,
        environ: dict[str, Any],
        names: list[str],
        frames: list[Frame],
        wait_timeout: float,
    ) -> tuple[list[str], NamespaceRefusedError | None]:
        """The handshake, then every namespace's CONNECT, within ``wait_timeout``: the namespaces not
        connected and the first refusal."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_timeout
        try:
            async with asyncio.timeout_at(deadline):
                await link.open(environ)
        except TimeoutError:
            raise exceptions.ConnectionError(
                f"Timed out after {wait_timeout}s opening the connection (the server's handshake did "
                "not finish: it waits for its adapter's init, e.g. a Redis that does not answer)"
            ) from None
        except exceptions.ConnectionError as exc:
            for ns in names:
                await self._trigger("connect_error", ns, str(exc))
            raise
        self._joins = {ns: loop.create_future() for ns in names}
        for join in self._joins.values():
            join.add_done_callback(_retrieve)
        await link.send(frames)
        await asyncio.wait(list(self._joins.values()), timeout=max(0.0, deadline - loop.time()))
        refused: NamespaceRefusedError | None = None
        missing: list[str] = []
        for ns, join in self._joins.items():
            # Not answered, or the connection ended meanwhile (its close_reason says why).
            if not join.done() or join.exception() is not None:
                missing.append(ns)
            elif join.result() is not None and refused is None:
                refused = _refusal(ns, join.result())
        self._joins = {}
        return missing, refused

    async def _abandon(self) -> None:
        """A failed connect: leave what joined (its disconnect handlers run with ``'client
        disconnect'``), close the connection; no reason is recorded."""
        joins, self._joins = self._joins, {}
        for join in joins.values():
            if not join.done():
                join.set_exception(exceptions.ConnectionError("the connection attempt was abandoned"))
        link = self._link
        if link is None:
            return
        if link.is_open:
            left = list(self.namespaces)
            frames: list[Frame] = []
            for ns in left:
                frames.extend(self._parser.encode(Packet(PacketType.DISCONNECT, ns)))
            if frames:
                await self._send_leave(link, frames)
            for ns in left:
                self._namespace_gone(ns, CLIENT_DISCONNECT)
            link.hang_up()
        await link.aclose()
        self._inbox.close(NOT_CONNECTED)
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
        timeout: float | None = None,
    ) -> asyncio.Future[Any] | None:
        """Send ``event`` with ``data`` (a tuple is several arguments; ``bytes`` travel as binary).

        As ``AsyncClient.emit``: with ``callback`` or ``timeout``, an acknowledgement is asked for and
        a future is returned that resolves to it (as :meth:`call` returns it) or fails with
        :class:`~aiosio.exceptions.TimeoutError` after ``timeout`` seconds or
        :class:`~aiosio.exceptions.DisconnectedError`; ``callback(*args)`` is called on success
        only (its errors are logged). Returns once the server's engine has taken the packet (its
        handler may still be running: see :meth:`wait_idle`). Raises
        :class:`~aiosio.exceptions.BadNamespaceError` if ``namespace`` (default ``'/'``) is not
        connected.
        """
        ns = namespace or "/"
        link = self._connected_link(ns)
        if callback is None and timeout is None:
            await link.send(self._parser.encode_event(ns, event, _as_args(data), None))
            return None
        loop = asyncio.get_running_loop()
        ack_id, future = self._expect_ack(ns)
        result: asyncio.Future[Any] = loop.create_future()
        result.add_done_callback(_retrieve)
        timer = (
            None if timeout is None else loop.call_later(timeout, self._ack_timed_out, ack_id, event, timeout)
        )

        def answered(done: asyncio.Future[list[Any]]) -> None:
            if timer is not None:
                timer.cancel()
            if result.done():
                return
            if done.cancelled():
                result.cancel()
            elif done.exception() is not None:
                result.set_exception(done.exception())  # type: ignore[arg-type]
            else:
                result.set_result(ack_value(done.result()))
                if callback is not None:
                    self._spawn(self._run_logged(callback, done.result(), f"callback of {event!r}"))

        future.add_done_callback(answered)
        await link.send(self._parser.encode_event(ns, event, _as_args(data), ack_id))
        return result

    def _ack_timed_out(self, ack_id: int, event: str, timeout: float) -> None:
        pending = self._acks.pop(ack_id, None)
        if pending is not None and not pending[1].done():
            pending[1].set_exception(
                exceptions.TimeoutError(f"no acknowledgement of {event!r} within {timeout}s")
            )

    async def send(self, data: Any, namespace: str | None = None, callback: Handler | None = None) -> None:
        """Emit a ``'message'`` event."""
        await self.emit("message", data, namespace, callback)

    async def call(
        self, event: str, data: Any = None, namespace: str | None = None, timeout: float | None = 5.0
    ) -> Any:
        """Emit ``event`` and return the server's acknowledgement (one argument as is, several as
        a tuple, none as None). Raises :class:`~aiosio.exceptions.TimeoutError` after ``timeout``
        seconds, counted from the call (also while a server that stopped reading has not taken the
        packet yet), and :class:`~aiosio.exceptions.DisconnectedError` if the connection ends first."""
        ns = namespace or "/"
        link = self._connected_link(ns)
        ack_id, future = self._expect_ack(ns)
        try:
            async with asyncio.timeout(timeout):
                await link.send(self._parser.encode_event(ns, event, _as_args(data), ack_id))
                args = await future
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
        :class:`~aiosio.exceptions.DisconnectedError` at once when none is left and none can come:
        the client is not connected (never was, or was disconnected), or ``namespace`` is not
        connected (it was left while others stay).
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
                self._lifecycle("connect", ns, (), join, None)
        elif ptype == PacketType.CONNECT_ERROR:
            join = self._joins.get(ns)
            if join is not None and not join.done():
                self._inbox.close_namespace(ns, "refused")
                refusal = packet.data if packet.data is not None else ""
                self._lifecycle("connect_error", ns, (packet.data,), join, refusal)
        elif ptype == PacketType.DISCONNECT:
            self._namespace_gone(ns, SERVER_DISCONNECT)
            if not self.namespaces and self._link is not None:
                # As AsyncClient does: a connection left with no namespace is closed.
                self._link.hang_up(SERVER_DISCONNECT)

    def _lifecycle(
        self, event: str, ns: str, args: tuple[Any, ...], join: asyncio.Future[Any], result: Any
    ) -> None:
        """Run the ``connect``/``connect_error`` handler, then settle the namespace's join with
        ``result``: connect() returns once the handler ran, as AsyncClient's does."""

        def settle() -> None:
            self._connecting.pop(ns, None)
            if not join.done():
                join.set_result(result)

        task = self._fire(event, ns, args)
        if task is None:
            settle()
            return
        if event == "connect":
            self._connecting[ns] = task
        task.add_done_callback(lambda _task: settle())

    def _fire(self, event: str, ns: str, args: tuple[Any, ...]) -> asyncio.Task[Any] | None:
        """Call a lifecycle handler now if it is plain, else start it as a task (returned); its
        errors are logged, as AsyncClient's are."""
        handler, hargs = find_handler(self.handlers, event, ns, args)
        if handler is None:
            return None
        if event == "disconnect":
            hargs = disconnect_args(handler, hargs)
        try:
            result: Any = handler(*hargs)
        except Exception:
            logger.exception("the test client's %r handler of namespace %s failed", event, ns)
            return None
        if not inspect.isawaitable(result):
            return None
        return self._spawn(self._await_logged(result, f"{event!r} handler of namespace {ns}"))

    async def _trigger(self, event: str, ns: str, *args: Any) -> None:
        """Run a lifecycle handler to its end (errors logged)."""
        task = self._fire(event, ns, args)
        if task is not None:
            await asyncio.wait([task])

    def _on_event(self, ns: str, data: list[Any], ack_id: int | None) -> None:
        event, args = data[0], data[1:]
        reply = None if ack_id is None else self._replier(ns, ack_id)
        item = Received(event, args, ns, ack_id, reply)
        self._inbox.put(item)
        if event in LIFECYCLE_EVENTS:
            return  # the server may name an event so; handlers of that name are the lifecycle's
        handler, call_args = find_handler(self.handlers, event, ns, tuple(args))
        if handler is not None:
            self._spawn(self._handle(item, handler, call_args, self._connecting.get(ns)))

    def _replier(self, ns: str, ack_id: int) -> Callable[[list[Any]], Any]:
        async def reply(args: list[Any]) -> None:
            link = self._link
            if link is None or not link.is_open:
                raise exceptions.DisconnectedError("the client is disconnected")
            await link.send(self._parser.encode(Packet(PacketType.ACK, ns, args, ack_id)))

        return reply

    async def _handle(
        self, item: Received, handler: Handler, args: tuple[Any, ...], after: asyncio.Task[Any] | None
    ) -> None:
        if after is not None:
            await asyncio.wait([after])  # the namespace's connect handler first, as AsyncClient does
        try:
            result = await self._run(handler, args)
        except Exception:
            logger.exception("the test client's handler for %r failed", item.event)
            return
        if item.wants_ack:
            # Gone meanwhile (the server disconnected the client): nobody waits for the answer.
            with contextlib.suppress(exceptions.DisconnectedError):
                await item.ack(*_as_args(result))

    @staticmethod
    async def _run(handler: Handler, args: Sequence[Any]) -> Any:
        result = handler(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _run_logged(self, handler: Handler, args: Sequence[Any], what: str) -> None:
        try:
            await self._run(handler, args)
        except Exception:
            logger.exception("the test client's %s failed", what)

    @staticmethod
    async def _await_logged(awaitable: Any, what: str) -> None:
        try:
            await awaitable
        except Exception:
            logger.exception("the test client's %s failed", what)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- disconnecting ------------------------------------------------------------------------------

    def _namespace_gone(self, ns: str, reason: str) -> asyncio.Task[Any] | None:
        """``ns`` is disconnected for ``reason``: its acks fail, its ``disconnect`` handler runs (the
        task, if it is async)."""
        if self.namespaces.pop(ns, None) is None:
            return None
        self.disconnect_reasons[ns] = reason
        self.disconnect_reason = reason
        self._fail_acks(lambda n: n == ns, f"namespace {ns} was disconnected ({reason})")
        self._inbox.close_namespace(ns, reason)
        return self._fire("disconnect", ns, (reason,))

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

    async def _send_leave(self, link: EngineLink, frames: list[Frame]) -> None:
        """Send DISCONNECT packets, waiting at most :data:`LEAVE_SEND_WAIT` (not at all while the
        server is not reading): the send goes on by itself, or dies with the connection."""
        session = link.session
        wait = 0.0 if session is None or session.saturated else LEAVE_SEND_WAIT
        with contextlib.suppress(TimeoutError, exceptions.DisconnectedError):
            async with asyncio.timeout(wait):
                await link.send(frames)

    async def disconnect(self, namespace: str | None = None, wait: bool = True, timeout: float = 5.0) -> None:
        """Leave ``namespace``, or every namespace and close the connection (the default).

        The server's disconnect handlers see ``'client disconnect'``; this client's ``disconnect``
        handlers are called with it too. With ``wait`` (the default) this returns once the server
        has run its disconnect handlers for the namespaces left, and raises
        :class:`~aiosio.exceptions.TimeoutError` if they (or a connect handler they wait for) still
        run after ``timeout`` seconds. A server that is not reading (backpressure) does not hold
        this up: the connection is closed anyway. During :meth:`connect`, stops it (it raises
        :class:`~aiosio.exceptions.ConnectionError`). Does nothing if not connected.
        """
        link = self._link
        if link is None or not link.is_open:
            return
        if namespace is None and self._joins:
            self._aborted = True
        names = list(self.namespaces) if namespace is None else [namespace]
        left = {ns: self.namespaces[ns] for ns in names if ns in self.namespaces}
        frames: list[Frame] = []
        for ns in left:
            frames.extend(self._parser.encode(Packet(PacketType.DISCONNECT, ns)))
        if frames:
            await self._send_leave(link, frames)
        handlers = [task for ns in left if (task := self._namespace_gone(ns, CLIENT_DISCONNECT)) is not None]
        if not self.namespaces:
            self._recovery.forget()  # left on purpose: nothing to recover
            link.hang_up(CLIENT_DISCONNECT)
            await link.aclose()
        if handlers:
            await asyncio.wait(handlers)
        if wait and left:
            await self._server_forgot(left, timeout)

    async def _server_forgot(self, left: Mapping[str, str], timeout: float) -> None:
        """Wait until the server has run the disconnect handlers of these (namespace, sid) sockets."""
        sockets = self.server._sockets
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            busy = [ns for ns, sid in left.items() if sid in sockets]
            if not busy:
                break
            if loop.time() >= deadline:
                raise exceptions.TimeoutError(
                    f"the server still runs the disconnect (or connect) handler of {', '.join(busy)} "
                    f"for this client after {timeout}s"
                )
            await asyncio.sleep(0.001)
        await asyncio.sleep(0)

    async def lose_connection(self) -> None:
        """End the connection without a word, as a closed laptop lid or a dropped network would:
        the server's disconnect handlers see ``'transport close'`` on WebSocket and ``'ping
        timeout'`` on polling (what the server notices when a poller vanishes; here at once). A
        later :meth:`connect` asks to recover the session (connection-state recovery)."""
        link = self._link
        if link is None or not link.is_open:
            return
        link.drop()
        await link.aclose()

    async def close(self, timeout: float = 5.0) -> None:
        """Disconnect if connected, wait for the server's handlers of this connection to finish
        (:meth:`wait_idle`: :class:`~aiosio.exceptions.TimeoutError` after ``timeout`` seconds),
        and stop this client's handler tasks; the tasks are stopped and the connection closed even
        if waiting fails."""
        try:
            await self.disconnect(wait=False)
            await self.wait_idle(timeout)
        finally:
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
