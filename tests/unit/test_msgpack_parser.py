"""The socket.io-msgpack-parser compatible parser (msgpack_parser.py)."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosio.protocol import msgpack_parser
from aiosio.protocol.errors import ParseError
from aiosio.protocol.socketio import RESERVED_EVENTS, Packet, PacketType

from ._strategies import (
    FUZZ,
    PROPERTY,
    ack_ids,
    event_names,
    json_values_with_binary,
    keys,
    namespaces,
    normalized,
    text,
)

decode = msgpack_parser.decode
encode = msgpack_parser.encode


def packed(obj):
    return msgpack.packb(obj, use_bin_type=True)


def event_with(data_bytes: bytes) -> bytes:
    """``{"type": 2, "nsp": "/", "data": <data_bytes>}`` with raw msgpack for the data."""
    return b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data" + data_bytes


# --- known vectors -----------------------------------------------------------------------------------


def test_encode_is_a_map_of_type_nsp_data_and_id():
    packet = Packet(PacketType.EVENT, "/admin", ["project:delete", 123], 456)
    assert msgpack.unpackb(encode(packet)) == {
        "type": 2,
        "nsp": "/admin",
        "data": ["project:delete", 123],
        "id": 456,
    }
    assert decode(encode(packet)) == packet


def test_encode_leaves_out_absent_data_and_id():
    assert msgpack.unpackb(encode(Packet(PacketType.CONNECT))) == {"type": 0, "nsp": "/"}
    assert msgpack.unpackb(encode(Packet(PacketType.DISCONNECT, "/admin"))) == {"type": 1, "nsp": "/admin"}


def test_bytes_travel_inline_as_bin():
    wire = encode(Packet(PacketType.EVENT, "/", ["hello", b"\x01\x02\x03"]))
    assert b"\xc4\x03\x01\x02\x03" in wire  # bin 8, length 3
    assert decode(wire).data == ["hello", b"\x01\x02\x03"]


def test_binary_packet_types_go_out_as_event_and_ack():
    # socket.io-msgpack-parser only knows types 0-4 and refuses 5 and 6.
    assert msgpack.unpackb(encode(Packet(PacketType.BINARY_EVENT, "/", ["x", b"1"])))["type"] == 2
    assert msgpack.unpackb(encode(Packet(PacketType.BINARY_ACK, "/", [b"1"], 7)))["type"] == 3


def test_binary_packet_types_from_a_peer_are_read_as_event_and_ack():
    assert decode(packed({"type": 5, "nsp": "/", "data": ["x", b"1"]})).type is PacketType.EVENT
    assert decode(packed({"type": 6, "nsp": "/", "data": [b"1"], "id": 1})).type is PacketType.ACK


# Bytes written by socket.io-msgpack-parser 3.0.2 (notepack.io) from Node.js.
NODE_CONNECT_WITHOUT_AUTH = bytes.fromhex("83a47479706500a464617461d40000a36e7370a12f")
NODE_EVENT_WITH_BUFFER_AND_OPTIONS = bytes.fromhex(
    "84a47479706502a46461746192a178c4020102a36e7370a12fa76f7074696f6e7381a8636f6d7072657373c3"
)
NODE_EVENT_WITH_UNDEFINED_ARG = bytes.fromhex("83a47479706502a46461746192a178d40000a36e7370a12f")
NODE_EVENT_WITH_DATE = bytes.fromhex("83a47479706502a46461746192a178d7000000000000000000a36e7370a12f")
NODE_EVENT_WITH_UINT8ARRAY = bytes.fromhex("83a47479706502a46461746192a178c702000102a36e7370a12f")


def test_node_client_connect_without_auth_is_accepted():
    # The JS client sends {type: 0, data: undefined, nsp: "/"}; notepack.io writes undefined as d4 00 00.
    assert decode(NODE_CONNECT_WITHOUT_AUTH) == Packet(PacketType.CONNECT, "/")


def test_node_client_event_with_buffer_and_extra_options_key():
    assert decode(NODE_EVENT_WITH_BUFFER_AND_OPTIONS) == Packet(PacketType.EVENT, "/", ["x", b"\x01\x02"])


def test_node_undefined_argument_decodes_as_none():
    assert decode(NODE_EVENT_WITH_UNDEFINED_ARG) == Packet(PacketType.EVENT, "/", ["x", None])


def test_missing_namespace_defaults_to_root():
    assert decode(packed({"type": 2, "data": ["x"]})).namespace == "/"


def test_integer_map_keys_inside_data_are_kept():
    assert decode(packed({"type": 2, "nsp": "/", "data": ["x", {1: "a"}]})).data == ["x", {1: "a"}]


# --- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ext",
    [
        msgpack.ExtType(5, b"ab"),
        msgpack.ExtType(5, b""),
        msgpack.ExtType(5, b"\x00"),
        msgpack.ExtType(0, b"\x01"),  # type 0 but not notepack's undefined
        msgpack.ExtType(0, b"\x00\x01"),  # notepack.io ArrayBuffer / typed array
        msgpack.ExtType(127, b"x" * 300),
        msgpack.Timestamp(0),  # type -1, decoded by msgpack itself unless refused
        msgpack.Timestamp(2**34),
        msgpack.Timestamp(2**40, 5),
    ],
    ids=repr,
)
def test_msgpack_extension_types_are_refused(ext):
    with pytest.raises(ParseError):
        decode(packed({"type": 2, "nsp": "/", "data": ["x", {"k": [ext]}]}))


@pytest.mark.parametrize("raw", [b"\xd4\xff\x00", b"\xc7\x00\xff", b"\xc7\x00\x05", b"\xd5\xff\x00\x00"])
def test_raw_extension_encodings_are_refused(raw):
    with pytest.raises(ParseError):
        decode(event_with(b"\x92\xa1x" + raw))


@pytest.mark.parametrize(
    "raw", [NODE_EVENT_WITH_DATE, NODE_EVENT_WITH_UINT8ARRAY], ids=["Date", "Uint8Array"]
)
def test_node_extension_values_other_than_undefined_are_refused(raw):
    # notepack.io writes Date and typed arrays as extension type 0; only Buffer travels as bin.
    with pytest.raises(ParseError):
        decode(raw)


@pytest.mark.parametrize("obj", [[2, "/", ["x"]], "x", None, 2, b"\x82", True])
def test_packet_that_is_not_a_map_is_refused(obj):
    with pytest.raises(ParseError, match="not a map"):
        decode(packed(obj))


@pytest.mark.parametrize("ptype", [None, "2", 2.0, True, False, -1, 7, 2**64 - 1, b"\x02", [2]])
def test_bad_packet_type_is_refused(ptype):
    obj = {"nsp": "/", "data": ["x"]}
    if ptype is not None:
        obj["type"] = ptype
    with pytest.raises(ParseError, match="type"):
        decode(packed(obj))


@pytest.mark.parametrize("nsp", [None, 1, b"/", ["/"], {"/": 1}, True])
def test_namespace_that_is_not_a_string_is_refused(nsp):
    with pytest.raises(ParseError, match="namespace"):
        decode(packed({"type": 2, "nsp": nsp, "data": ["x"]}))


@pytest.mark.parametrize("nsp", ["", "admin", " /admin"])
def test_namespace_without_leading_slash_is_refused(nsp):
    with pytest.raises(ParseError):
        decode(packed({"type": 2, "nsp": nsp, "data": ["x"]}))


@pytest.mark.parametrize("ack_id", [-1, 2**53, 2**64 - 1, -(2**63), 1.0, "1", True, b"1", [1]])
def test_bad_ack_id_is_refused(ack_id):
    with pytest.raises(ParseError, match="ack id"):
        decode(packed({"type": 3, "nsp": "/", "data": [], "id": ack_id}))


def test_ack_id_bounds_are_accepted():
    for ack_id in (0, 2**53 - 1):
        assert decode(packed({"type": 3, "nsp": "/", "data": [], "id": ack_id})).id == ack_id


@pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
def test_reserved_event_name_is_refused(name):
    with pytest.raises(ParseError):
        decode(packed({"type": 2, "nsp": "/", "data": [name]}))


@pytest.mark.parametrize("data", [[], [1], [None], [b"x"], [["x"]], "x", {"a": 1}, None])
def test_event_without_a_string_name_is_refused(data):
    with pytest.raises(ParseError):
        decode(packed({"type": 2, "nsp": "/", "data": data}))


@pytest.mark.parametrize(
    "obj",
    [
        {"type": 0, "nsp": "/", "data": ["token"]},
        {"type": 1, "nsp": "/", "data": {}},
        {"type": 3, "nsp": "/", "data": []},  # ACK without id
        {"type": 3, "nsp": "/", "data": {}, "id": 1},
        {"type": 4, "nsp": "/", "data": 1},
        {"type": 4, "nsp": "/"},
    ],
)
def test_payload_of_the_wrong_shape_is_refused(obj):
    with pytest.raises(ParseError):
        decode(packed(obj))


def test_text_message_is_refused():
    with pytest.raises(ParseError, match="text"):
        decode('2["x"]')


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xc1",
        b"\x83\xa4type",
        b"\xdd\xff\xff\xff\xff",
        b"\xdb\xff\xff\xff\xff",
        b"\x81\xa1a\xa2\xff\xfe",
    ],
    ids=["empty", "never-used-byte", "truncated", "huge-array-length", "huge-str-length", "invalid-utf8-str"],
)
def test_malformed_msgpack_is_refused(raw):
    with pytest.raises(ParseError):
        decode(raw)


def test_trailing_bytes_after_the_packet_are_refused():
    with pytest.raises(ParseError):
        decode(packed({"type": 2, "nsp": "/", "data": ["x"]}) + b"\x00")


def test_unhashable_map_key_is_refused():
    # strict_map_key=False lets any key through; an array or map key cannot be a dict key.
    with pytest.raises(ParseError):
        decode(event_with(b"\x92\xa1x\x81\x91\x01\x02"))
    with pytest.raises(ParseError):
        decode(event_with(b"\x92\xa1x\x81\x80\x02"))


def test_nesting_of_1023_levels_is_accepted():
    # The event list, 1021 lists and the innermost empty one: 1023 levels (the packet map is one more).
    packet = decode(event_with(b"\x92\xa1x" + b"\x91" * 1021 + b"\x90"))
    assert packet.data[0] == "x"


@pytest.mark.parametrize("depth", [1022, 1025, 5000, 1_000_000])
def test_nesting_deeper_than_1023_is_refused_without_recursion_error(depth):
    with pytest.raises(ParseError):
        decode(event_with(b"\x92\xa1x" + b"\x91" * depth + b"\x90"))
    with pytest.raises(ParseError):
        decode(event_with(b"\x92\xa1x" + b"\x81\xa1k" * depth + b"\x80"))


# --- properties --------------------------------------------------------------------------------------

msgpack_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(),
    text,
    st.binary(max_size=8),
)
msgpack_values = st.recursive(
    msgpack_scalars,
    lambda c: (
        st.lists(c, max_size=4)
        | st.dictionaries(st.text(max_size=4) | st.integers(-(2**63), 2**64 - 1), c, max_size=4)
    ),
    max_leaves=12,
)
packet_like_maps = st.dictionaries(
    st.sampled_from(["type", "nsp", "data", "id", "options"]) | msgpack_scalars.filter(lambda v: v == v),
    msgpack_values | st.integers(min_value=-2, max_value=8) | st.sampled_from(["/", "/admin", "connect"]),
    max_size=5,
)


@FUZZ
@given(st.binary(max_size=64))
def test_decode_of_arbitrary_bytes_only_raises_parse_error(raw):
    try:
        packet = decode(raw)
    except ParseError:
        return
    assert isinstance(packet, Packet)


@FUZZ
@given(packet_like_maps)
def test_decode_of_arbitrary_maps_only_raises_parse_error(obj):
    try:
        raw = packed(obj)
    except (TypeError, ValueError):
        return
    try:
        packet = decode(raw)
    except ParseError:
        return
    assert packet.namespace.startswith("/")
    assert packet.type not in (PacketType.BINARY_EVENT, PacketType.BINARY_ACK)


@FUZZ
@given(st.text(max_size=20))
def test_decode_of_text_only_raises_parse_error(text):
    with pytest.raises(ParseError):
        decode(text)


msgpack_packets = st.one_of(
    st.builds(
        lambda ns, name, args, ack: Packet(PacketType.EVENT, ns, [name, *args], ack),
        namespaces,
        event_names,
        st.lists(json_values_with_binary, max_size=4),
        st.none() | ack_ids,
    ),
    st.builds(
        lambda ns, args, ack: Packet(PacketType.ACK, ns, args, ack),
        namespaces,
        st.lists(json_values_with_binary, max_size=4),
        ack_ids,
    ),
    st.builds(
        lambda ns, auth: Packet(PacketType.CONNECT, ns, auth),
        namespaces,
        st.none() | st.dictionaries(keys, json_values_with_binary, max_size=4),
    ),
    st.builds(lambda ns: Packet(PacketType.DISCONNECT, ns), namespaces),
    st.builds(
        lambda ns, data: Packet(PacketType.CONNECT_ERROR, ns, data),
        namespaces,
        text | st.dictionaries(keys, json_values_with_binary, max_size=4),
    ),
)


@PROPERTY
@given(msgpack_packets)
def test_encode_then_decode_round_trips(packet):
    result = decode(encode(packet))
    assert result == Packet(packet.type, packet.namespace, normalized(packet.data), packet.id)
