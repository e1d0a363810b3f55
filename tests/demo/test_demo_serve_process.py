"""``aiosio serve`` as a real process: persistence across restarts, errors, clean shutdown."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

import aiosio


async def test_todos_survive_a_restart(db_path: Path, aiosio_server: Callable[[list[str]], Any]) -> None:
    first = aiosio_server(["serve", "--port", "0", "--db", str(db_path)])
    assert first.url.startswith("http://127.0.0.1:")
    assert str(db_path) in first.output()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{first.url}/todos", json={"title": "Survive a restart"}) as r:
            assert r.status == 201
            added = await r.json()
        async with http.patch(f"{first.url}/todos/1", json={"completed": True}) as r:
            assert r.status == 200
        async with http.delete(f"{first.url}/todos/2") as r:
            assert r.status == 204
        async with http.get(f"{first.url}/todos") as r:
            before = await r.json()
    assert first.stop(signal.SIGTERM) == 0

    second = aiosio_server(["serve", "--port", "0", "--db", str(db_path)])
    async with aiohttp.ClientSession() as http, http.get(f"{second.url}/todos") as r:
        after = await r.json()
    assert after == before
    assert added in after
    assert [t["id"] for t in after] == ["1", "3", added["id"]]
    assert after[0]["completed"] is True
    assert second.stop(signal.SIGINT) == 0


def test_default_database_location(tmp_path: Path, aiosio_server: Callable[[list[str]], Any]) -> None:
    # The fixture points XDG_DATA_HOME at tmp_path/xdg.
    server = aiosio_server(["serve", "--port", "0"])
    expected = tmp_path / "xdg" / "aiosio" / "demo.sqlite3"
    assert str(expected) in server.output()
    assert server.stop() == 0
    with sqlite3.connect(expected) as conn:
        assert conn.execute("SELECT COUNT(*) FROM todos").fetchone() == (3,)


def test_port_in_use_is_a_clear_error(db_path: Path, aiosio_server: Callable[[list[str]], Any]) -> None:
    server = aiosio_server(["serve", "--port", "0", "--db", str(db_path)])
    port = server.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "aiosio.cli.main", "serve", "--port", port, "--db", str(db_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_unusable_database_is_a_clear_error(tmp_path: Path) -> None:
    not_a_db = tmp_path / "garbage.sqlite3"
    not_a_db.write_bytes(b"this is not a database" * 100)
    result = subprocess.run(
        [sys.executable, "-m", "aiosio.cli.main", "serve", "--port", "0", "--db", str(not_a_db)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "cannot open the todo database" in result.stderr
    assert "Traceback" not in result.stderr


async def test_sigterm_disconnects_clients_cleanly(
    db_path: Path, aiosio_server: Callable[[list[str]], Any]
) -> None:
    server = aiosio_server(["serve", "--port", "0", "--db", str(db_path)])
    client = aiosio.AsyncClient(reconnection=False)
    disconnected = asyncio.Event()

    @client.event
    async def disconnect(*reason: Any) -> None:
        disconnected.set()

    await client.connect(server.url, transports=["websocket"])
    assert (await client.call("join", {"name": "x", "room": "general"}, timeout=5))["ok"]
    loop = asyncio.get_running_loop()
    started = loop.time()
    server.proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(disconnected.wait(), 10)
    returncode = await asyncio.wait_for(asyncio.to_thread(server.proc.wait), 15)
    assert returncode == 0
    # Well inside the shutdown timeout (10 s): the server closed the connection itself.
    assert loop.time() - started < 8
    assert "shutting down" in server.output()
    await client.disconnect()


def test_the_tutorial_client_reads_the_demo(db_path: Path, aiosio_server: Callable[[list[str]], Any]) -> None:
    # examples/tutorial/README.md says the tutorial's client works against `aiosio serve` unchanged.
    server = aiosio_server(["serve", "--port", "0", "--db", str(db_path)])
    client = Path(__file__).resolve().parents[2] / "examples" / "tutorial" / "todo_client.py"
    result = subprocess.run(
        [sys.executable, str(client), f"{server.url}/todos"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Status: 200",
        "[ ] 1. Go to the garden",
        "[ ] 2. Buy groceries",
        "[ ] 3. Read a book",
    ]
    assert server.stop(signal.SIGINT) == 0
