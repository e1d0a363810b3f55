"""Engine.IO v4 packets and long-polling payloads (engineio.py), and outgoing frames (frames.py)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosio.protocol import frames, socketio
from aiosio.protocol.engineio import (
    RECORD_SEPARATOR,
    Packet,
    PacketType,
    decode_binary,
    decode_payload,
    decode_text,
    encode_text,
    join_payload,
    polling_form,
)
from aiosio.protocol.errors import ParseError
from aiosio.protocol.frames import Frame

from ._strategies import FUZZ, PROPERTY

# --- known vectors (engine.io-protocol README) --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "packet"),
    [
        (
            '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"]}',
            Packet(PacketType.OPEN, '{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"]}'),
        ),
        ("1", Packet(PacketType.CLOSE)),
        ("2", Packet(PacketType.PING)),
        ("2probe", Packet(PacketType.PING, "probe")),
        ("3probe", Packet(PacketType.PONG, "probe")),
        ("4hello", Packet(PacketType.MESSAGE, "hello")),
        ("4€", Packet(PacketType.MESSAGE, "€")),
        ("5", Packet(PacketType.UPGRADE)),
        ("6", Packet(PacketType.NOOP)),
    ],
)
def test_decode_text_known_packets(text, packet):
    assert decode_text(text) == packet
    assert encode_text(packet.type, packet.data) == text


def test_decode_payload_spec_example_with_ping_between_messages():
    assert decode_payload(b"4hello\x1e2\x1e4world") == [
        Packet(PacketType.MESSAGE, "hello"),
        Packet(PacketType.PING),
        Packet(PacketType.MESSAGE, "world"),
    ]


def test_decode_payload_spec_example_with_binary_and_multibyte_text():
    body = "4hello\x1e4€\x1ebAQIDBA==".encode()
    assert decode_payload(body) == [
        Packet(PacketType.MESSAGE, "hello"),
        Packet(PacketType.MESSAGE, "€"),
        Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04"),
    ]


def test_decode_payload_single_packet():
    assert decode_payload(b'40{"token":"123"}') == [Packet(PacketType.MESSAGE, '0{"token":"123"}')]


def test_decode_payload_empty_binary_message():
    assert decode_payload(b"b") == [Packet(PacketType.MESSAGE, b"")]


def test_decode_payload_of_two_socketio_events_from_the_sample_session():
    assert [p.data for p in decode_payload(b'42["hello"]\x1e42["world"]')] == ['2["hello"]', '2["world"]']


def test_polling_form_base64_encodes_binary_with_b_prefix():
    assert polling_form(b"\x01\x02\x03\x04", binary=True) == b"bAQIDBA=="
    assert polling_form(b"4hello", binary=False) == b"4hello"


def test_decode_binary_is_always_a_message_of_bytes():
    packet = decode_binary(bytearray(b"\x01\x02"))
    assert packet == Packet(PacketType.MESSAGE, b"\x01\x02")
    assert type(packet.data) is bytes


def test_record_separator_is_0x1e():
    assert RECORD_SEPARATOR == "\x1e"


# --- join_payload ------------------------------------------------------------------------------------


def test_join_payload_takes_everything_that_fits():
    assert join_payload([b"4a", b"4b", b"2"], budget=100) == (b"4a\x1e4b\x1e2", 3)


def test_join_payload_counts_separators_against_the_budget():
    parts = [b"4aa", b"4bb"]
    assert join_payload(parts, budget=7) == (b"4aa\x1e4bb", 2)
    assert join_payload(parts, budget=6) == (b"4aa", 1)


def test_join_payload_sends_an_oversized_first_packet_alone():
    assert join_payload([b"4" + b"x" * 50, b"4y"], budget=10) == (b"4" + b"x" * 50, 1)


def test_join_payload_of_nothing():
    assert join_payload([], budget=10) == (b"", 0)


def test_join_payload_stops_at_the_first_part_that_does_not_fit():
    # Order must be kept: a small part after a big one waits too.
    assert join_payload([b"4a", b"4" + b"x" * 20, b"4b"], budget=10) == (b"4a", 1)


# --- frames ------------------------------------------------------------------------------------------


def test_frame_text_payload_and_forms():
    frame = Frame.text(PacketType.MESSAGE, b'2["hi"]')
    assert frame.payload == b'42["hi"]'
    assert not frame.binary
    assert frame.polling() == b'42["hi"]'
    assert frame.ws() == b"\x81\x08" + b'42["hi"]'
    assert len(frame) == 8


def test_frame_binary_forms():
    frame = Frame(b"\x01\x02\x03\x04", binary=True)
    assert frame.polling() == b"bAQIDBA=="
    assert frame.ws() == b"\x82\x04\x01\x02\x03\x04"
    assert "binary" in repr(frame)


def test_frame_forms_are_built_once_and_cached():
    frame = Frame(b"4" + b"x" * 200)
    assert frame.ws() is frame.ws()
    assert frame.polling() is frame.polling()


@pytest.mark.parametrize(
    ("frame", "payload"),
    [(frames.PING, b"2"), (frames.PONG_PROBE, b"3probe"), (frames.NOOP, b"6"), (frames.CLOSE, b"1")],
)
def test_shared_control_frames(frame, payload):
    assert frame.payload == payload
    assert not frame.binary
    assert decode_payload(frame.polling()) == [decode_text(payload.decode())]


# --- bad input ---------------------------------------------------------------------------------------


def test_invalid_utf8_polling_body_is_refused():
    with pytest.raises(ParseError, match="UTF-8"):
        decode_payload(b"4\xff\xfe")
    with pytest.raises(ParseError):
        decode_payload(b"4ok\x1e4\xc3")  # truncated multi-byte sequence
    with pytest.raises(ParseError):
        decode_payload(b"4\xed\xa0\x80")  # an encoded surrogate is not UTF-8
    with pytest.raises(ParseError):
        decode_payload(b"4\xc0\xaf")  # overlong encoding of "/"


@pytest.mark.parametrize(
    "part",
    [
        "b!!!!",
        "bAQIDBA=",  # wrong padding
        "bAQIDBA",  # missing padding
        "bAQID BA==",  # whitespace
        "bAQID\nBA==",
        "b-_-_",  # URL-safe alphabet
        "b€€€€",  # non-ASCII
        "bAQ==AQ==",  # padding in the middle
    ],
)
def test_bad_base64_in_binary_packet_is_refused(part):
    with pytest.raises(ParseError, match="base64"):
        decode_payload(("4ok\x1e" + part).encode())


@pytest.mark.parametrize("text", ["", "7", "9", "x", "\u0664hello", "-1", " 4hello"])
def test_unknown_or_missing_packet_type_is_refused(text):
    with pytest.raises(ParseError):
        decode_text(text)


@pytest.mark.parametrize("body", [b"", b"\x1e", b"4a\x1e", b"\x1e4a", b"4a\x1e\x1e4b"])
def test_empty_part_in_polling_payload_is_refused(body):
    with pytest.raises(ParseError):
        decode_payload(body)


def test_polling_payload_packet_count_is_bounded_only_if_asked():
    assert len(decode_payload(b"6\x1e6\x1e6", max_packets=3)) == 3
    with pytest.raises(ParseError, match=r"too many packets in one payload \(4 > max_payload_packets=3\)"):
        decode_payload(b"6\x1e6\x1e6\x1e6", max_packets=3)


def test_polling_payload_of_12000_events_is_decoded_whole_in_order():
    # What the npm client sends when an app emits 12,000 small events on long-polling.
    body = "\x1e".join(f'42["n",{i}]' for i in range(12_000)).encode()
    packets = decode_payload(body)
    assert len(packets) == 12_000
    assert [p.data for p in packets] == [f'2["n",{i}]' for i in range(12_000)]
    assert all(p.type is PacketType.MESSAGE for p in packets)


def test_polling_payload_count_is_bounded_by_its_size():
    # The smallest packets (a NOOP, one byte, and a separator) in a 1 MB body: all of them.
    body = b"\x1e".join([b"6"] * 500_000)
    assert len(decode_payload(body)) == 500_000


def test_json_with_record_separator_stays_one_polling_packet():
    # orjson writes \x1e as \u001e, so an event carrying it cannot be split into two packets.
    text, _ = socketio.encode(socketio.Packet(socketio.PacketType.EVENT, "/", ["chat", "a\x1eb"]))
    assert b"\x1e" not in text
    assert b"\\u001e" in text
    frame = Frame.text(PacketType.MESSAGE, text)
    body, taken = join_payload([frame.polling(), frames.NOOP.polling()], budget=1000)
    assert taken == 2
    packets = decode_payload(body)
    assert len(packets) == 2
    assert socketio.decode_header(packets[0].data).data == ["chat", "a\x1eb"]


# --- properties --------------------------------------------------------------------------------------

payload_alphabet = st.sampled_from([*"0123456789b\x1eAQIDBA=+/ €\xff\x80", "4hello", "bAQIDBA==", "\x1e"])


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=64), st.lists(payload_alphabet, max_size=20).map(lambda p: "".join(p).encode())
    )
)
def test_decode_payload_only_raises_parse_error(body):
    try:
        packets = decode_payload(body)
    except ParseError:
        return
    assert packets
    assert all(isinstance(p, Packet) and isinstance(p.type, PacketType) for p in packets)


@FUZZ
@given(st.text(max_size=32))
def test_decode_text_only_raises_parse_error(text):
    try:
        packet = decode_text(text)
    except ParseError:
        assert not text or text[0] not in "0123456"
    else:
        assert int(packet.type) == int(text[0])
        assert packet.data == text[1:]


text_packets = st.tuples(
    st.sampled_from(PacketType),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x1e"), max_size=20),
).map(lambda p: (encode_text(p[0], p[1]).encode(), False, Packet(p[0], p[1])))
binary_packets = st.binary(max_size=40).map(lambda b: (b, True, Packet(PacketType.MESSAGE, b)))


@PROPERTY
@given(st.lists(st.one_of(text_packets, binary_packets), min_size=1, max_size=12))
def test_polling_payload_round_trip_of_mixed_text_and_binary(items):
    parts = [polling_form(payload, binary) for payload, binary, _ in items]
    body, taken = join_payload(parts, budget=1 << 30)
    assert taken == len(items)
    assert decode_payload(body) == [packet for _, _, packet in items]


@PROPERTY
@given(st.lists(st.one_of(text_packets, binary_packets), min_size=1, max_size=12))
def test_frame_polling_form_round_trips(items):
    frames_ = [Frame(payload, binary) for payload, binary, _ in items]
    body, _ = join_payload([f.polling() for f in frames_], budget=1 << 30)
    assert decode_payload(body) == [packet for _, _, packet in items]


@PROPERTY
@given(st.lists(st.binary(max_size=30), min_size=1, max_size=20), st.integers(min_value=0, max_value=200))
def test_join_payload_respects_the_budget_and_always_takes_one(parts, budget):
    payload, taken = join_payload(parts, budget)
    assert 1 <= taken <= len(parts)
    assert payload == b"\x1e".join(parts[:taken])
    if taken > 1:
        assert len(payload) <= budget
    if taken < len(parts):
        # Greedy: the next part would not have fitted.
        assert len(payload) + 1 + len(parts[taken]) > budget


@PROPERTY
@given(st.binary(max_size=100))
def test_polling_form_binary_is_b_and_standard_base64(data):
    form = polling_form(data, binary=True)
    assert form[:1] == b"b"
    assert base64.b64decode(form[1:], validate=True) == data
    assert b"\x1e" not in form
    assert decode_payload(form) == [Packet(PacketType.MESSAGE, data)]
