"""The classic Redis driver: the wire of ``@socket.io/redis-adapter`` 8.x ``createAdapter`` (Redis
pub/sub), so aiosio nodes and Node socket.io nodes share one cluster.

Per namespace it holds ``PSUBSCRIBE {key}#{nsp}#*`` (broadcasts, one channel per single-room
broadcast, so a node decodes only those for rooms it has) and ``SUBSCRIBE {key}-request#{nsp}#``,
``{key}-response#{nsp}#`` and ``{key}-response#{nsp}#{uid}#``. The server count is ``PUBSUB NUMSUB``
of the request channel. See CLUSTER-WIRE.md §1 for every message.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ...protocol.cluster import (
    DEFAULT_MAX_MESSAGE_BYTES,
    AllRoomsRequest,
    AllRoomsResponse,
    BroadcastAckResponse,
    BroadcastRequest,
    ClassicChannels,
    ClassicRequest,
    ClassicResponse,
    ClientCountResponse,
    ClusterMessageError,
    FetchResponse,
    LegacyRemoteDisconnectRequest,
    LegacyRemoteJoinRequest,
    LegacyRemoteLeaveRequest,
    LegacyResponse,
    RemoteDisconnectRequest,
    RemoteFetchRequest,
    RemoteJoinRequest,
    RemoteLeaveRequest,
    ServerSideEmitRequest,
    ServerSideEmitResponse,
    SocketsRequest,
    SocketsResponse,
    WireOpts,
    WirePacket,
    WireSocket,
    classic_uid,
    decode_broadcast,
    decode_request,
    decode_response,
    dumps,
    encode_broadcast,
    encode_request,
    encode_response,
)
from ..base import Selector, SocketInfo
from ..wire import DropLog, from_wire_socket, to_opts, to_selector, to_wire_socket
from ._link import RedisLink

if TYPE_CHECKING:
    from ..cluster import ClusterAdapter

default_logger = logging.getLogger("aiosio.adapters.redis")


class ClassicDriver:
    """A :class:`~aiosio.adapters.cluster.ClusterDriver` speaking the classic redis-adapter wire.

    ``key`` is Node's ``key`` option (``"socket.io"``); ``publish_on_specific_response_channel``
    is Node's option of that name (answers go to the requester's own channel instead of the common
    one). ``link`` is the :class:`~aiosio.adapters.redis._link.RedisLink` to use, or one is made
    from ``url`` and ``redis_options``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        key: str = "socket.io",
        link: RedisLink | None = None,
        redis_options: dict[str, Any] | None = None,
        publish_on_specific_response_channel: bool = False,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        logger: logging.Logger | None = None,
    ) -> None:
        self.uid = classic_uid()
        #: How this node's broadcasts start: msgpack array(3), then its uid as a fixstr.
        self._own_prefix = b"\x93" + bytes([0xA0 | len(self.uid)]) + self.uid.encode()
        self.key = key
        self.logger = logger or default_logger
        self.link = link or RedisLink(
            url, on_message=self._on_message, redis_options=redis_options, logger=self.logger
        )
        if link is not None:
            link.on_message = self._on_message
        self.specific_responses = publish_on_specific_response_channel
        self.max_message_bytes = max_message_bytes
        self._adapter: ClusterAdapter | None = None
        self._channels: dict[str, ClassicChannels] = {}
        #: broadcast channel prefix -> namespace, request/response channel -> namespace.
        self._by_prefix: dict[str, str] = {}
        self._by_channel: dict[str, tuple[str, str]] = {}
        self.dropped = DropLog(self.logger)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, adapter: ClusterAdapter) -> None:
        """Start the link; ``adapter`` receives from now on."""
        self._adapter = adapter
        await self.link.start()

    async def close(self) -> None:
        """Unsubscribe everything and close the link."""
        await self.link.close()

    async def open_namespace(self, namespace: str) -> None:
        """Subscribe to the namespace's channels (once: NUMSUB counts this node once)."""
        if namespace in self._channels:
            return
        ch = ClassicChannels(self.key, namespace, self.uid)
        self._by_prefix[ch.broadcast] = namespace
        self._by_channel[ch.request] = (namespace, "request")
        self._by_channel[ch.response] = (namespace, "response")
        self._by_channel[ch.specific_response] = (namespace, "response")
        # The link holds a subscription across reconnects once asked, so a failure here is retried
        # by the adapter without subscribing twice (a repeat on one connection counts once).
        await self.link.psubscribe(ch.pattern)
        await self.link.subscribe(ch.request, ch.response, ch.specific_response)
        self._channels[namespace] = ch

    def new_request_id(self) -> str:
        """Node's 6-character request ids."""
        return classic_uid()

    async def server_count(self, namespace: str) -> int:
        """``PUBSUB NUMSUB`` of the namespace's request channel (at least 1: this server)."""
        ch = self._ch(namespace)
        return max(1, await self.link.numsub(ch.request))

    def _ch(self, namespace: str) -> ClassicChannels:
        ch = self._channels.get(namespace)
        if ch is None:
            # Publishing to a namespace this node does not serve (yet): same names, no subscription.
            ch = ClassicChannels(self.key, namespace, self.uid)
        return ch

    # -- outbound ---------------------------------------------------------------------------

    def broadcast(self, namespace: str, event: str, args: tuple[Any, ...], selector: Selector) -> None:
        """``PUBLISH`` on the room channel (one room) or the namespace's channel."""
        ch = self._ch(namespace)
        opts = to_opts(selector)
        payload = encode_broadcast(self.uid, WirePacket(namespace, [event, *args]), opts)
        self.link.publish(ch.channel_for_broadcast(opts), payload)

    def broadcast_with_ack(
        self, namespace: str, event: str, args: tuple[Any, ...], selector: Selector, request_id: str
    ) -> None:
        """A BROADCAST request (msgpack) on the request channel."""
        packet = WirePacket(namespace, [event, *args])
        request = BroadcastRequest(self.uid, request_id, packet, to_opts(selector, ack_timeout=True))
        self.link.publish(self._ch(namespace).request, encode_request(request))

    def _opts(self, selector: Selector) -> WireOpts:
        return WireOpts(tuple(selector.rooms or ()), tuple(selector.exclude))

    def _sids(self, selector: Selector) -> list[str]:
        return [str(sid) for sid in selector.rooms or () if sid not in selector.exclude]

    def _request(self, namespace: str, request: ClassicRequest) -> None:
        self.link.publish(self._ch(namespace).request, encode_request(request))

    # A sid selector (``disconnect(sid)``, ``enter_room(sid, ...)``, a fetched socket's join, leave
    # and disconnect) goes out in the legacy ``{sid, room}`` / ``{sid, close}`` form, one request per
    # socket (and room): the receiver acts on the socket with that id only, never on the members of
    # a room of that name, which the ``opts`` form cannot say (it has no flags). Node 8.x answers it
    # (``{requestId}``, ignored here) exactly so.

    def sockets_join(self, namespace: str, selector: Selector, rooms: list[Any]) -> None:
        """REMOTE_JOIN (no answer)."""
        if selector.sids:
            for sid in self._sids(selector):
                for room in rooms:
                    self._request(namespace, LegacyRemoteJoinRequest(self.uid, classic_uid(), sid, room))
            return
        self._request(namespace, RemoteJoinRequest(self.uid, self._opts(selector), tuple(rooms)))

    def sockets_leave(self, namespace: str, selector: Selector, rooms: list[Any]) -> None:
        """REMOTE_LEAVE (no answer)."""
        if selector.sids:
            for sid in self._sids(selector):
                for room in rooms:
                    self._request(namespace, LegacyRemoteLeaveRequest(self.uid, classic_uid(), sid, room))
            return
        self._request(namespace, RemoteLeaveRequest(self.uid, self._opts(selector), tuple(rooms)))

    def disconnect_sockets(self, namespace: str, selector: Selector, close: bool) -> None:
        """REMOTE_DISCONNECT (no answer)."""
        if selector.sids:
            for sid in self._sids(selector):
                self._request(namespace, LegacyRemoteDisconnectRequest(self.uid, classic_uid(), sid, close))
            return
        self._request(namespace, RemoteDisconnectRequest(self.uid, self._opts(selector), close))

    def fetch_sockets(self, namespace: str, selector: Selector, request_id: str) -> None:
        """REMOTE_FETCH."""
        request = RemoteFetchRequest(self.uid, request_id, self._opts(selector))
        self.link.publish(self._ch(namespace).request, encode_request(request))

    def server_side_emit(
        self, namespace: str, event: str, args: tuple[Any, ...], request_id: str | None
    ) -> None:
        """SERVER_SIDE_EMIT (answered only with a request id)."""
        request = ServerSideEmitRequest(self.uid, [event, *args], request_id)
        self.link.publish(self._ch(namespace).request, encode_request(request))

    def _respond(self, namespace: str, origin: str, response: ClassicResponse, common: bool = False) -> None:
        ch = self._ch(namespace)
        channel = ch.response_for(origin) if self.specific_responses and not common else ch.response
        self.link.publish(channel, encode_response(response))

    def fetch_response(self, namespace: str, origin: str, request_id: str, sockets: list[SocketInfo]) -> None:
        """Describe this node's selected sockets (a socket whose data cannot be sent as JSON is
        described with Node's default data ``{}``, and that is logged)."""
        wire = tuple(to_wire_socket(info) for info in sockets)
        try:
            payload = encode_response(FetchResponse(request_id, wire))
        except (TypeError, ValueError) as exc:
            self.logger.warning("fetch_sockets: socket data not JSON-serializable, sent without it: %s", exc)
            wire = tuple(
                s if _json_safe(s.data) else WireSocket(s.id, s.handshake, s.rooms, {}) for s in wire
            )
            payload = encode_response(FetchResponse(request_id, wire))
        ch = self._ch(namespace)
        self.link.publish(ch.response_for(origin) if self.specific_responses else ch.response, payload)

    def server_side_response(self, namespace: str, origin: str, request_id: str, data: Any) -> None:
        """The handler's answer, always on the common response channel (as Node does)."""
        self._respond(namespace, origin, ServerSideEmitResponse(request_id, data), common=True)

    def client_count(self, namespace: str, origin: str, request_id: str, count: int) -> None:
        """BROADCAST_CLIENT_COUNT."""
        self._respond(namespace, origin, ClientCountResponse(request_id, count))

    def broadcast_ack(self, namespace: str, origin: str, request_id: str, data: Any) -> None:
        """BROADCAST_ACK (msgpack: an ack may carry binary)."""
        self._respond(namespace, origin, BroadcastAckResponse(request_id, data))

    def room_created(self, namespace: str, room: str) -> None:
        """Nothing: the pattern subscription covers every room channel."""

    def room_deleted(self, namespace: str, room: str) -> None:
        """Nothing."""

    # -- inbound -----------------------------------------------------------------------------

    def _on_message(self, channel: str, payload: bytes) -> None:
        adapter = self._adapter
        if adapter is None:
            return
        try:
            route = self._by_channel.get(channel)
            if route is not None:
                namespace, kind = route
                if kind == "request":
                    self._on_request(adapter, namespace, payload)
                else:
                    self._on_response(adapter, namespace, payload)
                return
            self._on_broadcast(adapter, channel, payload)
        except ClusterMessageError as exc:
            self.dropped(channel, exc)
        except Exception as exc:
            self.dropped(channel, f"{type(exc).__name__}: {exc}")
            self.logger.debug("cluster message handling failed", exc_info=True)

    def _on_broadcast(self, adapter: ClusterAdapter, channel: str, payload: bytes) -> None:
        namespace = next((ns for prefix, ns in self._by_prefix.items() if channel.startswith(prefix)), None)
        if namespace is None:
            return
        room = self._ch(namespace).room_of(channel)
        if room is None:
            return
        if room and not adapter.participants(namespace, room):
            return  # a room this node has no socket in: not even decoded
        if payload.startswith(self._own_prefix):
            return  # this node's own broadcast, back through the pattern: not decoded either
        uid, packet, opts = decode_broadcast(payload, self.max_message_bytes)
        if uid == self.uid or packet.nsp != namespace:
            return
        adapter.receive_broadcast(namespace, packet.data[0], tuple(packet.data[1:]), to_selector(opts))

    def _on_request(self, adapter: ClusterAdapter, namespace: str, payload: bytes) -> None:
        request = decode_request(payload, self.max_message_bytes)
        origin = request.uid
        if origin == self.uid:
            return
        sender = origin or ""
        match request:
            case BroadcastRequest(request_id=rid, packet=packet, opts=opts):
                if packet.nsp == namespace:
                    adapter.receive_broadcast_with_ack(
                        sender, rid, namespace, packet.data[0], tuple(packet.data[1:]), to_selector(opts)
                    )
            case RemoteJoinRequest(opts=opts, rooms=rooms):
                adapter.receive_sockets_join(namespace, to_selector(opts), rooms)
            case RemoteLeaveRequest(opts=opts, rooms=rooms):
                adapter.receive_sockets_leave(namespace, to_selector(opts), rooms)
            case RemoteDisconnectRequest(opts=opts, close=close):
                adapter.receive_disconnect_sockets(namespace, to_selector(opts), close)
            case RemoteFetchRequest(request_id=rid, opts=opts):
                adapter.receive_fetch_sockets(sender, rid, namespace, to_selector(opts))
            case ServerSideEmitRequest(request_id=rid, data=data):
                adapter.receive_server_side_emit(sender, rid, namespace, data[0], tuple(data[1:]))
            case SocketsRequest(request_id=rid, rooms=wanted):
                selector = Selector(tuple(str(r) for r in wanted) if wanted else None)
                sids = tuple(m.sid for m in adapter.local(namespace, selector))
                self._respond(namespace, sender, SocketsResponse(rid, sids))
            case AllRoomsRequest(request_id=rid):
                names = [*adapter.participants(namespace, None), *adapter.room_names(namespace)]
                self._respond(namespace, sender, AllRoomsResponse(rid, tuple(names)))
            case LegacyRemoteJoinRequest(request_id=rid, sid=sid, room=room):
                if sid in adapter.participants(namespace, None):
                    adapter.join(namespace, sid, str(room))
                    self._respond(namespace, sender, LegacyResponse(rid))
            case LegacyRemoteLeaveRequest(request_id=rid, sid=sid, room=room):
                if sid in adapter.participants(namespace, None):
                    adapter.leave(namespace, sid, str(room))
                    self._respond(namespace, sender, LegacyResponse(rid))
            case LegacyRemoteDisconnectRequest(request_id=rid, sid=sid, close=close):
                if sid in adapter.participants(namespace, None):
                    adapter.disconnect_selected(namespace, Selector((sid,), sids=True), close)
                    self._respond(namespace, sender, LegacyResponse(rid))

    def _on_response(self, adapter: ClusterAdapter, namespace: str, payload: bytes) -> None:
        response = decode_response(payload, self.max_message_bytes)
        match response:
            case FetchResponse(request_id=rid, sockets=sockets):
                adapter.receive_fetch_response(rid, [from_wire_socket(namespace, s) for s in sockets])
            case ServerSideEmitResponse(request_id=rid, data=data):
                adapter.receive_server_side_response(rid, data)
            case ClientCountResponse(request_id=rid, client_count=count):
                adapter.receive_client_count(rid, count)
            case BroadcastAckResponse(request_id=rid, data=data):
                adapter.receive_broadcast_ack(rid, data)
            case _:
                pass  # answers to requests this node does not send (SOCKETS, ALL_ROOMS, legacy)


def _json_safe(data: Any) -> bool:
    """Whether ``data`` can travel in a JSON answer."""
    try:
        dumps(data)
    except (TypeError, ValueError):
        return False
    return True
