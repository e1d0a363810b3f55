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

Connection-state recovery (the hub keeps the channel's log: :mod:`~aiosio.workers.hub_log`).
Structured bodies are msgpack arrays, validated field by field:

========= ============== ==================================================================
kind      direction      body
========= ============== ==================================================================
RECOVERY  worker -> hub  ``[max_disconnection_duration, max_packets, max_bytes, max_sessions,
                         window]``: the channel's bounds (sent after HELLO)
POSITION  hub -> worker  the channel's newest offset (ASCII; empty: none), right after HELLO,
                         only when the channel's log exists already
LOG       worker -> hub  ``[namespace, rooms|nil, except, sids, message]``: keep a broadcast
OFFSET    hub -> worker  its offset (ASCII), one per LOG, in order; empty: not logged (a LOG
                         over the limits below; the worker's broadcast fails)
LOGGED    hub -> worker  offset length (1 byte), offset, a logged message of another member
SAVE      worker -> hub  ``[pid, namespace, sid, rooms, start|nil, data, lost]``: a session
DROP      worker -> hub  a pid (UTF-8): its socket ended for good
RESTORE   worker -> hub  ``[namespace, pid, offset|nil]``
RESTORED  hub -> worker  ``nil`` (refused) or ``[[pid, namespace, sid, rooms, start|nil, data],
                         [[offset, message], ...]]``, one per RESTORE, in order
STATS     worker -> hub  empty: ask for the channel's counters
STATSOF   hub -> worker  ``[packets, bytes, sessions, evicted_packets, evicted_bytes,
                         expired_packets, expired_sessions, evicted_sessions, recovered,
                         refused]``, one per STATS, in order
========= ============== ==================================================================

The hub answers the requests (LOG, RESTORE, STATS) of one worker in the order they came.

Limits: a pid, sid, namespace, room, start or offset is at most :data:`MAX_NAME` characters, a
session or a selector names at most :data:`MAX_ROOMS` rooms. A frame that breaks the format
(:class:`HubWireError`) closes the connection that sent it; one that is well formed but passes a
limit or a bound (:class:`HubLimitError`) is answered as refused (an empty OFFSET, a ``nil``
RESTORED; a SAVE of such a session forgets it) and the connection stays. The encoders raise
:class:`HubLimitError` before anything is sent, so a worker never sends one.

The cluster messages are the sharded ClusterAdapter messages of :mod:`aiosio.protocol.cluster`
(:func:`~aiosio.protocol.cluster.encode_cluster`); the hub relays and keeps them without decoding.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import msgpack

from ..recovery.options import MAX_DURATION

__all__ = [
    "MAX_FRAME",
    "MAX_NAME",
    "MAX_ROOMS",
    "HubLimitError",
    "HubWireError",
    "Kind",
    "LogRecord",
    "RecoveryConfig",
    "RestoreRequest",
    "SessionRecord",
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


class HubLimitError(HubWireError):
    """A well-formed value beyond the wire's limits or bounds (see the module docstring): refused,
    the connection stays. ``pid``: the session's pid when the pid itself was fine (a SAVE)."""

    def __init__(self, message: str, pid: str | None = None) -> None:
        super().__init__(message)
        self.pid = pid


class Kind(IntEnum):
    """The kind byte of a frame."""

    HELLO = 1
    PUBLISH = 2
    SEND = 3
    DELIVER = 4
    COUNT = 5
    RECOVERY = 6
    POSITION = 7
    LOG = 8
    OFFSET = 9
    LOGGED = 10
    SAVE = 11
    DROP = 12
    RESTORE = 13
    RESTORED = 14
    STATS = 15
    STATSOF = 16


def frame(kind: Kind, body: bytes = b"") -> bytes:
    """One frame of ``kind``."""
    if len(body) + 1 > MAX_FRAME:
        raise HubLimitError(f"{kind.name}: a frame of {len(body) + 1} bytes exceeds {MAX_FRAME}")
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


# -- connection-state recovery -------------------------------------------------------------------

#: The longest offset, pid, sid, namespace, room or start accepted (characters).
MAX_NAME = 255
#: The most rooms of one session or one logged broadcast's selector.
MAX_ROOMS = 10_000
#: The counters of a STATSOF body, in order.
STATS_FIELDS = (
    "packets",
    "bytes",
    "sessions",
    "evicted_packets",
    "evicted_bytes",
    "expired_packets",
    "expired_sessions",
    "evicted_sessions",
    "recovered",
    "refused",
)


@dataclass(frozen=True)
class RecoveryConfig:
    """The bounds of a channel's log (a RECOVERY body)."""

    max_disconnection_duration: float
    max_packets: int
    max_bytes: int
    max_sessions: int
    window: float | None


@dataclass(frozen=True)
class LogRecord:
    """A broadcast to keep (a LOG body): where it went and its cluster message."""

    namespace: str
    rooms: tuple[str, ...] | None
    exclude: tuple[str, ...]
    sids: bool
    message: bytes


@dataclass(frozen=True)
class SessionRecord:
    """A session as the wire carries it (SAVE, RESTORED): ``data`` encoded by the worker."""

    pid: str
    namespace: str
    sid: str
    rooms: tuple[str, ...]
    start: str | None
    data: bytes
    lost: bool = False


@dataclass(frozen=True)
class RestoreRequest:
    """A RESTORE body."""

    namespace: str
    pid: str
    offset: str | None


def _pack(kind: Kind, value: Any) -> bytes:
    try:
        body = msgpack.packb(value, use_bin_type=True)
    except (ValueError, TypeError, OverflowError) as exc:  # lone surrogates, a number too large
        raise HubLimitError(f"{kind.name}: cannot be encoded ({exc})") from None
    return frame(kind, body)


def _unpack(body: bytes, what: str) -> Any:
    try:
        return msgpack.unpackb(body, raw=False, use_list=True, strict_map_key=True, max_bin_len=MAX_FRAME)
    except Exception as exc:  # msgpack raises assorted errors for malformed input
        raise HubWireError(f"{what}: invalid msgpack ({type(exc).__name__})") from None


def _fields(body: bytes, what: str, count: int) -> list[Any]:
    value = _unpack(body, what)
    if not isinstance(value, list) or len(value) != count:
        raise HubWireError(f"{what}: an array of {count} fields expected")
    return value


def _name(value: Any, what: str, empty: bool = True) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise HubWireError(f"{what}: a string of {0 if empty else 1} to {MAX_NAME} characters expected")
    if len(value) > MAX_NAME:
        raise HubLimitError(f"{what}: {len(value)} characters, more than {MAX_NAME}")
    return value


def _optional_name(value: Any, what: str) -> str | None:
    return None if value is None else _name(value, what)


def _names(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise HubWireError(f"{what}: a list of at most {MAX_ROOMS} names expected")
    if len(value) > MAX_ROOMS:
        raise HubLimitError(f"{what}: {len(value)} names, more than {MAX_ROOMS}")
    return tuple(_name(item, what) for item in value)


def _count(value: Any, what: str) -> int:
    if type(value) is not int:
        raise HubWireError(f"{what}: a positive integer expected")
    if value < 1:
        raise HubLimitError(f"{what}: {value} is not a positive integer")
    return value


def _seconds(value: Any, what: str) -> float:
    if type(value) not in (int, float):
        raise HubWireError(f"{what}: a positive number of seconds expected")
    if not 0 < value < MAX_DURATION:
        raise HubLimitError(f"{what}: {value} is not a number of seconds above 0 and below {MAX_DURATION:g}")
    return float(value)


def _blob(value: Any, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise HubWireError(f"{what}: bytes expected")
    return value


def _offset_text(value: str) -> bytes:
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise HubWireError("an offset is ASCII") from None
    if len(raw) > MAX_NAME:
        raise HubWireError("an offset is at most 255 bytes")
    return raw


def _offset_of(body: bytes) -> str:
    if len(body) > MAX_NAME:
        raise HubWireError("an offset is at most 255 bytes")
    try:
        return body.decode("ascii")
    except UnicodeDecodeError:
        raise HubWireError("an offset is ASCII") from None


def recovery(config: RecoveryConfig) -> bytes:
    """A RECOVERY frame."""
    c = config
    return _pack(
        Kind.RECOVERY, [c.max_disconnection_duration, c.max_packets, c.max_bytes, c.max_sessions, c.window]
    )


def parse_recovery(body: bytes) -> RecoveryConfig:
    """The bounds of a RECOVERY body."""
    duration, packets, size, sessions, window = _fields(body, "RECOVERY", 5)
    return RecoveryConfig(
        _seconds(duration, "RECOVERY max_disconnection_duration"),
        _count(packets, "RECOVERY max_packets"),
        _count(size, "RECOVERY max_bytes"),
        _count(sessions, "RECOVERY max_sessions"),
        None if window is None else _seconds(window, "RECOVERY window"),
    )


def position(offset: str | None) -> bytes:
    """A POSITION frame (None: nothing logged yet)."""
    return frame(Kind.POSITION, b"" if offset is None else _offset_text(offset))


def parse_position(body: bytes) -> str | None:
    """The offset of a POSITION body, or None."""
    return _offset_of(body) or None


def _relayable(message: bytes) -> bytes:
    """A logged message the hub can relay with its offset (a LOGGED frame)."""
    if len(message) + 2 + MAX_NAME > MAX_FRAME:
        raise HubLimitError(f"LOG: a message of {len(message)} bytes is too large to relay with its offset")
    return message


def log(record: LogRecord) -> bytes:
    """A LOG frame (raises :class:`HubLimitError` for a record beyond the limits)."""
    r = record
    _name(r.namespace, "LOG namespace")
    _relayable(r.message)
    rooms = None if r.rooms is None else list(_names(r.rooms, "LOG rooms"))
    return _pack(Kind.LOG, [r.namespace, rooms, list(_names(r.exclude, "LOG except")), r.sids, r.message])


def parse_log(body: bytes) -> LogRecord:
    """The broadcast of a LOG body."""
    namespace, rooms, exclude, sids, message = _fields(body, "LOG", 5)
    if not isinstance(sids, bool):
        raise HubWireError("LOG sids: a boolean expected")
    return LogRecord(
        _name(namespace, "LOG namespace"),
        None if rooms is None else _names(rooms, "LOG rooms"),
        _names(exclude, "LOG except"),
        sids,
        _relayable(_blob(message, "LOG message")),
    )


def offset(value: str | None) -> bytes:
    """An OFFSET frame (None: the LOG it answers was not logged)."""
    if value == "":
        raise HubWireError("an offset is not empty")
    return frame(Kind.OFFSET, b"" if value is None else _offset_text(value))


def parse_offset_body(body: bytes) -> str | None:
    """The offset of an OFFSET body (None: not logged)."""
    return _offset_of(body) or None


def logged(value: str, message: bytes) -> bytes:
    """A LOGGED frame: ``message`` kept at offset ``value``."""
    raw = _offset_text(value)
    return frame(Kind.LOGGED, bytes((len(raw),)) + raw + message)


def parse_logged(body: bytes) -> tuple[str, bytes]:
    """``(offset, message)`` of a LOGGED body."""
    if not body or body[0] == 0 or len(body) < 1 + body[0]:
        raise HubWireError("LOGGED: truncated offset")
    end = 1 + body[0]
    return _offset_of(body[1:end]), body[end:]


def _session_fields(session: SessionRecord) -> list[Any]:
    s = session
    return [s.pid, s.namespace, s.sid, list(s.rooms), s.start, s.data]


def _session_of(value: Any, what: str, lost: bool = False) -> SessionRecord:
    if not isinstance(value, list | tuple) or len(value) != 6:
        raise HubWireError(f"{what}: a session of 6 fields expected")
    pid, namespace, sid, rooms, start, data = value
    pid = _name(pid, f"{what} pid", empty=False)
    try:
        return SessionRecord(
            pid,
            _name(namespace, f"{what} namespace"),
            _name(sid, f"{what} sid", empty=False),
            _names(rooms, f"{what} rooms"),
            _optional_name(start, f"{what} start"),
            _blob(data, f"{what} data"),
            lost,
        )
    except HubLimitError as exc:
        raise HubLimitError(str(exc), pid) from None


def save(session: SessionRecord) -> bytes:
    """A SAVE frame (raises :class:`HubLimitError` for a session beyond the limits)."""
    _session_of(_session_fields(session), "SAVE")
    return _pack(Kind.SAVE, [*_session_fields(session), session.lost])


def parse_save(body: bytes) -> SessionRecord:
    """The session of a SAVE body."""
    value = _fields(body, "SAVE", 7)
    lost = value.pop()
    if not isinstance(lost, bool):
        raise HubWireError("SAVE lost: a boolean expected")
    return _session_of(value, "SAVE", lost)


def drop(pid: str) -> bytes:
    """A DROP frame."""
    return frame(Kind.DROP, pid.encode())


def parse_drop(body: bytes) -> str:
    """The pid of a DROP body."""
    try:
        return _name(body.decode(), "DROP pid", empty=False)
    except UnicodeDecodeError:
        raise HubWireError("DROP pid is not UTF-8") from None


def restore(request: RestoreRequest) -> bytes:
    """A RESTORE frame (raises :class:`HubLimitError` for a request beyond the limits)."""
    r = request
    namespace, pid = _name(r.namespace, "RESTORE namespace"), _name(r.pid, "RESTORE pid", empty=False)
    return _pack(Kind.RESTORE, [namespace, pid, _optional_name(r.offset, "RESTORE offset")])


def parse_restore(body: bytes) -> RestoreRequest:
    """The request of a RESTORE body."""
    namespace, pid, value = _fields(body, "RESTORE", 3)
    return RestoreRequest(
        _name(namespace, "RESTORE namespace"),
        _name(pid, "RESTORE pid", empty=False),
        _optional_name(value, "RESTORE offset"),
    )


def restored(answer: tuple[SessionRecord, list[tuple[str, bytes]]] | None) -> bytes:
    """A RESTORED frame: the session and the missed ``(offset, message)`` pairs, or a refusal."""
    if answer is None:
        return _pack(Kind.RESTORED, None)
    session, missed = answer
    return _pack(Kind.RESTORED, [_session_fields(session), [[o, m] for o, m in missed]])


def parse_restored(body: bytes) -> tuple[SessionRecord, list[tuple[str, bytes]]] | None:
    """The answer of a RESTORED body (None: refused)."""
    value = _unpack(body, "RESTORED")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2 or not isinstance(value[1], list):
        raise HubWireError("RESTORED: [session, missed] expected")
    session = _session_of(value[0], "RESTORED")
    missed: list[tuple[str, bytes]] = []
    for item in value[1]:
        if not isinstance(item, list) or len(item) != 2:
            raise HubWireError("RESTORED: each missed packet is [offset, message]")
        missed.append((_name(item[0], "RESTORED offset", empty=False), _blob(item[1], "RESTORED message")))
    return session, missed


def stats_request() -> bytes:
    """A STATS frame."""
    return frame(Kind.STATS)


def stats(counters: dict[str, int]) -> bytes:
    """A STATSOF frame (the counters named in :data:`STATS_FIELDS`)."""
    return _pack(Kind.STATSOF, [counters[name] for name in STATS_FIELDS])


def parse_stats(body: bytes) -> dict[str, int]:
    """The counters of a STATSOF body."""
    value = _fields(body, "STATSOF", len(STATS_FIELDS))
    if not all(type(v) is int and v >= 0 for v in value):
        raise HubWireError("STATSOF: counters are non-negative integers")
    return dict(zip(STATS_FIELDS, value, strict=True))
