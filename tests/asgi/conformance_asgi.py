"""The servers of ``examples/conformance_server.py`` (the official suites' servers) as ASGI apps.

``aiosio run conformance_asgi:socketio_app`` (or ``engineio_app``) serves them through uvicorn. The
servers are the example's own, taken from the aiohttp apps it builds, so their handlers and options
are exactly what the suites are run against by hand.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

import aiosio

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "conformance_server.py"


def _example() -> Any:
    spec = importlib.util.spec_from_file_location("conformance_server", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("conformance_server", module)
    spec.loader.exec_module(module)
    return module


def server_of(app: web.Application) -> Any:
    """The Engine.IO or Socket.IO server an example app serves (its route's engine handler)."""
    for route in app.router.routes():
        transport = getattr(route.handler, "__self__", None)
        core = getattr(transport, "core", None)
        if core is not None:
            return core.handler
    raise LookupError("no aiosio route in the app")


example = _example()
#: The socket.io-protocol suite's server, on /socket.io/.
socketio_app = aiosio.ASGIApp(server_of(example.build_socketio_app()))
#: The engine.io-protocol suite's server, on /engine.io/.
engineio_app = aiosio.ASGIApp(server_of(example.build_engineio_app()), socketio_path="engine.io")
