"""Binary attachments of the default Socket.IO parser: placeholders out, buffers back in.

``{"_placeholder": true, "num": N}`` stands for the N-th attachment. Reconstruction accepts only that
exact shape with an integer ``num`` inside the received attachments (a non-numeric, negative or
out-of-range ``num`` is an error, never a silent pick of another buffer), and walks the data with an
explicit stack so deep nesting cannot exhaust Python's recursion limit.
"""

from __future__ import annotations

from typing import Any

from .errors import ParseError

BINARY_TYPES = (bytes, bytearray, memoryview)


def is_placeholder(value: Any) -> bool:
    """True for a dict shaped like an attachment placeholder (valid or not)."""
    return isinstance(value, dict) and value.get("_placeholder") is True


def deconstruct(data: Any) -> tuple[Any, list[bytes]]:
    """Replace every bytes-like value in ``data`` with a placeholder; return the copy and buffers.

    Attachments are numbered in depth-first order. Tuples become lists, as they would in JSON.
    """
    buffers: list[bytes] = []

    def walk(value: Any) -> Any:
        if isinstance(value, BINARY_TYPES):
            buffers.append(bytes(value))
            return {"_placeholder": True, "num": len(buffers) - 1}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    return walk(data), buffers


def has_binary(data: Any) -> bool:
    """True if ``data`` contains a bytes-like value anywhere."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, BINARY_TYPES):
            return True
        if isinstance(value, (list, tuple)):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return False


def _resolve(value: dict[str, Any], buffers: list[bytes]) -> bytes:
    num = value.get("num")
    if len(value) != 2 or type(num) is not int or not 0 <= num < len(buffers):
        raise ParseError(f"invalid attachment placeholder: {value!r:.80}")
    return buffers[num]


def reconstruct(data: Any, buffers: list[bytes]) -> Any:
    """Put the attachments back in place of their placeholders (in place), returning the data."""
    if is_placeholder(data):
        return _resolve(data, buffers)
    stack = [data]
    while stack:
        container = stack.pop()
        if isinstance(container, list):
            items: Any = enumerate(container)
        elif isinstance(container, dict):
            items = container.items()
        else:
            continue
        replacements = []
        for key, value in items:
            if isinstance(value, dict):
                if value.get("_placeholder") is True:
                    replacements.append((key, _resolve(value, buffers)))
                else:
                    stack.append(value)
            elif isinstance(value, list):
                stack.append(value)
        for key, buf in replacements:
            container[key] = buf
    return data
