"""An aiosio node on Redis Streams with connection-state recovery, as a real process (the SIGKILL
test kills it): ``python csr_app.py <redis url> <stream> <channel prefix> <session prefix>``.
A new socket joins room r1 and gets the session ``{"user": "ann"}``. Prints its URL once serving."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from aiohttp import web

import aiosio


async def main(url: str, stream: str, prefix: str, sessions: str) -> None:
    manager = aiosio.AsyncRedisManager(
        url, channel=prefix, mode="streams", stream_name=stream, session_key_prefix=sessions
    )
    sio = aiosio.AsyncServer(
        client_manager=manager, connection_state_recovery=True, ping_interval=1, ping_timeout=1
    )

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        if not sio.recovered(sid):
            await sio.enter_room(sid, "r1")
            async with sio.session(sid) as session:
                session["user"] = "ann"

    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"serving on http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
