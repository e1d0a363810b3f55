"""The frames between the workers and the supervisor's hub (sans-IO: bytes in, values out).

A frame is a 4-byte big-endian length, then that many bytes: one kind byte and its body.

======== ============== ====================================================================
kind     direction      body
======== ============== ====================================================================
HELLO    worker -> hub  uid length (1 byte), uid, channel (UTF-8): join ``channel`` as ``uid``
PUBLISH  worker -> hub  a cluster message, for every other member of the channel
SEND     worker -> hub  uid length, uid, a cluster message, for that member only
DELIVER  hub -> worker  a cluster message from another member
COUNT    hub -> worker  4-byte member count of the channel (sent to all on every join/leave)
======== ============== ====================================================================

The cluster messages are the sharded ClusterAdapter messages of :mod:`aiosio.protocol.cluster`
(:func:`~aiosio.protocol.cluster.encode_cluster`); the hub relays them without decoding.
"""

from __future__ import annotations

import struct
from enum import IntEnum

__all__ = [
    "MAX_FRAME",
    "HubWireError",
    "Kind",
    "frame",
    "frame_length",
    "hello",
    "parse_count",
    "parse_hello",
    "parse_send",
    "send_to",
]

#: The largest frame accepted (the cluster codec's own limit is lower): a larger length is an error.
MAX_FRAME = 64 * 1024 * 1024
_HEADER = struct.Struct(">I")
_COUNT = struct.Struct(">I")


class HubWireError(ValueError):
    """A frame that breaks the format (the connection that sent it is closed)."""


class Kind(IntEnum):
    """The kind byte of a frame."""

    HELLO = 1
    PUBLISH = 2
    SEND = 3
    DELIVER = 4
    COUNT = 5


def frame(kind: Kind, body: bytes = b"") -> bytes:
    """One frame of ``kind``."""
    if len(body) + 1 > MAX_FRAME:
        raise HubWireError(f"frame of {len(body) + 1} bytes exceeds {MAX_FRAME}")
    return _HEADER.pack(len(body) + 1) + bytes((kind,)) + body


def frame_length(header: bytes) -> int:
    """The length announced by a 4-byte header (validated)."""
    (length,) = _HEADER.unpack(header)
    if not 1 <= length <= MAX_FRAME:
        raise HubWireError(f"bad frame length {length}")
    return int(length)


def split(data: bytes) -> tuple[Kind, bytes]:
    """A frame's content (after the header): its kind and body."""
    try:
        kind = Kind(data[0])
    except (IndexError, ValueError):
        raise HubWireError("unknown frame kind") from None
    return kind, data[1:]


def _uid_bytes(uid: str) -> bytes:
    raw = uid.encode()
    if not 1 <= len(raw) <= 255:
        raise HubWireError("a uid is 1 to 255 bytes")
    return bytes((len(raw),)) + raw


def _take_uid(body: bytes) -> tuple[str, bytes]:
    if not body or len(body) < 1 + body[0] or body[0] == 0:
        raise HubWireError("truncated uid")
    end = 1 + body[0]
    try:
        return body[1:end].decode(), body[end:]
    except UnicodeDecodeError:
        raise HubWireError("uid is not UTF-8") from None


def hello(uid: str, channel: str) -> bytes:
    """A HELLO frame."""
    return frame(Kind.HELLO, _uid_bytes(uid) + channel.encode())


def parse_hello(body: bytes) -> tuple[str, str]:
    """``(uid, channel)`` of a HELLO body."""
    uid, rest = _take_uid(body)
    try:
        return uid, rest.decode()
    except UnicodeDecodeError:
        raise HubWireError("channel is not UTF-8") from None


def send_to(uid: str, message: bytes) -> bytes:
    """A SEND frame: ``message`` for the member ``uid``."""
    return frame(Kind.SEND, _uid_bytes(uid) + message)


def parse_send(body: bytes) -> tuple[str, bytes]:
    """``(uid, message)`` of a SEND body."""
    return _take_uid(body)


def count(members: int) -> bytes:
    """A COUNT frame."""
    return frame(Kind.COUNT, _COUNT.pack(members))


def parse_count(body: bytes) -> int:
    """The member count of a COUNT body."""
    if len(body) != _COUNT.size:
        raise HubWireError("COUNT body is 4 bytes")
    return int(_COUNT.unpack(body)[0])
