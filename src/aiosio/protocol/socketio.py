"""Socket.IO v5 packets and the default (JSON) parser.

Wire form of one packet: ``<type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]``, followed, for
BINARY_EVENT and BINARY_ACK, by that many binary messages. Decoding is strict: ASCII digits only, ack
ids up to 2**53-1, a bounded attachment count, valid placeholders, and per-type payload shapes (an
EVENT is a non-empty list whose first item is a non-reserved event name).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import binary as _binary
from .digits import MAX_SAFE_INTEGER, parse_uint, scan_digits
from .errors import ParseError
from .jsoncodec import DEFAULT_JSON, JSONCodec

#: Event names that belong to the library's own lifecycle; a peer may never send them.
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)

#: Default cap on binary attachments in one packet (socket.io-parser's default too).
DEFAULT_MAX_ATTACHMENTS = 10


class PacketType(enum.IntEnum):
    """Socket.IO v5 packet types."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


_TYPE_CHARS = {str(int(t)): t for t in PacketType}

#: The header of nearly every packet a peer sends: an EVENT or ACK, its namespace (up to the first
#: comma, as below), an ack id of at most 16 digits (``MAX_SAFE_INTEGER`` has 16), right before the
#: JSON array. Anything else (and anything this accepts that :func:`validate` would refuse) takes
#: the general path.
_FAST_HEADER = re.compile(r"([23])(?:(/[^,]*),)?([0-9]{0,16})(?=\[)")
_EVENT = PacketType.EVENT
_ACK = PacketType.ACK


@dataclass(slots=True)
class Packet:
    """A Socket.IO packet. ``data`` is None when the packet carries no payload."""

    type: PacketType
    namespace: str = "/"
    data: Any = None
    id: int | None = None
    #: Binary attachments still expected after this header (decoding only).
    attachments: int = field(default=0, compare=False)


def validate(packet: Packet) -> None:
    """Check the payload shape each packet type allows; raise :class:`ParseError` otherwise."""
    ptype, data = packet.type, packet.data
    if ptype == PacketType.CONNECT:
        ok = data is None or isinstance(data, dict)
    elif ptype == PacketType.DISCONNECT:
        ok = data is None
    elif ptype in (PacketType.EVENT, PacketType.BINARY_EVENT):
        ok = (
            isinstance(data, list)
            and len(data) > 0
            and isinstance(data[0], str)
            and data[0] not in RESERVED_EVENTS
        )
    elif ptype in (PacketType.ACK, PacketType.BINARY_ACK):
        ok = isinstance(data, list) and packet.id is not None
    else:  # CONNECT_ERROR
        ok = isinstance(data, (str, dict))
    if not ok:
        raise ParseError(f"invalid payload for {ptype.name}")
    namespace = packet.namespace
    # Control characters (\x1e above all) would be echoed raw into polling payloads and split them.
    if not namespace.startswith("/") or not namespace.isprintable():
        raise ParseError("invalid namespace")


def decode_header(text: str, json: JSONCodec = DEFAULT_JSON, max_attachments: int = 10) -> Packet:
    """Decode the text part of a packet. A binary packet comes back with ``attachments`` > 0."""
    fast = _FAST_HEADER.match(text)
    if fast is not None:
        # EVENT or ACK: the checks below and validate()'s, for these two shapes alone.
        ptype, namespace, digits = fast.groups()
        ack_id = int(digits) if digits else None
        if (ack_id is None or ack_id <= MAX_SAFE_INTEGER) and (namespace is None or namespace.isprintable()):
            data = json.loads(text[fast.end() :])  # starts with "[": a list, or a ParseError
            if ptype == "2":
                if data and data[0].__class__ is str and data[0] not in RESERVED_EVENTS:
                    return Packet(_EVENT, namespace or "/", data, ack_id)
            elif ack_id is not None:
                return Packet(_ACK, namespace or "/", data, ack_id)
    return decode_header_general(text, json, max_attachments)


def decode_header_general(text: str, json: JSONCodec = DEFAULT_JSON, max_attachments: int = 10) -> Packet:
    """:func:`decode_header` without its fast path: every packet type and every error."""
    if not text:
        raise ParseError("empty packet")
    ptype = _TYPE_CHARS.get(text[0])
    if ptype is None:
        raise ParseError(f"unknown packet type {text[:1]!r}")
    i = 1
    n = len(text)
    attachments = 0
    if ptype in (PacketType.BINARY_EVENT, PacketType.BINARY_ACK):
        end = scan_digits(text, i)
        if end >= n or text[end] != "-":
            raise ParseError("missing attachment count")
        attachments = parse_uint(text[i:end], "attachment count", max_attachments)
        if attachments == 0:
            raise ParseError("binary packet without attachments")
        i = end + 1
    namespace = "/"
    if i < n and text[i] == "/":
        comma = text.find(",", i)
        if comma < 0:
            namespace, i = text[i:], n
        else:
            namespace, i = text[i:comma], comma + 1
    ack_id = None
    end = scan_digits(text, i)
    if end > i:
        ack_id = parse_uint(text[i:end], "ack id", MAX_SAFE_INTEGER)
        i = end
    data = None
    if i < n:
        data = json.loads(text[i:])
        if data is None:  # no packet type allows a payload of null (None means "no payload")
            raise ParseError(f"null payload for {ptype.name}")
    packet = Packet(ptype, namespace, data, ack_id, attachments)
    validate(packet)
    return packet


def _encode_json(packet: Packet, json: JSONCodec) -> tuple[bytes, list[bytes]]:
    """JSON for the packet's data, with bytes replaced by placeholders, and the attachments."""
    try:
        return json.dumps(packet.data), []
    except TypeError:
        if not _binary.has_binary(packet.data):
            raise
    data, buffers = _binary.deconstruct(packet.data)
    return json.dumps(data), buffers


def encode(packet: Packet, json: JSONCodec = DEFAULT_JSON) -> tuple[bytes, list[bytes]]:
    """Encode a packet: the UTF-8 text part and the binary attachments that follow it.

    EVENT and ACK packets whose data holds bytes are sent as BINARY_EVENT / BINARY_ACK, and a
    BINARY_EVENT / BINARY_ACK without bytes as EVENT / ACK, so the header always matches the
    attachments. Only those packets may carry bytes: any other type raises :class:`TypeError`.
    """
    ptype = packet.type
    buffers: list[bytes] = []
    body = b""
    if packet.data is not None:
        body, buffers = _encode_json(packet, json)
    if buffers:
        if ptype in (PacketType.EVENT, PacketType.BINARY_EVENT):
            ptype = PacketType.BINARY_EVENT
        elif ptype in (PacketType.ACK, PacketType.BINARY_ACK):
            ptype = PacketType.BINARY_ACK
        else:
            raise TypeError(f"{ptype.name} packets cannot carry binary data")
    elif ptype == PacketType.BINARY_EVENT:
        ptype = PacketType.EVENT
    elif ptype == PacketType.BINARY_ACK:
        ptype = PacketType.ACK
    head = b"%d" % ptype
    if buffers:
        head += b"%d-" % len(buffers)
    if packet.namespace != "/":
        head += packet.namespace.encode() + b","
    if packet.id is not None:
        head += b"%d" % packet.id
    return head + body, buffers


def encode_event_fast(namespace: str, event: str, args: tuple[Any, ...]) -> bytes | None:
    """The hot path for emit: ``2[<nsp>,]["event",...args]`` with orjson, or None if it needs binary.

    Returns None when the arguments hold bytes (or anything else orjson refuses), so the caller
    falls back to :func:`encode`.
    """
    try:
        body = orjson.dumps([event, *args], option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return None
    if namespace == "/":
        return b"2" + body
    return b"2" + namespace.encode() + b"," + body


def encode_ack_fast(namespace: str, ack_id: int, args: list[Any]) -> bytes | None:
    """The hot path for acks: ``3[<nsp>,]<id>[...args]`` with orjson, or None if it needs binary."""
    try:
        body = orjson.dumps(args, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return None
    if namespace == "/":
        return b"3%d%b" % (ack_id, body)
    return b"3%b,%d%b" % (namespace.encode(), ack_id, body)


class Decoder:
    """Reassembles packets from a stream of text and binary messages (the default parser).

    Feed every Engine.IO MESSAGE in order. A binary packet's header is held in :attr:`pending` until
    its attachments arrive; callers can inspect it to refuse binary data for namespaces a client has
    not joined before buffering anything.
    """

    __slots__ = ("_buffers", "json", "max_attachments", "pending")

    def __init__(
        self, json: JSONCodec = DEFAULT_JSON, max_attachments: int = DEFAULT_MAX_ATTACHMENTS
    ) -> None:
        self.json = json
        self.max_attachments = max_attachments
        self.pending: Packet | None = None
        #: The attachments received for ``pending`` (None while nothing is pending: an empty list for
        #: every connection would cost 56 bytes each).
        self._buffers: list[bytes] | None = None

    def feed(self, message: str | bytes | bytearray | memoryview) -> Packet | None:
        """Take one message; return a complete packet, or None while attachments are awaited."""
        if isinstance(message, str):
            if self.pending is not None:
                raise ParseError("text packet while binary attachments were expected")
            packet = decode_header(message, self.json, self.max_attachments)
            if packet.attachments:
                self.pending = packet
                self._buffers = []
                return None
            return packet
        pending = self.pending
        buffers = self._buffers
        if pending is None or buffers is None:
            raise ParseError("unexpected binary attachment")
        buffers.append(bytes(message))
        if len(buffers) < pending.attachments:
            return None
        self._buffers = self.pending = None
        pending.data = _binary.reconstruct(pending.data, buffers)
        pending.type = PacketType.EVENT if pending.type == PacketType.BINARY_EVENT else PacketType.ACK
        pending.attachments = 0
        return pending

    def reset(self) -> None:
        """Drop a half-received binary packet (the connection it came on is gone)."""
        self.pending = None
        self._buffers = None

    def is_ack(self, message: str | bytes) -> bool:
        """True if ``message`` is a whole ACK packet (text ``3...``, nothing pending); not validated."""
        return isinstance(message, str) and message[:1] == "3" and self.pending is None
