"""Socket.IO packets to Engine.IO frames and back, for the ``'default'`` and ``'msgpack'`` serializers.

Encoding produces :class:`~aiosio.protocol.frames.Frame` objects, the same wire form the server uses;
decoding is the protocol core's strict decoder, so a client rejects exactly what a server would.
"""

from __future__ import annotations

from typing import Protocol

from aiosio.protocol import msgpack_parser
from aiosio.protocol import socketio as sio
from aiosio.protocol.engineio import PacketType as EioType
from aiosio.protocol.frames import Frame
from aiosio.protocol.jsoncodec import JSONCodec, JSONModule


class PacketCodec(Protocol):
    """Turns packets into frames to send, and received messages into packets."""

    def encode(self, packet: sio.Packet) -> list[Frame]:
        """The frames that carry ``packet``, in sending order (they must stay contiguous)."""
        ...

    def feed(self, message: str | bytes) -> sio.Packet | None:
        """Take one received message; return a complete packet or None while one is being assembled."""
        ...

    def reset(self) -> None:
        """Forget any half-received packet (the connection it came on is gone)."""
        ...


class DefaultCodec:
    """The default parser: JSON text, with bytes sent as binary attachments after the text part."""

    __slots__ = ("_decoder", "_json")

    def __init__(self, json: JSONModule | None = None) -> None:
        self._json = JSONCodec(json)
        self._decoder = sio.Decoder(self._json)

    def encode(self, packet: sio.Packet) -> list[Frame]:
        """Text frame first, then one binary frame per attachment."""
        text, attachments = sio.encode(packet, self._json)
        return [Frame.text(EioType.MESSAGE, text), *(Frame(a, binary=True) for a in attachments)]

    def feed(self, message: str | bytes) -> sio.Packet | None:
        """Decode (and reassemble) one message; raises ParseError on bad input."""
        return self._decoder.feed(message)

    def reset(self) -> None:
        """Drop a pending binary packet."""
        self._decoder = sio.Decoder(self._json)


class MsgpackCodec:
    """socket.io-msgpack-parser's format: each packet is one binary message."""

    __slots__ = ()

    def encode(self, packet: sio.Packet) -> list[Frame]:
        """One binary frame."""
        return [Frame(msgpack_parser.encode(packet), binary=True)]

    def feed(self, message: str | bytes) -> sio.Packet | None:
        """Decode one message; raises ParseError on bad input."""
        return msgpack_parser.decode(message)

    def reset(self) -> None:
        """Nothing is ever pending with msgpack."""


def make_codec(serializer: str, json: JSONModule | None) -> PacketCodec:
    """The codec for python-socketio's ``serializer`` argument (``'default'`` or ``'msgpack'``)."""
    if serializer == "default":
        return DefaultCodec(json)
    if serializer == "msgpack":
        return MsgpackCodec()
    raise ValueError(f"unsupported serializer {serializer!r}; use 'default' or 'msgpack'")
