"""Engine.IO v4 packets: text and binary forms, and long-polling payloads.

A text packet is one ASCII type digit followed by its data. Over WebSocket a binary frame is a MESSAGE
carrying bytes; over long-polling, packets are joined by the record separator ``\\x1e`` and a binary
packet travels as ``b`` followed by its base64 form.
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass

from .errors import ParseError

#: Separates packets in a long-polling payload.
RECORD_SEPARATOR = "\x1e"
_RS_BYTES = b"\x1e"


class PacketType(enum.IntEnum):
    """Engine.IO v4 packet types."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


@dataclass(frozen=True, slots=True)
class Packet:
    """A decoded Engine.IO packet. ``data`` is ``bytes`` only for a binary MESSAGE."""

    type: PacketType
    data: str | bytes = ""


_TYPES = tuple(PacketType)
_TYPE_CHARS = {str(int(t)): t for t in PacketType}


def decode_text(text: str) -> Packet:
    """Decode one text packet (a WebSocket text frame or one part of a polling payload)."""
    if not text:
        raise ParseError("empty packet")
    ptype = _TYPE_CHARS.get(text[0])
    if ptype is None:
        raise ParseError(f"unknown packet type {text[:1]!r}")
    return Packet(ptype, text[1:])


def decode_binary(data: bytes | bytearray | memoryview) -> Packet:
    """Decode a WebSocket binary frame: always a MESSAGE with binary data."""
    return Packet(PacketType.MESSAGE, bytes(data))


def decode_payload(body: bytes, max_packets: int | None = None) -> list[Packet]:
    """Decode a long-polling request body into its packets.

    The body must be UTF-8 text. A part starting with ``b`` is a base64 binary MESSAGE; any other
    part is a text packet. The body's size bounds the work (every packet takes at least two bytes);
    ``max_packets``, if given, also bounds the count, and a payload past it raises
    :class:`ParseError` naming both numbers. Clients batch every packet that fits ``maxPayload`` into
    one request (the npm client sends 12,000 small events as one POST), so a count limit must stay
    far above what they batch.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("payload is not valid UTF-8") from None
    parts = text.split(RECORD_SEPARATOR)
    if max_packets is not None and len(parts) > max_packets:
        raise ParseError(
            f"too many packets in one payload ({len(parts)} > max_payload_packets={max_packets})"
        )
    packets = []
    for part in parts:
        if part[:1] == "b":
            try:
                raw = base64.b64decode(part[1:], validate=True)
            except (binascii.Error, ValueError):
                raise ParseError("invalid base64 in binary packet") from None
            packets.append(Packet(PacketType.MESSAGE, raw))
        else:
            packets.append(decode_text(part))
    return packets


def encode_text(ptype: PacketType, data: str = "") -> str:
    """Encode a text packet."""
    return f"{int(ptype)}{data}"


def polling_form(payload: bytes, binary: bool) -> bytes:
    """The form a packet takes inside a polling payload: text as is, binary as ``b`` + base64."""
    if binary:
        return b"b" + base64.b64encode(payload)
    return payload


def join_payload(parts: list[bytes], budget: int) -> tuple[bytes, int]:
    """Join polling-form packets into one payload of at most ``budget`` bytes.

    Always takes at least one packet, so a packet larger than the budget still goes out alone.
    Returns the payload and how many parts it took; the rest wait for the next poll.
    """
    if not parts:
        return b"", 0
    size = len(parts[0])
    taken = 1
    for part in parts[1:]:
        size += 1 + len(part)
        if size > budget:
            break
        taken += 1
    if taken == 1:
        return parts[0], 1
    return _RS_BYTES.join(parts[:taken]), taken
