"""One parser interface for both roles: Socket.IO packets to Engine.IO frames and back.

The server and the client pick a parser once, by python-socketio's ``serializer`` name (see
:func:`make_parser`), and use nothing else to encode or decode a packet. There are two parsers, the
npm ones' wire forms:

- :class:`DefaultParser`: JSON text, with bytes sent as binary attachments after the text part
  (socket.io-parser). It has orjson fast paths for EVENT and ACK when no custom ``json`` module is set.
- :class:`MsgpackParser`: each packet is one binary message (socket.io-msgpack-parser).

Encoding returns :class:`~aiosio.protocol.frames.Frame` objects, ready for any transport and shared by
every recipient. Decoding goes through a per-connection :class:`PacketDecoder` (the default parser's
attachments arrive as separate messages, so it holds state); bad input always raises
:class:`~aiosio.protocol.errors.ParseError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from . import msgpack_parser
from . import socketio as sio
from .engineio import PacketType as EioType
from .frames import Frame
from .jsoncodec import DEFAULT_JSON, JSONCodec, JSONModule
from .socketio import DEFAULT_MAX_ATTACHMENTS, Packet, PacketType

#: The ``serializer`` names :func:`make_parser` accepts.
SERIALIZERS = ("default", "msgpack")

_NON_STR_KEYS = orjson.OPT_NON_STR_KEYS
_dumps = orjson.dumps


class PacketDecoder(Protocol):
    """The receiving half of one connection: messages in, complete packets out."""

    #: The header of a binary packet whose attachments are still awaited (None when nothing is).
    pending: Packet | None

    def feed(self, message: str | bytes) -> Packet | None:
        """Take one received message; return a complete packet, or None while one is being assembled.

        Raises :class:`~aiosio.protocol.errors.ParseError` on bad input.
        """
        ...

    def reset(self) -> None:
        """Forget any half-received packet (the connection it came on is gone)."""
        ...

    def is_ack(self, message: str | bytes) -> bool:
        """True if ``message`` is a complete ACK packet on its own (cheap; False when unsure)."""
        ...


class Parser(Protocol):
    """A Socket.IO wire format: encodes packets to frames and makes decoders for connections."""

    #: The ``serializer`` name this parser answers to.
    name: str

    def encode(self, packet: Packet) -> list[Frame]:
        """The frames that carry ``packet``, in sending order (they must stay contiguous).

        Raises :class:`TypeError` (or :class:`ValueError`) for data the format cannot carry.
        """
        ...

    def encode_event(
        self, namespace: str, event: str, args: Sequence[Any], ack_id: int | None
    ) -> list[Frame]:
        """The frames of ``EVENT [event, *args]`` (asking for ack ``ack_id`` unless None)."""
        ...

    def encode_ack(self, namespace: str, ack_id: int, args: list[Any]) -> Sequence[Frame]:
        """The frames of ``ACK args`` answering ``ack_id``."""
        ...

    def decoder(self) -> PacketDecoder:
        """A fresh decoder for one connection."""
        ...


class DefaultParser:
    """The default parser (socket.io-parser's format): JSON text plus binary attachments."""

    __slots__ = ("_fast", "json", "max_attachments")

    name = "default"

    def __init__(
        self, json: JSONModule | None = None, max_attachments: int = DEFAULT_MAX_ATTACHMENTS
    ) -> None:
        #: The JSON codec (orjson with exact fallbacks, or the custom module).
        self.json = DEFAULT_JSON if json is None else JSONCodec(json)
        #: Binary attachments one received packet may have.
        self.max_attachments = max_attachments
        # The orjson fast paths write the same bytes as :func:`sio.encode` with the default codec.
        self._fast = json is None

    def encode(self, packet: Packet) -> list[Frame]:
        """Text frame first, then one binary frame per attachment."""
        text, attachments = sio.encode(packet, self.json)
        frames = [Frame.text(EioType.MESSAGE, text)]
        if attachments:
            frames.extend(Frame(a, binary=True) for a in attachments)
        return frames

    def encode_event(
        self, namespace: str, event: str, args: Sequence[Any], ack_id: int | None
    ) -> list[Frame]:
        """``EVENT``; the hot path (orjson, no ack, no bytes) writes ``42[<nsp>,][...]`` directly."""
        if ack_id is None and self._fast:
            try:
                body = _dumps([event, *args], option=_NON_STR_KEYS)
            except TypeError:  # bytes (attachments), or a value only the exact codec writes
                pass
            else:
                if namespace == "/":
                    return [Frame(b"42" + body)]
                return [Frame(b"42" + namespace.encode() + b"," + body)]
        return self.encode(Packet(PacketType.EVENT, namespace, [event, *args], ack_id))

    def encode_ack(self, namespace: str, ack_id: int, args: list[Any]) -> Sequence[Frame]:
        """``ACK``; the hot path (orjson, no bytes) writes ``43[<nsp>,]<id>[...]`` directly."""
        if self._fast:
            try:
                body = _dumps(args, option=_NON_STR_KEYS)
            except TypeError:  # bytes (attachments), or a value only the exact codec writes
                pass
            else:
                if namespace == "/":
                    return (Frame(b"43%d%b" % (ack_id, body)),)
                return (Frame(b"43%b,%d%b" % (namespace.encode(), ack_id, body)),)
        return self.encode(Packet(PacketType.ACK, namespace, args, ack_id))

    def decoder(self) -> sio.Decoder:
        """A decoder that reassembles binary packets, with this parser's attachment bound."""
        return sio.Decoder(self.json, self.max_attachments)


class MsgpackDecoder:
    """The msgpack parser's decoder: every message is a whole packet, so it holds no state."""

    __slots__ = ()

    #: Nothing is ever pending with msgpack.
    pending: Packet | None = None

    #: Decode one message (a whole packet); raises ParseError on bad input.
    feed = staticmethod(msgpack_parser.decode)

    def reset(self) -> None:
        """Nothing to forget."""

    def is_ack(self, message: str | bytes) -> bool:
        """True if ``message`` is a map whose first key is ``type`` with the value 3 (ACK), as every
        socket.io-msgpack-parser writes it: read from its first 7 bytes, nothing decoded. Any
        other layout says False (the packet is then handled in turn, which is always correct)."""
        return (
            isinstance(message, bytes)
            and len(message) > 6
            and 0x80 <= message[0] <= 0x8F  # fixmap
            and message[1:6] == b"\xa4type"
            and message[6] == PacketType.ACK
        )


#: Stateless, so every connection shares one.
_MSGPACK_DECODER = MsgpackDecoder()


class MsgpackParser:
    """socket.io-msgpack-parser's format: each packet is one binary message, bytes inline."""

    __slots__ = ()

    name = "msgpack"

    def encode(self, packet: Packet) -> list[Frame]:
        """One binary frame."""
        return [Frame(msgpack_parser.encode(packet), binary=True)]

    def encode_event(
        self, namespace: str, event: str, args: Sequence[Any], ack_id: int | None
    ) -> list[Frame]:
        """``EVENT`` as one binary frame."""
        return [
            Frame(msgpack_parser.encode(Packet(PacketType.EVENT, namespace, [event, *args], ack_id)), True)
        ]

    def encode_ack(self, namespace: str, ack_id: int, args: list[Any]) -> Sequence[Frame]:
        """``ACK`` as one binary frame."""
        return (Frame(msgpack_parser.encode(Packet(PacketType.ACK, namespace, args, ack_id)), True),)

    def decoder(self) -> MsgpackDecoder:
        """The shared stateless decoder."""
        return _MSGPACK_DECODER


def make_parser(
    serializer: str = "default",
    json: JSONModule | None = None,
    max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
) -> DefaultParser | MsgpackParser:
    """The parser for python-socketio's ``serializer`` argument (``'default'`` or ``'msgpack'``).

    ``json`` (a ``json``-compatible module) and ``max_attachments`` apply to the default parser.
    """
    if serializer == "default":
        return DefaultParser(json, max_attachments)
    if serializer == "msgpack":
        return MsgpackParser()
    raise ValueError(f"unsupported serializer {serializer!r}; use 'default' or 'msgpack'")
