"""The Admin UI on an ASGI server: ``aiosio.ASGIApp`` under a real uvicorn (in this process), the
admin and a client npm socket.io-clients. The instrumentation sits on the observer seam, above both
transports, so the same reports come out."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest
from admin_support import CREDENTIALS, admin_event, admin_event_where, connect_admin, connect_user
from node_driver import NodeDriver

import aiosio
from aiosio.admin.ui import find_ui
from peers import require_module

sys.path.insert(0, str(Path(__file__).parent.parent / "asgi"))

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


async def test_admin_reports_on_an_asgi_server(node: NodeDriver) -> None:
    """The UI's files as ASGIApp static files; all_sockets (with the ASGI request's handshake), a
    live upgrade (socket_updated) and server_stats counting the traffic, under uvicorn."""
    require_module("uvicorn")
    from asgi_support import start_uvicorn, stop_uvicorn

    sio = aiosio.AsyncServer()
    admin = sio.instrument(auth=CREDENTIALS, server_stats_interval=0.2)
    ui = find_ui()
    static = {"/admin-ui": str(ui)} if ui is not None else None  # the UI, as docs/admin-ui.md says
    uv, task, port = await start_uvicorn(aiosio.ASGIApp(sio, static_files=static))
    url = f"http://127.0.0.1:{port}"
    try:
        if ui is not None:
            async with aiohttp.ClientSession() as http, http.get(f"{url}/admin-ui/") as page:
                assert page.status == 200 and "<title>Socket.IO Admin UI</title>" in await page.text()
        user = await connect_user(node, url, "u1", query={"team": "a"})
        await connect_admin(node, url, transports=["websocket"])
        (sockets,) = await admin_event(node, "all_sockets")
        record = next(s for s in sockets if s["id"] == user)
        assert record["handshake"]["query"]["team"] == "a"
        assert record["handshake"]["address"] == "127.0.0.1"

        upgrading = await connect_user(node, url, "u2", transports=["polling", "websocket"])
        await admin_event_where(node, "socket_updated", lambda a: a[0]["id"] == upgrading)
        counted: set[str] = set()
        async with asyncio.timeout(10):
            while not {"packetsIn", "bytesOut"} <= counted:
                (stats,) = await admin_event(node, "server_stats")
                counted.update(e["type"] for e in stats["aggregatedEvents"])
        # u1, the admin and u2 (earlier reports, sent before u2 connected, may still be unread).
        await admin_event_where(node, "server_stats", lambda a: a[0]["clientsCount"] == 3)
    finally:
        await admin.shutdown()
        await sio.shutdown()
        await stop_uvicorn(uv, task)
