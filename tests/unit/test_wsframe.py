"""Server WebSocket frames (wsframe.py), checked against a small RFC 6455 frame parser."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosio.protocol.frames import Frame
from aiosio.protocol.wsframe import OPCODE_BINARY, OPCODE_TEXT, build_frame

from ._strategies import PROPERTY


@dataclass
class ParsedFrame:
    fin: bool
    rsv: int
    opcode: int
    masked: bool
    header_size: int
    payload: bytes


def parse_frame(data: bytes) -> ParsedFrame:
    """Parse exactly one frame, insisting on RFC 6455's minimal length encoding and no trailing bytes."""
    first, second = data[0], data[1]
    length = second & 0x7F
    offset = 2
    if length == 126:
        (length,) = struct.unpack_from("!H", data, offset)
        offset += 2
        assert length >= 126, "16-bit length used for a length that fits in 7 bits"
    elif length == 127:
        (length,) = struct.unpack_from("!Q", data, offset)
        offset += 8
        assert length >> 63 == 0, "the most significant bit of a 64-bit length must be 0"
        assert length >= 65536, "64-bit length used for a length that fits in 16 bits"
    masked = bool(second & 0x80)
    if masked:
        offset += 4
    payload = data[offset:]
    assert len(payload) == length, "frame length does not match the bytes that follow"
    return ParsedFrame(bool(first & 0x80), (first >> 4) & 0x7, first & 0x0F, masked, offset, payload)


BOUNDARIES = [0, 1, 124, 125, 126, 127, 65534, 65535, 65536, 65537]


def expected_header_size(n: int) -> int:
    return 2 if n <= 125 else 4 if n <= 65535 else 10


@pytest.mark.parametrize("n", BOUNDARIES)
@pytest.mark.parametrize("opcode", [OPCODE_TEXT, OPCODE_BINARY])
def test_length_boundaries_parse_back(n, opcode):
    payload = bytes(i % 251 for i in range(n))
    parsed = parse_frame(build_frame(payload, opcode))
    assert parsed.payload == payload
    assert parsed.opcode == opcode
    assert parsed.header_size == expected_header_size(n)


def test_server_frames_are_final_unmasked_and_without_rsv_bits():
    parsed = parse_frame(build_frame(b"4hello", OPCODE_TEXT))
    assert parsed.fin
    assert not parsed.masked  # RFC 6455 5.1: a server never masks
    assert parsed.rsv == 0  # no permessage-deflate


@pytest.mark.parametrize(
    ("n", "header"),
    [
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_header_bytes_at_boundaries(n, header):
    assert build_frame(b"x" * n, OPCODE_TEXT)[: len(header)] == header


def test_opcode_values():
    assert (OPCODE_TEXT, OPCODE_BINARY) == (0x1, 0x2)


def test_frame_ws_uses_text_or_binary_opcode():
    assert parse_frame(Frame(b"4hi").ws()).opcode == OPCODE_TEXT
    assert parse_frame(Frame(b"\x00\x01", binary=True).ws()).opcode == OPCODE_BINARY


@PROPERTY
@given(
    st.one_of(
        st.sampled_from(BOUNDARIES),
        st.integers(min_value=0, max_value=300),
        st.integers(min_value=65530, max_value=65540),
    ),
    st.sampled_from([OPCODE_TEXT, OPCODE_BINARY]),
    st.binary(min_size=1, max_size=1),
)
def test_build_frame_parses_back_for_any_length(n, opcode, fill):
    payload = fill * n
    frame = build_frame(payload, opcode)
    parsed = parse_frame(frame)
    assert (parsed.fin, parsed.rsv, parsed.opcode, parsed.masked) == (True, 0, opcode, False)
    assert parsed.payload == payload
    assert len(frame) == expected_header_size(n) + n
