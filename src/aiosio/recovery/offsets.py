"""Recovery offsets: how aiosio makes them, and how a client recognises one.

aiosio's offsets have the form of a Redis stream id, ``<ms>-<seq>``: the wall-clock millisecond
the packet was kept and a sequence number within it, both decimal. They only grow (a clock that
steps back keeps the last millisecond and counts on), so two offsets compare as ``(ms, seq)``.

A client takes a trailing string argument as an offset only if :func:`looks_like_offset` accepts
it: a stream id (aiosio, or Node's ``@socket.io/redis-streams-adapter``) or a Node ``yeast()`` id
(Node's in-memory adapter) whose time is within a day of the client's clock (an offset is made
when its packet is sent, so it is always recent). Node's own client takes *any* trailing string,
so a volatile event whose last argument is a string corrupts its offset; this rule does not.
"""

from __future__ import annotations

import re

#: A stream id: ``<ms>-<seq>``, decimal, no sign, no leading ``+``.
_STREAM_ID = re.compile(r"(\d{1,16})-(\d{1,20})")
#: Node's yeast(): the millisecond time in base 64 (7 digits until the year 4199), optionally
#: ``.`` and a counter for ids made in the same millisecond.
_YEAST = re.compile(r"([0-9A-Za-z_-]{7})(?:\.[0-9A-Za-z_-]{1,6})?")
_YEAST_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"
_YEAST_DIGIT = {ch: i for i, ch in enumerate(_YEAST_ALPHABET)}

#: How far (ms) an offset's time may be from the client's clock: clocks differ, offsets are recent.
#: A random word of seven letters decodes to a time within a day of now about once in 25,000.
MAX_SKEW_MS = 86_400_000


def parse_offset(offset: str) -> tuple[int, int] | None:
    """``(ms, seq)`` of an aiosio offset (a stream id), or None if ``offset`` is not one."""
    match = _STREAM_ID.fullmatch(offset)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def format_offset(key: tuple[int, int]) -> str:
    """The offset string of ``(ms, seq)``."""
    return f"{key[0]}-{key[1]}"


def yeast_time(value: str) -> int | None:
    """The millisecond time a Node ``yeast()`` id encodes, or None if ``value`` is not one."""
    match = _YEAST.fullmatch(value)
    if match is None:
        return None
    ms = 0
    for ch in match.group(1):
        ms = ms * 64 + _YEAST_DIGIT[ch]
    return ms


def looks_like_offset(value: object, now_ms: float) -> bool:
    """True if ``value`` is a recovery offset of aiosio or of a Node server: a stream id, or a
    ``yeast()`` id, whose time is within :data:`MAX_SKEW_MS` of ``now_ms`` (the caller's clock)."""
    if not isinstance(value, str) or len(value) > 40:
        return False
    key = parse_offset(value)
    ms = key[0] if key is not None else yeast_time(value)
    return ms is not None and abs(ms - now_ms) <= MAX_SKEW_MS
