"""The ASGI WebSocket sink: Engine.IO packets out as ``websocket.send`` messages, buffered and bounded.

The session sends synchronously and never waits; an ASGI ``send`` is a coroutine that may wait
(the server's write flow control). So packets wait in this sink's queue, counted in bytes (the
session closes a connection whose queue passes ``max_queue_bytes`` as a slow consumer), and a
writer task, started when the queue stops being empty and ended when it is empty again, hands
them to ``send`` in order. An idle connection has no task and an empty queue.

Closing flushes the queue, bounded in time (:data:`CLOSE_TIMEOUT`): a client that stops reading
holds the ASGI ``send`` forever, so past that the sink is aborted (queue dropped, writer and
reader cancelled) and the close completes anyway.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..protocol.frames import Frame

logger = logging.getLogger("aiosio.transport")

Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]

#: WebSocket close codes the transport sends.
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009

#: Seconds :meth:`AsgiSink.close` waits for the queue to be taken by the ASGI server before it
#: aborts the connection instead.
CLOSE_TIMEOUT = 2.0

# The message of the last frame turned into one, kept for the next recipient: a broadcast sends the
# same Frame to every recipient in a row, so it is decoded once, not once per recipient. The ASGI
# server only reads a message, so recipients share it.
_last_frame: Frame | None = None
_last_message: Message = {}


def message_of(frame: Frame) -> Message:
    """The ``websocket.send`` message carrying ``frame`` (text or bytes, as the packet is)."""
    global _last_frame, _last_message
    if frame is _last_frame:
        return _last_message
    if frame.binary:
        message: Message = {"type": "websocket.send", "bytes": frame.payload}
    else:
        message = {"type": "websocket.send", "text": frame.payload.decode()}
    _last_frame, _last_message = frame, message
    return message


def message_of_polling(part: bytes) -> Message:
    """The ``websocket.send`` message for a packet given in its long-polling form."""
    if part[:1] == b"b":
        return {"type": "websocket.send", "bytes": base64.b64decode(part[1:])}
    return {"type": "websocket.send", "text": part.decode()}


class AsgiSink:
    """A :class:`~aiosio.engine.sink.WebSocketSink` over an ASGI WebSocket's ``send``.

    ``reader`` is the task reading the connection (the ASGI app's own call); :meth:`abort` cancels
    it when it is another task, so a slow consumer's connection ends at once.
    """

    __slots__ = (
        "_bytes",
        "_closing",
        "_queue",
        "_send",
        "_writer",
        "aborted",
        "close_timeout",
        "gone",
        "reader",
    )

    raw = None

    def __init__(
        self, send: Send, reader: asyncio.Task[Any] | None, close_timeout: float = CLOSE_TIMEOUT
    ) -> None:
        self._send = send
        self.reader = reader
        #: Seconds :meth:`close` waits for the queue to drain before it aborts instead.
        self.close_timeout = close_timeout
        #: Messages not yet taken by ``send``, each with its size in bytes (UTF-8 for text); None
        #: while there are none (an empty deque costs ~600 bytes, for every idle connection).
        self._queue: deque[tuple[Message, int]] | None = None
        self._bytes = 0
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        #: The client is gone (``websocket.disconnect`` received, or a send refused): nothing more
        #: is sent, not even the close.
        self.gone = False
        #: The sink was aborted (a slow consumer): the reader ends quietly.
        self.aborted = False

    # -- WebSocketSink ------------------------------------------------------------------------------

    def send(self, frame: Frame) -> None:
        """Queue the frame's message."""
        self._put(message_of(frame), len(frame.payload))

    def send_polling(self, parts: Sequence[bytes]) -> None:
        """Queue packets given in their long-polling form, in order."""
        for part in parts:
            message = message_of_polling(part)
            self._put(message, len(message.get("bytes") or part))

    def is_closing(self) -> bool:
        """True once the client is gone or the sink is closing."""
        return self.gone or self._closing

    def buffered(self) -> int:
        """Bytes of messages queued and not yet taken by the ASGI server."""
        return self._bytes

    def abort(self) -> None:
        """Drop what is queued and end the connection (the reader is cancelled)."""
        self.aborted = True
        self._closing = True
        self._queue = None
        self._bytes = 0
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
        reader = self.reader
        if reader is not None and reader is not asyncio.current_task() and not reader.done():
            reader.cancel()

    def disconnected(self) -> None:
        """The client closed (``websocket.disconnect``): nothing more is sent, not even the close."""
        self.gone = True

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send what is queued, then the WebSocket close (once), within :attr:`close_timeout`.

        A client that does not take the queue in time has its connection aborted instead; so has
        one whose close is cancelled (the cancellation goes on).
        """
        if self._closing and self._queue is None and self._writer is None:
            return
        self._closing = True
        try:
            async with asyncio.timeout(self.close_timeout):
                writer = self._writer
                if writer is not None:
                    await asyncio.wait({writer})
                if self.gone or self.aborted:
                    return
                self.gone = True
                try:
                    await self._send({"type": "websocket.close", "code": code, "reason": reason})
                except Exception as exc:  # the client went first: nothing to close
                    logger.debug("WebSocket close not sent: %r", exc)
        except TimeoutError:
            logger.debug("WebSocket close not done in %.1fs: connection aborted", self.close_timeout)
            self.abort()
        except asyncio.CancelledError:
            self.abort()
            raise

    # -- the writer ---------------------------------------------------------------------------------

    def _put(self, message: Message, size: int) -> None:
        if self.aborted or self.gone:
            return
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        queue.append((message, size))
        self._bytes += size
        if self._writer is None and not self.gone:
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        send = self._send
        try:
            while (queue := self._queue) is not None:
                if not queue:
                    self._queue = None
                    break
                entry = queue[0]
                await send(entry[0])
                if queue is self._queue and queue and queue[0] is entry:
                    queue.popleft()
                    self._bytes -= entry[1]
        except Exception as exc:
            logger.debug("WebSocket send failed: %r", exc)
            self.gone = True
            self._queue = None
            self._bytes = 0
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None
