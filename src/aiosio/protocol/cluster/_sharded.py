"""The ``socket.io-adapter`` 2.5.9 ClusterAdapter messages, as the sharded Redis adapter sends them.

A message is ``{type, [data], uid, nsp}`` (:class:`ClusterType` 1-13, one dataclass per type). The
sharded adapter (``@socket.io/redis-adapter`` 8.3.0 ``createShardedAdapter``) writes it as JSON, or
as msgpack of the whole message when a type that may carry binary (BROADCAST, BROADCAST_ACK,
FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT, SERVER_SIDE_EMIT_RESPONSE) holds ``bytes``
(:func:`encode_cluster`); receivers sniff the first byte (:func:`decode_cluster`). The packet inside a
BROADCAST carries no ``nsp``. :class:`ShardedChannels` names the channels and Node's publish rule.

The message model (the ``data`` of each type) is the one the Redis Streams adapter stores as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar, Literal

from ._codec import DEFAULT_MAX_MESSAGE_BYTES, dumps, has_binary, load_either, pack
from ._common import (
    Room,
    WireOpts,
    WirePacket,
    WireSocket,
    event_from_wire,
    fail,
    need_bool,
    need_count,
    need_map,
    need_str,
    opt_str,
    opts_from_wire,
    opts_wire,
    packet_from_wire,
    packet_wire,
    room_text,
    rooms_from_wire,
    socket_from_wire,
    socket_wire,
    unique,
)


class ClusterType(IntEnum):
    """``MessageType`` of socket.io-adapter's ClusterAdapter."""

    INITIAL_HEARTBEAT = 1
    HEARTBEAT = 2
    BROADCAST = 3
    SOCKETS_JOIN = 4
    SOCKETS_LEAVE = 5
    DISCONNECT_SOCKETS = 6
    FETCH_SOCKETS = 7
    FETCH_SOCKETS_RESPONSE = 8
    SERVER_SIDE_EMIT = 9
    SERVER_SIDE_EMIT_RESPONSE = 10
    BROADCAST_CLIENT_COUNT = 11
    BROADCAST_ACK = 12
    ADAPTER_CLOSE = 13


#: The types that answer a request: they go to the requester's channel, and a receiver hands them to
#: its response handling even when they arrive on the main channel (Node does).
CLUSTER_RESPONSE_TYPES = frozenset(
    {
        ClusterType.FETCH_SOCKETS_RESPONSE,
        ClusterType.SERVER_SIDE_EMIT_RESPONSE,
        ClusterType.BROADCAST_CLIENT_COUNT,
        ClusterType.BROADCAST_ACK,
    }
)
_MAY_CARRY_BINARY = frozenset(
    {
        ClusterType.BROADCAST,
        ClusterType.BROADCAST_ACK,
        ClusterType.FETCH_SOCKETS_RESPONSE,
        ClusterType.SERVER_SIDE_EMIT,
        ClusterType.SERVER_SIDE_EMIT_RESPONSE,
    }
)

#: ``subscriptionMode`` of the sharded adapter (Node's default is ``dynamic``).
SubscriptionMode = Literal["static", "dynamic", "dynamic-private"]
_MODES = ("static", "dynamic", "dynamic-private")


@dataclass(frozen=True, slots=True)
class ClusterInitialHeartbeat:
    """INITIAL_HEARTBEAT (1), no data: the heartbeat variant's hello (answered with a HEARTBEAT)."""

    type: ClassVar[ClusterType] = ClusterType.INITIAL_HEARTBEAT
    uid: str
    nsp: str


@dataclass(frozen=True, slots=True)
class ClusterHeartbeat:
    """HEARTBEAT (2), no data."""

    type: ClassVar[ClusterType] = ClusterType.HEARTBEAT
    uid: str
    nsp: str


@dataclass(frozen=True, slots=True)
class ClusterBroadcast:
    """BROADCAST (3): data ``{packet: {type, data, [id]}, opts}``, or with ``requestId`` (an ack
    broadcast) ``{packet, requestId, opts}``. ``packet.nsp`` is ignored on encoding (the wire packet
    has none) and set to ``nsp`` on decoding."""

    type: ClassVar[ClusterType] = ClusterType.BROADCAST
    uid: str
    nsp: str
    packet: WirePacket
    opts: WireOpts
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterSocketsJoin:
    """SOCKETS_JOIN (4): data ``{opts, rooms}``."""

    type: ClassVar[ClusterType] = ClusterType.SOCKETS_JOIN
    uid: str
    nsp: str
    opts: WireOpts
    rooms: tuple[Room, ...]


@dataclass(frozen=True, slots=True)
class ClusterSocketsLeave:
    """SOCKETS_LEAVE (5): data ``{opts, rooms}``."""

    type: ClassVar[ClusterType] = ClusterType.SOCKETS_LEAVE
    uid: str
    nsp: str
    opts: WireOpts
    rooms: tuple[Room, ...]


@dataclass(frozen=True, slots=True)
class ClusterDisconnectSockets:
    """DISCONNECT_SOCKETS (6): data ``{opts, close}``."""

    type: ClassVar[ClusterType] = ClusterType.DISCONNECT_SOCKETS
    uid: str
    nsp: str
    opts: WireOpts
    close: bool


@dataclass(frozen=True, slots=True)
class ClusterFetchSockets:
    """FETCH_SOCKETS (7): data ``{opts, requestId}``."""

    type: ClassVar[ClusterType] = ClusterType.FETCH_SOCKETS
    uid: str
    nsp: str
    opts: WireOpts
    request_id: str


@dataclass(frozen=True, slots=True)
class ClusterFetchSocketsResponse:
    """FETCH_SOCKETS_RESPONSE (8): data ``{requestId, sockets: [{id, handshake, rooms, data}]}``."""

    type: ClassVar[ClusterType] = ClusterType.FETCH_SOCKETS_RESPONSE
    uid: str
    nsp: str
    request_id: str
    sockets: tuple[WireSocket, ...]


@dataclass(frozen=True, slots=True)
class ClusterServerSideEmit:
    """SERVER_SIDE_EMIT (9): data ``{packet: [event, *args]}`` or ``{requestId, packet}`` (with ack);
    ``data`` is that list."""

    type: ClassVar[ClusterType] = ClusterType.SERVER_SIDE_EMIT
    uid: str
    nsp: str
    data: list[Any]
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterServerSideEmitResponse:
    """SERVER_SIDE_EMIT_RESPONSE (10): data ``{requestId, packet}``; ``data`` is the handler's first ack
    argument (None if the wire has none)."""

    type: ClassVar[ClusterType] = ClusterType.SERVER_SIDE_EMIT_RESPONSE
    uid: str
    nsp: str
    request_id: str
    data: Any


@dataclass(frozen=True, slots=True)
class ClusterBroadcastClientCount:
    """BROADCAST_CLIENT_COUNT (11): data ``{requestId, clientCount}``."""

    type: ClassVar[ClusterType] = ClusterType.BROADCAST_CLIENT_COUNT
    uid: str
    nsp: str
    request_id: str
    client_count: int


@dataclass(frozen=True, slots=True)
class ClusterBroadcastAck:
    """BROADCAST_ACK (12): data ``{requestId, packet}``; ``data`` is the client's first ack argument."""

    type: ClassVar[ClusterType] = ClusterType.BROADCAST_ACK
    uid: str
    nsp: str
    request_id: str
    data: Any


@dataclass(frozen=True, slots=True)
class ClusterAdapterClose:
    """ADAPTER_CLOSE (13), no data: the heartbeat variant's goodbye."""

    type: ClassVar[ClusterType] = ClusterType.ADAPTER_CLOSE
    uid: str
    nsp: str


#: Any ClusterAdapter message.
ClusterMessage = (
    ClusterInitialHeartbeat
    | ClusterHeartbeat
    | ClusterBroadcast
    | ClusterSocketsJoin
    | ClusterSocketsLeave
    | ClusterDisconnectSockets
    | ClusterFetchSockets
    | ClusterFetchSocketsResponse
    | ClusterServerSideEmit
    | ClusterServerSideEmitResponse
    | ClusterBroadcastClientCount
    | ClusterBroadcastAck
    | ClusterAdapterClose
)


def encode_cluster(message: ClusterMessage) -> bytes:
    """``{type, [data], uid, nsp}`` as JSON, or msgpack if the type may carry binary and does."""
    out = _message_map(message)
    if message.type in _MAY_CARRY_BINARY and has_binary(out.get("data")):
        return pack(out)
    return dumps(out)


def _message_map(message: ClusterMessage) -> dict[str, Any]:
    """A whole message as Node writes it: ``{type, [data], uid, nsp}``, in that key order."""
    data = _cluster_data(message)
    out: dict[str, Any] = {"type": int(message.type)}
    if data is not None:
        out["data"] = data
    out["uid"] = message.uid
    out["nsp"] = message.nsp
    return out


def decode_cluster(
    payload: bytes | bytearray | memoryview, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> ClusterMessage:
    """Validate a message (JSON if it starts with ``{``, else msgpack)."""
    return _message_from_map(load_either(payload, max_bytes))


def _message_from_map(value: Any) -> ClusterMessage:
    """Validate a decoded whole message (a map with ``uid``, ``nsp``, ``type`` and ``data``)."""
    obj = need_map(value, "cluster message")
    kind = obj.get("type")
    if type(kind) is not int or not 1 <= kind <= 13:
        raise fail("cluster message: type must be an integer from 1 to 13")
    return _cluster_message(
        ClusterType(kind),
        need_str(obj, "uid", "cluster message"),
        need_str(obj, "nsp", "cluster message"),
        obj.get("data"),
    )


def _cluster_data(message: ClusterMessage) -> dict[str, Any] | None:
    """The ``data`` of a message in Node's key order (None for the types without)."""
    match message:
        case ClusterBroadcast(packet=packet, opts=opts, request_id=rid):
            out: dict[str, Any] = {"packet": packet_wire(packet, with_nsp=False)}
            if rid is not None:
                out["requestId"] = rid
            out["opts"] = opts_wire(opts)
            return out
        case ClusterSocketsJoin(opts=opts, rooms=rooms) | ClusterSocketsLeave(opts=opts, rooms=rooms):
            return {"opts": opts_wire(opts), "rooms": list(rooms)}
        case ClusterDisconnectSockets(opts=opts, close=close):
            return {"opts": opts_wire(opts), "close": close}
        case ClusterFetchSockets(opts=opts, request_id=rid):
            return {"opts": opts_wire(opts), "requestId": rid}
        case ClusterFetchSocketsResponse(request_id=rid, sockets=sockets):
            return {"requestId": rid, "sockets": [socket_wire(s) for s in sockets]}
        case ClusterServerSideEmit(data=data, request_id=rid):
            return {"packet": data} if rid is None else {"requestId": rid, "packet": data}
        case (
            ClusterServerSideEmitResponse(request_id=rid, data=data)
            | ClusterBroadcastAck(request_id=rid, data=data)
        ):
            return {"requestId": rid, "packet": data}
        case ClusterBroadcastClientCount(request_id=rid, client_count=count):
            return {"requestId": rid, "clientCount": count}
    return None


def _cluster_message(kind: ClusterType, uid: str, nsp: str, data: Any) -> ClusterMessage:
    """Validate the ``data`` of a message of type ``kind``."""
    if kind == ClusterType.INITIAL_HEARTBEAT:
        return ClusterInitialHeartbeat(uid, nsp)
    if kind == ClusterType.HEARTBEAT:
        return ClusterHeartbeat(uid, nsp)
    if kind == ClusterType.ADAPTER_CLOSE:
        return ClusterAdapterClose(uid, nsp)
    what = kind.name.lower()
    obj = need_map(data, f"{what}: data")
    if kind == ClusterType.BROADCAST:
        return ClusterBroadcast(
            uid,
            nsp,
            packet_from_wire(obj.get("packet"), nsp, what),
            opts_from_wire(obj.get("opts"), what),
            opt_str(obj, "requestId", what),
        )
    if kind in (ClusterType.SOCKETS_JOIN, ClusterType.SOCKETS_LEAVE):
        rooms = obj.get("rooms")
        if not isinstance(rooms, list):
            raise fail(f"{what}: rooms must be a list of rooms")
        cls = ClusterSocketsJoin if kind == ClusterType.SOCKETS_JOIN else ClusterSocketsLeave
        return cls(uid, nsp, opts_from_wire(obj.get("opts"), what), rooms_from_wire(rooms, f"{what}: rooms"))
    if kind == ClusterType.DISCONNECT_SOCKETS:
        return ClusterDisconnectSockets(
            uid, nsp, opts_from_wire(obj.get("opts"), what), need_bool(obj, "close", what)
        )
    if kind == ClusterType.SERVER_SIDE_EMIT:
        return ClusterServerSideEmit(
            uid, nsp, event_from_wire(obj.get("packet"), f"{what}: packet"), opt_str(obj, "requestId", what)
        )
    rid = need_str(obj, "requestId", what)
    if kind == ClusterType.FETCH_SOCKETS:
        return ClusterFetchSockets(uid, nsp, opts_from_wire(obj.get("opts"), what), rid)
    if kind == ClusterType.FETCH_SOCKETS_RESPONSE:
        sockets = obj.get("sockets")
        if not isinstance(sockets, list):
            raise fail(f"{what}: sockets must be a list")
        return ClusterFetchSocketsResponse(
            uid, nsp, rid, tuple(socket_from_wire(s, f"{what}: socket") for s in sockets)
        )
    if kind == ClusterType.SERVER_SIDE_EMIT_RESPONSE:
        return ClusterServerSideEmitResponse(uid, nsp, rid, obj.get("packet"))
    if kind == ClusterType.BROADCAST_CLIENT_COUNT:
        return ClusterBroadcastClientCount(uid, nsp, rid, need_count(obj, "clientCount", what))
    return ClusterBroadcastAck(uid, nsp, rid, obj.get("packet"))


def _looks_like_sid(room: Room) -> bool:
    # Node's looksLikeASocketId: a 20-character string (base64id; aiosio's sids have the same shape).
    return isinstance(room, str) and len(room) == 20


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"subscription mode must be one of {', '.join(_MODES)}, not {mode!r}")


@dataclass(frozen=True, slots=True)
class ShardedChannels:
    """The sharded channel names of one namespace: ``ShardedChannels("socket.io", "/", uid)``.

    ``SSUBSCRIBE main own`` at start (``PUBSUB SHARDNUMSUB main`` is the server count), plus a room
    channel per room for which :meth:`subscribes_room` is true, while the room exists locally.
    """

    prefix: str
    nsp: str
    uid: str
    #: Every message that is not a response nor a single-room broadcast: ``socket.io#/#``.
    main: str = field(init=False)
    #: Responses to this node: ``socket.io#/#{uid}#``.
    own: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "main", f"{self.prefix}#{self.nsp}#")
        object.__setattr__(self, "own", f"{self.prefix}#{self.nsp}#{self.uid}#")

    def room(self, room: Room) -> str:
        """The dynamic channel of a room: ``socket.io#/#room1#``."""
        return f"{self.main}{room_text(room)}#"

    def response_for(self, uid: str) -> str:
        """Where a response to the node ``uid`` goes: ``socket.io#/#{uid}#``."""
        return f"{self.main}{uid}#"

    def channel_for(self, message: ClusterMessage, mode: SubscriptionMode) -> str:
        """Where Node publishes ``message`` (responses go to :meth:`response_for` instead).

        A BROADCAST without ``requestId`` to exactly one room goes to that room's channel in
        ``dynamic-private`` mode, and in ``dynamic`` mode unless the room looks like a socket id (a
        20-character string); everything else goes to :attr:`main`.
        """
        _check_mode(mode)
        if message.type in CLUSTER_RESPONSE_TYPES:
            raise ValueError(f"{message.type.name} is a response: publish it on response_for(requester)")
        if isinstance(message, ClusterBroadcast) and message.request_id is None:
            rooms = unique(message.opts.rooms)
            if len(rooms) == 1 and self.subscribes_room(rooms[0], mode):
                return self.room(rooms[0])
        return self.main

    def subscribes_room(self, room: Room, mode: SubscriptionMode) -> bool:
        """Whether a node listens on ``room``'s channel while it holds the room: exactly when a
        single-room broadcast to it is published there (never in ``static`` mode, for every room in
        ``dynamic-private``, for rooms that do not look like socket ids in ``dynamic``).

        Node's own test in ``dynamic`` mode is "not a local socket id"; the two differ only for a public
        room of 20 characters, whose channel nobody publishes to.
        """
        _check_mode(mode)
        if mode == "static":
            return False
        return mode == "dynamic-private" or not _looks_like_sid(room)
