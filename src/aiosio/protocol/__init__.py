"""Sans-IO protocol core: Engine.IO v4 and Socket.IO v5 codecs and state machines.

Nothing here does I/O, touches asyncio or aiohttp, or reads a clock: bytes and time go in as arguments,
packets, events, bytes and deadlines come out. Every decoder returns a packet or raises
:class:`~aiosio.protocol.errors.ParseError`, for any input.
"""

from .errors import ParseError

__all__ = ["ParseError"]
