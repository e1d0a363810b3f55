"""Helpers the example tests share (a module of its own: ``conftest`` is not importable by name)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import socketio as python_socketio
from aiohttp import web

import aiosio
from processes import ServerProcess

HERE = Path(__file__).parent
#: The two libraries a server app runs on: aiosio, and python-socketio as the reference.
LIBS: dict[str, ModuleType] = {"aiosio": aiosio, "python-socketio": python_socketio}
NODE_SERVER = HERE / "node_example_server.js"
WAIT = 5.0  # seconds: bound on any single expected event


@dataclass
class RunningApp:
    """An example app serving on 127.0.0.1."""

    sio: Any
    app: web.Application
    url: str


RunApp = Callable[[tuple[Any, web.Application]], Awaitable[RunningApp]]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for apps run as programs)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_log(server: ServerProcess) -> list[dict[str, Any]]:
    """The JSON lines the Node server printed (one per connect / disconnect)."""
    return [json.loads(line) for line in server.out.read_text().splitlines() if line.startswith("{")]


async def until(predicate: Callable[[], Any], timeout: float = WAIT, what: str = "condition") -> None:
    """Wait until ``predicate()`` is true, failing after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        await asyncio.sleep(0.01)
