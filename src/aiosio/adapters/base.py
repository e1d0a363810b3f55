"""The adapter core: the one selector type, the packet an adapter is handed, the adapter interface,
and the narrow back-interface an adapter uses to reach the sockets of this process.

Every way the server reaches its sockets goes through an :class:`Adapter`: broadcasts (with or
without acks), room changes by selector, disconnects, fetching socket descriptions, server-side
emits and the server count. An adapter that spans processes (Redis) implements the same calls,
forwards the packet and the selector to the other nodes, and delivers to its own sockets as the
memory adapter does: it encodes the packet at most once, and not at all when no local socket is
selected. The adapter never reaches into the server: it sees sockets only as :class:`Member`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar

from ..protocol.frames import Frame

T = TypeVar("T")

#: Encodes one EVENT: ``(namespace, event, args, ack_id) -> frames``. The server supplies it.
Encoder = Callable[[str, str, tuple[Any, ...], int | None], Sequence[Frame]]

#: An ack callback receives the ack's arguments, or the error that ended the wait
#: (:class:`~aiosio.exceptions.DisconnectedError` when the socket went away first).
AckCallback = Callable[[list[Any] | BaseException], None]


class Selector(NamedTuple):
    """Which sockets an operation acts on, and how: Node's ``{rooms, except, flags}``.

    ``rooms=None`` selects every socket of the namespace; a tuple selects the sockets in any of
    those rooms (a sid is a room of its own), so ``()`` selects nobody. ``exclude`` leaves out the
    sockets in any of its rooms. Flags: ``volatile`` (drop for a socket whose transport cannot take
    it now), ``local`` (this process only, never forwarded to other nodes), ``timeout`` (seconds an
    ack broadcast waits), ``sids`` (``rooms`` are socket ids, not rooms: only the sockets with those
    ids are selected, never the members of a room that happens to have such a name; what
    ``disconnect(sid)``, ``enter_room(sid, …)`` and ``call(to=sid)`` send when the sid is not local).
    Immutable and cheap (a tuple): build one per operation.
    """

    rooms: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    volatile: bool = False
    local: bool = False
    timeout: float | None = None
    sids: bool = False

    @classmethod
    def of(cls, to: Any = None, skip: Any = None, **flags: Any) -> Selector:
        """python-socketio's ``to``/``skip_sid`` arguments (a name, a list of names, or None)."""
        return cls(_names(to), _names(skip) or (), **flags)


def _names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(value)
    return (value,)


#: Every socket of the namespace, no flags (the most common broadcast).
EVERYONE = Selector()


class EventPacket:
    """An EVENT on its way to the selected sockets: ``namespace``, ``event``, ``args`` and whether
    an ack is wanted, plus the encoder that turns it into frames.

    The frames are made on first request and kept, so a process encodes a broadcast at most once,
    and never when it has no recipient; every local recipient gets the same frame objects. An
    adapter that forwards the packet to other nodes sends ``event`` and ``args``, not frames.

    ``offset`` (connection-state recovery, set before the first encoding) is encoded as the last
    argument; it is not part of ``args``, so it is never forwarded (each node has its own).
    """

    __slots__ = ("_ack_frames", "_encoder", "_frames", "ack", "args", "event", "namespace", "offset")

    def __init__(
        self, namespace: str, event: str, args: tuple[Any, ...], encoder: Encoder, ack: bool = False
    ) -> None:
        self.namespace = namespace
        self.event = event
        self.args = args
        self.ack = ack
        self.offset: str | None = None
        self._encoder = encoder
        self._frames: Sequence[Frame] | None = None
        self._ack_frames: tuple[int, Sequence[Frame]] | None = None

    def frames(self) -> Sequence[Frame]:
        """The frames without an ack id (encoded now if not yet)."""
        frames = self._frames
        if frames is None:
            args = self.args if self.offset is None else (*self.args, self.offset)
            frames = self._frames = self._encoder(self.namespace, self.event, args, None)
        return frames

    def frames_with_ack(self, ack_id: int) -> Sequence[Frame]:
        """The frames asking for ack ``ack_id`` (encoded once per id; a broadcast uses one id)."""
        cached = self._ack_frames
        if cached is not None and cached[0] == ack_id:
            return cached[1]
        frames = self._encoder(self.namespace, self.event, self.args, ack_id)
        self._ack_frames = (ack_id, frames)
        return frames


class AckRequest(NamedTuple):
    """What :meth:`Adapter.broadcast_with_ack` started: ``forget()`` stops waiting (outstanding
    acks are forgotten); ``servers`` is how many servers will call ``on_count`` (this one included)."""

    forget: Callable[[], None]
    servers: int = 1


class SocketInfo(NamedTuple):
    """What ``fetch_sockets`` returns for one socket, of this node or another (Node's
    ``RemoteSocket`` fields)."""

    sid: str
    namespace: str
    rooms: tuple[str, ...]
    #: The Engine.IO session id of its connection (None for a socket of another node).
    eio_sid: str | None
    #: The socket's user session (``sio.get_session``; Node's ``socket.data``), or None if never set.
    data: Any
    #: Node's ``socket.handshake``: headers, time, address, xdomain, secure, issued, url, query, auth.
    handshake: Mapping[str, Any] = {}


class Answers(list[T]):
    """The answers of a cluster query: what arrived within the timeout, in arrival order.

    A query never fails as a whole because a server is slow, frozen or dead: ``missing`` says how
    many servers that were expected to answer did not (0 when every server answered, and always 0
    in one process); ``missing_servers`` names them when the adapter can tell (server uids).
    """

    missing: int
    missing_servers: tuple[str, ...]

    def __init__(
        self, items: Iterable[T] = (), missing: int = 0, missing_servers: tuple[str, ...] = ()
    ) -> None:
        super().__init__(items)
        self.missing = missing
        self.missing_servers = missing_servers

    @property
    def complete(self) -> bool:
        """True when every server expected to answer did."""
        return self.missing == 0


# -- the back-interface: how an adapter reaches a socket of this process ---------------------------


class Member(Protocol):
    """A socket of this process, as an adapter sees it. This is the whole back-interface: the
    adapter delivers frames, registers acks, disconnects, and reads what ``fetch_sockets``
    reports; room membership is the adapter's own state."""

    sid: str
    #: The next ack id this socket would hand out (a broadcast with acks picks one id that is free
    #: on every recipient, so it is encoded once).
    next_ack_id: int
    #: The user session (``sio.get_session``), None until set.
    user: dict[Any, Any] | None
    #: Disconnected (its disconnect handler may still be running): it will not answer an ack.
    gone: bool

    @property
    def eio_sid(self) -> str:
        """The Engine.IO session id of the connection this socket belongs to."""
        ...

    def handshake(self) -> dict[str, Any]:
        """Node's ``socket.handshake`` for this socket (what ``fetch_sockets`` reports)."""
        ...

    def deliver(self, frames: Sequence[Frame]) -> None:
        """Send these frames (one Socket.IO packet) to this socket, in order."""
        ...

    def deliver_volatile(self, frames: Sequence[Frame]) -> bool:
        """Send unless the transport cannot take it right now (then drop it); True if sent."""
        ...

    def fan_out(self, frames: Sequence[Frame]) -> None:
        """:meth:`deliver` for a broadcast: the adapter counts its traffic once for all recipients
        (``MemoryAdapter.sent_packets``/``sent_bytes``), the socket does not."""
        ...

    def fan_out_volatile(self, frames: Sequence[Frame]) -> bool:
        """:meth:`deliver_volatile` for a broadcast (uncounted, as :meth:`fan_out`)."""
        ...

    def add_ack(self, callback: AckCallback, ack_id: int | None = None) -> int:
        """Wait for an ack: ``callback`` gets its arguments (a list) or the error that ended the
        wait. ``ack_id`` (at least :attr:`next_ack_id`) is used if given; returns the id."""
        ...

    def pop_ack(self, ack_id: int) -> AckCallback | None:
        """Stop waiting for ``ack_id``; returns its callback if it was still waiting."""
        ...

    def disconnect(self, close: bool = False) -> None:
        """Disconnect from the namespace (the client is told); ``close`` also closes its connection."""
        ...


class AdapterHost(Protocol):
    """The server, as an adapter sees it (handed to :meth:`Adapter.init`): how it encodes an
    EVENT that arrives from another node, which namespaces it serves, and where server-side events
    from other servers go. Like :class:`Member`, this is all an adapter may call."""

    def encode_event(
        self, namespace: str, event: str, args: tuple[Any, ...], ack_id: int | None
    ) -> Sequence[Frame]:
        """Encode one EVENT for this server's clients (the :data:`Encoder` of its packets)."""
        ...

    def served_namespaces(self) -> list[str]:
        """The namespaces this server serves now (a cluster adapter joins the cluster for each);
        a namespace opened later shows up first in :meth:`Adapter.add`."""
        ...

    def deliver_server_event(
        self, namespace: str, event: str, args: tuple[Any, ...], reply: Callable[[Any], None] | None
    ) -> bool:
        """Hand an event another server sent (``server_side_emit``) to this server's handler.

        ``reply`` (when the sender waits for answers) is called at most once, with the handler's
        return value. Returns False when no handler is registered (then nothing is answered).
        """
        ...


# -- the adapter interface -------------------------------------------------------------------------


class Adapter(Protocol):
    """Room membership and delivery for every namespace of one server.

    Local bookkeeping (``add``, ``remove``, ``join``, ``leave``, the views) is synchronous: it
    concerns sockets of this process. Operations by :class:`Selector` are coroutines, as a cluster
    adapter may have to reach other processes; ``selector.local`` keeps them in this process.
    """

    # lifecycle

    async def init(self, host: AdapterHost) -> None:
        """Called by the server once before it serves (app startup, or its first connection); a
        cluster adapter joins the cluster here. An exception refuses to serve (the server logs it
        and refuses connections until an ``init`` succeeds)."""
        ...

    async def close(self) -> None:
        """Called by the server when it shuts down; a cluster adapter leaves the cluster here."""
        ...

    # sockets of this process

    def add(self, namespace: str, member: Member) -> None:
        """Register a connected socket; it joins the room named after its sid."""
        ...

    def remove(self, namespace: str, sid: str) -> None:
        """Forget a socket and take it out of every room (cost: O(rooms of that socket))."""
        ...

    def join(self, namespace: str, sid: str, room: str) -> None:
        """Put a socket of this process in a room."""
        ...

    def leave(self, namespace: str, sid: str, room: str) -> None:
        """Take a socket of this process out of a room."""
        ...

    def close_room(self, namespace: str, room: str) -> None:
        """Take every socket of this process out of a room."""
        ...

    def rooms(self, namespace: str, sid: str) -> list[str]:
        """The rooms a socket of this process is in, its own sid room first."""
        ...

    def local(self, namespace: str, selector: Selector) -> Sequence[Member]:
        """The sockets of this process the selector picks."""
        ...

    def namespace_names(self) -> list[str]:
        """The namespaces that have sockets (or rooms) in this process."""
        ...

    def participants(self, namespace: str, room: str | None) -> Mapping[str, Member]:
        """sid -> socket of this process for a room (or every socket when None)."""
        ...

    def room_names(self, namespace: str) -> list[str]:
        """The named rooms of a namespace in this process (sid rooms not included)."""
        ...

    def is_sid_room(self, namespace: str, room: str) -> bool:
        """True if ``room`` is the sid of a socket of the namespace in this process."""
        ...

    # operations by selector

    async def broadcast(self, packet: EventPacket, selector: Selector) -> None:
        """Deliver an EVENT to the selected sockets (and, for a cluster, other nodes' sockets)."""
        ...

    async def broadcast_with_ack(
        self,
        packet: EventPacket,
        selector: Selector,
        on_count: Callable[[int], None],
        on_ack: AckCallback,
    ) -> AckRequest:
        """Deliver an EVENT asking each selected socket for an ack.

        ``on_count(n)`` is called once per server reached (this one included, even with n == 0)
        with how many of its sockets were sent the packet; ``on_ack`` once per answer (the ack's
        arguments, or the error that ended the wait for one socket). Returns the
        :class:`AckRequest`: how many servers will report, and how to stop waiting (the timeout).
        :func:`~aiosio.adapters.acks.gather` aggregates this into one awaitable.
        """
        ...

    async def add_sockets(self, namespace: str, selector: Selector, rooms: Iterable[str]) -> None:
        """Put the selected sockets in ``rooms`` (Node's ``socketsJoin``)."""
        ...

    async def del_sockets(self, namespace: str, selector: Selector, rooms: Iterable[str]) -> None:
        """Take the selected sockets out of ``rooms`` (Node's ``socketsLeave``)."""
        ...

    async def disconnect_sockets(self, namespace: str, selector: Selector, close: bool = False) -> None:
        """Disconnect the selected sockets (``close``: their whole connection too)."""
        ...

    async def fetch_sockets(self, namespace: str, selector: Selector) -> Answers[SocketInfo]:
        """Describe the selected sockets (of every node, for a cluster; ``selector.timeout``
        bounds the wait for other nodes)."""
        ...

    async def server_side_emit(
        self,
        namespace: str,
        event: str,
        args: tuple[Any, ...],
        timeout: float | None = None,
        want_answers: bool = False,
    ) -> Answers[Any]:
        """Send an event to the *other* servers of the cluster (never to this one).

        With ``want_answers``, waits up to ``timeout`` seconds for their answers (one per server
        whose handler answered; ``missing`` counts the others); otherwise returns ``[]`` at once.
        """
        ...

    async def server_count(self, namespace: str = "/") -> int:
        """How many servers share this namespace (1 without a cluster)."""
        ...
