"""Micro-benchmarks of the sans-IO protocol codecs (pytest-benchmark).

The project runs pytest with ``--benchmark-disable``, so in CI each of these runs once as a plain test
(and its assertions check the result). See README.md in this folder to time them.
"""

from __future__ import annotations

import pytest

from aiosio.protocol import msgpack_parser
from aiosio.protocol.engineio import Packet as EIOPacket
from aiosio.protocol.engineio import PacketType as EIOType
from aiosio.protocol.engineio import decode_payload, join_payload
from aiosio.protocol.frames import Frame
from aiosio.protocol.socketio import (
    Decoder,
    Packet,
    PacketType,
    decode_header,
    encode,
    encode_event_fast,
)

SMALL_ARGS = ("hello", {"user": "ana", "n": 1})
SMALL_EVENT = Packet(PacketType.EVENT, "/", ["chat", *SMALL_ARGS])
KIB_ARGS = ({"items": [{"id": i, "name": f"item-{i:04d}", "ok": i % 2 == 0} for i in range(24)]},)
KIB_EVENT = Packet(PacketType.EVENT, "/", ["update", *KIB_ARGS])
BINARY_EVENT = Packet(
    PacketType.EVENT, "/files", ["upload", {"name": "a.bin", "head": b"\x00" * 64}, b"\xff" * 4096]
)


def test_kib_event_is_about_one_kib():
    assert 900 <= len(encode(KIB_EVENT)[0]) <= 1200


# --- default (JSON) parser ---------------------------------------------------------------------------


def test_encode_small_event(benchmark):
    wire, buffers = benchmark(encode, SMALL_EVENT)
    assert wire == b'2["chat","hello",{"user":"ana","n":1}]'
    assert buffers == []


def test_decode_small_event(benchmark):
    wire = encode(SMALL_EVENT)[0].decode()
    assert benchmark(decode_header, wire) == SMALL_EVENT


def test_encode_event_fast_small(benchmark):
    assert benchmark(encode_event_fast, "/", "chat", SMALL_ARGS) == encode(SMALL_EVENT)[0]


def test_encode_1kib_event(benchmark):
    wire, _ = benchmark(encode, KIB_EVENT)
    assert wire.startswith(b'2["update",')


def test_decode_1kib_event(benchmark):
    wire = encode(KIB_EVENT)[0].decode()
    assert benchmark(decode_header, wire) == KIB_EVENT


def test_encode_event_fast_1kib(benchmark):
    assert benchmark(encode_event_fast, "/", "update", KIB_ARGS) == encode(KIB_EVENT)[0]


def test_encode_event_with_two_attachments(benchmark):
    wire, buffers = benchmark(encode, BINARY_EVENT)
    assert wire.startswith(b"52-/files,")
    assert len(buffers) == 2


def test_decode_event_with_two_attachments(benchmark):
    wire, buffers = encode(BINARY_EVENT)
    messages = [wire.decode(), *buffers]

    def decode_all():
        decoder = Decoder()
        packet = None
        for message in messages:
            packet = decoder.feed(message)
        return packet

    assert benchmark(decode_all) == BINARY_EVENT


# --- Engine.IO polling and WebSocket frames ----------------------------------------------------------


def _fifty_frames() -> list[Frame]:
    frames = [
        Frame.text(EIOType.MESSAGE, encode_event_fast("/", "tick", (i, "x" * 20)) or b"") for i in range(48)
    ]
    frames += [Frame(b"\x01\x02\x03" * 100, binary=True), Frame.text(EIOType.PING)]
    return frames


def test_join_polling_payload_of_50_packets(benchmark):
    parts = [f.polling() for f in _fifty_frames()]
    body, taken = benchmark(join_payload, parts, 1_000_000)
    assert taken == 50
    assert body.count(b"\x1e") == 49


def test_decode_polling_payload_of_50_packets(benchmark):
    body, _ = join_payload([f.polling() for f in _fifty_frames()], 1_000_000)
    packets = benchmark(decode_payload, body)
    assert len(packets) == 50
    assert packets[48] == EIOPacket(EIOType.MESSAGE, b"\x01\x02\x03" * 100)


@pytest.mark.parametrize("size", [100, 1024, 70_000])
def test_build_ws_frame(benchmark, size):
    payload = b"4" + b"x" * (size - 1)

    def build():
        return Frame(payload).ws()  # a new Frame each time: ws() is cached per frame

    frame = benchmark(build)
    assert frame.endswith(payload)
    assert len(frame) - size in (2, 4, 10)


# --- msgpack parser ----------------------------------------------------------------------------------


def test_msgpack_encode_small_event(benchmark):
    wire = benchmark(msgpack_parser.encode, SMALL_EVENT)
    assert msgpack_parser.decode(wire) == SMALL_EVENT


def test_msgpack_decode_small_event(benchmark):
    wire = msgpack_parser.encode(SMALL_EVENT)
    assert benchmark(msgpack_parser.decode, wire) == SMALL_EVENT


def test_msgpack_encode_event_with_binary(benchmark):
    wire = benchmark(msgpack_parser.encode, BINARY_EVENT)
    assert b"\xff" * 4096 in wire


def test_msgpack_decode_event_with_binary(benchmark):
    wire = msgpack_parser.encode(BINARY_EVENT)
    assert benchmark(msgpack_parser.decode, wire) == BINARY_EVENT
