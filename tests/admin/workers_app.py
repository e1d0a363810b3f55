"""The app test_admin_workers.py serves with ``aiosio run workers_app:sio --workers 2``: every
worker instruments its server (no authentication, stats every 0.3 s)."""

from __future__ import annotations

import aiosio

sio = aiosio.AsyncServer()
admin = sio.instrument(auth=False, server_stats_interval=0.3)


@sio.on("join")
async def join(sid: str, room: str) -> str:
    """Join ``room`` (on this client's worker)."""
    await sio.enter_room(sid, room)
    return "joined"
