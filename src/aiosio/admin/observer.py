"""The admin UI's observers: what the server's observer seam (:mod:`aiosio.server.observe`) tells
them becomes the admin-ui protocol's events.

Production mode (:class:`ProductionObserver`) counts connections and disconnections for the
``aggregatedEvents`` of ``server_stats`` and nothing else: it overrides no per-packet hook.
Development mode (:class:`DevelopmentObserver`) also reports every socket's arrival, departure,
transport upgrade, session saves, room changes, and the events it receives and is sent, as Node's
admin-ui does.
Hooks only queue (see :mod:`.outbox`); they never wait and never touch the wire themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..adapters.base import Selector
from ..engine.session import CloseReason
from ..server.observe import Observer
from .events import EventBuffer
from .outbox import Outbox
from .serialize import iso_now, plain_data, socket_record

if TYPE_CHECKING:
    from ..server.server import AsyncServer
    from ..server.socket import ServerSocket

#: ``event_sent`` is reported for at most this many recipients of one broadcast (the UI keeps the
#: last 1000 events of a namespace; a broadcast to 5,000 sockets would otherwise bury the rest).
MAX_SENT_PER_EMIT = 50


def describe_local(sio: AsyncServer, sock: ServerSocket) -> dict[str, Any]:
    """A socket of this server as the UI is told about it."""
    return socket_record(
        sock.sid,
        sock.namespace,
        sock.eio_sid,
        sock.session.transport,
        sock.user,
        sock.handshake(),
        sio.manager.adapter.rooms(sock.namespace, sock.sid),
    )


class ProductionObserver(Observer):
    """Counts Engine.IO connections opened and closed (by reason) for ``server_stats``."""

    def __init__(
        self,
        buffer: EventBuffer,
        started: Callable[[], None],
        closing: Callable[[], None] = lambda: None,
    ) -> None:
        self.buffer = buffer
        #: Called at each connection: starts the ``server_stats`` timer if it is not running yet
        #: (``instrument()`` usually runs before the event loop does).
        self._started = started
        #: Called when a connection is closed by the server's shutdown (the timer stops then).
        self._closing = closing

    def connection_opened(self, eio_sid: str, transport: str) -> None:
        """An Engine.IO connection opened: one ``rawConnection``."""
        self._started()
        self.buffer.push("rawConnection")

    def connection_closed(self, eio_sid: str, reason: str) -> None:
        """An Engine.IO connection ended: one ``rawDisconnection``, its reason the sub-type."""
        self.buffer.push("rawDisconnection", reason)
        if reason == CloseReason.SERVER_SHUTDOWN:
            self._closing()


class DevelopmentObserver(ProductionObserver):
    """Reports sockets, rooms and events to the admins as they happen (Node's verbose listeners)."""

    def __init__(
        self,
        sio: AsyncServer,
        buffer: EventBuffer,
        started: Callable[[], None],
        outbox: Outbox,
        admin_namespace: str,
        closing: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(buffer, started, closing)
        self._sio = sio
        self._outbox = outbox
        self._admin = admin_namespace

    def socket_connected(self, sock: ServerSocket) -> None:
        """``room_joined(nsp, id, id, timestamp)`` for its own sid room, then
        ``socket_connected(socket, timestamp)`` (Node's order: the UI, which makes the private
        room from the record's rooms, takes no account of the first)."""
        stamp = iso_now()
        self._outbox.put("room_joined", (sock.namespace, sock.sid, sock.sid, stamp))
        self._outbox.put("socket_connected", (describe_local(self._sio, sock), stamp))

    def socket_disconnected(self, sid: str, namespace: str, reason: str) -> None:
        """``socket_disconnected(nsp, id, reason, timestamp)``, then ``room_left(nsp, id, id,
        timestamp)`` for its own sid room (Node's order: the UI drops the private room on it)."""
        stamp = iso_now()
        self._outbox.put("socket_disconnected", (namespace, sid, reason, stamp))
        self._outbox.put("room_left", (namespace, sid, sid, stamp))

    def transport_upgraded(self, eio_sid: str) -> None:
        """``socket_updated({id, nsp, transport})`` for each socket of the upgraded connection."""
        session = self._sio.eio.get(eio_sid)
        conn = session.data if session is not None else None
        if conn is None:
            return
        for sock in list(conn.sockets.values()):
            self._outbox.put(
                "socket_updated", ({"id": sock.sid, "nsp": sock.namespace, "transport": "websocket"},)
            )

    def session_saved(self, sid: str, namespace: str) -> None:
        """``socket_updated({id, nsp, data})``: the app saved the socket's session (Node sends it
        when ``socket.data`` changes)."""
        sock = self._sio._socket_in(sid, namespace)
        if sock is not None:
            self._outbox.put(
                "socket_updated", ({"id": sid, "nsp": namespace, "data": plain_data(sock.user)},)
            )

    def room_joined(self, namespace: str, room: str, sid: str) -> None:
        """``room_joined(nsp, room, id, timestamp)`` (its own sid room: see :meth:`socket_connected`)."""
        self._outbox.put("room_joined", (namespace, room, sid, iso_now()))

    def room_left(self, namespace: str, room: str, sid: str) -> None:
        """``room_left(nsp, room, id, timestamp)`` (its own sid room: see :meth:`socket_disconnected`)."""
        self._outbox.put("room_left", (namespace, room, sid, iso_now()))

    def event_received(self, sid: str, namespace: str, event: str, args: list[Any]) -> None:
        """``event_received(nsp, id, [event, ...args], timestamp)`` (not for the admin namespace)."""
        if namespace != self._admin:
            self._outbox.put("event_received", (namespace, sid, [event, *args], iso_now()))

    def event_emitted(
        self,
        namespace: str,
        event: str,
        args: tuple[Any, ...],
        rooms: Sequence[str] | None,
        recipients: int,
        exclude: Sequence[str],
    ) -> None:
        """``event_sent(nsp, id, [event, ...args], timestamp)`` for each local recipient (at most
        :data:`MAX_SENT_PER_EMIT`), not for the admin namespace."""
        if namespace == self._admin or recipients <= 0:
            return
        adapter = self._sio.manager.adapter
        members: Iterable[Any]
        if not exclude and (rooms is None or len(rooms) == 1):  # a live view: nothing is copied
            members = adapter.participants(namespace, None if rooms is None else rooms[0]).values()
        else:
            selector = Selector(None if rooms is None else tuple(rooms), tuple(exclude))
            members = adapter.local(namespace, selector)
        payload = [event, *args]
        stamp = iso_now()
        for member in list(islice(members, MAX_SENT_PER_EMIT)):
            self._outbox.put("event_sent", (namespace, member.sid, payload, stamp))
