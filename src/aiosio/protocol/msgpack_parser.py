"""The msgpack parser variant, wire-compatible with the npm package socket.io-msgpack-parser.

Each Socket.IO packet is one binary Engine.IO message: a msgpack map ``{type, nsp, data, id?}``.
Bytes travel inline as msgpack ``bin``, so there are no attachments. Decoding is as strict as the
JSON parser's: bounded sizes, no extension types, integer ids, and the same per-type payload shapes.

The one extension accepted is how the npm peer's msgpack library (notepack.io) writes JavaScript's
``undefined``: fixext 1 of type 0 holding a zero byte, decoded as None. A JavaScript client with no
``auth`` sends its CONNECT as ``{type: 0, nsp: "/", data: undefined}``, so refusing it would refuse
every such client. (notepack.io writes a one-byte ``ArrayBuffer`` holding 0 the same way; only
``Buffer`` and browser ``ArrayBuffer`` values travel as ``bin``.)

Nesting is bounded by the msgpack library itself, the same both ways: a packet's data may hold up to
:data:`MAX_DEPTH` levels of arrays and maps (its unpacker takes 1024 containers per message, the
packet's own map included; its packer the same). msgpack has no integers beyond 64 bits (-2**63 to
2**64-1): sending a larger one raises a :class:`TypeError` saying so.
"""

from __future__ import annotations

from typing import Any

import msgpack

from .digits import MAX_SAFE_INTEGER
from .errors import ParseError
from .socketio import Packet, PacketType, validate

_TYPES = {int(t): t for t in PacketType}
#: Levels of arrays and maps a packet's data may hold, both ways (the msgpack library's limit).
MAX_DEPTH = 1023
#: notepack.io's JavaScript ``undefined``: fixext 1, type 0, data ``00``.
_UNDEFINED_EXT = (0, b"\x00")
#: Longer than any extension accepted; this also refuses msgpack's built-in Timestamp (type -1, 4 to 12
#: bytes), which the unpacker decodes itself without calling ``ext_hook``.
_MAX_EXT_LEN = 1
#: The npm peer only knows types 0-4 and refuses the default parser's BINARY_EVENT / BINARY_ACK.
_WIRE_TYPES = {PacketType.BINARY_EVENT: PacketType.EVENT, PacketType.BINARY_ACK: PacketType.ACK}


def _ext_hook(code: int, data: bytes) -> Any:
    if (code, data) == _UNDEFINED_EXT:
        return None
    raise ParseError(f"msgpack extension type {code} is not accepted")


def encode(packet: Packet) -> bytes:
    """Encode a packet as one msgpack message (BINARY_EVENT / BINARY_ACK go out as EVENT / ACK)."""
    ptype = _WIRE_TYPES.get(packet.type, packet.type)
    obj: dict[str, Any] = {"type": int(ptype), "nsp": packet.namespace}
    if packet.data is not None:
        obj["data"] = packet.data
    if packet.id is not None:
        obj["id"] = packet.id
    try:
        wire: bytes = msgpack.packb(obj, use_bin_type=True)
    except OverflowError:
        raise TypeError(
            "msgpack cannot carry integers beyond 64 bits (-2**63 to 2**64-1): "
            "send them as strings, or use the default parser"
        ) from None
    except ValueError as exc:  # the packer's nesting limit
        raise TypeError(f"data nested deeper than {MAX_DEPTH} levels cannot be sent ({exc})") from None
    return wire


def decode(message: str | bytes) -> Packet:
    """Decode one msgpack packet; anything else raises :class:`ParseError`."""
    if isinstance(message, str):
        raise ParseError("text message received with the msgpack parser")
    try:
        obj = msgpack.unpackb(
            message,
            raw=False,
            strict_map_key=False,
            ext_hook=_ext_hook,
            max_ext_len=_MAX_EXT_LEN,
            use_list=True,
        )
    except ParseError:
        raise
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise ParseError(f"invalid msgpack: {exc or type(exc).__name__}") from None
    except Exception as exc:  # msgpack raises assorted errors for truncated input
        raise ParseError(f"invalid msgpack: {type(exc).__name__}") from None
    if not isinstance(obj, dict):
        raise ParseError("msgpack packet is not a map")
    ptype = obj.get("type")
    if type(ptype) is not int or ptype not in _TYPES:
        raise ParseError("invalid packet type")
    nsp = obj.get("nsp", "/")
    if not isinstance(nsp, str):
        raise ParseError("invalid namespace")
    ack_id = obj.get("id")
    if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id <= MAX_SAFE_INTEGER):
        raise ParseError("invalid ack id")
    # Deeper nesting never gets here: the unpacker refuses it (StackError, above).
    packet = Packet(_TYPES[ptype], nsp, obj.get("data"), ack_id)
    if packet.type in (PacketType.BINARY_EVENT, PacketType.BINARY_ACK):
        packet.type = PacketType.EVENT if packet.type == PacketType.BINARY_EVENT else PacketType.ACK
    validate(packet)
    return packet
