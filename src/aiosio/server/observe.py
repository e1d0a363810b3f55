"""The observer seam: what metrics and the Admin UI hear of a server, at no cost when nobody listens.

An observer subclasses :class:`Observer` and overrides the hooks it needs; ``sio.observers.add(obs)``
registers it. Hooks are called synchronously, at the moment the thing happens, and must not block
(no I/O; an observer that needs I/O queues the work). An exception raised by a hook (any but
KeyboardInterrupt and SystemExit: a CancelledError too) is logged once per observer (later ones are
counted in :attr:`ObserverSet.errors`) and never reaches the server.

Each hook is dispatched only to the observers that override it: for every hook the set keeps either
None (nobody listens: the call site skips it with one check) or one callable that calls each
listener in registration order. With no observer registered the server holds None instead of the
set, so each call site costs one attribute check.

Pull values (traffic counters, queue depths) are not hooks: read them when needed through
:func:`traffic` and :func:`outbound_queues`.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..adapters.memory import EmitHook

if TYPE_CHECKING:
    from .socket import ServerSocket

logger = logging.getLogger("aiosio.observe")


class Observer:
    """A listener for server events; every hook does nothing until overridden.

    ``sid`` is a Socket.IO socket id (one per namespace joined), ``eio_sid`` the Engine.IO session
    id of the connection that carries it.
    """

    def connection_opened(self, eio_sid: str, transport: str) -> None:
        """An Engine.IO connection was opened (``'polling'`` or ``'websocket'``), before any
        namespace is joined."""

    def connection_closed(self, eio_sid: str, reason: str) -> None:
        """An Engine.IO connection ended (reason: a :class:`~aiosio.engine.session.CloseReason`
        string); every socket it carried has been reported disconnected just before."""

    def transport_upgraded(self, eio_sid: str) -> None:
        """A connection moved from long-polling to WebSocket."""

    def socket_connected(self, sock: ServerSocket) -> None:
        """A socket joined a namespace: its connect handler accepted it (any namespace, an admin
        namespace too). Read ``sock.sid``, ``sock.namespace``, ``sock.eio_sid``,
        ``sock.session.transport``, ``sock.handshake()`` (Node's shape) and ``sock.recovered``;
        don't keep or change it."""

    def socket_disconnected(self, sid: str, namespace: str, reason: str) -> None:
        """A socket reported by :meth:`socket_connected` left its namespace, ``reason`` as its
        disconnect handler gets it. Called once per connected socket, before that handler runs."""

    def room_joined(self, namespace: str, room: str, sid: str) -> None:
        """A socket joined a named room (never reported for its own sid room)."""

    def room_left(self, namespace: str, room: str, sid: str) -> None:
        """A socket left a named room (also for each of its rooms when it disconnects)."""

    def event_received(self, sid: str, namespace: str, event: str, args: list[Any]) -> None:
        """A client sent an event (every event, with a handler or not; its handler, if any, runs
        next). ``args``: don't change."""

    def session_saved(self, sid: str, namespace: str) -> None:
        """The app replaced a connected socket's user session (``save_session``, or the end of
        ``async with sio.session(sid)``); read it as ``sock.user``, don't change it."""

    def handler_finished(
        self, namespace: str, event: str, seconds: float, error: BaseException | None
    ) -> None:
        """The handler of an event reported by :meth:`event_received` returned after ``seconds``
        (for a coroutine: from its call until its task finished, as the loop sees it, so the wait
        for the loop to run the task and to report its end is included), or raised ``error``."""

    def event_emitted(
        self,
        namespace: str,
        event: str,
        args: tuple[Any, ...],
        rooms: Sequence[str] | None,
        recipients: int,
        exclude: Sequence[str],
    ) -> None:
        """The server sent an event to ``recipients`` sockets of this process.

        ``rooms`` are the rooms or sids it was sent to (None: the whole namespace) and ``exclude``
        the rooms or sids left out. Called for every emit delivered here: a broadcast from this
        server or one arriving from another node of a cluster, an emit to one sid, a ``call``.
        """

    def ack_received(self, namespace: str, seconds: float) -> None:
        """A client answered an ack the server asked for, ``seconds`` after it was sent."""

    def slow_consumer(self, sid: str, namespace: str) -> None:
        """The connection of this socket was closed because its outbound queue overflowed
        (reported before :meth:`socket_disconnected`)."""


#: Every hook of :class:`Observer`, by name.
HOOKS: tuple[str, ...] = tuple(
    name for name, value in vars(Observer).items() if callable(value) and not name.startswith("_")
)


class ObserverSet:
    """The observers of one server (``sio.observers``): ``add``, ``remove``, iterate.

    For each hook name it has an attribute that is None when no registered observer overrides that
    hook, else a callable taking the hook's arguments and calling every observer that does. Call
    sites test it before building any argument.
    """

    connection_opened: Callable[[str, str], None] | None
    connection_closed: Callable[[str, str], None] | None
    transport_upgraded: Callable[[str], None] | None
    socket_connected: Callable[[ServerSocket], None] | None
    socket_disconnected: Callable[[str, str, str], None] | None
    room_joined: Callable[[str, str, str], None] | None
    room_left: Callable[[str, str, str], None] | None
    event_received: Callable[[str, str, str, list[Any]], None] | None
    session_saved: Callable[[str, str], None] | None
    handler_finished: Callable[[str, str, float, BaseException | None], None] | None
    event_emitted: EmitHook | None
    ack_received: Callable[[str, float], None] | None
    slow_consumer: Callable[[str, str], None] | None

    def __init__(self, on_change: Callable[[ObserverSet | None], None]) -> None:
        self._observers: list[Observer] = []
        self._on_change = on_change
        self._logged: set[int] = set()
        #: Exceptions raised by observers' hooks so far (the first of each observer is logged).
        self.errors = 0
        self._rebuild()

    def add(self, observer: Observer) -> None:
        """Register ``observer`` (again: no effect). Its hooks are called from now on."""
        if not isinstance(observer, Observer):
            raise TypeError("an observer must be an aiosio.server.observe.Observer (a subclass)")
        if any(o is observer for o in self._observers):
            return
        self._observers.append(observer)
        self._rebuild()

    def remove(self, observer: Observer) -> None:
        """Unregister ``observer`` (not registered: no effect)."""
        kept = [o for o in self._observers if o is not observer]
        if len(kept) != len(self._observers):
            self._observers = kept
            self._rebuild()

    #: The same as :meth:`remove` (set-like spelling).
    discard = remove

    def __iter__(self) -> Iterator[Observer]:
        return iter(list(self._observers))

    def __len__(self) -> int:
        return len(self._observers)

    def __contains__(self, observer: object) -> bool:
        return any(o is observer for o in self._observers)

    def _rebuild(self) -> None:
        for name in HOOKS:
            base = getattr(Observer, name)
            listeners = [o for o in self._observers if getattr(type(o), name, base) is not base]
            setattr(self, name, self._dispatcher(name, listeners) if listeners else None)
        self._on_change(self if self._observers else None)

    def _dispatcher(self, name: str, listeners: list[Observer]) -> Callable[..., None]:
        failed = self._failed
        if len(listeners) == 1:
            (observer,) = listeners
            method = getattr(observer, name)

            def call_one(*args: Any) -> None:
                try:
                    method(*args)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as exc:  # a CancelledError too: it must not end the caller
                    failed(observer, name, exc)

            return call_one
        methods = [(o, getattr(o, name)) for o in listeners]

        def call_each(*args: Any) -> None:
            for observer, method in methods:
                try:
                    method(*args)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as exc:
                    failed(observer, name, exc)

        return call_each

    def _failed(self, observer: Observer, hook: str, exc: BaseException) -> None:
        self.errors += 1
        if id(observer) in self._logged:
            return
        self._logged.add(id(observer))
        logger.error(
            "observer %r failed in %s (its further errors are counted, not logged)",
            observer,
            hook,
            exc_info=exc,
        )


class Observable:
    """The server's side of the seam: ``observers``, and ``_obs`` for the call sites."""

    #: The observer set while it has any observer, else None: what every call site checks.
    _obs: ObserverSet | None = None
    _observers: ObserverSet | None = None

    @property
    def observers(self) -> ObserverSet:
        """The observers of this server (``sio.observers.add(obs)`` / ``remove(obs)``)."""
        observers = self._observers
        if observers is None:
            observers = self._observers = ObserverSet(self._observers_changed)
        return observers

    def _observers_changed(self, active: ObserverSet | None) -> None:
        self._obs = active
        self._sync_adapter_observer()

    def _sync_adapter_observer(self) -> None:
        """Give the adapter the observers (rooms and deliveries are the adapter's to report)."""
        adapter = getattr(self, "_adapter", None)
        if adapter is not None and hasattr(adapter, "observer"):
            adapter.observer = self._obs


class Traffic(NamedTuple):
    """Engine.IO packets and bytes of a server since it started (open and closed connections).

    Inbound: every packet a client sent on its session's transport (MESSAGE, PONG, CLOSE; not the
    upgrade's probe and UPGRADE packets); outbound: every OPEN, MESSAGE and PING the server sent or
    queued (not the transports' own NOOP, probe answer and CLOSE). Bytes are the Engine.IO
    packet's encoded length (type character and data), whatever the transport: no WebSocket frame
    header, no polling framing or base64. Outbound that is the UTF-8 bytes; inbound text is counted
    in characters (the same for ASCII), binary in bytes.
    """

    packets_in: int
    packets_out: int
    bytes_in: int
    bytes_out: int


#: server -> the last totals :func:`traffic` returned (a scrape from another thread can race a
#: session's close and see a lower sum; the counters never go down).
_SEEN: weakref.WeakKeyDictionary[Any, Traffic] = weakref.WeakKeyDictionary()
_SEEN_LOCK = threading.Lock()


def traffic(server: Any) -> Traffic:
    """The :class:`Traffic` totals of an :class:`~aiosio.AsyncServer` now (O(open connections)).

    Sessions count what is sent to them directly, the adapter counts broadcasts once each
    (recipients x size), ``core.traffic_closed`` keeps the totals of ended sessions. Safe to call
    from another thread (a metrics thread's scrape): the totals never go down between calls.
    """
    core = server.eio.core
    adapter = getattr(server, "_adapter", None)
    packets_in, packets_out, bytes_in, bytes_out = core.traffic_closed
    packets_out += getattr(adapter, "sent_packets", 0)
    bytes_out += getattr(adapter, "sent_bytes", 0)
    for session in list(core.sessions.values()):
        packets_in += session.packets_in
        packets_out += session.packets_out
        bytes_in += session.bytes_in
        bytes_out += session.bytes_out
    now = Traffic(packets_in, packets_out, bytes_in, bytes_out)
    with _SEEN_LOCK:
        try:
            last = _SEEN.get(server)
        except TypeError:  # not weakly referenceable: nothing to compare with
            return now
        if last is not None and not all(a >= b for a, b in zip(now, last, strict=True)):
            now = Traffic(*(max(a, b) for a, b in zip(now, last, strict=True)))
        _SEEN[server] = now
    return now


def outbound_queues(server: Any) -> list[int]:
    """Bytes waiting to be sent, one number per open connection (O(open connections))."""
    return [session.outbound_bytes() for session in list(server.eio.core.sessions.values())]


def connected_sockets(server: Any) -> list[tuple[str, str]]:
    """``(namespace, transport)`` of every connected socket of a server now (O(sockets))."""
    return [
        (sock.namespace, sock.session.transport)
        for sock in list(server._sockets.values())
        if sock.ready and not sock.gone
    ]


def connections(server: Any) -> list[str]:
    """The transport of every open Engine.IO connection of a server now (O(connections))."""
    return [session.transport for session in list(server.eio.core.sessions.values())]


class ClusterStats(NamedTuple):
    """Counters of a server's cluster adapter link (the Redis adapters), see :func:`cluster_stats`."""

    #: Messages Redis accepted, and messages the link delivered to the adapter.
    published: int
    received: int
    #: Messages lost on the way out (full queue, failed round trip, link closed).
    dropped: int
    #: Messages received that the driver refused (undecodable, not for this node's format).
    rejected: int
    #: The publish queue now: messages and bytes not yet sent.
    pending: int
    pending_bytes: int
    #: Outages so far, and whether the link is up now.
    outages: int
    connected: bool
    #: Seconds from queueing to Redis's answer for the last batch published, and the longest.
    lag: float
    max_lag: float
    #: Seconds the oldest message still queued has waited (0 when the queue is empty): it grows
    #: while Redis is slow or away, when ``lag`` (set as a batch completes) does not move.
    oldest_pending_age: float = 0.0


def cluster_stats(server: Any) -> ClusterStats | None:
    """The cluster link's counters, or None when the server's adapter has no Redis link."""
    driver = getattr(server._adapter, "driver", None)
    link = getattr(driver, "link", None)
    stats = getattr(link, "stats", None)
    if stats is None:
        return None
    rejected = getattr(getattr(driver, "dropped", None), "count", 0)
    pending_age = getattr(link, "oldest_pending_age", None)
    return ClusterStats(
        published=stats.published,
        received=stats.received,
        dropped=stats.dropped,
        rejected=rejected,
        pending=stats.pending,
        pending_bytes=stats.pending_bytes,
        outages=stats.outages,
        connected=bool(getattr(link, "connected", False)),
        lag=float(getattr(stats, "lag", 0.0)),
        max_lag=float(getattr(stats, "max_lag", 0.0)),
        oldest_pending_age=float(pending_age()) if pending_age is not None else 0.0,
    )
