"""ASCII-only integer parsing.

``str.isdigit()`` and ``int()`` accept non-ASCII digits (``'\\u0663'`` is 3) and signs, underscores
and spaces; ids and counts on the wire are plain ASCII digits, so they are parsed with this instead.
"""

from __future__ import annotations

from .errors import ParseError

#: The largest integer a JavaScript peer represents exactly (``Number.MAX_SAFE_INTEGER``).
MAX_SAFE_INTEGER = 2**53 - 1

_ASCII_DIGITS = frozenset("0123456789")


def scan_digits(text: str, start: int) -> int:
    """Return the index just past the run of ASCII digits that begins at ``start``."""
    end = start
    n = len(text)
    while end < n and text[end] in _ASCII_DIGITS:
        end += 1
    return end


def parse_uint(text: str, what: str, maximum: int = MAX_SAFE_INTEGER) -> int:
    """Parse ``text`` as an unsigned decimal of ASCII digits no larger than ``maximum``.

    Raises :class:`ParseError` naming ``what`` for anything else (empty, signs, non-ASCII digits,
    or too many digits to be at most ``maximum``).
    """
    if not text or len(text) > len(str(maximum)) or not _ASCII_DIGITS.issuperset(text):
        raise ParseError(f"invalid {what}: {text[:24]!r}")
    value = int(text)
    if value > maximum:
        raise ParseError(f"{what} out of range: {text[:24]!r}")
    return value
