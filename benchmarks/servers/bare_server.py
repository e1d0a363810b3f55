"""Bare aiohttp server: the Python-on-aiohttp ceiling for the Socket.IO benchmarks.

It does the same JSON work as a Socket.IO server (decode each event, encode each reply or
broadcast once) but none of the library machinery: it speaks only as much of the Engine.IO v4 /
Socket.IO v5 wire format as the load generator needs. Namespace `/` only, text packets only.

- websocket transport: aiohttp does the handshake and reads frames; replies and broadcasts are
  framed once by hand and written straight to each connection's transport, the cheapest way to
  send on aiohttp (one `await ws.send_str()` per recipient costs a coroutine each).
- long-polling transport (no upgrade offered): a GET without `sid` opens a session; each POST's
  packets (record-separated) are handled inline and the replies queued; a GET answers at once
  with every queued packet or waits for the first one (at most the ping interval, then answers
  with a ping). One GET and one POST at a time per session (a second one: 400 and the session is
  closed, as Engine.IO does); an unknown sid: 400 ``{"code":1,"message":"Session ID unknown"}``.
Run: ``python benchmarks/servers/bare_server.py --loop asyncio|uvloop --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import struct
from collections import defaultdict
from typing import Any, TypeAlias

import orjson
from aiohttp import WSMsgType, web
from common import LOOPS, run

# Same timings and limits as the Socket.IO servers (see sio_server.py), announced in the open
# packet; this server never pings, which is allowed as long as the interval is not reached.
PING_INTERVAL_MS = 300_000
OPEN_OPTIONS = {
    "upgrades": [],
    "pingInterval": PING_INTERVAL_MS,
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


SEP = "\x1e"  # between the packets of a long-polling payload
UNKNOWN_SID = b'{"code":1,"message":"Session ID unknown"}'
BAD_REQUEST = b'{"code":3,"message":"Bad request"}'


class PollSession:
    """One long-polling Engine.IO session: the packets queued for its next GET."""

    __slots__ = ("busy_get", "busy_post", "closed", "queue", "sid", "waiter")

    def __init__(self, sid: str) -> None:
        """A fresh session with nothing queued."""
        self.sid = sid
        self.queue: list[str] = []
        self.waiter: asyncio.Future[None] | None = None
        self.busy_get = self.busy_post = self.closed = False

    def send(self, packet: str) -> None:
        """Queue one Engine.IO packet and wake the pending GET, if any."""
        self.queue.append(packet)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def close(self) -> None:
        """Mark the session closed; a pending GET answers with a close packet."""
        if not self.closed:
            self.closed = True
            self.send("1")


Peer: TypeAlias = "asyncio.Transport | PollSession"


def send_all(
    targets: set[asyncio.Transport], event: list[Any], polls: set[PollSession] | None = None
) -> None:
    """Encode and frame `event` once, then write it to every transport in `targets` (and queue it
    for every long-polling session in `polls`)."""
    payload = b"42" + orjson.dumps(event)
    frame = ws_frame(payload)
    for transport in targets:
        if not transport.is_closing():
            transport.write(frame)
    if polls:
        text = payload.decode()
        for session in polls:
            session.send(text)


class Hub:
    """Connected sockets and rooms (as transports, long-polling sessions apart), and the handlers of
    the benchmark events."""

    def __init__(self) -> None:
        """Start with no sockets and no rooms."""
        self.sockets: set[asyncio.Transport] = set()
        self.rooms: defaultdict[str, set[asyncio.Transport]] = defaultdict(set)
        self.polls: dict[str, PollSession] = {}  # open long-polling sessions by sid
        self.poll_sockets: set[PollSession] = set()  # those connected to namespace `/`
        self.poll_rooms: defaultdict[str, set[PollSession]] = defaultdict(set)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one request: a websocket-transport connection from open packet to close, or one
        long-polling GET or POST."""
        transport_name = request.query.get("transport")
        if transport_name == "polling" and request.query.get("EIO") == "4":
            return await self.poll(request)
        if transport_name != "websocket" or "sid" in request.query:
            # No upgrade is offered, so a websocket request naming a session is as bad as an
            # unknown transport.
            raise web.HTTPBadRequest(body=BAD_REQUEST, content_type="application/json")
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

    async def poll(self, request: web.Request) -> web.StreamResponse:
        """One long-polling request: the handshake, a GET (the server's packets) or a POST."""
        sid = request.query.get("sid")
        if sid is None:
            if request.method != "GET":
                raise web.HTTPBadRequest(body=BAD_REQUEST, content_type="application/json")
            session = PollSession(secrets.token_urlsafe(15))
            self.polls[session.sid] = session
            return text_response("0" + orjson.dumps({"sid": session.sid, **OPEN_OPTIONS}).decode())
        found = self.polls.get(sid)
        if found is None:
            raise web.HTTPBadRequest(body=UNKNOWN_SID, content_type="application/json")
        if request.method == "GET":
            return await self.poll_get(found)
        if request.method == "POST":
            return await self.poll_post(found, request)
        raise web.HTTPBadRequest(body=BAD_REQUEST, content_type="application/json")

    async def poll_get(self, session: PollSession) -> web.StreamResponse:
        """Answer with every queued packet, waiting for the first one if there is none."""
        if session.busy_get:  # overlapping GETs: Engine.IO refuses the second and closes
            self.drop(session)
            raise web.HTTPBadRequest(body=BAD_REQUEST, content_type="application/json")
        session.busy_get = True
        try:
            if not session.queue:
                loop = asyncio.get_running_loop()
                waiter = session.waiter = loop.create_future()
                # Nothing to say for a ping interval: a ping.
                timer = loop.call_later(PING_INTERVAL_MS / 1000, session.send, "2")
                try:
                    await waiter
                finally:
                    timer.cancel()
                    session.waiter = None
            packets, session.queue = session.queue, []
        finally:
            session.busy_get = False
        return text_response(SEP.join(packets))

    async def poll_post(self, session: PollSession, request: web.Request) -> web.StreamResponse:
        """Handle every packet of the POST's payload; answer ``ok``."""
        if session.busy_post:  # overlapping POSTs: refused, the session closed
            self.drop(session)
            raise web.HTTPBadRequest(body=BAD_REQUEST, content_type="application/json")
        session.busy_post = True
        try:
            body = await request.text()
        finally:
            session.busy_post = False
        try:
            for packet in body.split(SEP):
                if session.closed:
                    break
                self.on_poll_packet(session, packet)
        except (ValueError, IndexError):  # not the benchmark's packets: refused, the session closed
            self.drop(session)
            raise web.HTTPBadRequest(body=BAD_REQUEST, content_type="application/json") from None
        return text_response("ok")

    def on_poll_packet(self, session: PollSession, text: str) -> None:
        """Dispatch one Engine.IO packet of a long-polling session."""
        if text.startswith("42"):
            ack_id, args = split_event(text)
            self.on_event(session, ack_id, args)
        elif text.startswith("40"):
            self.poll_sockets.add(session)
            session.send('40{"sid":"' + secrets.token_urlsafe(15) + '"}')
        elif text == "41":
            self.leave(session)
        elif text == "1":
            self.drop(session)
        # "3" (pong) and anything else: nothing to do

    def leave(self, session: PollSession) -> None:
        """Take a long-polling session out of namespace `/` and its rooms."""
        self.poll_sockets.discard(session)
        for members in self.poll_rooms.values():
            members.discard(session)

    def drop(self, session: PollSession) -> None:
        """Close a long-polling session and forget it."""
        self.leave(session)
        self.polls.pop(session.sid, None)
        session.close()

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

    def on_event(self, peer: Peer, ack_id: str, args: list[Any]) -> None:
        """Run the benchmark event `args[0]` with the remaining arguments."""
        name = args[0]
        if name == "echo":
            reply: list[Any] = [args[1]]
        elif name == "bcast":
            send_all(self.sockets, ["msg", args[1]], self.poll_sockets)
            return
        elif name == "join":
            if isinstance(peer, PollSession):
                self.poll_rooms[args[1]].add(peer)
            else:
                self.rooms[args[1]].add(peer)
            reply = [True]
        elif name == "to_room":
            send_all(self.rooms.get(args[1], set()), ["msg", args[2]], self.poll_rooms.get(args[1]))
            return
        else:
            return
        if ack_id:
            payload = b"43" + ack_id.encode() + orjson.dumps(reply)
            if isinstance(peer, PollSession):
                peer.send(payload.decode())
            else:
                peer.write(ws_frame(payload))


def text_response(text: str) -> web.Response:
    """A long-polling response body (Engine.IO's text/plain, UTF-8)."""
    return web.Response(body=text.encode(), headers={"Content-Type": "text/plain; charset=UTF-8"})


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
    app.router.add_post("/socket.io/", hub.handle)  # long-polling POSTs
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
