"""decode_header's fast path (EVENT/ACK headers matched by one regex) decides exactly as the
general decoder: the same packet, or the same error, for every text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosio.protocol.errors import ParseError
from aiosio.protocol.socketio import Packet, PacketType, decode_header, decode_header_general

_HEADS = st.sampled_from(["2", "3", "0", "1", "4", "5", "6", "21-", "51-", "7", "", "22"])
_NAMESPACES = st.sampled_from(["", "/", "/chat,", "/,", "/a b,", "/\x1e,", "/x[y,", "/chat", "/é,"])
_IDS = st.sampled_from(
    ["", "0", "7", "007", "9007199254740991", "9007199254740992", "12345678901234567", chr(0x661)]
)
_BODIES = st.sampled_from(
    [
        '["echo","hi"]',
        '["echo"]',
        "[]",
        "[1]",
        '["connect"]',
        '["disconnect",1]',
        '[{"a":1}]',
        "[null]",
        '["x",123456789012345678901234567890]',
        "[NaN]",
        '["x"',
        '["x"] ',
        "",
        "{}",
        "null",
        '"s"',
        "[" * 600 + "]" * 600,
    ]
)


def outcome(decode: object, text: str) -> Packet | tuple[str, str]:
    try:
        return decode(text)  # type: ignore[operator, no-any-return]
    except ParseError as exc:
        return ("ParseError", str(exc))


@settings(max_examples=3000, deadline=None)
@given(_HEADS, _NAMESPACES, _IDS, _BODIES)
def test_fast_path_decides_as_the_general_decoder(head: str, nsp: str, ack: str, body: str) -> None:
    text = head + nsp + ack + body
    assert outcome(decode_header, text) == outcome(decode_header_general, text)


@given(st.text(alphabet='23/,[]0123456789"ax-{}:', max_size=24))
def test_fast_path_on_arbitrary_text(text: str) -> None:
    assert outcome(decode_header, text) == outcome(decode_header_general, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('21["echo","hi"]', Packet(PacketType.EVENT, "/", ["echo", "hi"], 1)),
        ('2/chat,5["x"]', Packet(PacketType.EVENT, "/chat", ["x"], 5)),
        ("39007199254740991[]", Packet(PacketType.ACK, "/", [], 2**53 - 1)),
    ],
)
def test_common_packets(text: str, expected: Packet) -> None:
    assert decode_header(text) == expected


@pytest.mark.parametrize(
    "text", ['2["connect"]', "2[]", "3[1]", "39007199254740992[]", '2/a\x1eb,["x"]', "2[1]"]
)
def test_refused_as_before(text: str) -> None:
    with pytest.raises(ParseError):
        decode_header(text)
