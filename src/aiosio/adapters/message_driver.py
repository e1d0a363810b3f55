"""What every driver speaking Node's ``ClusterAdapter`` message model shares (the sharded Redis
adapter's wire, and the workers' hub): each :class:`~aiosio.adapters.cluster.ClusterDriver`
operation as one :mod:`aiosio.protocol.cluster` message, and each message received as the
adapter's ``receive_*`` call. A subclass says only how a message travels: :meth:`_publish` to
every other node, :meth:`_respond` to one (and, if not as :func:`encode_cluster` /
:func:`decode_cluster`, how it is written: :meth:`_encode`, :meth:`_decode`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..protocol.cluster import (
    CLUSTER_RESPONSE_TYPES,
    ClusterBroadcast,
    ClusterBroadcastAck,
    ClusterBroadcastClientCount,
    ClusterDisconnectSockets,
    ClusterFetchSockets,
    ClusterFetchSocketsResponse,
    ClusterMessage,
    ClusterMessageError,
    ClusterServerSideEmit,
    ClusterServerSideEmitResponse,
    ClusterSocketsJoin,
    ClusterSocketsLeave,
    WirePacket,
    WireSocket,
    decode_cluster,
    encode_cluster,
)
from .base import Selector, SocketInfo
from .wire import DropLog, from_wire_socket, to_opts, to_selector, to_wire_socket

if TYPE_CHECKING:
    from .cluster import ClusterAdapter


class MessageDriver:
    """The outbound operations and the inbound dispatch of a message-model driver."""

    uid: str
    logger: logging.Logger
    dropped: DropLog

    def _publish(self, message: ClusterMessage, payload: bytes) -> None:
        """Send ``message`` (encoded: ``payload``) to every other node."""
        raise NotImplementedError

    def _respond(self, origin: str, namespace: str, payload: bytes) -> None:
        """Send an encoded answer to the node ``origin``."""
        raise NotImplementedError

    def _encode(self, message: ClusterMessage) -> bytes:
        """A message as it travels (raises TypeError or ValueError for data the wire cannot carry)."""
        return encode_cluster(message)

    def _decode(self, payload: bytes) -> ClusterMessage:
        """A received message, validated (raises ClusterMessageError)."""
        return decode_cluster(payload)

    def _send(self, message: ClusterMessage) -> None:
        self._publish(message, self._encode(message))

    def _answer(self, origin: str, message: ClusterMessage) -> None:
        self._respond(origin, message.nsp, self._encode(message))

    # -- to every other node -------------------------------------------------------------------

    def broadcast(self, namespace: str, event: str, args: tuple[Any, ...], selector: Selector) -> None:
        """BROADCAST."""
        packet = WirePacket(namespace, [event, *args])
        self._send(ClusterBroadcast(self.uid, namespace, packet, to_opts(selector)))

    def broadcast_with_ack(
        self, namespace: str, event: str, args: tuple[Any, ...], selector: Selector, request_id: str
    ) -> None:
        """BROADCAST with ``requestId`` (its acks come back)."""
        packet = WirePacket(namespace, [event, *args])
        opts = to_opts(selector, ack_timeout=True)
        self._send(ClusterBroadcast(self.uid, namespace, packet, opts, request_id))

    def sockets_join(self, namespace: str, selector: Selector, rooms: list[Any]) -> None:
        """SOCKETS_JOIN (no answer)."""
        self._send(ClusterSocketsJoin(self.uid, namespace, to_opts(selector), tuple(rooms)))

    def sockets_leave(self, namespace: str, selector: Selector, rooms: list[Any]) -> None:
        """SOCKETS_LEAVE (no answer)."""
        self._send(ClusterSocketsLeave(self.uid, namespace, to_opts(selector), tuple(rooms)))

    def disconnect_sockets(self, namespace: str, selector: Selector, close: bool) -> None:
        """DISCONNECT_SOCKETS (no answer)."""
        self._send(ClusterDisconnectSockets(self.uid, namespace, to_opts(selector), close))

    def fetch_sockets(self, namespace: str, selector: Selector, request_id: str) -> None:
        """FETCH_SOCKETS (its ``timeout`` flag in ms, as Node's ``io.timeout(ms).fetchSockets()``)."""
        opts = to_opts(selector, ack_timeout=True)
        self._send(ClusterFetchSockets(self.uid, namespace, opts, request_id))

    def server_side_emit(
        self, namespace: str, event: str, args: tuple[Any, ...], request_id: str | None
    ) -> None:
        """SERVER_SIDE_EMIT (answered only with a request id)."""
        self._send(ClusterServerSideEmit(self.uid, namespace, [event, *args], request_id))

    # -- answers to one node ----------------------------------------------------------------------

    def fetch_response(self, namespace: str, origin: str, request_id: str, sockets: list[SocketInfo]) -> None:
        """FETCH_SOCKETS_RESPONSE (a socket whose data can be sent neither as JSON nor as msgpack is
        described without it, and that is logged)."""
        wire = tuple(to_wire_socket(info) for info in sockets)
        try:
            payload = self._encode(ClusterFetchSocketsResponse(self.uid, namespace, request_id, wire))
        except (TypeError, ValueError) as exc:
            self.logger.warning("fetch_sockets: socket data not serializable, sent without it: %s", exc)
            wire = tuple(WireSocket(s.id, s.handshake, s.rooms, None) for s in wire)
            payload = self._encode(ClusterFetchSocketsResponse(self.uid, namespace, request_id, wire))
        self._respond(origin, namespace, payload)

    def server_side_response(self, namespace: str, origin: str, request_id: str, data: Any) -> None:
        """SERVER_SIDE_EMIT_RESPONSE (the handler's answer)."""
        self._answer(origin, ClusterServerSideEmitResponse(self.uid, namespace, request_id, data))

    def client_count(self, namespace: str, origin: str, request_id: str, count: int) -> None:
        """BROADCAST_CLIENT_COUNT."""
        self._answer(origin, ClusterBroadcastClientCount(self.uid, namespace, request_id, count))

    def broadcast_ack(self, namespace: str, origin: str, request_id: str, data: Any) -> None:
        """BROADCAST_ACK (one client's first ack argument)."""
        self._answer(origin, ClusterBroadcastAck(self.uid, namespace, request_id, data))

    # -- what arrives ------------------------------------------------------------------------------

    def _receive_on(
        self, adapter: ClusterAdapter, channel: str, namespace: str, direct: bool, payload: bytes
    ) -> None:
        """Decode and dispatch a payload that came on ``namespace``'s channel ``channel``: one for
        another namespace is ignored, and so is this node's own request unless ``direct`` (the
        channel addressed to this node) or an answer; an invalid one is dropped and logged."""
        try:
            message = self._decode(payload)
            if message.nsp != namespace:
                return
            if direct or message.type in CLUSTER_RESPONSE_TYPES or message.uid != self.uid:
                self.dispatch(adapter, message)
        except ClusterMessageError as exc:
            self.dropped(channel, exc)
        except Exception as exc:
            self.dropped(channel, f"{type(exc).__name__}: {exc}")
            self.logger.debug("cluster message handling failed", exc_info=True)

    def dispatch(self, adapter: ClusterAdapter, message: ClusterMessage) -> None:
        """Hand a received message to the adapter (the caller dropped this node's own requests and
        other namespaces' messages). Heartbeats and ADAPTER_CLOSE are ignored: they belong to
        Node's heartbeat variant, which no driver here speaks."""
        nsp = message.nsp
        origin = message.uid
        match message:
            case ClusterBroadcast(packet=packet, opts=opts, request_id=None):
                event, *args = packet.data
                adapter.receive_broadcast(nsp, event, tuple(args), to_selector(opts))
            case ClusterBroadcast(packet=packet, opts=opts, request_id=str(rid)):
                event, *args = packet.data
                adapter.receive_broadcast_with_ack(origin, rid, nsp, event, tuple(args), to_selector(opts))
            case ClusterSocketsJoin(opts=opts, rooms=rooms):
                adapter.receive_sockets_join(nsp, to_selector(opts), rooms)
            case ClusterSocketsLeave(opts=opts, rooms=rooms):
                adapter.receive_sockets_leave(nsp, to_selector(opts), rooms)
            case ClusterDisconnectSockets(opts=opts, close=close):
                adapter.receive_disconnect_sockets(nsp, to_selector(opts), close)
            case ClusterFetchSockets(opts=opts, request_id=rid):
                adapter.receive_fetch_sockets(origin, rid, nsp, to_selector(opts))
            case ClusterServerSideEmit(data=data, request_id=rid):
                event, *args = data
                adapter.receive_server_side_emit(origin, rid, nsp, event, tuple(args))
            case ClusterFetchSocketsResponse(request_id=rid, sockets=sockets):
                infos = [from_wire_socket(nsp, s) for s in sockets]
                adapter.receive_fetch_response(rid, infos, responder=origin)
            case ClusterServerSideEmitResponse(request_id=rid, data=data):
                adapter.receive_server_side_response(rid, data, responder=origin)
            case ClusterBroadcastClientCount(request_id=rid, client_count=count):
                adapter.receive_client_count(rid, count)
            case ClusterBroadcastAck(request_id=rid, data=data):
                adapter.receive_broadcast_ack(rid, data)
            case _:
                pass
