"""The cluster adapter: rooms and delivery for this process (the in-memory adapter) plus every
operation forwarded to the other nodes of a cluster, over a :class:`ClusterDriver`.

The adapter holds what all cluster wire formats share (Node's ``ClusterAdapter`` semantics): a
broadcast is delivered here and published once; requests (fetch sockets, server-side emit with
answers, broadcast with acks) are tracked by request id and collect answers until every other
server answered or the timeout passed. A query never fails as a whole because one node is slow,
frozen or dead: what arrived is returned, and ``missing`` counts the servers that did not answer.

A driver (one per wire format: Redis classic, Redis sharded, ...) encodes what the adapter hands
it, publishes it, decodes what other nodes send, validates it, and calls the adapter's
``receive_*`` methods. The driver never touches sockets; the adapter never touches bytes.

Connection-state recovery across nodes needs a driver whose bus is an ordered, shared log (a
:class:`LoggedDriver`: Redis Streams, the workers' hub). With one, :meth:`ClusterAdapter.recovery_store`
gives the server its store, and from then on every replayable or volatile non-ack broadcast is
appended to the log first (:meth:`LoggedDriver.broadcast_logged`), delivered here with the offset
the log gave it, and delivered on the other nodes with the same offset as they read it from the
log (``receive_broadcast(..., offset=)``). A driver without a log keeps the server's refusal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .base import AckCallback, AckRequest, AdapterHost, Answers, EventPacket, Member, Selector, SocketInfo
from .memory import MemoryAdapter, _nothing

if TYPE_CHECKING:
    from ..recovery.options import RecoveryOptions
    from ..recovery.store import RecoveryStore

#: Node's request timeout (``requestsTimeout``): how long a query waits for other servers, seconds.
DEFAULT_REQUEST_TIMEOUT = 5.0
#: How long acks of a broadcast sent without a timeout (``emit(callback=...)``) are awaited from
#: other nodes before the request is forgotten (local sockets keep theirs until they leave).
DEFAULT_ACK_WAIT = 60.0

default_logger = logging.getLogger("aiosio.cluster")


class ClusterDriver(Protocol):
    """How a :class:`ClusterAdapter` reaches the other nodes: one implementation per wire format.

    Outbound calls are synchronous and never block (the driver queues what it publishes, in order);
    the driver calls the adapter's ``receive_*`` methods for what arrives, from its reader.
    ``origin`` is the uid of the node that sent a request: answers go back to it.
    """

    #: This node's id on the wire.
    uid: str

    async def start(self, adapter: ClusterAdapter) -> None:
        """Connect; ``adapter`` receives what other nodes send from now on."""
        ...

    async def close(self) -> None:
        """Leave the cluster (unsubscribe) and disconnect."""
        ...

    async def open_namespace(self, namespace: str) -> None:
        """Join the cluster for ``namespace`` (subscribe): from now on this node counts as one of
        its servers and must answer its requests."""
        ...

    def new_request_id(self) -> str:
        """A fresh request id in the wire format's form."""
        ...

    async def server_count(self, namespace: str) -> int:
        """How many servers serve ``namespace`` (this one included)."""
        ...

    # requests and broadcasts to every other node

    def broadcast(self, namespace: str, event: str, args: tuple[Any, ...], selector: Selector) -> None:
        """Publish an EVENT for the other nodes' selected sockets."""
        ...

    def broadcast_with_ack(
        self, namespace: str, event: str, args: tuple[Any, ...], selector: Selector, request_id: str
    ) -> None:
        """Publish an EVENT whose recipients' acks come back as ``receive_client_count`` and
        ``receive_broadcast_ack`` for ``request_id``."""
        ...

    def sockets_join(self, namespace: str, selector: Selector, rooms: list[Any]) -> None:
        """Ask the other nodes to put their selected sockets in ``rooms``."""
        ...

    def sockets_leave(self, namespace: str, selector: Selector, rooms: list[Any]) -> None:
        """Ask the other nodes to take their selected sockets out of ``rooms``."""
        ...

    def disconnect_sockets(self, namespace: str, selector: Selector, close: bool) -> None:
        """Ask the other nodes to disconnect their selected sockets."""
        ...

    def fetch_sockets(self, namespace: str, selector: Selector, request_id: str) -> None:
        """Ask the other nodes to describe their selected sockets."""
        ...

    def server_side_emit(
        self, namespace: str, event: str, args: tuple[Any, ...], request_id: str | None
    ) -> None:
        """Send a server-side event to the other nodes (answers wanted when ``request_id``)."""
        ...

    # answers to one node

    def fetch_response(self, namespace: str, origin: str, request_id: str, sockets: list[SocketInfo]) -> None:
        """Answer a fetch request."""
        ...

    def server_side_response(self, namespace: str, origin: str, request_id: str, data: Any) -> None:
        """Answer a server-side emit (what the handler returned)."""
        ...

    def client_count(self, namespace: str, origin: str, request_id: str, count: int) -> None:
        """Say how many local sockets an ack broadcast reached."""
        ...

    def broadcast_ack(self, namespace: str, origin: str, request_id: str, data: Any) -> None:
        """Forward one client's ack of an ack broadcast (its first argument)."""
        ...

    # rooms, for drivers that subscribe per room (Redis sharded, dynamic modes)

    def room_created(self, namespace: str, room: str) -> None:
        """A room of this node got its first member (a socket's own sid room too, as it is
        registered)."""
        ...

    def room_deleted(self, namespace: str, room: str) -> None:
        """A room of this node lost its last member (a sid room: its socket left)."""
        ...


@runtime_checkable
class LoggedDriver(Protocol):
    """A :class:`ClusterDriver` whose bus is an ordered log every node reads (Redis Streams: stream
    entry ids; the workers' hub: a sequence the hub assigns), so it can keep what
    connection-state recovery needs for every node. Detected with ``isinstance`` (a runtime-checkable
    Protocol: a driver has both methods below), once, when the server asks
    :meth:`ClusterAdapter.recovery_store`.

    The adapter calls :meth:`broadcast_logged` instead of :meth:`ClusterDriver.broadcast` only once
    recovery is on (the store was made), for every non-ack broadcast not restricted to this node
    (``selector.local``), a volatile one and one for a single local sid included: a packet for a
    local socket must reach the log, or a client that reconnects to another node misses it. Other
    operations (ack broadcasts, joins, fetches, ...) go through the plain driver methods.

    The driver delivers what it reads from the log with ``adapter.receive_broadcast(..., offset=)``
    (the entry's offset; None for a volatile one).
    """

    async def broadcast_logged(
        self, namespace: str, event: str, args: tuple[Any, ...], selector: Selector
    ) -> str | None:
        """Append the broadcast to the log (for the other nodes, as :meth:`ClusterDriver.broadcast`
        would publish it) and return the offset the log gave it, once it did: the local delivery
        waits for it, so local and remote recipients see the same offset. None for a volatile
        broadcast (``selector.volatile``: appended for the other nodes, never given an offset, never
        replayed). Appends from one task keep their order (the driver may batch them); a failure to
        append raises (the broadcast reached nobody)."""
        ...

    def recovery_store(self, options: RecoveryOptions, delivery_window: float) -> RecoveryStore:
        """The recovery store reading sessions and missed packets from this log (made once, when
        the server turns recovery on; ``delivery_window`` as for
        :class:`~aiosio.recovery.memory.MemoryStore`). Its ``stamp`` does nothing (offsets come from
        :meth:`broadcast_logged`); it writes sessions through (``save_session`` on connect and every
        change, ``persist`` on a recoverable loss, ``discard`` otherwise) so they survive the crash of
        this process."""
        ...


@dataclass(eq=False)
class _Query:
    """A request waiting for ``expected`` answers from other servers."""

    expected: int
    future: asyncio.Future[None]
    answers: list[Any] = field(default_factory=list)
    #: Uids of the servers that answered (when the wire format names them): a second answer from
    #: one server is ignored instead of completing the request early.
    responders: set[str] = field(default_factory=set)
    answered: int = 0

    def add(self, answer: Any, responder: str | None, items: bool = False) -> None:
        if self.future.done():
            return
        if responder is not None:
            if responder in self.responders:
                return
            self.responders.add(responder)
        if items:
            self.answers.extend(answer)
        else:
            self.answers.append(answer)
        self.answered += 1
        if self.answered >= self.expected:
            self.future.set_result(None)


@dataclass(eq=False)
class _AckBroadcast:
    """An ack broadcast this node sent: other nodes report counts and acks for it."""

    on_count: Callable[[int], None]
    on_ack: AckCallback
    timer: asyncio.TimerHandle | None = None


class ClusterAdapter(MemoryAdapter):
    """An adapter whose operations reach every node of a cluster, through ``driver``.

    ``request_timeout`` (seconds) bounds a query's wait for other servers when the selector has no
    ``timeout`` of its own (fetch sockets; server-side calls pass theirs).
    """

    #: Rewrites each socket this node's fetch answers carry to the other nodes, or None (what
    #: ``instrument()`` sets: Node's admin-ui ``_admin`` entry in the socket's data).
    answer_socket: Callable[[SocketInfo], SocketInfo] | None = None

    def __init__(
        self,
        driver: ClusterDriver,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        logger: logging.Logger | None = None,
    ) -> None:
        super().__init__()
        self.driver = driver
        self.request_timeout = request_timeout
        self.logger = logger or default_logger
        self._host: AdapterHost | None = None
        self._queries: dict[str, _Query] = {}
        self._ack_broadcasts: dict[str, _AckBroadcast] = {}
        #: Namespaces this node joined the cluster for, and those being joined.
        self._opened: set[str] = set()
        self._opening: dict[str, asyncio.Task[None]] = {}
        #: namespace -> uids of the servers that answered its last complete query (drivers whose
        #: answers name the responder): who is missing when a later query is not complete.
        self._responders: dict[str, frozenset[str]] = {}
        #: The last server count the driver gave per namespace (used while it cannot count).
        self._known_servers: dict[str, int] = {}
        #: The driver, once recovery is on and the driver keeps a log (see :meth:`recovery_store`).
        self._logged: LoggedDriver | None = None
        #: With recovery on: called with (sid, namespace) when a local socket joined or left a room
        #: (any way: the server, the manager, another node's ``sockets_join``/``sockets_leave``),
        #: so the server writes its session through (set by the server).
        self.on_rooms_changed: Callable[[str, str], None] | None = None

    def recovery_store(self, options: RecoveryOptions, delivery_window: float) -> RecoveryStore | None:
        """Turn connection-state recovery on: the driver's store if it keeps a log
        (:class:`LoggedDriver`), None (recovery cannot work on this cluster) otherwise. From then on
        broadcasts are logged and carry the offsets of the log."""
        driver = self.driver
        if not isinstance(driver, LoggedDriver):
            return None
        store = driver.recovery_store(options, delivery_window)
        self._logged = driver
        return store

    # -- lifecycle -----------------------------------------------------------------------------

    async def init(self, host: AdapterHost) -> None:
        """Connect the driver and join the cluster for every namespace the server serves."""
        self._host = host
        await self.driver.start(self)
        for namespace in host.served_namespaces():
            await self._open(namespace)

    async def close(self) -> None:
        """Leave the cluster; pending queries end with what they have."""
        for task in list(self._opening.values()):
            task.cancel()
        for query in self._queries.values():
            if not query.future.done():
                query.future.set_result(None)
        for request in self._ack_broadcasts.values():
            if request.timer is not None:
                request.timer.cancel()
        self._ack_broadcasts.clear()
        await self.driver.close()

    async def _open(self, namespace: str) -> None:
        """Join the cluster for ``namespace`` (once; concurrent callers wait for the same attempt,
        and a failed attempt is made again by the next caller)."""
        if namespace not in self._opened:
            await asyncio.shield(self._start_open(namespace))

    def _start_open(self, namespace: str) -> asyncio.Task[None]:
        task = self._opening.get(namespace)
        if task is None:
            task = self._opening[namespace] = asyncio.ensure_future(self.driver.open_namespace(namespace))
            task.add_done_callback(lambda done: self._opened_namespace(namespace, done))
        return task

    def _opened_namespace(self, namespace: str, task: asyncio.Task[None]) -> None:
        if self._opening.get(namespace) is task:
            del self._opening[namespace]
        if task.cancelled():
            return
        if task.exception() is not None:
            self.logger.error(
                "could not join the cluster for namespace %s", namespace, exc_info=task.exception()
            )
        else:
            self._opened.add(namespace)

    def add(self, namespace: str, member: Member) -> None:
        """Register a socket; the first socket of a namespace not joined yet joins it. Its own sid
        room is a room the driver hears of too (``room_created``/``room_deleted``)."""
        super().add(namespace, member)
        self.driver.room_created(namespace, member.sid)
        if namespace not in self._opened and self._host is not None:
            self._start_open(namespace)

    def remove(self, namespace: str, sid: str) -> None:
        """Forget a socket (the driver hears its rooms, its sid room last, are gone)."""
        known = sid in self.participants(namespace, None)
        super().remove(namespace, sid)
        if known:
            self.driver.room_deleted(namespace, sid)

    def join(self, namespace: str, sid: str, room: str) -> None:
        """Put a local socket in a room; with recovery on a logged driver the server hears of it
        (``on_rooms_changed``), however the join came (the server, the manager, a selector)."""
        super().join(namespace, sid, room)
        listener = self.on_rooms_changed
        if listener is not None:
            listener(sid, namespace)

    def leave(self, namespace: str, sid: str, room: str) -> None:
        """Take a local socket out of a room (heard of like :meth:`join`; ``close_room`` leaves
        each member)."""
        super().leave(namespace, sid, room)
        listener = self.on_rooms_changed
        if listener is not None:
            listener(sid, namespace)

    def room_created(self, namespace: str, room: str) -> None:
        """Tell the driver (it may subscribe to the room)."""
        self.driver.room_created(namespace, room)

    def room_deleted(self, namespace: str, room: str) -> None:
        """Tell the driver (it may unsubscribe from the room)."""
        self.driver.room_deleted(namespace, room)

    # -- operations by selector ------------------------------------------------------------------

    def _only_here(self, namespace: str, selector: Selector) -> bool:
        """True when no other node can hold a selected socket: ``local``, nobody selected, or
        only sids of sockets of this process."""
        rooms = selector.rooms
        if selector.local or rooms == ():
            return True
        if rooms is None or len(rooms) > 4:
            return False
        return all(self.is_sid_room(namespace, room) for room in rooms)

    async def broadcast(self, packet: EventPacket, selector: Selector) -> None:
        """Publish once for the other nodes (unless only sockets of this process are selected),
        then deliver here. Published first: data the wire cannot carry raises before anyone got
        anything. With recovery on a logged driver, everything but ``local`` is appended to the log
        and delivered here with its offset (see :class:`LoggedDriver`)."""
        logged = self._logged
        if logged is not None and not selector.local and selector.rooms != ():  # (): nobody
            if selector.volatile:  # no offset; one that never arrives may be dropped anyway
                await logged.broadcast_logged(packet.namespace, packet.event, packet.args, selector)
                self.deliver(packet, selector)
                return
            # Once started it completes even if the caller is cancelled: its entry may be in the
            # log already (the other nodes deliver it), so this node's clients get it too, with
            # its offset (else a silent gap: their later offsets pass it). The delivery runs in
            # the task the offset is handed to (a driver delivers what it reads after that).
            done = asyncio.ensure_future(self._log_and_deliver(logged, packet, selector))
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError:
                done.add_done_callback(self._logged_failure)
                raise
            return
        if not self._only_here(packet.namespace, selector):
            self.driver.broadcast(packet.namespace, packet.event, packet.args, selector)
        self.deliver(packet, selector)

    async def _log_and_deliver(self, logged: LoggedDriver, packet: EventPacket, selector: Selector) -> None:
        offset = await logged.broadcast_logged(packet.namespace, packet.event, packet.args, selector)
        if offset is not None:
            packet.offset = offset
        self.deliver(packet, selector)

    def _logged_failure(self, done: asyncio.Future[None]) -> None:
        """A logged broadcast whose caller was cancelled failed: nobody else hears of it."""
        if not done.cancelled() and done.exception() is not None:
            self.logger.error("a cancelled emit could not be logged", exc_info=done.exception())

    async def broadcast_with_ack(
        self,
        packet: EventPacket,
        selector: Selector,
        on_count: Callable[[int], None],
        on_ack: AckCallback,
    ) -> AckRequest:
        """Ask every other node to deliver and forward its clients' acks, then deliver here.

        Only sockets of this process selected (``local``, or local sids): nothing is published.
        """
        namespace = packet.namespace
        if self._only_here(namespace, selector):
            return AckRequest(self.deliver_with_ack(packet, selector, on_count, on_ack))
        await self._open(namespace)  # the answers come on this node's subscriptions
        servers = await self.server_count(namespace)
        if servers <= 1:
            return AckRequest(self.deliver_with_ack(packet, selector, on_count, on_ack))
        request_id = self.driver.new_request_id()
        request = _AckBroadcast(on_count, on_ack)
        self.driver.broadcast_with_ack(namespace, packet.event, packet.args, selector, request_id)
        self._ack_broadcasts[request_id] = request
        wait = selector.timeout if selector.timeout is not None else DEFAULT_ACK_WAIT
        request.timer = asyncio.get_running_loop().call_later(
            wait, self._ack_broadcasts.pop, request_id, None
        )
        forget_local = self.deliver_with_ack(packet, selector, on_count, on_ack)

        def forget() -> None:
            forget_local()
            done = self._ack_broadcasts.pop(request_id, None)
            if done is not None and done.timer is not None:
                done.timer.cancel()

        return AckRequest(forget, servers)

    async def add_sockets(self, namespace: str, selector: Selector, rooms: Iterable[str]) -> None:
        """Here and on every other node (unless ``local``)."""
        names = list(rooms)
        self._change_rooms(namespace, selector, names, join=True)
        if not selector.local and selector.rooms != ():
            self.driver.sockets_join(namespace, selector, names)

    async def del_sockets(self, namespace: str, selector: Selector, rooms: Iterable[str]) -> None:
        """Here and on every other node (unless ``local``)."""
        names = list(rooms)
        self._change_rooms(namespace, selector, names, join=False)
        if not selector.local and selector.rooms != ():
            self.driver.sockets_leave(namespace, selector, names)

    async def disconnect_sockets(self, namespace: str, selector: Selector, close: bool = False) -> None:
        """Here and on every other node (unless ``local``)."""
        self.disconnect_selected(namespace, selector, close)
        if not selector.local and selector.rooms != ():
            self.driver.disconnect_sockets(namespace, selector, close)

    async def fetch_sockets(self, namespace: str, selector: Selector) -> Answers[SocketInfo]:
        """This node's sockets, then those the other servers report within the timeout."""
        local = self.describe(namespace, selector)
        if self._only_here(namespace, selector):
            return Answers(local)
        timeout = selector.timeout if selector.timeout is not None else self.request_timeout
        answers, missing, who = await self._ask(
            namespace, lambda rid: self.driver.fetch_sockets(namespace, selector, rid), timeout
        )
        return Answers([*local, *answers], missing, who)

    async def server_side_emit(
        self,
        namespace: str,
        event: str,
        args: tuple[Any, ...],
        timeout: float | None = None,
        want_answers: bool = False,
    ) -> Answers[Any]:
        """Publish to the other servers; with ``want_answers``, collect one answer per server."""
        if not want_answers:
            self.driver.server_side_emit(namespace, event, args, None)
            return Answers()
        wait = timeout if timeout is not None else self.request_timeout
        answers, missing, who = await self._ask(
            namespace, lambda rid: self.driver.server_side_emit(namespace, event, args, rid), wait
        )
        return Answers(answers, missing, who)

    async def server_count(self, namespace: str = "/") -> int:
        """What the driver counts (this server included). While it cannot count (its broker is
        away), the last count it gave: the servers are presumed still there, and queries wait for
        them and report them missing, rather than pretending this server is alone."""
        try:
            count = await self.driver.server_count(namespace)
        except Exception as exc:
            known = self._known_servers.get(namespace, 1)
            self.logger.debug("server count unavailable (%r); using the last one, %d", exc, known)
            return known
        self._known_servers[namespace] = count
        return count

    async def _ask(
        self, namespace: str, send: Callable[[str], None], timeout: float
    ) -> tuple[list[Any], int, tuple[str, ...]]:
        """Send a request to the other servers; their answers, how many did not answer, and which
        (when the answers name their servers and a complete query showed who they are)."""
        await self._open(namespace)  # the answers come on this node's subscriptions
        expected = await self.server_count(namespace) - 1
        if expected <= 0:
            return [], 0, ()
        request_id = self.driver.new_request_id()
        query = _Query(expected, asyncio.get_running_loop().create_future())
        self._queries[request_id] = query
        try:
            send(request_id)
            try:
                async with asyncio.timeout(timeout):
                    await query.future
            except TimeoutError:
                self.logger.warning(
                    "%d of %d servers did not answer within %.1f s",
                    expected - query.answered,
                    expected,
                    timeout,
                )
        finally:
            self._queries.pop(request_id, None)
        missing = max(0, expected - query.answered)
        responders = frozenset(query.responders)
        if not missing and len(responders) == expected:
            self._responders[namespace] = responders
            return query.answers, 0, ()
        absent = tuple(sorted(self._responders.get(namespace, frozenset()) - responders))
        return query.answers, missing, absent if len(absent) == missing else ()

    # -- what other nodes send (called by the driver) --------------------------------------------

    def _encoder(self) -> Any:
        host = self._host
        if host is None:
            raise RuntimeError("the cluster adapter received a message before init()")
        return host.encode_event

    def _change_rooms(self, namespace: str, selector: Selector, rooms: list[str], *, join: bool) -> None:
        """Join or leave the selected local sockets (the server hears of each through
        :meth:`join` and :meth:`leave`)."""
        if join:
            self.join_selected(namespace, selector, rooms)
        else:
            self.leave_selected(namespace, selector, rooms)

    def receive_broadcast(
        self,
        namespace: str,
        event: str,
        args: tuple[Any, ...],
        selector: Selector,
        offset: str | None = None,
    ) -> None:
        """Another node broadcast: deliver to the selected sockets here (encoded once). ``offset``:
        the log's offset of the entry (a :class:`LoggedDriver`), appended as the last argument
        when recovery is on and the broadcast is not volatile (Node's ``addOffsetIfNecessary``)."""
        packet = EventPacket(namespace, event, args, self._encoder())
        if offset is not None and self._logged is not None and not selector.volatile:
            packet.offset = offset
        self.deliver(packet, selector)

    def receive_broadcast_with_ack(
        self,
        origin: str,
        request_id: str,
        namespace: str,
        event: str,
        args: tuple[Any, ...],
        selector: Selector,
    ) -> None:
        """Another node's ack broadcast: deliver, report the count (0 too), forward each ack."""
        driver = self.driver

        def on_count(count: int) -> None:
            driver.client_count(namespace, origin, request_id, count)

        def on_ack(result: list[Any] | BaseException) -> None:
            if isinstance(result, BaseException):
                return  # the socket left: it will not answer (the requester's timeout tells)
            try:
                driver.broadcast_ack(namespace, origin, request_id, result[0] if result else None)
            except (TypeError, ValueError) as exc:  # an answer the wire cannot carry
                self.logger.warning("an ack could not be forwarded to the requesting server: %s", exc)

        packet = EventPacket(namespace, event, args, self._encoder(), ack=True)
        forget = self.deliver_with_ack(packet, selector, on_count, on_ack)
        if forget is not _nothing:
            # Acks are forwarded for as long as the requester waits (capped: the wire is not trusted).
            wait = (
                min(selector.timeout, DEFAULT_ACK_WAIT) if selector.timeout is not None else DEFAULT_ACK_WAIT
            )
            asyncio.get_running_loop().call_later(wait, forget)

    def receive_sockets_join(self, namespace: str, selector: Selector, rooms: Sequence[Any]) -> None:
        """Another node's ``sockets_join`` (a numeric room from Node joins as its text)."""
        self._change_rooms(namespace, selector, _texts(rooms), join=True)

    def receive_sockets_leave(self, namespace: str, selector: Selector, rooms: Sequence[Any]) -> None:
        """Another node's ``sockets_leave``."""
        self._change_rooms(namespace, selector, _texts(rooms), join=False)

    def receive_disconnect_sockets(self, namespace: str, selector: Selector, close: bool) -> None:
        """Another node's ``disconnect_sockets``."""
        self.disconnect_selected(namespace, selector, close)

    def receive_fetch_sockets(self, origin: str, request_id: str, namespace: str, selector: Selector) -> None:
        """Another node's fetch: answer with this node's selected sockets (``[]`` too)."""
        sockets = self.describe(namespace, selector)
        if self.answer_socket is not None:
            sockets = [self.answer_socket(info) for info in sockets]
        self.driver.fetch_response(namespace, origin, request_id, sockets)

    def receive_server_side_emit(
        self, origin: str, request_id: str | None, namespace: str, event: str, args: tuple[Any, ...]
    ) -> None:
        """Another server's server-side event: run this server's handler; answer if asked (only
        when a handler exists, as Node does)."""
        host = self._host
        if host is None:
            return
        reply: Callable[[Any], None] | None = None
        if request_id is not None:
            rid = request_id
            answered = False

            def reply(value: Any) -> None:
                nonlocal answered
                if not answered:
                    answered = True
                    self.driver.server_side_response(namespace, origin, rid, value)

        host.deliver_server_event(namespace, event, args, reply)

    def receive_fetch_response(
        self, request_id: str, sockets: list[SocketInfo], responder: str | None = None
    ) -> None:
        """One server's answer to this node's fetch (unknown or late request ids are ignored)."""
        query = self._queries.get(request_id)
        if query is not None:
            query.add(sockets, responder, items=True)

    def receive_server_side_response(self, request_id: str, data: Any, responder: str | None = None) -> None:
        """One server's answer to this node's server-side call."""
        query = self._queries.get(request_id)
        if query is not None:
            query.add(data, responder)

    def receive_client_count(self, request_id: str, count: int) -> None:
        """How many sockets of one other server an ack broadcast of this node reached."""
        request = self._ack_broadcasts.get(request_id)
        if request is not None:
            request.on_count(count)

    def receive_broadcast_ack(self, request_id: str, data: Any) -> None:
        """One remote client's ack of an ack broadcast of this node."""
        request = self._ack_broadcasts.get(request_id)
        if request is not None:
            request.on_ack([data])


def _texts(rooms: Sequence[Any]) -> list[str]:
    """Rooms as text (Node may send a numeric room as a number)."""
    return [room if isinstance(room, str) else str(room) for room in rooms]
