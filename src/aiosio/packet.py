"""Socket.IO packet type numbers, as python-socketio's ``socketio.packet`` names them.

``from aiosio import packet; packet.EVENT`` works as with python-socketio. The packet codec itself
is :mod:`aiosio.protocol.parser` (``make_parser``, one ``Parser`` per ``serializer``) over the packets of
:mod:`aiosio.protocol.socketio` (``Packet``, ``PacketType``); python-socketio's ``packet.Packet`` class
is not provided.
"""

from __future__ import annotations

from .protocol.socketio import PacketType

CONNECT = int(PacketType.CONNECT)
DISCONNECT = int(PacketType.DISCONNECT)
EVENT = int(PacketType.EVENT)
ACK = int(PacketType.ACK)
CONNECT_ERROR = int(PacketType.CONNECT_ERROR)
BINARY_EVENT = int(PacketType.BINARY_EVENT)
BINARY_ACK = int(PacketType.BINARY_ACK)

#: Names by type number.
packet_names = ["CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"]

__all__ = [
    "ACK",
    "BINARY_ACK",
    "BINARY_EVENT",
    "CONNECT",
    "CONNECT_ERROR",
    "DISCONNECT",
    "EVENT",
    "PacketType",
    "packet_names",
]
