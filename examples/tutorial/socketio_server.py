"""Tutorial 2: a Socket.IO server on aiohttp that prints every ``message`` it receives.

    python examples/tutorial/socketio_server.py                     # http://127.0.0.1:8080
    aiosio run socketio_server:app --app-dir examples/tutorial      # the same, via the CLI

Open the page, type a message, and watch this terminal. From a shell instead of a browser::

    aiosio client http://127.0.0.1:8080 --emit message '"hello from the shell"'
"""

import os
from pathlib import Path

from aiohttp import web

import aiosio
from aiosio.demo.bundle import add_client_routes

sio = aiosio.AsyncServer()
app = web.Application()
# The page loads the official socket.io-client bundle from this server, like Node's serveClient,
# so it works without internet access.
add_client_routes(app)
sio.attach(app)

INDEX = Path(__file__).with_name("index.html")


async def index(request: web.Request) -> web.StreamResponse:
    """Serve the page."""
    return web.FileResponse(INDEX)


@sio.on("message")
async def print_message(sid: str, message: object) -> None:
    """Print who sent what, as the tutorial does."""
    print("Socket ID:", sid, flush=True)
    print(message, flush=True)


app.router.add_get("/", index)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
