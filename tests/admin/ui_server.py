"""The test server for the Admin UI in a browser: an instrumented aiosio server that also serves
the UI (``aiosio.admin.serve_ui``, from the repository's node_modules), with two clients of its
own already connected and in rooms. Prints ``SOCKET <sid> <room>`` for each, then its URL.

Run: ``python ui_server.py PORT``.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from aiohttp import web

import aiosio
from aiosio.admin import serve_ui

CREDENTIALS = {"username": "admin", "password": "s3cret"}
#: How the server is named in the UI's server list (test_admin_ui_browser.py looks for it).
SERVER_ID = "ui-test-server"


async def main(port: int) -> None:
    """Serve until killed."""
    sio = aiosio.AsyncServer()  # the UI is served from the same origin: no CORS setting needed
    admin = sio.instrument(auth=CREDENTIALS, server_id=SERVER_ID, server_stats_interval=0.5)

    @sio.on("join")
    async def join(sid: str, room: str) -> str:
        await sio.enter_room(sid, room)
        return room

    app = web.Application()
    sio.attach(app)
    serve_ui(app)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    clients = []
    for room in ("room-blue", "room-red"):
        client = aiosio.AsyncClient()
        await client.connect(url, transports=["websocket"])
        await client.call("join", room)
        clients.append(client)
        print(f"SOCKET {client.get_sid()} {room}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"serving {url}", flush=True)
    try:
        await stop.wait()
    finally:
        for client in clients:
            await client.disconnect()
        await admin.shutdown()
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
