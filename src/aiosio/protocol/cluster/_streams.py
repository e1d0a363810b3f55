"""The wire of ``@socket.io/redis-streams-adapter`` 0.3.1, byte-exact: stream entries, pub/sub
payloads, stream names, session values, and the replay rule of its connection-state recovery.

The messages are socket.io-adapter's ClusterAdapter messages (:mod:`._sharded`), travelling two ways:

- **persistent** ones (BROADCAST without ``requestId``, SOCKETS_JOIN, SOCKETS_LEAVE,
  DISCONNECT_SOCKETS) are stream entries, ``XADD <stream> MAXLEN ~ <maxLen> * uid <uid> nsp <nsp>
  type <n> [data <d>]``: the fields in that order, ``type`` in decimal, ``data`` left out when the
  message has none, else ``JSON.stringify(data)`` or, when the type may carry binary and does (and
  ``onlyPlaintext`` is off), the base64 of msgpack of ``data`` (:func:`encode_entry`,
  :func:`decode_entry`: JSON exactly when the text starts with ``{``);
- **ephemeral** ones (an ack BROADCAST, SERVER_SIDE_EMIT, FETCH_SOCKETS) and every response are
  msgpack of the whole message ``{type, data, uid, nsp}`` on pub/sub (:func:`encode_ephemeral`,
  :func:`decode_ephemeral`).

A namespace's stream is :func:`stream_name`: the name itself with one stream, else
``<name>-<hashCode(nsp) % count>`` (Java's ``hashCode`` over UTF-16 code units, a signed 32-bit
value, and JavaScript's ``%``, which keeps the sign: ``socket.io--1`` exists).

Sessions (connection-state recovery) are ``SET <sessionKeyPrefix><pid>
base64(msgpack({sid, pid, rooms, data})) PX <ms>`` (:func:`encode_session`, :func:`decode_session`).
A restore replays the BROADCAST entries after the client's offset that :func:`replayable` accepts.

Nothing here does I/O. Decoders raise only :class:`~._codec.ClusterMessageError`.
"""

from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._codec import DEFAULT_MAX_MESSAGE_BYTES, ClusterMessageError, dumps, has_binary, loads, pack, unpack
from ._common import Room, WireOpts, fail, need_map, need_str, room_text
from ._sharded import (
    _MAY_CARRY_BINARY,
    ClusterBroadcast,
    ClusterMessage,
    ClusterType,
    _cluster_data,
    _cluster_message,
    _message_from_map,
    _message_map,
)

#: The types that go through the stream; every other one (and a BROADCAST with ``requestId``) is
#: ephemeral, on pub/sub.
PERSISTENT_TYPES = frozenset(
    {
        ClusterType.BROADCAST,
        ClusterType.SOCKETS_JOIN,
        ClusterType.SOCKETS_LEAVE,
        ClusterType.DISCONNECT_SOCKETS,
    }
)
#: The heartbeat types that only 0.2.x nodes write to the stream (0.2.x and 0.3.x cannot share one).
HEARTBEAT_TYPES = frozenset({ClusterType.INITIAL_HEARTBEAT, ClusterType.HEARTBEAT})
_FIELDS = (b"uid", b"nsp", b"type", b"data")


def _decimal(text: str) -> bool:
    """ASCII digits only, at least one (``/^[0-9]+$/``)."""
    return text.isascii() and text.isdigit()


def java_hash_code(text: str) -> int:
    """Java's ``String.hashCode`` as the adapter computes it in JavaScript: ``h = h * 31 + unit``
    over the UTF-16 code units of ``text``, kept a signed 32-bit integer."""
    h = 0
    data = text.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(data), 2):
        h = (h * 31 + (data[i] | data[i + 1] << 8)) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def stream_name(namespace: str, name: str = "socket.io", count: int = 1) -> str:
    """The stream a namespace's persistent messages go to (``streamName``, ``streamCount``)."""
    if count < 1:
        raise ValueError("stream_count must be at least 1")
    if count == 1:
        return name
    h = java_hash_code(namespace)
    index = abs(h) % count  # JavaScript's %: the sign of the dividend
    return f"{name}-{-index if h < 0 else index}"


def stream_names(name: str = "socket.io", count: int = 1) -> list[str]:
    """The streams Node's nodes read (one reader each): ``name``, or ``name-0`` ... ``name-{count-1}``.

    Node 0.3.1 never reads the negative names :func:`stream_name` can give (``name--1``), so its
    nodes do not hear a namespace hashed there; an aiosio node also reads the stream of every
    namespace it serves."""
    if count < 1:
        raise ValueError("stream_count must be at least 1")
    return [name] if count == 1 else [f"{name}-{i}" for i in range(count)]


def is_ephemeral(message: ClusterMessage) -> bool:
    """Whether ``message`` travels on pub/sub (an ack broadcast, a server-side emit, a fetch, or a
    response) rather than in the stream."""
    if isinstance(message, ClusterBroadcast):
        return message.request_id is not None
    return message.type not in PERSISTENT_TYPES


def encode_entry(message: ClusterMessage, only_plaintext: bool = False) -> list[tuple[bytes, bytes]]:
    """The fields of the stream entry of a persistent message, in XADD order."""
    fields = [
        (b"uid", message.uid.encode()),
        (b"nsp", message.nsp.encode()),
        (b"type", str(int(message.type)).encode()),
    ]
    data = _cluster_data(message)
    if data is not None:
        if not only_plaintext and message.type in _MAY_CARRY_BINARY and has_binary(data):
            fields.append((b"data", base64.b64encode(pack(data))))
        else:
            fields.append((b"data", dumps(data)))
    return fields


def decode_entry(
    fields: Mapping[Any, Any], max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> ClusterMessage | None:
    """The message of a stream entry (field names and values as bytes or text), or None for an
    entry without ``nsp`` (not the adapter's: Node skips those too). Anything else malformed raises
    :class:`ClusterMessageError`."""
    values: dict[bytes, bytes] = {}
    for key, value in fields.items():
        name = key.encode() if isinstance(key, str) else key
        if name in _FIELDS:
            if isinstance(value, str):
                value = value.encode()
            if not isinstance(value, bytes | bytearray):
                raise fail(f"stream entry: field {name.decode()} must be a string")
            values[name] = bytes(value)
    nsp_raw = values.get(b"nsp")
    if not nsp_raw:
        return None
    uid, nsp = _text(values.get(b"uid"), "uid"), _text(nsp_raw, "nsp")
    kind_text = _text(values.get(b"type"), "type")
    if not _decimal(kind_text) or len(kind_text) > 2 or not 1 <= int(kind_text) <= 13:
        raise fail(f"stream entry: type must be a decimal from 1 to 13, not {kind_text[:20]!r}")
    kind = ClusterType(int(kind_text))
    raw = values.get(b"data")
    data: Any = None
    if raw:
        if len(raw) > max_bytes:
            raise ClusterMessageError(
                f"stream entry data of {len(raw)} bytes is over the limit of {max_bytes}"
            )
        if raw[:1] == b"{":
            data = loads(raw, max_bytes)
        else:
            try:
                packed = base64.b64decode(raw, validate=True)
            except ValueError:  # binascii.Error
                raise fail("stream entry: data is neither JSON nor base64") from None
            # A Date (msgpack timestamp) reaches clients as Node's JSON.stringify writes it.
            data = _js_dates(unpack(packed, max_bytes))
    return _cluster_message(kind, uid, nsp, data)


def js_date_text(value: _dt.datetime) -> str:
    """JavaScript's ``Date.prototype.toISOString``: UTC, milliseconds, ``Z``."""
    utc = value.astimezone(_dt.UTC) if value.tzinfo is not None else value
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def _js_dates(value: Any) -> Any:
    """``value`` with every ``datetime`` replaced by :func:`js_date_text` (in place in lists and
    dicts; the decoder bounds the nesting)."""
    if isinstance(value, _dt.datetime):
        return js_date_text(value)
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, _dt.datetime | list | dict):
                value[i] = _js_dates(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, _dt.datetime | list | dict):
                value[key] = _js_dates(item)
    return value


def encode_ephemeral(message: ClusterMessage) -> bytes:
    """msgpack of ``{type, [data], uid, nsp}``: an ephemeral message or a response on pub/sub."""
    return pack(_message_map(message))


def decode_ephemeral(payload: bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> ClusterMessage:
    """Validate a pub/sub payload (msgpack of a whole message)."""
    return _message_from_map(unpack(payload, max_bytes))


def _text(value: bytes | None, name: str) -> str:
    if value is None:
        raise fail(f"stream entry: field {name} is missing")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(f"stream entry: field {name} is not UTF-8") from None


# -- sessions ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WireSession:
    """A recovery session as the adapter stores it: ``{sid, pid, rooms, data}``. aiosio adds
    ``start`` after them when it knows one (the newest entry when the socket connected: where a
    client that never received an offset recovers from); Node ignores it."""

    sid: str
    pid: str
    rooms: tuple[Room, ...]
    data: Any = None
    start: str | None = None


def encode_session(session: WireSession) -> bytes:
    """The value of the session key: base64 (ASCII bytes) of msgpack ``{sid, pid, rooms, data}``,
    in that order, so Node restores it; with ``start`` a fifth key follows (Node ignores it), so
    the bytes equal Node's only for a session without one."""
    obj = {"sid": session.sid, "pid": session.pid, "rooms": list(session.rooms), "data": session.data}
    if session.start is not None:
        obj["start"] = session.start
    return base64.b64encode(pack(obj))


def decode_session(value: bytes | str, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> WireSession:
    """Validate a stored session (written by a Node node or by aiosio)."""
    raw = value.encode() if isinstance(value, str) else value
    if not isinstance(raw, bytes | bytearray):
        raise fail("session: the value must be a string")
    try:
        packed = base64.b64decode(raw, validate=True)
    except ValueError:  # binascii.Error
        raise fail("session: the value is not base64") from None
    obj = need_map(unpack(packed, max_bytes), "session")
    rooms = obj.get("rooms")
    if not isinstance(rooms, list) or not all(isinstance(r, str) or type(r) is int for r in rooms):
        raise fail("session: rooms must be a list of rooms")
    start = obj.get("start")
    return WireSession(
        need_str(obj, "sid", "session"),
        need_str(obj, "pid", "session"),
        tuple(rooms),
        obj.get("data"),
        start if is_stream_id(start) else None,
    )


# -- offsets and the replay rule -----------------------------------------------------------------------


def is_stream_id(offset: object) -> bool:
    """Node's test of a client's offset (``/^[0-9]+-[0-9]+$/``); aiosio bounds its length too
    (two 64-bit numbers: 41 characters)."""
    if not isinstance(offset, str) or len(offset) > 41:
        return False
    ms, dash, seq = offset.partition("-")
    return dash == "-" and _decimal(ms) and _decimal(seq)


def stream_id_key(offset: str) -> tuple[int, int]:
    """``(ms, seq)`` of a stream id (they compare in this order)."""
    ms, seq = offset.split("-")
    return int(ms), int(seq)


def next_offset(offset: str) -> str:
    """The smallest stream id after ``offset`` (an exclusive XRANGE start that works before Redis 6.2)."""
    ms, seq = stream_id_key(offset)
    return f"{ms}-{seq + 1}"


def should_include(session_rooms: Iterable[Room], opts: WireOpts) -> bool:
    """Node's ``shouldIncludePacket``: no rooms (everyone) or one of the session's rooms, and none
    of them excluded (rooms compared as text: Node may write a numeric room as a number)."""
    rooms = {room_text(r) for r in session_rooms}
    wanted = {room_text(r) for r in opts.rooms}
    excluded = {room_text(r) for r in opts.except_}
    return (not wanted or not rooms.isdisjoint(wanted)) and rooms.isdisjoint(excluded)


def replayable(message: ClusterMessage, namespace: str, session_rooms: Sequence[Room]) -> list[Any] | None:
    """The ``[event, *args]`` a restore replays for this entry, or None: only a BROADCAST of
    ``namespace`` without ``requestId`` that the session's rooms select, and (beyond Node 0.3.1,
    which replays them) neither one asking for an ack (``packet.id``) nor a volatile one."""
    if not isinstance(message, ClusterBroadcast) or message.request_id is not None:
        return None
    if message.nsp != namespace or message.packet.id is not None:
        return None
    if message.opts.flags.get("volatile") is True:
        return None
    if not should_include(session_rooms, message.opts):
        return None
    return list(message.packet.data)


def delivered_later(message: ClusterMessage) -> bool:
    """Whether a node's own entry is a broadcast it delivers locally only once its XADD answered
    (with recovery on: it carries the entry id as its offset), at the entry's place in the stream:
    a BROADCAST without ``requestId`` that is not volatile. Every other own entry was applied
    locally when it was sent."""
    return (
        isinstance(message, ClusterBroadcast)
        and message.request_id is None
        and message.opts.flags.get("volatile") is not True
    )
