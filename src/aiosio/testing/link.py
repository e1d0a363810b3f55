"""The Engine.IO half of a test client: a session opened on a server's engine, with no socket.

A link does what a transport does for one connection, in memory: it opens a session through the
engine (:meth:`EngineCore.new_session`, the OPEN packet, the layer above's ``on_connect``), feeds it
the client's packets with the same backpressure the aiohttp read loop applies, reads what the
session sends, and answers the server's PINGs. Everything above the engine (Socket.IO, the adapter,
handlers) runs as in production; only the HTTP and WebSocket layer is absent.

:class:`WebSocketLink` reaches the session through an in-memory WebSocket sink (the default);
:class:`PollingLink` through the long-polling interface (``poll`` and ``receive_payload``), as the
aiohttp transport's GET and POST handlers do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from .. import exceptions
from ..engine.server import EngineCore
from ..engine.session import CloseReason, EngineSession
from ..protocol.engineio import Packet, PacketType, decode_payload, decode_text
from ..protocol.errors import ParseError
from ..protocol.frames import Frame
from .sink import MemorySink

#: Why a link ended, in the client's words (those of ``AsyncClient.reason``).
TRANSPORT_CLOSE = "transport close"
TRANSPORT_ERROR = "transport error"
CLIENT_DISCONNECT = "client disconnect"

OnMessage = Callable[[str | bytes], None]
OnClose = Callable[[str], None]


def _inbound(frame: Frame) -> Packet:
    """A client frame (Engine.IO encoding) as the packet the server's transport decodes from it."""
    if frame.binary:
        return Packet(PacketType.MESSAGE, frame.payload)
    return decode_text(frame.payload.decode())


class EngineLink:
    """One Engine.IO connection between a test client and a server's engine (see the module text)."""

    transport = ""

    def __init__(self, core: EngineCore, on_message: OnMessage, on_close: OnClose) -> None:
        self.core = core
        self._on_message = on_message
        self._on_close = on_close
        self.session: EngineSession | None = None
        #: The server's handshake (the OPEN packet's data: sid, pingInterval, ...).
        self.handshake: dict[str, Any] = {}
        #: Why the connection ended (the client's view), once it has.
        self.close_reason: str | None = None
        self._reader: asyncio.Task[None] | None = None
        #: One writer at a time, in order, as one socket's bytes are read by one read loop.
        self._writing = asyncio.Lock()

    @property
    def sid(self) -> str:
        """The Engine.IO session id."""
        return str(self.handshake.get("sid", ""))

    @property
    def is_open(self) -> bool:
        """True until the connection ends, from either side."""
        return self.close_reason is None and self.session is not None

    async def open(self, environ: dict[str, Any]) -> None:
        """Open a session as the transport's handshake does; raise ConnectionError if refused."""
        raise NotImplementedError

    async def send(self, frames: Sequence[Frame]) -> None:
        """Hand the client's packets to the session, waiting while the server stops reading.

        Sends are delivered one after the other, in the order they were made. Once made, a send is
        not taken back: cancelling the caller (a timeout) leaves the packets on their way, as bytes
        already written to a socket are, so the server never reads half a packet.
        """
        packets = [_inbound(frame) for frame in frames]
        delivery = asyncio.ensure_future(self._deliver(packets))
        delivery.add_done_callback(_retrieve)
        await asyncio.shield(delivery)

    async def _deliver(self, packets: list[Packet]) -> None:
        async with self._writing:
            session = self.session
            if session is None or not self.is_open or session.closed:
                raise exceptions.DisconnectedError("the connection is closed")
            await session.receive_payload(packets)

    def hang_up(self, reason: str = CLIENT_DISCONNECT) -> None:
        """The client closes the connection (cleanly, after any DISCONNECT it sent); ``reason`` is
        why, in the client's words."""
        raise NotImplementedError

    def drop(self) -> None:
        """The connection is lost without a goodbye (the server sees ``transport close``)."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------------

    async def _handshake(self, transport: str, environ: dict[str, Any]) -> EngineSession:
        core = self.core
        session = core.new_session(transport, environ)
        self.session = session
        self._attach(session)
        session.send(core.open_frame(session))
        if not await core.handler.on_connect(session):
            self._refused(session)
            self.close_reason = TRANSPORT_ERROR
            raise exceptions.ConnectionError("the server refused the connection (Engine.IO handshake)")
        return session

    def _attach(self, session: EngineSession) -> None:
        """Connect the session's outbound side before the OPEN packet is sent."""

    def _refused(self, session: EngineSession) -> None:
        session.close(CloseReason.SERVER_DISCONNECT, send_close=False)

    def _opened(self, packet: Packet) -> None:
        if packet.type is not PacketType.OPEN:
            raise exceptions.ConnectionError(f"expected the OPEN packet, got {packet.type.name}")
        self.handshake = orjson.loads(packet.data)

    def _packet(self, packet: Packet) -> bool:
        """Handle one packet from the server; False once it closed the connection."""
        ptype = packet.type
        if ptype is PacketType.MESSAGE:
            self._on_message(packet.data)
        elif ptype is PacketType.PING:
            session = self.session
            if session is not None and not session.closed:
                session.receive(Packet(PacketType.PONG, packet.data))
        elif ptype is PacketType.CLOSE:
            self._end(TRANSPORT_CLOSE)
            return False
        return True

    def _end(self, reason: str) -> None:
        if self.close_reason is not None:
            return
        self.close_reason = reason
        self._on_close(reason)

    def pause_reading(self) -> None:
        """Stop reading what the server sends, as a stalled client would (it piles up server side)."""
        raise NotImplementedError

    def resume_reading(self) -> None:
        """Read again, starting with what piled up."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Stop the reader task (the connection is over)."""
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


class WebSocketLink(EngineLink):
    """A connection opened directly on WebSocket, through an in-memory sink."""

    transport = "websocket"

    def __init__(self, core: EngineCore, on_message: OnMessage, on_close: OnClose) -> None:
        super().__init__(core, on_message, on_close)
        self.sink = MemorySink()

    def _attach(self, session: EngineSession) -> None:
        session.attach_websocket(self.sink)

    def pause_reading(self) -> None:
        """Leave the frames in the sink (its ``buffered()`` grows, as a socket buffer would)."""
        self.sink.pause(True)

    def resume_reading(self) -> None:
        """Read the sink again, from the oldest frame."""
        self.sink.pause(False)

    def _refused(self, session: EngineSession) -> None:
        session.close(CloseReason.SERVER_DISCONNECT)

    async def open(self, environ: dict[str, Any]) -> None:
        """The WebSocket handshake: a session on WebSocket, the OPEN packet read from the sink."""
        await self._handshake("websocket", environ)
        frame = await self.sink.next()
        if frame is None:  # pragma: no cover - the session sent OPEN before anything else
            raise exceptions.ConnectionError("the server closed the connection during the handshake")
        self._opened(_inbound(frame))
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        sink = self.sink
        while True:
            frame = await sink.next()
            if frame is None:
                self._end(TRANSPORT_ERROR if sink.aborted else TRANSPORT_CLOSE)
                return
            try:
                packet = _inbound(frame)
            except ParseError:  # pragma: no cover - the server's frames are its own encoding
                self._end(TRANSPORT_ERROR)
                return
            if not self._packet(packet):
                return

    def hang_up(self, reason: str = CLIENT_DISCONNECT) -> None:
        """Send the Engine.IO CLOSE packet and close the WebSocket, as aiosio's and python-socketio's
        clients do (the server sees ``client disconnect``)."""
        self._end(reason)
        session = self.session
        if session is not None and not session.closed:
            session.receive(Packet(PacketType.CLOSE))
        self.sink.hang_up()
        if session is not None and not session.closed:  # pragma: no cover - CLOSE ended it
            session.close(CloseReason.TRANSPORT_CLOSE, send_close=False)

    def drop(self) -> None:
        """The WebSocket is gone: the server's read loop ends with ``transport close``."""
        self._end(TRANSPORT_CLOSE)
        self.sink.hang_up()
        session = self.session
        if session is not None and not session.closed:
            session.close(CloseReason.TRANSPORT_CLOSE, send_close=False)


class PollingLink(EngineLink):
    """A connection on long-polling: one GET always waiting (``poll``), POSTs for what the client sends."""

    transport = "polling"

    def __init__(self, core: EngineCore, on_message: OnMessage, on_close: OnClose) -> None:
        super().__init__(core, on_message, on_close)
        #: Cleared while the client does not read: no new GET is sent.
        self._reading = asyncio.Event()
        self._reading.set()

    def pause_reading(self) -> None:
        """Send no further GET (the one already waiting is still answered)."""
        self._reading.clear()

    def resume_reading(self) -> None:
        """Poll again."""
        self._reading.set()

    async def open(self, environ: dict[str, Any]) -> None:
        """The polling handshake: the OPEN packet is the first GET's answer."""
        session = await self._handshake("polling", environ)
        packets = decode_payload(session.take_payload())
        self._opened(packets[0])
        for packet in packets[1:]:  # pragma: no cover - nothing follows OPEN in the handshake
            self._packet(packet)
        self._reader = asyncio.create_task(self._read(session))

    async def _read(self, session: EngineSession) -> None:
        core = self.core
        while True:
            if not session.check_heartbeat() or session.closed:
                # The next GET finds the sid closed: a farewell payload if the server left one
                # (ending with CLOSE), else "unknown sid" (a transport error for the client).
                farewell = core.take_farewell(session.sid)
                if farewell is not None and not self._payload(farewell):
                    return
                self._end(TRANSPORT_ERROR)
                return
            await self._reading.wait()  # meanwhile no GET waits: packets queue in the session
            if session.closed:
                continue
            body = await session.poll()
            if body is None:  # pragma: no cover - this link never has two GETs waiting
                self._end(TRANSPORT_ERROR)
                return
            if not self._payload(body):
                return
            if session.closed and session.close_reason == CloseReason.CLIENT_DISCONNECT:
                return

    def _payload(self, body: bytes) -> bool:
        return all(self._packet(packet) for packet in decode_payload(body))

    def hang_up(self, reason: str = CLIENT_DISCONNECT) -> None:
        """Send the Engine.IO CLOSE packet, as a polling client does (the server sees
        ``client disconnect``)."""
        self._end(reason)
        session = self.session
        if session is not None and not session.closed:
            session.receive(Packet(PacketType.CLOSE))

    def drop(self) -> None:
        """The client stops polling: the server notices at its ping timeout (``ping timeout``, as in
        production); here, at once."""
        self._end(TRANSPORT_CLOSE)
        session = self.session
        if session is not None and not session.closed:
            session.close(CloseReason.PING_TIMEOUT, send_close=False)


def _retrieve(task: asyncio.Future[Any]) -> None:
    # A delivery whose sender stopped waiting (a timeout) must not log "never retrieved".
    if not task.cancelled():
        task.exception()


def make_link(transport: str, core: EngineCore, on_message: OnMessage, on_close: OnClose) -> EngineLink:
    """The link for ``'websocket'`` or ``'polling'``."""
    if transport == "websocket":
        return WebSocketLink(core, on_message, on_close)
    if transport == "polling":
        return PollingLink(core, on_message, on_close)
    raise ValueError(f"unknown transport {transport!r}; use 'websocket' or 'polling'")
