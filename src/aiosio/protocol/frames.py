"""An outgoing Engine.IO packet, encoded once and shared by every recipient and transport."""

from __future__ import annotations

import base64

from .engineio import PacketType, polling_form
from .wsframe import OPCODE_BINARY, OPCODE_TEXT, build_frame


class Frame:
    """One Engine.IO packet in wire form.

    ``payload`` is the Engine.IO encoding: the type digit and data for a text packet, the raw bytes
    for a binary MESSAGE. The WebSocket frame and the polling form are derived lazily and cached,
    so a broadcast to many sockets pays for each at most once.
    """

    __slots__ = ("_poll", "_ws", "binary", "payload")

    def __init__(self, payload: bytes, binary: bool = False) -> None:
        self.payload = payload
        self.binary = binary
        self._ws: bytes | None = None
        self._poll: bytes | None = None

    @classmethod
    def text(cls, ptype: PacketType, data: bytes = b"") -> Frame:
        """A text packet of type ``ptype`` whose data is the UTF-8 bytes ``data``."""
        return cls(b"%d%b" % (ptype, data))

    def ws(self) -> bytes:
        """The complete server WebSocket frame for this packet."""
        frame = self._ws
        if frame is None:
            frame = self._ws = build_frame(self.payload, OPCODE_BINARY if self.binary else OPCODE_TEXT)
        return frame

    def polling(self) -> bytes:
        """This packet as one part of a long-polling payload."""
        form = self._poll
        if form is None:
            form = self._poll = polling_form(self.payload, self.binary)
        return form

    def __len__(self) -> int:
        return len(self.payload)

    def __repr__(self) -> str:
        kind = "binary" if self.binary else "text"
        return f"<Frame {kind} {self.payload[:40]!r}>"


def ws_from_polling(part: bytes) -> bytes:
    """The server WebSocket frame for a packet given in its polling form (``b`` + base64 if binary).

    Polling queues keep only that form (see :meth:`Frame.polling`); this turns it back when a
    session moves to WebSocket with packets still queued.
    """
    if part[:1] == b"b":
        return build_frame(base64.b64decode(part[1:]), OPCODE_BINARY)
    return build_frame(part, OPCODE_TEXT)


#: Packets every connection sends; built once.
PING = Frame.text(PacketType.PING)
PONG_PROBE = Frame.text(PacketType.PONG, b"probe")
NOOP = Frame.text(PacketType.NOOP)
CLOSE = Frame.text(PacketType.CLOSE)
