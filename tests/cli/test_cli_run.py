"""``aiosio run`` (and the tutorials it serves), ``--version`` and the top-level command."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import aiosio
from aiosio import _compiled
from peers import missing, require_module

HERE = Path(__file__).resolve().parent
TUTORIAL = HERE.parents[1] / "examples" / "tutorial"
AIOSIO = [sys.executable, "-m", "aiosio.cli.main"]
Run = Callable[..., subprocess.CompletedProcess[str]]
Start = Callable[[list[str]], Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- targets ---------------------------------------------------------------------------------------


def test_run_an_application_and_fetch_it_with_the_tutorial_client(start: Start) -> None:
    server = start([*AIOSIO, "run", "todo_server:app", "--app-dir", str(TUTORIAL), "--port", "0"])
    assert "todo_server:app" in server.output()
    result = subprocess.run(
        [sys.executable, str(TUTORIAL / "todo_client.py"), f"{server.url}/todos"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Status: 200",
        "[ ] 1. Go to the garden",
        "[ ] 2. Buy groceries",
        "[ ] 3. Read a book",
    ]
    assert server.stop(signal.SIGINT) == 0


async def test_run_the_socketio_tutorial(start: Start, aiosio_cli: Run) -> None:
    server = start([*AIOSIO, "run", "socketio_server:app", "--app-dir", str(TUTORIAL), "--port", "0"])
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url) as r:
            assert 'socket.emit("message"' in await r.text()
        async with http.get(f"{server.url}/socket.io/socket.io.min.js") as r:
            assert r.status == 200
            assert r.content_type == "application/javascript"
    client = aiosio.AsyncClient(reconnection=False)
    await client.connect(server.url)
    sid = client.get_sid()
    await client.call("message", "hello from the test", timeout=5)
    await client.disconnect()
    output = server.output()
    assert f"Socket ID: {sid}\nhello from the test\n" in output
    assert server.stop() == 0


def test_the_tutorials_run_as_plain_scripts(start: Start) -> None:
    port = free_port()
    env_cmd = ["env", f"PORT={port}", sys.executable]
    server = start([*env_cmd, str(TUTORIAL / "todo_server.py")])
    assert server.url.startswith(f"http://127.0.0.1:{port}")
    result = subprocess.run(
        [sys.executable, str(TUTORIAL / "todo_client.py"), f"http://127.0.0.1:{port}/todos"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "1. Go to the garden" in result.stdout
    assert server.stop(signal.SIGINT) == 0

    port = free_port()
    server = start(["env", f"PORT={port}", sys.executable, str(TUTORIAL / "socketio_server.py")])
    assert server.url.startswith(f"http://127.0.0.1:{port}")


async def test_factories(start: Start) -> None:
    server = start([*AIOSIO, "run", "cli_fixture_app:make_app", "--app-dir", str(HERE), "--port", "0"])
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/hello") as r:
        assert await r.text() == "hello from a factory"
    client = aiosio.AsyncClient(reconnection=False)
    await client.connect(server.url)
    assert await client.call("echo", "via factory", timeout=5) == "via factory"
    await client.disconnect()
    assert server.stop() == 0

    server = start([*AIOSIO, "run", "cli_fixture_app:make_server", "--app-dir", str(HERE), "--port", "0"])
    client = aiosio.AsyncClient(reconnection=False)
    await client.connect(server.url)
    assert await client.call("echo", "via async factory", timeout=5) == "via async factory"
    await client.disconnect()


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("no_colon", "expected 'module:attribute'"),
        ("no_such_module_xyz:app", "could not import module 'no_such_module_xyz'"),
        ("cli_fixture_app:missing", "has no attribute 'missing'"),
        ("cli_fixture_app:not_servable", "the target is int"),
    ],
)
def test_load_errors_are_clear(aiosio_cli: Run, target: str, fragment: str) -> None:
    result = aiosio_cli("run", target, "--app-dir", str(HERE), "--port", "0")
    assert result.returncode == 1
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


# -- serving ---------------------------------------------------------------------------------------


async def test_sigterm_shuts_down_gracefully(fixture_server: Any) -> None:
    client = aiosio.AsyncClient(reconnection=False)
    reasons: list[Any] = []
    disconnected = asyncio.Event()

    @client.event
    async def disconnect(*reason: Any) -> None:
        reasons.extend(reason)
        disconnected.set()

    await client.connect(fixture_server.url, transports=["websocket"])
    loop = asyncio.get_running_loop()
    started = loop.time()
    fixture_server.proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(disconnected.wait(), 10)
    assert await asyncio.wait_for(asyncio.to_thread(fixture_server.proc.wait), 15) == 0
    # The server closed the connection itself, well inside the 10 s shutdown timeout.
    assert loop.time() - started < 8
    assert "shutting down" in fixture_server.output()
    await client.disconnect()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop", "auto"])
def test_event_loop_choice(start: Start, loop: str) -> None:
    require_module("uvloop")  # a dev dependency: required on CI (tests/peers.py)
    server = start(
        [*AIOSIO, "run", "cli_fixture_app:sio", "--app-dir", str(HERE), "--port", "0",
         "--loop", loop, "--log-level", "debug"]
    )  # fmt: skip
    expected = "asyncio" if loop == "asyncio" else "uvloop"
    assert f"event loop: {expected}" in server.output()
    assert server.stop() == 0


def test_port_in_use(start: Start, aiosio_cli: Run) -> None:
    server = start([*AIOSIO, "run", "cli_fixture_app:sio", "--app-dir", str(HERE), "--port", "0"])
    port = server.url.rsplit(":", 1)[1]
    result = aiosio_cli("run", "cli_fixture_app:sio", "--app-dir", str(HERE), "--port", port)
    assert result.returncode == 1
    assert "cannot listen on" in result.stderr


# -- the command itself ----------------------------------------------------------------------------


def test_version_and_help(aiosio_cli: Run) -> None:
    result = aiosio_cli("--version")
    assert result.returncode == 0
    # The build mode follows the version: "(pure Python)" or "(mypyc: N compiled modules)".
    assert result.stdout.strip() == f"aiosio {aiosio.__version__} ({_compiled.describe()})"
    result = aiosio_cli()
    assert result.returncode == 2
    assert "serve" in result.stderr and "run" in result.stderr and "client" in result.stderr
    for command in ("serve", "run", "client"):
        result = aiosio_cli(command, "--help")
        assert result.returncode == 0
        assert "--" in result.stdout
    result = aiosio_cli("serve", "--port", "70000")
    assert result.returncode == 2
    assert "out of range" in result.stderr


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("aiosio")
    if not script.exists():
        missing(f"aiosio is not installed as a console script next to {sys.executable} (pip install -e .)")
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=30, env=os.environ
    )
    assert result.returncode == 0
    assert result.stdout.startswith("aiosio ")
