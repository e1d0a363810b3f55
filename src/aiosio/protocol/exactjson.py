"""Exact JSON for the few values orjson refuses to write or cannot read exactly.

orjson writes at most 254 levels of nesting and no integer beyond 64 bits, and it reads an integer
beyond 64 bits as a float (``2**64 + 1`` becomes ``1.8446744073709552e+19``). Python peers send
both, and JavaScript peers send integers that large. For those values only, this module uses the
standard :mod:`json` module, under the same limits everywhere (:mod:`.nesting`): no NaN/Infinity,
at most :data:`~.nesting.MAX_DEPTH` levels, at most :data:`~.nesting.MAX_INT_DIGITS` digits.

Reading always goes through orjson first (it validates UTF-8, syntax and NaN/Infinity); this module
only re-reads text that orjson accepted but may have rounded.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from .errors import ParseError
from .nesting import MAX_DEPTH, MAX_INT_DIGITS, check_sendable, depth_exceeds

#: orjson's messages for the two refusals the exact encoder takes over (pinned by the unit tests).
_ORJSON_LIMITS = ("Recursion limit reached", "64-bit range")

#: orjson's message for a number too large for a double (an integer of more than 308 digits).
_INFINITE_NUMBER = "number is infinity when parsed as double"

#: Maps ASCII digits to ``0`` and every other byte to ``x``: a run of ``0`` is then a run of digits.
DIGIT_MAP: bytes = bytes(0x30 if 0x30 <= b <= 0x39 else (0x2D if b == 0x2D else 0x78) for b in range(256))
#: A JSON integer orjson reads as a float: 20 digits or more, or a minus sign and 19 or more.
RUN19: bytes = b"0" * 19
_RUN20 = b"0" * 20
_NEG19 = b"-" + RUN19
#: The shortest text that can hold such an integer.
MIN_ROUNDED_LEN = 20


def orjson_limit(exc: orjson.JSONEncodeError) -> bool:
    """True if orjson refused to encode only because of its depth or integer limits."""
    message = str(exc)
    return any(limit in message for limit in _ORJSON_LIMITS)


def _not_serializable(obj: Any) -> Any:
    # Values the standard encoder does not know (datetime, UUID, dataclasses...) as orjson writes them.
    try:
        return orjson.loads(orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS))
    except orjson.JSONEncodeError as exc:
        raise TypeError(str(exc)) from None


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as compact UTF-8 JSON, exactly, within the project's limits.

    Raises :class:`TypeError` for anything that cannot be sent: deeper than the nesting limit, an
    integer with too many digits, NaN/Infinity, lone surrogates, or a type JSON cannot carry.
    """
    check_sendable(obj)
    try:
        text = json.dumps(
            obj,
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
            default=_not_serializable,
        )
        return text.encode()
    except (ValueError, RecursionError) as exc:
        raise TypeError(f"cannot encode as JSON: {exc}") from None


def may_be_rounded(raw: bytes) -> bool:
    """True if orjson may have read an integer in ``raw`` as a float (it has a long run of digits).

    Callers first look for ``RUN19`` in ``raw.translate(DIGIT_MAP)`` (cheap, in C), which clears nearly all
    text; this refines it so that 19-digit numbers within 64 bits (nanosecond timestamps) stay on
    orjson. False positives only cost a re-read.
    """
    digits = raw.translate(DIGIT_MAP)
    return _RUN20 in digits or _NEG19 in digits


def _reject_constant(name: str) -> Any:
    raise ParseError(f"invalid JSON: {name} is not allowed")


def _parse_int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise ParseError(f"invalid JSON: integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ParseError("invalid JSON: number out of range")
    return value


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant)


def rounded_refusal(exc: orjson.JSONDecodeError) -> bool:
    """True if orjson refused text only because an integer in it overflows a double (>308 digits)."""
    return _INFINITE_NUMBER in str(exc)


def loads(data: str | bytes, checked: bool = True) -> Any:
    """Decode JSON text with integers of any size kept exact.

    ``checked`` means orjson already accepted the text (so its UTF-8, strings and nesting are
    valid); otherwise orjson refused it only for a huge integer and the rest is checked here: no
    string may hold a lone surrogate, no nesting may exceed the limit.
    """
    try:
        text = data if isinstance(data, str) else data.decode()
        obj = _DECODER.decode(text)
        if not checked and depth_exceeds(obj):
            raise ParseError(f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
    except ParseError:
        raise
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"invalid JSON: {exc}") from None
    if not checked and not _strings_valid(obj):
        raise ParseError("invalid JSON: lone surrogate in a string")
    return obj


def _strings_valid(obj: Any) -> bool:
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode()
                except UnicodeEncodeError:
                    return False
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
    return True
