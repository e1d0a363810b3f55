"""One Engine.IO session on asyncio: the shared state machine driven, heartbeat timer, outbound queue."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

from ..protocol import frames
from ..protocol.eio_session import Action, EngineIOState, ProtocolError, Role, State
from ..protocol.engineio import Packet, PacketType, decode_text, join_payload
from ..protocol.frames import Frame
from ..protocol.heartbeat import Heartbeat, HeartbeatAction

if TYPE_CHECKING:
    from .server import EngineCore
    from .sink import RawStream, WebSocketSink

logger = logging.getLogger("aiosio.engine")


class CloseReason:
    """Why a session ended; the strings python-engineio and python-socketio report, plus aiosio's own."""

    SERVER_DISCONNECT: Final = "server disconnect"
    CLIENT_DISCONNECT: Final = "client disconnect"
    PING_TIMEOUT: Final = "ping timeout"
    TRANSPORT_CLOSE: Final = "transport close"
    TRANSPORT_ERROR: Final = "transport error"
    PARSE_ERROR: Final = "parse error"
    SLOW_CONSUMER: Final = "slow consumer"
    SERVER_SHUTDOWN: Final = "server shutting down"


#: How many handler starts may wait per running-handler slot before messages are held back.
BACKLOG_FACTOR = 10

#: Seconds a PONG deadline is looked at again after the timer fires, for PONGs not yet read.
PONG_GRACE = 0.01

_MESSAGE = PacketType.MESSAGE

#: Bytes counted for each held-back message on top of its length (the str/bytes object, the deque slot).
HELD_OVERHEAD = 64

#: Server-side closes a polling client between two GETs still hears about on its next GET. After a
#: protocol or transport error the sid is simply dead (the next request gets 400).
_FAREWELL_REASONS = frozenset({CloseReason.SERVER_DISCONNECT, CloseReason.SERVER_SHUTDOWN})


class EngineSession:
    """An Engine.IO v4 session, driven by the transport layer and read by the layer above.

    Its protocol state (open on polling or WebSocket, upgrading, closed) is :attr:`machine`, the
    sans-IO :class:`~aiosio.protocol.eio_session.EngineIOState` in the server role; this class adds
    the asyncio side: the heartbeat timer, the outbound queue or socket, the waiting GET.

    Outbound packets are :class:`Frame` objects shared between recipients. On WebSocket a frame goes
    to the connection's :class:`~aiosio.engine.sink.WebSocketSink` (its buffer is the queue, bounded
    by ``max_queue_bytes``); a sink with a raw stream (aiohttp's asyncio transport) gets the frame's
    WebSocket bytes written straight to that stream, with no call in between. On long-polling, and
    while an upgrade is in progress, packets wait in their polling form (shared bytes, not the frame
    with its cached forms) in a list bounded by count and by those bytes, which are what the queue
    really holds, until the next GET.
    """

    __slots__ = (
        "_backlog",
        "_held",
        "_held_bytes",
        "_inflight_waiter",
        "_paused_since",
        "_poll",
        "_queue",
        "_queue_bytes",
        "_sink",
        "_timer",
        "_ws_close",
        "_wt",
        "bytes_in",
        "bytes_out",
        "closed",
        "core",
        "data",
        "heartbeat",
        "inflight",
        "machine",
        "packets_in",
        "packets_out",
        "request",
        "sid",
    )

    def __init__(self, core: EngineCore, sid: str, transport: str, request: Any) -> None:
        self.core = core
        self.sid = sid
        #: Engine.IO packets received and sent (or queued) by :meth:`send`, and their encoded lengths
        #: (plain ints, read by observers; added to ``core.traffic_closed`` when the session ends).
        #: Broadcasts are written with :meth:`write` and counted by the adapter instead.
        self.packets_in = self.packets_out = self.bytes_in = self.bytes_out = 0
        #: The session's Engine.IO state; every state change goes through it.
        self.machine = EngineIOState(Role.SERVER)
        self.machine.opened(transport)
        #: ``machine.state is State.CLOSED``, as a plain attribute for the checks made on every message.
        self.closed = False
        #: The request that opened the session: the transport's object (aiohttp or ASGI request) or
        #: an environ dict; :func:`aiosio.engine.request.environ_of` gives its environ.
        self.request = request
        #: State of the layer above (Socket.IO keeps its per-connection state here).
        self.data: Any = None
        #: Handler tasks running for this session; reading pauses at ``max_inflight``.
        self.inflight = 0
        self._inflight_waiter: asyncio.Future[None] | None = None
        #: Loop time at which reading last paused (the handlers stopped draining), or None.
        self._paused_since: float | None = None
        #: Handler starts waiting for a free slot (at most ``max_inflight`` before reading pauses).
        #: None until first needed: an empty deque costs ~600 bytes, for every idle connection.
        self._backlog: deque[Callable[[], None]] | None = None
        #: Messages read while the backlog was full, in arrival order (None while there are none).
        self._held: deque[str | bytes] | None = None
        self._held_bytes = 0
        #: Queued packets in polling form (``Frame.polling()``); ``_queue_bytes`` is their total length.
        self._queue: list[bytes] = []
        self._queue_bytes = 0
        self._poll: asyncio.Future[None] | None = None
        #: The WebSocket's raw stream (a sink's ``raw``), or None; when set, ``_sink`` is None.
        self._wt: RawStream | None = None
        #: The WebSocket's sink when it has no raw stream (ASGI, in-memory), or None.
        self._sink: WebSocketSink | None = None
        self._ws_close: Callable[[], Coroutine[Any, Any, Any]] | None = None
        loop = core.loop
        self.heartbeat = Heartbeat(core.options.ping_interval, core.options.ping_timeout, loop.time())
        self._timer: asyncio.TimerHandle | None = loop.call_at(self.heartbeat.deadline, self._on_timer)

    # -- state --------------------------------------------------------------------------------------

    @property
    def transport(self) -> str:
        """``'polling'`` or ``'websocket'``: where packets go now (polling until an upgrade completes)."""
        return self.machine.transport

    @property
    def close_reason(self) -> str | None:
        """Why the session ended (a :class:`CloseReason` string), once it has."""
        return self.machine.close_reason

    @property
    def upgrading(self) -> bool:
        """True while a WebSocket is taking over this polling session (probe sent or answered)."""
        return self.machine.upgrading

    @property
    def upgraded(self) -> bool:
        """True while the session is open on WebSocket (as python-engineio's ``upgraded``)."""
        return self.machine.state is State.OPEN_WEBSOCKET

    # -- sending ------------------------------------------------------------------------------------

    def send(self, frame: Frame) -> None:
        """Queue or write one packet, counted in :attr:`packets_out` and :attr:`bytes_out`. Never
        drops: a session that cannot keep up is closed."""
        self.packets_out += 1
        self.bytes_out += len(frame.payload)
        self.write(frame)

    def write(self, frame: Frame) -> None:
        """:meth:`send` without counting: for packets whose traffic the caller counts (a broadcast's
        adapter counts recipients x size once, not once per recipient)."""
        wt = self._wt
        if wt is not None:
            if wt.is_closing():
                # The connection died and the read loop has not seen it yet: end the session now
                # rather than write into it (asyncio logs a warning for every such write).
                self.close(CloseReason.TRANSPORT_ERROR, send_close=False)
                return
            wt.write(frame.ws())
            if wt.get_write_buffer_size() > self.core.options.max_queue_bytes:
                self.close(CloseReason.SLOW_CONSUMER, abort=True)
            return
        sink = self._sink
        if sink is not None:
            if sink.is_closing():
                self.close(CloseReason.TRANSPORT_ERROR, send_close=False)
                return
            sink.send(frame)
            if sink.buffered() > self.core.options.max_queue_bytes:
                self.close(CloseReason.SLOW_CONSUMER, abort=True)
            return
        if self.closed:
            return
        # The polling form only: the frame (and the WebSocket form it may have cached for other
        # recipients) is not kept alive by this queue, so the bytes counted are the bytes held.
        part = frame.polling()
        self._queue.append(part)
        self._queue_bytes += len(part)
        opts = self.core.options
        if len(self._queue) > opts.max_queue_packets or self._queue_bytes > opts.max_queue_bytes:
            self.close(CloseReason.SLOW_CONSUMER)
            return
        poll = self._poll
        if poll is not None and not poll.done():
            poll.set_result(None)

    def outbound_bytes(self) -> int:
        """Bytes waiting to go out now: the WebSocket's buffer, or the polling queue."""
        wt = self._wt
        if wt is not None:
            return wt.get_write_buffer_size()
        sink = self._sink
        if sink is not None:
            return sink.buffered()
        return self._queue_bytes

    @property
    def writable(self) -> bool:
        """True if a packet sent now would go out at once (used for volatile packets)."""
        wt = self._wt
        if wt is not None:
            return wt.get_write_buffer_size() <= self.core.options.volatile_threshold
        sink = self._sink
        if sink is not None:
            return sink.buffered() <= self.core.options.volatile_threshold
        return self.machine.state is State.OPEN_POLLING and self._poll is not None

    # -- receiving ----------------------------------------------------------------------------------

    def receive(self, packet: Packet) -> None:
        """Handle one packet from the client, on whichever transport it came.

        A MESSAGE goes straight up; what any other packet means (or whether it is allowed) is the
        state machine's answer.
        """
        if packet.type == _MESSAGE:
            self.message(packet.data)
            return
        self.packets_in += 1
        self.bytes_in += 1 + len(packet.data or "")
        try:
            action = self.machine.receive(packet.type)
        except ProtocolError as exc:
            self.protocol_error(str(exc))
            return
        if action is Action.HEARTBEAT:
            # A PONG nobody asked for is dropped: it must not buy the client extra time.
            # The timer is only moved if the next PING is due before it fires (ping_interval <
            # ping_timeout); otherwise it fires, sees the later deadline and sleeps on.
            heartbeat = self.heartbeat
            timer = self._timer
            if (
                heartbeat.pong(self.core.loop.time())
                and timer is not None
                and timer.when() > heartbeat.deadline
            ):
                timer.cancel()
                self._timer = self.core.loop.call_at(heartbeat.deadline, self._on_timer)
        elif action is Action.CLOSE:
            self.close(CloseReason.CLIENT_DISCONNECT, send_close=False)

    def message(self, data: str | bytes) -> None:
        """Hand one MESSAGE to the layer above, or hold it back while the handler backlog is full.

        Held messages are handed on in order as the backlog drains. Messages the layer above calls
        urgent (Socket.IO ACKs) skip the line, so handlers waiting for their own client's acks
        keep going while its events wait.
        """
        self.packets_in += 1
        self.bytes_in += len(data) + (data.__class__ is str)  # a text packet's type character
        if self._held is None and (self._backlog is None or not self.backlog_full):
            self.core.handler.on_message(self, data)  # nearly always: nothing waits
        elif self.core.urgent(self, data):
            self.core.handler.on_message(self, data)
        else:
            if self._held is None:
                self._held = deque()
            self._held.append(data)
            self._held_bytes += len(data) + HELD_OVERHEAD

    def check_heartbeat(self) -> bool:
        """Close the session now if its PONG is overdue; True if it is still alive.

        The heartbeat timer may not have fired yet when a request arrives right at the deadline;
        checking on access makes the deadline exact instead of racing the timer. While the server
        itself has stopped reading (:attr:`saturated`) a PONG cannot be seen, so none is overdue.
        """
        if not self.closed:
            now = self.core.loop.time()
            if self.heartbeat.expired(now) and not self._pause_forgivable(now) and not self.closed:
                self.close(CloseReason.PING_TIMEOUT, send_close=False)
        return not self.closed

    def protocol_error(self, detail: str) -> None:
        """Close the session because the client broke the protocol."""
        self.core.log_protocol_error(self, detail)
        self.close(CloseReason.PARSE_ERROR)

    # -- inbound flow control -----------------------------------------------------------------------

    def run_limited(self, start: Callable[[], None]) -> None:
        """Call ``start`` now, or once fewer than ``max_inflight`` handler tasks run.

        Events wait in a backlog instead of piling up as tasks. Once the backlog is full, further
        messages are held back unparsed (:meth:`message`), and the transport stops reading only when
        those pass ``max_http_buffer_size`` bytes too (:attr:`saturated`). Until then ACKs and PONGs
        are still read and handled at once, so handlers waiting on an ack can finish.
        """
        if self.at_capacity:
            if self._backlog is None:
                self._backlog = deque()
            self._backlog.append(start)
        else:
            start()

    @property
    def at_capacity(self) -> bool:
        """True if a handler started now would have to wait: every slot is taken, or others wait."""
        return self.inflight >= self.core.options.max_inflight or bool(self._backlog)

    @property
    def backlog_full(self) -> bool:
        """True while the handler backlog holds ten times ``max_inflight`` starts: new messages wait."""
        backlog = self._backlog
        return backlog is not None and len(backlog) >= BACKLOG_FACTOR * self.core.options.max_inflight

    @property
    def saturated(self) -> bool:
        """True while the held-back messages pass ``max_http_buffer_size`` bytes: stop reading.

        Memory stays bounded (the backlog by count, held messages by bytes), and until this point
        ACKs and PONGs are still read, so handlers that wait for acks from their own client rarely
        meet a paused reader.
        """
        return self._held_bytes > self.core.options.max_http_buffer_size

    def task_started(self) -> None:
        """The layer above started a handler task for this session."""
        self.inflight += 1

    def task_done(self) -> None:
        """A handler task of this session ended: start waiting handlers, resume reading."""
        self.inflight -= 1
        backlog = self._backlog
        cap = self.core.options.max_inflight
        while backlog and self.inflight < cap and not self.closed:
            backlog.popleft()()
        if backlog is not None and not backlog:
            self._backlog = None
        held = self._held
        if held is not None:
            on_message = self.core.handler.on_message
            while held and not self.backlog_full and not self.closed:
                data = held.popleft()
                self._held_bytes -= len(data) + HELD_OVERHEAD
                on_message(self, data)
            if not held and self._held is held:
                self._held = None
        waiter = self._inflight_waiter
        if waiter is not None and not self.saturated and not waiter.done():
            waiter.set_result(None)

    async def wait_inflight(self) -> None:
        """Wait while the held-back messages are over their bound (transport backpressure)."""
        if not self.saturated or self.closed:
            return
        self._paused_since = self.core.loop.time()
        try:
            while self.saturated and not self.closed:
                self._inflight_waiter = self.core.loop.create_future()
                try:
                    await self._inflight_waiter
                finally:
                    self._inflight_waiter = None
        finally:
            self._paused_since = None

    def _pause_forgivable(self, now: float) -> bool:
        """Reading is paused, and not for longer than two heartbeat periods.

        While the server does not read, a PONG can't be seen, so the client is not blamed for it. But
        a client that floods handlers which wait on that same client's acks (which can't be read
        either) would otherwise keep its session forever: past ``2 * (ping_interval + ping_timeout)``
        of pause (90 s by default), the session is closed as a slow consumer.
        """
        since = self._paused_since
        if since is None:
            return False
        opts = self.core.options
        if now - since < 2 * (opts.ping_interval + opts.ping_timeout):
            return True
        self.close(CloseReason.SLOW_CONSUMER)
        return False

    # -- long-polling -------------------------------------------------------------------------------

    async def poll(self) -> bytes | None:
        """Serve one polling GET: the next payload, waiting for one if needed.

        Returns None if another GET is already waiting; that overlap closes the session (the waiting
        GET receives the CLOSE packet) and the caller answers this one with an error.
        """
        if self._poll is not None:
            self.close(CloseReason.TRANSPORT_ERROR)
            return None
        if not self._queue and not self.closed:
            if self.machine.state is State.UPGRADING:
                # The client is about to pause polling for the upgrade: end this request at once.
                return frames.NOOP.polling()
            self._poll = self.core.loop.create_future()
            try:
                await self._poll
            finally:
                self._poll = None
        return self.take_payload()

    def take_payload(self) -> bytes:
        """Remove and return as many queued packets as fit the payload budget (at least one)."""
        if not self._queue:
            return frames.NOOP.polling()
        queue = self._queue
        payload, taken = join_payload(queue, self.core.options.max_http_buffer_size)
        self._queue_bytes -= sum(map(len, queue[:taken]))
        del queue[:taken]
        if self._queue:
            self.core.loop.call_soon(self._rewake)
        return payload

    def take_payload_all(self) -> bytes:
        """Everything still queued as one payload (for a closed session's last GET)."""
        parts, self._queue, self._queue_bytes = self._queue, [], 0
        return b"\x1e".join(parts)

    def _rewake(self) -> None:
        poll = self._poll
        if self._queue and poll is not None and not poll.done():
            poll.set_result(None)

    def receive_now(self, packets: list[Packet]) -> int:
        """Handle the packets of one polling POST as far as possible without waiting.

        Returns how many were dealt with: all of them (or the session closed on the way), unless
        reading became :attr:`saturated` first; :meth:`receive_payload` then takes the rest.
        """
        for taken, packet in enumerate(packets):
            if self.saturated:
                return taken
            if self.closed:
                break
            self.receive(packet)
        return len(packets)

    async def receive_payload(self, packets: list[Packet]) -> None:
        """Handle the packets of one polling POST, stopping if one of them closes the session.

        One POST can carry thousands of packets, so this pauses while reading is :attr:`saturated`,
        exactly as the WebSocket read loop does between messages.
        """
        for packet in packets:
            if self.saturated:
                await self.wait_inflight()
            if self.closed:
                return
            self.receive(packet)

    # -- websocket ----------------------------------------------------------------------------------

    def attach_websocket(self, sink: WebSocketSink) -> None:
        """Make a WebSocket connection (its sink) this session's transport and flush anything
        queued onto it.

        For an upgrade, this is called on the client's UPGRADE packet (:meth:`upgrade_message`):
        nothing was written to the WebSocket before it, and the queue goes out in order, so no packet
        is lost, duplicated or reordered across the switch. A GET still waiting is ended with a NOOP.
        """
        self._ws_close = sink.close
        queue, self._queue, self._queue_bytes = self._queue, [], 0
        if queue:
            sink.send_polling(queue)
        raw = sink.raw
        if raw is not None:
            self._wt = raw  # the sink itself is not kept: the session writes to its stream
        else:
            self._sink = sink
        poll = self._poll
        if poll is not None and not poll.done():
            poll.set_result(None)

    def begin_upgrade(self, sink: WebSocketSink) -> None:
        """A WebSocket (its sink) asks to take over this polling session; the sink is closed if the
        session dies meanwhile.

        Raises :class:`ProtocolError` (the session unchanged) unless the session is open on polling
        with no other upgrade under way.
        """
        self.machine.start_upgrade()
        self._ws_close = sink.close

    def upgrade_message(self, data: str, sink: WebSocketSink) -> None:
        """One text message on the upgrading WebSocket, whose sink is ``sink``.

        The probe is answered there (and a waiting GET ended with NOOP, so the client can pause
        polling); the UPGRADE packet moves the session onto the WebSocket. Anything out of order
        raises :class:`ProtocolError` (or :class:`ParseError`): the caller then aborts the upgrade.
        """
        answer = self.machine.receive_probe(decode_text(data))
        if answer is not None:
            sink.send(answer)
            poll = self._poll
            if poll is not None and not poll.done():
                self._queue.append(frames.NOOP.polling())
                self._queue_bytes += 1
                poll.set_result(None)
        elif self.machine.state is State.OPEN_WEBSOCKET:
            self.attach_websocket(sink)
            on_upgrade = getattr(self.core.handler, "on_upgrade", None)
            if on_upgrade is not None:  # the layer above may want to hear of it (observers)
                on_upgrade(self)

    def abort_upgrade(self) -> None:
        """The upgrade failed or timed out: the session carries on over polling (if it is still open).

        Does nothing once the session has ended (the upgrade ended with it); never raises, since it
        runs while another error or a cancellation is being handled.
        """
        if self.machine.upgrading:
            self.machine.abort_upgrade()
            self._ws_close = None
            self._rewake()

    # -- heartbeat ----------------------------------------------------------------------------------

    def _on_timer(self, looked_again: bool = False) -> None:
        # One timer handle per session, re-armed lazily: a PONG only moves the heartbeat's deadline,
        # so no handle is cancelled and left behind in the loop's heap on every heartbeat.
        self._timer = None
        if self.closed:
            return
        loop = self.core.loop
        heartbeat = self.heartbeat
        now = loop.time()
        if now + 0.001 < heartbeat.deadline:
            self._timer = loop.call_at(heartbeat.deadline, self._on_timer)
            return
        if heartbeat.awaiting_pong and self._pause_forgivable(now):
            # The server stopped reading (handler backlog): the PONG may sit unread behind the
            # client's events. The client is not to blame; count it as answered.
            heartbeat.pong(now)
            self._timer = loop.call_at(heartbeat.deadline, self._on_timer)
            return
        if self.closed:  # paused for too long: closed as a slow consumer
            return
        if heartbeat.awaiting_pong and not looked_again:
            # A PONG that arrived just now, or while the loop was stalled (a busy machine, a handler
            # that blocked), may be received but not read yet: reads run on the next loop turns.
            # Look again a moment later, so a stall alone does not time the client out.
            self._timer = loop.call_at(now + PONG_GRACE, self._on_timer, True)
            return
        if heartbeat.expire(now) is HeartbeatAction.TIMED_OUT:
            self.close(CloseReason.PING_TIMEOUT, send_close=False)
            return
        self.core.handler.on_ping(self)
        if self.closed:
            return
        self.send(frames.PING)
        if not self.closed:
            self._timer = loop.call_at(heartbeat.deadline, self._on_timer)

    # -- closing ------------------------------------------------------------------------------------

    def close(self, reason: str, *, send_close: bool = True, abort: bool = False) -> None:
        """End the session once, telling the client (CLOSE packet) unless it left or is gone.

        ``abort`` drops whatever is still buffered (a slow consumer's backlog) instead of flushing it.
        """
        if not self.machine.close(reason):
            return
        self.closed = True
        totals = self.core.traffic_closed
        totals[0] += self.packets_in
        totals[1] += self.packets_out
        totals[2] += self.bytes_in
        totals[3] += self.bytes_out
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.core.forget(self)
        wt, self._wt = self._wt, None
        sink, self._sink = self._sink, None
        if wt is not None:
            if abort:
                wt.abort()
            else:
                if send_close:
                    wt.write(frames.CLOSE.ws())
                if self._ws_close is not None:
                    self.core.spawn(self._ws_close())
        elif sink is not None:
            if abort:
                sink.abort()
            else:
                if send_close:
                    sink.send(frames.CLOSE)
                if self._ws_close is not None:
                    self.core.spawn(self._ws_close())
        else:
            # Polling: a waiting GET carries the CLOSE packet, or a NOOP when the client closed.
            if self._poll is not None:
                self._queue.append((frames.CLOSE if send_close else frames.NOOP).polling())
                if not self._poll.done():
                    self._poll.set_result(None)
            elif send_close and reason in _FAREWELL_REASONS:
                self._queue.append(frames.CLOSE.polling())
                farewell = self.take_payload_all()
                if len(farewell) > self.core.options.max_http_buffer_size:
                    farewell = frames.CLOSE.polling()  # a slow consumer's backlog is not kept around
                self.core.keep_farewell(self.sid, farewell)
            if self._ws_close is not None:  # an upgrade in progress dies with the session
                self.core.spawn(self._ws_close())
        self._backlog = None
        self._held = None
        self._held_bytes = 0
        waiter = self._inflight_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self.core.handler.on_disconnect(self, reason)

    def __repr__(self) -> str:
        return f"<EngineSession {self.sid} {self.machine.state.name}>"
