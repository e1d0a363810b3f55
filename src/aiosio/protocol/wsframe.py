"""Server-to-client WebSocket frames (RFC 6455), built once and written to many connections.

Frames from a server are never masked, so the bytes of a frame do not depend on the recipient:
a broadcast builds its frame once and every recipient's transport gets the same object.
"""

from __future__ import annotations

import struct

OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
_FIN = 0x80


def build_frame(payload: bytes, opcode: int) -> bytes:
    """Return an unmasked, unfragmented, uncompressed frame carrying ``payload``."""
    n = len(payload)
    first = _FIN | opcode
    if n < 126:
        header = bytes((first, n))
    elif n < 65536:
        header = struct.pack("!BBH", first, 126, n)
    else:
        header = struct.pack("!BBQ", first, 127, n)
    return header + payload
