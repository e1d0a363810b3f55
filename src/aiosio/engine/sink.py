"""Where a session open on WebSocket sends its packets: the outbound half of the transport seam.

A transport hands the engine a :class:`WebSocketSink` for each WebSocket connection. The session
never sees the connection itself: it sends :class:`~aiosio.protocol.frames.Frame` objects to the
sink, asks how much is still buffered (``max_queue_bytes``, ``volatile_threshold``), and closes or
aborts it. Each transport decides what a frame becomes: complete RFC 6455 frames written to an
asyncio transport (aiohttp), ``websocket.send`` messages (ASGI), or frames handed to a test client.

A sink that can take complete server WebSocket frames as bytes exposes that byte stream as
:attr:`WebSocketSink.raw`; the session then writes ``frame.ws()`` there itself, the fan-out hot
path with no call in between (aiohttp's sink gives the connection's asyncio transport).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from ..protocol.frames import Frame, ws_from_polling


class RawStream(Protocol):
    """A byte stream taking complete WebSocket frames: the subset of ``asyncio.WriteTransport``
    the session uses."""

    def write(self, data: bytes) -> None:
        """Write bytes (one or more complete frames); never blocks."""
        ...

    def is_closing(self) -> bool:
        """True once the connection is closed or closing."""
        ...

    def get_write_buffer_size(self) -> int:
        """Bytes written and not yet sent."""
        ...

    def abort(self) -> None:
        """Drop the connection at once, discarding what is buffered."""
        ...


class WebSocketSink(Protocol):
    """The outbound side of one WebSocket connection, as an :class:`EngineSession` uses it.

    Every method but :meth:`close` is synchronous and never blocks: a sink buffers, and the session
    closes a session whose sink holds more than ``max_queue_bytes`` (:meth:`buffered`).
    """

    @property
    def raw(self) -> RawStream | None:
        """A stream complete server frames may be written to directly (see the module text), or None."""
        ...

    def send(self, frame: Frame) -> None:
        """Send one packet."""
        ...

    def send_polling(self, parts: Sequence[bytes]) -> None:
        """Send packets given in their long-polling form (a polling queue moving onto WebSocket)."""
        ...

    def is_closing(self) -> bool:
        """True once the connection is gone or being closed: nothing sent now would arrive."""
        ...

    def buffered(self) -> int:
        """Bytes sent to the sink and not yet handed to the network."""
        ...

    def abort(self) -> None:
        """Drop the connection at once, discarding what is buffered (a slow consumer)."""
        ...

    def close(self) -> Coroutine[Any, Any, Any]:
        """Close the connection cleanly once what is buffered is out (a coroutine the engine runs)."""
        ...


class RawSink:
    """A :class:`WebSocketSink` over a byte stream of complete WebSocket frames (aiohttp's).

    The session takes :attr:`raw` and ``close`` from it when it attaches, so this object does not
    outlive the attach: an idle connection keeps only the stream.
    """

    __slots__ = ("close", "raw")

    def __init__(self, raw: RawStream, close: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self.raw = raw
        #: The WebSocket's own close (sends the close frame, waits for the answer).
        self.close = close

    def send(self, frame: Frame) -> None:
        """Write the frame's WebSocket form."""
        self.raw.write(frame.ws())

    def send_polling(self, parts: Sequence[bytes]) -> None:
        """Write the packets as WebSocket frames, in one write."""
        self.raw.write(b"".join(map(ws_from_polling, parts)))

    def is_closing(self) -> bool:
        """The stream's ``is_closing``."""
        return self.raw.is_closing()

    def buffered(self) -> int:
        """The stream's write buffer size."""
        return self.raw.get_write_buffer_size()

    def abort(self) -> None:
        """Abort the stream."""
        self.raw.abort()
