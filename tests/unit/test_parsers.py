"""The one parser interface (protocol/parser.py), for both parsers, as the server and the client use it.

Every test that is not about one wire format runs on both parsers: the same packets in, the same
decoded packets out, the same :class:`ParseError` for bad input.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

import aiosio
from aiosio.protocol import parser as parser_module
from aiosio.protocol.errors import ParseError
from aiosio.protocol.frames import Frame
from aiosio.protocol.parser import DefaultParser, MsgpackParser, Parser, make_parser
from aiosio.protocol.socketio import Packet, PacketType

from ._strategies import (
    PROPERTY,
    ack_ids,
    event_names,
    json_values_with_binary,
    namespaces,
    normalized,
)

PARSERS = ["default", "msgpack"]


@pytest.fixture(params=PARSERS)
def parser(request: pytest.FixtureRequest) -> Parser:
    return make_parser(request.param)


def messages(frames: Iterable[Frame]) -> list[str | bytes]:
    """What the receiving side's Engine.IO layer hands up for these frames (text loses its ``4``)."""
    out: list[str | bytes] = []
    for frame in frames:
        if frame.binary:
            out.append(frame.payload)
        else:
            assert frame.payload[:1] == b"4"  # an Engine.IO MESSAGE
            out.append(frame.payload[1:].decode())
    return out


def round_trip(parser: Parser, frames: Iterable[Frame]) -> Packet:
    """Feed the frames of one packet to a fresh decoder; exactly the last one completes it."""
    decoder = parser.decoder()
    sent = messages(frames)
    results = [decoder.feed(m) for m in sent]
    assert results[:-1] == [None] * (len(sent) - 1)
    packet = results[-1]
    assert packet is not None
    assert decoder.pending is None
    return packet


#: (sent, decoded): what each parser must give back for the packet it encoded.
CASES = [
    (Packet(PacketType.CONNECT, "/"), Packet(PacketType.CONNECT, "/")),
    (
        Packet(PacketType.CONNECT, "/chat", {"token": "t"}),
        Packet(PacketType.CONNECT, "/chat", {"token": "t"}),
    ),
    (Packet(PacketType.DISCONNECT, "/chat"), Packet(PacketType.DISCONNECT, "/chat")),
    (Packet(PacketType.EVENT, "/", ["hi", 1, None]), Packet(PacketType.EVENT, "/", ["hi", 1, None])),
    (
        Packet(PacketType.EVENT, "/x", ["e", {"a": [1.5]}], 7),
        Packet(PacketType.EVENT, "/x", ["e", {"a": [1.5]}], 7),
    ),
    (
        Packet(PacketType.EVENT, "/x", ["e", {"b": b"\x00\x01"}, [b"x", bytearray(b"y")]], 9),
        Packet(PacketType.EVENT, "/x", ["e", {"b": b"\x00\x01"}, [b"x", b"y"]], 9),
    ),
    (Packet(PacketType.BINARY_EVENT, "/", ["e", 1]), Packet(PacketType.EVENT, "/", ["e", 1])),
    (Packet(PacketType.ACK, "/", [b"\xff", 2], 3), Packet(PacketType.ACK, "/", [b"\xff", 2], 3)),
    (Packet(PacketType.ACK, "/n", [], 0), Packet(PacketType.ACK, "/n", [], 0)),
    (Packet(PacketType.CONNECT_ERROR, "/", "refused"), Packet(PacketType.CONNECT_ERROR, "/", "refused")),
    (
        Packet(PacketType.CONNECT_ERROR, "/a", {"message": "no", "data": {"x": 1}}),
        Packet(PacketType.CONNECT_ERROR, "/a", {"message": "no", "data": {"x": 1}}),
    ),
    (Packet(PacketType.EVENT, "/", ["big", 2**70]), Packet(PacketType.EVENT, "/", ["big", 2**70])),
]


@pytest.mark.parametrize(("sent", "expected"), CASES)
def test_round_trip(parser: Parser, sent: Packet, expected: Packet) -> None:
    if parser.name == "msgpack" and isinstance(sent.data, list) and 2**70 in sent.data:
        with pytest.raises(TypeError, match="64 bits"):
            parser.encode(sent)
        return
    assert round_trip(parser, parser.encode(sent)) == expected


@PROPERTY
@given(
    name=st.sampled_from(PARSERS),
    namespace=namespaces,
    event=event_names,
    args=st.lists(json_values_with_binary, max_size=3),
    ack_id=st.none() | ack_ids,
)
def test_both_parsers_decode_what_they_encode(
    name: str, namespace: str, event: str, args: list[Any], ack_id: int | None
) -> None:
    parser = make_parser(name, max_attachments=1000)  # generated data may hold many bytes values
    expected = Packet(PacketType.EVENT, namespace, normalized([event, *args]), ack_id)
    assert round_trip(parser, parser.encode_event(namespace, event, tuple(args), ack_id)) == expected
    if ack_id is not None:
        assert round_trip(parser, parser.encode_ack(namespace, ack_id, args)) == Packet(
            PacketType.ACK, namespace, normalized(args), ack_id
        )


EVENT_CALLS = [
    ("/", "chat", ("hello", 1), None),
    ("/", "chat", ("hello", 1), 5),
    ("/room", "chat", ({"k": [1, 2]},), None),
    ("/room", "bin", (b"\x00", {"n": bytearray(b"\x01")}), None),
    ("/", "e", (), None),
    ("/", "big", (2**64,), None),  # beyond orjson: the exact codec writes it
    ("/", "keys", ({1: "int key"},), None),
]


@pytest.mark.parametrize(("namespace", "event", "args", "ack_id"), EVENT_CALLS)
def test_encode_event_is_encode_of_the_event_packet(
    parser: Parser, namespace: str, event: str, args: tuple[Any, ...], ack_id: int | None
) -> None:
    """The fast path writes byte for byte what the general encoder writes."""
    if parser.name == "msgpack" and args == (2**64,):
        args = (2**63,)
    packet = Packet(PacketType.EVENT, namespace, [event, *args], ack_id)
    fast = parser.encode_event(namespace, event, args, ack_id)
    general = parser.encode(packet)
    assert [(f.payload, f.binary) for f in fast] == [(f.payload, f.binary) for f in general]


@pytest.mark.parametrize(
    ("namespace", "args"),
    [("/", ["ok", 1]), ("/n", [{"a": None}]), ("/", []), ("/", [b"\x01"]), ("/n", [2**65]), ("/", [{2: 3}])],
)
def test_encode_ack_is_encode_of_the_ack_packet(parser: Parser, namespace: str, args: list[Any]) -> None:
    if parser.name == "msgpack" and args == [2**65]:
        args = [2**63]
    fast = parser.encode_ack(namespace, 12, args)
    general = parser.encode(Packet(PacketType.ACK, namespace, args, 12))
    assert [(f.payload, f.binary) for f in fast] == [(f.payload, f.binary) for f in general]


def test_wire_forms() -> None:
    default, mp = make_parser("default"), make_parser("msgpack")
    assert [f.payload for f in default.encode_event("/", "a", (1,), None)] == [b'42["a",1]']
    assert [f.payload for f in default.encode_event("/n", "a", (1,), 4)] == [b'42/n,4["a",1]']
    assert [f.payload for f in default.encode_ack("/n", 4, [1])] == [b"43/n,4[1]"]
    frames = default.encode_event("/", "a", (b"\x07", b"\x08"), None)
    assert [(f.payload, f.binary) for f in frames] == [
        (b'452-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', False),
        (b"\x07", True),
        (b"\x08", True),
    ]
    (frame,) = mp.encode_event("/n", "a", (b"\x07",), 4)
    assert frame.binary
    assert msgpack.unpackb(frame.payload) == {"type": 2, "nsp": "/n", "data": ["a", b"\x07"], "id": 4}


def test_custom_json_module_is_used_for_every_packet() -> None:
    """With ``json=``, even the hot paths go through that module (its spacing shows it)."""
    p = make_parser("default", json)
    assert [f.payload for f in p.encode_event("/", "a", (1,), None)] == [b'42["a", 1]']
    assert [f.payload for f in p.encode_ack("/", 1, [1, 2])] == [b"431[1, 2]"]
    assert [f.payload for f in p.encode(Packet(PacketType.CONNECT, "/", {"a": 1}))] == [b'40{"a": 1}']
    assert round_trip(p, p.encode_event("/", "a", ({"k": [1]},), 3)) == Packet(
        PacketType.EVENT, "/", ["a", {"k": [1]}], 3
    )


def test_default_decoder_holds_the_header_until_the_last_attachment() -> None:
    p = make_parser("default")
    decoder = p.decoder()
    text, one, two = messages(p.encode_event("/n", "e", (b"1", b"2"), None))
    assert decoder.feed(text) is None
    assert decoder.pending is not None and decoder.pending.namespace == "/n"
    assert decoder.feed(one) is None
    assert decoder.feed(two) == Packet(PacketType.EVENT, "/n", ["e", b"1", b"2"])
    assert decoder.pending is None


def test_default_decoder_attachment_bound() -> None:
    frames = make_parser("default").encode_event("/", "e", (b"1", b"2", b"3"), None)
    with pytest.raises(ParseError, match="attachment count"):
        make_parser("default", max_attachments=2).decoder().feed(messages(frames)[0])
    assert round_trip(make_parser("default", max_attachments=3), frames).data == ["e", b"1", b"2", b"3"]


def test_reset_forgets_a_half_received_packet(parser: Parser) -> None:
    decoder = parser.decoder()
    if parser.name == "default":
        decoder.feed(messages(parser.encode_event("/", "e", (b"1",), None))[0])
        assert decoder.pending is not None
    decoder.reset()
    assert decoder.pending is None
    # A new connection starts clean: its first packet decodes, text or not.
    (first,) = messages(parser.encode_event("/", "after", (), None))
    assert decoder.feed(first) == Packet(PacketType.EVENT, "/", ["after"])


def test_msgpack_decoders_hold_nothing() -> None:
    p = make_parser("msgpack")
    decoder = p.decoder()
    (message,) = messages(p.encode_event("/", "e", (b"1", b"2"), None))
    assert decoder.feed(message) == Packet(PacketType.EVENT, "/", ["e", b"1", b"2"])
    assert decoder.pending is None


def test_is_ack(parser: Parser) -> None:
    decoder = parser.decoder()
    (ack,) = messages(parser.encode_ack("/", 1, ["x"]))
    (event,) = messages(parser.encode_event("/", "e", ("x",), 1))
    assert decoder.is_ack(ack)
    assert not decoder.is_ack(event)
    for other in (PacketType.CONNECT, PacketType.DISCONNECT):
        (message,) = messages(parser.encode(Packet(other, "/")))
        assert not decoder.is_ack(message)
    assert not decoder.is_ack(b"\xc1" if parser.name == "msgpack" else "")
    assert decoder.feed(ack) == Packet(PacketType.ACK, "/", ["x"], 1)


def test_default_is_ack_is_false_while_attachments_are_awaited() -> None:
    p = make_parser("default")
    decoder = p.decoder()
    decoder.feed(messages(p.encode_event("/", "e", (b"1",), None))[0])
    assert not decoder.is_ack("31[]")


BAD = {
    "default": [
        "",
        "9",
        "2[",
        '2["connect"]',
        "2{}",
        "3[]",
        "51-[]",
        b"\x00",
        '2/a\x1e,["e"]',
        "2" + "[" * 600 + "]" * 600,
    ],
    "msgpack": [
        "2[]",
        b"\xc1",
        b"",
        msgpack.packb([2, "/", ["e"]]),
        msgpack.packb({"type": 2, "nsp": "/", "data": ["connect"]}),
        msgpack.packb({"type": 3, "nsp": "/", "data": []}),
        msgpack.packb({"type": 9, "nsp": "/"}),
        msgpack.packb({"type": 2, "nsp": "/", "data": ["e"], "id": -1}),
    ],
}


@pytest.mark.parametrize(("name", "message"), [(n, m) for n, ms in BAD.items() for m in ms])
def test_bad_input_is_one_parse_error(name: str, message: str | bytes) -> None:
    with pytest.raises(ParseError):
        make_parser(name).decoder().feed(message)


def test_text_while_attachments_are_awaited_is_a_parse_error() -> None:
    p = make_parser("default")
    decoder = p.decoder()
    decoder.feed(messages(p.encode_event("/", "e", (b"1",), None))[0])
    with pytest.raises(ParseError):
        decoder.feed('2["e"]')


def test_unsendable_data_is_a_type_error(parser: Parser) -> None:
    with pytest.raises(TypeError):
        parser.encode_event("/", "e", (object(),), None)
    with pytest.raises(TypeError):
        parser.encode_ack("/", 1, [object()])
    if parser.name == "default":  # only EVENT and ACK may carry attachments
        with pytest.raises(TypeError):
            parser.encode(Packet(PacketType.CONNECT, "/", {"b": b"\x00"}))


def test_make_parser_selects_by_serializer_name() -> None:
    assert isinstance(make_parser(), DefaultParser)
    assert isinstance(make_parser("default"), DefaultParser)
    assert isinstance(make_parser("msgpack"), MsgpackParser)
    assert make_parser("default").name == "default"
    assert make_parser("msgpack").name == "msgpack"
    with pytest.raises(ValueError, match="pickle"):
        make_parser("pickle")


@pytest.mark.parametrize("name", PARSERS)
def test_server_and_client_share_the_parser(name: str) -> None:
    server = aiosio.AsyncServer(serializer=name)
    client = aiosio.AsyncClient(serializer=name)
    assert type(server._parser) is type(client._parser) is type(make_parser(name))
    # The server's per-connection decoders and its broadcast encoder come from that parser.
    assert server._encode == server._parser.encode_event


def test_unknown_serializer_is_refused_by_both_roles() -> None:
    with pytest.raises(ValueError):
        aiosio.AsyncServer(serializer="pickle")
    with pytest.raises(ValueError):
        aiosio.AsyncClient(serializer="pickle")


def test_parser_module_is_sans_io() -> None:
    # The source next to the module (a compiled build imports parser.<abi>.so from there).
    tree = ast.parse((Path(parser_module.__file__).parent / "parser.py").read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and not node.level
    }
    assert not imported & {"asyncio", "aiohttp", "socket"}


def test_msgpack_is_ack_reads_only_the_first_bytes() -> None:
    """The backlog check of a msgpack message decodes nothing (the message is decoded once, when
    handled): an ACK prefix is enough, whatever follows; a map not starting with ``type`` is not
    taken for an ACK (it is handled in turn)."""
    decoder = make_parser("msgpack").decoder()
    assert decoder.is_ack(b"\x84\xa4type\x03" + b"\xc1" * 1000)
    assert not decoder.is_ack(b"\x84\xa4type\x02\xa4data\x90")
    assert not decoder.is_ack(b"\x84\xa3nsp\xa1/\xa4type\x03")
    assert not decoder.is_ack(b"\x84\xa4type")
