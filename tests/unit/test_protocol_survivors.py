"""Protocol pieces mutation testing (scripts/mutation) found without a unit test of their own: the
WebSocket frame rebuilt from a queued polling form, and the heartbeat's on-access expiry check."""

from __future__ import annotations

import pytest

from aiosio.protocol.frames import Frame, ws_from_polling
from aiosio.protocol.heartbeat import Heartbeat


@pytest.mark.parametrize(
    "frame",
    [
        Frame(b'42["x",1]'),
        Frame(b"4" + "é".encode() * 200),  # a 16-bit length
        Frame(b"4" + b"y" * 70_000),  # a 64-bit length
        Frame(b"\x00\x01\xff", binary=True),
        Frame(bytes(range(256)) * 300, binary=True),
        Frame(b"", binary=True),
    ],
    ids=["text", "text-126", "text-127", "binary", "binary-big", "binary-empty"],
)
def test_ws_frame_from_the_polling_form_is_the_frame_itself(frame):
    """A packet queued in its polling form and flushed onto a WebSocket after an upgrade is the
    same frame it would have been if written to the WebSocket directly."""
    assert ws_from_polling(frame.polling()) == frame.ws()


def test_heartbeat_expired_only_while_a_pong_is_overdue():
    hb = Heartbeat(interval=10.0, timeout=5.0, now=100.0)
    assert not hb.expired(now=109.9)  # no PING sent yet
    assert not hb.expired(now=1000.0)  # however late: no PING outstanding, nothing is overdue
    hb.expire(now=110.0)  # PING sent; PONG due at 115
    assert not hb.expired(now=114.99)
    assert hb.expired(now=115.0)
    assert hb.expired(now=200.0)
    assert hb.pong(now=114.0) is True
    assert not hb.expired(now=200.0)


def _nested(levels: int, kind: str = "list") -> object:
    value: object = [] if kind == "list" else {}
    for i in range(levels - 1):
        value = [value] if (kind == "list" or (kind == "mixed" and i % 2)) else {"k": value}
    return value


@pytest.mark.parametrize("kind", ["list", "dict", "mixed"])
def test_depth_limit_is_exact(kind):
    """``MAX_DEPTH`` levels are allowed, one more is not, for lists, dicts and both (the limit both
    parsers and the exact encoder apply)."""
    from aiosio.protocol.nesting import MAX_DEPTH, check_sendable, depth_exceeds

    assert not depth_exceeds(_nested(MAX_DEPTH, kind))
    assert depth_exceeds(_nested(MAX_DEPTH + 1, kind))
    check_sendable(_nested(MAX_DEPTH, kind))
    with pytest.raises(TypeError, match="nested deeper"):
        check_sendable(_nested(MAX_DEPTH + 1, kind))


def test_depth_of_scalars_and_small_values():
    from aiosio.protocol.nesting import depth_exceeds

    for scalar in (None, 1, "x", b"x", 1.5):
        assert not depth_exceeds(scalar)
        assert not depth_exceeds(scalar, limit=0)
    assert not depth_exceeds([1, [2]], limit=2)
    assert depth_exceeds([1, [2]], limit=1)
    assert depth_exceeds(({"a": ()},), limit=2)
    assert not depth_exceeds(({"a": ()},), limit=3)
