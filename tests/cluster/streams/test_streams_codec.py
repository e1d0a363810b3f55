"""The Redis Streams wire (protocol/cluster/_streams.py) against what @socket.io/redis-streams-adapter
0.3.1 wrote in the captures (/work/shared/cluster-captures/streams.txt and csr-streams.txt, copied
here as vectors): stream entries, base64-msgpack binary data, pub/sub payloads, session values,
stream-name hashing, the replay rule, and hostile input."""

from __future__ import annotations

import base64

import pytest

from aiosio.protocol.cluster import (
    ClusterBroadcast,
    ClusterBroadcastAck,
    ClusterBroadcastClientCount,
    ClusterDisconnectSockets,
    ClusterFetchSockets,
    ClusterFetchSocketsResponse,
    ClusterHeartbeat,
    ClusterMessageError,
    ClusterServerSideEmit,
    ClusterSocketsJoin,
    ClusterSocketsLeave,
    WireOpts,
    WirePacket,
    WireSession,
    decode_entry,
    decode_ephemeral,
    decode_session,
    encode_entry,
    encode_ephemeral,
    encode_session,
    is_ephemeral,
    is_stream_id,
    java_hash_code,
    next_offset,
    replayable,
    stream_name,
    stream_names,
)

A = "8748c8fcb0b01d92"
B = "cdbfabd827098159"
NO_OPTS = WireOpts((), (), {})


def entry(message: object) -> dict[bytes, bytes]:
    fields = encode_entry(message)  # type: ignore[arg-type]
    return dict(fields)


def test_broadcast_entry_is_byte_exact() -> None:
    message = ClusterBroadcast(
        A,
        "/",
        WirePacket("/", ["hello", "world", {"n": 1, "f": 1.5, "nil": None, "s": "é"}]),
        WireOpts(("room1",), (), {}),
    )
    fields = encode_entry(message)
    assert [k for k, _ in fields] == [b"uid", b"nsp", b"type", b"data"]
    assert fields == [
        (b"uid", A.encode()),
        (b"nsp", b"/"),
        (b"type", b"3"),
        (
            b"data",
            '{"packet":{"type":2,"data":["hello","world",{"n":1,"f":1.5,"nil":null,"s":"é"}]},'
            '"opts":{"rooms":["room1"],"except":[],"flags":{}}}'.encode(),
        ),
    ]
    assert decode_entry(dict(fields)) == message


def test_binary_broadcast_is_base64_msgpack_byte_exact() -> None:
    captured = (
        b"gqZwYWNrZXSCpHR5cGUCpGRhdGGTo2JpbsQDAQIDgqZuZXN0ZWTE"
        b"AmhpoWuhdqRvcHRzg6Vyb29tc5CmZXhjZXB0kKVmbGFnc4A="
    )
    message = ClusterBroadcast(
        A, "/", WirePacket("/", ["bin", b"\x01\x02\x03", {"nested": b"hi", "k": "v"}]), NO_OPTS
    )
    assert entry(message)[b"data"] == captured
    assert decode_entry({"uid": A, "nsp": "/", "type": "3", "data": captured.decode()}) == message
    # onlyPlaintext: JSON, Buffer.toJSON() for the bytes
    plain = dict(encode_entry(message, only_plaintext=True))[b"data"]
    assert plain.startswith(b'{"packet":{"type":2,"data":["bin",{"type":"Buffer","data":[1,2,3]}')


def test_csr_capture_entries() -> None:
    missedbin = b"gqZwYWNrZXSCpHR5cGUCpGRhdGGSqW1pc3NlZGJpbsQCCQmkb3B0c4Olcm9vbXOQpmV4Y2VwdJClZmxhZ3OA"
    message = ClusterBroadcast(A, "/", WirePacket("/", ["missedbin", b"\t\t"]), NO_OPTS)
    assert entry(message)[b"data"] == missedbin
    direct = ClusterBroadcast(
        A,
        "/",
        WirePacket("/", ["direct", "to-you"]),
        WireOpts(("7DfAYFei0k7_R-mQAAAA",), (), {"expectSingleResponse": True}),
    )
    assert entry(direct)[b"data"] == (
        b'{"packet":{"type":2,"data":["direct","to-you"]},"opts":{"rooms":["7DfAYFei0k7_R-mQAAAA"],'
        b'"except":[],"flags":{"expectSingleResponse":true}}}'
    )


def test_join_leave_disconnect_entries() -> None:
    opts = WireOpts(("7DfAYFei0k7_R-mQAAAA",), (), {})
    data = b'{"opts":{"rooms":["7DfAYFei0k7_R-mQAAAA"],"except":[],"flags":{}},"rooms":["room2"]}'
    join = ClusterSocketsJoin(A, "/", opts, ("room2",))
    leave = ClusterSocketsLeave(A, "/", opts, ("room2",))
    assert entry(join) == {b"uid": A.encode(), b"nsp": b"/", b"type": b"4", b"data": data}
    assert entry(leave)[b"type"] == b"5" and entry(leave)[b"data"] == data
    close = ClusterDisconnectSockets(A, "/", WireOpts(("room1",), (), {}), True)
    assert entry(close)[b"data"] == b'{"opts":{"rooms":["room1"],"except":[],"flags":{}},"close":true}'
    for message in (join, leave, close):
        assert decode_entry(entry(message)) == message
        assert not is_ephemeral(message)


EPHEMERAL = [
    (
        ClusterBroadcast(
            A,
            "/",
            WirePacket("/", ["ping-ack", "q"]),
            WireOpts((), (), {"timeout": 1000}),
            "ef1aae35e8e7b8b0",
        ),
        "84a47479706503a46461746183a67061636b657482a47479706502a46461746192a870696e672d61636ba171"
        "a9726571756573744964b065663161616533356538653762386230a46f70747383a5726f6f6d7390a6657863"
        "65707490a5666c61677381a774696d656f7574cd03e8a3756964b038373438633866636230623031643932a3"
        "6e7370a12f",
    ),
    (
        ClusterBroadcastClientCount(B, "/", "ef1aae35e8e7b8b0", 1),
        "84a4747970650ba46461746182a9726571756573744964b065663161616533356538653762386230ab636c69"
        "656e74436f756e7401a3756964b063646266616264383237303938313539a36e7370a12f",
    ),
    (
        ClusterBroadcastAck(B, "/", "ef1aae35e8e7b8b0", {"client": "c2", "ev": "ping-ack"}),
        "84a4747970650ca46461746182a9726571756573744964b065663161616533356538653762386230a6706163"
        "6b657482a6636c69656e74a26332a26576a870696e672d61636ba3756964b0636462666162643832373039"
        "38313539a36e7370a12f",
    ),
    (
        ClusterFetchSockets(A, "/", NO_OPTS, "29e8e806f253d0a8"),
        "84a47479706507a46461746182a46f70747383a5726f6f6d7390a665786365707490a5666c61677380a97265"
        "71756573744964b032396538653830366632353364306138a3756964b038373438633866636230623031643932"
        "a36e7370a12f",
    ),
    (
        ClusterServerSideEmit(A, "/", ["hello-servers", "x", 1]),
        "84a47479706509a46461746181a67061636b657493ad68656c6c6f2d73657276657273a17801a3756964b038"
        "373438633866636230623031643932a36e7370a12f",
    ),
    (
        ClusterFetchSocketsResponse(B, "/", "81e622f7f583d76f", ()),
        "84a47479706508a46461746182a9726571756573744964b038316536323266376635383364373666a7736f63"
        "6b65747390a3756964b063646266616264383237303938313539a36e7370a12f",
    ),
]


@pytest.mark.parametrize(("message", "hexed"), EPHEMERAL, ids=lambda v: type(v).__name__)
def test_pubsub_payloads_are_byte_exact(message: object, hexed: str) -> None:
    assert encode_ephemeral(message).hex() == hexed  # type: ignore[arg-type]
    assert decode_ephemeral(bytes.fromhex(hexed)) == message


def test_ephemeral_rule() -> None:
    ack = EPHEMERAL[0][0]
    assert is_ephemeral(ack)  # type: ignore[arg-type]
    assert is_ephemeral(ClusterServerSideEmit(A, "/", ["x"]))
    assert not is_ephemeral(ClusterBroadcast(A, "/", WirePacket("/", ["x"]), NO_OPTS))


def test_session_value_is_byte_exact_both_ways() -> None:
    captured = (
        b"hKNzaWS0WHpsY1Z0LUw1cXlMZHNlZ0FBQUGjcGlktHJUTmxGWEN5S3FvSzZTMktBQUFCpXJvb21zkrRYemxjVnQtTDVxeUxk"
        b"c2VnQUFBQaJyMaRkYXRhgqRub2RloUGhbgE="
    )
    session = WireSession(
        "XzlcVt-L5qyLdsegAAAA",
        "rTNlFXCyKqoK6S2KAAAB",
        ("XzlcVt-L5qyLdsegAAAA", "r1"),
        {"node": "A", "n": 1},
    )
    assert encode_session(session) == captured
    assert decode_session(captured) == session
    assert decode_session(captured.decode()) == session


def test_java_hash_code_and_stream_names_match_node() -> None:
    # Values printed by the adapter's own util.hashCode (node_modules, 0.3.1).
    expected = {
        "/": (47, 2, 5),
        "/admin": (1438238848, 1, 4),
        "/ns-ö": (46794653, 2, 3),
        "/😀": (1818066, 0, 5),  # a surrogate pair: two UTF-16 code units
        "/orders/2024": (-42023333, -2, -2),  # negative: JavaScript's % keeps the sign
        "": (0, 0, 0),
    }
    for nsp, (h, mod3, mod7) in expected.items():
        assert java_hash_code(nsp) == h
        assert stream_name(nsp, "socket.io", 3) == f"socket.io-{mod3}"
        assert stream_name(nsp, "socket.io", 7) == f"socket.io-{mod7}"
    assert stream_name("/orders/2024", "s", 3) == "s--2"
    assert stream_name("/anything", "s", 1) == "s"
    assert stream_names("s", 3) == ["s-0", "s-1", "s-2"] and stream_names("s") == ["s"]
    with pytest.raises(ValueError):
        stream_name("/", "s", 0)


def test_replay_rule_skips_acked_and_volatile_and_follows_rooms() -> None:
    rooms = ("XzlcVt-L5qyLdsegAAAA", "r1")

    def bc(data: list[object], opts: WireOpts, ack: int | None = None) -> ClusterBroadcast:
        return ClusterBroadcast(A, "/", WirePacket("/", data, ack), opts)

    assert replayable(bc(["missed1", 2], NO_OPTS), "/", rooms) == ["missed1", 2]
    assert replayable(bc(["missed2", 3], WireOpts(("r1",), (), {})), "/", rooms) == ["missed2", 3]
    assert replayable(bc(["notforyou", 4], WireOpts((), ("r1",), {})), "/", rooms) is None
    assert replayable(bc(["missedvol", 5], WireOpts((), (), {"volatile": True})), "/", rooms) is None
    acked = bc(["withack", "x"], WireOpts((rooms[0],), (), {"timeout": 1000}), ack=0)
    assert replayable(acked, "/", rooms) is None  # Node 0.3.1 replays it (defect 1)
    assert replayable(bc(["other"], WireOpts(("r2",), (), {})), "/", rooms) is None
    assert replayable(bc(["x"], NO_OPTS), "/admin", rooms) is None
    assert replayable(bc([7], WireOpts((7,), (), {})), "/", ("7",)) == [7]  # numeric room from Node
    withack = decode_entry(
        {
            "uid": A,
            "nsp": "/",
            "type": "3",
            "data": '{"packet":{"type":2,"data":["withack","x"],"id":0},"opts":{"rooms":'
            '["XzlcVt-L5qyLdsegAAAA"],"except":[],"flags":{"timeout":1000}}}',
        }
    )
    assert withack is not None and replayable(withack, "/", rooms) is None


def test_offsets() -> None:
    assert is_stream_id("1796114693858-0") and not is_stream_id("plainstring")
    assert not is_stream_id("1-2-3") and not is_stream_id(" 1-2") and not is_stream_id(5)
    assert not is_stream_id("1" * 40 + "-1")
    assert next_offset("1796114693858-0") == "1796114693858-1"


def test_heartbeat_entries_of_0_2_are_recognised() -> None:
    assert decode_entry({b"uid": b"x", b"nsp": b"/", b"type": b"2"}) == ClusterHeartbeat("x", "/")


@pytest.mark.parametrize(
    "fields",
    [
        {"uid": A, "nsp": "/", "type": "3", "data": "!!not base64!!"},
        {"uid": A, "nsp": "/", "type": "3", "data": base64.b64encode(b"\xc1").decode()},  # bad msgpack
        {"uid": A, "nsp": "/", "type": "3", "data": base64.b64encode(b"\x93\x01\x02\x03").decode()},
        {"uid": A, "nsp": "/", "type": "3", "data": "{not json"},
        {"uid": A, "nsp": "/", "type": "3", "data": '{"packet":{"type":2,"data":"x"},"opts":{}}'},
        {"uid": A, "nsp": "/", "type": "3", "data": '{"packet":{"type":2,"data":["x"]},"opts":{"rooms":5}}'},
        {"uid": A, "nsp": "/", "type": "x3"},
        {"uid": A, "nsp": "/", "type": "99"},
        {"uid": A, "nsp": "/", "type": "+3"},
        {"nsp": "/", "type": "3"},
        {"uid": b"\xff", "nsp": "/", "type": "4"},
        {"uid": A, "nsp": "/", "type": "3", "data": 7},
        {"uid": A, "nsp": "/", "type": "4", "data": '{"opts":{},"rooms":[{"a":1}]}'},
    ],
)
def test_hostile_entries_are_refused_with_a_clear_error(fields: dict[str, object]) -> None:
    with pytest.raises(ClusterMessageError, match=r"invalid|msgpack|JSON|json|limit"):
        decode_entry(fields)


def test_entries_without_nsp_are_skipped_and_oversized_refused() -> None:
    assert decode_entry({"uid": A, "type": "3"}) is None
    huge = '{"a":"' + "x" * 100 + '"}'
    with pytest.raises(ClusterMessageError, match="limit"):
        decode_entry({"uid": A, "nsp": "/", "type": "3", "data": huge}, max_bytes=50)


@pytest.mark.parametrize(
    "value",
    [b"@@@", base64.b64encode(b"\x01"), base64.b64encode(b"\x81\xa3sid\x01"), b"", 5],
)
def test_hostile_sessions_are_refused(value: object) -> None:
    with pytest.raises(ClusterMessageError):
        decode_session(value)  # type: ignore[arg-type]


def test_a_date_in_a_binary_entry_reaches_clients_as_nodes_text() -> None:
    """Node's msgpack timestamp (a Date in a binary broadcast) is decoded to the text Node's own
    clients get (``JSON.stringify`` of a Date: UTC, milliseconds, ``Z``), not Python's isoformat."""
    import base64
    import datetime

    import msgpack

    from aiosio.protocol.cluster import ClusterBroadcast, decode_entry

    when = datetime.datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=datetime.UTC)
    data = {
        "packet": {"type": 2, "data": ["n", b"\x01", when, {"at": [when]}]},
        "opts": {"rooms": [], "except": [], "flags": {}},
    }
    fields = {
        b"uid": b"0123456789abcdef",
        b"nsp": b"/",
        b"type": b"3",
        b"data": base64.b64encode(msgpack.packb(data, datetime=True)),
    }
    message = decode_entry(fields)
    assert isinstance(message, ClusterBroadcast)
    text = "2026-01-01T00:00:00.123Z"
    assert message.packet.data == ["n", b"\x01", text, {"at": [text]}]
