"""Golden vectors: every payload Node's adapters were seen to publish decodes, and re-encodes to the
very same bytes; the channel the codec picks is the one Node published on."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from aiosio.protocol import cluster as c

from .captured import CAPTURED, EMITTED

CLASSIC = [v for v in CAPTURED if v[1] == "PUBLISH"]
SHARDED = [v for v in CAPTURED if v[1] == "SPUBLISH"]


def _id(v: tuple[str, str, str, str, bytes]) -> str:
    return f"{v[0]}:{v[2]}:{v[4][:40]!r}"


def _nsp_of(channel: str) -> str:
    return "/admin" if "#/admin#" in channel else "/"


@pytest.mark.parametrize("vector", CLASSIC, ids=[_id(v) for v in CLASSIC])
def test_classic_payload_reencodes_byte_for_byte(vector: tuple[str, str, str, str, bytes]) -> None:
    _, _, channel, kind, payload = vector
    assert (payload[:1] == b"{") == (kind == "JSON")
    nsp = _nsp_of(channel)
    if channel.startswith("socket.io-request#"):
        request = c.decode_request(payload)
        assert c.encode_request(request) == payload
        assert channel == c.ClassicChannels("socket.io", nsp, "x").request
    elif channel.startswith("socket.io-response#"):
        response = c.decode_response(payload)
        assert c.encode_response(response) == payload
        assert channel == c.ClassicChannels("socket.io", nsp, "x").response
    else:
        uid, packet, opts = c.decode_broadcast(payload)
        assert packet.nsp == nsp
        assert c.encode_broadcast(uid, packet, opts) == payload
        channels = c.ClassicChannels("socket.io", packet.nsp, uid)
        assert channels.channel_for_broadcast(opts) == channel
        assert channels.room_of(channel) == (opts.rooms[0] if len(opts.rooms) == 1 else "")


@pytest.mark.parametrize("vector", SHARDED, ids=[_id(v) for v in SHARDED])
def test_sharded_payload_reencodes_byte_for_byte(vector: tuple[str, str, str, str, bytes]) -> None:
    _, _, channel, kind, payload = vector
    message = c.decode_cluster(payload)
    assert c.encode_cluster(message) == payload
    assert (payload[:1] == b"{") == (kind == "JSON")
    channels = c.ShardedChannels("socket.io", message.nsp, message.uid)
    if message.type in c.CLUSTER_RESPONSE_TYPES:
        requester = channel[len(channels.main) : -1]
        assert channel == channels.response_for(requester)
        assert channel == c.ShardedChannels("socket.io", message.nsp, requester).own
    else:
        assert channels.channel_for(message, "dynamic") == channel


@pytest.mark.parametrize("vector", EMITTED, ids=[repr(v[1][:40]) for v in EMITTED])
def test_emitter_payload_reencodes_byte_for_byte(vector: tuple[str, bytes]) -> None:
    channel, payload = vector
    if channel.startswith("socket.io-request#"):
        request = c.decode_request(payload)
        assert request.uid in (None, c.EMITTER_UID)
        assert c.encode_request(request) == payload
        return
    uid, packet, opts = c.decode_broadcast(payload)
    assert uid == c.EMITTER_UID
    assert c.encode_broadcast(uid, packet, opts, emitter=True) == payload
    # The adapter's own order is rooms, except, flags: a different byte string for the same message.
    assert c.encode_broadcast(uid, packet, opts) != payload
    assert c.decode_broadcast(c.encode_broadcast(uid, packet, opts)) == (uid, packet, opts)
    assert c.ClassicChannels("socket.io", packet.nsp, uid).channel_for_broadcast(opts) == channel


def test_every_message_kind_of_the_spec_is_covered() -> None:
    requests = {type(c.decode_request(v[4])) for v in CLASSIC if v[2].startswith("socket.io-request#")}
    responses = {type(c.decode_response(v[4])) for v in CLASSIC if v[2].startswith("socket.io-response#")}
    cluster = {type(c.decode_cluster(v[4])) for v in SHARDED}
    assert requests >= {
        c.AllRoomsRequest,
        c.RemoteJoinRequest,
        c.RemoteLeaveRequest,
        c.RemoteDisconnectRequest,
        c.RemoteFetchRequest,
        c.ServerSideEmitRequest,
        c.BroadcastRequest,
    }
    assert responses == {
        c.AllRoomsResponse,
        c.FetchResponse,
        c.ServerSideEmitResponse,
        c.ClientCountResponse,
        c.BroadcastAckResponse,
    }
    assert cluster == {
        c.ClusterBroadcast,
        c.ClusterSocketsJoin,
        c.ClusterSocketsLeave,
        c.ClusterDisconnectSockets,
        c.ClusterFetchSockets,
        c.ClusterFetchSocketsResponse,
        c.ClusterServerSideEmit,
        c.ClusterServerSideEmitResponse,
        c.ClusterBroadcastClientCount,
        c.ClusterBroadcastAck,
    }


def test_classic_broadcasts_decode_to_nodes_values() -> None:
    decoded = [c.decode_broadcast(v[4]) for v in CLASSIC if v[2].startswith("socket.io#")]
    room1, everyone, except1, two, volatile, binary = decoded[:6]
    assert room1 == (
        "LGuaOj",
        c.WirePacket("/", ["hello", "world", {"n": 1, "f": 1.5, "nil": None, "s": "é"}]),
        c.WireOpts(("room1",)),
    )
    assert everyone[1:] == (c.WirePacket("/", ["all", 42]), c.WireOpts())
    assert except1[2] == c.WireOpts((), ("room1",))
    assert two[2].rooms == ("room1", "room2")
    assert volatile[2].flags == {"volatile": True, "compress": False}
    assert binary[1].data == ["bin", b"\x01\x02\x03", {"nested": b"hi", "k": "v"}]
    admin = [d for d in decoded if d[1].nsp == "/admin"]
    assert admin == [("KpS17X", c.WirePacket("/admin", ["adm", 1]), c.WireOpts())]
    direct = [d for d in decoded if d[2].flags == {"expectSingleResponse": True}]
    assert direct[0][2].rooms == ("E3BeWrm8E497DhdZAAAA",)


def test_classic_requests_and_responses_decode_to_nodes_values() -> None:
    ack = c.decode_request(next(v[4] for v in CLASSIC if v[4][:1] == b"\x85"))
    assert ack == c.BroadcastRequest(
        "LGuaOj", "Bz6vL8", c.WirePacket("/", ["ping-ack", "q"]), c.WireOpts(flags={"timeout": 1000})
    )
    fetch = c.decode_response(next(v[4] for v in CLASSIC if b'"i-p5oa","sockets"' in v[4]))
    assert isinstance(fetch, c.FetchResponse)
    (socket,) = fetch.sockets
    assert socket.id == "E3BeWrm8E497DhdZAAAA"
    assert socket.rooms == ("E3BeWrm8E497DhdZAAAA", "room1")
    assert socket.data == {"node": "B", "n": 1}
    assert socket.handshake["time"] == c.js_date_string(socket.handshake["issued"] / 1000)
    assert c.decode_response(b'{"requestId":"1L8wFK","sockets":[]}') == c.FetchResponse("1L8wFK", ())
    assert c.decode_response(next(v[4] for v in CLASSIC if v[4][:1] == b"\x83")) == c.BroadcastAckResponse(
        "Bz6vL8", {"client": "c2", "ev": "ping-ack"}
    )


def test_sharded_broadcast_packet_has_no_nsp_on_the_wire() -> None:
    payload = next(v[4] for v in SHARDED if v[4][:1] != b"{")  # the binary broadcast, msgpack
    message = c.decode_cluster(payload)
    assert isinstance(message, c.ClusterBroadcast)
    assert message.packet == c.WirePacket("/", ["bin", b"\x01\x02\x03", {"nested": b"hi", "k": "v"}])
    assert b"nsp" not in payload.split(b"opts")[0]
    # The same message without bytes goes as JSON.
    text = c.encode_cluster(c.ClusterBroadcast(message.uid, "/", c.WirePacket("/", ["bin", 1]), message.opts))
    assert text == (
        b'{"type":3,"data":{"packet":{"type":2,"data":["bin",1]},"opts":{"rooms":[],"except":[],'
        b'"flags":{}}},"uid":"ee140215db15dd2a","nsp":"/"}'
    )


# -- notepack.io 3.0.1 and JSON.stringify, run in Node (values in the comments) ------------------------


def test_pack_writes_numbers_as_notepack_does() -> None:
    # notepack.encode([1.0, -0, 1.5, 255, 256, -33, 2**40, -(2**40), NaN, Infinity])
    node = (
        "9a0100cb3ff8000000000000ccffcd0100d0dfcf0000010000000000"
        "d3ffffff0000000000cb7ff8000000000000cb7ff0000000000000"
    )
    values = [1.0, -0.0, 1.5, 255, 256.0, -33, float(2**40), -float(2**40), math.nan, math.inf]
    assert c.pack(values).hex() == node


@pytest.mark.parametrize(
    ("ms", "node"),
    [
        (1796114071000, "d6ff6b0e8697"),  # new Date(1796114071000): timestamp 32
        (1796114071434, "d7ff677942006b0e8697"),  # with milliseconds: timestamp 64
        (-1500, "c70cff1dcd6500fffffffffffffffe"),  # before 1970: timestamp 96
    ],
)
def test_pack_writes_dates_as_notepack_does(ms: int, node: str) -> None:
    when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
    assert c.pack(when).hex() == node
    assert c.unpack(bytes.fromhex(node)) == when


def test_dumps_writes_what_json_stringify_writes() -> None:
    # JSON.stringify([1.0, -0, 1.5, 255, 2**40, NaN, Buffer.from([7, 8]), new Date(1796114071434)])
    node = b'[1,0,1.5,255,1099511627776,null,{"type":"Buffer","data":[7,8]},"2026-12-01T08:34:31.434Z"]'
    when = dt.datetime(2026, 12, 1, 8, 34, 31, 434000, tzinfo=dt.UTC)
    assert c.dumps([1.0, -0.0, 1.5, 255, float(2**40), math.nan, b"\x07\x08", when]) == node
