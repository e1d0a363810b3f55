"""JSON for the wire: orjson by default, or a user's ``json``-compatible module.

orjson is strict where Python's :mod:`json` is not: it rejects ``NaN``/``Infinity``, invalid UTF-8 and
nesting deeper than 1024 levels, so none of those reach application handlers. A custom module (the
``json=`` argument of python-socketio) must offer ``dumps(obj) -> str`` and ``loads(str)``.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from .errors import ParseError


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
                raise TypeError(str(exc)) from exc
        return self._custom.dumps(obj).encode()

    def loads(self, data: str | bytes | memoryview) -> Any:
        """Decode JSON text; any malformed input raises :class:`ParseError`."""
        if self._custom is None:
            try:
                return orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise ParseError(f"invalid JSON: {exc}") from None
        try:
            text = data if isinstance(data, str) else bytes(data).decode()
            return self._custom.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"invalid JSON: {exc}") from None


#: The shared default codec (orjson).
DEFAULT_JSON = JSONCodec()
