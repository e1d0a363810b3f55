"""An aiosio server of a chat cluster: every server sharing the Redis at ``$REDIS_URL`` (aiosio
and Node socket.io alike, see node_node.js) serves the same rooms and broadcasts.

    redis-server --port 6380 --save ""                     # one Redis, nothing written to disk
    PORT=8001 python examples/cluster/python_node.py       # http://127.0.0.1:8001
    PORT=8002 python examples/cluster/python_node.py       # a second aiosio server
    PORT=8003 node examples/cluster/node_node.js           # a Node socket.io server

Open two of them in two browser tabs and chat: a message sent on one server reaches the clients of
every server. Events: ``join(room)`` -> ack ``{server, room}``; ``chat({text, room?})`` broadcasts
``chat({server, text})`` to the room (to everyone without one); ``who()`` -> ack ``{servers,
sockets, missing}``, the sockets of the whole cluster.
"""

import os
from pathlib import Path

from aiohttp import web

import aiosio
from aiosio.demo.bundle import add_client_routes

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6380/0")
PORT = int(os.environ.get("PORT", "8001"))
NAME = os.environ.get("NAME", f"python:{PORT}")
INDEX = Path(__file__).with_name("index.html")

# The one line that makes this server part of the cluster.
sio = aiosio.AsyncServer(client_manager=aiosio.AsyncRedisManager(REDIS_URL))
app = web.Application()
add_client_routes(app)  # /socket.io/socket.io.min.js for the page, as Node serves it
sio.attach(app)


async def index(request: web.Request) -> web.StreamResponse:
    """The chat page."""
    return web.FileResponse(INDEX)


app.router.add_get("/", index)


@sio.event
async def connect(sid: str, environ: dict[str, object]) -> None:
    """Tell the client which server it reached."""
    await sio.emit("welcome", {"server": NAME}, to=sid)


@sio.event
async def join(sid: str, room: object) -> dict[str, str]:
    """Join a room; the ack says where."""
    await sio.enter_room(sid, str(room))
    return {"server": NAME, "room": str(room)}


@sio.event
async def chat(sid: str, message: object) -> None:
    """Broadcast to a room, or to everyone, on every server of the cluster."""
    if not isinstance(message, dict):
        return
    room = message.get("room")
    to = str(room) if room else None
    await sio.emit("chat", {"server": NAME, "text": str(message.get("text", ""))}, to=to)


@sio.event
async def who(sid: str) -> dict[str, object]:
    """Every socket of the cluster (``missing``: servers that did not answer in time)."""
    sockets = await sio.fetch_sockets(timeout=2)
    return {
        "servers": await sio.server_count(),
        "sockets": sorted(s.sid for s in sockets),
        "missing": sockets.missing,
    }


if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=PORT)
