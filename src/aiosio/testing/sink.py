"""An in-memory :class:`~aiosio.engine.sink.WebSocketSink`: a session's WebSocket frames, kept for a
test client to read, as a socket's buffer would keep them."""

from __future__ import annotations

import asyncio
import base64
from collections import deque
from collections.abc import Sequence

from ..protocol.frames import Frame


class MemorySink:
    """The server side of an in-process WebSocket: frames in order, read by :meth:`next`.

    ``buffered()`` counts the payload bytes sent and not read yet, so the session's
    ``max_queue_bytes`` and ``volatile_threshold`` apply to a client that stops reading exactly as
    to a slow network peer.
    """

    __slots__ = ("_bytes", "_frames", "_wake", "aborted", "closing", "paused")

    #: No byte stream: the session hands every frame to :meth:`send`.
    raw = None

    def __init__(self) -> None:
        self._frames: deque[Frame] = deque()
        self._bytes = 0
        self._wake: asyncio.Future[None] | None = None
        #: The server closed (or aborted) the connection: nothing more will be sent.
        self.closing = False
        #: The server dropped the connection, discarding what was buffered (a slow consumer).
        self.aborted = False
        #: The client does not read (:meth:`next` waits): frames stay buffered, counted.
        self.paused = False

    # -- the session's side -------------------------------------------------------------------------

    def send(self, frame: Frame) -> None:
        """Buffer one packet for the client."""
        if self.closing:
            return
        self._frames.append(frame)
        self._bytes += len(frame.payload)
        self._notify()

    def send_polling(self, parts: Sequence[bytes]) -> None:
        """Buffer packets given in their polling form (``b`` + base64 for binary)."""
        for part in parts:
            if part[:1] == b"b":
                self.send(Frame(base64.b64decode(part[1:]), binary=True))
            else:
                self.send(Frame(part))

    def is_closing(self) -> bool:
        """True once the connection is closed, from either side."""
        return self.closing

    def buffered(self) -> int:
        """Payload bytes the client has not read yet."""
        return self._bytes

    def abort(self) -> None:
        """Drop the connection and whatever the client has not read."""
        self.closing = True
        self.aborted = True
        self._frames.clear()
        self._bytes = 0
        self._notify()

    async def close(self) -> None:
        """Close cleanly: the client still reads what was sent before."""
        self.closing = True
        self._notify()

    # -- the client's side --------------------------------------------------------------------------

    async def next(self) -> Frame | None:
        """The next frame, waiting for one (and while :attr:`paused`); None once the connection is
        closed and read to the end."""
        while self.paused or not self._frames:
            if self.closing and not self._frames and not self.paused:
                return None
            self._wake = asyncio.get_running_loop().create_future()
            try:
                await self._wake
            finally:
                self._wake = None
        frame = self._frames.popleft()
        self._bytes -= len(frame.payload)
        return frame

    def pause(self, paused: bool) -> None:
        """Stop (True) or resume (False) reading."""
        self.paused = paused
        self._notify()

    def hang_up(self) -> None:
        """The client closes its end: nothing more is delivered."""
        self.closing = True
        self._frames.clear()
        self._bytes = 0
        self._notify()

    def _notify(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)
