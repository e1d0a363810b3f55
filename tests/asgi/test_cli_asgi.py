"""``aiosio run module:attr`` with an ASGI target: served by uvicorn (a real process, stopped by its
pid), clean stop, and clear refusals (``--workers``, uvicorn missing)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
import socketio  # PyPI python-socketio, the client peer

from processes import AIOSIO, ServerProcess

pytestmark = pytest.mark.timeout(60)

WAIT = 10.0

APP = textwrap.dedent(
    """
    from fastapi import FastAPI

    import aiosio

    sio = aiosio.AsyncServer(async_mode="asgi")


    @sio.event
    async def echo(sid, data):
        return data


    api = FastAPI()


    @api.get("/hello")
    async def hello():
        return {"hello": "world"}


    api.mount("/ws", aiosio.ASGIApp(sio))
    app = aiosio.ASGIApp(sio, other_asgi_app=api)
    """
)


def write_app(folder: Path) -> Path:
    (folder / "fapp.py").write_text(APP)
    return folder


async def test_run_serves_an_asgi_app_with_uvicorn_and_stops_cleanly(
    start: Callable[[list[str]], ServerProcess], tmp_path: Path
) -> None:
    """``aiosio run fapp:app``: uvicorn serves it (its ``server`` header), FastAPI's route and
    Socket.IO answer (at ``/socket.io`` and mounted at ``/ws/socket.io``); on SIGTERM the Socket.IO
    server closes its clients first (a waiting long-poll is answered with CLOSE at once, instead of
    holding uvicorn's shutdown), and the process exits 0."""
    folder = write_app(tmp_path)
    server = start([*AIOSIO, "run", "fapp:app", "--app-dir", str(folder), "--port", "0", "--no-access-log"])
    async with aiohttp.ClientSession() as http, http.get(server.url + "/hello") as resp:
        assert resp.status == 200 and await resp.json() == {"hello": "world"}
        assert resp.headers["server"] == "uvicorn"
    clients = []
    for path, transports in (("socket.io", ["polling"]), ("/ws/socket.io", ["websocket"])):
        client = socketio.AsyncClient(reconnection=False)
        await asyncio.wait_for(client.connect(server.url, socketio_path=path, transports=transports), WAIT)
        assert await client.call("echo", path, timeout=WAIT) == path
        clients.append(client)
    gone = [asyncio.get_running_loop().create_future() for _ in clients]
    for client, future in zip(clients, gone, strict=True):
        client.on("disconnect", lambda *reason, f=future: f.done() or f.set_result(reason))
    await asyncio.sleep(0.2)  # the polling client's GET is waiting
    began = time.monotonic()
    assert await asyncio.to_thread(server.stop, signal.SIGTERM) == 0, server.output()
    assert time.monotonic() - began < 5, "the stop waited for the long-poll"
    reasons = await asyncio.wait_for(asyncio.gather(*gone), WAIT)
    assert reasons == [("server disconnect",), ("server disconnect",)]


def run_briefly(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=60, env={**os.environ, **env}, check=False
    )


def test_run_with_workers_refuses_an_asgi_app(tmp_path: Path) -> None:
    """``--workers`` hands aiohttp connections between workers: an ASGI target is refused with a
    message saying so, and the command fails."""
    folder = write_app(tmp_path)
    done = run_briefly(
        [*AIOSIO, "run", "fapp:app", "--app-dir", str(folder), "--port", "0", "--workers", "2"], folder
    )
    assert done.returncode == 1
    assert "the target is an ASGI application: --workers serves aiohttp applications only" in done.stderr


def test_run_without_uvicorn_says_how_to_install_it(tmp_path: Path) -> None:
    """With uvicorn not importable, ``aiosio run`` of an ASGI target exits 1 naming the extra."""
    folder = write_app(tmp_path)
    blocker = tmp_path / "block"
    (blocker / "uvicorn").mkdir(parents=True)
    (blocker / "uvicorn" / "__init__.py").write_text("raise ImportError('uvicorn is not installed')\n")
    done = run_briefly(
        [sys.executable, "-m", "aiosio.cli.main", "run", "fapp:app", "--app-dir", str(folder), "--port", "0"],
        folder,
        PYTHONPATH=str(blocker),
    )
    assert done.returncode == 1, done.stderr
    assert "pip install 'aiosio[asgi]'" in done.stderr
    assert "Traceback" not in done.stderr
