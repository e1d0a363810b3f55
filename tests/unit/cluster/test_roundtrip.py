"""Property tests: every message type survives encode -> decode unchanged, and re-encoding what was
decoded gives the same bytes (what the golden vectors check for Node's payloads, for any payload)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aiosio.protocol import cluster as c

from .._strategies import PROPERTY
from . import strategies as s


@PROPERTY
@given(s.uids, s.packets(s.text, s.binary_values), s.opts, st.booleans())
def test_classic_broadcast_round_trip(
    uid: str, packet: c.WirePacket, opts: c.WireOpts, emitter: bool
) -> None:
    payload = c.encode_broadcast(uid, packet, opts, emitter=emitter)
    assert c.decode_broadcast(payload) == (uid, packet, opts)
    assert c.encode_broadcast(*c.decode_broadcast(payload), emitter=emitter) == payload


@PROPERTY
@given(s.classic_requests)
def test_classic_request_round_trip(request: c.ClassicRequest) -> None:
    payload = c.encode_request(request)
    assert (payload[:1] != b"{") == isinstance(request, c.BroadcastRequest)
    assert c.decode_request(payload) == request
    assert c.encode_request(c.decode_request(payload)) == payload


@PROPERTY
@given(s.classic_responses)
def test_classic_response_round_trip(response: c.ClassicResponse) -> None:
    payload = c.encode_response(response)
    assert (payload[:1] != b"{") == isinstance(response, c.BroadcastAckResponse)
    assert c.decode_response(payload) == response
    assert c.encode_response(c.decode_response(payload)) == payload


@PROPERTY
@given(s.cluster_messages())
def test_cluster_message_round_trip(message: c.ClusterMessage) -> None:
    payload = c.encode_cluster(message)
    data = next((getattr(message, f) for f in ("packet", "data", "sockets") if hasattr(message, f)), None)
    binary = message.type in _MAY_CARRY_BINARY and _has_bytes(data)
    assert (payload[:1] != b"{") == binary
    assert c.decode_cluster(payload) == message
    assert c.encode_cluster(c.decode_cluster(payload)) == payload


_MAY_CARRY_BINARY = {
    c.ClusterType.BROADCAST,
    c.ClusterType.BROADCAST_ACK,
    c.ClusterType.FETCH_SOCKETS_RESPONSE,
    c.ClusterType.SERVER_SIDE_EMIT,
    c.ClusterType.SERVER_SIDE_EMIT_RESPONSE,
}


def _has_bytes(value: Any) -> bool:
    if isinstance(value, bytes):
        return True
    if isinstance(value, (c.WirePacket, c.WireSocket)):
        return _has_bytes(value.data)
    if isinstance(value, dict):
        return any(_has_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_bytes(v) for v in value)
    return False


@PROPERTY
@given(s.binary_values)
def test_msgpack_values_round_trip(value: Any) -> None:
    assert c.unpack(c.pack(value)) == value


@PROPERTY
@given(s.json_values)
def test_json_values_round_trip(value: Any) -> None:
    assert c.loads(c.dumps(value)) == value


@PROPERTY
@given(s.messy_values)
def test_what_a_sender_hands_in_encodes_once_and_for_all(value: Any) -> None:
    # Tuples, bytearray/memoryview and integral floats come back as lists, bytes and ints: encoding
    # what was decoded gives the same bytes again (both formats).
    packed = c.pack(value)
    assert c.pack(c.unpack(packed)) == packed
    text = c.dumps(value)
    assert c.dumps(c.loads(text)) == text
