"""Per-connection and per-namespace state of the Socket.IO server."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

from ..engine.request import environ_of
from ..engine.session import CloseReason, EngineSession
from ..protocol.cluster import js_date_string
from ..protocol.frames import Frame
from ..protocol.parser import PacketDecoder

if TYPE_CHECKING:
    from .observe import ObserverSet

#: ``ServerSocket.connecting``: the connect handler waits for a handler slot of its connection.
CONNECT_QUEUED = 1
#: ``ServerSocket.connecting``: the connect handler is running.
CONNECT_RUNNING = 2


class SocketOwner(Protocol):
    """The server a connection belongs to, as its sockets need it (to disconnect themselves)."""

    #: The server's observers while it has any (acks are timed then), else None.
    _obs: ObserverSet | None

    def disconnect_socket(self, sock: ServerSocket, close: bool) -> None:
        """Disconnect ``sock`` now, telling the client; ``close`` also ends its connection."""
        ...


class ServerSocket:
    """One client's membership of one namespace (python-socketio's ``sid``); the adapters' view
    of it is :class:`aiosio.adapters.base.Member`.

    Until the CONNECT reply has gone out (the ``connect`` handler may still be running) the socket is
    not ``ready`` and packets for it wait in ``pending``, so nothing reaches the client before it is
    told it is connected.
    """

    __slots__ = (
        "ack_sent",
        "acks",
        "auth",
        "conn",
        "connecting",
        "gone",
        "hold",
        "left",
        "missed",
        "namespace",
        "next_ack_id",
        "observed",
        "pending",
        "pid",
        "ready",
        "recovered",
        "recovery_start",
        "session",
        "sid",
        "user",
    )

    def __init__(self, sid: str, namespace: str, conn: Connection) -> None:
        self.sid = sid
        self.namespace = namespace
        self.conn = conn
        self.session: EngineSession = conn.session
        #: Connected to the namespace (the connect handler accepted it).
        self.ready = False
        #: Packets go to ``pending`` instead of the transport (until the CONNECT reply is out).
        self.hold = True
        #: Disconnected (its disconnect handler may still be running): nothing more is sent.
        self.gone = False
        #: Where its ``connect`` handler is: 0 (decided, or none), CONNECT_QUEUED (waiting for a
        #: handler slot) or CONNECT_RUNNING (a disconnect meanwhile waits for its verdict).
        self.connecting = 0
        #: Why the client left (or was disconnected) while the ``connect`` handler ran.
        self.left: str | None = None
        self.pending: list[Frame] = []
        #: Outstanding acks: id -> callback taking the ack's arguments (or an exception); None until
        #: the first one (most sockets never wait for an ack).
        self.acks: dict[int, Callable[[list[Any] | BaseException], None]] | None = None
        self.next_ack_id = 0
        #: With observers: loop time each outstanding ack was asked for (None until the first).
        self.ack_sent: dict[int, float] | None = None
        #: Its connect was reported to the observers (its disconnect will be).
        self.observed = False
        #: The user session of ``get_session``/``save_session``.
        self.user: dict[Any, Any] | None = None
        #: What the client's CONNECT packet carried (its ``auth``), None if nothing.
        self.auth: Any = None
        #: Connection-state recovery (all unused when it is off): the private session id the client
        #: sends back to recover, whether this socket is a recovered one, the packets it missed
        #: (written just before the CONNECT reply), and the offset its session starts after.
        self.pid: str | None = None
        self.recovered = False
        self.missed: list[Sequence[Frame]] | None = None
        self.recovery_start: str | None = None

    @property
    def eio_sid(self) -> str:
        """The Engine.IO session id of this socket's connection."""
        return self.session.sid

    def handshake(self) -> dict[str, Any]:
        """Node's ``socket.handshake`` (what ``fetch_sockets`` reports), from the connection request."""
        environ = self.conn.environ
        headers = {
            key[5:].lower().replace("_", "-"): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        issued = self.conn.issued
        return {
            "headers": headers,
            "time": js_date_string(issued / 1000),
            "address": environ.get("REMOTE_ADDR", ""),
            "xdomain": "HTTP_ORIGIN" in environ,
            "secure": environ.get("wsgi.url_scheme") == "https",
            "issued": issued,
            "url": environ.get("RAW_URI", ""),
            "query": dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)),
            "auth": self.auth if isinstance(self.auth, dict) else {},
        }

    def deliver(self, frames: Sequence[Frame]) -> None:
        """Send one encoded packet to this socket (held back until the CONNECT reply is out),
        counted in its session's traffic (:meth:`fan_out` is the adapters' uncounted form)."""
        session = self.session
        if not self.hold:
            write = session.write
            for frame in frames:
                session.packets_out += 1
                session.bytes_out += len(frame.payload)
                write(frame)
        elif not self.gone and not session.closed:
            for frame in frames:
                session.packets_out += 1
                session.bytes_out += len(frame.payload)
            self.pending.extend(frames)
            if len(self.pending) > session.core.options.max_queue_packets:
                session.close(CloseReason.SLOW_CONSUMER)

    def fan_out(self, frames: Sequence[Frame]) -> None:
        """:meth:`deliver` without counting the traffic: a broadcast's adapter counts it once for
        all its recipients (nothing per recipient on the fan-out path)."""
        if not self.hold:
            write = self.session.write
            for frame in frames:
                write(frame)
        elif not self.gone and not self.session.closed:
            self.pending.extend(frames)
            if len(self.pending) > self.session.core.options.max_queue_packets:
                self.session.close(CloseReason.SLOW_CONSUMER)

    def deliver_volatile(self, frames: Sequence[Frame]) -> bool:
        """Send only if the transport can take it now (True if sent; counted then); a volatile
        packet is never buffered."""
        if self.fan_out_volatile(frames):
            session = self.session
            for frame in frames:
                session.packets_out += 1
                session.bytes_out += len(frame.payload)
            return True
        return False

    def fan_out_volatile(self, frames: Sequence[Frame]) -> bool:
        """:meth:`deliver_volatile` without counting the traffic (the adapter counts it)."""
        if not self.hold and self.session.writable:
            write = self.session.write
            for frame in frames:
                write(frame)
            return True
        return False

    def mark_ready(self) -> None:
        """The CONNECT reply is out: release what waited for it.

        The held packets follow one loop turn later, so the CONNECT reply leaves in a write of its
        own (as with Node, whose connection handlers run after the reply); packets delivered in
        between keep queueing behind them, so order is kept.
        """
        self.ready = True
        if self.pending:
            self.session.core.loop.call_soon(self._release)
        else:
            self.hold = False

    def _release(self) -> None:
        if self.gone:
            return
        self.flush_held()

    def flush_held(self) -> None:
        """Send what waited for the CONNECT reply now, in order, and stop holding."""
        self.hold = False
        pending, self.pending = self.pending, []
        write = self.session.write  # counted when they were queued
        for frame in pending:
            write(frame)

    def pop_ack(self, ack_id: int) -> Callable[[list[Any] | BaseException], None] | None:
        """Remove and return the callback waiting for ``ack_id``, if any."""
        if self.ack_sent:
            self.ack_sent.pop(ack_id, None)
        return self.acks.pop(ack_id, None) if self.acks else None

    def add_ack(
        self, callback: Callable[[list[Any] | BaseException], None], ack_id: int | None = None
    ) -> int:
        """Allocate an ack id (unique while outstanding) for ``callback``; a broadcast passes the
        id it shares among its recipients (never below :attr:`next_ack_id`)."""
        if ack_id is None:
            ack_id = self.next_ack_id
        self.next_ack_id = ack_id + 1
        if self.acks is None:
            self.acks = {}
        self.acks[ack_id] = callback
        obs = self.conn.owner._obs
        if obs is not None and obs.ack_received is not None:
            if self.ack_sent is None:
                self.ack_sent = {}
            self.ack_sent[ack_id] = self.session.core.loop.time()
        return ack_id

    def disconnect(self, close: bool = False) -> None:
        """Disconnect from the namespace, server side (the adapters' ``disconnect_sockets``)."""
        self.conn.owner.disconnect_socket(self, close)

    def fail_acks(self, error: BaseException) -> None:
        """The socket is gone: every outstanding ack completes now with ``error``."""
        acks, self.acks = self.acks, None
        self.ack_sent = None
        for callback in (acks or {}).values():
            callback(error)


class Connection:
    """Socket.IO state of one Engine.IO session: its decoder and its namespaces."""

    __slots__ = (
        "_environ",
        "decoder",
        "eio_session",
        "issued",
        "opened_at",
        "owner",
        "restoring",
        "session",
        "sockets",
    )

    def __init__(self, session: EngineSession, decoder: PacketDecoder, owner: SocketOwner) -> None:
        self.session = session
        self.owner = owner
        #: The parser's decoder for this connection (it holds a half-received binary packet).
        self.decoder = decoder
        self.sockets: dict[str, ServerSocket] = {}
        #: Since when (loop time) the connection has been in no namespace: when it opened, or when
        #: it left its last one (for the namespace connect timeout; stale while it is in one).
        self.opened_at = session.core.loop.time()
        #: When the connection was made, in ms since the epoch (Node's ``handshake.issued``).
        self.issued = int(time.time() * 1000)
        self._environ: dict[str, Any] | None = None
        #: The Engine.IO-level user session (``sio.eio.get_session``), made on first use.
        self.eio_session: dict[Any, Any] | None = None
        #: Namespaces whose CONNECT waits for a recovery store's answer (None: none ever did).
        self.restoring: set[str] | None = None

    @property
    def environ(self) -> dict[str, Any]:
        """The WSGI-style environ of the connection request, built on first use and then kept.

        Building it lazily saves about 1.4 KiB per idle connection for apps that never read it.
        """
        environ = self._environ
        if environ is None:
            environ = self._environ = environ_of(self.session.request)
        return environ
