"""Helpers of the ASGI tests: uvicorn in this process, and other folders' tests run here."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import uvicorn

TESTS = Path(__file__).resolve().parent.parent
for folder in ("interop", "integration"):
    if str(TESTS / folder) not in sys.path:
        sys.path.append(str(TESTS / folder))


def load_module(path: Path, name: str) -> ModuleType:
    """Import a test file of another folder under a name of its own (``name``)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_tests(path: Path, name: str, into: dict[str, Any], skip: frozenset[str] = frozenset()) -> None:
    """Put the tests of another test file (and its ``pytestmark``) into a module's globals, where
    they run with this folder's fixtures: ``serve`` here is uvicorn's."""
    module = load_module(path, name)
    for key, value in vars(module).items():
        if key.startswith("test_") and callable(value) and key not in skip:
            into[key] = value
    if hasattr(module, "pytestmark"):
        into["pytestmark"] = module.pytestmark


@dataclass
class UvicornHandle:
    """A server under uvicorn in this process: its URL and a count of Engine.IO handshakes."""

    server: Any
    app: Any
    uvicorn: uvicorn.Server
    task: asyncio.Task[None]
    port: int
    path: str
    handshakes: int = 0
    requests: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        """URL of the Engine.IO endpoint, e.g. ``http://127.0.0.1:41234/socket.io/``."""
        return f"{self.url}/{self.path}/"


async def start_uvicorn(app: Any, **config: Any) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """Run ``app`` under uvicorn on 127.0.0.1 (random port) in this loop; returns once it listens."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config.setdefault("log_config", None)
    config.setdefault("lifespan", "on")
    config.setdefault("timeout_graceful_shutdown", 2)
    server = uvicorn.Server(uvicorn.Config(app, **config))
    # uvicorn's own signal handling would take over the test process's SIGINT.
    server.capture_signals = _no_signals  # type: ignore[method-assign]
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.01)
    return server, task, int(sock.getsockname()[1])


class _NoSignals:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _no_signals() -> _NoSignals:
    return _NoSignals()


async def stop_uvicorn(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    """Stop it (the lifespan shutdown runs) and wait, bounded."""
    server.should_exit = True
    await asyncio.wait_for(task, 10)
