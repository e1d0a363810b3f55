"""Bytes to objects and back, as Node's Redis adapters write them: notepack.io msgpack and JSON.

Encoders take Python values and return bytes; they raise :class:`TypeError` for a value the wire
cannot carry (that is a bug on the sending side). Decoders take bytes from Redis and raise only
:class:`ClusterMessageError`, whatever the input.

Parity with JavaScript, so that a message written here is byte-identical to Node's:

- an integral finite float (``1.0``) is written as an integer, as JavaScript has one number type;
- ``bytes``/``bytearray``/``memoryview`` are msgpack ``bin``; in JSON they are written as
  ``Buffer.toJSON()`` writes them, ``{"type":"Buffer","data":[1,2]}`` (and stay a dict on receipt);
- an aware ``datetime`` is msgpack timestamp ext -1 (32/64/96 forms, as notepack.io chooses them), in
  JSON the text of ``Date.toJSON()`` (``2026-12-01T08:34:31.000Z``); a naive one is refused;
- NaN and infinities are float64 in msgpack and ``null`` in JSON (``JSON.stringify`` does the same).

Decoding accepts what notepack.io 3 decodes: ext -1 becomes an aware UTC ``datetime``; the legacy ext 0
forms of notepack.io 2 become ``None`` (``undefined``, one zero byte), a ``datetime`` (8 bytes: int64
milliseconds) or ``bytes`` (any other length: an ``ArrayBuffer``); any other ext type becomes the list
``[type, bytes]``, which is what notepack.io hands to Node's application code.

Limits on input: at most ``max_bytes`` per payload, at most :data:`~aiosio.protocol.nesting.MAX_DEPTH`
levels of lists and maps per message (the limit every Socket.IO encoder of this project honours, so
what was received can be sent on to clients), integers as :mod:`aiosio.protocol.jsoncodec` reads them.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import msgpack
import orjson

from .. import exactjson
from ..errors import ParseError
from ..jsoncodec import DEFAULT_JSON
from ..nesting import MAX_DEPTH, depth_exceeds

#: The largest payload a decoder accepts by default: 32 MiB. Redis itself disconnects a pub/sub
#: subscriber whose output buffer passes 32 MB (``client-output-buffer-limit pubsub 32mb 8mb 60``, the
#: default), so nothing larger reaches a subscriber of a default Redis; below it there is room for
#: a fetchSockets answer of some 50,000 sockets (about 600 bytes each with their handshake).
DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024

_UTC = _dt.UTC
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)
_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1
_BINARY = (bytes, bytearray, memoryview)
#: msgpack container headers (fixmap, fixarray, array16/32, map16/32) to ``[``, every other byte to
#: ``x``: the count of ``[`` bounds the nesting depth from above.
_CONTAINER_MAP = bytes(0x5B if 0x80 <= b <= 0x9F or 0xDC <= b <= 0xDF else 0x78 for b in range(256))


class ClusterMessageError(ParseError):
    """The one error every cluster decoder raises, for any bad input.

    Wrong type or shape of any field, a payload over ``max_bytes``, nesting too deep, invalid UTF-8,
    truncated msgpack, NaN in JSON... The message says what was wrong. It is a :class:`ValueError`
    (through :class:`~aiosio.protocol.errors.ParseError`); an adapter drops the message and logs it.
    """


def pack(obj: Any) -> bytes:
    """Encode ``obj`` as msgpack exactly as notepack.io 3 does (see the module docstring).

    Raises :class:`TypeError` for a value msgpack cannot carry: an integer beyond 64 bits, a naive
    ``datetime``, a string with lone surrogates, nesting deeper than the limit, an unknown type.
    """
    data = _to_js(obj, False, 1)
    try:
        packed: bytes = msgpack.packb(data, use_bin_type=True, datetime=True)
    except OverflowError:
        raise TypeError("msgpack cannot carry integers beyond 64 bits (-2**63 to 2**64-1)") from None
    except ValueError as exc:  # lone surrogates (UnicodeEncodeError), the packer's own limits
        raise TypeError(f"cannot pack: {exc}") from None
    return packed


def unpack(payload: bytes | bytearray | memoryview, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Any:
    """Decode one msgpack message; anything but valid msgpack within the limits raises
    :class:`ClusterMessageError`."""
    data = _checked(payload, max_bytes)
    try:
        obj = msgpack.unpackb(
            data, raw=False, strict_map_key=False, use_list=True, timestamp=3, ext_hook=_ext_hook
        )
    except ClusterMessageError:
        raise
    except Exception as exc:  # msgpack raises assorted errors for truncated or malformed input
        raise ClusterMessageError(f"invalid msgpack: {exc or type(exc).__name__}") from None
    # Only a message with more container headers than the limit can be nested that deep.
    deep = len(data) > MAX_DEPTH and data.translate(_CONTAINER_MAP).count(b"[") > MAX_DEPTH
    if deep and depth_exceeds(obj):
        raise ClusterMessageError(f"invalid msgpack: nested deeper than {MAX_DEPTH} levels")
    return obj


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as compact UTF-8 JSON, as ``JSON.stringify`` writes it (see the module docstring).

    Raises :class:`TypeError` for a value JSON cannot carry (as :meth:`JSONCodec.dumps
    <aiosio.protocol.jsoncodec.JSONCodec.dumps>` does).
    """
    data = _to_js(obj, True, 1)
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as exc:
        if not exactjson.orjson_limit(exc):
            raise TypeError(str(exc)) from None
    return exactjson.dumps(data)


def loads(payload: bytes | bytearray | memoryview, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Any:
    """Decode JSON text with the project's JSON limits; bad input raises :class:`ClusterMessageError`."""
    data = _checked(payload, max_bytes)
    try:
        return DEFAULT_JSON.loads(data)
    except ParseError as exc:
        raise ClusterMessageError(str(exc)) from None


def load_either(payload: bytes | bytearray | memoryview, max_bytes: int) -> Any:
    """Decode a payload that is JSON if it starts with ``{`` (0x7b) and msgpack otherwise (Node's sniff)."""
    data = _checked(payload, max_bytes)
    return loads(data, max_bytes) if data[:1] == b"{" else unpack(data, max_bytes)


def has_binary(obj: Any) -> bool:
    """True if ``obj`` holds ``bytes``/``bytearray``/``memoryview`` anywhere (Node's ``hasBinary``)."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, _BINARY):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def js_iso_string(value: _dt.datetime) -> str:
    """``Date.prototype.toJSON()`` of an aware datetime: ``2026-12-01T08:34:31.000Z``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise TypeError("a naive datetime has no place on the wire: give it a timezone")
    u = value.astimezone(_UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond // 1000:03d}Z"
    )


def _checked(payload: Any, max_bytes: int) -> bytes:
    if not isinstance(payload, _BINARY):
        raise ClusterMessageError(f"payload must be bytes, not {type(payload).__name__}")
    size = payload.nbytes if isinstance(payload, memoryview) else len(payload)
    if size > max_bytes:
        raise ClusterMessageError(f"payload of {size} bytes is over the limit of {max_bytes}")
    return payload if type(payload) is bytes else bytes(payload)


def _ext_hook(code: int, data: bytes) -> Any:
    if code != 0:
        return [code, bytes(data)]
    if data == b"\x00":  # notepack.io 2: undefined (fixext 1)
        return None
    if len(data) == 8:  # notepack.io 2: Date as int64 milliseconds (fixext 8)
        try:
            return _EPOCH + _dt.timedelta(milliseconds=int.from_bytes(data, "big", signed=True))
        except OverflowError:
            raise ClusterMessageError("invalid msgpack: legacy date out of range") from None
    return bytes(data)  # notepack.io 2: ArrayBuffer (ext 8/16/32)


def _to_js(value: Any, for_json: bool, level: int) -> Any:
    """``value`` with JavaScript's view of it: integral floats as ints, binary and dates per format.

    Returns ``value`` itself (no copy) when nothing changes, which is the common case.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if value.is_integer() and _INT64_MIN <= value <= _UINT64_MAX:
            return int(value)
        return value
    if kind is list or kind is tuple or kind is dict:
        if level > MAX_DEPTH:
            raise TypeError(f"data nested deeper than {MAX_DEPTH} levels cannot be sent")
        if kind is dict:
            changed: dict[Any, Any] | None = None
            for key, item in value.items():
                new = _to_js(item, for_json, level + 1)
                if new is not item:
                    if changed is None:
                        changed = dict(value)
                    changed[key] = new
            return value if changed is None else changed
        items: list[Any] | None = None
        for index, item in enumerate(value):
            new = _to_js(item, for_json, level + 1)
            if new is not item:
                if items is None:
                    items = list(value)
                items[index] = new
        return value if items is None else items
    if isinstance(value, _BINARY):
        if for_json:
            return {"type": "Buffer", "data": list(bytes(value))}
        return value
    if isinstance(value, _dt.datetime):
        if for_json:
            return js_iso_string(value)
        js_iso_string(value)  # refuses a naive datetime with the same message
        return value
    if isinstance(value, float) and not isinstance(value, bool):
        return _to_js(float(value), for_json, level)
    return value
