"""JSON for the wire: orjson by default, or a user's ``json``-compatible module.

orjson is strict where Python's :mod:`json` is not: it rejects ``NaN``/``Infinity`` and invalid UTF-8,
so none of those reach application handlers. It has two gaps, covered by the exact codec
(:mod:`.exactjson`) at no cost to ordinary data: it writes no integer beyond 64 bits and no more than
254 levels of nesting, and it reads integers beyond 64 bits as floats. Input and output share one set
of limits (:mod:`.nesting`): at most 512 levels, at most 4300 digits per integer.

A custom module (the ``json=`` argument of python-socketio) must offer ``dumps(obj) -> str`` and
``loads(str)``; it is used as it is.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from . import exactjson
from .errors import ParseError
from .nesting import MAX_DEPTH, depth_exceeds

#: Text shorter than this cannot be nested more than :data:`MAX_DEPTH` levels (each level takes
#: two brackets), so only longer text is checked.
_DEEP_MIN_LEN = 2 * MAX_DEPTH + 2
#: Text shorter than this can hold neither an integer orjson rounds nor too deep a nesting.
_SHORT = min(exactjson.MIN_ROUNDED_LEN, _DEEP_MIN_LEN)
#: ASCII digits to ``0``, ``-`` to itself, ``[`` and ``{`` to ``[``, every other byte to ``x``.
_SHAPE_MAP = bytes(0x5B if b in (0x5B, 0x7B) else m for b, m in enumerate(exactjson.DIGIT_MAP))
_RUN19 = exactjson.RUN19


class JSONModule(Protocol):
    """What a custom ``json=`` module must provide (the standard library's :mod:`json` fits)."""

    def dumps(self, obj: Any) -> str:  # pragma: no cover - protocol
        """Serialize ``obj`` to a JSON string."""
        ...

    def loads(self, s: str) -> Any:  # pragma: no cover - protocol
        """Parse a JSON string."""
        ...


class JSONCodec:
    """Encodes to UTF-8 JSON bytes and decodes JSON text, raising :class:`ParseError` on bad input."""

    __slots__ = ("_custom",)

    def __init__(self, module: JSONModule | None = None) -> None:
        self._custom = module

    def dumps(self, obj: Any) -> bytes:
        """Encode ``obj`` as compact UTF-8 JSON bytes.

        Raises :class:`TypeError` for values JSON cannot carry (that is a programming error on the
        sending side, not bad input from a peer).
        """
        if self._custom is None:
            try:
                return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
            except orjson.JSONEncodeError as exc:
                if not exactjson.orjson_limit(exc):
                    raise TypeError(str(exc)) from exc
            return exactjson.dumps(obj)
        return self._custom.dumps(obj).encode()

    def loads(self, data: str | bytes | memoryview) -> Any:
        """Decode JSON text; any malformed input raises :class:`ParseError`."""
        if self._custom is None:
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                if exactjson.rounded_refusal(exc):
                    return exactjson.loads(bytes(data) if type(data) is memoryview else data, checked=False)
                raise ParseError(f"invalid JSON: {exc}") from None
            if len(data) < _SHORT:
                return obj
            # One translation of the raw text (in C, ~0.2 us for small messages) answers both
            # questions: a long run of digits (an integer orjson may have rounded) and how many
            # brackets (only text with more than the nesting limit needs its depth walked).
            raw = (
                data.encode()
                if isinstance(data, str)
                else bytes(data)
                if isinstance(data, memoryview)
                else data
            )
            shape = raw.translate(_SHAPE_MAP)
            if len(raw) >= _DEEP_MIN_LEN and shape.count(b"[") > MAX_DEPTH and depth_exceeds(obj):
                raise ParseError(f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
            if shape.find(_RUN19) >= 0 and exactjson.may_be_rounded(raw):
                return exactjson.loads(raw)
            return obj
        try:
            text = data if isinstance(data, str) else bytes(data).decode()
            return self._custom.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"invalid JSON: {exc}") from None


#: The shared default codec (orjson).
DEFAULT_JSON = JSONCodec()
