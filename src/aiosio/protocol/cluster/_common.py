"""What every Node Redis adapter carries: broadcast options, EVENT packets, remote sockets, ids, dates.

The dataclasses hold decoded, validated values; the ``*_wire`` functions build the dicts in Node's key
order (byte parity depends on it) and the ``*_from_wire`` functions validate what a peer sent, raising
:class:`~._codec.ClusterMessageError` for any wrong type or shape. Unknown keys are ignored (a newer
peer may add some); a missing optional key takes the value Node gives it.

Rooms are strings, or integers: Node lets ``socket.join(5)`` and notepack.io writes the number. They are
kept as they arrive (match with ``str(room)``, as Node's channel names do).
"""

from __future__ import annotations

import datetime as _dt
import math
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..digits import MAX_SAFE_INTEGER
from ._codec import ClusterMessageError

#: A room name as it travels: a string, or an integer from a JavaScript peer.
Room = str | int

#: The uid ``@socket.io/redis-emitter`` sends with: a foreign sender that never answers or counts.
EMITTER_UID = "emitter"

#: The Socket.IO EVENT packet type: the only one Node's adapters broadcast.
EVENT = 2

_UID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
#: Flags Node sets as booleans, and the one it sets as milliseconds; any other flag passes as it is.
_BOOL_FLAGS = ("volatile", "compress", "local", "broadcast", "binary", "expectSingleResponse")


@dataclass(frozen=True, slots=True)
class WireOpts:
    """Node's broadcast options ``{rooms, except, flags}`` (the ``except_`` field is ``except``).

    ``rooms`` empty means the whole namespace; ``except_`` are rooms whose sockets are left out.
    ``flags`` seen from Node: ``volatile``, ``compress`` (bools), ``timeout`` (ms, ack broadcasts),
    ``expectSingleResponse`` (``RemoteSocket.emit``), ``local`` (never published). Encoders drop
    duplicate rooms, as Node's Sets do.
    """

    rooms: tuple[Room, ...] = ()
    except_: tuple[Room, ...] = ()
    flags: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WirePacket:
    """A Socket.IO EVENT as Node's adapters carry it: ``{type: 2, data: [event, *args], [id], nsp}``.

    ``bytes`` arguments travel as msgpack ``bin`` and decode to ``bytes``. ``id`` is the ack id Node
    puts there only when connection-state recovery routes an acked ``socket.emit`` through the
    adapter. In the sharded adapter's messages the packet carries no ``nsp``: the message's is used.
    """

    nsp: str
    data: list[Any]
    id: int | None = None


@dataclass(frozen=True, slots=True)
class WireSocket:
    """A socket as fetchSockets answers carry it: ``{id, handshake, rooms, data}``.

    ``handshake`` is Node's ``{headers, time, address, xdomain, secure, issued, url, query, auth}``
    (``time`` from :func:`js_date_string`, ``issued`` in ms); ``rooms`` include the socket's own id.
    """

    id: str
    handshake: dict[str, Any]
    rooms: tuple[Room, ...]
    data: Any = None


def classic_uid(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A uid or requestId of the classic adapter (npm ``uid2(6)``): 6 characters of ``A-Za-z0-9-_``."""
    return "".join(_UID_CHARS[b % 64] for b in random_bytes(6))


def hex_uid(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A uid or requestId of the sharded/streams adapters (``randomBytes(8)`` in hex): 16 characters."""
    return random_bytes(8).hex()


def js_date_string(epoch_seconds: float) -> str:
    """``String(new Date(ms))`` in UTC, e.g. ``Tue Dec 01 2026 08:34:31 GMT+0000 (Coordinated Universal
    Time)``: the handshake ``time`` of a fetched socket. Raises :class:`ValueError` out of range."""
    if not math.isfinite(epoch_seconds):
        raise ValueError(f"not a date: {epoch_seconds!r}")
    try:
        # A Date holds whole milliseconds, truncated toward zero (TimeClip).
        t = _EPOCH + _dt.timedelta(milliseconds=int(epoch_seconds * 1000))
    except OverflowError:
        raise ValueError(f"date out of range: {epoch_seconds!r}") from None
    return (
        f"{_DAYS[t.weekday()]} {_MONTHS[t.month - 1]} {t.day:02d} {t.year:04d} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} GMT+0000 (Coordinated Universal Time)"
    )


def room_text(room: Room) -> str:
    """A room as it appears in a channel name (``str`` of an integer room, as JavaScript writes it)."""
    if isinstance(room, str):
        return room
    if isinstance(room, int) and not isinstance(room, bool):
        return str(room)
    raise TypeError(f"a room is a str or an int, not {type(room).__name__}")


def unique(rooms: Iterable[Room]) -> list[Room]:
    """The rooms without duplicates, in their first order (Node spreads a Set)."""
    return list(dict.fromkeys(rooms))


# -- wire forms (Node's key order) --------------------------------------------------------------------


def opts_wire(opts: WireOpts, *, flags: bool = True, emitter: bool = False) -> dict[str, Any]:
    """``{rooms, except, flags}``; ``flags=False`` leaves flags out (the classic requests'
    ``{rooms, except}``); ``emitter=True`` orders them ``rooms, flags, except`` as the emitter does."""
    rooms = unique(opts.rooms)
    except_ = unique(opts.except_)
    if emitter:
        return {"rooms": rooms, "flags": opts.flags, "except": except_}
    if not flags:
        return {"rooms": rooms, "except": except_}
    return {"rooms": rooms, "except": except_, "flags": opts.flags}


def packet_wire(packet: WirePacket, *, with_nsp: bool) -> dict[str, Any]:
    """``{type: 2, data, [id], [nsp]}`` (``nsp`` last: Node sets it after building the packet)."""
    out: dict[str, Any] = {"type": EVENT, "data": packet.data}
    if packet.id is not None:
        out["id"] = packet.id
    if with_nsp:
        out["nsp"] = packet.nsp
    return out


def socket_wire(socket: WireSocket) -> dict[str, Any]:
    """``{id, handshake, rooms, data}``."""
    return {"id": socket.id, "handshake": socket.handshake, "rooms": list(socket.rooms), "data": socket.data}


# -- validation of what a peer sent --------------------------------------------------------------------


def fail(what: str) -> ClusterMessageError:
    """The error for a bad field (``raise fail("broadcast: uid must be a string")``)."""
    return ClusterMessageError(f"invalid cluster message: {what}")


def need_map(value: Any, what: str) -> dict[Any, Any]:
    """``value`` if it is a map, else :class:`ClusterMessageError`."""
    if not isinstance(value, dict):
        raise fail(f"{what} must be a map")
    return value


def need_str(obj: dict[Any, Any], key: str, what: str) -> str:
    """The string at ``obj[key]`` (required)."""
    value = obj.get(key)
    if not isinstance(value, str):
        raise fail(f"{what}: {key} must be a string")
    return value


def opt_str(obj: dict[Any, Any], key: str, what: str) -> str | None:
    """The string at ``obj[key]``, or None if the key is missing or null."""
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise fail(f"{what}: {key} must be a string")
    return value


def need_bool(obj: dict[Any, Any], key: str, what: str) -> bool:
    """The bool at ``obj[key]``; missing or null is False (JavaScript's ``undefined``)."""
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise fail(f"{what}: {key} must be a boolean")
    return value


def need_count(obj: dict[Any, Any], key: str, what: str) -> int:
    """The non-negative integer at ``obj[key]`` (required, at most 2**53 - 1)."""
    value = obj.get(key)
    if type(value) is not int or not 0 <= value <= MAX_SAFE_INTEGER:
        raise fail(f"{what}: {key} must be a non-negative integer")
    return value


def rooms_from_wire(value: Any, what: str) -> tuple[Room, ...]:
    """A list of rooms (strings or integers); missing/null is empty (``new Set(undefined)``)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise fail(f"{what} must be a list of rooms")
    for room in value:
        if not isinstance(room, str) and (type(room) is not int):
            raise fail(f"{what}: a room must be a string or an integer")
    return tuple(value)


def opts_from_wire(value: Any, what: str) -> WireOpts:
    """Validate ``{rooms, except, flags}``; a missing list is empty, missing flags are ``{}``."""
    obj = need_map(value, f"{what}: opts")
    flags = obj.get("flags")
    if flags is None:
        flags = {}
    elif not isinstance(flags, dict):
        raise fail(f"{what}: flags must be a map")
    for key, flag in flags.items():
        if not isinstance(key, str):
            raise fail(f"{what}: flag names must be strings")
        if flag is None:
            continue
        if key in _BOOL_FLAGS and not isinstance(flag, bool):
            raise fail(f"{what}: flag {key} must be a boolean")
        if key == "timeout" and (
            type(flag) not in (int, float) or not (0 <= flag < math.inf)  # NaN fails the comparison
        ):
            raise fail(f"{what}: flag timeout must be a non-negative number of milliseconds")
    return WireOpts(
        rooms_from_wire(obj.get("rooms"), f"{what}: rooms"),
        rooms_from_wire(obj.get("except"), f"{what}: except"),
        flags,
    )


def event_from_wire(value: Any, what: str) -> list[Any]:
    """``[event, *args]`` with a string event name."""
    if not isinstance(value, list) or not value or not isinstance(value[0], str):
        raise fail(f"{what} must be a list starting with the event name")
    return value


def packet_from_wire(value: Any, nsp: str | None, what: str) -> WirePacket:
    """Validate ``{type: 2, data, [id], [nsp]}``. With ``nsp`` given (sharded) the packet's own is
    ignored; otherwise a missing one is ``/`` (Node's rule)."""
    obj = need_map(value, f"{what}: packet")
    if type(obj.get("type")) is not int or obj["type"] != EVENT:
        raise fail(f"{what}: packet type must be 2 (EVENT)")
    data = event_from_wire(obj.get("data"), f"{what}: packet data")
    ack_id = obj.get("id")
    if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id <= MAX_SAFE_INTEGER):
        raise fail(f"{what}: packet id must be a non-negative integer")
    own = opt_str(obj, "nsp", f"{what}: packet")
    return WirePacket(nsp if nsp is not None else (own if own is not None else "/"), data, ack_id)


def socket_from_wire(value: Any, what: str) -> WireSocket:
    """Validate ``{id, handshake, rooms, data}``."""
    obj = need_map(value, what)
    handshake = obj.get("handshake")
    if not isinstance(handshake, dict):
        raise fail(f"{what}: handshake must be a map")
    return WireSocket(
        need_str(obj, "id", what),
        handshake,
        rooms_from_wire(obj.get("rooms"), f"{what}: rooms"),
        obj.get("data"),
    )
