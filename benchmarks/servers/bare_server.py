"""Bare aiohttp WebSocket server: the Python-on-aiohttp ceiling for the Socket.IO benchmarks.

It does the same JSON work as a Socket.IO server (decode each event, encode each reply or
broadcast once) but none of the library machinery: it speaks only as much of the Engine.IO v4 /
Socket.IO v5 wire format as the load generator needs, over the websocket transport only (the
polling scenario is skipped for this target). Namespace `/` only, text packets only. aiohttp does
the handshake and reads frames; replies and broadcasts are framed once by hand and written
straight to each connection's transport, the cheapest way to send on aiohttp (one
`await ws.send_str()` per recipient costs a coroutine each).
Run: ``python benchmarks/servers/bare_server.py --loop asyncio|uvloop --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import struct
from collections import defaultdict
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from common import LOOPS, run

# Same timings and limits as the Socket.IO servers (see sio_server.py), announced in the open
# packet; this server never pings, which is allowed as long as the interval is not reached.
OPEN_OPTIONS = {
    "upgrades": [],
    "pingInterval": 300_000,
    "pingTimeout": 300_000,
    "maxPayload": 100_000_000,
}


def ws_frame(payload: bytes) -> bytes:
    """A complete, unmasked server text frame (RFC 6455, section 5.2) carrying `payload`."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def send_all(targets: set[asyncio.Transport], event: list[Any]) -> None:
    """Encode and frame `event` once, then write it to every transport in `targets`."""
    frame = ws_frame(b"42" + orjson.dumps(event))
    for transport in targets:
        if not transport.is_closing():
            transport.write(frame)


class Hub:
    """Connected sockets and rooms (as transports), and the handlers of the benchmark events."""

    def __init__(self) -> None:
        """Start with no sockets and no rooms."""
        self.sockets: set[asyncio.Transport] = set()
        self.rooms: defaultdict[str, set[asyncio.Transport]] = defaultdict(set)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one websocket-transport connection from open packet to close."""
        if request.query.get("transport") != "websocket":
            # Polling is out of scope for the ceiling; 400 like an unknown transport.
            raise web.HTTPBadRequest(text="websocket transport only")
        ws = web.WebSocketResponse(max_msg_size=100_000_000, compress=False)
        await ws.prepare(request)
        transport = request.transport
        if transport is None:  # the client went away during the handshake
            return ws
        opening = {"sid": secrets.token_urlsafe(15), **OPEN_OPTIONS}
        await ws.send_str("0" + orjson.dumps(opening).decode())
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    if msg.data in ("1", "41"):
                        break
                    self.on_packet(transport, msg.data)
        finally:
            self.sockets.discard(transport)
            for members in self.rooms.values():
                members.discard(transport)
        return ws

    def on_packet(self, transport: asyncio.Transport, text: str) -> None:
        """Dispatch one Engine.IO packet (with its Socket.IO packet inside, if any)."""
        if text.startswith("42"):
            ack_id, args = split_event(text)
            self.on_event(transport, ack_id, args)
        elif text.startswith("40"):
            self.sockets.add(transport)
            sid = secrets.token_urlsafe(15)
            transport.write(ws_frame(b'40{"sid":"' + sid.encode() + b'"}'))
        elif text == "2":
            transport.write(ws_frame(b"3"))

    def on_event(self, transport: asyncio.Transport, ack_id: str, args: list[Any]) -> None:
        """Run the benchmark event `args[0]` with the remaining arguments."""
        name = args[0]
        if name == "echo":
            reply: list[Any] = [args[1]]
        elif name == "bcast":
            send_all(self.sockets, ["msg", args[1]])
            return
        elif name == "join":
            self.rooms[args[1]].add(transport)
            reply = [True]
        elif name == "to_room":
            send_all(self.rooms.get(args[1], set()), ["msg", args[2]])
            return
        else:
            return
        if ack_id:
            transport.write(ws_frame(b"43" + ack_id.encode() + orjson.dumps(reply)))


def split_event(text: str) -> tuple[str, list[Any]]:
    """Split a `42[<ack id>][...]` packet into its ack id ("" if none) and decoded arguments."""
    start = 2
    while text[start].isdigit():
        start += 1
    return text[2:start], orjson.loads(text[start:])


def build_app() -> web.Application:
    """Create the aiohttp app with the hub on the Socket.IO path."""
    hub = Hub()
    app = web.Application()
    app.router.add_get("/socket.io/", hub.handle)
    return app


def main() -> None:
    """Parse arguments and serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loop", choices=LOOPS, default="asyncio")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    run(build_app, args.port, args.loop)


if __name__ == "__main__":
    main()
