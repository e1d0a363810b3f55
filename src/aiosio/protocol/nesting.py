"""The limits every parser applies to the data of one packet: nesting depth and integer size.

One set of numbers for JSON input and output, so whatever a peer may send can also be sent back (an
echo never fails where the receive succeeded). The msgpack parser keeps its library's own limit of
1,023 levels both ways, and msgpack cannot carry integers beyond 64 bits at all:

- nesting: at most :data:`MAX_DEPTH` levels of lists and maps in a packet's data. The data of an
  EVENT is the list ``[name, *args]``, which is one level itself.
- integers: at most :data:`MAX_INT_DIGITS` decimal digits (CPython's own default cap on int/str
  conversion, which is quadratic in the number of digits).

The walks below use an explicit stack: no input can exhaust Python's recursion limit.
"""

from __future__ import annotations

from typing import Any

#: Levels of lists and maps allowed in one packet's data, in both directions.
MAX_DEPTH = 512

#: Decimal digits allowed in one integer, in both directions.
MAX_INT_DIGITS = 4300

#: The smallest integer magnitude with more than :data:`MAX_INT_DIGITS` digits.
INT_LIMIT = 10**MAX_INT_DIGITS

_CONTAINERS = (list, tuple, dict)


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True if ``value`` has more than ``limit`` levels of lists, tuples and dicts."""
    if not isinstance(value, _CONTAINERS):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children if isinstance(child, _CONTAINERS))
    return False


def check_sendable(value: Any) -> None:
    """Raise :class:`TypeError` if ``value`` is nested too deep or holds an integer too large to send.

    Only the slow (exact) encoder calls this: orjson enforces tighter limits itself.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        _check_int(value)
        return
    if not isinstance(value, _CONTAINERS):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > MAX_DEPTH:
            raise TypeError(f"data nested deeper than {MAX_DEPTH} levels cannot be sent")
        if isinstance(item, dict):
            for key in item:
                if type(key) is int:
                    _check_int(key)
            children: Any = item.values()
        else:
            children = item
        for child in children:
            if isinstance(child, _CONTAINERS):
                stack.append((child, level + 1))
            elif type(child) is int:
                _check_int(child)


def _check_int(value: int) -> None:
    if value.bit_length() > 64 and abs(value) >= INT_LIMIT:
        raise TypeError(f"integers of more than {MAX_INT_DIGITS} digits cannot be sent")
