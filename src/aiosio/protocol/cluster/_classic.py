"""The classic ``@socket.io/redis-adapter`` 8.3.0 wire (and ``@socket.io/redis-emitter`` 5.1.0).

Three kinds of payload, on three kinds of channel (:class:`ClassicChannels`):

- broadcasts: msgpack ``[uid, packet, opts]`` (:func:`encode_broadcast` / :func:`decode_broadcast`);
- requests: JSON objects, except BROADCAST (7, an ack broadcast) which is msgpack because it may carry
  binary (:func:`encode_request` / :func:`decode_request`, one dataclass per request type);
- responses: JSON, except BROADCAST_ACK (9), msgpack (:func:`encode_response` / :func:`decode_response`).

Receivers tell JSON from msgpack by the first byte (``{``), as Node does, for requests and responses.
Key orders are Node's (``uid, requestId, type, ...``); a key Node leaves ``undefined`` is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar

from ._codec import DEFAULT_MAX_MESSAGE_BYTES, dumps, load_either, pack, unpack
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


class RequestType(IntEnum):
    """The classic adapter's request (0-7) and response (8, 9) types."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


@dataclass(frozen=True, slots=True)
class ClassicChannels:
    """The channel names of one namespace: ``ClassicChannels("socket.io", "/", uid)``.

    Subscribe with ``PSUBSCRIBE pattern`` and ``SUBSCRIBE request response specific_response``.
    """

    key: str
    nsp: str
    uid: str
    #: Broadcasts to zero or several rooms: ``socket.io#/#``.
    broadcast: str = field(init=False)
    #: What Node ``PSUBSCRIBE``\\ s: ``socket.io#/#*``.
    pattern: str = field(init=False)
    #: Every request: ``socket.io-request#/#`` (``PUBSUB NUMSUB`` of it is the server count).
    request: str = field(init=False)
    #: Responses, by default: ``socket.io-response#/#``.
    response: str = field(init=False)
    #: Responses to this node when the responder publishes on specific channels.
    specific_response: str = field(init=False)

    def __post_init__(self) -> None:
        broadcast = f"{self.key}#{self.nsp}#"
        object.__setattr__(self, "broadcast", broadcast)
        object.__setattr__(self, "pattern", broadcast + "*")
        object.__setattr__(self, "request", f"{self.key}-request#{self.nsp}#")
        object.__setattr__(self, "response", f"{self.key}-response#{self.nsp}#")
        object.__setattr__(self, "specific_response", f"{self.key}-response#{self.nsp}#{self.uid}#")

    def room(self, room: Room) -> str:
        """The channel of a broadcast to exactly one room: ``socket.io#/#room1#``."""
        return f"{self.broadcast}{room_text(room)}#"

    def response_for(self, uid: str) -> str:
        """The specific response channel of the node ``uid``: ``socket.io-response#/#{uid}#``."""
        return f"{self.response}{uid}#"

    def room_of(self, channel: str) -> str | None:
        """The room of a broadcast channel: ``"room1"``, ``""`` for the plain one, None if the channel
        is not a broadcast channel of this namespace.

        The room is text: a numeric room may be held as an integer (Node looks both up).
        """
        if not channel.startswith(self.broadcast) or not channel.endswith("#"):
            return None
        return channel[len(self.broadcast) : -1]

    def channel_for_broadcast(self, opts: WireOpts) -> str:
        """Where Node publishes a broadcast: the room channel for exactly one room, else the plain one."""
        rooms = unique(opts.rooms)
        return self.room(rooms[0]) if len(rooms) == 1 else self.broadcast


def encode_broadcast(uid: str, packet: WirePacket, opts: WireOpts, *, emitter: bool = False) -> bytes:
    """msgpack ``[uid, {type, data, [id], nsp}, {rooms, except, flags}]``.

    ``emitter=True`` orders the options ``rooms, flags, except`` as ``@socket.io/redis-emitter`` does
    (its uid is :data:`~._common.EMITTER_UID`). Never publish a broadcast with ``flags.local``.
    """
    return pack([uid, packet_wire(packet, with_nsp=True), opts_wire(opts, emitter=emitter)])


def decode_broadcast(
    payload: bytes | bytearray | memoryview, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> tuple[str, WirePacket, WireOpts]:
    """Validate a broadcast: ``(uid, packet, opts)``; a packet without ``nsp`` is for ``/``.

    The receiver drops its own uid and packets of another namespace, as Node does.
    """
    obj = unpack(payload, max_bytes)
    if not isinstance(obj, list) or len(obj) != 3:
        raise fail("broadcast must be [uid, packet, opts]")
    uid, packet, opts = obj
    if not isinstance(uid, str):
        raise fail("broadcast: uid must be a string")
    return uid, packet_from_wire(packet, None, "broadcast"), opts_from_wire(opts, "broadcast")


# -- requests ------------------------------------------------------------------------------------------
# ``uid`` is None when the sender sent none (the emitter's socketsJoin/socketsLeave/disconnectSockets).


@dataclass(frozen=True, slots=True)
class SocketsRequest:
    """SOCKETS (0) ``{uid, requestId, type, rooms}``: 8.x never sends it but answers it."""

    type: ClassVar[RequestType] = RequestType.SOCKETS
    uid: str | None
    request_id: str
    rooms: tuple[Room, ...] = ()


@dataclass(frozen=True, slots=True)
class AllRoomsRequest:
    """ALL_ROOMS (1) ``{uid, requestId, type}``: answered with :class:`AllRoomsResponse`."""

    type: ClassVar[RequestType] = RequestType.ALL_ROOMS
    uid: str | None
    request_id: str


@dataclass(frozen=True, slots=True)
class RemoteJoinRequest:
    """REMOTE_JOIN (2) ``{uid, type, opts: {rooms, except}, rooms}``: fire and forget."""

    type: ClassVar[RequestType] = RequestType.REMOTE_JOIN
    uid: str | None
    opts: WireOpts
    rooms: tuple[Room, ...]


@dataclass(frozen=True, slots=True)
class RemoteLeaveRequest:
    """REMOTE_LEAVE (3) ``{uid, type, opts: {rooms, except}, rooms}``: fire and forget."""

    type: ClassVar[RequestType] = RequestType.REMOTE_LEAVE
    uid: str | None
    opts: WireOpts
    rooms: tuple[Room, ...]


@dataclass(frozen=True, slots=True)
class RemoteDisconnectRequest:
    """REMOTE_DISCONNECT (4) ``{uid, type, opts: {rooms, except}, close}``: fire and forget."""

    type: ClassVar[RequestType] = RequestType.REMOTE_DISCONNECT
    uid: str | None
    opts: WireOpts
    close: bool


@dataclass(frozen=True, slots=True)
class LegacyRemoteJoinRequest:
    """Legacy REMOTE_JOIN (2) ``{uid, requestId, type, sid, room}`` (no ``opts``): answer
    :class:`LegacyResponse` if ``sid`` is a local socket."""

    type: ClassVar[RequestType] = RequestType.REMOTE_JOIN
    uid: str | None
    request_id: str
    sid: str
    room: Room


@dataclass(frozen=True, slots=True)
class LegacyRemoteLeaveRequest:
    """Legacy REMOTE_LEAVE (3) ``{uid, requestId, type, sid, room}``: answer :class:`LegacyResponse`."""

    type: ClassVar[RequestType] = RequestType.REMOTE_LEAVE
    uid: str | None
    request_id: str
    sid: str
    room: Room


@dataclass(frozen=True, slots=True)
class LegacyRemoteDisconnectRequest:
    """Legacy REMOTE_DISCONNECT (4) ``{uid, requestId, type, sid, close}``: answer :class:`LegacyResponse`."""

    type: ClassVar[RequestType] = RequestType.REMOTE_DISCONNECT
    uid: str | None
    request_id: str
    sid: str
    close: bool


@dataclass(frozen=True, slots=True)
class RemoteFetchRequest:
    """REMOTE_FETCH (5) ``{uid, requestId, type, opts: {rooms, except}}``: answer :class:`FetchResponse`."""

    type: ClassVar[RequestType] = RequestType.REMOTE_FETCH
    uid: str | None
    request_id: str
    opts: WireOpts


@dataclass(frozen=True, slots=True)
class ServerSideEmitRequest:
    """SERVER_SIDE_EMIT (6) ``{uid, [requestId], type, data: [event, *args]}``.

    With ``request_id`` the sender waits for one :class:`ServerSideEmitResponse` per node (the
    handler's first ack argument); without, nothing is answered.
    """

    type: ClassVar[RequestType] = RequestType.SERVER_SIDE_EMIT
    uid: str | None
    data: list[Any]
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class BroadcastRequest:
    """BROADCAST (7), msgpack ``{uid, requestId, type, packet: {type, data, nsp}, opts: {rooms, except,
    flags: {timeout}}}``: an ack broadcast. Answer one :class:`ClientCountResponse`, then one
    :class:`BroadcastAckResponse` per client ack."""

    type: ClassVar[RequestType] = RequestType.BROADCAST
    uid: str | None
    request_id: str
    packet: WirePacket
    opts: WireOpts


#: Any decoded classic request.
ClassicRequest = (
    SocketsRequest
    | AllRoomsRequest
    | RemoteJoinRequest
    | RemoteLeaveRequest
    | RemoteDisconnectRequest
    | LegacyRemoteJoinRequest
    | LegacyRemoteLeaveRequest
    | LegacyRemoteDisconnectRequest
    | RemoteFetchRequest
    | ServerSideEmitRequest
    | BroadcastRequest
)


def encode_request(request: ClassicRequest) -> bytes:
    """The request as Node writes it: JSON, or msgpack for :class:`BroadcastRequest`."""
    out: dict[str, Any] = {}
    if request.uid is not None:
        out["uid"] = request.uid
    request_id = getattr(request, "request_id", None)
    if request_id is not None:
        out["requestId"] = request_id
    out["type"] = int(request.type)
    match request:
        case SocketsRequest(rooms=rooms):
            out["rooms"] = unique(rooms)
        case RemoteJoinRequest(opts=opts, rooms=rooms) | RemoteLeaveRequest(opts=opts, rooms=rooms):
            out["opts"] = opts_wire(opts, flags=False)
            out["rooms"] = list(rooms)
        case RemoteDisconnectRequest(opts=opts, close=close):
            out["opts"] = opts_wire(opts, flags=False)
            out["close"] = close
        case LegacyRemoteJoinRequest(sid=sid, room=room) | LegacyRemoteLeaveRequest(sid=sid, room=room):
            out["sid"] = sid
            out["room"] = room
        case LegacyRemoteDisconnectRequest(sid=sid, close=close):
            out["sid"] = sid
            out["close"] = close
        case RemoteFetchRequest(opts=opts):
            out["opts"] = opts_wire(opts, flags=False)
        case ServerSideEmitRequest(data=data):
            out["data"] = data
        case BroadcastRequest(packet=packet, opts=opts):
            out["packet"] = packet_wire(packet, with_nsp=True)
            out["opts"] = opts_wire(opts)
            return pack(out)
    return dumps(out)


def decode_request(
    payload: bytes | bytearray | memoryview, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> ClassicRequest:
    """Validate a request (JSON if it starts with ``{``, else msgpack: any type may come either way).

    A REMOTE_JOIN/LEAVE/DISCONNECT without ``opts`` is the legacy per-socket form.
    """
    obj = need_map(load_either(payload, max_bytes), "request")
    kind = obj.get("type")
    if type(kind) is not int or not 0 <= kind <= 7:
        raise fail("request: type must be an integer from 0 to 7")
    what = RequestType(kind).name.lower()
    uid = opt_str(obj, "uid", what)
    if kind == RequestType.SERVER_SIDE_EMIT:
        return ServerSideEmitRequest(
            uid, event_from_wire(obj.get("data"), f"{what}: data"), opt_str(obj, "requestId", what)
        )
    if kind in (RequestType.REMOTE_JOIN, RequestType.REMOTE_LEAVE, RequestType.REMOTE_DISCONNECT):
        if obj.get("opts") is not None:
            opts = opts_from_wire(obj["opts"], what)
            if kind == RequestType.REMOTE_DISCONNECT:
                return RemoteDisconnectRequest(uid, opts, need_bool(obj, "close", what))
            rooms = obj.get("rooms")
            if not isinstance(rooms, list):
                raise fail(f"{what}: rooms must be a list of rooms")
            rooms_t = rooms_from_wire(rooms, f"{what}: rooms")
            if kind == RequestType.REMOTE_JOIN:
                return RemoteJoinRequest(uid, opts, rooms_t)
            return RemoteLeaveRequest(uid, opts, rooms_t)
        request_id = need_str(obj, "requestId", what)
        sid = need_str(obj, "sid", what)
        if kind == RequestType.REMOTE_DISCONNECT:
            return LegacyRemoteDisconnectRequest(uid, request_id, sid, need_bool(obj, "close", what))
        room = rooms_from_wire([obj.get("room")], f"{what}: room")[0]
        if kind == RequestType.REMOTE_JOIN:
            return LegacyRemoteJoinRequest(uid, request_id, sid, room)
        return LegacyRemoteLeaveRequest(uid, request_id, sid, room)
    request_id = need_str(obj, "requestId", what)
    if kind == RequestType.SOCKETS:
        return SocketsRequest(uid, request_id, rooms_from_wire(obj.get("rooms"), f"{what}: rooms"))
    if kind == RequestType.ALL_ROOMS:
        return AllRoomsRequest(uid, request_id)
    if kind == RequestType.REMOTE_FETCH:
        return RemoteFetchRequest(uid, request_id, opts_from_wire(obj.get("opts"), what))
    return BroadcastRequest(
        uid,
        request_id,
        packet_from_wire(obj.get("packet"), None, what),
        opts_from_wire(obj.get("opts"), what),
    )


# -- responses -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SocketsResponse:
    """Answer to SOCKETS: ``{requestId, sockets: [sid, ...]}`` (JSON)."""

    request_id: str
    sockets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AllRoomsResponse:
    """Answer to ALL_ROOMS: ``{requestId, rooms}`` (JSON), every local room including sid rooms."""

    request_id: str
    rooms: tuple[Room, ...]


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """Answer to REMOTE_FETCH: ``{requestId, sockets: [{id, handshake, rooms, data}, ...]}`` (JSON)."""

    request_id: str
    sockets: tuple[WireSocket, ...]


@dataclass(frozen=True, slots=True)
class ServerSideEmitResponse:
    """Answer to SERVER_SIDE_EMIT with ack: ``{type: 6, requestId, data}`` (JSON), ``data`` being the
    handler's first ack argument. Always published on the common response channel."""

    request_id: str
    data: Any


@dataclass(frozen=True, slots=True)
class LegacyResponse:
    """Answer to a legacy join/leave/disconnect: ``{requestId}`` (JSON). A requester waiting for
    sockets or rooms counts it as an answer with nothing in it (Node does)."""

    request_id: str


@dataclass(frozen=True, slots=True)
class ClientCountResponse:
    """First answer to BROADCAST: ``{type: 8, requestId, clientCount}`` (JSON), even when 0."""

    request_id: str
    client_count: int


@dataclass(frozen=True, slots=True)
class BroadcastAckResponse:
    """One client's ack of a BROADCAST: ``{type: 9, requestId, packet}`` (msgpack), ``data`` being the
    client's first ack argument (the wire key is ``packet``)."""

    request_id: str
    data: Any


#: Any decoded classic response.
ClassicResponse = (
    SocketsResponse
    | AllRoomsResponse
    | FetchResponse
    | ServerSideEmitResponse
    | LegacyResponse
    | ClientCountResponse
    | BroadcastAckResponse
)


def encode_response(response: ClassicResponse) -> bytes:
    """The response as Node writes it: JSON, or msgpack for :class:`BroadcastAckResponse`."""
    match response:
        case SocketsResponse(request_id=rid, sockets=sockets):
            return dumps({"requestId": rid, "sockets": list(sockets)})
        case AllRoomsResponse(request_id=rid, rooms=rooms):
            return dumps({"requestId": rid, "rooms": list(rooms)})
        case FetchResponse(request_id=rid, sockets=sockets):
            return dumps({"requestId": rid, "sockets": [socket_wire(s) for s in sockets]})
        case ServerSideEmitResponse(request_id=rid, data=data):
            return dumps({"type": int(RequestType.SERVER_SIDE_EMIT), "requestId": rid, "data": data})
        case LegacyResponse(request_id=rid):
            return dumps({"requestId": rid})
        case ClientCountResponse(request_id=rid, client_count=count):
            return dumps(
                {"type": int(RequestType.BROADCAST_CLIENT_COUNT), "requestId": rid, "clientCount": count}
            )
        case BroadcastAckResponse(request_id=rid, data=data):
            return pack({"type": int(RequestType.BROADCAST_ACK), "requestId": rid, "packet": data})
    raise TypeError(f"not a classic response: {type(response).__name__}")


def decode_response(
    payload: bytes | bytearray | memoryview, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> ClassicResponse:
    """Validate a response (JSON if it starts with ``{``, else msgpack).

    With a ``type`` (6, 8 or 9) the type decides. Without one, the keys do: ``rooms`` is an
    :class:`AllRoomsResponse`; ``sockets`` a :class:`SocketsResponse` if it holds strings, else a
    :class:`FetchResponse` (also when empty: 8.x only ever waits for fetch answers, as it never sends
    SOCKETS); neither is a :class:`LegacyResponse`. A missing ``data``/``packet`` is None.
    """
    obj = need_map(load_either(payload, max_bytes), "response")
    rid = need_str(obj, "requestId", "response")
    if "type" in obj:
        kind = obj["type"]
        if type(kind) is int and kind == RequestType.SERVER_SIDE_EMIT:
            return ServerSideEmitResponse(rid, obj.get("data"))
        if type(kind) is int and kind == RequestType.BROADCAST_CLIENT_COUNT:
            return ClientCountResponse(rid, need_count(obj, "clientCount", "client count response"))
        if type(kind) is int and kind == RequestType.BROADCAST_ACK:
            return BroadcastAckResponse(rid, obj.get("packet"))
        raise fail("response: type must be 6, 8 or 9")
    if "rooms" in obj:
        rooms = obj["rooms"]
        if not isinstance(rooms, list):
            raise fail("all rooms response: rooms must be a list of rooms")
        return AllRoomsResponse(rid, rooms_from_wire(rooms, "all rooms response: rooms"))
    if "sockets" in obj:
        sockets = obj["sockets"]
        if not isinstance(sockets, list):
            raise fail("sockets response: sockets must be a list")
        if sockets and all(isinstance(s, str) for s in sockets):
            return SocketsResponse(rid, tuple(sockets))
        return FetchResponse(rid, tuple(socket_from_wire(s, "fetch response: socket") for s in sockets))
    return LegacyResponse(rid)
