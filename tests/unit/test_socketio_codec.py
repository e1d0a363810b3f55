"""Socket.IO v5 default parser (socketio.py): spec vectors, every refusal rule, and properties."""

from __future__ import annotations

import json as stdlib_json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosio.protocol.errors import ParseError
from aiosio.protocol.jsoncodec import JSONCodec
from aiosio.protocol.socketio import (
    DEFAULT_MAX_ATTACHMENTS,
    RESERVED_EVENTS,
    Decoder,
    Packet,
    PacketType,
    decode_header,
    encode,
    encode_event_fast,
)

from ._strategies import (
    FUZZ,
    PROPERTY,
    ack_ids,
    event_names,
    json_values,
    json_values_with_binary,
    keys,
    namespaces,
    nested_lists,
    normalized,
    text,
)

PH0 = '{"_placeholder":true,"num":0}'
PH1 = '{"_placeholder":true,"num":1}'


def ph(num):
    return {"_placeholder": True, "num": num}


def feed_all(messages, decoder=None):
    """Feed messages in order; return the packet the last one completes (None before that)."""
    decoder = decoder or Decoder()
    results = [decoder.feed(m) for m in messages]
    assert all(r is None for r in results[:-1])
    return results[-1]


# --- spec vectors (socket.io-protocol README) --------------------------------------------------------

TEXT_VECTORS = [
    ("0", Packet(PacketType.CONNECT)),
    ('0{"token":"123"}', Packet(PacketType.CONNECT, "/", {"token": "123"})),
    ('0/admin,{"token":"123"}', Packet(PacketType.CONNECT, "/admin", {"token": "123"})),
    (
        '0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}',
        Packet(PacketType.CONNECT, "/admin", {"sid": "oSO0OpakMV_3jnilAAAA"}),
    ),
    ("1", Packet(PacketType.DISCONNECT)),
    ("1/admin,", Packet(PacketType.DISCONNECT, "/admin")),
    ('2["foo"]', Packet(PacketType.EVENT, "/", ["foo"])),
    ('2["hello",1]', Packet(PacketType.EVENT, "/", ["hello", 1])),
    ('2/admin,["bar"]', Packet(PacketType.EVENT, "/admin", ["bar"])),
    ('212["foo"]', Packet(PacketType.EVENT, "/", ["foo"], 12)),
    ('2/admin,456["project:delete",123]', Packet(PacketType.EVENT, "/admin", ["project:delete", 123], 456)),
    ('3/admin,13["bar"]', Packet(PacketType.ACK, "/admin", ["bar"], 13)),
    ("3/admin,456[]", Packet(PacketType.ACK, "/admin", [], 456)),
    ('4{"message":"Not authorized"}', Packet(PacketType.CONNECT_ERROR, "/", {"message": "Not authorized"})),
    (
        '4/admin,{"message":"Not authorized"}',
        Packet(PacketType.CONNECT_ERROR, "/admin", {"message": "Not authorized"}),
    ),
    (
        '4/admin,{"message":"Not authorized","data":{"code":"E001","label":"Invalid credentials"}}',
        Packet(
            PacketType.CONNECT_ERROR,
            "/admin",
            {"message": "Not authorized", "data": {"code": "E001", "label": "Invalid credentials"}},
        ),
    ),
]


@pytest.mark.parametrize(("wire", "packet"), TEXT_VECTORS, ids=[w for w, _ in TEXT_VECTORS])
def test_decode_spec_vector(wire, packet):
    assert decode_header(wire) == packet
    assert Decoder().feed(wire) == packet


@pytest.mark.parametrize(("wire", "packet"), TEXT_VECTORS, ids=[w for w, _ in TEXT_VECTORS])
def test_encode_spec_vector(wire, packet):
    assert encode(packet) == (wire.encode(), [])


BINARY_VECTORS = [
    (
        "51-" + f'["baz",{PH0}]',
        [b"\x01\x02\x03\x04"],
        Packet(PacketType.EVENT, "/", ["baz", b"\x01\x02\x03\x04"]),
    ),
    (
        f'52-/admin,["baz",{PH0},{PH1}]',
        [b"\x01\x02", b"\x03\x04"],
        Packet(PacketType.EVENT, "/admin", ["baz", b"\x01\x02", b"\x03\x04"]),
    ),
    (f'51-["hello",{PH0}]', [b"\x01\x02\x03"], Packet(PacketType.EVENT, "/", ["hello", b"\x01\x02\x03"])),
    (
        f'51-/admin,456["project:delete",{PH0}]',
        [b"\x01\x02\x03"],
        Packet(PacketType.EVENT, "/admin", ["project:delete", b"\x01\x02\x03"], 456),
    ),
    (
        f'61-15["bar",{PH0}]',
        [b"\x01\x02\x03\x04"],
        Packet(PacketType.ACK, "/", ["bar", b"\x01\x02\x03\x04"], 15),
    ),
    (f"61-/admin,456[{PH0}]", [b"\x03\x02\x01"], Packet(PacketType.ACK, "/admin", [b"\x03\x02\x01"], 456)),
    (f"61-/admin,1[{PH0}]", [b"\xff"], Packet(PacketType.ACK, "/admin", [b"\xff"], 1)),
]


@pytest.mark.parametrize(
    ("wire", "attachments", "packet"), BINARY_VECTORS, ids=[w for w, _, _ in BINARY_VECTORS]
)
def test_decode_binary_spec_vector(wire, attachments, packet):
    decoder = Decoder()
    assert decoder.feed(wire) is None
    assert decoder.pending is not None
    assert decoder.pending.attachments == len(attachments)
    assert feed_all(attachments, decoder) == packet
    assert decoder.pending is None


@pytest.mark.parametrize(
    ("wire", "attachments", "packet"), BINARY_VECTORS, ids=[w for w, _, _ in BINARY_VECTORS]
)
def test_encode_binary_spec_vector(wire, attachments, packet):
    assert encode(packet) == (wire.encode(), attachments)


def test_decoded_binary_packet_is_reported_as_event_or_ack():
    packet = feed_all([f'51-["x",{PH0}]', b"a"])
    assert packet.type is PacketType.EVENT
    packet = feed_all([f"61-7[{PH0}]", b"a"])
    assert packet.type is PacketType.ACK


def test_decode_header_reports_pending_attachments():
    header = decode_header(f'52-/admin,["x",{PH0},{PH1}]')
    assert header.type is PacketType.BINARY_EVENT
    assert header.attachments == 2
    assert header.namespace == "/admin"


def test_pending_header_names_the_namespace_before_any_attachment_arrives():
    decoder = Decoder()
    decoder.feed(f'51-/private,["upload",{PH0}]')
    assert decoder.pending is not None
    assert decoder.pending.namespace == "/private"


def test_namespace_without_trailing_comma():
    assert decode_header("0/admin") == Packet(PacketType.CONNECT, "/admin")
    assert decode_header("1/admin") == Packet(PacketType.DISCONNECT, "/admin")


def test_ack_id_zero_and_maximum():
    assert decode_header("30[]").id == 0
    assert decode_header('39007199254740991["x"]').id == 2**53 - 1


def test_attachment_count_at_the_cap_is_accepted():
    decoder = Decoder()
    placeholders = ",".join(f'{{"_placeholder":true,"num":{i}}}' for i in range(10))
    assert decoder.feed(f'510-["x",{placeholders}]') is None
    packet = feed_all([bytes([i]) for i in range(10)], decoder)
    assert packet.data == ["x", *(bytes([i]) for i in range(10))]


def test_event_name_may_be_empty_or_unicode():
    assert decode_header('2[""]').data == [""]
    assert decode_header('2["évènement","€"]').data == ["évènement", "€"]


def test_null_payload_is_refused_for_every_type():
    # socket.io-parser refuses a present null payload for every type; None here means "absent".
    for ptype in "0123456":
        count = "1-" if ptype in "56" else ""
        with pytest.raises(ParseError):
            decode_header(f"{ptype}{count}1null")


def test_connect_error_may_be_a_plain_string():
    assert decode_header('4"Not authorized"').data == "Not authorized"


# --- refusals: digits, counts, placeholders ----------------------------------------------------------


@pytest.mark.parametrize("wire", ['2\u0663["x"]', '21\u0663["x"]', "3\u0661[]", '3/admin,\u0661\u0662["x"]'])
def test_non_ascii_digits_in_ack_id_are_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


@pytest.mark.parametrize("wire", [f'5\u0661-["x",{PH0}]', f'51\u0663-["x",{PH0}]', f"6\uff11-1[{PH0}]"])
def test_non_ascii_digits_in_attachment_count_are_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


@pytest.mark.parametrize("count", [11, 99, 10**6, 10**100])
def test_attachment_count_above_the_cap_is_refused(count):
    assert DEFAULT_MAX_ATTACHMENTS == 10
    with pytest.raises(ParseError):
        Decoder().feed(f'5{count}-["x",{PH0}]')


def test_attachment_cap_is_configurable():
    with pytest.raises(ParseError):
        Decoder(max_attachments=2).feed(f'53-["x",{PH0}]')
    assert Decoder(max_attachments=2).feed(f'52-["x",{PH0}]') is None


@pytest.mark.parametrize("wire", ['50-["x"]', "60-1[]", '500-["x"]'])
def test_attachment_count_of_zero_is_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


@pytest.mark.parametrize(
    "wire", ['5["x"]', '51["x"]', "5", "51", '5-["x"]', '5+1-["x"]', '5 1-["x"]', "6-1[]"]
)
def test_missing_or_malformed_attachment_count_is_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


@pytest.mark.parametrize(
    "placeholder",
    [
        '{"_placeholder":true,"num":-1}',
        '{"_placeholder":true,"num":1}',
        '{"_placeholder":true,"num":18446744073709551616}',
        '{"_placeholder":true,"num":0.0}',
        '{"_placeholder":true,"num":0.5}',
        '{"_placeholder":true,"num":true}',
        '{"_placeholder":true,"num":"0"}',
        '{"_placeholder":true,"num":null}',
        '{"_placeholder":true}',
        '{"_placeholder":true,"num":0,"extra":1}',
    ],
    ids=[
        "negative",
        "out-of-range",
        "huge",
        "float",
        "fraction",
        "bool",
        "string",
        "null",
        "missing",
        "extra-key",
    ],
)
def test_invalid_placeholder_is_refused_when_attachments_arrive(placeholder):
    decoder = Decoder()
    assert decoder.feed(f'51-["x",{{"k":[{placeholder}]}}]') is None
    with pytest.raises(ParseError, match="placeholder"):
        decoder.feed(b"\x01")
    assert decoder.pending is None


# --- refusals: payload shapes ------------------------------------------------------------------------


@pytest.mark.parametrize("wire", ["2[]", "2/admin,[]", "21[]", f"51-[{PH0}]"])
def test_event_without_a_name_is_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


@pytest.mark.parametrize("name", ["1", "null", "true", '{"a":1}', '["x"]', "1.5", PH0])
def test_event_name_that_is_not_a_string_is_refused(name):
    with pytest.raises(ParseError):
        decode_header(f"2[{name},1]")


@pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
def test_reserved_event_name_is_refused(name):
    with pytest.raises(ParseError):
        decode_header(f'2["{name}"]')
    with pytest.raises(ParseError):
        decode_header(f'2/admin,5["{name}",1]')
    with pytest.raises(ParseError):
        decode_header(f'51-["{name}",{PH0}]')


def test_reserved_names_include_the_lifecycle_events():
    assert {"connect", "connect_error", "disconnect", "disconnecting"} <= RESERVED_EVENTS


def test_reserved_name_check_is_exact():
    assert decode_header('2["Connect"]').data == ["Connect"]
    assert decode_header('2["connect "]').data == ["connect "]


@pytest.mark.parametrize("wire", ['2{"a":1}', '2"x"', "21", "2", "2/admin,", "25", "2null"])
def test_event_payload_that_is_not_a_list_is_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


@pytest.mark.parametrize("wire", ['3["x"]', "3[]", '3/admin,["x"]', f"61-[{PH0}]"])
def test_ack_without_id_is_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


@pytest.mark.parametrize("wire", ['31{"a":1}', '31"x"', "31", "31null"])
def test_ack_payload_that_is_not_a_list_is_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


@pytest.mark.parametrize("wire", ["0[]", '0"x"', "0null", "0/admin,[1]", "01[]"])
def test_connect_payload_that_is_not_an_object_is_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


@pytest.mark.parametrize("wire", ['1{"a":1}', "1[]", "1/admin,null", '1"x"', "1null"])
def test_disconnect_with_a_payload_is_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


@pytest.mark.parametrize("wire", ["4", "4[]", "41", "4null", "4/admin,"])
def test_connect_error_without_a_message_is_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


@pytest.mark.parametrize("wire", ["", "7", "9[]", "x", "\u0662[]", " 2[]", "-2[]"])
def test_unknown_packet_type_is_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


@pytest.mark.parametrize("wire", ['2["x"]]', '2["x"] x', "2['x']", '2["x",]', "2[undefined]"])
def test_malformed_json_is_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


def test_lone_surrogate_in_text_message_is_refused():
    with pytest.raises(ParseError):
        decode_header('2["\ud800"]')


def test_comma_inside_data_is_not_mistaken_for_the_namespace_end_when_there_is_no_namespace():
    assert decode_header('2["a,b","/c,d"]').data == ["a,b", "/c,d"]


# --- refusals: JSON limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_nan_and_infinity_are_refused(value):
    with pytest.raises(ParseError):
        decode_header(f'2["x",{value}]')
    with pytest.raises(ParseError):
        decode_header(f'0{{"token":{value}}}')


def test_nesting_of_512_levels_is_accepted():
    # The event list itself is one level.
    assert decode_header(f'2["x",{nested_lists(511)}]') is not None


@pytest.mark.parametrize("depth", [512, 1023, 5000, 200_000])
def test_nesting_deeper_than_512_is_refused_without_recursion_error(depth):
    with pytest.raises(ParseError):
        decode_header(f'2["x",{nested_lists(depth)}]')
    with pytest.raises(ParseError):
        Decoder().feed(f'51-["x",{nested_lists(depth, PH0)}]')


def test_deeply_nested_placeholder_within_the_limit_is_reconstructed():
    decoder = Decoder()
    assert decoder.feed(f'51-["x",{nested_lists(510, PH0)}]') is None
    packet = decoder.feed(b"deep")
    node = packet.data[1]
    for _ in range(509):
        node = node[0]
    assert node == [b"deep"]


@pytest.mark.parametrize(
    "wire",
    [
        '29007199254740992["x"]',
        '299999999999999999["x"]',
        "3/admin,18446744073709551616[]",
        "3" + "9" * 400 + "[]",
    ],
)
def test_ack_id_above_max_safe_integer_is_refused(wire):
    with pytest.raises(ParseError):
        decode_header(wire)


# --- refusals: message order -------------------------------------------------------------------------


def test_text_packet_while_attachments_are_pending_is_refused():
    decoder = Decoder()
    assert decoder.feed(f'52-["x",{PH0},{PH1}]') is None
    assert decoder.feed(b"first") is None
    with pytest.raises(ParseError, match="attachments"):
        decoder.feed('2["y"]')


def test_binary_message_with_no_pending_packet_is_refused():
    with pytest.raises(ParseError, match="binary"):
        Decoder().feed(b"\x01\x02")


def test_extra_attachment_after_a_completed_packet_is_refused():
    decoder = Decoder()
    decoder.feed(f'51-["x",{PH0}]')
    assert decoder.feed(b"a") is not None
    with pytest.raises(ParseError):
        decoder.feed(b"b")


def test_decoder_is_ready_for_the_next_packet_after_a_binary_one():
    decoder = Decoder()
    decoder.feed(f'51-["x",{PH0}]')
    decoder.feed(bytearray(b"a"))
    assert decoder.feed('2["y"]') == Packet(PacketType.EVENT, "/", ["y"])


def test_attachments_are_returned_as_bytes():
    packet = feed_all([f'51-["x",{PH0}]', memoryview(b"abc")])
    assert type(packet.data[1]) is bytes


# --- encoding ----------------------------------------------------------------------------------------


def test_encode_turns_event_with_bytes_into_binary_event():
    assert encode(Packet(PacketType.EVENT, "/", ["up", {"f": bytearray(b"\x00")}], 3)) == (
        b'51-3["up",{"f":{"_placeholder":true,"num":0}}]',
        [b"\x00"],
    )


def test_encode_turns_ack_with_bytes_into_binary_ack():
    assert encode(Packet(PacketType.ACK, "/x", [b"a", b"b"], 9)) == (
        f"62-/x,9[{PH0},{PH1}]".encode(),
        [b"a", b"b"],
    )


def test_encode_of_binary_event_without_bytes_sends_a_plain_event():
    # A BINARY_EVENT header needs an attachment count; without bytes it must go out as EVENT.
    assert encode(Packet(PacketType.BINARY_EVENT, "/", ["x"])) == (b'2["x"]', [])
    assert encode(Packet(PacketType.BINARY_ACK, "/", ["x"], 1)) == (b'31["x"]', [])


@pytest.mark.parametrize("ptype", [PacketType.CONNECT, PacketType.CONNECT_ERROR], ids=lambda t: t.name)
def test_encode_refuses_bytes_in_packets_that_cannot_carry_attachments(ptype):
    with pytest.raises(TypeError):
        encode(Packet(ptype, "/", {"token": b"secret"}))


def test_encode_raises_type_error_for_unserializable_data():
    with pytest.raises(TypeError):
        encode(Packet(PacketType.EVENT, "/", ["x", object()]))
    with pytest.raises(TypeError):
        encode(Packet(PacketType.EVENT, "/", ["x", b"ok", object()]))


def test_encode_escapes_record_separator():
    wire, _ = encode(Packet(PacketType.EVENT, "/", ["a\x1e", {"\x1e": "\x1e"}]))
    assert b"\x1e" not in wire
    assert decode_header(wire.decode()).data == ["a\x1e", {"\x1e": "\x1e"}]


def test_encode_event_fast_matches_the_spec():
    assert encode_event_fast("/", "hello", (1,)) == b'2["hello",1]'
    assert encode_event_fast("/admin", "bar", ()) == b'2/admin,["bar"]'


def test_encode_event_fast_declines_binary_arguments():
    assert encode_event_fast("/", "up", (b"x",)) is None
    assert encode_event_fast("/", "up", ({"a": [bytearray(b"x")]},)) is None
    assert encode_event_fast("/", "up", (object(),)) is None


def test_custom_json_module_round_trip():
    codec = JSONCodec(stdlib_json)
    wire, buffers = encode(Packet(PacketType.EVENT, "/a", ["x", {"k": b"\x01"}], 4), codec)
    decoder = Decoder(codec)
    assert decoder.feed(wire.decode()) is None
    assert decoder.feed(buffers[0]) == Packet(PacketType.EVENT, "/a", ["x", {"k": b"\x01"}], 4)


def test_custom_json_module_deep_nesting_is_a_parse_error():
    with pytest.raises(ParseError):
        Decoder(JSONCodec(stdlib_json)).feed(f'2["x",{nested_lists(100_000)}]')


# --- properties --------------------------------------------------------------------------------------

header_alphabet = st.sampled_from(
    [*'0123456-/,[]{}":.e \u0663\uff11', "true", "null", PH0, PH1, "51-", "/admin,", '"x"', "1e400", "NaN"]
)
header_texts = st.one_of(
    st.text(max_size=40),
    st.lists(header_alphabet, max_size=16).map("".join),
    st.tuples(
        st.sampled_from("0123456"),
        st.sampled_from(["", "1-", "2-", "0-", "11-"]),
        st.sampled_from(["", "/", "/admin,", "/a,b,"]),
        st.sampled_from(["", "0", "12", "9007199254740992"]),
        st.lists(header_alphabet, max_size=10).map("".join),
    ).map("".join),
)


@FUZZ
@given(header_texts)
def test_decode_header_only_raises_parse_error(wire):
    try:
        packet = decode_header(wire)
    except ParseError:
        return
    assert isinstance(packet, Packet)
    assert packet.namespace.startswith("/")
    assert packet.id is None or 0 <= packet.id <= 2**53 - 1
    assert 0 <= packet.attachments <= DEFAULT_MAX_ATTACHMENTS


@FUZZ
@given(st.lists(st.one_of(header_texts, st.binary(max_size=8)), max_size=8))
def test_decoder_feed_sequences_only_raise_parse_error(messages):
    decoder = Decoder()
    for message in messages:
        try:
            packet = decoder.feed(message)
        except ParseError:
            decoder = Decoder()  # the session would be closed; carry on with a fresh one
            continue
        if packet is not None:
            assert packet.type not in (PacketType.BINARY_EVENT, PacketType.BINARY_ACK)
            assert packet.attachments == 0


packets_with_binary = st.one_of(
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
        st.none() | st.dictionaries(keys, json_values, max_size=4),
    ),
    st.builds(lambda ns: Packet(PacketType.DISCONNECT, ns), namespaces),
    st.builds(
        lambda ns, data: Packet(PacketType.CONNECT_ERROR, ns, data),
        namespaces,
        text | st.dictionaries(keys, json_values, max_size=4),
    ),
)


@PROPERTY
@given(packets_with_binary)
def test_encode_then_decode_round_trips(packet):
    wire, buffers = encode(packet)
    # The encoder does not cap attachments (nor does socket.io-parser's); the peer's decoder does.
    decoder = Decoder(max_attachments=max(DEFAULT_MAX_ATTACHMENTS, len(buffers)))
    result = decoder.feed(wire.decode("utf-8"))
    if buffers:
        assert result is None
        assert decoder.pending is not None and decoder.pending.attachments == len(buffers)
        result = feed_all(buffers, decoder)
    assert result == Packet(packet.type, packet.namespace, normalized(packet.data), packet.id)
    assert b"\x1e" not in wire


@PROPERTY
@given(namespaces, event_names, st.lists(json_values, max_size=5).map(tuple))
def test_encode_event_fast_equals_encode_without_binary(namespace, event, args):
    fast = encode_event_fast(namespace, event, args)
    assert fast is not None
    assert (fast, []) == encode(Packet(PacketType.EVENT, namespace, [event, *args]))


@PROPERTY
@given(namespaces, event_names, st.lists(json_values_with_binary, min_size=1, max_size=4))
def test_encode_event_fast_declines_exactly_when_there_is_binary(namespace, event, args):
    fast = encode_event_fast(namespace, event, tuple(args))
    _, buffers = encode(Packet(PacketType.EVENT, namespace, [event, *args]))
    assert (fast is None) == bool(buffers)


@PROPERTY
@given(ack_ids, namespaces)
def test_ack_id_round_trips(ack_id, namespace):
    wire, _ = encode(Packet(PacketType.ACK, namespace, [], ack_id))
    assert decode_header(wire.decode()).id == ack_id


def test_namespace_with_control_character_is_refused() -> None:
    """A namespace holding \\x1e would be echoed raw into polling payloads and split them."""
    import pytest

    from aiosio.protocol.errors import ParseError
    from aiosio.protocol.socketio import decode_header

    with pytest.raises(ParseError):
        decode_header('0/ch\x1eat,{"token":"1"}')


def test_encode_ack_fast_matches_encode() -> None:
    """The ack fast path is byte-for-byte what the general encoder writes."""
    from aiosio.protocol.socketio import Packet, PacketType, encode, encode_ack_fast

    for namespace in ("/", "/chat"):
        for args in ([], [1, "2", {"3": [True]}], [None]):
            fast = encode_ack_fast(namespace, 456, args)
            assert fast == encode(Packet(PacketType.ACK, namespace, args, 456))[0]
    assert encode_ack_fast("/", 1, [b"bin"]) is None
